//! Identity resolution: which person an event or a list record is about.
//!
//! [`IdentityIndex`] keeps every SHA-256 digest of the platform's people in
//! memory, so that a customer list of millions of records is matched at
//! memory speed. SHA-1 and MD5 digests stay in storage: few advertisers
//! upload them, and keeping them here would triple the index.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use crate::customer_list::ListType;
use crate::identifier::{normalize_email, normalize_maid, parse_sha256_hex, sha256};

/// Marks a digest named by several people in `IdentityIndex::owner`.
const SHARED: u32 = u32::MAX;

/// SHA-256 digest → the people it names.
///
/// Digests are keyed by their first 128 bits: a chance collision among
/// billions of digests is below 2^-60, and the smaller entries put four
/// times as many in a cache line as whole digests would. Lookups in a
/// table of millions are cache misses; fewer, smaller entries are what makes
/// them fast.
#[derive(Debug, Default)]
pub struct IdentityIndex {
    /// Keys are already uniform: a fast non-cryptographic hash is enough.
    owner: HashMap<u128, u32, FxBuildHasher>,
    /// The owners of the few digests several people share.
    shared: HashMap<u128, Vec<u32>, FxBuildHasher>,
    user_ids: Vec<String>,
    slots: HashMap<String, u32>,
}

fn key(digest: &[u8; 32]) -> u128 {
    let mut prefix = [0u8; 16];
    prefix.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(prefix)
}

impl IdentityIndex {
    /// How many digests are indexed.
    pub fn len(&self) -> usize {
        self.owner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }

    fn slot(&mut self, user_id: &str) -> u32 {
        if let Some(slot) = self.slots.get(user_id) {
            return *slot;
        }
        let slot = self.user_ids.len() as u32;
        self.user_ids.push(user_id.to_owned());
        self.slots.insert(user_id.to_owned(), slot);
        slot
    }

    /// Records that `digest` names `user_id`.
    pub fn insert(&mut self, digest: [u8; 32], user_id: &str) {
        let slot = self.slot(user_id);
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
        let Some(&slot) = self.slots.get(user_id) else {
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
                    .map(|s| self.user_ids[*s as usize].clone())
                    .collect();
                people.sort();
                people.truncate(2);
                people
            }
            Some(s) => vec![self.user_ids[s as usize].clone()],
        }
    }

    /// The one person a digest names, if exactly one.
    pub fn unique(&self, digest: &[u8; 32]) -> Option<&str> {
        match self.owner.get(&key(digest)).copied()? {
            SHARED => None,
            s => Some(&self.user_ids[s as usize]),
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
    use crate::identifier::hash_email;

    fn d(email: &str) -> [u8; 32] {
        sha256(&normalize_email(email).unwrap())
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
