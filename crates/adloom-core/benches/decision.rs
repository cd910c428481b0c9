//! One ad decision in-process, over N active ad groups (interest, country
//! and audience targeting): checking every ad group, and with the
//! retrieval index (`CandidateIndex`) choosing the candidates first, as the
//! decision API does.
//!
//! Run: `cargo bench -p adloom-core --bench decision`

use std::collections::HashMap;
use std::hint::black_box;

use adloom_core::auction::BillableEvent;
use adloom_core::candidates::CandidateIndex;
use adloom_core::consent::{decide as consent_of, ConsentInputs, PartnerSource, Provenance};
use adloom_core::decision::{
    decide, Placement, Request, ServingAd, ServingAdGroup, ServingAudience, Trackers, World,
};
use adloom_core::region::{Country, RegionDefault};
use adloom_core::targeting::{TargetingSpec, Viewer};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

struct Open;

impl World for Open {
    fn impressions_today(&self, _: &str, _: &str) -> u32 {
        0
    }
    fn engagement(&self, _: &str) -> (u64, u64) {
        (0, 0)
    }
    fn admits(&self, _: &str, _: u64) -> bool {
        true
    }
}

fn world(groups: usize) -> (Vec<ServingAdGroup>, HashMap<String, ServingAudience>) {
    let audiences: HashMap<String, ServingAudience> = (0..1000)
        .map(|a| {
            let members = (0..1000)
                .map(|m| format!("user-{}", (a * 7919 + m * 104_729) % 1_000_000))
                .collect();
            (
                a.to_string(),
                ServingAudience {
                    provenance: Provenance::Partner(PartnerSource::Tag),
                    targetable: true,
                    members,
                },
            )
        })
        .collect();
    let countries = ["US", "DE", "GB", "FR", "CA"];
    let groups = (0..groups)
        .map(|g| {
            let mut spec = TargetingSpec::default();
            match g % 3 {
                0 => spec.interests = vec![format!("interest-{}", g % 1000)],
                1 => spec.countries = vec![Country::parse(countries[g % 5]).unwrap()],
                _ => spec.audience_include = vec![(g % 1000).to_string()],
            }
            ServingAdGroup {
                ad_group_id: format!("g{g}"),
                campaign_id: format!("c{g}"),
                ad_account_id: format!("a{}", g % 5000),
                advertiser: "Advertiser".into(),
                active: true,
                start_time: None,
                end_time: None,
                placement_group: "ALL".into(),
                billable_event: if g % 2 == 0 {
                    BillableEvent::Click
                } else {
                    BillableEvent::Impression
                },
                bid_micros: 500_000 + (g as u64 * 7_919) % 5_000_000,
                targeting: spec,
                keywords: Vec::new(),
                frequency_cap: 5,
                ads: vec![ServingAd {
                    ad_id: format!("ad{g}"),
                    pin_id: format!("pin{g}"),
                    destination_url: "https://example.com/".into(),
                    trackers: Trackers::default(),
                }],
            }
        })
        .collect();
    (groups, audiences)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decision (count 3)");
    g.sample_size(20);
    for n in [1_000usize, 10_000, 100_000] {
        let (groups, audiences) = world(n);
        let request = Request {
            user_id: Some("user-4242".into()),
            viewer: Viewer {
                interests: vec!["interest-7".into(), "interest-42".into()],
                country: Country::parse("DE"),
                ..Viewer::default()
            },
            consent: consent_of(&ConsentInputs::person(Some(true), RegionDefault::On)),
            placement: Placement::HomeFeed,
            query: None,
            count: 3,
            now: 1_700_000_000,
            reserve_cpm_micros: 500_000,
        };
        g.bench_with_input(
            BenchmarkId::new("scan", format!("{n} ad groups")),
            &n,
            |b, _| b.iter(|| decide(black_box(&request), &groups, &audiences, &Open)),
        );
        let index = CandidateIndex::build(groups.iter().map(|g| &g.targeting));
        let member_of: Vec<String> = audiences
            .iter()
            .filter(|(_, a)| a.members.contains("user-4242"))
            .map(|(id, _)| id.clone())
            .collect();
        g.bench_with_input(
            BenchmarkId::new("indexed", format!("{n} ad groups")),
            &n,
            |b, _| {
                b.iter(|| {
                    let candidates = index.candidates(
                        &request.viewer.interests,
                        request.viewer.country,
                        &member_of,
                    );
                    let chosen = candidates.iter().map(|i| &groups[*i as usize]);
                    decide(black_box(&request), chosen, &audiences, &Open)
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
