use proptest::prelude::*;

use super::*;

fn cpm(id: &str, account: &str, bid: u64) -> Bid {
    Bid {
        ad_group_id: id.into(),
        ad_account_id: account.into(),
        billable_event: BillableEvent::Impression,
        bid_micros: bid,
        ctr: 0.0,
    }
}

fn cpc(id: &str, account: &str, bid: u64, ctr: f64) -> Bid {
    Bid {
        ad_group_id: id.into(),
        ad_account_id: account.into(),
        billable_event: BillableEvent::Click,
        bid_micros: bid,
        ctr,
    }
}

fn winners(o: &Outcome) -> Vec<(&str, u64)> {
    o.wins
        .iter()
        .map(|w| (w.bid.ad_group_id.as_str(), w.price_micros))
        .collect()
}

#[test]
fn second_price_over_cpm_bids() {
    // CPM bids of 5, 3 and 2 currency units; reserve 0.5.
    let o = run(
        vec![
            cpm("b", "2", 3_000_000),
            cpm("a", "1", 5_000_000),
            cpm("c", "3", 2_000_000),
        ],
        2,
        500_000,
    );
    // a pays what b bid; b pays what c bid.
    assert_eq!(winners(&o), [("a", 3_000_000), ("b", 2_000_000)]);
    assert_eq!(o.losses, vec![(cpm("c", "3", 2_000_000), Loss::Outbid)]);
}

#[test]
fn the_last_winner_pays_the_reserve() {
    let o = run(vec![cpm("a", "1", 5_000_000)], 3, 500_000);
    assert_eq!(winners(&o), [("a", 500_000)]);
    let o = run(vec![cpm("a", "1", 400_000)], 3, 500_000);
    assert!(o.wins.is_empty());
    assert_eq!(o.losses[0].1, Loss::BelowReserve);
}

#[test]
fn click_bids_compete_by_expected_value() {
    // 1.00 per click at 1% CTR = 10.00 per thousand impressions: beats a
    // CPM bid of 6.00, and pays per click what keeps it above 6.00.
    let o = run(
        vec![
            cpc("click", "1", 1_000_000, 0.01),
            cpm("view", "2", 6_000_000),
        ],
        2,
        500_000,
    );
    assert_eq!(winners(&o), [("click", 600_000), ("view", 500_000)]);
    // With a CTR of 0.1% it is worth 1.00 per thousand and loses the slot.
    let o = run(
        vec![
            cpc("click", "1", 1_000_000, 0.001),
            cpm("view", "2", 6_000_000),
        ],
        1,
        500_000,
    );
    assert_eq!(winners(&o), [("view", 1_000_000)]);
}

#[test]
fn one_ad_per_ad_account() {
    let o = run(
        vec![
            cpm("a1", "1", 9_000_000),
            cpm("a2", "1", 8_000_000),
            cpm("b", "2", 1_000_000),
        ],
        3,
        0,
    );
    assert_eq!(winners(&o), [("a1", 1_000_000), ("b", 0)]);
    assert!(o
        .losses
        .contains(&(cpm("a2", "1", 8_000_000), Loss::SameAccount)));
}

#[test]
fn ties_are_broken_by_id_so_results_repeat() {
    let o = run(
        vec![cpm("z", "1", 1_000_000), cpm("m", "2", 1_000_000)],
        1,
        0,
    );
    assert_eq!(winners(&o), [("m", 1_000_000)]);
}

fn arb_bid() -> impl Strategy<Value = Bid> {
    (
        0u32..40,
        0u32..8,
        any::<bool>(),
        1u64..20_000_000,
        0.0001f64..0.2,
    )
        .prop_map(|(id, account, click, bid, ctr)| Bid {
            ad_group_id: format!("g{id}"),
            ad_account_id: format!("a{account}"),
            billable_event: if click {
                BillableEvent::Click
            } else {
                BillableEvent::Impression
            },
            bid_micros: bid,
            ctr,
        })
}

proptest! {
    /// Nobody pays more than their bid, winners clear the reserve, slots go
    /// to the highest values, and each account wins at most once.
    #[test]
    fn auction_invariants(bids in proptest::collection::vec(arb_bid(), 0..30), slots in 1usize..10, reserve in 0u64..3_000_000) {
        let o = run(bids.clone(), slots, reserve);
        prop_assert!(o.wins.len() <= slots);
        prop_assert_eq!(o.wins.len() + o.losses.len(), bids.len());
        let mut accounts = std::collections::BTreeSet::new();
        for (i, w) in o.wins.iter().enumerate() {
            prop_assert_eq!(w.slot, i);
            prop_assert!(w.price_micros <= w.bid.bid_micros, "pays no more than its bid");
            prop_assert!(w.bid.ecpm_micros() >= reserve as f64);
            prop_assert!(accounts.insert(w.bid.ad_account_id.clone()));
            if i > 0 {
                prop_assert!(o.wins[i - 1].bid.ecpm_micros() >= w.bid.ecpm_micros());
            }
            // Paying the price keeps the slot: its value at the price is at
            // least the next value down (up to rounding of one micro).
            let at_price = Bid { bid_micros: w.price_micros, ..w.bid.clone() }.ecpm_micros();
            let next = o.wins.get(i + 1).map_or(reserve as f64, |n| n.bid.ecpm_micros());
            let one_micro = Bid { bid_micros: 1, ..w.bid.clone() }.ecpm_micros();
            prop_assert!(at_price + one_micro >= next.min(w.bid.ecpm_micros()));
        }
        for (bid, loss) in &o.losses {
            if *loss == Loss::Outbid {
                let last = o.wins.last().unwrap();
                prop_assert!(last.bid.ecpm_micros() >= bid.ecpm_micros());
            }
        }
    }
}
