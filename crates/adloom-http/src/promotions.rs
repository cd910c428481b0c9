//! Pins, campaigns, ad groups and ads (`/v5/pins`,
//! `/v5/ad_accounts/{id}/campaigns|ad_groups|ads`), with Pinterest's batch
//! shapes: array bodies, and `{items: [{data, exceptions}]}` answers where
//! each item succeeds or fails on its own.

use adloom_core::campaign::{
    iso8601, merge, normalize_ad, normalize_ad_group, normalize_campaign, normalize_pin,
    summary_status, Kind, Object,
};
use adloom_core::object::ObjectKind;
use adloom_core::page::PageRequest;
use adloom_core::targeting::TargetingSpec;
use adloom_core::Invalid;
use adloom_store::StoredObject;
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

/// The stored object in the API's shape at `now`: its record plus the
/// fields the server owns.
fn view(kind: Kind, o: &StoredObject, now: i64) -> Value {
    let mut v = o.record.clone();
    v["id"] = json!(o.id);
    v["ad_account_id"] = json!(o.ad_account_id);
    v["updated_time"] = json!(o.updated_time);
    match kind {
        // With its offset, as the spec's date-times are (UTC).
        Kind::Pin => v["created_at"] = json!(format!("{}Z", iso8601(o.created_time))),
        _ => {
            v["created_time"] = json!(o.created_time);
            v["type"] = json!(kind.as_str());
            let time = |k: &str| v.get(k).and_then(Value::as_i64);
            let status = v.get("status").and_then(Value::as_str).unwrap_or("ACTIVE");
            v["summary_status"] = json!(summary_status(
                kind,
                status,
                time("start_time"),
                time("end_time"),
                now
            ));
        }
    }
    // Not nullable in the spec: absent rather than null.
    if let Some(fields) = v.as_object_mut() {
        if fields.get("lifetime_frequency_cap") == Some(&Value::Null) {
            fields.remove("lifetime_frequency_cap");
        }
    }
    v
}

fn normalize(kind: Kind, o: &Object) -> Result<Object, Invalid> {
    match kind {
        Kind::Campaign => normalize_campaign(o),
        Kind::AdGroup => normalize_ad_group(o),
        Kind::Ad => normalize_ad(o),
        Kind::Pin => normalize_pin(o),
    }
}

/// Checks what an object refers to (ad group → campaign; ad → ad group and
/// pin) against the account, and fills in what follows from it.
async fn check_references(
    state: &AppState,
    kind: Kind,
    account: &str,
    o: &mut Object,
) -> Result<(), String> {
    let owned = |found: Option<StoredObject>| found.filter(|f| f.ad_account_id == account);
    let field = |o: &Object, k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match kind {
        Kind::AdGroup => {
            let id = field(o, "campaign_id");
            if owned(
                state
                    .engine
                    .store
                    .get_object(ObjectKind::Campaign, &id)
                    .await
                    .map_err(|e| e.to_string())?,
            )
            .is_none()
            {
                return Err(format!("campaign_id: no campaign {id} in this ad account"));
            }
            // An ad group may only name its own account's audiences: another
            // account's list would otherwise pick whom this one reaches.
            let targeting = TargetingSpec::parse(o.get("targeting_spec").unwrap_or(&Value::Null))
                .map_err(|e| e.to_string())?;
            for (key, ids) in [
                ("AUDIENCE_INCLUDE", &targeting.audience_include),
                ("AUDIENCE_EXCLUDE", &targeting.audience_exclude),
            ] {
                for id in ids {
                    let found = state
                        .engine
                        .store
                        .get_audience(id)
                        .await
                        .map_err(|e| e.to_string())?
                        .filter(|a| {
                            a.ad_account_id == account && a.record.get("removed").is_none()
                        });
                    if found.is_none() {
                        return Err(format!(
                            "targeting_spec.{key}: no audience {id} in this ad account"
                        ));
                    }
                }
            }
        }
        Kind::Ad => {
            let group_id = field(o, "ad_group_id");
            let group = owned(
                state
                    .engine
                    .store
                    .get_object(ObjectKind::AdGroup, &group_id)
                    .await
                    .map_err(|e| e.to_string())?,
            )
            .ok_or_else(|| format!("ad_group_id: no ad group {group_id} in this ad account"))?;
            let pin_id = field(o, "pin_id");
            if owned(
                state
                    .engine
                    .store
                    .get_object(ObjectKind::Pin, &pin_id)
                    .await
                    .map_err(|e| e.to_string())?,
            )
            .is_none()
            {
                return Err(format!("pin_id: no pin {pin_id} of this ad account"));
            }
            o.insert("campaign_id".into(), group.record["campaign_id"].clone());
        }
        Kind::Campaign | Kind::Pin => {}
    }
    Ok(())
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
            items.push(Item::succeeded(kind, view(kind, &object, now)));
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
    for value in batch(body)? {
        let result = async {
            let input = value.as_object().ok_or("each item must be an object")?;
            let mut record = normalize(kind, input).map_err(|e| e.to_string())?;
            check_references(state, kind, account, &mut record).await?;
            Ok::<_, String>(StoredObject {
                id: new_id(),
                ad_account_id: account.to_owned(),
                record: Value::Object(record),
                created_time: now,
                updated_time: now,
            })
        }
        .await;
        report(kind, result, now, &mut items, &mut created);
    }
    state.engine.put_objects(kind.into(), created).await?;
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
        let result = async {
            let patch = value.as_object().ok_or("each item must be an object")?;
            let id = patch
                .get("id")
                .and_then(Value::as_str)
                .ok_or("id: required")?;
            let stored = state
                .engine
                .store
                .get_object(kind.into(), id)
                .await
                .map_err(|e| e.to_string())?
                .filter(|s| s.ad_account_id == account)
                .ok_or_else(|| format!("id: no {} {id} in this ad account", kind_name(kind)))?;
            let empty = Object::new();
            let merged = merge(stored.record.as_object().unwrap_or(&empty), patch);
            let mut record = normalize(kind, &merged).map_err(|e| e.to_string())?;
            check_references(state, kind, account, &mut record).await?;
            Ok::<_, String>(StoredObject {
                record: Value::Object(record),
                updated_time: now,
                ..stored
            })
        }
        .await;
        report(kind, result, now, &mut items, &mut updated);
    }
    state.engine.put_objects(kind.into(), updated).await?;
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
    let parent = |o: &StoredObject, field: &str, wanted: &[String]| {
        wanted.is_empty()
            || o.record
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|p| wanted.iter().any(|w| w == p))
    };
    all.retain(|o| {
        (ids.is_empty() || ids.contains(&o.id))
            && (kind == Kind::Campaign || parent(o, "campaign_id", &campaign_ids))
            && (kind != Kind::Ad || parent(o, "ad_group_id", &ad_group_ids))
            && (statuses.is_empty()
                || o.record
                    .get("status")
                    .and_then(Value::as_str)
                    .is_some_and(|s| statuses.iter().any(|x| x == s)))
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
            .map(|o| view(kind, o, state.engine.clock.now()))
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
    match state.engine.store.get_object(kind.into(), id).await? {
        Some(o) if o.ad_account_id == account => Ok(Json(view(kind, &o, state.engine.clock.now()))),
        _ => Err(ApiError::not_found(kind_name(kind))),
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
    let record = normalize_pin(&input)?;
    let now = state.engine.clock.now();
    let pin = StoredObject {
        id: new_id(),
        ad_account_id: account,
        record: Value::Object(record),
        created_time: now,
        updated_time: now,
    };
    state
        .engine
        .put_objects(ObjectKind::Pin, vec![pin.clone()])
        .await?;
    Ok((StatusCode::CREATED, Json(view(Kind::Pin, &pin, now))))
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
            Ok(Json(view(Kind::Pin, &pin, state.engine.clock.now())))
        }
        _ => Err(ApiError::not_found("pin")),
    }
}
