use serde_json::json;

use super::*;

fn obj(v: Value) -> Object {
    v.as_object().unwrap().clone()
}

#[test]
fn campaigns() {
    let c = normalize_campaign(&obj(json!({
        "name": " Spring ", "daily_spend_cap": 10_000_000, "lifetime_spend_cap": null,
        "start_time": 100, "end_time": 200, "objective_type": "CONSIDERATION", "tracking_urls": {"impression": ["https://t.example/i"]},
        "ad_account_id": "ignored-here", "unknown": true
    })))
    .unwrap();
    assert_eq!(c["name"], "Spring");
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["objective_type"], "CONSIDERATION");
    assert_eq!(c["daily_spend_cap"], 10_000_000);
    assert_eq!(
        c["tracking_urls"],
        json!({"impression": ["https://t.example/i"]})
    );
    assert!(c.get("unknown").is_none());
    for (bad, field) in [
        (json!({}), "name"),
        (json!({"name": "x"}), "objective_type"),
        (json!({"name": "x", "status": "RUNNING"}), "status"),
        (
            json!({"name": "x", "daily_spend_cap": -1}),
            "daily_spend_cap",
        ),
        (
            json!({"name": "x", "daily_spend_cap": "10"}),
            "daily_spend_cap",
        ),
        (
            json!({"name": "x", "start_time": 200, "end_time": 100}),
            "end_time",
        ),
        (
            json!({"name": "x", "tracking_urls": {"impression": ["ftp://x"]}}),
            "tracking_urls.impression",
        ),
        (
            json!({"name": "x", "tracking_urls": {"pixel": []}}),
            "tracking_urls",
        ),
        (
            json!({"name": "x", "objective_type": "FAME"}),
            "objective_type",
        ),
    ] {
        // Each case is otherwise whole: a valid objective unless it is the
        // point.
        let mut bad = bad;
        if bad.get("name").is_some() && field != "objective_type" {
            bad["objective_type"] = json!("AWARENESS");
        }
        assert_eq!(
            normalize_campaign(&obj(bad.clone())).unwrap_err().field,
            field,
            "{bad}"
        );
    }
}

#[test]
fn ad_groups() {
    let g = normalize_ad_group(&obj(json!({
        "name": "Shoe visitors", "campaign_id": "12", "budget_in_micro_currency": 5_000_000,
        "bid_in_micro_currency": 1_000_000, "billable_event": "CLICKTHROUGH",
        "targeting_spec": {"AUDIENCE_INCLUDE": ["7"], "INTEREST": ["Running"]},
        "auto_targeting_enabled": true, "adloom_daily_frequency_cap": 3
    })))
    .unwrap();
    assert_eq!(g["budget_type"], "DAILY");
    assert_eq!(g["placement_group"], "ALL");
    assert_eq!(g["pacing_delivery_type"], "STANDARD");
    assert_eq!(g["auto_targeting_enabled"], true, "kept as sent (issue 14)");
    assert_eq!(
        g["targeting_spec"],
        json!({"AUDIENCE_INCLUDE": ["7"], "INTEREST": ["Running"]}),
        "as sent"
    );
    assert_eq!(g[FREQUENCY_CAP_FIELD], 3);
    let base = json!({"name": "g", "campaign_id": "12", "billable_event": "CLICKTHROUGH"});
    let with = |k: &str, v: Value| {
        let mut o = obj(base.clone());
        o.insert(k.into(), v);
        o
    };
    for (bad, field) in [
        (
            obj(json!({"name": "g", "billable_event": "IMPRESSION"})),
            "campaign_id",
        ),
        (
            obj(json!({"name": "g", "campaign_id": "12"})),
            "billable_event",
        ),
        (
            with("bid_in_micro_currency", json!(9))
                .into_iter()
                .chain(with("budget_in_micro_currency", json!(5)))
                .collect(),
            "bid_in_micro_currency",
        ),
        (with("budget_type", json!("WEEKLY")), "budget_type"),
        (with("placement_group", json!("SIDEBAR")), "placement_group"),
        (
            with("pacing_delivery_type", json!("FAST")),
            "pacing_delivery_type",
        ),
        (
            with("targeting_spec", json!({"GENDER": ["robot"]})),
            "targeting_spec.GENDER",
        ),
        (with(FREQUENCY_CAP_FIELD, json!(0)), FREQUENCY_CAP_FIELD),
    ] {
        assert_eq!(normalize_ad_group(&bad).unwrap_err().field, field);
    }
}

#[test]
fn ads_and_pins() {
    let ad = normalize_ad(&obj(json!({
        "ad_group_id": "3", "pin_id": "4", "click_tracking_url": "https://t.example/c",
        "destination_url": "https://shoes.example/red"
    })))
    .unwrap();
    assert_eq!(ad["creative_type"], "REGULAR");
    assert_eq!(ad["status"], "ACTIVE");
    for (bad, field) in [
        (json!({"pin_id": "4"}), "ad_group_id"),
        (json!({"ad_group_id": "3"}), "pin_id"),
        (
            json!({"ad_group_id": "3", "pin_id": "4", "view_tracking_url": "javascript:alert(1)"}),
            "view_tracking_url",
        ),
    ] {
        assert_eq!(normalize_ad(&obj(bad)).unwrap_err().field, field);
    }

    let pin = normalize_pin(&obj(json!({
        "title": "Red sneaker", "link": "https://shoes.example/red",
        "media_source": {"source_type": "image_url", "url": "https://img.example/red.jpg"}, "board_id": null
    })))
    .unwrap();
    assert_eq!(
        pin["media"]["images"]["originals"]["url"],
        "https://img.example/red.jpg"
    );
    // A stored pin passes again (an update keeps its image).
    assert_eq!(normalize_pin(&pin).unwrap(), pin);
    assert_eq!(
        normalize_pin(&obj(json!({"title": "x"})))
            .unwrap_err()
            .field,
        "media_source"
    );
    assert_eq!(normalize_pin(&obj(json!({"title": "x".repeat(101), "media_source": {"source_type": "image_url", "url": "https://i/x.png"}}))).unwrap_err().field, "title");
}

#[test]
fn patches_keep_server_fields() {
    let stored = obj(json!({"id": "1", "ad_account_id": "2", "name": "a", "created_time": 5}));
    let merged = merge(
        &stored,
        &obj(json!({"id": "9", "name": "b", "created_time": 0})),
    );
    assert_eq!(
        merged,
        obj(json!({"id": "1", "ad_account_id": "2", "name": "b", "created_time": 5}))
    );
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
        (Kind::Campaign, "ACTIVE", None, None, "RUNNING"),
        (Kind::Campaign, "ACTIVE", Some(2_000), None, "NOT_STARTED"),
        (Kind::AdGroup, "ACTIVE", Some(500), Some(1_000), "COMPLETED"),
        (Kind::AdGroup, "ACTIVE", Some(500), Some(1_001), "RUNNING"),
        (Kind::AdGroup, "PAUSED", Some(2_000), None, "PAUSED"),
        (Kind::Campaign, "ARCHIVED", None, None, "ARCHIVED"),
        (Kind::Ad, "ACTIVE", Some(2_000), None, "APPROVED"),
        (Kind::Ad, "PAUSED", None, None, "PAUSED"),
        (Kind::Ad, "ARCHIVED", None, None, "ARCHIVED"),
    ] {
        assert_eq!(
            summary_status(kind, status, start, end, now),
            expect,
            "{kind:?} {status}"
        );
    }
}
