use super::*;
use crate::campaign::{CreativeType, Status};

fn ad(destination: Option<&str>) -> Ad {
    Ad {
        ad_group_id: "3".into(),
        campaign_id: "2".into(),
        pin_id: "4".into(),
        name: None,
        status: Status::Active,
        creative_type: CreativeType::Regular,
        destination_url: destination.map(str::to_owned),
        click_tracking_url: None,
        view_tracking_url: None,
        tracking_urls: None,
        review_status: ReviewStatus::Approved,
        rejected_reasons: Vec::new(),
        rejection_labels: Vec::new(),
        decisions: Vec::new(),
    }
}

fn pin(title: &str, link: Option<&str>) -> Pin {
    Pin {
        title: Some(title.into()),
        description: None,
        alt_text: None,
        link: link.map(str::to_owned),
        image_url: "https://img.example/a.jpg".into(),
        board_id: None,
    }
}

fn policy(mode: ReviewMode) -> ReviewPolicy {
    ReviewPolicy::new(
        mode,
        &["Casino.example".into(), "https://.bad.example/".into()],
        &["Miracle Cure".into(), "payday loan".into()],
        5,
    )
    .unwrap()
}

#[test]
fn checks_links_and_words() {
    let p = policy(ReviewMode::Automatic);
    let shop = Some("https://shop.example/red");
    for (destination, title, link, expected) in [
        (shop, "Red shoes", None, vec![]),
        (None, "Red shoes", shop, vec![]),
        (None, "Red shoes", None, vec!["LANDING_PAGE"]),
        (
            Some("http://shop.example/red"),
            "Red shoes",
            None,
            vec!["LANDING_PAGE"],
        ),
        (
            Some("https://casino.example/"),
            "Red",
            None,
            vec!["UNACCEPTABLE_BUSINESS"],
        ),
        (
            Some("https://www.Casino.example:443/x"),
            "Red",
            None,
            vec!["UNACCEPTABLE_BUSINESS"],
        ),
        (
            Some("https://x.bad.example/"),
            "Red",
            None,
            vec!["UNACCEPTABLE_BUSINESS"],
        ),
        // Not a subdomain: a longer name that ends the same way.
        (Some("https://notcasino.example/"), "Red", None, vec![]),
        (Some("https://casino.example.shop/"), "Red", None, vec![]),
        (shop, "A MIRACLE  cure!", None, vec!["PROHIBITED_PRODUCT"]),
        // Words, not letters: "payday loans" is not "payday loan".
        (shop, "payday loans", None, vec![]),
        (shop, "miracles cure", None, vec![]),
    ] {
        let found: Vec<&str> = check(&p, &ad(destination), &pin(title, link))
            .iter()
            .map(|f| f.reason)
            .collect();
        assert_eq!(found, expected, "{destination:?} {title:?} {link:?}");
    }
}

#[test]
fn the_platform_itself_may_be_linked_over_http() {
    let mut p = policy(ReviewMode::Automatic);
    p.own_origin = Some("http://127.0.0.1:8080".into());
    let shop = pin("Red shoes", Some("http://127.0.0.1:8080/demo/shop/red"));
    assert!(check(&p, &ad(None), &shop).is_empty());
    let elsewhere = pin("Red shoes", Some("http://127.0.0.1:8080.evil.example/x"));
    assert_eq!(check(&p, &ad(None), &elsewhere)[0].reason, "LANDING_PAGE");
}

#[test]
fn a_write_is_approved_held_or_rejected_by_mode() {
    let shop = Some("https://shop.example/red");
    let auto = policy(ReviewMode::Automatic);
    let manual = policy(ReviewMode::Manual);
    let good = ad(shop);
    let red = pin("Red shoes", None);
    assert_eq!(
        on_write(&auto, &good, &red, None).status,
        ReviewStatus::Approved
    );
    assert_eq!(
        on_write(&manual, &good, &red, None).status,
        ReviewStatus::Pending,
        "new"
    );
    let approved = ad(shop);
    assert_eq!(
        on_write(&manual, &good, &red, Some(&approved)).status,
        ReviewStatus::Approved,
        "a pause or a rename keeps the review"
    );
    let moved = ad(Some("https://shop.example/blue"));
    assert_eq!(
        on_write(&manual, &moved, &red, Some(&approved)).status,
        ReviewStatus::Pending,
        "a new link waits again"
    );
    let mut other_pin = ad(shop);
    other_pin.pin_id = "5".into();
    assert_eq!(
        on_write(&manual, &other_pin, &red, Some(&approved)).status,
        ReviewStatus::Pending,
        "a new pin waits again"
    );
    let rejected = on_write(&manual, &ad(Some("https://casino.example/")), &red, None);
    assert_eq!(
        rejected.status,
        ReviewStatus::Rejected,
        "checks run in manual mode too"
    );
    assert_eq!(rejected.rejected_reasons, ["UNACCEPTABLE_BUSINESS"]);
    assert!(rejected.rejection_labels[0].contains("casino.example"));
    // Rejected by the checks: a fixed link is reviewed again.
    let mut failed = ad(Some("http://shop.example/red"));
    failed.review_status = ReviewStatus::Rejected;
    assert_eq!(
        on_write(&auto, &good, &red, Some(&failed)).status,
        ReviewStatus::Approved
    );
    assert_eq!(
        on_write(&manual, &good, &red, Some(&failed)).status,
        ReviewStatus::Pending
    );
}

/// An operator's rejection, or a hold by people's reports, is never undone
/// by the advertiser: a rename or a pause keeps it, and a changed ad waits
/// for an operator even in automatic mode.
#[test]
fn an_advertiser_cannot_undo_an_operators_stop() {
    let shop = Some("https://shop.example/red");
    let red = pin("Red shoes", None);
    for mode in [ReviewMode::Automatic, ReviewMode::Manual] {
        let p = policy(mode);
        for status in [ReviewStatus::Rejected, ReviewStatus::Pending] {
            let mut stopped = ad(shop);
            stopped.review_status = status;
            stopped.rejected_reasons = vec!["NUDITY".into()];
            stopped.decisions.push(crate::campaign::ReviewDecision {
                status,
                reasons: Vec::new(),
                by: "operator".into(),
                time: 1,
            });
            let mut renamed = stopped.clone();
            renamed.name = Some("new name".into());
            let kept = on_write(&p, &renamed, &red, Some(&stopped));
            assert_eq!(
                (kept.status, kept.rejected_reasons),
                (status, vec!["NUDITY".into()])
            );
            let moved = ad(Some("https://shop.example/blue"));
            assert_eq!(
                on_write(&p, &moved, &red, Some(&stopped)).status,
                ReviewStatus::Pending,
                "{mode:?} {status:?}"
            );
        }
    }
}

#[test]
fn operators_decide_with_pinterest_reasons() {
    assert_eq!(
        decided("APPROVED", &[]).unwrap().status,
        ReviewStatus::Approved
    );
    let r = decided("REJECTED", &["NUDITY".into(), "NUDITY".into()]).unwrap();
    assert_eq!(
        (r.status, r.rejected_reasons),
        (ReviewStatus::Rejected, vec!["NUDITY".into()])
    );
    assert_eq!(decided("REJECTED", &[]).unwrap_err().field, "reasons");
    assert_eq!(
        decided("REJECTED", &["UGLY".into()]).unwrap_err().field,
        "reasons"
    );
    assert_eq!(decided("MAYBE", &[]).unwrap_err().field, "decision");
}

#[test]
fn policies_refuse_empty_entries() {
    for (domains, terms, reports) in [
        (vec![" ".to_owned()], vec![], 5),
        (vec!["a.example/x".to_owned()], vec![], 5),
        (vec![], vec!["!!".to_owned()], 5),
        (vec![], vec![], 0),
    ] {
        assert!(ReviewPolicy::new(ReviewMode::Manual, &domains, &terms, reports).is_err());
    }
    let p = policy(ReviewMode::Manual);
    assert_eq!(p.blocked_domains, ["casino.example", "bad.example"]);
    assert_eq!(p.blocked_terms, ["miracle cure", "payday loan"]);
}
