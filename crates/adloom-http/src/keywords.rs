//! `/v5/ad_accounts/{id}/keywords`: search keywords of ad groups.

use std::collections::{BTreeSet, HashMap};

use adloom_core::keyword::{normalize, AdGroupKeyword, Keyword, MatchType};
use adloom_core::object::{ObjectKind, Record, StoredObject};
use adloom_core::page::PageRequest;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::new_id;
use crate::error::ApiError;
use crate::extract::{AccountAccess, ApiJson};
use crate::AppState;

#[derive(Deserialize)]
pub struct KeywordsRequest {
    parent_id: Option<String>,
    keywords: Option<Vec<Value>>,
}

/// The keywords of one request: 1 to 2000, as the spec allows.
fn batch(keywords: Option<Vec<Value>>) -> Result<Vec<Value>, ApiError> {
    keywords
        .filter(|k| !k.is_empty() && k.len() <= 2000)
        .ok_or_else(|| ApiError::invalid("keywords: must list 1 to 2000 keywords"))
}

#[derive(Serialize)]
pub struct KeywordsAnswer {
    keywords: Vec<Value>,
    errors: Vec<KeywordError>,
}

#[derive(Serialize)]
struct KeywordError {
    data: Value,
    error_messages: Vec<String>,
}

fn view(k: &StoredObject) -> Value {
    crate::promotions::wire::view(k, k.updated_time)
}

/// The keyword of a stored keyword object.
fn keyword(o: &StoredObject) -> Option<&AdGroupKeyword> {
    match &o.record {
        Record::Keyword(k) => Some(k),
        _ => None,
    }
}

/// `POST`: keywords for one ad group (`parent_id`, plain or `AG`-prefixed);
/// each keyword succeeds or fails alone.
pub async fn create(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiJson(body): ApiJson<KeywordsRequest>,
) -> Result<Json<KeywordsAnswer>, ApiError> {
    let parent = body
        .parent_id
        .ok_or_else(|| ApiError::invalid("parent_id: required (an ad group id)"))?;
    let group_id = parent.strip_prefix("AG").unwrap_or(&parent).to_owned();
    let owned = state
        .engine
        .owned_object(&access.ad_account_id, ObjectKind::AdGroup, &group_id)
        .await?
        .is_some();
    if !owned {
        return Err(ApiError::invalid(format!(
            "parent_id: no ad group {parent} in this ad account"
        )));
    }
    let items = batch(body.keywords)?;
    let now = state.engine.clock.now();
    let (mut keywords, mut errors, mut stored) = (Vec::new(), Vec::new(), Vec::new());
    for item in items {
        let checked = (|| {
            let value = item
                .get("value")
                .and_then(Value::as_str)
                .ok_or("value: required")?;
            let value = normalize(value).map_err(|e| e.to_string())?;
            let match_type = item
                .get("match_type")
                .and_then(Value::as_str)
                .ok_or("match_type: required")?;
            let match_type = MatchType::required(match_type).map_err(|e| e.to_string())?;
            Ok::<_, String>(StoredObject {
                id: new_id(),
                ad_account_id: access.ad_account_id.clone(),
                record: Record::Keyword(AdGroupKeyword {
                    keyword: Keyword { value, match_type },
                    parent_id: group_id.clone(),
                    archived: false,
                }),
                created_time: now,
                updated_time: now,
            })
        })();
        match checked {
            Ok(k) => {
                keywords.push(view(&k));
                stored.push(k);
            }
            Err(message) => errors.push(KeywordError {
                data: refused(&item),
                error_messages: vec![message],
            }),
        }
    }
    state.engine.put_objects(stored).await?;
    Ok(Json(KeywordsAnswer { keywords, errors }))
}

/// Makes an ad group's keywords these (Ads Manager's keyword list): new
/// ones are made, missing ones archived, archived ones that come back
/// restored. The group must be `account`'s (the caller checked it).
pub(crate) async fn set_group_keywords(
    state: &AppState,
    account: &str,
    group_id: &str,
    wanted: &[Keyword],
) -> Result<(), ApiError> {
    let now = state.engine.clock.now();
    let all = state
        .engine
        .store
        .list_objects(ObjectKind::Keyword, account)
        .await?;
    let mut changed = Vec::new();
    let mut present = Vec::new();
    for o in all {
        let Record::Keyword(k) = &o.record else {
            continue;
        };
        if k.parent_id != group_id {
            continue;
        }
        let keep = wanted.contains(&k.keyword) && !present.contains(&k.keyword);
        if keep {
            present.push(k.keyword.clone());
        }
        if keep == k.archived {
            let mut k = k.clone();
            k.archived = !keep;
            changed.push(StoredObject {
                record: Record::Keyword(k),
                updated_time: now,
                ..o
            });
        }
    }
    for k in wanted {
        if present.contains(k) {
            continue;
        }
        present.push(k.clone());
        changed.push(StoredObject {
            id: new_id(),
            ad_account_id: account.to_owned(),
            record: Record::Keyword(AdGroupKeyword {
                keyword: k.clone(),
                parent_id: group_id.to_owned(),
                archived: false,
            }),
            created_time: now,
            updated_time: now,
        });
    }
    if !changed.is_empty() {
        state.engine.put_objects(changed).await?;
    }
    Ok(())
}

/// The ad group's keywords in use.
pub(crate) async fn group_keywords(
    state: &AppState,
    account: &str,
    group_id: &str,
) -> Result<Vec<Keyword>, ApiError> {
    let all = state
        .engine
        .store
        .list_objects(ObjectKind::Keyword, account)
        .await?;
    Ok(all
        .iter()
        .filter_map(keyword)
        .filter(|k| k.parent_id == group_id && !k.archived)
        .map(|k| k.keyword.clone())
        .collect())
}

/// A refused keyword as the spec shows it: the `Keyword` shape, naming
/// what was sent without echoing it whole. Its two required fields are
/// always there: `value` (a string value cut to 100 characters, else
/// empty) and `match_type` (a known one, else null, which the spec allows);
/// the fields the server sets are absent, since the spec types none of
/// them as nullable.
fn refused(item: &Value) -> Value {
    let value: String = item
        .get("value")
        .and_then(Value::as_str)
        .map(|v| v.chars().take(100).collect())
        .unwrap_or_default();
    let match_type = item
        .get("match_type")
        .and_then(Value::as_str)
        .filter(|m| MatchType::parse(m).is_some());
    json!({"type": "keyword", "value": value, "match_type": match_type})
}

#[derive(Deserialize)]
pub struct KeywordsUpdate {
    keywords: Option<Vec<Value>>,
}

/// `PATCH`: archive or restore keywords (`{"id", "archived"}` each). An
/// archived keyword matches no search and leaves its parent's list, as in
/// the spec. `bid` is deprecated there ("input will not be set"): it is
/// accepted and ignored. Each keyword succeeds or fails alone.
pub async fn update(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiJson(body): ApiJson<KeywordsUpdate>,
) -> Result<Json<KeywordsAnswer>, ApiError> {
    let items = batch(body.keywords)?;
    let now = state.engine.clock.now();
    // The account's keywords, read once: only they can be changed here.
    let mut own: HashMap<String, StoredObject> = state
        .engine
        .store
        .list_objects(ObjectKind::Keyword, &access.ad_account_id)
        .await?
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    let (mut keywords, mut errors, mut changed) = (Vec::new(), Vec::new(), BTreeSet::new());
    for item in items {
        let id = item.get("id").and_then(Value::as_str);
        let archived = match item.get("archived") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err("archived: must be true or false".to_owned()),
        };
        match (id.and_then(|id| own.get_mut(id)), archived) {
            (Some(k), Ok(archived)) => {
                if let (Some(archived), Record::Keyword(keyword)) = (archived, &mut k.record) {
                    keyword.archived = archived;
                }
                k.updated_time = now;
                keywords.push(view(k));
                changed.insert(k.id.clone());
            }
            (None, _) => errors.push(KeywordError {
                data: refused(&item),
                error_messages: vec![match id {
                    Some(id) => format!("id: no keyword {} in this ad account", cut(id)),
                    None => "id: required".to_owned(),
                }],
            }),
            (Some(_), Err(message)) => errors.push(KeywordError {
                data: refused(&item),
                error_messages: vec![message],
            }),
        }
    }
    let stored = changed.iter().filter_map(|id| own.remove(id)).collect();
    state.engine.put_objects(stored).await?;
    Ok(Json(KeywordsAnswer { keywords, errors }))
}

/// At most 30 characters of what a client sent, for a message.
fn cut(s: &str) -> String {
    s.chars().take(30).collect()
}

#[derive(Serialize)]
pub struct Listed {
    items: Vec<Value>,
    bookmark: Option<String>,
}

/// `GET`: filtered by `ad_group_id`/`ad_group_ids`, `campaign_id` and
/// `match_types`; archived keywords are left out. With no parent filter,
/// the spec's default: keywords whose parent is the ad account itself.
/// adloom's keywords all belong to ad groups, so that list is empty.
pub async fn list(
    State(state): State<AppState>,
    access: AccountAccess,
    RawQuery(query): RawQuery,
) -> Result<Json<Listed>, ApiError> {
    let (mut groups, mut types, mut page_size, mut bookmark) = (Vec::new(), Vec::new(), None, None);
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let values = || {
            v.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
        };
        match k.as_ref() {
            "ad_group_id" | "ad_group_ids" | "campaign_id" => groups.extend(values()),
            "match_types" => {
                for t in values() {
                    MatchType::required(&t)?;
                    types.push(t);
                }
            }
            "page_size" => {
                page_size = Some(
                    v.parse::<u32>()
                        .map_err(|_| ApiError::invalid("page_size: must be 1 to 250"))?,
                )
            }
            "bookmark" => bookmark = Some(v.into_owned()),
            _ => {}
        }
    }
    let page = PageRequest::new(page_size, bookmark)?;
    let all: Vec<StoredObject> = state
        .engine
        .store
        .list_objects(ObjectKind::Keyword, &access.ad_account_id)
        .await?
        .into_iter()
        .filter(|o| {
            keyword(o).is_some_and(|k| {
                let parent_wanted = match groups.is_empty() {
                    true => k.parent_id == access.ad_account_id,
                    false => groups.contains(&k.parent_id),
                };
                let type_wanted =
                    types.is_empty() || types.iter().any(|t| t == k.keyword.match_type.as_str());
                parent_wanted && !k.archived && type_wanted
            })
        })
        .collect();
    let start = match &page.after {
        Some(after) => all
            .iter()
            .position(|k| &k.id == after)
            .map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let rest = &all[start.min(all.len())..];
    let items: Vec<Value> = rest.iter().take(page.size as usize).map(view).collect();
    let bookmark = (rest.len() > items.len()).then(|| rest[items.len() - 1].id.clone());
    Ok(Json(Listed { items, bookmark }))
}
