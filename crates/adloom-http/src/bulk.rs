//! Bulk writes for the operator's own tools (`adloom world` makes a
//! hundred thousand ad groups with them). Each object passes the API's own
//! rules and each list record the API's matching, as through
//! `POST .../campaigns` or `.../customer_lists`, but without a request and
//! a transaction for every 30 objects, and without the views an answer
//! carries: a customer list's or an audience's answer counts its consented
//! members, which reads every member back. What they make is what the API
//! could have made; the daily caps on new lists and audiences, which hold
//! back advertisers, do not apply to the operator.

use adloom_core::audience::AudienceRule;
use adloom_core::campaign::Kind;
use adloom_core::customer_list::{validate_name, ListType};
use adloom_core::object::{Record, StoredObject};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::audiences::{new_list_record, store_audience};
use crate::error::ApiError;
use crate::list_upload::CHUNK;
use crate::promotions::{prepare_new_record, wire::read};
use crate::AppState;

/// Objects checked at once: what they name is read ahead for the whole
/// transaction, but a new pin's image may be fetched.
const CHECKS_AT_ONCE: usize = 32;
/// Objects written in one transaction.
const OBJECTS_PER_WRITE: usize = 10_000;
/// Customer lists written in one transaction.
const LISTS_PER_WRITE: usize = 100;

/// Creates campaigns, ad groups or ads of `kind`, each item an ad account
/// and the object as the API takes it, through the rules the API applies
/// to each item of a batch. They are written [`OBJECTS_PER_WRITE`] to a
/// transaction; what an item names (an ad group's campaign, say) must be
/// stored before the call. Returns the new ids in the items' order. An
/// invalid item fails the call: its transaction writes nothing, those
/// before it stay written.
pub async fn create_objects(
    state: &AppState,
    kind: Kind,
    items: Vec<(String, Value)>,
) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::with_capacity(items.len());
    for (n, chunk) in items.chunks(OBJECTS_PER_WRITE).enumerate() {
        let first = n * OBJECTS_PER_WRITE;
        let item =
            |i: usize, message: String| ApiError::invalid(format!("item {}: {message}", first + i));
        let records = chunk
            .iter()
            .enumerate()
            .map(|(i, (_, input))| {
                let input = input
                    .as_object()
                    .ok_or_else(|| item(i, "each item must be an object".to_owned()))?;
                read(kind, input).map_err(|invalid| item(i, invalid.to_string()))
            })
            .collect::<Result<Vec<Record>, ApiError>>()?;
        let ahead = state.engine.read_ahead(&records).await?;
        let ahead = &ahead;
        let objects: Vec<StoredObject> = stream::iter(chunk.iter().zip(records).enumerate())
            .map(|(i, ((account, _), record))| async move {
                prepare_new_record(state, account, record, Some(ahead))
                    .await?
                    .map_err(|invalid| item(i, invalid.to_string()))
            })
            .buffered(CHECKS_AT_ONCE)
            .try_collect()
            .await?;
        ids.extend(objects.iter().map(|o| o.id.clone()));
        state.engine.put_objects(objects).await?;
    }
    Ok(ids)
}

/// A customer list to make from plain email records, with an audience of
/// it.
pub struct EmailList {
    pub account: String,
    pub list_name: String,
    pub audience_name: String,
    pub records: Vec<String>,
}

/// Makes each customer list, its records hashed and matched as the API
/// matches an upload (plain emails go no further than the matching), and
/// an audience of each. The lists are written [`LISTS_PER_WRITE`] to a
/// transaction: a list's members go into an index by person, and lists
/// written one by one would write most of its pages once a list. Returns
/// the audiences' ids in the lists' order.
pub async fn create_email_lists(
    state: &AppState,
    lists: Vec<EmailList>,
) -> Result<Vec<String>, ApiError> {
    let mut audiences = Vec::with_capacity(lists.len());
    for group in lists.chunks(LISTS_PER_WRITE) {
        let mut made = Vec::with_capacity(group.len());
        for list in group {
            let name = validate_name(Some(&list.list_name))?;
            let mut matched = Vec::new();
            for chunk in list.records.chunks(CHUNK) {
                let hits = state
                    .engine
                    .store
                    .match_list_records(ListType::Email, chunk.to_vec())
                    .await?;
                matched.extend(hits.into_iter().flatten());
            }
            let uploaded = list.records.len() as u64;
            let record = new_list_record(state, &list.account, name, ListType::Email, uploaded);
            made.push((record, matched));
        }
        let made = state.engine.create_customer_lists(made).await?;
        for (stored, list) in made.into_iter().zip(group) {
            let name = validate_name(Some(&list.audience_name))?;
            let rule = AudienceRule::CustomerList {
                customer_list_id: stored.id,
            };
            let audience = store_audience(state, &list.account, name, None, rule).await?;
            audiences.push(audience.id);
        }
    }
    Ok(audiences)
}
