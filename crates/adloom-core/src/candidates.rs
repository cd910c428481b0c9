//! Candidate retrieval: which ad groups a request could possibly match,
//! without checking every active ad group.
//!
//! A simplified conjunction index (after Whang et al., "Indexing Boolean
//! Expressions", VLDB 2009): a targeting spec is a conjunction of
//! disjunctions (any of these audiences, AND any of these interests, AND
//! any of these countries, ...). Each ad group is posted under the values
//! of one of its disjunctions only (the most selective one it has:
//! audiences, else interests, else countries), since a request that
//! matches the ad group must match one of those values. Ad groups with none
//! of them are always candidates. Candidates are then checked in full.

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
    /// Indexes ad groups by their position in `specs`.
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
        index
    }

    /// The positions of the ad groups a request with these interests,
    /// country and audience memberships could match, each once, in order.
    pub fn candidates(
        &self,
        interests: &[String],
        country: Option<Country>,
        audiences: &[String],
    ) -> Vec<u32> {
        let mut out: Vec<u32> = self.open.clone();
        for a in audiences {
            out.extend(self.by_audience.get(a).into_iter().flatten());
        }
        for i in interests {
            out.extend(
                self.by_interest
                    .get(&i.to_lowercase())
                    .into_iter()
                    .flatten(),
            );
        }
        if let Some(c) = country {
            out.extend(self.by_country.get(&c).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
        out
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
            let candidates = index.candidates(&viewer.interests, viewer.country, &member_of);
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
        assert_eq!(index.candidates(&["I7".into()], None, &[]), vec![7]);
        assert!(index.candidates(&[], Country::parse("US"), &[]).is_empty());
    }
}
