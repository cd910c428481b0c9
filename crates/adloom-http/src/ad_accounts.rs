//! `/v5/ad_accounts` (Pinterest REST API v5) and the admin's access tokens.

use std::collections::BTreeSet;

use adloom_core::access::{AccessToken, Caller};
use adloom_core::ad_account::{is_valid_id, AdAccount, AdAccountCreate};
use adloom_core::page::PageRequest;
use adloom_store::StoreError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::{new_id, new_token, token_hash};
use crate::error::ApiError;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// `AdAccount` as the Pinterest API returns it.
#[derive(Serialize)]
pub struct AdAccountView {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Owner>,
    country: String,
    currency: String,
    /// A token grants full control of its accounts.
    permissions: [&'static str; 1],
    created_time: i64,
    updated_time: i64,
}

#[derive(Serialize)]
struct Owner {
    id: String,
}

impl From<AdAccount> for AdAccountView {
    fn from(a: AdAccount) -> Self {
        AdAccountView {
            id: a.id,
            name: a.name,
            owner: a.owner_user_id.map(|id| Owner { id }),
            country: a.country.to_string(),
            currency: a.currency,
            permissions: ["OWNER"],
            created_time: a.created_time,
            updated_time: a.updated_time,
        }
    }
}

/// `POST /v5/ad_accounts` (operator only).
pub async fn create(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(body): ApiJson<AdAccountCreate>,
) -> Result<(StatusCode, Json<AdAccountView>), ApiError> {
    let account = new_account(&state, body).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Makes an ad account: the API's and the operator's pages'.
pub(crate) async fn new_account(
    state: &AppState,
    body: AdAccountCreate,
) -> Result<AdAccount, ApiError> {
    let account = body.into_account(new_id(), state.engine.clock.now())?;
    Ok(state.engine.store.create_ad_account(account).await?)
}

#[derive(Deserialize)]
pub struct ListParams {
    page_size: Option<u32>,
    bookmark: Option<String>,
    /// Accepted for compatibility; a token's accounts are all "its own".
    #[serde(rename = "include_shared_accounts")]
    _include_shared_accounts: Option<bool>,
}

#[derive(Serialize)]
pub struct AdAccountPage {
    items: Vec<AdAccountView>,
    bookmark: Option<String>,
}

/// `GET /v5/ad_accounts`: the accounts the token may use (all, for the
/// operator).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<AdAccountPage>, ApiError> {
    let page = PageRequest::new(params.page_size, params.bookmark)?;
    let only = match &caller {
        Caller::Admin => None,
        Caller::Advertiser { ad_account_ids } => Some(ad_account_ids),
    };
    let page = state.engine.store.list_ad_accounts(only, page).await?;
    Ok(Json(AdAccountPage {
        items: page.items.into_iter().map(Into::into).collect(),
        bookmark: page.next,
    }))
}

/// `GET /v5/ad_accounts/{ad_account_id}`. Another account's id gets 403
/// whether or not it exists.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(ad_account_id): ApiPath<String>,
) -> Result<Json<AdAccountView>, ApiError> {
    if !caller.may_access(&ad_account_id) {
        return Err(ApiError::forbidden());
    }
    match state.engine.store.get_ad_account(&ad_account_id).await? {
        Some(account) => Ok(Json(account.into())),
        None => Err(ApiError::not_found("ad account")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AccessTokenRequest {
    ad_account_ids: Vec<String>,
    /// Unix seconds after which the token no longer works.
    #[serde(default)]
    expires_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessTokenView {
    id: String,
    pub(crate) access_token: String,
    token_type: &'static str,
    ad_account_ids: BTreeSet<String>,
    expires_at: Option<i64>,
}

/// An access token as the operator lists it: never the secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessTokenInfo {
    id: String,
    ad_account_ids: BTreeSet<String>,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl From<AccessToken> for AccessTokenInfo {
    fn from(t: AccessToken) -> AccessTokenInfo {
        AccessTokenInfo {
            id: t.id,
            ad_account_ids: t.ad_account_ids,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// Most accounts one token may grant.
const MAX_TOKEN_ACCOUNTS: usize = 1000;

/// `POST /v1/admin/access_tokens`: a bearer token for these ad accounts
/// only, until `expires_at` if given. The token is shown once; only its
/// hash is kept, beside an `id` to list and revoke it by.
#[utoipa::path(
    post,
    path = "/v1/admin/access_tokens",
    operation_id = "access_tokens/create",
    tag = "access tokens",
    request_body = AccessTokenRequest,
    responses(
        (status = 200, description = "The token, shown this once; only its hash is kept.", body = AccessTokenView),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn create_access_token(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(body): ApiJson<AccessTokenRequest>,
) -> Result<(StatusCode, Json<AccessTokenView>), ApiError> {
    let ids: BTreeSet<String> = body.ad_account_ids.into_iter().collect();
    let view = issue_access_token(&state, ids, body.expires_at).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Makes a token for these ad accounts, until `expires_at` if given: the
/// API's and the operator's pages'.
pub(crate) async fn issue_access_token(
    state: &AppState,
    ids: BTreeSet<String>,
    expires_at: Option<i64>,
) -> Result<AccessTokenView, ApiError> {
    if ids.is_empty() || ids.len() > MAX_TOKEN_ACCOUNTS {
        return Err(ApiError::invalid(
            "ad_account_ids: must list 1 to 1000 ad accounts",
        ));
    }
    if let Some(bad) = ids.iter().find(|id| !is_valid_id(id)) {
        return Err(ApiError::invalid(format!(
            "ad_account_ids: {bad:?} is not an ad account id"
        )));
    }
    let now = state.engine.clock.now();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::invalid(
            "expires_at: must be in the future (unix seconds)",
        ));
    }
    let token = new_token("adl_");
    let record = AccessToken {
        id: new_id(),
        ad_account_ids: ids,
        created_at: now,
        expires_at,
        last_used_at: None,
        console_generation: 0,
    };
    match state
        .engine
        .store
        .create_access_token(&token_hash(&token), &record)
        .await
    {
        Err(StoreError::NotFound) => {
            return Err(ApiError::invalid("ad_account_ids: no such ad account"))
        }
        other => other?,
    }
    Ok(AccessTokenView {
        id: record.id,
        access_token: token,
        token_type: "bearer",
        ad_account_ids: record.ad_account_ids,
        expires_at: record.expires_at,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessTokenList {
    items: Vec<AccessTokenInfo>,
}

/// `GET /v1/admin/access_tokens`: every token, without its secret.
#[utoipa::path(
    get,
    path = "/v1/admin/access_tokens",
    operation_id = "access_tokens/list",
    tag = "access tokens",
    responses(
        (status = 200, description = "Every token, without its secret.", body = AccessTokenList),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn list_access_tokens(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<AccessTokenList>, ApiError> {
    let items = state.engine.store.list_access_tokens().await?;
    Ok(Json(AccessTokenList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// `DELETE /v1/admin/access_tokens/{id}`: revoked at once; the API answers
/// 401 to it and its console sessions end.
#[utoipa::path(
    delete,
    path = "/v1/admin/access_tokens/{id}",
    operation_id = "access_tokens/revoke",
    tag = "access tokens",
    params(("id" = String, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked at once."),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "Not found.", body = crate::error::ErrorBody),
    )
)]
pub async fn revoke_access_token(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.engine.store.revoke_access_token(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("access token"))
    }
}
