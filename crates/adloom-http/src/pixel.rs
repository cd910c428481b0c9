//! `GET /v3/`: the tag's pixel. It always answers a 1x1 GIF (a browser is
//! never shown an error); what it rejected shows in the metrics.

use adloom_core::event::EventSignals;
use adloom_core::pixel::{self, PixelRejection};
use adloom_core::tag::{pixel_site_allowed, PixelBlock};

use adloom_store::EventOutcome;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

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
    ClientAddr(ip): ClientAddr,
    req: Request,
) -> Response {
    let started = std::time::Instant::now();
    // Its parts only: a request's body cannot be shared across an await.
    let (req, _) = req.into_parts();
    let res = answer(&state, ip, &req).await;
    state.engine.metrics.request(
        ROUTE,
        req.method.as_str(),
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}

/// The route's template, as the metrics of requests name it.
const ROUTE: &str = "/v3/";

/// The pixel is served past the layers the API's other routes share
/// (request ids, the trace span, the timeout, the error shape, the
/// extractors' copies): for a request this small they cost more than the
/// pixel's own work, and a browser reads none of what they add. What of
/// them a pixel needs is here: the long-target check, load shedding, the
/// ingestion rate limit and the request's metrics, and the request
/// timeout around what may wait on the store (an unknown or stale tag is
/// read from it, and PostgreSQL has no timeout of its own on a query).
async fn answer(state: &AppState, ip: Option<std::net::IpAddr>, req: &Parts) -> Response {
    let query = req.uri.query().unwrap_or_default();
    if query.len() > crate::MAX_URI_BYTES {
        state.engine.metrics.pixel(PixelOutcome::Malformed);
        return gif();
    }
    let Ok(_permit) = state.in_flight.try_acquire() else {
        return crate::shed(state);
    };
    if let Some(refused) = crate::limits::over_limit(state, None, ip) {
        return refused;
    }
    let recorded = tokio::time::timeout(
        state.config.request_timeout,
        record(state, query, &req.headers, ip),
    )
    .await;
    // A journaled pixel is counted once applied.
    match recorded {
        Ok(None) => {}
        Ok(Some(outcome)) => state.engine.metrics.pixel(outcome),
        Err(_) => state.engine.metrics.pixel(PixelOutcome::Failed),
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
            generated_event_id,
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

/// The id of a pixel whose page named none: a UUIDv7, so that each sorts
/// after the ones made before it and the store's index of event ids grows
/// at its end. Random ids (32 random bytes before) landed all over that
/// index, and each batch from the journal rewrote a page of it per event.
/// Past the millisecond come a counter started at random each millisecond
/// and 32 random bits, and the id is never shown to the page: a page
/// cannot name the id of another visitor's pixel to have it dropped as a
/// duplicate.
fn generated_event_id() -> String {
    format!("px_{}", uuid::Uuid::now_v7().simple())
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

#[cfg(test)]
mod tests {
    #[test]
    fn generated_event_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..10_000).map(|_| super::generated_event_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "each after the last");
        assert!(ids.iter().all(|id| id.starts_with("px_") && id.len() == 35));
    }
}
