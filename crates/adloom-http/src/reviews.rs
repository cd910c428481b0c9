//! The operator's ad review: `GET /v1/admin/ad_reviews` lists the ads whose
//! review is at a status (PENDING by default), `POST
//! /v1/admin/ad_reviews/{ad_id}` decides one. The rules are the core's
//! (`adloom_core::review`); the queue and the decision are the engine's.

use adloom_core::campaign::ReviewStatus;
use adloom_engine::review::ReviewItem;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery};
use crate::promotions::wire;
use crate::AppState;

/// Who an operator's decision is recorded as: the admin token is the
/// operator's one identity.
const OPERATOR: &str = "operator";

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// PENDING (the default), APPROVED or REJECTED.
    status: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Queue {
    items: Vec<QueueItem>,
}

/// One ad as the operator reviews it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    ad_id: String,
    ad_account_id: String,
    /// The advertiser's name (the ad account's).
    advertiser: String,
    review_status: String,
    rejected_reasons: Vec<String>,
    /// Where a click goes: the ad's destination, else its pin's link.
    link: Option<String>,
    /// The pin as people see it: `title`, `description`, `link`, `media`.
    #[schema(value_type = Object)]
    pin: Value,
    /// People's reports: how many, and how many for each reason.
    #[schema(value_type = Object)]
    reports: Value,
    /// Every decision so far: `status`, `reasons`, `by`, `time`.
    #[schema(value_type = Vec<Object>)]
    decisions: Value,
    updated_time: i64,
}

impl QueueItem {
    fn of(item: ReviewItem) -> QueueItem {
        let link = item
            .ad
            .destination_url
            .clone()
            .or_else(|| item.pin.as_ref().and_then(|p| p.link.clone()));
        let mut reasons = std::collections::BTreeMap::<&str, u64>::new();
        for r in &item.reports {
            *reasons.entry(r.reason.as_str()).or_default() += 1;
        }
        QueueItem {
            reports: serde_json::json!({"count": item.reports.len(), "reasons": reasons}),
            ad_id: item.ad_id,
            ad_account_id: item.account.id,
            advertiser: item.account.name,
            review_status: item.ad.review_status.as_str().to_owned(),
            rejected_reasons: item.ad.rejected_reasons,
            link,
            pin: item.pin.as_ref().map(wire::pin_view).unwrap_or(Value::Null),
            decisions: serde_json::json!(item.ad.decisions),
            updated_time: item.updated_time,
        }
    }
}

/// `GET /v1/admin/ad_reviews`: the ads whose review is at `status`, oldest
/// change first.
#[utoipa::path(
    get,
    path = "/v1/admin/ad_reviews",
    operation_id = "ad_reviews/list",
    tag = "ad review",
    params(QueueQuery),
    responses(
        (status = 200, description = "The ads at that status, oldest change first.", body = Queue),
        (status = 400, description = "An unknown status.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn queue(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<Queue>, ApiError> {
    let status = match q.status.as_deref() {
        None => ReviewStatus::Pending,
        Some(s) => ReviewStatus::parse(s)
            .filter(|s| *s != ReviewStatus::Other)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "status: {s:?} is not PENDING, APPROVED or REJECTED"
                ))
            })?,
    };
    let items = state.engine.review_queue(status).await?;
    Ok(Json(Queue {
        items: items.into_iter().map(QueueItem::of).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    /// APPROVED or REJECTED.
    decision: Option<String>,
    /// Pinterest's `rejected_reasons`; required when rejecting.
    #[serde(default)]
    reasons: Vec<String>,
}

/// `POST /v1/admin/ad_reviews/{ad_id}`: approve or reject an ad. It
/// serves, or stops, from the next decision; the advertiser sees the
/// status and reasons on the ad.
#[utoipa::path(
    post,
    path = "/v1/admin/ad_reviews/{ad_id}",
    operation_id = "ad_reviews/decide",
    tag = "ad review",
    params(("ad_id" = String, Path, description = "The ad.")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The ad as the advertiser now reads it (Pinterest's `AdResponse`).", body = Object),
        (status = 400, description = "An unknown decision or reason.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "No such ad.", body = crate::error::ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(ad_id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let decision = body
        .decision
        .ok_or_else(|| ApiError::invalid("decision: required (APPROVED or REJECTED)"))?;
    let ad = state
        .engine
        .decide_review(&ad_id, &decision, &body.reasons, OPERATOR)
        .await?;
    Ok(Json(wire::view(&ad, state.engine.clock.now())))
}
