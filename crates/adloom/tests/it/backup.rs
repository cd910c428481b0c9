//! `adloom backup` and `adloom restore` on the embedded store: a backup
//! taken while people stream in holds every write acknowledged before it
//! began, and a server started on the restored data dir answers the same
//! lists, audiences and settings, with the same admin token.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::{Server, BIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_what_was_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, None);
    let people: Vec<Value> = (0..150)
        .map(|i| json!({"user_id": format!("p{i}"), "email": format!("p{i}@example.com"), "country": "US"}))
        .collect();
    let (s, _) = server
        .call(
            reqwest::Method::POST,
            "/v1/admin/people",
            Some(json!(people)),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = server
        .call(
            reqwest::Method::PUT,
            "/v1/people/p3/ads_settings",
            Some(json!({"use_partner_info": false})),
        )
        .await;
    assert_eq!(s, 200);
    let (account, _) = server.account_with_token("Backed up").await;
    let records: Vec<String> = (0..140).map(|i| format!("p{i}@example.com")).collect();
    let (s, list) = server
        .call(
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/customer_lists"),
            Some(json!({"name": "Buyers", "records": records.join(",")})),
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let (s, audience) = server
        .call(
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/audiences"),
            Some(json!({"name": "Buyers", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": list["id"]}})),
        )
        .await;
    assert_eq!(s, 200, "{audience}");

    // People stream in, one a request; each acknowledged one is logged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
        let (url, token) = (server.url("/v1/admin/people"), server.token.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let user = format!("w{n}");
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!([{"user_id": user, "email": format!("{user}@example.com")}]))
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success());
                acked.lock().unwrap().push(user);
            }
        })
    };
    while acked.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = acked.lock().unwrap().clone();
    let file = dir.path().join("adloom.backup");
    let run = |args: Vec<std::ffi::OsString>| {
        tokio::task::spawn_blocking(move || Command::new(BIN).args(args).output().unwrap())
    };
    let backup_args = vec![
        "backup".into(),
        "--data-dir".into(),
        data.clone().into(),
        "--output".into(),
        file.clone().into(),
    ];
    let out = run(backup_args.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("and the admin token"), "{stdout}");
    assert!(stdout.contains("1 ad accounts"), "{stdout}");
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "as secret as the data dir");
    }
    // Never overwritten.
    let again = run(backup_args).await.unwrap();
    assert!(!again.status.success());

    let restored = dir.path().join("restored");
    let restore_args = vec![
        "restore".into(),
        "--input".into(),
        file.clone().into(),
        "--data-dir".into(),
        restored.clone().into(),
    ];
    let out = run(restore_args.clone()).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(restored.join("admin-token")).unwrap(),
        std::fs::read_to_string(data.join("admin-token")).unwrap()
    );
    // Not into a data dir that has a database, and not from a file that is
    // not a backup.
    let out = run(restore_args).await.unwrap();
    assert!(!out.status.success());
    let junk = dir.path().join("junk.backup");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let out = run(vec![
        "restore".into(),
        "--input".into(),
        junk.into(),
        "--data-dir".into(),
        dir.path().join("other").into(),
    ])
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(!dir.path().join("other/adloom.db").exists());

    // The twin has everything acknowledged before the backup, and answers
    // the same list, audience and settings with the same token.
    let twin = Server::start(&restored, None);
    assert_eq!(twin.token, server.token);
    for user in &before {
        let (s, _) = twin
            .call(
                reqwest::Method::GET,
                &format!("/v1/admin/people/{user}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{user} was acknowledged before the backup");
    }
    for path in [
        format!(
            "/v5/ad_accounts/{account}/customer_lists/{}",
            list["id"].as_str().unwrap()
        ),
        format!(
            "/v5/ad_accounts/{account}/audiences/{}",
            audience["id"].as_str().unwrap()
        ),
        "/v1/people/p3/ads_settings".to_owned(),
        "/v1/people/p3/ads_settings/history".to_owned(),
    ] {
        let original = server.call(reqwest::Method::GET, &path, None).await;
        let copy = twin.call(reqwest::Method::GET, &path, None).await;
        assert_eq!(original.0, 200, "{path}: {}", original.1);
        assert_eq!(original, copy, "{path}");
    }
}
