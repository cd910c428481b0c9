use proptest::prelude::*;

use super::*;
use crate::audience::MAX_SIZE_NOISE;
use crate::consent::{decide, ConsentInputs};
use crate::region::RegionDefault;

fn window(total: usize, matched: usize) -> Vec<TagEvent> {
    (0..total)
        .map(|i| TagEvent {
            time: 1_000 + i as i64,
            matched: i < matched,
        })
        .collect()
}

#[test]
fn size_bounds_by_table() {
    // (members, noise) -> bounds
    let cases = [
        (0, 0, (0, 100)),
        (131, -16, (0, 100)),
        (116, 0, (110, 120)),
        (1_234, 5, (1_200, 1_300)),
        (99_999, 16, (100_000, 110_000)),
        (1_000_000, -3, (990_000, 1_000_000)),
    ];
    for (members, noise, bounds) in cases {
        assert_eq!(
            size_bounds(audience_size(members, noise)),
            bounds,
            "{members} {noise}"
        );
    }
}

#[test]
fn tag_health_by_table() {
    // (events, matched, noise) -> match rate
    let cases = [
        (0, 0, 0, None),
        (99, 99, 0, None),
        (100, 0, 0, Some(0)),
        (100, 45, 0, Some(40)),
        (100, 100, 0, Some(100)),
        (100, 100, 16, Some(100)),
        (100, 5, -16, Some(0)),
        (200, 79, 2, Some(40)),
        (1_000, 333, 0, Some(30)),
    ];
    for (total, matched, noise, rate) in cases {
        let health = tag_health(&window(total, matched), 2_000, noise);
        assert_eq!(health.match_rate_percent, rate, "{total} {matched} {noise}");
        assert_eq!(health.events, total as u64);
    }
    let health = tag_health(&window(3, 1), 1_001 + 86_400, 0);
    assert_eq!((health.last_day, health.last_event_time), (1, Some(1_002)));
}

#[test]
fn an_event_row_says_nothing_of_a_person() {
    let event = TrackedEvent {
        ad_account_id: "1".into(),
        event_id: "e".into(),
        source: crate::event::EventSource::Api,
        name: EventName::Checkout,
        time: 5,
        action_source: crate::event::ActionSource::Web,
        url: Some("https://shoes.example/".into()),
        keys: crate::event::MatchKeys {
            em: vec!["ab".repeat(32)],
            ..Default::default()
        },
        signals: Default::default(),
        value_micros: None,
        currency: None,
        order_id: None,
        content_ids: Vec::new(),
        num_items: None,
    };
    assert_eq!(
        event_row(&event),
        EventRow {
            time: 5,
            name: EventName::Checkout,
            url: Some("https://shoes.example/".into())
        }
    );
}

#[test]
fn partner_data_counts_only_where_it_may_be_used() {
    for (setting, region, counts) in [
        (None, RegionDefault::On, true),
        (Some(true), RegionDefault::OptInEverywhere, true),
        (None, RegionDefault::OptInEverywhere, false),
        (Some(false), RegionDefault::On, false),
    ] {
        let person = decide(&ConsentInputs::person(setting, region));
        assert_eq!(
            partner_data_counts(&person),
            counts,
            "{setting:?} {region:?}"
        );
    }
}

#[test]
fn new_lists_and_audiences_are_capped_per_day() {
    let noon = 20_000 * 86_400 + 43_200;
    assert_eq!(may_create(99, 100, noon), Ok(()));
    assert_eq!(may_create(100, 100, noon), Err(43_200));
    assert_eq!(
        may_create(0, 0, noon),
        Err(43_200),
        "a cap of 0 allows none"
    );
    assert_eq!(day_start(noon), 20_000 * 86_400);
}

proptest! {
    /// The rule, pinned: fewer than 100 events show no rate; a rate is a
    /// step of 10 between 0 and 100; one more matched event moves it by at
    /// most one step; and an event of a person whose setting is off
    /// (`matched: false`) is indistinguishable from one that named no one.
    #[test]
    fn match_rates_follow_the_rule(
        total in 0usize..400,
        matched_share in 0.0f64..=1.0,
        noise in -MAX_SIZE_NOISE..=MAX_SIZE_NOISE,
    ) {
        let matched = ((total as f64) * matched_share) as usize;
        let rate = tag_health(&window(total, matched), 10_000, noise).match_rate_percent;
        if (total as u64) < MIN_EVENTS {
            prop_assert_eq!(rate, None);
        } else {
            let rate = rate.unwrap();
            prop_assert!(rate <= 100 && rate.is_multiple_of(MATCH_RATE_STEP));
            if matched < total {
                let one_more = tag_health(&window(total, matched + 1), 10_000, noise)
                    .match_rate_percent
                    .unwrap();
                prop_assert!(one_more >= rate && one_more - rate <= MATCH_RATE_STEP);
            }
        }
    }

    /// Sizes: never READY under 100 people whatever the noise; shown sizes
    /// have at most two significant digits.
    #[test]
    fn sizes_follow_the_rule(members in 0u64..5_000, noise in -MAX_SIZE_NOISE..=MAX_SIZE_NOISE) {
        let size = audience_size(members, noise);
        if members < 100 {
            prop_assert!(!size.ready && size.size.is_none());
        }
        if let Some(s) = size.size {
            let mut digits = s;
            while digits >= 100 {
                prop_assert_eq!(digits % 10, 0);
                digits /= 10;
            }
        }
    }
}

#[test]
fn hides_and_reports_show_in_tens_and_never_under_ten() {
    for (people, shown) in [
        (0, None),
        (1, None),
        (9, None),
        (10, Some(10)),
        (19, Some(10)),
        (20, Some(20)),
        (1_234, Some(1_230)),
    ] {
        assert_eq!(feedback_count(people), shown, "{people}");
    }
}

proptest! {
    #[test]
    fn a_shown_feedback_count_never_exceeds_the_truth_by_any_or_misses_it_by_ten(people in 0u64..1_000_000) {
        match feedback_count(people) {
            None => prop_assert!(people < MIN_FEEDBACK_COUNT),
            Some(shown) => prop_assert!(shown <= people && people - shown < 10 && shown % 10 == 0),
        }
    }
}

proptest! {
    #[test]
    fn size_bounds_hold_the_noisy_count_and_no_more_than_the_size(
        members in 0u64..10_000_000,
        noise in -MAX_SIZE_NOISE..=MAX_SIZE_NOISE,
    ) {
        let size = audience_size(members, noise);
        let (lower, upper) = size_bounds(size);
        let noisy = (members as i64 + noise).max(0) as u64;
        match size.size {
            // Below the floor: the same range whatever the count.
            None => prop_assert_eq!((lower, upper), (0, MIN_AUDIENCE_SIZE)),
            Some(shown) => {
                prop_assert_eq!(lower, shown);
                prop_assert!(lower <= noisy && noisy < upper);
            }
        }
    }
}
