use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::*;
use crate::consent::{decide as consent_of, ConsentInputs, PartnerSource};
use crate::region::{Country, RegionDefault};

const NOW: i64 = 1_700_000_000;

struct Counters {
    capped: HashSet<String>,
    paced: HashSet<String>,
}

impl World for Counters {
    fn impressions_today(&self, ad_group_id: &str, _user: &str) -> u32 {
        if self.capped.contains(ad_group_id) {
            99
        } else {
            0
        }
    }
    fn admits(&self, ad_group_id: &str, _max: u64) -> bool {
        !self.paced.contains(ad_group_id)
    }
}

fn open_world() -> Counters {
    Counters {
        capped: HashSet::new(),
        paced: HashSet::new(),
    }
}

fn group(
    id: &str,
    account: &str,
    advertiser: &str,
    targeting: serde_json::Value,
    billable: BillableEvent,
    bid: u64,
) -> ServingAdGroup {
    ServingAdGroup {
        ad_group_id: id.into(),
        campaign_id: format!("c-{id}"),
        ad_account_id: account.into(),
        advertiser: advertiser.into(),
        active: true,
        start_time: None,
        end_time: None,
        placement_group: crate::campaign::PlacementGroup::All,
        billable_event: billable,
        bid_micros: bid,
        targeting: TargetingSpec::parse(&crate::targeting::tests::sent(targeting)).unwrap(),
        keywords: Vec::new(),
        frequency_cap: 5,
        ads: vec![ServingAd {
            ad_id: format!("ad-{id}"),
            pin_id: format!("pin-{id}"),
            destination_url: format!("https://{id}.example/"),
            trackers: Trackers {
                impression: vec![format!("https://tracker.example/{id}")],
                click: Some("https://tracker.example/c".into()),
            },
        }],
        ctr: PRIOR_CTR,
    }
}

fn world_of_shoes() -> (Vec<ServingAdGroup>, HashMap<String, ServingAudience>) {
    let groups = vec![
        // Shoes Inc.: shoe-page visitors who did not buy, 1.00 per click.
        group(
            "shoes",
            "1",
            "Shoes Inc.",
            json!({"AUDIENCE_INCLUDE": ["10"], "AUDIENCE_EXCLUDE": ["20"]}),
            BillableEvent::Click,
            1_000_000,
        ),
        // A home-decor brand: people interested in home decor, CPM 4.00.
        group(
            "decor",
            "2",
            "Nest & Co",
            json!({"INTEREST": ["Home decor"]}),
            BillableEvent::Impression,
            4_000_000,
        ),
        // A travel site: everyone in the United States, CPM 2.00.
        group(
            "travel",
            "3",
            "Trips",
            json!({"LOCATION": ["US"]}),
            BillableEvent::Impression,
            2_000_000,
        ),
    ];
    let audience = |members: &[&str]| ServingAudience {
        ad_account_id: "1".into(),
        provenance: Provenance::Partner(PartnerSource::Tag),
        targetable: true,
        members: members.iter().map(|&m| m.into()).collect(),
    };
    let audiences = HashMap::from([
        ("10".to_owned(), audience(&["alice", "bob"])),
        ("20".to_owned(), audience(&["bob"])),
    ]);
    (groups, audiences)
}

fn request(user: &str, use_partner_info: Option<bool>) -> Request {
    Request {
        user_id: Some(user.into()),
        viewer: Viewer {
            interests: vec!["home decor".into()],
            country: Country::parse("US"),
            ..Viewer::default()
        },
        consent: consent_of(&ConsentInputs::person(use_partner_info, RegionDefault::On)),
        placement: Placement::HomeFeed,
        query: None,
        count: 3,
        now: NOW,
        reserve_cpm_micros: 500_000,
        explain: true,
        hidden: Hidden::default(),
    }
}

fn shown(d: &Decision) -> Vec<&str> {
    d.served.iter().map(|s| s.ad_group_id.as_str()).collect()
}

/// The help page's example: a person who viewed the shoe page without
/// buying gets the shoe ad, saying why; a purchaser does not; after "Use
/// info from our ad partners" is No, they no longer get it, still get other
/// ads, and no partner reason appears.
#[test]
fn the_shoe_example() {
    let (groups, audiences) = world_of_shoes();
    let alice = decide(&request("alice", None), &groups, &audiences, &open_world());
    assert_eq!(shown(&alice), ["shoes", "decor", "travel"]);
    let shoes = &alice.served[0];
    assert_eq!(
        shoes.why,
        vec![(
            "website_visit".to_owned(),
            "Shoes Inc. wants to reach people who visited their website".to_owned()
        )]
    );
    assert_eq!(shoes.trackers.impression, ["https://tracker.example/shoes"]);
    assert!(shoes.click_id_allowed);

    let bob = decide(&request("bob", None), &groups, &audiences, &open_world());
    assert_eq!(shown(&bob), ["decor", "travel"], "a purchaser is excluded");
    assert!(bob
        .rejected
        .contains(&("shoes".to_owned(), Rejection::Excluded)));

    let alice_no = decide(
        &request("alice", Some(false)),
        &groups,
        &audiences,
        &open_world(),
    );
    assert_eq!(
        shown(&alice_no),
        ["decor", "travel"],
        "no shoe ad, other ads still"
    );
    assert!(alice_no
        .rejected
        .contains(&("shoes".to_owned(), Rejection::Consent)));
    for s in &alice_no.served {
        assert!(s
            .why
            .iter()
            .all(|(kind, _)| kind != "website_visit" && kind != "customer_list"));
        assert!(
            s.trackers == Trackers::default() && !s.click_id_allowed,
            "nothing leaves the platform"
        );
    }
    let decor = &alice_no.served[0];
    assert_eq!(
        decor.why[0].1,
        "Nest & Co wants to reach people interested in Home decor"
    );
}

#[test]
fn second_price_and_one_ad_per_account() {
    let (mut groups, audiences) = world_of_shoes();
    groups.push(group(
        "decor2",
        "2",
        "Nest & Co",
        json!({}),
        BillableEvent::Impression,
        3_500_000,
    ));
    let d = decide(&request("alice", None), &groups, &audiences, &open_world());
    // shoes: 1.00 x 1% x 1000 = 10.00 per thousand; pays what keeps it
    // above decor's 4.00: 0.40 per click. decor pays travel's 2.00; travel
    // pays the reserve.
    let prices: Vec<(&str, u64)> = d
        .served
        .iter()
        .map(|s| (s.ad_group_id.as_str(), s.price_micros))
        .collect();
    assert_eq!(
        prices,
        [
            ("shoes", 400_000),
            ("decor", 2_000_000),
            ("travel", 500_000)
        ]
    );
    assert!(d
        .rejected
        .contains(&("decor2".to_owned(), Rejection::SameAccount)));
}

#[test]
fn caps_pacing_schedule_and_placement() {
    let (mut groups, audiences) = world_of_shoes();
    groups[1].end_time = Some(NOW);
    groups[2].placement_group = crate::campaign::PlacementGroup::Search;
    let world = Counters {
        capped: HashSet::from(["shoes".to_owned()]),
        paced: HashSet::new(),
    };
    let d = decide(&request("alice", None), &groups, &audiences, &world);
    assert!(d.served.is_empty());
    let reasons: HashMap<String, Rejection> = d.rejected.into_iter().collect();
    assert_eq!(reasons["shoes"], Rejection::Capped);
    assert_eq!(reasons["decor"], Rejection::OutOfSchedule);
    assert_eq!(reasons["travel"], Rejection::Placement);

    let (groups, audiences) = world_of_shoes();
    let world = Counters {
        capped: HashSet::new(),
        paced: HashSet::from(["travel".to_owned()]),
    };
    let d = decide(&request("alice", None), &groups, &audiences, &world);
    assert_eq!(shown(&d), ["shoes", "decor"]);
    assert!(d
        .rejected
        .contains(&("travel".to_owned(), Rejection::Paced)));
}

#[test]
fn small_audiences_and_anonymous_requests() {
    let (groups, mut audiences) = world_of_shoes();
    audiences.get_mut("10").unwrap().targetable = false;
    let d = decide(&request("alice", None), &groups, &audiences, &open_world());
    assert!(d
        .rejected
        .contains(&("shoes".to_owned(), Rejection::AudienceTooSmall)));
    let (groups, audiences) = world_of_shoes();
    let mut anonymous = request("x", None);
    anonymous.user_id = None;
    let d = decide(&anonymous, &groups, &audiences, &open_world());
    assert_eq!(shown(&d), ["decor", "travel"], "no person, no audience");
}

#[test]
fn click_through_estimates_learn_from_delivery() {
    assert_eq!(predicted_ctr(0, 0), PRIOR_CTR);
    assert!((predicted_ctr(900, 9_000) - 0.091).abs() < 1e-9);
}

#[test]
fn search_ads_follow_keywords() {
    use crate::keyword::{Keyword, MatchType};
    let (mut groups, audiences) = world_of_shoes();
    groups[2].keywords = vec![
        Keyword {
            value: "beach holidays".into(),
            match_type: MatchType::Broad,
        },
        Keyword {
            value: "cheap".into(),
            match_type: MatchType::PhraseNegative,
        },
    ];
    let mut search = request("bob", None);
    search.placement = Placement::Search;
    search.query = Some("holidays on the beach".into());
    let d = decide(&search, &groups, &audiences, &open_world());
    let travel = d.served.iter().find(|s| s.ad_group_id == "travel").unwrap();
    assert_eq!(
        travel.why[0],
        (
            "search".to_owned(),
            "Trips wants to reach people searching for \"beach holidays\"".to_owned()
        )
    );
    search.query = Some("cheap beach holidays".into());
    let d = decide(&search, &groups, &audiences, &open_world());
    assert!(d
        .rejected
        .contains(&("travel".to_owned(), Rejection::NotTargeted)));
    // Away from search, keywords do not narrow the ad group.
    let d = decide(&request("bob", None), &groups, &audiences, &open_world());
    assert!(shown(&d).contains(&"travel"));
}

mod early_stop {
    use proptest::prelude::*;

    use super::*;

    fn arb_group(i: usize) -> impl Strategy<Value = ServingAdGroup> {
        (
            0u8..6,
            proptest::option::of(proptest::sample::select(vec!["Home decor", "Running"])),
            proptest::option::of(proptest::sample::select(vec!["US", "DE"])),
            any::<bool>(),
            // Coarse bids, so that ties happen.
            0u64..8,
            0u64..30,
        )
            .prop_map(move |(account, interest, country, cpc, bid, clicks)| {
                let mut targeting = serde_json::Map::new();
                if let Some(i) = interest {
                    targeting.insert("INTEREST".into(), json!([i]));
                }
                if let Some(c) = country {
                    targeting.insert("LOCATION".into(), json!([c]));
                }
                let mut g = group(
                    &format!("g{i:02}"),
                    &account.to_string(),
                    "Advertiser",
                    serde_json::Value::Object(targeting),
                    if cpc {
                        BillableEvent::Click
                    } else {
                        BillableEvent::Impression
                    },
                    bid * 500_000,
                );
                g.ctr = predicted_ctr(clicks, 100);
                g
            })
    }

    fn arb_groups() -> impl Strategy<Value = Vec<ServingAdGroup>> {
        (0usize..25).prop_flat_map(|n| (0..n).map(arb_group).collect::<Vec<_>>())
    }

    proptest! {
        /// Stopping early never changes what is served or what it costs.
        #[test]
        fn stopping_early_changes_nothing(
            groups in arb_groups(),
            count in 1usize..4,
            capped in proptest::collection::hash_set(proptest::sample::select(
                (0..25).map(|i| format!("g{i:02}")).collect::<Vec<_>>()), 0..5),
        ) {
            let (_, audiences) = world_of_shoes();
            let world = Counters {
                capped,
                paced: HashSet::new(),
            };
            let mut explained = request("alice", None);
            explained.count = count;
            let mut fast = explained.clone();
            fast.explain = false;
            let full = decide(&explained, &groups, &audiences, &world);
            let quick = decide(&fast, &groups, &audiences, &world);
            prop_assert_eq!(full.served, quick.served);
            prop_assert!(quick.rejected.is_empty());
        }
    }
}

/// Issue 13, finding 1: an ad group that names another account's audience
/// never reaches that audience's members, and never says they are on a
/// list ("wants to reach people on their customer list").
#[test]
fn an_ad_group_never_uses_another_accounts_audience() {
    let (mut groups, audiences) = world_of_shoes();
    // Nest & Co (account 2) names Shoes Inc.'s visitors (account 1).
    groups[1].targeting = TargetingSpec::parse(&crate::targeting::tests::sent(
        json!({"AUDIENCE_INCLUDE": ["10"]}),
    ))
    .unwrap();
    let alice = decide(&request("alice", None), &groups, &audiences, &open_world());
    assert!(!shown(&alice).contains(&"decor"), "{:?}", shown(&alice));
    assert!(alice
        .rejected
        .contains(&("decor".to_owned(), Rejection::NotTargeted)));
    // Shoes Inc.'s own ad group still uses it.
    assert!(shown(&alice).contains(&"shoes"));
}

/// "Hide this ad": the ad, or every ad of its advertiser, is never served
/// to that person again; others still are, and other people still see it.
#[test]
fn hidden_ads_and_advertisers_are_never_served_again() {
    let (mut groups, audiences) = world_of_shoes();
    // The decor group has a second ad: hiding one leaves the other.
    let mut second = groups[1].ads[0].clone();
    second.ad_id = "ad-decor-2".into();
    groups[1].ads.push(second);
    let hiding = |ads: &[&str], advertisers: &[&str]| {
        let mut r = request("alice", None);
        r.hidden = Hidden {
            ads: ads.iter().map(|a| a.to_string()).collect(),
            advertisers: advertisers.iter().map(|a| a.to_string()).collect(),
        };
        decide(&r, &groups, &audiences, &open_world())
    };
    let shoes_account = groups[0].ad_account_id.clone();
    let d = hiding(&["ad-shoes"], &[]);
    assert_eq!(shown(&d), ["decor", "travel"]);
    assert!(d
        .rejected
        .contains(&("shoes".to_owned(), Rejection::Hidden)));
    let d = hiding(&[], &[&shoes_account]);
    assert_eq!(shown(&d), ["decor", "travel"], "the whole advertiser");
    for _ in 0..4 {
        let d = hiding(&["ad-decor"], &[]);
        let decor = d.served.iter().find(|s| s.ad_group_id == "decor").unwrap();
        assert_eq!(decor.ad.ad_id, "ad-decor-2", "the group's other ad only");
    }
    let d = hiding(&["ad-decor", "ad-decor-2"], &[]);
    assert!(!shown(&d).contains(&"decor"));
    let bob = decide(&request("alice", None), &groups, &audiences, &open_world());
    assert_eq!(
        shown(&bob),
        ["shoes", "decor", "travel"],
        "only for the person who hid"
    );
}

mod members {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::Members;

    fn members(ids: &[String]) -> Members {
        ids.iter().map(|id| Arc::from(id.as_str())).collect()
    }

    proptest! {
        /// A sorted list answers as a set would: membership, size, and
        /// the difference that keeps person -> audiences current.
        #[test]
        fn members_behave_as_a_set(
            a in proptest::collection::vec("[a-d]{0,3}", 0..40),
            b in proptest::collection::vec("[a-d]{0,3}", 0..40),
            probe in "[a-d]{0,3}",
        ) {
            let (set_a, set_b): (BTreeSet<_>, BTreeSet<_>) =
                (a.iter().cloned().collect(), b.iter().cloned().collect());
            let (ma, mb) = (members(&a), members(&b));
            prop_assert_eq!(ma.len(), set_a.len());
            prop_assert_eq!(ma.contains(&probe), set_a.contains(&probe));
            let difference: Vec<String> = ma.difference(&mb).map(|m| m.to_string()).collect();
            let expected: Vec<String> = set_a.difference(&set_b).cloned().collect();
            prop_assert_eq!(difference, expected);
        }
    }
}
