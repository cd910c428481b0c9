//! One ad decision in-process, in the world of the serving issue's target:
//! N active ad groups (targeting by interest, country and audience, mixed),
//! 1,000 audiences over 1,000,000 people, 5,000 ad accounts.
//!
//! Measured: checking every ad group (`scan`, what `explain` does), and choosing candidates with
//! the retrieval index first and stopping once later candidates cannot win
//! (`indexed`), as the decision API does. After criterion's figures, the
//! latency distribution of 20,000 decisions for varied people and requests
//! (p50, p99, p99.9) at 100,000 ad groups.
//!
//! Run: `cargo bench -p adloom-core --bench decision`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use adloom_core::auction::BillableEvent;
use adloom_core::candidates::CandidateIndex;
use adloom_core::consent::{decide as consent_of, ConsentInputs, PartnerSource, Provenance};
use adloom_core::decision::{
    auction_order, decide_ranked, predicted_ctr, Placement, Request, ServingAd, ServingAdGroup,
    ServingAudience, Trackers, World,
};
use adloom_core::region::{Country, RegionDefault};
use adloom_core::targeting::{TargetingSpec, Viewer};
use criterion::{BenchmarkId, Criterion};

const PEOPLE: u64 = 1_000_000;
const AUDIENCES: u64 = 1_000;
const INTERESTS: u64 = 1_000;
const COUNTRIES: [&str; 8] = ["US", "DE", "GB", "FR", "CA", "BR", "JP", "IN"];

struct Open;

impl World for Open {
    fn impressions_today(&self, _: &str, _: &str) -> u32 {
        0
    }
    fn admits(&self, _: &str, _: u64) -> bool {
        true
    }
}

/// A deterministic stream of numbers (SplitMix64), so every run sees the
/// same world.
struct Seq(u64);

impl Seq {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

struct Bench {
    /// In auction order.
    groups: Vec<ServingAdGroup>,
    audiences: HashMap<String, ServingAudience>,
    member_of: HashMap<String, Vec<String>>,
    index: CandidateIndex,
}

fn world(groups: usize) -> Bench {
    let mut seq = Seq(groups as u64);
    // Each audience holds 1,000 people: a million memberships in all.
    let mut audiences: HashMap<String, ServingAudience> = HashMap::new();
    let mut member_of: HashMap<String, Vec<String>> = HashMap::new();
    for a in 0..AUDIENCES {
        let mut members = std::collections::HashSet::new();
        for _ in 0..1_000 {
            let person = format!("user-{}", seq.next(PEOPLE));
            member_of
                .entry(person.clone())
                .or_default()
                .push(a.to_string());
            members.insert(person.into());
        }
        audiences.insert(
            a.to_string(),
            ServingAudience {
                // Only this account's ad groups may use it (see below).
                ad_account_id: format!("a{a}"),
                provenance: Provenance::Partner(PartnerSource::Tag),
                targetable: true,
                members: members.into_iter().collect(),
            },
        );
    }
    let mut groups: Vec<ServingAdGroup> = (0..groups)
        .map(|g| {
            let mut spec = TargetingSpec::default();
            let country = || Country::parse(COUNTRIES[(g * 7) % COUNTRIES.len()]).unwrap();
            match g % 4 {
                0 => spec.interests = vec![format!("interest-{}", seq.next(INTERESTS))],
                1 => spec.countries = vec![country()],
                2 => {
                    spec.interests = vec![format!("interest-{}", seq.next(INTERESTS))];
                    spec.countries = vec![country()];
                }
                _ => spec.audience_include = vec![seq.next(AUDIENCES).to_string()],
            }
            let clicks = seq.next(50);
            ServingAdGroup {
                ad_group_id: format!("g{g}"),
                campaign_id: format!("c{g}"),
                ad_account_id: match spec.audience_include.first() {
                    // An ad group targets its own account's audience.
                    Some(a) => {
                        seq.next(5_000);
                        format!("a{a}")
                    }
                    None => format!("a{}", seq.next(5_000)),
                },
                advertiser: "Advertiser".into(),
                active: true,
                start_time: None,
                end_time: None,
                placement_group: adloom_core::campaign::PlacementGroup::All,
                billable_event: if g % 2 == 0 {
                    BillableEvent::Click
                } else {
                    BillableEvent::Impression
                },
                bid_micros: 100_000 + seq.next(5_000_000),
                targeting: spec,
                keywords: Vec::new(),
                frequency_cap: 5,
                ads: vec![ServingAd {
                    ad_id: format!("ad{g}"),
                    pin_id: format!("pin{g}"),
                    destination_url: "https://example.com/".into(),
                    trackers: Trackers::default(),
                }],
                ctr: predicted_ctr(clicks, 2_000),
            }
        })
        .collect();
    groups.sort_by(auction_order);
    let index = CandidateIndex::build(groups.iter().map(|g| &g.targeting));
    Bench {
        groups,
        audiences,
        member_of,
        index,
    }
}

/// A request for a person of the world: two interests, a country.
fn request(seq: &mut Seq) -> Request {
    Request {
        user_id: Some(format!("user-{}", seq.next(PEOPLE))),
        viewer: Viewer {
            interests: vec![
                format!("interest-{}", seq.next(INTERESTS)),
                format!("interest-{}", seq.next(INTERESTS)),
            ],
            country: Country::parse(COUNTRIES[seq.next(COUNTRIES.len() as u64) as usize]),
            ..Viewer::default()
        },
        consent: consent_of(&ConsentInputs::person(Some(true), RegionDefault::On)),
        placement: Placement::HomeFeed,
        query: None,
        count: 3,
        now: 1_700_000_000,
        reserve_cpm_micros: 500_000,
        explain: false,
        hidden: adloom_core::decision::Hidden::default(),
    }
}

fn indexed(w: &Bench, request: &Request) -> usize {
    let memberships = request
        .user_id
        .as_ref()
        .and_then(|u| w.member_of.get(u))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let candidates = w
        .index
        .candidates(
            &request.viewer.interests,
            request.viewer.country,
            memberships,
        )
        .map(|rank| &w.groups[rank as usize]);
    decide_ranked(request, candidates, &w.audiences, &Open)
        .served
        .len()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decision (count 3)");
    g.sample_size(20);
    for n in [1_000usize, 10_000, 100_000] {
        let w = world(n);
        let mut seq = Seq(42);
        let requests: Vec<Request> = (0..1_000).map(|_| request(&mut seq)).collect();
        let mut next = requests.iter().cycle();
        // Every ad group checked (as `explain` does), no index.
        let explained: Vec<Request> = requests
            .iter()
            .map(|r| Request {
                explain: true,
                ..r.clone()
            })
            .collect();
        let mut next_explained = explained.iter().cycle();
        g.bench_with_input(
            BenchmarkId::new("scan", format!("{n} ad groups")),
            &n,
            |b, _| {
                b.iter(|| {
                    let r = next_explained.next().unwrap();
                    decide_ranked(black_box(r), &w.groups, &w.audiences, &Open)
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("indexed", format!("{n} ad groups")),
            &n,
            |b, _| b.iter(|| indexed(&w, black_box(next.next().unwrap()))),
        );
    }
    g.finish();
}

/// Latency percentiles of single decisions, one core.
fn percentiles() {
    let w = world(100_000);
    let mut seq = Seq(7);
    let requests: Vec<Request> = (0..20_000).map(|_| request(&mut seq)).collect();
    let mut filled = 0;
    for r in requests.iter().take(2_000) {
        filled += indexed(&w, r);
    }
    let mut times: Vec<u128> = requests
        .iter()
        .map(|r| {
            let start = Instant::now();
            filled += black_box(indexed(&w, r));
            start.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1e3;
    println!(
        "decision latency, 100,000 ad groups, {} decisions ({} ads served): \
         p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        times.len(),
        filled,
        at(0.50),
        at(0.99),
        at(0.999),
        at(1.0)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    percentiles();
}
