use serde_json::json;

use super::*;

/// A change that breaks a record, and the field the error names.
type Breaks<T> = (fn(&mut T), &'static str);

fn campaign() -> Campaign {
    Campaign {
        name: "Spring".into(),
        status: Status::Active,
        objective_type: Objective::Consideration,
        daily_spend_cap: Some(10_000_000),
        lifetime_spend_cap: None,
        tracking_urls: Some(TrackingUrls::from([(
            TrackingKind::Impression,
            vec!["https://t.example/i".into()],
        )])),
        order_line_id: None,
        start_time: Some(100),
        end_time: Some(200),
    }
}

fn ad_group() -> AdGroup {
    AdGroup {
        name: "Shoe visitors".into(),
        campaign_id: "12".into(),
        status: Status::Active,
        budget_in_micro_currency: Some(5_000_000),
        bid_in_micro_currency: Some(1_000_000),
        budget_type: BudgetType::Daily,
        billable_event: BillableEvent::Click,
        placement_group: PlacementGroup::All,
        pacing_delivery_type: Delivery::Standard,
        targeting_spec: AsSent::from([("AUDIENCE_INCLUDE".into(), vec!["7".into()])]),
        auto_targeting_enabled: true,
        lifetime_frequency_cap: None,
        adloom_daily_frequency_cap: Some(3),
        tracking_urls: None,
        start_time: None,
        end_time: None,
    }
}

fn ad() -> Ad {
    Ad {
        ad_group_id: "3".into(),
        campaign_id: "12".into(),
        pin_id: "4".into(),
        name: None,
        status: Status::Active,
        creative_type: CreativeType::Regular,
        destination_url: Some("https://shoes.example/red".into()),
        click_tracking_url: Some("https://t.example/c".into()),
        view_tracking_url: None,
        tracking_urls: None,
        review_status: ReviewStatus::Approved,
        rejected_reasons: Vec::new(),
        rejection_labels: Vec::new(),
        decisions: Vec::new(),
    }
}

fn pin() -> Pin {
    Pin {
        title: Some("Red sneaker".into()),
        description: None,
        alt_text: None,
        link: Some("https://shoes.example/red".into()),
        image_url: "https://img.example/red.jpg".into(),
        board_id: None,
    }
}

#[test]
fn campaigns() {
    campaign().check().unwrap();
    let bad: [Breaks<Campaign>; 4] = [
        (|c| c.name.clear(), "name"),
        (|c| c.name = "x".repeat(257), "name"),
        (|c| c.end_time = Some(100), "end_time"),
        (
            |c| {
                c.tracking_urls = Some(TrackingUrls::from([(
                    TrackingKind::Click,
                    vec!["ftp://x".into()],
                )]))
            },
            "tracking_urls.click",
        ),
    ];
    for (breaks, field) in bad {
        let mut c = campaign();
        breaks(&mut c);
        assert_eq!(c.check().unwrap_err().field, field);
    }
}

#[test]
fn ad_groups() {
    ad_group().check().unwrap();
    assert_eq!(ad_group().frequency_cap(), 3);
    let bad: [Breaks<AdGroup>; 5] = [
        (
            |g| g.budget_in_micro_currency = Some(999_999),
            "bid_in_micro_currency",
        ),
        (
            |g| {
                g.targeting_spec = AsSent::from([("GENDER".into(), vec!["robot".into()])]);
            },
            "targeting_spec.GENDER",
        ),
        (
            |g| g.adloom_daily_frequency_cap = Some(0),
            FREQUENCY_CAP_FIELD,
        ),
        (
            |g| g.adloom_daily_frequency_cap = Some(1001),
            FREQUENCY_CAP_FIELD,
        ),
        (
            |g| {
                g.start_time = Some(10);
                g.end_time = Some(5);
            },
            "end_time",
        ),
    ];
    for (breaks, field) in bad {
        let mut g = ad_group();
        breaks(&mut g);
        assert_eq!(g.check().unwrap_err().field, field);
    }
    // A CPM bid is checked per impression: a thousandth of it must fit.
    let mut cpm = ad_group();
    cpm.billable_event = BillableEvent::Impression;
    cpm.bid_in_micro_currency = Some(6_000_000);
    cpm.check().unwrap();
}

#[test]
fn ads_and_pins() {
    ad().check().unwrap();
    let mut bad = ad();
    bad.view_tracking_url = Some("javascript:alert(1)".into());
    assert_eq!(bad.check().unwrap_err().field, "view_tracking_url");
    let mut bad = ad();
    bad.name = Some("x".repeat(257));
    assert_eq!(bad.check().unwrap_err().field, "name");

    pin().check().unwrap();
    let mut bad = pin();
    bad.title = Some("x".repeat(101));
    assert_eq!(bad.check().unwrap_err().field, "title");
    let mut bad = pin();
    bad.image_url = "file:///etc/passwd".into();
    assert_eq!(bad.check().unwrap_err().field, "media_source.url");
}

/// The store keeps records by their serde form, and reads rows written
/// before the records were typed: these are such rows.
#[test]
fn records_read_the_rows_already_stored() {
    let group: AdGroup = serde_json::from_value(json!({
        "name": "g", "campaign_id": "1", "status": "ACTIVE", "budget_in_micro_currency": null,
        "bid_in_micro_currency": 2000000, "budget_type": "DAILY", "billable_event": "CLICKTHROUGH",
        "placement_group": "ALL", "pacing_delivery_type": "STANDARD",
        "targeting_spec": {"GEO": ["US-94107"]}, "auto_targeting_enabled": false,
        "lifetime_frequency_cap": null, "adloom_daily_frequency_cap": null,
        "tracking_urls": null, "start_time": null, "end_time": null
    }))
    .unwrap();
    assert_eq!(group.targeting_spec["GEO"], ["US-94107"]);
    let ad: Ad = serde_json::from_value(json!({
        "ad_group_id": "2", "pin_id": "3", "name": null, "status": "PAUSED",
        "creative_type": "REGULAR", "destination_url": null, "click_tracking_url": null,
        "view_tracking_url": null, "tracking_urls": {"impression": ["https://t.example/i"]},
        "review_status": "APPROVED", "campaign_id": "1"
    }))
    .unwrap();
    assert_eq!(ad.status, Status::Paused);
    let round = serde_json::to_value(&ad).unwrap();
    assert_eq!(serde_json::from_value::<Ad>(round).unwrap(), ad);
}

#[test]
fn iso_times() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00");
    assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20");
    assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00");
}

/// Issue 14, deviation 1: Pinterest's summary statuses.
#[test]
fn summary_statuses_follow_status_and_schedule() {
    let now = 1_000;
    for (kind, status, start, end, expect) in [
        (Kind::Campaign, Status::Active, None, None, "RUNNING"),
        (
            Kind::Campaign,
            Status::Active,
            Some(2_000),
            None,
            "NOT_STARTED",
        ),
        (
            Kind::AdGroup,
            Status::Active,
            Some(500),
            Some(1_000),
            "COMPLETED",
        ),
        (
            Kind::AdGroup,
            Status::Active,
            Some(500),
            Some(1_001),
            "RUNNING",
        ),
        (Kind::AdGroup, Status::Paused, Some(2_000), None, "PAUSED"),
        (Kind::Campaign, Status::Archived, None, None, "ARCHIVED"),
        (Kind::Ad, Status::Active, Some(2_000), None, "APPROVED"),
        (Kind::Ad, Status::Paused, None, None, "PAUSED"),
        (Kind::Ad, Status::Archived, None, None, "ARCHIVED"),
    ] {
        assert_eq!(
            summary_status(kind, status, start, end, now),
            expect,
            "{kind:?} {status:?}"
        );
    }
}
