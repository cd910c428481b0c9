//! `POST /v1/decisions` and the impression and click beacons: the wire
//! shapes of the engine's serving loop (`adloom_engine::serving`).

use adloom_core::auction::BillableEvent;
use adloom_core::consent::strings::Regs;
use adloom_core::consent::{AdIdState, AttStatus, BrowserSignals, DeviceSignals};
use adloom_core::decision::Placement;
use adloom_core::identifier::normalize_maid;
use adloom_core::region::Country;
use adloom_engine::serving::{self, Ask, BeaconKind, BeaconOutcome};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Admin, ApiJson};
use crate::AppState;

/// What a decision shows about a pin.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PinView {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub link: Option<String>,
}

impl From<serving::PinCard> for PinView {
    fn from(p: serving::PinCard) -> PinView {
        PinView {
            id: p.id,
            title: p.title,
            description: p.description,
            image_url: p.image_url,
            link: p.link,
        }
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct DecisionRequest {
    #[serde(default)]
    pub user_id: Option<String>,
    pub placement: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub interests: Option<Vec<String>>,
    #[serde(default)]
    pub device: Option<DeviceInput>,
    #[serde(default)]
    pub geo: Option<GeoInput>,
    #[serde(default)]
    pub signals: Option<SignalsInput>,
    #[serde(default)]
    pub explain: Option<bool>,
    /// The IAB consent strings of the request, by OpenRTB 2.6's names.
    #[serde(default)]
    pub regs: Option<Regs>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct DeviceInput {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    ifa: Option<String>,
    #[serde(default)]
    lmt: Option<u8>,
    #[serde(default)]
    atts: Option<u8>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct GeoInput {
    #[serde(default)]
    country: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct SignalsInput {
    #[serde(default)]
    pub gpc: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionAnswer {
    pub decision_id: String,
    pub ads: Vec<AdAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Vec<Explained>>,
    /// With `explain`: what the consent policy decided for this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent: Option<ConsentAnswer>,
}

/// The consent policy's answer for one request, in words.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsentAnswer {
    partner_targeting: VerdictAnswer,
    off_platform_sharing: VerdictAnswer,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerdictAnswer {
    allowed: bool,
    reason: &'static str,
    explanation: String,
}

impl From<adloom_core::consent::Verdict> for VerdictAnswer {
    fn from(v: adloom_core::consent::Verdict) -> VerdictAnswer {
        VerdictAnswer {
            allowed: v.allowed,
            reason: v.reason.code(),
            explanation: v.reason.explanation(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdAnswer {
    pub ad_id: String,
    pub ad_group_id: String,
    pub campaign_id: String,
    pub ad_account_id: String,
    /// The advertiser's name, for "Promoted by ...".
    pub advertiser: String,
    pub pin: PinView,
    pub price_micros: u64,
    pub billable_event: &'static str,
    pub impression_url: String,
    pub click_url: String,
    pub third_party: ThirdParty,
    pub why: Vec<Why>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ThirdParty {
    pub impression_trackers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_tracking_url: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Why {
    pub kind: String,
    pub text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Explained {
    ad_group_id: String,
    reason: &'static str,
}

/// The engine's request for a wire request, checked whole: a bad request
/// is refused here before anything is looked up.
pub(crate) fn check(req: DecisionRequest) -> Result<Ask, ApiError> {
    let placement_text = req
        .placement
        .as_deref()
        .ok_or_else(|| ApiError::invalid("placement: required"))?;
    let placement = Placement::parse(placement_text).ok_or_else(|| {
        ApiError::invalid(format!(
            "placement: {placement_text:?} is not one of home_feed, search, related"
        ))
    })?;
    let count = req.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(ApiError::invalid("count: must be 1 to 10"));
    }
    let no_device = DeviceInput::default();
    let device = req.device.as_ref().unwrap_or(&no_device);
    if device.lmt.is_some_and(|l| l > 1) || device.atts.is_some_and(|a| a > 3) {
        return Err(ApiError::invalid("device: lmt is 0 or 1, atts 0 to 3"));
    }
    let request_country = match req.geo.as_ref().and_then(|g| g.country.as_deref()) {
        Some(c) => Some(Country::parse(c).ok_or_else(|| {
            ApiError::invalid(format!("geo.country: unknown country code {c:?}"))
        })?),
        None => None,
    };
    let (ad_id_state, ad_id) = match device.ifa.as_deref().map(normalize_maid) {
        None => (AdIdState::Absent, None),
        Some(Ok(None)) => (AdIdState::AllZero, None),
        Some(Ok(Some(_))) => (AdIdState::Present, device.ifa.clone()),
        Some(Err(_)) => return Err(ApiError::invalid("device.ifa: not a mobile ad id")),
    };
    Ok(Ask {
        user_id: req.user_id,
        query: req.query,
        interests: req.interests.unwrap_or_default(),
        explain: req.explain.unwrap_or(false),
        regs: req.regs.map(Regs::checked).transpose()?.unwrap_or_default(),
        placement,
        count,
        device: DeviceSignals {
            ad_id: ad_id_state,
            limit_ad_tracking: device.lmt == Some(1),
            att: device.atts.and_then(AttStatus::from_code),
        },
        browser: BrowserSignals {
            global_privacy_control: req.signals.as_ref().and_then(|s| s.gpc).unwrap_or(false),
            opt_out_cookie: false,
        },
        country: request_country,
        ad_id,
        app_type: device
            .os
            .as_deref()
            .map(|os| match os.to_ascii_lowercase().as_str() {
                "ios" => "iphone".to_owned(),
                "android" => "android_mobile".to_owned(),
                other => other.to_owned(),
            }),
    })
}

/// `POST /v1/decisions`.
#[utoipa::path(
    post,
    path = "/v1/decisions",
    operation_id = "decisions/create",
    tag = "serving",
    description = "The ads for one slot of the platform's feed or search, ranked by the auction, each with its beacons and the reasons it was shown. Partner data picks an ad only where the consent policy allows.",
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "The ads to show, best first.", body = DecisionAnswer),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<Response, ApiError> {
    let answer = decide_request(&state, req).await?;
    // Written into room for a usual answer (three ads, 3 KB) at once:
    // `Json` starts at 128 bytes and grows by doubling.
    let mut body = Vec::with_capacity(4096);
    serde_json::to_writer(&mut body, &answer).map_err(|_| ApiError::internal())?;
    let json = HeaderValue::from_static("application/json");
    Ok(([(header::CONTENT_TYPE, json)], body).into_response())
}

/// One decision in the wire's shapes, for the API and the demo feed.
pub async fn decide_request(
    state: &AppState,
    req: DecisionRequest,
) -> Result<DecisionAnswer, ApiError> {
    let decision = serving::decide(&state.engine, check(req)?).await?;
    let base = state.config.public_url.trim_end_matches('/');
    Ok(DecisionAnswer {
        decision_id: decision.decision_id,
        ads: decision
            .ads
            .into_iter()
            .map(|ad| AdAnswer {
                impression_url: format!("{base}/v1/beacons/impression/{}", ad.impression_token),
                click_url: format!("{base}/v1/beacons/click/{}", ad.click_token),
                ad_id: ad.ad_id,
                ad_group_id: ad.ad_group_id,
                campaign_id: ad.campaign_id,
                ad_account_id: ad.ad_account_id,
                advertiser: ad.advertiser,
                pin: PinView::from(ad.pin),
                price_micros: ad.price_micros,
                billable_event: match ad.billable_event {
                    BillableEvent::Click => "CLICKTHROUGH",
                    BillableEvent::Impression => "IMPRESSION",
                },
                third_party: ThirdParty {
                    impression_trackers: ad.trackers.impression,
                    click_tracking_url: ad.trackers.click,
                },
                why: ad
                    .why
                    .into_iter()
                    .map(|(kind, text)| Why { kind, text })
                    .collect(),
            })
            .collect(),
        consent: decision.consent.map(|c| ConsentAnswer {
            partner_targeting: c.partner_targeting.into(),
            off_platform_sharing: c.off_platform_sharing.into(),
        }),
        explain: decision.explain.map(|lost| {
            lost.into_iter()
                .map(|(ad_group_id, reason)| Explained {
                    ad_group_id,
                    reason,
                })
                .collect()
        }),
    })
}

/// `GET /v1/beacons/impression/{token}`: 204, counted once.
#[utoipa::path(
    get,
    path = "/v1/beacons/impression/{token}",
    operation_id = "beacons/impression",
    tag = "serving",
    description = "Counts the impression of a served ad, once, whoever calls it. The token comes from a decision's `impression_url`.",
    security(()),
    params(("token" = String, Path, description = "The sealed token of one served ad.")),
    responses((status = 204, description = "Counted (or counted before, or not a valid token: the answer is the same)."))
)]
pub async fn impression(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    serving::count_beacon(&state.engine, &token, BeaconKind::Impression).await;
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /v1/beacons/click/{token}`: 302 to the landing page, counted once.
/// A forged or tampered token goes nowhere (404), and is not counted.
#[utoipa::path(
    get,
    path = "/v1/beacons/click/{token}",
    operation_id = "beacons/click",
    tag = "serving",
    description = "Counts the click of a served ad, once, and sends the browser on to the landing page.",
    security(()),
    params(("token" = String, Path, description = "The sealed token of one served ad.")),
    responses(
        (status = 302, description = "To the ad's landing page.", headers(("Location" = String, description = "The landing page."))),
        (status = 404, description = "A forged or tampered token: not counted, sent nowhere."),
    )
)]
pub async fn click(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match serving::count_beacon(&state.engine, &token, BeaconKind::Click).await {
        BeaconOutcome::Landing(location) => {
            let mut res = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        BeaconOutcome::Forged => StatusCode::NOT_FOUND.into_response(),
    }
}
