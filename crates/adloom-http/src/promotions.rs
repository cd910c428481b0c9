//! Pins, campaigns, ad groups and ads (`/v5/pins`,
//! `/v5/ad_accounts/{id}/campaigns|ad_groups|ads`), with Pinterest's batch
//! shapes: array bodies, and `{items: [{data, exceptions}]}` answers where
//! each item succeeds or fails on its own.

use adloom_core::campaign::Kind;
use adloom_core::disclosure;
use adloom_core::object::{ObjectKind, Record, StoredObject};
use adloom_core::page::PageRequest;
use adloom_core::targeting::TargetingSpec;
use adloom_core::Invalid;
use adloom_engine::{EngineError, ReadAhead};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::new_id;
use crate::error::{code, ApiError};
use crate::extract::{AccountAccess, ApiPath, JsonArray, JsonObject};
use crate::AppState;
use adloom_core::access::Caller;

pub mod wire;

pub use wire::Object;
use wire::{merge, read, view};

/// Most objects in one batch request (the spec's `maxItems`).
const MAX_BATCH: usize = 30;

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Campaign => "campaign",
        Kind::AdGroup => "ad group",
        Kind::Ad => "ad",
        Kind::Pin => "pin",
    }
}

/// The rules' refusal; any other failure fails the whole request.
fn refusal(e: EngineError) -> Result<Invalid, ApiError> {
    match e {
        EngineError::Invalid(invalid) => Ok(invalid),
        other => Err(other.into()),
    }
}

#[derive(Serialize)]
pub struct Items {
    items: Vec<Item>,
}

/// One item of a batch answer, in the spec's shapes: `data` only when it
/// succeeded; `exceptions` a list for campaigns and ad groups, and one
/// object (only on failure) for ads.
#[derive(Serialize)]
struct Item {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Value::is_null")]
    exceptions: Value,
}

#[derive(Serialize)]
struct Exception {
    code: u32,
    message: String,
}

impl Item {
    fn succeeded(kind: Kind, data: Value) -> Item {
        Item {
            data: Some(data),
            exceptions: match kind {
                Kind::Ad => Value::Null,
                _ => json!([]),
            },
        }
    }

    fn failed(kind: Kind, message: String) -> Item {
        let exception = json!(Exception {
            code: code::INVALID,
            message,
        });
        Item {
            data: None,
            exceptions: match kind {
                Kind::Ad => exception,
                _ => json!([exception]),
            },
        }
    }
}

/// Records one batch item's outcome: the object to store, or its error.
fn report(
    kind: Kind,
    result: Result<StoredObject, String>,
    now: i64,
    items: &mut Vec<Item>,
    objects: &mut Vec<StoredObject>,
) {
    match result {
        Ok(object) => {
            items.push(Item::succeeded(kind, view(&object, now)));
            objects.push(object);
        }
        Err(message) => items.push(Item::failed(kind, message)),
    }
}

fn batch(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let items: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "the body must list 1 to {MAX_BATCH} objects"
        )));
    }
    Ok(items)
}

/// A new object of `kind` from an API-shaped `input`, through the API's
/// rules (`read`, then [`adloom_engine::Engine::prepare_write`]), ready to
/// store; `Ok(Err(_))` is the rules' refusal. The console's forms write
/// through this too.
pub async fn prepare_new(
    state: &AppState,
    kind: Kind,
    account: &str,
    input: &Object,
) -> Result<Result<StoredObject, Invalid>, ApiError> {
    match read(kind, input) {
        Ok(record) => prepare_new_record(state, account, record, None).await,
        Err(invalid) => Ok(Err(invalid)),
    }
}

/// [`prepare_new`] of a record already read, its references looked up in
/// what was read ahead for its batch.
pub(crate) async fn prepare_new_record(
    state: &AppState,
    account: &str,
    mut record: Record,
    ahead: Option<&ReadAhead>,
) -> Result<Result<StoredObject, Invalid>, ApiError> {
    let prepared = state
        .engine
        .prepare_write_ahead(account, &mut record, None, ahead)
        .await;
    if let Err(e) = prepared {
        return refusal(e).map(Err);
    }
    let now = state.engine.clock.now();
    Ok(Ok(StoredObject {
        id: new_id(),
        ad_account_id: account.to_owned(),
        record,
        created_time: now,
        updated_time: now,
    }))
}

/// `stored` with the fields of `patch` applied, through the same rules as
/// [`prepare_new`].
pub async fn prepare_update(
    state: &AppState,
    kind: Kind,
    account: &str,
    stored: StoredObject,
    patch: &Object,
) -> Result<Result<StoredObject, Invalid>, ApiError> {
    let now = state.engine.clock.now();
    let mut record = match read(kind, &merge(&view(&stored, now), patch)) {
        Ok(record) => record,
        Err(invalid) => return Ok(Err(invalid)),
    };
    if let Err(e) = state
        .engine
        .prepare_write(account, &mut record, Some(&stored.record))
        .await
    {
        return refusal(e).map(Err);
    }
    Ok(Ok(StoredObject {
        record,
        updated_time: now,
        ..stored
    }))
}

/// Creates each valid object of the batch (in one transaction) and reports
/// every item.
async fn create_batch(
    state: &AppState,
    kind: Kind,
    account: &str,
    body: &[u8],
) -> Result<Json<Items>, ApiError> {
    let now = state.engine.clock.now();
    let mut items = Vec::new();
    let mut created = Vec::new();
    let records: Vec<Result<Record, String>> = batch(body)?
        .iter()
        .map(|value| match value.as_object() {
            None => Err("each item must be an object".to_owned()),
            Some(input) => read(kind, input).map_err(|invalid| invalid.to_string()),
        })
        .collect();
    let ahead = state.engine.read_ahead(records.iter().flatten()).await?;
    for record in records {
        let result = match record {
            Err(message) => Err(message),
            Ok(record) => prepare_new_record(state, account, record, Some(&ahead))
                .await?
                .map_err(|invalid| invalid.to_string()),
        };
        report(kind, result, now, &mut items, &mut created);
    }
    state.engine.put_objects(created).await?;
    Ok(Json(Items { items }))
}

/// Applies each valid update of the batch (`id` plus the fields to change).
async fn update_batch(
    state: &AppState,
    kind: Kind,
    account: &str,
    body: &[u8],
) -> Result<Json<Items>, ApiError> {
    let now = state.engine.clock.now();
    let mut items = Vec::new();
    let mut updated = Vec::new();
    for value in batch(body)? {
        let Some((patch, id)) = value
            .as_object()
            .and_then(|p| Some((p, p.get("id")?.as_str()?)))
        else {
            let message = match value.is_object() {
                true => "id: required",
                false => "each item must be an object",
            };
            report(kind, Err(message.to_owned()), now, &mut items, &mut updated);
            continue;
        };
        let Some(stored) = state.engine.owned_object(account, kind.into(), id).await? else {
            let message = format!("id: no {} {id} in this ad account", kind_name(kind));
            report(kind, Err(message), now, &mut items, &mut updated);
            continue;
        };
        let result = prepare_update(state, kind, account, stored, patch)
            .await?
            .map_err(|invalid| invalid.to_string());
        report(kind, result, now, &mut items, &mut updated);
    }
    state.engine.put_objects(updated).await?;
    Ok(Json(Items { items }))
}

#[derive(Serialize)]
pub struct Listed {
    items: Vec<Value>,
    bookmark: Option<String>,
}

/// Lists with the spec's filters: `{campaign,ad_group,ad}_ids` and
/// `entity_statuses` (repeated or comma-separated), `order`, `page_size`,
/// `bookmark`.
async fn list(
    state: &AppState,
    kind: Kind,
    account: &str,
    query: Option<String>,
) -> Result<Json<Listed>, ApiError> {
    let ids_param = match kind {
        Kind::Campaign => "campaign_ids",
        Kind::AdGroup => "ad_group_ids",
        Kind::Ad => "ad_ids",
        Kind::Pin => "pin_ids",
    };
    let (mut ids, mut statuses, mut page_size, mut bookmark, mut descending) =
        (Vec::new(), Vec::new(), None, None, false);
    // Parents: ad groups of these campaigns, ads of these campaigns and ad
    // groups.
    let (mut campaign_ids, mut ad_group_ids) = (Vec::new(), Vec::new());
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let values = || {
            v.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
        };
        match k.as_ref() {
            k if k == ids_param => ids.extend(values()),
            "campaign_ids" => campaign_ids.extend(values()),
            "ad_group_ids" => ad_group_ids.extend(values()),
            "entity_statuses" => statuses.extend(values()),
            "page_size" => {
                page_size = Some(
                    v.parse::<u32>()
                        .map_err(|_| ApiError::invalid("page_size: must be 1 to 250"))?,
                )
            }
            "bookmark" => bookmark = Some(v.into_owned()),
            "order" => match v.as_ref() {
                "ASCENDING" => descending = false,
                "DESCENDING" => descending = true,
                other => {
                    return Err(ApiError::invalid(format!(
                        "order: {other:?} is not ASCENDING or DESCENDING"
                    )))
                }
            },
            _ => {}
        }
    }
    // The spec's entity statuses; adloom keeps no drafts, so DRAFT and
    // DELETED_DRAFT match nothing.
    const ENTITY_STATUSES: [&str; 5] = ["ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT"];
    if let Some(bad) = statuses
        .iter()
        .find(|s| !ENTITY_STATUSES.contains(&s.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "entity_statuses: {bad:?} is not one of {}",
            ENTITY_STATUSES.join(", ")
        )));
    }
    let page = PageRequest::new(page_size, bookmark)?;
    let mut all = state
        .engine
        .store
        .list_objects(kind.into(), account)
        .await?;
    let wanted = |wanted: &[String], value: Option<&str>| {
        wanted.is_empty() || value.is_some_and(|v| wanted.iter().any(|w| w == v))
    };
    all.retain(|o| {
        let (campaign, ad_group, status) = match &o.record {
            Record::Campaign(c) => (None, None, Some(c.status)),
            Record::AdGroup(g) => (Some(&g.campaign_id), None, Some(g.status)),
            Record::Ad(a) => (Some(&a.campaign_id), Some(&a.ad_group_id), Some(a.status)),
            Record::Pin(_) | Record::Keyword(_) => (None, None, None),
        };
        (ids.is_empty() || ids.contains(&o.id))
            && (kind == Kind::Campaign || wanted(&campaign_ids, campaign.map(String::as_str)))
            && (kind != Kind::Ad || wanted(&ad_group_ids, ad_group.map(String::as_str)))
            && wanted(&statuses, status.map(|s| s.as_str()))
    });
    if descending {
        all.reverse();
    }
    let start = match &page.after {
        Some(after) => all
            .iter()
            .position(|o| &o.id == after)
            .map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let rest = &all[start.min(all.len())..];
    let items: Vec<&StoredObject> = rest.iter().take(page.size as usize).collect();
    let bookmark = (rest.len() > items.len())
        .then(|| items.last().map(|o| o.id.clone()))
        .flatten();
    Ok(Json(Listed {
        items: items
            .into_iter()
            .map(|o| view(o, state.engine.clock.now()))
            .collect(),
        bookmark,
    }))
}

async fn get_one(
    state: &AppState,
    kind: Kind,
    account: &str,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    match state.engine.owned_object(account, kind.into(), id).await? {
        Some(o) => Ok(Json(view(&o, state.engine.clock.now()))),
        None => Err(ApiError::not_found(kind_name(kind))),
    }
}

macro_rules! batch_endpoints {
    ($kind:expr, $create:ident, $update:ident, $list:ident, $get:ident) => {
        pub async fn $create(
            State(state): State<AppState>,
            access: AccountAccess,
            JsonArray(body): JsonArray,
        ) -> Result<Json<Items>, ApiError> {
            create_batch(&state, $kind, &access.ad_account_id, &body).await
        }

        pub async fn $update(
            State(state): State<AppState>,
            access: AccountAccess,
            JsonArray(body): JsonArray,
        ) -> Result<Json<Items>, ApiError> {
            update_batch(&state, $kind, &access.ad_account_id, &body).await
        }

        pub async fn $list(
            State(state): State<AppState>,
            access: AccountAccess,
            RawQuery(query): RawQuery,
        ) -> Result<Json<Listed>, ApiError> {
            list(&state, $kind, &access.ad_account_id, query).await
        }

        pub async fn $get(
            State(state): State<AppState>,
            access: AccountAccess,
            ApiPath((_, id)): ApiPath<(String, String)>,
        ) -> Result<Json<Value>, ApiError> {
            get_one(&state, $kind, &access.ad_account_id, &id).await
        }
    };
}

batch_endpoints!(
    Kind::Campaign,
    create_campaigns,
    update_campaigns,
    list_campaigns,
    get_campaign
);
batch_endpoints!(
    Kind::AdGroup,
    create_ad_groups,
    update_ad_groups,
    list_ad_groups,
    get_ad_group
);
batch_endpoints!(Kind::Ad, create_ads, update_ads, list_ads, get_ad);

/// `POST /v5/ad_accounts/{id}/ad_groups/audience_sizing`: how many people
/// a targeting reaches now, as Ads Manager's reach estimate says it (the
/// disclosure policy's coarsened size, as the range it stands for). Its
/// audiences must be the account's own, as in an ad group. Keywords,
/// placements and creative types pick which requests an ad group answers,
/// not whom it may reach: they are taken and change nothing.
pub async fn audience_sizing(
    State(state): State<AppState>,
    access: AccountAccess,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let input: Object = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))?;
    let sent = wire::targeting(input.get("targeting_spec").unwrap_or(&Value::Null))?;
    let spec = TargetingSpec::parse(&sent)?;
    let size = state
        .engine
        .estimate_reach(&access.ad_account_id, &spec)
        .await?;
    let (lower, upper) = disclosure::size_bounds(size);
    Ok(Json(json!({
        "audience_size_lower_bound": lower,
        "audience_size_upper_bound": upper,
    })))
}

/// The `ad_account_id` query parameter of the pin endpoints, once the
/// caller may use that account.
async fn pin_account(
    state: &AppState,
    caller: &Caller,
    query: Option<&str>,
) -> Result<String, ApiError> {
    let account = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "ad_account_id")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            ApiError::invalid("ad_account_id: required (the ad account that owns the pin)")
        })?;
    if !caller.may_access(&account) {
        return Err(ApiError::forbidden());
    }
    if state.engine.store.get_ad_account(&account).await?.is_none() {
        return Err(ApiError::not_found("ad account"));
    }
    Ok(account)
}

/// `POST /v5/pins?ad_account_id=..`.
pub async fn create_pin(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = pin_account(&state, &caller, query.as_deref()).await?;
    let input: Object = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))?;
    let pin = prepare_new(&state, Kind::Pin, &account, &input).await??;
    state.engine.put_objects(vec![pin.clone()]).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&pin, state.engine.clock.now())),
    ))
}

/// `GET /v5/pins/{pin_id}`: the caller must hold the pin's ad account;
/// another account's pin answers as one that does not exist.
pub async fn get_pin(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pin_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    match state
        .engine
        .store
        .get_object(ObjectKind::Pin, &pin_id)
        .await?
    {
        Some(pin) if caller.may_access(&pin.ad_account_id) => {
            Ok(Json(view(&pin, state.engine.clock.now())))
        }
        _ => Err(ApiError::not_found("pin")),
    }
}
