//! Conversion tags and the conversions API (`/v5/ad_accounts/{id}/...`).

use adloom_core::event::{ConversionEventInput, TrackedEvent, MAX_EVENTS_PER_REQUEST};
use adloom_core::tag::{code_snippet, ConversionTag, ConversionTagCreate, TagConfigs};
use adloom_store::bus::Durability;
use adloom_store::EventOutcome;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::new_id;
use crate::error::{code, ApiError};
use crate::extract::{AccountAccess, ApiJson, ApiPath, ApiQuery, JsonObject};
use crate::AppState;

/// `ConversionTag` as the Pinterest API returns it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TagView {
    ad_account_id: String,
    code_snippet: String,
    configs: TagConfigs,
    enhanced_match_status: Option<&'static str>,
    id: String,
    last_fired_time_ms: Option<i64>,
    name: String,
    status: &'static str,
    version: &'static str,
    /// adloom's extension: the sites whose pixels may feed audiences
    /// (empty: every site).
    adloom_allowed_domains: Vec<String>,
}

fn view(state: &AppState, tag: ConversionTag) -> TagView {
    TagView {
        code_snippet: code_snippet(&state.config.public_url, &tag.id),
        ad_account_id: tag.ad_account_id,
        configs: tag.configs,
        enhanced_match_status: None,
        id: tag.id,
        last_fired_time_ms: None,
        name: tag.name,
        status: "ACTIVE",
        version: "3",
        adloom_allowed_domains: tag.allowed_domains,
    }
}

/// `POST .../conversion_tags`.
pub async fn create_tag(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiJson(body): ApiJson<ConversionTagCreate>,
) -> Result<(StatusCode, Json<TagView>), ApiError> {
    let tag = new_tag(&state, access.ad_account_id, body).await?;
    Ok((StatusCode::CREATED, Json(view(&state, tag))))
}

/// Makes a tag of `account`: the API's and the console's.
pub(crate) async fn new_tag(
    state: &AppState,
    account: String,
    body: ConversionTagCreate,
) -> Result<ConversionTag, ApiError> {
    let tag = body.into_tag(new_id(), account, state.engine.clock.now())?;
    Ok(state.engine.store.create_conversion_tag(tag).await?)
}

#[derive(Serialize)]
pub struct TagList {
    items: Vec<TagView>,
}

#[derive(Deserialize)]
pub struct TagListParams {
    /// Accepted for compatibility: tags are never deleted.
    #[serde(rename = "filter_deleted")]
    _filter_deleted: Option<String>,
}

/// `GET .../conversion_tags`.
pub async fn list_tags(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiQuery(_): ApiQuery<TagListParams>,
) -> Result<Json<TagList>, ApiError> {
    let tags = state
        .engine
        .store
        .list_conversion_tags(&access.ad_account_id)
        .await?;
    Ok(Json(TagList {
        items: tags.into_iter().map(|t| view(&state, t)).collect(),
    }))
}

/// `GET .../conversion_tags/{conversion_tag_id}`: a tag of another account
/// is as absent as one that does not exist.
pub async fn get_tag(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, tag_id)): ApiPath<(String, String)>,
) -> Result<Json<TagView>, ApiError> {
    match state.engine.store.get_conversion_tag(&tag_id).await? {
        Some(tag) if tag.ad_account_id == access.ad_account_id => Ok(Json(view(&state, tag))),
        _ => Err(ApiError::not_found("conversion tag")),
    }
}

/// `PATCH .../conversion_tags/{conversion_tag_id}`: changes the fields
/// given (the name, the enhanced-match settings, `adloom_allowed_domains`).
#[utoipa::path(
    patch,
    path = "/v5/ad_accounts/{ad_account_id}/conversion_tags/{conversion_tag_id}",
    operation_id = "conversion_tags/update",
    tag = "extensions",
    description = "adloom's extension of Pinterest's conversion tags: change a tag's fields, among them `adloom_allowed_domains`, the sites whose pixels may feed audiences (Pinterest's v5 has no such operation).",
    params(
        ("ad_account_id" = String, Path, description = "The ad account."),
        ("conversion_tag_id" = String, Path, description = "The tag."),
    ),
    request_body = ConversionTagCreate,
    responses(
        (status = 200, description = "The tag as changed.", body = TagView),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "The token does not reach this ad account.", body = crate::error::ErrorBody),
        (status = 404, description = "No such tag in this ad account.", body = crate::error::ErrorBody),
    )
)]
pub async fn update_tag(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiPath((_, tag_id)): ApiPath<(String, String)>,
    ApiJson(patch): ApiJson<ConversionTagCreate>,
) -> Result<Json<TagView>, ApiError> {
    let tag = change_tag(&state, &access.ad_account_id, &tag_id, patch).await?;
    Ok(Json(view(&state, tag)))
}

/// `account`'s tag, or 404 as if it did not exist.
pub(crate) async fn owned_tag(
    state: &AppState,
    account: &str,
    tag_id: &str,
) -> Result<ConversionTag, ApiError> {
    match state.engine.store.get_conversion_tag(tag_id).await? {
        Some(tag) if tag.ad_account_id == account => Ok(tag),
        _ => Err(ApiError::not_found("conversion tag")),
    }
}

/// Changes the fields `patch` gives of `account`'s tag: the API's and the
/// console's.
pub(crate) async fn change_tag(
    state: &AppState,
    account: &str,
    tag_id: &str,
    patch: ConversionTagCreate,
) -> Result<ConversionTag, ApiError> {
    let tag = owned_tag(state, account, tag_id).await?.patched(patch)?;
    state
        .engine
        .store
        .update_conversion_tag(tag.clone())
        .await?;
    state.engine.tags.forget(&tag.id);
    Ok(tag)
}

/// The body when every event has the right types: parsed straight into
/// inputs, the fast path.
#[derive(Deserialize)]
struct TypedEvents {
    data: Bounded<ConversionEventInput>,
}

/// The body otherwise: each event on its own, so that one with a wrong
/// type fails alone, with its own message.
#[derive(Deserialize)]
struct LooseEvents {
    data: Option<Bounded<Slot>>,
}

/// What the parser says when `data` holds too many events: it stops at
/// the first one too many, before reading the rest.
const TOO_MANY: &str = "data: must list 1 to 1000 events";

/// A list of at most `MAX_EVENTS_PER_REQUEST` items, refused as soon as one
/// more begins: a body of two million tiny items costs nothing beyond the
/// first thousand.
struct Bounded<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Bounded<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Items<T> {
            type Value = Bounded<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of events")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() == MAX_EVENTS_PER_REQUEST {
                        return Err(serde::de::Error::custom(TOO_MANY));
                    }
                    items.push(item);
                }
                Ok(Bounded(items))
            }
        }
        d.deserialize_seq(Items(std::marker::PhantomData))
    }
}

/// One event of a loose body: parsed if it is an object, else the reason,
/// without building a tree of what it was.
struct Slot(Result<ConversionEventInput, String>);

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Event;
        const NOT_AN_OBJECT: &str = "invalid event: each event must be an object";
        impl<'de> serde::de::Visitor<'de> for Event {
            type Value = Slot;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Slot, A::Error> {
                // One event's own fields, as JSON, then checked: a wrong type
                // fails this event only.
                let fields: serde_json::Map<String, Value> =
                    Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Slot(
                    serde_json::from_value(Value::Object(fields))
                        .map_err(|e| format!("invalid event: {e}")),
                ))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Slot, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Slot, E> {
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Slot, E> {
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Slot, E> {
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Slot, E> {
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
            fn visit_str<E>(self, _: &str) -> Result<Slot, E> {
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Slot, E> {
                Ok(Slot(Err(NOT_AN_OBJECT.to_owned())))
            }
        }
        d.deserialize_any(Event)
    }
}

/// Each event of the body, parsed or with the reason it could not be.
/// More than `MAX_EVENTS_PER_REQUEST` events are refused whole, as soon as
/// the one too many begins.
pub(crate) fn parse_events(
    body: &[u8],
) -> Result<Vec<Result<ConversionEventInput, String>>, ApiError> {
    let refused = |e: serde_json::Error| {
        let message = e.to_string();
        if message.starts_with(TOO_MANY) {
            ApiError::invalid(TOO_MANY)
        } else {
            ApiError::invalid(format!("invalid json: {message}"))
        }
    };
    match serde_json::from_slice::<TypedEvents>(body) {
        Ok(typed) => return Ok(typed.data.0.into_iter().map(Ok).collect()),
        Err(e) if e.to_string().starts_with(TOO_MANY) => return Err(refused(e)),
        Err(_) => {}
    }
    let loose: LooseEvents = serde_json::from_slice(body).map_err(refused)?;
    Ok(loose
        .data
        .map(|d| d.0)
        .unwrap_or_default()
        .into_iter()
        .map(|slot| slot.0)
        .collect())
}

#[derive(Deserialize)]
pub struct EventsParams {
    test: Option<String>,
}

#[derive(Serialize)]
pub struct EventsAnswer {
    num_events_received: usize,
    num_events_processed: usize,
    events: Vec<EventResult>,
}

#[derive(Serialize)]
struct EventResult {
    status: &'static str,
    error_message: String,
    warning_message: String,
}

/// `POST .../events`: 1 to 1000 conversion events. Good events are
/// recorded (durably, before the answer) even when others fail; then the
/// answer is 422 with the same per-event report in `details`. With
/// `test=true` events are checked and answered but not recorded.
pub async fn send_events(
    State(state): State<AppState>,
    access: AccountAccess,
    ApiQuery(params): ApiQuery<EventsParams>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let test = match params
        .test
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "test: {other:?} is not true or false"
            )))
        }
    };
    // Up to 4 MB of JSON: parsed off the async workers, so that a few
    // large bodies cannot stall every other request.
    let data = tokio::task::spawn_blocking(move || parse_events(&body))
        .await
        .map_err(|_| ApiError::internal())??;
    if data.is_empty() || data.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "data: must list 1 to {MAX_EVENTS_PER_REQUEST} events"
        )));
    }
    let now = state.engine.clock.now();
    let order_id_key = state.key("order-ids").await?;
    // Good events move on to the store; each slot keeps only its verdict.
    let mut good: Vec<TrackedEvent> = Vec::with_capacity(data.len());
    let checked: Vec<Result<(), String>> = data
        .into_iter()
        .map(|input| {
            let event = input.and_then(|input| input.validate(&access.ad_account_id, now))?;
            good.push(event.for_storage(&order_id_key));
            Ok(())
        })
        .collect();
    let mut outcomes = if test || good.is_empty() {
        Vec::new()
    } else {
        state.engine.record_events(good, Durability::Synced).await?
    }
    .into_iter();
    let events: Vec<EventResult> = checked
        .iter()
        .map(|c| match c {
            Ok(_) => EventResult {
                status: "processed",
                error_message: String::new(),
                warning_message: match outcomes.next() {
                    Some(EventOutcome::Duplicate) => {
                        "event_id was received before: counted once".to_owned()
                    }
                    _ => String::new(),
                },
            },
            Err(message) => EventResult {
                status: "failed",
                error_message: message.clone(),
                warning_message: String::new(),
            },
        })
        .collect();
    let answer = EventsAnswer {
        num_events_received: checked.len(),
        num_events_processed: checked.iter().filter(|c| c.is_ok()).count(),
        events,
    };
    state.engine.metrics.conversion_events(
        answer.num_events_processed,
        answer.num_events_received - answer.num_events_processed,
    );
    if answer.num_events_processed == answer.num_events_received {
        return Ok(Json(answer).into_response());
    }
    #[derive(Serialize)]
    struct Detailed {
        code: u32,
        message: &'static str,
        details: EventsAnswer,
    }
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(Detailed {
            code: code::INVALID,
            message: "Not all events were successfully processed.",
            details: answer,
        }),
    )
        .into_response())
}
