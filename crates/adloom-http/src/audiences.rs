//! Customer lists and audiences (`/v5/ad_accounts/{id}/customer_lists`,
//! `/v5/ad_accounts/{id}/audiences`), and the operator's view of why a
//! person is in an advertiser's audiences.

use adloom_core::audience::{parse_rule, Audience, AudienceRule};
use adloom_core::consent::{PartnerSource, Provenance};
use adloom_core::customer_list::{record_digests, validate_name, CustomerList, ListType};
use adloom_core::disclosure;
use adloom_core::page::PageRequest;
use adloom_core::Invalid;
use adloom_store::{ListChange, ListMember, StoredAudience};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::new_id;
use crate::error::ApiError;
use crate::extract::{AccountAccess, Admin, ApiJson, ApiPath, ApiQuery};
use crate::list_upload::{ListBody, ListUpload, SpooledRecords};
use crate::AppState;
use adloom_engine::membership::{self, audience_of, Evidence};

#[derive(Deserialize)]
pub struct PageParams {
    page_size: Option<u32>,
    bookmark: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    items: Vec<T>,
    bookmark: Option<String>,
}

// ---- customer lists ----

/// `CustomerList` as the Pinterest API returns it.
#[derive(Serialize)]
pub struct ListView {
    pub(crate) ad_account_id: String,
    pub(crate) created_time: i64,
    pub(crate) exceptions: Value,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) num_batches: u64,
    pub(crate) num_removed_user_records: u64,
    pub(crate) num_uploaded_user_records: u64,
    pub(crate) status: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) updated_time: i64,
}

async fn list_view(state: &AppState, list: CustomerList) -> Result<ListView, ApiError> {
    // A list's people count only as far as the consent policy lets partner
    // data about them count (invariant 1).
    let matched = state.engine.store.customer_list_members(&list.id).await?;
    let partner_data = Provenance::Partner(PartnerSource::CustomerList);
    let members = membership::consented(&state.engine, partner_data, matched).await?;
    let size = membership::reported(&state.engine, &list.id, members.len()).await?;
    Ok(ListView {
        ad_account_id: list.ad_account_id,
        created_time: list.created_time,
        exceptions: json!({}),
        id: list.id,
        name: list.name,
        num_batches: list.num_batches,
        num_removed_user_records: list.num_removed_user_records,
        num_uploaded_user_records: list.num_uploaded_user_records,
        status: if size.ready { "READY" } else { "TOO_SMALL" },
        kind: "customerlist",
        updated_time: list.updated_time,
    })
}

fn list_type_of(upload: &ListUpload) -> Result<ListType, Invalid> {
    let list_type = ListType::parse(upload.list_type.as_deref().unwrap_or("EMAIL"))?;
    if list_type == ListType::HashedPinnerId {
        return Err(Invalid::new(
            "list_type",
            "HASHED_PINNER_ID lists are not supported yet",
        ));
    }
    Ok(list_type)
}

/// Matches the spooled records against the platform's people, a chunk at a
/// time. Returns who matched (with the digest that matched; records that
/// match no one leave nothing behind).
async fn match_records(
    state: &AppState,
    list_type: ListType,
    records: &mut SpooledRecords,
) -> Result<Vec<ListMember>, ApiError> {
    let mut matched = Vec::new();
    while let Some(chunk) = records.next_chunk()? {
        let hits = state
            .engine
            .store
            .match_list_records(list_type, chunk)
            .await?;
        matched.extend(hits.into_iter().flatten());
    }
    Ok(matched)
}

/// Which daily cap a creation counts against.
#[derive(Clone, Copy)]
pub(crate) enum Creation {
    List,
    Audience,
}

/// 429 (code 8, Retry-After until midnight UTC) once the account made its
/// day's worth of customer lists or audiences (the disclosure policy's
/// `may_create`).
pub(crate) async fn within_daily_cap(
    state: &AppState,
    account: &str,
    what: Creation,
) -> Result<(), ApiError> {
    let now = state.engine.clock.now();
    let (lists, audiences) = state
        .engine
        .store
        .created_since(account, disclosure::day_start(now))
        .await?;
    let (made, cap, kind, noun) = match what {
        Creation::List => (
            lists,
            state.config.max_new_lists_per_day,
            "customer_list",
            "customer lists",
        ),
        Creation::Audience => (
            audiences,
            state.config.max_new_audiences_per_day,
            "audience",
            "audiences",
        ),
    };
    disclosure::may_create(made, cap, now).map_err(|wait| {
        state.engine.metrics.creation_capped(kind);
        ApiError::rate_limited(
            format!(
                "this ad account made its {cap} new {noun} for today; try again after midnight UTC"
            ),
            wait,
        )
    })
}

/// `POST .../customer_lists`.
pub async fn create_list(
    State(state): State<AppState>,
    access: AccountAccess,
    ListBody(body): ListBody,
) -> Result<Json<ListView>, ApiError> {
    Ok(Json(new_list(&state, &access.ad_account_id, body).await?))
}

/// Makes a customer list of `account` from an upload: the API's and the
/// console's.
pub(crate) async fn new_list(
    state: &AppState,
    account: &str,
    mut body: ListUpload,
) -> Result<ListView, ApiError> {
    let name = validate_name(body.name.as_deref())?;
    let list_type = list_type_of(&body)?;
    within_daily_cap(state, account, Creation::List).await?;
    let records = body
        .records
        .as_mut()
        .ok_or_else(|| ApiError::invalid("records: required"))?;
    let uploaded = records.count;
    let matched = match_records(state, list_type, records).await?;
    let list = new_list_record(state, account, name, list_type, uploaded);
    let list = state.engine.create_customer_list(list, matched).await?;
    list_view(state, list).await
}

/// A new customer list of `account` after its first `uploaded` records,
/// yet to be stored: the API's, the console's and the bulk path's.
pub(crate) fn new_list_record(
    state: &AppState,
    account: &str,
    name: String,
    list_type: ListType,
    uploaded: u64,
) -> CustomerList {
    let now = state.engine.clock.now();
    CustomerList {
        id: new_id(),
        ad_account_id: account.to_owned(),
        name,
        list_type,
        num_batches: 1,
        num_uploaded_user_records: uploaded,
        num_removed_user_records: 0,
        created_time: now,
        updated_time: now,
    }
}

async fn owned_list(
    state: &AppState,
    ad_account_id: &str,
    list_id: &str,
) -> Result<CustomerList, ApiError> {
    match state.engine.store.get_customer_list(list_id).await? {
        Some(list) if list.ad_account_id == ad_account_id => Ok(list),
        _ => Err(ApiError::not_found("customer list")),
    }
}

/// `PATCH .../customer_lists/{id}`: one ADD or REMOVE batch.
pub async fn update_list(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, list_id)): ApiPath<(String, String)>,
    ListBody(body): ListBody,
) -> Result<Json<ListView>, ApiError> {
    Ok(Json(
        change_list(&state, &access.ad_account_id, list_id, body).await?,
    ))
}

/// Adds a batch to `account`'s list, or removes one from it: the API's
/// and the console's.
pub(crate) async fn change_list(
    state: &AppState,
    account: &str,
    list_id: String,
    mut body: ListUpload,
) -> Result<ListView, ApiError> {
    let list = owned_list(state, account, &list_id).await?;
    let remove = match body.operation_type.as_deref() {
        Some("ADD") => false,
        Some("REMOVE") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "operation_type: {other:?} is not ADD or REMOVE"
            )))
        }
        None => {
            return Err(ApiError::invalid(
                "operation_type: required (ADD or REMOVE)",
            ))
        }
    };
    let records = body
        .records
        .as_mut()
        .ok_or_else(|| ApiError::invalid("records: required"))?;
    let uploaded = records.count;
    let change = if remove {
        let mut digests = Vec::new();
        while let Some(chunk) = records.next_chunk()? {
            for record in &chunk {
                digests.extend(record_digests(list.list_type, record).unwrap_or_default());
            }
        }
        ListChange {
            list_id,
            remove,
            uploaded,
            matched: Vec::new(),
            digests,
            now: state.engine.clock.now(),
        }
    } else {
        let matched = match_records(state, list.list_type, records).await?;
        ListChange {
            list_id,
            remove,
            uploaded,
            matched,
            digests: Vec::new(),
            now: state.engine.clock.now(),
        }
    };
    let list = state.engine.update_customer_list(change).await?;
    list_view(state, list).await
}

/// `GET .../customer_lists/{id}`.
pub async fn get_list(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, list_id)): ApiPath<(String, String)>,
) -> Result<Json<ListView>, ApiError> {
    let list = owned_list(&state, &access.ad_account_id, &list_id).await?;
    Ok(Json(list_view(&state, list).await?))
}

/// `GET .../customer_lists`.
pub async fn list_lists(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<ListView>>, ApiError> {
    let page = PageRequest::new(params.page_size, params.bookmark)?;
    let page = state
        .engine
        .store
        .list_customer_lists(&access.ad_account_id, page)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for list in page.items {
        items.push(list_view(&state, list).await?);
    }
    Ok(Json(Paged {
        items,
        bookmark: page.next,
    }))
}

/// Every customer list of an account, as the API shows them (for the
/// console).
pub(crate) async fn all_lists(state: &AppState, account: &str) -> Result<Vec<ListView>, ApiError> {
    let mut out = Vec::new();
    for list in stored_lists(state, account).await? {
        out.push(list_view(state, list).await?);
    }
    Ok(out)
}

/// Every customer list of an account as stored, without sizes (the
/// console's picks need names only).
pub(crate) async fn stored_lists(
    state: &AppState,
    account: &str,
) -> Result<Vec<CustomerList>, ApiError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(250);
    loop {
        let batch = state
            .engine
            .store
            .list_customer_lists(account, page.clone())
            .await?;
        out.extend(batch.items);
        match batch.next {
            Some(next) => page.after = Some(next),
            None => return Ok(out),
        }
    }
}

/// Every audience of an account, as the API shows them (for the console).
pub(crate) async fn all_audiences(
    state: &AppState,
    account: &str,
) -> Result<Vec<AudienceView>, ApiError> {
    let mut out = Vec::new();
    for audience in stored_audiences(state, account).await? {
        out.push(audience_view(state, audience).await?);
    }
    Ok(out)
}

/// Every audience of an account, without its members or size (the
/// console's picks need names only).
pub(crate) async fn stored_audiences(
    state: &AppState,
    account: &str,
) -> Result<Vec<Audience>, ApiError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(250);
    loop {
        let batch = state
            .engine
            .store
            .list_audiences(account, page.clone())
            .await?;
        for a in batch
            .items
            .iter()
            .filter(|a| a.record.get("removed").is_none())
        {
            out.push(audience_of(a)?);
        }
        match batch.next {
            Some(next) => page.after = Some(next),
            None => return Ok(out),
        }
    }
}

// ---- audiences ----

/// `Audience` as the Pinterest API returns it.
#[derive(Serialize)]
pub struct AudienceView {
    pub(crate) ad_account_id: String,
    pub(crate) audience_type: &'static str,
    pub(crate) created_by_company_name: Option<String>,
    pub(crate) created_timestamp: i64,
    pub(crate) description: Option<String>,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) rule: Value,
    pub(crate) size: Option<u64>,
    pub(crate) status: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) updated_timestamp: i64,
}

async fn audience_view(state: &AppState, audience: Audience) -> Result<AudienceView, ApiError> {
    let members = membership::members(&state.engine, &audience).await?;
    let size = membership::reported(&state.engine, &audience.id, members.len()).await?;
    Ok(AudienceView {
        rule: audience.rule_to_wire(),
        audience_type: audience.audience_type(),
        ad_account_id: audience.ad_account_id,
        created_by_company_name: None,
        created_timestamp: audience.created_time,
        description: audience.description,
        id: audience.id,
        name: audience.name,
        size: size.size,
        status: if size.ready { "READY" } else { "TOO_SMALL" },
        kind: "audience",
        updated_timestamp: audience.updated_time,
    })
}

#[derive(Deserialize, Default)]
pub struct AudienceBody {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) audience_type: Option<String>,
    #[serde(default)]
    pub(crate) rule: Option<Value>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) operation_type: Option<String>,
}

/// Checks that the tags and lists a rule names belong to the account.
async fn check_references(state: &AppState, audience: &Audience) -> Result<(), ApiError> {
    match &audience.rule {
        AudienceRule::CustomerList { customer_list_id } => {
            owned_list(state, &audience.ad_account_id, customer_list_id)
                .await
                .map_err(|_| {
                    ApiError::invalid(
                        "rule.customer_list_id: no such customer list in this ad account",
                    )
                })?;
        }
        AudienceRule::Visitor(v) => {
            for tag_id in &v.tag_ids {
                let owned = state
                    .engine
                    .store
                    .get_conversion_tag(tag_id)
                    .await?
                    .is_some_and(|t| t.ad_account_id == audience.ad_account_id);
                if !owned {
                    return Err(ApiError::invalid(format!(
                        "rule.visitor_source_id: no conversion tag {tag_id} in this ad account"
                    )));
                }
            }
        }
        AudienceRule::Engagement(_) => {}
    }
    Ok(())
}

fn stored(audience: &Audience) -> StoredAudience {
    StoredAudience {
        id: audience.id.clone(),
        ad_account_id: audience.ad_account_id.clone(),
        record: json!({
            "name": audience.name,
            "description": audience.description,
            "audience_type": audience.audience_type(),
            "rule": audience.rule_to_wire(),
        }),
        created_time: audience.created_time,
        updated_time: audience.updated_time,
    }
}

fn validate_audience_name(name: Option<&str>) -> Result<String, ApiError> {
    validate_name(name).map_err(Into::into)
}

/// `POST .../audiences`.
pub async fn create_audience(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiJson(body): ApiJson<AudienceBody>,
) -> Result<Json<AudienceView>, ApiError> {
    Ok(Json(
        new_audience(&state, &access.ad_account_id, body).await?,
    ))
}

/// Makes an audience of `account`: the API's and the console's.
pub(crate) async fn new_audience(
    state: &AppState,
    account: &str,
    body: AudienceBody,
) -> Result<AudienceView, ApiError> {
    let name = validate_audience_name(body.name.as_deref())?;
    let audience_type = body
        .audience_type
        .ok_or_else(|| ApiError::invalid("audience_type: required"))?;
    let rule = parse_rule(&audience_type, body.rule.as_ref().unwrap_or(&Value::Null))?;
    within_daily_cap(state, account, Creation::Audience).await?;
    let description = body.description.filter(|d| !d.is_empty());
    let audience = store_audience(state, account, name, description, rule).await?;
    audience_view(state, audience).await
}

/// Stores a new audience of `account` once the lists and tags its rule
/// names are found to be the account's: the API's, the console's and the
/// bulk path's.
pub(crate) async fn store_audience(
    state: &AppState,
    account: &str,
    name: String,
    description: Option<String>,
    rule: AudienceRule,
) -> Result<Audience, ApiError> {
    let now = state.engine.clock.now();
    let audience = Audience {
        id: new_id(),
        ad_account_id: account.to_owned(),
        name,
        description,
        rule,
        created_time: now,
        updated_time: now,
    };
    check_references(state, &audience).await?;
    state.engine.put_audience(stored(&audience)).await?;
    Ok(audience)
}

async fn owned_audience(
    state: &AppState,
    ad_account_id: &str,
    id: &str,
) -> Result<StoredAudience, ApiError> {
    match state.engine.store.get_audience(id).await? {
        Some(a) if a.ad_account_id == ad_account_id && a.record.get("removed").is_none() => Ok(a),
        _ => Err(ApiError::not_found("audience")),
    }
}

/// `GET .../audiences/{id}`.
pub async fn get_audience(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
) -> Result<Json<AudienceView>, ApiError> {
    let stored = owned_audience(&state, &access.ad_account_id, &id).await?;
    Ok(Json(audience_view(&state, audience_of(&stored)?).await?))
}

/// `PATCH .../audiences/{id}`: `operation_type` UPDATE (name, description,
/// rule of the same type) or REMOVE.
pub async fn update_audience(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AudienceBody>,
) -> Result<Json<AudienceView>, ApiError> {
    Ok(Json(
        change_audience(&state, &access.ad_account_id, &id, body).await?,
    ))
}

/// `account`'s audience `id`, as the API shows it: the console's edit form
/// starts from it.
pub(crate) async fn one_audience(
    state: &AppState,
    account: &str,
    id: &str,
) -> Result<AudienceView, ApiError> {
    let stored = owned_audience(state, account, id).await?;
    audience_view(state, audience_of(&stored)?).await
}

/// `account`'s customer list `id`, as the API shows it.
pub(crate) async fn one_list(
    state: &AppState,
    account: &str,
    id: &str,
) -> Result<ListView, ApiError> {
    let list = owned_list(state, account, id).await?;
    list_view(state, list).await
}

/// Changes or removes an audience of `account`: the API's and the
/// console's.
pub(crate) async fn change_audience(
    state: &AppState,
    account: &str,
    id: &str,
    body: AudienceBody,
) -> Result<AudienceView, ApiError> {
    let current = owned_audience(state, account, id).await?;
    let mut audience = audience_of(&current)?;
    audience.updated_time = state.engine.clock.now();
    match body.operation_type.as_deref().unwrap_or("UPDATE") {
        "REMOVE" => {
            let mut record = stored(&audience);
            record.record["removed"] = json!(true);
            state.engine.put_audience(record).await?;
            return audience_view(state, audience).await;
        }
        "UPDATE" => {}
        other => {
            return Err(ApiError::invalid(format!(
                "operation_type: {other:?} is not UPDATE or REMOVE"
            )))
        }
    }
    if body.name.is_some() {
        audience.name = validate_audience_name(body.name.as_deref())?;
    }
    if let Some(d) = body.description {
        audience.description = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(rule) = &body.rule {
        audience.rule = parse_rule(audience.audience_type(), rule)?;
        check_references(state, &audience).await?;
    }
    state.engine.put_audience(stored(&audience)).await?;
    audience_view(state, audience).await
}

/// `GET .../audiences`.
pub async fn list_audiences(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<AudienceView>>, ApiError> {
    let page = PageRequest::new(params.page_size, params.bookmark)?;
    let page = state
        .engine
        .store
        .list_audiences(&access.ad_account_id, page)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for a in page
        .items
        .iter()
        .filter(|a| a.record.get("removed").is_none())
    {
        items.push(audience_view(&state, audience_of(a)?).await?);
    }
    Ok(Json(Paged {
        items,
        bookmark: page.next,
    }))
}

#[derive(Deserialize)]
pub struct WhyParams {
    ad_account_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WhyItem {
    audience_id: String,
    name: String,
    audience_type: &'static str,
    /// `partner` or `on_platform`.
    provenance: &'static str,
    evidence: Evidence,
}

/// `GET /v1/people/{user_id}/audiences?ad_account_id=..` (operator only):
/// the audiences of one ad account that this person is in now, and the
/// data that put them there.
#[utoipa::path(
    get,
    path = "/v1/people/{user_id}/audiences",
    operation_id = "people/audiences",
    tag = "people",
    params(
        ("user_id" = String, Path, description = "The platform's id of the person."),
        ("ad_account_id" = String, Query, description = "The ad account whose audiences are asked about."),
    ),
    responses(
        (status = 200, description = "The audiences of that account the person is in now, and what put them there.", body = Paged<WhyItem>),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn why(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<WhyParams>,
) -> Result<Json<Paged<WhyItem>>, ApiError> {
    let account = params
        .ad_account_id
        .ok_or_else(|| ApiError::invalid("ad_account_id: required"))?;
    let mut items = Vec::new();
    let mut page = PageRequest::first(250);
    loop {
        let batch = state
            .engine
            .store
            .list_audiences(&account, page.clone())
            .await?;
        for stored in batch
            .items
            .iter()
            .filter(|a| a.record.get("removed").is_none())
        {
            let audience = audience_of(stored)?;
            if let Some(evidence) = membership::members(&state.engine, &audience)
                .await?
                .remove(&user_id)
            {
                items.push(WhyItem {
                    audience_id: audience.id.clone(),
                    name: audience.name.clone(),
                    audience_type: audience.audience_type(),
                    provenance: match audience.provenance() {
                        adloom_core::consent::Provenance::Partner(_) => "partner",
                        adloom_core::consent::Provenance::OnPlatform(_) => "on_platform",
                    },
                    evidence,
                });
            }
        }
        match batch.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(Json(Paged {
        items,
        bookmark: None,
    }))
}
