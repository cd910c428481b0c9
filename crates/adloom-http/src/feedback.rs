//! A person's "Hide this ad" and "Report this ad", sent by the platform on
//! the person's behalf: `/v1/people/{user_id}/hidden_ads` (create, list,
//! undo) and `/v1/people/{user_id}/ad_reports`. The rules are the engine's.

use adloom_core::feedback::{AdReport, HiddenAd, HideScope, ReportReason};
use adloom_core::names::Named;
use adloom_core::person::validate_user_id;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Admin, ApiJson, ApiPath};

use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HideRequest {
    /// The ad the person hides. Required.
    ad_id: Option<String>,
    /// `ad` (the default): this ad; `advertiser`: every ad of its advertiser.
    scope: Option<String>,
}

/// One thing a person hid.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HiddenView {
    /// `ad` or `advertiser`.
    scope: &'static str,
    ad_id: String,
    ad_account_id: String,
    /// What to send to undo it: the ad's id, or the ad account's.
    target_id: String,
    hidden_time: i64,
}

impl From<HiddenAd> for HiddenView {
    fn from(h: HiddenAd) -> HiddenView {
        HiddenView {
            scope: h.scope.as_str(),
            target_id: h.target().to_owned(),
            ad_id: h.ad_id,
            ad_account_id: h.ad_account_id,
            hidden_time: h.hidden_time,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HiddenList {
    items: Vec<HiddenView>,
}

fn scope(text: Option<&str>) -> Result<HideScope, ApiError> {
    match text {
        None => Ok(HideScope::Ad),
        Some(s) => HideScope::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "scope: {s:?} is not one of {}",
                HideScope::choices()
            ))
        }),
    }
}

fn required_ad(ad_id: Option<String>) -> Result<String, ApiError> {
    ad_id
        .filter(|id| adloom_core::ad_account::is_valid_id(id))
        .ok_or_else(|| ApiError::invalid("ad_id: required (an ad id)"))
}

/// `POST /v1/people/{user_id}/hidden_ads`: the ad, or every ad of its
/// advertiser, is never served to the person again, from the next decision.
#[utoipa::path(
    post,
    path = "/v1/people/{user_id}/hidden_ads",
    operation_id = "hidden_ads/create",
    tag = "people's controls",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    request_body = HideRequest,
    responses(
        (status = 201, description = "Hidden from the next decision on.", body = HiddenView),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "No such person or ad.", body = crate::error::ErrorBody),
    )
)]
pub async fn hide(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(body): ApiJson<HideRequest>,
) -> Result<(StatusCode, Json<HiddenView>), ApiError> {
    validate_user_id(&user_id)?;
    let scope = scope(body.scope.as_deref())?;
    let ad_id = required_ad(body.ad_id)?;
    let hidden = state.engine.hide_ad(&user_id, &ad_id, scope).await?;
    Ok((StatusCode::CREATED, Json(hidden.into())))
}

/// `GET /v1/people/{user_id}/hidden_ads`: what the person hid, oldest first.
#[utoipa::path(
    get,
    path = "/v1/people/{user_id}/hidden_ads",
    operation_id = "hidden_ads/list",
    tag = "people's controls",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    responses(
        (status = 200, description = "What the person hid.", body = HiddenList),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<HiddenList>, ApiError> {
    validate_user_id(&user_id)?;
    let items = state.engine.hidden_ads(&user_id).await?;
    Ok(Json(HiddenList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// One advertiser with partner data about the person.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdvertiserView {
    ad_account_id: String,
    /// The ad account's name, as "Promoted by" shows it.
    name: String,
    sources: Vec<SourceView>,
}

/// How and when an advertiser got the person's info.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceView {
    /// `customer_list`, `tag` or `conversions`.
    source: adloom_core::consent::PartnerSource,
    /// The same, in words for the person.
    how: &'static str,
    first_time: i64,
    last_time: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdvertiserList {
    items: Vec<AdvertiserView>,
}

/// `GET /v1/people/{user_id}/advertisers`: "Advertisers who have your
/// info", for the platform to show the person.
#[utoipa::path(
    get,
    path = "/v1/people/{user_id}/advertisers",
    operation_id = "people/advertisers",
    tag = "people's controls",
    description = "The advertisers that hold partner data about the person (a customer list that matched them, or events from their tag or conversions API), how and when, most recent first. For the person's own eyes: advertisers never see it.",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    responses(
        (status = 200, description = "The advertisers, most recent first.", body = AdvertiserList),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn advertisers(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<AdvertiserList>, ApiError> {
    validate_user_id(&user_id)?;
    let items = state
        .engine
        .advertisers_with_info(&user_id)
        .await?
        .into_iter()
        .map(|a| AdvertiserView {
            ad_account_id: a.ad_account_id,
            name: a.name,
            sources: a
                .sources
                .into_iter()
                .map(|s| SourceView {
                    source: s.source,
                    how: adloom_engine::transparency::how(s.source),
                    first_time: s.first_time,
                    last_time: s.last_time,
                })
                .collect(),
        })
        .collect();
    Ok(Json(AdvertiserList { items }))
}

/// `DELETE /v1/people/{user_id}/hidden_ads/{scope}/{target_id}`: undoes a
/// hide.
#[utoipa::path(
    delete,
    path = "/v1/people/{user_id}/hidden_ads/{scope}/{target_id}",
    operation_id = "hidden_ads/undo",
    tag = "people's controls",
    params(
        ("user_id" = String, Path, description = "The platform's id of the person."),
        ("scope" = String, Path, description = "`ad` or `advertiser`."),
        ("target_id" = String, Path, description = "The ad's id, or the ad account's."),
    ),
    responses(
        (status = 204, description = "Served again from the next decision."),
        (status = 400, description = "A scope other than `ad` or `advertiser`.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "Nothing hidden by that name.", body = crate::error::ErrorBody),
    )
)]
pub async fn unhide(
    State(state): State<AppState>,
    _: Admin,
    ApiPath((user_id, scope_text, target_id)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    validate_user_id(&user_id)?;
    let scope = scope(Some(&scope_text))?;
    if state.engine.unhide_ad(&user_id, scope, &target_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("hidden ad"))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReportRequest {
    /// The ad reported. Required.
    ad_id: Option<String>,
    /// `spam`, `misleading`, `offensive`, `not_relevant` or `other`.
    /// Required.
    reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportView {
    ad_id: String,
    reason: &'static str,
    reported_time: i64,
}

impl From<AdReport> for ReportView {
    fn from(r: AdReport) -> ReportView {
        ReportView {
            ad_id: r.ad_id,
            reason: r.reason.as_str(),
            reported_time: r.reported_time,
        }
    }
}

/// `POST /v1/people/{user_id}/ad_reports`: the report goes to the
/// operator's review queue; an ad reported by `reports_to_pause` distinct
/// people stops serving until an operator decides.
#[utoipa::path(
    post,
    path = "/v1/people/{user_id}/ad_reports",
    operation_id = "ad_reports/create",
    tag = "people's controls",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "Reported.", body = ReportView),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "No such person or ad.", body = crate::error::ErrorBody),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(body): ApiJson<ReportRequest>,
) -> Result<(StatusCode, Json<ReportView>), ApiError> {
    validate_user_id(&user_id)?;
    let ad_id = required_ad(body.ad_id)?;
    let reason = body
        .reason
        .as_deref()
        .and_then(ReportReason::parse)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "reason: required, one of {}",
                ReportReason::choices()
            ))
        })?;
    let report = state.engine.report_ad(&user_id, &ad_id, reason).await?;
    Ok((StatusCode::CREATED, Json(report.into())))
}
