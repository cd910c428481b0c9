use serde_json::json;

use super::*;

fn obj(v: Value) -> Object {
    v.as_object().unwrap().clone()
}

fn stored(record: Record) -> StoredObject {
    StoredObject {
        id: "1".into(),
        ad_account_id: "2".into(),
        record,
        created_time: 5,
        updated_time: 6,
    }
}

#[test]
fn campaigns() {
    let c = read(
        Kind::Campaign,
        &obj(json!({
            "name": " Spring ", "daily_spend_cap": 10_000_000, "lifetime_spend_cap": null,
            "start_time": 100, "end_time": 200, "objective_type": "CONSIDERATION",
            "tracking_urls": {"impression": ["https://t.example/i"]},
            "ad_account_id": "ignored-here", "unknown": true
        })),
    )
    .unwrap();
    let v = view(&stored(c), 150);
    assert_eq!(v["name"], "Spring");
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["summary_status"], "RUNNING");
    assert_eq!(v["objective_type"], "CONSIDERATION");
    assert_eq!(v["daily_spend_cap"], 10_000_000);
    assert_eq!(v["is_campaign_budget_optimization"], false);
    assert_eq!(
        v["tracking_urls"],
        json!({"impression": ["https://t.example/i"]})
    );
    assert_eq!(
        (v["id"].as_str(), v["ad_account_id"].as_str()),
        (Some("1"), Some("2"))
    );
    assert!(v.get("unknown").is_none());
    for (bad, field) in [
        (json!({"name": " "}), "name"),
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
        (json!({"name": 7}), "name"),
    ] {
        // Each case is otherwise whole: a valid objective unless it is the
        // point.
        let mut bad = bad;
        if bad.get("name").is_some() && field != "objective_type" {
            bad["objective_type"] = json!("AWARENESS");
        }
        assert_eq!(
            read(Kind::Campaign, &obj(bad.clone())).unwrap_err().field,
            field,
            "{bad}"
        );
    }
}

#[test]
fn ad_groups() {
    let g = read(
        Kind::AdGroup,
        &obj(json!({
            "name": "Shoe visitors", "campaign_id": "12", "budget_in_micro_currency": 5_000_000,
            "bid_in_micro_currency": 1_000_000, "billable_event": "CLICKTHROUGH",
            "targeting_spec": {"AUDIENCE_INCLUDE": [7], "INTEREST": [" Running"], "AGE_BUCKET": [], "TARGETING_STRATEGY": ["X"]},
            "auto_targeting_enabled": true, "adloom_daily_frequency_cap": 3
        })),
    )
    .unwrap();
    let v = view(&stored(g), 0);
    assert_eq!(v["budget_type"], "DAILY");
    assert_eq!(v["placement_group"], "ALL");
    assert_eq!(v["pacing_delivery_type"], "STANDARD");
    assert_eq!(v["type"], "adgroup");
    assert_eq!(v["auto_targeting_enabled"], true, "kept as sent (issue 14)");
    assert_eq!(
        v["targeting_spec"],
        json!({"AUDIENCE_INCLUDE": ["7"], "INTEREST": ["Running"]}),
        "the keys adloom reads, as sent"
    );
    assert_eq!(v[FREQUENCY_CAP_FIELD], 3);
    assert!(v.get("lifetime_frequency_cap").is_none(), "not nullable");
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
        (
            with("targeting_spec", json!({"INTEREST": "shoes"})),
            "targeting_spec.INTEREST",
        ),
        (with("targeting_spec", json!([1])), "targeting_spec"),
        (with(FREQUENCY_CAP_FIELD, json!(0)), FREQUENCY_CAP_FIELD),
        (with("campaign_id", json!("c-1")), "campaign_id"),
    ] {
        assert_eq!(read(Kind::AdGroup, &bad).unwrap_err().field, field);
    }
}

#[test]
fn ads_and_pins() {
    let ad = read(
        Kind::Ad,
        &obj(json!({
            "ad_group_id": "3", "pin_id": 4, "click_tracking_url": "https://t.example/c",
            "destination_url": "https://shoes.example/red", "view_tracking_url": "",
            "review_status": "REJECTED"
        })),
    )
    .unwrap();
    let v = view(&stored(ad), 0);
    assert_eq!(v["creative_type"], "REGULAR");
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["pin_id"], "4");
    assert_eq!(v["view_tracking_url"], Value::Null, "empty is none");
    assert_eq!(v["review_status"], "APPROVED", "set by the server");
    for (bad, field) in [
        (json!({"pin_id": "4"}), "ad_group_id"),
        (json!({"ad_group_id": "3"}), "pin_id"),
        (
            json!({"ad_group_id": "3", "pin_id": "4", "view_tracking_url": "javascript:alert(1)"}),
            "view_tracking_url",
        ),
    ] {
        assert_eq!(read(Kind::Ad, &obj(bad)).unwrap_err().field, field);
    }

    let pin = read(
        Kind::Pin,
        &obj(json!({
            "title": "Red sneaker", "link": "https://shoes.example/red",
            "media_source": {"source_type": "image_url", "url": "https://img.example/red.jpg"},
            "board_id": null
        })),
    )
    .unwrap();
    let v = view(&stored(pin.clone()), 0);
    assert_eq!(
        v["media"]["images"]["originals"]["url"],
        "https://img.example/red.jpg"
    );
    assert!(v.get("board_id").is_none(), "not nullable");
    assert_eq!(v["created_at"], "1970-01-01T00:00:05Z");
    // A stored pin's answer reads back as the same pin (an update keeps
    // its image).
    assert_eq!(read(Kind::Pin, &merge(&v, &Object::new())).unwrap(), pin);
    assert_eq!(
        read(Kind::Pin, &obj(json!({"title": "x"})))
            .unwrap_err()
            .field,
        "media_source"
    );
    assert_eq!(
        read(
            Kind::Pin,
            &obj(json!({"title": "x".repeat(101),
                "media_source": {"source_type": "image_url", "url": "https://i/x.png"}}))
        )
        .unwrap_err()
        .field,
        "title"
    );
}

#[test]
fn patches_keep_server_fields() {
    let stored = json!({"id": "1", "ad_account_id": "2", "name": "a", "created_time": 5,
        "review_status": "PENDING"});
    let merged = merge(
        &stored,
        &obj(json!({"id": "9", "name": "b", "created_time": 0, "review_status": "APPROVED"})),
    );
    assert_eq!(
        merged,
        obj(
            json!({"id": "1", "ad_account_id": "2", "name": "b", "created_time": 5,
            "review_status": "PENDING"})
        )
    );
}

/// What a record reads as, written back and read again, is the same
/// record: an update that changes nothing changes nothing.
#[test]
fn answers_read_back_as_the_same_records() {
    for (kind, body) in [
        (
            Kind::Campaign,
            json!({"name": "c", "objective_type": "AWARENESS", "order_line_id": 12,
                "start_time": 10, "tracking_urls": {"click": ["https://t.example/c"]}}),
        ),
        (
            Kind::AdGroup,
            json!({"name": "g", "campaign_id": "1", "billable_event": "IMPRESSION",
                "bid_in_micro_currency": 3_000_000, "budget_type": "LIFETIME",
                "targeting_spec": {"GEO": ["US-94107"], "LOCALE": ["en-US"]},
                "lifetime_frequency_cap": 4}),
        ),
        (
            Kind::Ad,
            json!({"ad_group_id": "3", "pin_id": "4", "name": "red", "status": "PAUSED"}),
        ),
    ] {
        let record = read(kind, &obj(body)).unwrap();
        let answer = view(&stored(record.clone()), 0);
        assert_eq!(read(kind, &merge(&answer, &Object::new())).unwrap(), record);
    }
}
