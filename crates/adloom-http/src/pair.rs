//! PAIR matches over the Ads API, with the advertiser's token: adloom is
//! the publisher's side (`adloom_engine::pair`); `adloom pair` is the
//! advertiser's. A match fills a new customer list, usable in
//! CUSTOMER_LIST audiences like any other.

use adloom_core::customer_list::{validate_name, CustomerList, ListType};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::audiences::{within_daily_cap, Creation};
use crate::auth::new_id;
use crate::error::ApiError;
use crate::extract::{AccountAccess, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// The most publisher ids on one page.
const MAX_PAGE: usize = 10_000;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartBody {
    /// The customer list the match makes.
    name: Option<String>,
    /// `EMAIL`: the identifier is the SHA-256 (lowercase hex) of the
    /// normalized email.
    list_type: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Started {
    /// The match, in the paths below.
    id: String,
    /// The platform's salt for this match (32 bytes, base64).
    salt: String,
    name: String,
    list_type: &'static str,
    /// The list the match fills when it closes.
    customer_list_id: String,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct Ids {
    /// Group elements, base64 (standard alphabet, padded) of their 32-byte
    /// encoding; at most 10,000.
    ids: Vec<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most 10,000 [default: 10,000].
    page_size: Option<usize>,
    bookmark: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublisherIds {
    /// `k_p · P(x)` for the platform's people who allow partner data, in an
    /// order drawn for this match.
    items: Vec<String>,
    /// The next page's, or null on the last.
    bookmark: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Closed {
    customer_list_id: String,
}

#[utoipa::path(
    post,
    path = "/v5/ad_accounts/{ad_account_id}/pair_matches",
    operation_id = "pair_matches/start",
    tag = "PAIR",
    params(("ad_account_id" = String, Path, description = "The ad account.")),
    request_body = StartBody,
    responses(
        (status = 201, description = "The match and the platform's salt.", body = Started),
        (status = 400, description = "No name, or a list type other than EMAIL.", body = crate::error::ErrorBody),
        (status = 429, description = "The account made its customer lists for today.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "A token without this ad account.", body = crate::error::ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let account = access.ad_account_id;
    let name = validate_name(body.name.as_deref())?;
    match body.list_type.as_deref() {
        None | Some("EMAIL") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "list_type: {other:?} is not EMAIL (PAIR matches emails)"
            )))
        }
    }
    within_daily_cap(&state, &account, Creation::List).await?;
    let now = state.engine.clock.now();
    // Empty until the match closes: no batch, no records.
    let list = CustomerList {
        id: new_id(),
        ad_account_id: account,
        name: name.clone(),
        list_type: ListType::Email,
        num_batches: 0,
        num_uploaded_user_records: 0,
        num_removed_user_records: 0,
        created_time: now,
        updated_time: now,
    };
    let period = state.engine.pair_period();
    let list = state.engine.create_customer_list(list, Vec::new()).await?;
    let id = state.engine.pair_match_id(&list, period).await?;
    let salt = state.engine.pair_salt(period).await?;
    Ok((
        StatusCode::CREATED,
        Json(Started {
            id,
            salt: salt.to_base64(),
            name,
            list_type: "EMAIL",
            customer_list_id: list.id,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/v5/ad_accounts/{ad_account_id}/pair_matches/{pair_match_id}/advertiser_ids",
    operation_id = "pair_matches/advertiser_ids",
    tag = "PAIR",
    params(
        ("ad_account_id" = String, Path, description = "The ad account."),
        ("pair_match_id" = String, Path, description = "The match."),
    ),
    request_body = Ids,
    responses(
        (status = 200, description = "`k_p · E` for each id sent, in the same order; nothing sent is kept.", body = Ids),
        (status = 400, description = "An id that is not a group element (named by its index), or over 10,000.", body = crate::error::ErrorBody),
        (status = 404, description = "No such open match of this account.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "A token without this ad account.", body = crate::error::ErrorBody),
    )
)]
pub async fn advertiser_ids(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Ids>,
) -> Result<Json<Ids>, ApiError> {
    let m = state
        .engine
        .open_pair_match(&access.ad_account_id, &id)
        .await?;
    let ids = state.engine.pair_reencrypt(&m, &body.ids).await?;
    Ok(Json(Ids { ids }))
}

#[utoipa::path(
    get,
    path = "/v5/ad_accounts/{ad_account_id}/pair_matches/{pair_match_id}/publisher_ids",
    operation_id = "pair_matches/publisher_ids",
    tag = "PAIR",
    params(
        ("ad_account_id" = String, Path, description = "The ad account."),
        ("pair_match_id" = String, Path, description = "The match."),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of the platform's ids.", body = PublisherIds),
        (status = 400, description = "A page size out of range, or a bookmark this API did not give.", body = crate::error::ErrorBody),
        (status = 404, description = "No such open match of this account.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "A token without this ad account.", body = crate::error::ErrorBody),
    )
)]
pub async fn publisher_ids(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<PublisherIds>, ApiError> {
    let page_size = q.page_size.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&page_size) {
        return Err(ApiError::invalid(format!(
            "page_size: must be 1 to {MAX_PAGE}"
        )));
    }
    let m = state
        .engine
        .open_pair_match(&access.ad_account_id, &id)
        .await?;
    let (items, bookmark) = state
        .engine
        .pair_publisher_ids(&m, q.bookmark.as_deref(), page_size)
        .await?;
    Ok(Json(PublisherIds { items, bookmark }))
}

#[utoipa::path(
    post,
    path = "/v5/ad_accounts/{ad_account_id}/pair_matches/{pair_match_id}/matched",
    operation_id = "pair_matches/matched",
    tag = "PAIR",
    params(
        ("ad_account_id" = String, Path, description = "The ad account."),
        ("pair_match_id" = String, Path, description = "The match."),
    ),
    request_body = Ids,
    responses(
        (status = 200, description = "The match is closed: its customer list holds the matched people.", body = Closed),
        (status = 400, description = "An id that is not a publisher id of this match (named by its index).", body = crate::error::ErrorBody),
        (status = 404, description = "No such open match of this account.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "A token without this ad account.", body = crate::error::ErrorBody),
    )
)]
pub async fn matched(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Ids>,
) -> Result<Json<Closed>, ApiError> {
    let m = state
        .engine
        .open_pair_match(&access.ad_account_id, &id)
        .await?;
    let list = state.engine.close_pair_match(m, &body.ids).await?;
    Ok(Json(Closed {
        customer_list_id: list.id,
    }))
}
