//! `GET /v3/`: the tag's pixel. It always answers a 1x1 GIF (a browser is
//! never shown an error); what it rejected shows in the metrics.

use adloom_core::event::EventSignals;
use adloom_core::pixel::{self, PixelRejection};
use adloom_core::tag::{pixel_site_allowed, PixelBlock};

use adloom_store::EventOutcome;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::auth::new_token;
use crate::extract::ClientAddr;
use crate::AppState;
use adloom_engine::metrics::PixelOutcome;

/// A transparent 1x1 GIF.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// `GET /v3/`: the tag's pixel. Always a 1x1 GIF, recorded or not.
#[utoipa::path(
    get,
    path = "/v3/",
    operation_id = "tag/pixel",
    tag = "tag",
    description = "The tag's pixel, as Pinterest's tag sends it: from the tag's script (`ed`, `pd`, `ad` as JSON) or a bare `<img>` (`ed[value]=10&pd[em]=..&noscript=1`). It is always answered with a 1x1 GIF; whether it was recorded (an unknown tag, an opted-out browser, a site not allowed) is never told.",
    security(()),
    params(
        ("tid" = String, Query, description = "The conversion tag's id."),
        ("event" = Option<String>, Query, description = "The event: pagevisit, checkout, ... or the advertiser's own name."),
        ("ed" = Option<String>, Query, description = "Event data, JSON (value, currency, order_id, ...)."),
        ("pd" = Option<String>, Query, description = "Person data, JSON: hashed `em`, `ph`, `external_id`."),
        ("ad" = Option<String>, Query, description = "The page: JSON with `loc` (its URL) and the tag's cookie."),
        ("noscript" = Option<String>, Query, description = "1 for an `<img>` pixel."),
    ),
    responses((status = 200, description = "A 1x1 GIF.", content_type = "image/gif", body = Vec<u8>))
)]
pub async fn pixel(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    // A journaled pixel is counted once applied.
    if let Some(outcome) = record(&state, query.as_deref().unwrap_or_default(), &headers, ip).await
    {
        state.engine.metrics.pixel(outcome);
    }
    gif()
}

/// The pixel's answer, whatever became of it.
pub fn gif() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        GIF,
    )
        .into_response()
}

async fn record(
    state: &AppState,
    query: &str,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> Option<PixelOutcome> {
    let hit = match pixel::parse(query) {
        Ok(hit) => hit,
        Err(PixelRejection::LoadPing) => return Some(PixelOutcome::LoadPing),
        Err(_) => return Some(PixelOutcome::Malformed),
    };
    let tag = match state
        .engine
        .tags
        .tag(&hit.tag_id, state.engine.store.as_ref())
        .await
    {
        Ok(Some(tag)) => tag,
        Ok(None) => return Some(PixelOutcome::UnknownTag),
        Err(_) => return Some(PixelOutcome::Failed),
    };
    // Kept out of the tag's audiences: pixels past the per-address limit,
    // and those from sites the tag does not allow. Counted for the
    // advertiser, never recorded.
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let kept_out = if !state.limits.pixel_allowed(ip) {
        Some(PixelOutcome::RateLimited)
    } else {
        match pixel_site_allowed(
            &tag.allowed_domains,
            header(header::ORIGIN),
            header(header::REFERER),
        ) {
            Ok(()) => None,
            Err(PixelBlock::NoSite) => Some(PixelOutcome::NoSite),
            Err(PixelBlock::OtherSite) => Some(PixelOutcome::OtherSite),
        }
    };
    if let Some(outcome) = kept_out {
        state
            .engine
            .tags
            .blocked(&tag.id, outcome.label(), state.engine.store.as_ref())
            .await;
        return Some(outcome);
    }
    let ad_account_id = tag.ad_account_id.clone();
    let Ok(order_id_key) = state.key("order-ids").await else {
        return Some(PixelOutcome::Failed);
    };
    let browser = crate::extract::browser_signals(headers);
    let strings = adloom_core::consent::strings::read(&hit.regs, &state.engine.config.tcf);
    if !hit.regs.is_empty() {
        state.engine.metrics.consent_strings(&strings);
    }
    let signals = EventSignals {
        gpc: browser.global_privacy_control,
        opt_out_cookie: browser.opt_out_cookie,
        strings,
        ..EventSignals::default()
    };
    // A page that names no event id gets a random one: each such pixel is
    // its own event.
    let event = hit
        .into_event(
            ad_account_id.clone(),
            state.engine.clock.now(),
            signals,
            || new_token("px_"),
        )
        .for_storage(&order_id_key);
    // A browser never retries a pixel: answered once a killed process
    // cannot lose it, flushed to disk within the bus's sync interval.
    match state.engine.record_pixel(event).await {
        Ok(None) => None,
        Ok(Some(EventOutcome::Duplicate)) => Some(PixelOutcome::Duplicate),
        Ok(Some(_)) => Some(PixelOutcome::Recorded),
        Err(_) => Some(PixelOutcome::Failed),
    }
}

/// The tag's script, pointed at this server.
pub fn core_js_for(public_url: &str) -> String {
    let base = serde_json::to_string(public_url.trim_end_matches('/')).unwrap_or_default();
    include_str!("../assets/core.js").replace("\"__ADLOOM_BASE__\"", &base)
}

/// `GET /tag/core.js`.
#[utoipa::path(
    get,
    path = "/tag/core.js",
    operation_id = "tag/script",
    tag = "tag",
    description = "The tag's script, which the `code_snippet` of a conversion tag loads.",
    security(()),
    responses((status = 200, description = "The script.", content_type = "application/javascript", body = String))
)]
pub async fn core_js(source: std::sync::Arc<str>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        source.to_string(),
    )
        .into_response()
}
