//! Candidate retrieval: which ad groups a request could possibly match,
//! without checking every active ad group, in the order of their value.
//!
//! A simplified conjunction index (after Whang et al., "Indexing Boolean
//! Expressions", VLDB 2009): a targeting spec is a conjunction of
//! disjunctions (any of these audiences, AND any of these interests, AND
//! any of these countries, ...). Each ad group is posted under the values
//! of one of its disjunctions only (the most selective one it has:
//! audiences, else interests, else countries), since a request that
//! matches the ad group must match one of those values. Ad groups with none
//! of them are always candidates. Candidates are then checked in full.
//!
//! Ad groups are indexed by their rank (their position in the order the
//! caller gives, highest value first) and posting lists are sorted, so a
//! merge of the lists a request touches yields candidates best first. The
//! decision stops as soon as later candidates can no longer win, so a
//! request touching thousands of ad groups checks only a handful.

use std::collections::HashMap;

use crate::region::Country;
use crate::targeting::TargetingSpec;

#[derive(Debug, Default)]
pub struct CandidateIndex {
    by_audience: HashMap<String, Vec<u32>>,
    by_interest: HashMap<String, Vec<u32>>,
    by_country: HashMap<Country, Vec<u32>>,
    open: Vec<u32>,
}

impl CandidateIndex {
    /// Indexes ad groups by their position in `specs` (their rank).
    pub fn build<'a>(specs: impl IntoIterator<Item = &'a TargetingSpec>) -> CandidateIndex {
        let mut index = CandidateIndex::default();
        for (i, spec) in specs.into_iter().enumerate() {
            let i = i as u32;
            if !spec.audience_include.is_empty() {
                for a in &spec.audience_include {
                    index.by_audience.entry(a.clone()).or_default().push(i);
                }
            } else if !spec.interests.is_empty() {
                for interest in &spec.interests {
                    index
                        .by_interest
                        .entry(interest.to_lowercase())
                        .or_default()
                        .push(i);
                }
            } else if !spec.countries.is_empty() {
                for c in &spec.countries {
                    index.by_country.entry(*c).or_default().push(i);
                }
            } else {
                index.open.push(i);
            }
        }
        // A spec naming the same value twice posts itself twice.
        for list in index
            .by_audience
            .values_mut()
            .chain(index.by_interest.values_mut())
            .chain(index.by_country.values_mut())
        {
            list.dedup();
        }
        index
    }

    /// The ranks of the ad groups a request with these interests
    /// (lower case), country and audience memberships could match, each
    /// once, lowest rank (highest value) first. Lazy: a caller that stops
    /// early pays only for what it took.
    pub fn candidates<'a>(
        &'a self,
        interests: &[String],
        country: Option<Country>,
        audiences: &[impl AsRef<str>],
    ) -> Candidates<'a> {
        let mut lists: Vec<&'a [u32]> = Vec::with_capacity(2 + interests.len() + audiences.len());
        lists.push(&self.open);
        lists.extend(
            audiences
                .iter()
                .filter_map(|a| self.by_audience.get(a.as_ref()))
                .map(Vec::as_slice),
        );
        lists.extend(
            interests
                .iter()
                .filter_map(|i| self.by_interest.get(i))
                .map(Vec::as_slice),
        );
        lists.extend(
            country
                .and_then(|c| self.by_country.get(&c))
                .map(Vec::as_slice),
        );
        lists.retain(|l| !l.is_empty());
        Candidates { lists }
    }
}

/// A merge of sorted posting lists; see [`CandidateIndex::candidates`].
pub struct Candidates<'a> {
    lists: Vec<&'a [u32]>,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        // A request touches a few dozen lists at most: a linear pass over
        // their heads beats a heap at that size.
        let next = self.lists.iter().map(|l| l[0]).min()?;
        for list in &mut self.lists {
            if list[0] == next {
                *list = &list[1..];
            }
        }
        self.lists.retain(|l| !l.is_empty());
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::consent::{decide, ConsentInputs, PartnerSource, Provenance};
    use crate::region::RegionDefault;
    use crate::targeting::{AudienceFact, Viewer};

    fn arb_spec() -> impl Strategy<Value = TargetingSpec> {
        (
            proptest::collection::vec(0u8..4, 0..3),
            proptest::collection::vec(0u8..4, 0..3),
            proptest::collection::vec(proptest::sample::select(vec!["US", "DE", "FR"]), 0..2),
        )
            .prop_map(|(audiences, interests, countries)| TargetingSpec {
                audience_include: audiences.iter().map(|a| a.to_string()).collect(),
                interests: interests.iter().map(|i| format!("i{i}")).collect(),
                countries: countries
                    .iter()
                    .map(|c| Country::parse(c).unwrap())
                    .collect(),
                ..TargetingSpec::default()
            })
    }

    proptest! {
        /// Retrieval never loses an ad group that the full check would
        /// accept.
        #[test]
        fn every_match_is_a_candidate(
            specs in proptest::collection::vec(arb_spec(), 0..30),
            interests in proptest::collection::vec(0u8..4, 0..3),
            country in proptest::option::of(proptest::sample::select(vec!["US", "DE", "FR"])),
            memberships in proptest::collection::vec(0u8..4, 0..3),
        ) {
            let index = CandidateIndex::build(&specs);
            let viewer = Viewer {
                interests: interests.iter().map(|i| format!("i{i}")).collect(),
                country: country.and_then(Country::parse),
                ..Viewer::default()
            };
            let member_of: Vec<String> = memberships.iter().map(|m| m.to_string()).collect();
            let consent = decide(&ConsentInputs::person(Some(true), RegionDefault::On));
            let fact = |id: &str| {
                if member_of.iter().any(|m| m == id) {
                    AudienceFact::Member(Provenance::Partner(PartnerSource::Tag))
                } else {
                    AudienceFact::NotMember
                }
            };
            let candidates: Vec<u32> = index.candidates(&viewer.interests, viewer.country, &member_of).collect();
            prop_assert!(candidates.windows(2).all(|w| w[0] < w[1]), "best first, each once");
            for (i, spec) in specs.iter().enumerate() {
                if spec.evaluate(&viewer, &consent, fact).is_ok() {
                    prop_assert!(candidates.contains(&(i as u32)), "lost ad group {i}: {spec:?}");
                }
            }
        }
    }

    #[test]
    fn posting_lists_keep_candidates_few() {
        let specs: Vec<TargetingSpec> = (0..1000)
            .map(|i| TargetingSpec {
                interests: vec![format!("i{i}")],
                ..TargetingSpec::default()
            })
            .collect();
        let index = CandidateIndex::build(&specs);
        let found: Vec<u32> = index
            .candidates(&["i7".into()], None, &[] as &[&str])
            .collect();
        assert_eq!(found, vec![7]);
        assert_eq!(
            index
                .candidates(&[], Country::parse("US"), &[] as &[&str])
                .count(),
            0
        );
    }
}
