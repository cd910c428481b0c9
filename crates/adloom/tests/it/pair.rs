//! `adloom pair` against a running server: the advertiser's CSV becomes a
//! customer list of the matched people, which serves its ad to them and no
//! one else; and the published test vectors hold under libsodium.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::{Server, BIN};

/// docs/pair-test-vectors.json, checked by an implementation adloom did
/// not write (libsodium's ristretto255, through Python's ctypes).
#[test]
fn the_pair_test_vectors_hold_under_libsodium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("tests/pair/vectors.py"))
        .arg(root.join("docs/pair-test-vectors.json"))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cases hold under libsodium"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adloom_pair_builds_a_list_that_serves_the_matched_people_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    // 200 people with an email; p190 to p199 switched partner info off. The
    // match is well above the minimum size, noise included (100 + 16).
    let people: Vec<Value> = (0..200)
        .map(|i| json!({"user_id": format!("p{i}"), "email": format!("person{i}@example.com"), "country": "US"}))
        .collect();
    let (s, _) = server
        .call(
            reqwest::Method::POST,
            "/v1/admin/people",
            Some(json!(people)),
        )
        .await;
    assert_eq!(s, 200);
    for i in 190..200 {
        let (s, _) = server
            .call(
                reqwest::Method::PUT,
                &format!("/v1/people/p{i}/ads_settings"),
                Some(json!({"use_partner_info": false})),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (account, token) = server.account_with_token("Shoes Inc.").await;

    // The advertiser's file: p10 to p199 (spaced and capitalised), and strangers.
    let mut csv = String::from("email\n");
    for i in 10..200 {
        csv.push_str(&format!(" Person{i}@Example.com \n"));
    }
    for i in 0..20 {
        csv.push_str(&format!("stranger{i}@example.org\n"));
    }
    csv.push_str("not an email\n");
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, csv).unwrap();
    let key = dir.path().join("pair.key");
    let run = || {
        Command::new(BIN)
            .args(["pair", "--ad-account", &account, "--name", "Loyal"])
            .arg("--key-file")
            .arg(&key)
            .arg("--url")
            .arg(server.url(""))
            .arg("--token")
            .arg(&token)
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "210 emails sent encrypted (1 cells were not an email); matched about 180 people"
        ),
        "{stdout}"
    );
    let list = stdout.split_whitespace().nth(2).unwrap().to_owned();
    // The key is the advertiser's own: readable by its user only, and used again.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let kept = std::fs::read_to_string(&key).unwrap();
    assert!(run().status.success());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), kept);

    // The list serves like any other (made here with the operator's token).
    let (s, audience) = server
        .call(
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/audiences"),
            Some(json!({"name": "Loyal", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": list}})),
        )
        .await;
    assert_eq!(s, 200, "{audience}");
    assert_eq!(audience["status"], "READY", "{audience}");
    let group = ad_group_with_an_ad(
        &server,
        &account,
        json!({"AUDIENCE_INCLUDE": [audience["id"]]}),
    )
    .await;
    for i in 0..200 {
        let (s, d) = server
            .call(
                reqwest::Method::POST,
                "/v1/decisions",
                Some(json!({"user_id": format!("p{i}"), "placement": "home_feed"})),
            )
            .await;
        assert_eq!(s, 200);
        let served = d["ads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["ad_group_id"] == group.as_str());
        assert_eq!(served, (10..190).contains(&i), "p{i}: {d}");
    }
}

/// A campaign with one ad group of this targeting and one ad; the group's id.
async fn ad_group_with_an_ad(server: &Server, account: &str, targeting: Value) -> String {
    let create = |path: &'static str, item: Value| async move {
        let (s, r) = server
            .call(
                reqwest::Method::POST,
                &format!("/v5/ad_accounts/{account}/{path}"),
                Some(json!([item])),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        r["items"][0]["data"]["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    };
    let campaign = create(
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "Loyal"}),
    )
    .await;
    let group = create(
        "ad_groups",
        json!({"campaign_id": campaign, "name": "Loyal", "billable_event": "IMPRESSION",
               "bid_in_micro_currency": 1_000_000, "targeting_spec": targeting}),
    )
    .await;
    let (s, pin) = server
        .call(
            reqwest::Method::POST,
            &format!("/v5/pins?ad_account_id={account}"),
            Some(json!({"title": "Shoe", "link": "https://shoes.example/",
                        "media_source": {"source_type": "image_url", "url": "https://shoes.example/s.png"}})),
        )
        .await;
    assert_eq!(s, 201, "{pin}");
    create("ads", json!({"ad_group_id": group, "pin_id": pin["id"]})).await;
    group
}
