//! PAIR matches, adloom as the publisher's side (the construction is the
//! core's `adloom_core::pair`).
//!
//! The platform's salt and secret scalar hold for one period
//! ([`PAIR_PERIOD`], 30 days, as PAIR rotates salts) and are derived from
//! the installation's secret, so every node has the same without storing
//! them. A match is the customer list it will fill, made empty when the
//! match starts; its id names the list and the period and carries a MAC,
//! so that no one can make up a match of another account or move one to
//! another period's key. The advertiser's encrypted ids are never stored:
//! they are re-encrypted and answered. The platform's side is a snapshot
//! of its people who allow partner data (a match is partner data), each
//! with `P(x)` of their email and a place in an order drawn per match, so
//! that where an id stands in the pages tells nothing about who it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use adloom_core::consent::{self, strings, PartnerSource, Provenance};
use adloom_core::customer_list::CustomerList;
use adloom_core::pair::{PairId, PairKey, Salt};
use adloom_core::Invalid;
use adloom_store::{ListChange, ListMember};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};

use crate::{Engine, EngineError};

/// How long one salt and one platform key hold, in seconds.
pub const PAIR_PERIOD: i64 = 30 * 86_400;
/// The most ids one batch of the advertiser's may carry.
pub const MAX_IDS_PER_REQUEST: usize = 10_000;
/// The most matched ids that close a match (its body is bounded by
/// `max_import_bytes` too).
pub const MAX_MATCHED: usize = 10_000_000;
/// Snapshots of the platform's side kept at once (one per open match).
const SNAPSHOTS_KEPT: usize = 4;

/// An open match: the list it fills and the period whose salt and key it
/// uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairMatch {
    pub id: String,
    pub list: CustomerList,
    pub period: i64,
}

/// The platform's people for one match, in the match's order.
pub struct Snapshot {
    /// Sorted by place.
    people: Vec<Entry>,
    /// `P(x)` to its index in `people`.
    by_element: HashMap<PairId, usize>,
}

/// One person on the platform's side of a match.
struct Entry {
    /// Where the person stands in this match's order.
    place: u64,
    /// `P(x)` of their email.
    element: PairId,
    user_id: String,
    /// Their email's SHA-256 (hex), as a customer list holds it.
    digest: String,
}

/// Recent snapshots, by match id.
#[derive(Default)]
pub struct Snapshots(Mutex<Vec<(String, Arc<Snapshot>)>>);

impl Snapshots {
    fn get(&self, id: &str) -> Option<Arc<Snapshot>> {
        let kept = self.0.lock().expect("snapshots lock");
        kept.iter()
            .find(|(k, _)| k == id)
            .map(|(_, s)| Arc::clone(s))
    }

    fn put(&self, id: &str, snapshot: Arc<Snapshot>) {
        let mut kept = self.0.lock().expect("snapshots lock");
        kept.retain(|(k, _)| k != id);
        if kept.len() == SNAPSHOTS_KEPT {
            kept.remove(0);
        }
        kept.push((id.to_owned(), snapshot));
    }

    fn forget(&self, id: &str) {
        self.0
            .lock()
            .expect("snapshots lock")
            .retain(|(k, _)| k != id);
    }
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Runs `f` over `items` on every core (PAIR's cost is one scalar
/// multiplication per id); on a blocking thread, off the async workers.
async fn on_every_core<T, R>(items: Vec<T>, f: fn(&T) -> R) -> Result<Vec<R>, EngineError>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = items.len().div_ceil(cores).max(256);
        std::thread::scope(|scope| {
            let parts: Vec<_> = items
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().expect("a PAIR worker panicked"))
                .collect()
        })
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "a PAIR task failed");
        EngineError::Internal("a PAIR task failed")
    })
}

impl Engine {
    /// The period `now` falls in.
    pub fn pair_period(&self) -> i64 {
        self.clock.now().div_euclid(PAIR_PERIOD)
    }

    /// The platform's salt for `period`: public.
    pub async fn pair_salt(&self, period: i64) -> Result<Salt, EngineError> {
        let key = self.key("pair-salt").await?;
        Ok(Salt(hmac256(&key, &[&period.to_be_bytes()])))
    }

    /// The platform's secret scalar for `period`.
    async fn pair_key(&self, period: i64) -> Result<PairKey, EngineError> {
        let key = self.key("pair-key").await?;
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key");
        mac.update(&period.to_be_bytes());
        let wide: [u8; 64] = mac.finalize().into_bytes().into();
        Ok(PairKey::from_wide_bytes(&wide))
    }

    /// The id of a match that fills `list` with `period`'s salt and key.
    pub async fn pair_match_id(
        &self,
        list: &CustomerList,
        period: i64,
    ) -> Result<String, EngineError> {
        let key = self.key("pair-match").await?;
        let tag = hmac256(
            &key,
            &[
                list.ad_account_id.as_bytes(),
                b"/",
                list.id.as_bytes(),
                b"/",
                &period.to_be_bytes(),
            ],
        );
        Ok(format!("{}.{period}.{}", list.id, hex::encode(&tag[..12])))
    }

    /// The open match `id` of `account`. A made-up, another account's or a
    /// closed match is not found; one whose period ended is refused.
    pub async fn open_pair_match(&self, account: &str, id: &str) -> Result<PairMatch, EngineError> {
        let not_found = EngineError::NotFound("pair match");
        let mut parts = id.splitn(3, '.');
        let (Some(list_id), Some(period), Some(_)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(not_found);
        };
        let period: i64 = period
            .parse()
            .map_err(|_| EngineError::NotFound("pair match"))?;
        let Some(list) = self
            .store
            .get_customer_list(list_id)
            .await?
            .filter(|l| l.ad_account_id == account)
        else {
            return Err(not_found);
        };
        if self.pair_match_id(&list, period).await? != id || list.num_batches > 0 {
            return Err(not_found);
        }
        if period != self.pair_period() {
            return Err(Invalid::new(
                "pair_match_id",
                "this match's salt has rotated: start a new match",
            )
            .into());
        }
        Ok(PairMatch {
            id: id.to_owned(),
            list,
            period,
        })
    }

    /// `k_p · E` for each of the advertiser's ids, in order.
    pub async fn pair_reencrypt(
        &self,
        m: &PairMatch,
        ids: &[String],
    ) -> Result<Vec<String>, EngineError> {
        let parsed = parse_ids(ids, MAX_IDS_PER_REQUEST)?;
        let key = self.pair_key(m.period).await?;
        let items: Vec<(PairKey, PairId)> =
            parsed.into_iter().map(|id| (key.clone(), id)).collect();
        on_every_core(items, |(k, id)| k.reencrypt(id).to_base64()).await
    }

    /// One page of the platform's ids, `k_p · P(x)`, after `bookmark`; and
    /// the bookmark of the next page, when there is one.
    pub async fn pair_publisher_ids(
        &self,
        m: &PairMatch,
        bookmark: Option<&str>,
        page_size: usize,
    ) -> Result<(Vec<String>, Option<String>), EngineError> {
        let after = match bookmark {
            None => None,
            Some(b) => Some(
                u64::from_str_radix(b, 16)
                    .map_err(|_| Invalid::new("bookmark", "is not one this API gave"))?,
            ),
        };
        let snapshot = self.pair_snapshot(m).await?;
        let start = after.map_or(0, |a| snapshot.people.partition_point(|e| e.place <= a));
        let end = (start + page_size).min(snapshot.people.len());
        let key = self.pair_key(m.period).await?;
        let page: Vec<(PairKey, PairId)> = snapshot.people[start..end]
            .iter()
            .map(|e| (key.clone(), e.element))
            .collect();
        let ids = on_every_core(page, |(k, e)| k.reencrypt(e).to_base64()).await?;
        let next = (end < snapshot.people.len())
            .then(|| format!("{:016x}", snapshot.people[end - 1].place));
        Ok((ids, next))
    }

    /// Closes the match: the publisher ids the advertiser found in both
    /// sets become the list's members. An id that is not a publisher id of
    /// this match refuses the whole request.
    pub async fn close_pair_match(
        &self,
        m: PairMatch,
        ids: &[String],
    ) -> Result<CustomerList, EngineError> {
        let parsed = parse_ids(ids, MAX_MATCHED)?;
        let snapshot = self.pair_snapshot(&m).await?;
        let key = self.pair_key(m.period).await?;
        let items: Vec<(PairKey, PairId)> =
            parsed.into_iter().map(|id| (key.clone(), id)).collect();
        let elements = on_every_core(items, |(k, id)| k.decrypt(id)).await?;
        let mut matched = Vec::with_capacity(elements.len());
        for (i, element) in elements.iter().enumerate() {
            let Some(&at) = snapshot.by_element.get(element) else {
                return Err(Invalid::new(
                    format!("ids[{i}]"),
                    "is not a publisher id of this match",
                )
                .into());
            };
            matched.push(at);
        }
        matched.sort_unstable();
        matched.dedup();
        let members = matched
            .into_iter()
            .map(|at| ListMember {
                user_id: snapshot.people[at].user_id.clone(),
                digest: snapshot.people[at].digest.clone(),
            })
            .collect();
        let list = self
            .update_customer_list(ListChange {
                list_id: m.list.id.clone(),
                remove: false,
                uploaded: ids.len() as u64,
                matched: members,
                digests: Vec::new(),
                now: self.clock.now(),
            })
            .await?;
        self.pair_snapshots.forget(&m.id);
        Ok(list)
    }

    /// The platform's side of the match: made once per match and node.
    async fn pair_snapshot(&self, m: &PairMatch) -> Result<Arc<Snapshot>, EngineError> {
        if let Some(s) = self.pair_snapshots.get(&m.id) {
            return Ok(s);
        }
        let order_key = self.key("pair-order").await?;
        let salt = self.pair_salt(m.period).await?;
        let defaults = &self.config.region_defaults;
        let mut people: Vec<(u64, Salt, String, String)> = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .people_with_settings(after.clone(), 10_000)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.user_id.clone());
            for (person, setting) in page {
                let Some(email) = person.email else { continue };
                let strings = strings::read_last_known(person.regs.as_ref(), &self.config.tcf);
                let allowed = consent::for_person(setting, person.country, strings, defaults)
                    .allows_audience(Provenance::Partner(PartnerSource::CustomerList));
                if !allowed {
                    continue;
                }
                let place = hmac256(
                    &order_key,
                    &[m.id.as_bytes(), b"/", person.user_id.as_bytes()],
                );
                let place = u64::from_be_bytes(place[..8].try_into().expect("8 bytes"));
                people.push((place, salt, email.sha256, person.user_id));
            }
        }
        let mut people = on_every_core(people, |(place, salt, digest, user_id)| Entry {
            place: *place,
            element: PairId::element(salt, digest),
            user_id: user_id.clone(),
            digest: digest.clone(),
        })
        .await?;
        people.sort_unstable_by_key(|e| e.place);
        let by_element = people
            .iter()
            .enumerate()
            .map(|(i, e)| (e.element, i))
            .collect();
        let snapshot = Arc::new(Snapshot { people, by_element });
        self.pair_snapshots.put(&m.id, Arc::clone(&snapshot));
        Ok(snapshot)
    }
}

/// Reads a request's ids, naming the first that is not one.
fn parse_ids(ids: &[String], most: usize) -> Result<Vec<PairId>, Invalid> {
    if ids.len() > most {
        return Err(Invalid::new("ids", format!("at most {most} per request")));
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| PairId::parse(&format!("ids[{i}]"), id))
        .collect()
}
