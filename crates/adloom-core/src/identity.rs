//! Identity resolution: which person an event or a list record is about.
//!
//! [`IdentityIndex`] keeps every SHA-256 digest of the platform's people in
//! memory, so that a customer list of millions of records is matched at
//! memory speed. SHA-1 and MD5 digests stay in storage: few advertisers
//! upload them, and keeping them here would triple the index.

use std::collections::HashMap;
use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use crate::customer_list::ListType;
use crate::event::TrackedEvent;
use crate::identifier::{normalize_email, normalize_maid, parse_sha256_hex, sha256};

/// Marks a digest named by several people in `IdentityIndex::owner`.
const SHARED: u32 = u32::MAX;

/// SHA-256 digest → the people it names.
///
/// Digests are keyed by their first 128 bits: a chance collision among
/// billions of digests is below 2^-60, and the smaller entries put more in
/// a cache line than whole digests would. Lookups in a table of millions
/// are cache misses; fewer, smaller entries are what makes them fast.
/// (The 128 bits are two `u64`s, not a `u128`: a `u128` is aligned to 16
/// bytes, which pads each entry from 24 bytes to 32, 17 MB a million.)
#[derive(Debug, Default)]
pub struct IdentityIndex {
    /// Keys are already uniform: a fast non-cryptographic hash is enough.
    owner: HashMap<Key, u32, FxBuildHasher>,
    /// The owners of the few digests several people share.
    shared: HashMap<Key, Vec<u32>, FxBuildHasher>,
    /// The people digests name, each by its slot.
    user_ids: UserIds,
}

/// Every user id the index has named, each once: all of them in one
/// string, and a table of their slots hashed by id. A million ids take
/// about 20 MB instead of the 110 MB of a `Vec<String>` beside a
/// `HashMap<String, u32>`.
#[derive(Debug, Default)]
struct UserIds {
    text: String,
    /// Where each slot's id ends in `text` (it starts where the one
    /// before ends).
    ends: Vec<usize>,
    slots: hashbrown::HashTable<u32>,
}

fn hash(user_id: &str) -> u64 {
    FxBuildHasher.hash_one(user_id)
}

impl UserIds {
    fn get(&self, slot: u32) -> &str {
        id_at(&self.text, &self.ends, slot)
    }

    fn find(&self, user_id: &str) -> Option<u32> {
        self.slots
            .find(hash(user_id), |&s| self.get(s) == user_id)
            .copied()
    }

    /// The slot of `user_id`, given one if it has none yet.
    fn slot(&mut self, user_id: &str) -> u32 {
        if let Some(slot) = self.find(user_id) {
            return slot;
        }
        let slot = self.ends.len() as u32;
        self.text.push_str(user_id);
        self.ends.push(self.text.len());
        let UserIds { text, ends, slots } = self;
        slots.insert_unique(hash(user_id), slot, |&s| hash(id_at(text, ends, s)));
        slot
    }
}

fn id_at<'a>(text: &'a str, ends: &[usize], slot: u32) -> &'a str {
    let slot = slot as usize;
    let start = if slot == 0 { 0 } else { ends[slot - 1] };
    &text[start..ends[slot]]
}

/// A digest's first 128 bits.
type Key = [u64; 2];

fn key(digest: &[u8; 32]) -> Key {
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[i * 8..(i + 1) * 8]);
        u64::from_le_bytes(bytes)
    };
    [word(0), word(1)]
}

impl IdentityIndex {
    /// An empty index with room for about `digests` digests of as many
    /// people, so that loading a store's does not rehash its tables as
    /// they grow (a quarter of the load's time at a million people).
    pub fn with_capacity(digests: usize) -> IdentityIndex {
        IdentityIndex {
            owner: HashMap::with_capacity_and_hasher(digests, FxBuildHasher),
            shared: HashMap::default(),
            user_ids: UserIds {
                text: String::new(),
                ends: Vec::with_capacity(digests),
                slots: hashbrown::HashTable::with_capacity(digests),
            },
        }
    }

    /// How many digests are indexed.
    pub fn len(&self) -> usize {
        self.owner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }

    /// Records that `digest` names `user_id`.
    pub fn insert(&mut self, digest: [u8; 32], user_id: &str) {
        let slot = self.user_ids.slot(user_id);
        let k = key(&digest);
        match self.owner.get(&k).copied() {
            None => {
                self.owner.insert(k, slot);
            }
            Some(existing) if existing == slot => {}
            Some(SHARED) => {
                let all = self.shared.entry(k).or_default();
                if !all.contains(&slot) {
                    all.push(slot);
                }
            }
            Some(existing) => {
                self.owner.insert(k, SHARED);
                self.shared.insert(k, vec![existing, slot]);
            }
        }
    }

    /// Forgets that `digest` names `user_id`.
    pub fn remove(&mut self, digest: &[u8; 32], user_id: &str) {
        let Some(slot) = self.user_ids.find(user_id) else {
            return;
        };
        let k = key(digest);
        match self.owner.get(&k).copied() {
            Some(SHARED) => {
                let all = self.shared.entry(k).or_default();
                all.retain(|s| *s != slot);
                if let [one] = all.as_slice() {
                    self.owner.insert(k, *one);
                    self.shared.remove(&k);
                }
            }
            Some(existing) if existing == slot => {
                self.owner.remove(&k);
            }
            _ => {}
        }
    }

    /// The people a digest names (at most two: enough to tell a unique
    /// match from an ambiguous one).
    pub fn people(&self, digest: &[u8; 32]) -> Vec<String> {
        let k = key(digest);
        match self.owner.get(&k).copied() {
            None => Vec::new(),
            Some(SHARED) => {
                let mut people: Vec<String> = self.shared[&k]
                    .iter()
                    .map(|s| self.user_ids.get(*s).to_owned())
                    .collect();
                people.sort();
                people.truncate(2);
                people
            }
            Some(s) => vec![self.user_ids.get(s).to_owned()],
        }
    }

    /// The one person a digest names, if exactly one.
    pub fn unique(&self, digest: &[u8; 32]) -> Option<&str> {
        match self.owner.get(&key(digest)).copied()? {
            SHARED => None,
            s => Some(self.user_ids.get(s)),
        }
    }

    /// Matches one customer-list record held in memory: a SHA-256 hex, or a
    /// plain email or ad ID (normalized and hashed here). Returns the person
    /// and the digest that matched, or `Err(())` when the record is of a
    /// kind this index cannot answer (SHA-1 and MD5: ask the store).
    #[allow(clippy::result_unit_err)]
    pub fn match_record(
        &self,
        list_type: ListType,
        record: &str,
    ) -> Result<Option<(&str, [u8; 32])>, ()> {
        let hit = |d: [u8; 32]| self.unique(&d).map(|u| (u, d));
        if record.len() == 64 {
            if let Some(d) = parse_sha256_hex(record) {
                return Ok(hit(d));
            }
        }
        if matches!(record.len(), 40 | 32) && record.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(());
        }
        Ok(match list_type {
            ListType::Email => normalize_email(record).ok().and_then(|e| hit(sha256(&e))),
            ListType::Maid | ListType::Idfa => match normalize_maid(record) {
                Ok(Some(m)) => hit(sha256(&m.upper)).or_else(|| hit(sha256(&m.lower))),
                _ => None,
            },
            ListType::HashedPinnerId => None,
        })
    }
}

/// Who an event is, for both stores alike (they differ only in how they
/// look things up): the person its hashed identifiers name
/// ([`pick_person`]); else the person who clicked this advertiser's ad with
/// the event's click id (`epik`); else the person this advertiser's tag
/// linked the event's browser cookie to. A lookup runs only when those
/// before it found no one and the event carries its key; `named` gives the
/// people one hex digest names.
pub fn resolve_person<E>(
    event: &TrackedEvent,
    named: impl FnMut(&str) -> Vec<String>,
    clicked: impl FnOnce(&str, &str) -> Result<Option<String>, E>,
    linked: impl FnOnce(&str, &str) -> Result<Option<String>, E>,
) -> Result<Option<String>, E> {
    if let Some(user) = pick_person(event.match_digests().into_iter().map(named)) {
        return Ok(Some(user));
    }
    let account = event.ad_account_id.as_str();
    if let Some(click_id) = event.keys.click_id.as_deref() {
        if let Some(user) = clicked(click_id, account)? {
            return Ok(Some(user));
        }
    }
    match event.keys.cookie_id.as_deref() {
        Some(cookie) => linked(account, cookie),
        None => Ok(None),
    }
}

/// Picks the person for an event from the people each of its digests
/// matched, in the order the digests were tried (emails, then phones, then
/// ad IDs). A digest shared by several people (a family phone line) is
/// ambiguous and decides nothing; the first digest that names exactly one
/// person does.
pub fn pick_person<I, P>(matches: I) -> Option<String>
where
    I: IntoIterator<Item = P>,
    P: IntoIterator<Item = String>,
{
    matches.into_iter().find_map(|people| {
        let mut people = people.into_iter();
        match (people.next(), people.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ConversionEventInput;
    use crate::identifier::hash_email;

    #[test]
    fn an_event_is_who_its_digests_name_else_its_click_else_its_cookie() {
        let em = hash_email("alice@example.com").unwrap().sha256;
        let event = |em: Option<&str>, click: Option<&str>| -> TrackedEvent {
            let input: ConversionEventInput = serde_json::from_value(serde_json::json!({
                "event_name": "checkout", "action_source": "web", "event_time": 1_700_000_000 - 60,
                "event_id": "o-1",
                "user_data": {"em": em.map(|e| vec![e]).unwrap_or_default(), "click_id": click},
            }))
            .unwrap();
            let mut e = input.validate("42", 1_700_000_000).unwrap();
            e.keys.cookie_id = Some("cookie-1".into());
            e
        };
        let named = |people: &'static [&'static str]| {
            move |_: &str| people.iter().map(|p| p.to_string()).collect::<Vec<_>>()
        };
        let found = |who: &'static str| move |_: &str, _: &str| Ok::<_, ()>(Some(who.to_owned()));
        let nobody = |_: &str, _: &str| Ok::<_, ()>(None);
        let never = |_: &str, _: &str| -> Result<Option<String>, ()> { panic!("not asked") };
        // Cases: (digests named, click, cookie) → who.
        let e = event(Some(&em), Some("epik-1"));
        assert_eq!(
            resolve_person(&e, named(&["alice"]), never, never),
            Ok(Some("alice".into()))
        );
        assert_eq!(
            resolve_person(&e, named(&["alice", "bob"]), found("carol"), never),
            Ok(Some("carol".into())),
            "an ambiguous digest decides nothing: the click does"
        );
        assert_eq!(
            resolve_person(&e, named(&[]), nobody, found("dave")),
            Ok(Some("dave".into())),
            "else the browser's cookie"
        );
        assert_eq!(resolve_person(&e, named(&[]), nobody, nobody), Ok(None));
        let without_click = event(Some(&em), None);
        assert_eq!(
            resolve_person(&without_click, named(&[]), never, found("erin")),
            Ok(Some("erin".into())),
            "no click id: the click lookup is not asked"
        );
        assert_eq!(
            resolve_person(&e, named(&[]), |_: &str, _: &str| Err(()), never),
            Err(()),
            "a failed lookup fails the resolution"
        );
    }

    fn d(email: &str) -> [u8; 32] {
        sha256(&normalize_email(email).unwrap())
    }

    /// Ids of every length, many more than the table's first size: each
    /// keeps its slot as the table grows, and a digest answers its own.
    #[test]
    fn every_person_keeps_their_id_as_the_index_grows() {
        let mut index = IdentityIndex::default();
        let id = |i: usize| "u".repeat(i % 7) + &i.to_string();
        let digest = |i: usize| sha256(&format!("person{i}@example.com"));
        for i in 0..20_000 {
            index.insert(digest(i), &id(i));
        }
        // The same person again takes no second slot.
        index.insert(digest(20_000), &id(3));
        assert_eq!(index.user_ids.ends.len(), 20_000);
        for i in (0..20_000).step_by(7) {
            assert_eq!(index.unique(&digest(i)), Some(id(i).as_str()));
        }
        assert_eq!(index.people(&digest(20_000)), vec![id(3)]);
        index.remove(&digest(5), &id(5));
        assert_eq!(index.unique(&digest(5)), None);
        assert_eq!(index.unique(&digest(6)), Some(id(6).as_str()));
    }

    #[test]
    fn the_index_tells_unique_from_shared() {
        let mut index = IdentityIndex::default();
        index.insert(d("a@x.io"), "u1");
        index.insert(d("a@x.io"), "u1");
        index.insert(d("shared@x.io"), "u1");
        index.insert(d("shared@x.io"), "u2");
        assert_eq!(index.len(), 2);
        assert_eq!(index.unique(&d("a@x.io")), Some("u1"));
        assert_eq!(index.unique(&d("shared@x.io")), None);
        assert_eq!(index.people(&d("shared@x.io")), vec!["u1", "u2"]);
        index.remove(&d("shared@x.io"), "u1");
        assert_eq!(index.unique(&d("shared@x.io")), Some("u2"));
        index.remove(&d("a@x.io"), "u1");
        assert!(index.people(&d("a@x.io")).is_empty());
        index.remove(&d("nothing@x.io"), "u9");
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn records_match_in_memory_or_defer() {
        let mut index = IdentityIndex::default();
        index.insert(d("alice@example.com"), "u1");
        let maid = crate::identifier::hash_maid("6d92078a-8246-4ba4-ae5b-76104861e7dc")
            .unwrap()
            .unwrap();
        index.insert(parse_sha256_hex(&maid.lower.sha256).unwrap(), "u2");
        let email = |r: &str| {
            index
                .match_record(ListType::Email, r)
                .map(|m| m.map(|(u, _)| u.to_owned()))
        };
        assert_eq!(email(" Alice@Example.COM"), Ok(Some("u1".into())));
        let hex = hash_email("alice@example.com").unwrap();
        assert_eq!(email(&hex.sha256.to_uppercase()), Ok(Some("u1".into())));
        assert_eq!(email(&hex.sha1), Err(()));
        assert_eq!(email(&hex.md5), Err(()));
        assert_eq!(email("bob@example.com"), Ok(None));
        assert_eq!(email("garbage"), Ok(None));
        let by_maid = index
            .match_record(ListType::Maid, "6D92078A-8246-4BA4-AE5B-76104861E7DC")
            .unwrap();
        assert_eq!(by_maid.map(|(u, _)| u), Some("u2"));
        assert_eq!(
            index.match_record(ListType::Idfa, "00000000-0000-0000-0000-000000000000"),
            Ok(None)
        );
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_first_unambiguous_digest_decides() {
        assert_eq!(pick_person(vec![s(&[]), s(&["a"])]), Some("a".into()));
        assert_eq!(
            pick_person(vec![s(&["a", "b"]), s(&["c"])]),
            Some("c".into())
        );
        assert_eq!(pick_person(vec![s(&["a", "b"])]), None);
        assert_eq!(pick_person(Vec::<Vec<String>>::new()), None);
        assert_eq!(pick_person(vec![s(&["x"]), s(&["y"])]), Some("x".into()));
    }
}
