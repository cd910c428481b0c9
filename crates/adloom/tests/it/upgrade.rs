//! Schema versions: every store records its own, a newer build migrates an
//! older store on start, and an older build refuses a store written by a
//! newer one with exit code 3, changing nothing in it.

use std::process::{Command, Output};

use crate::BIN;

fn serve(data_dir: &std::path::Path, config: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("ADLOOM_CONFIG")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            "t",
            "--data-dir",
        ])
        .arg(data_dir);
    if let Some(config) = config {
        let path = data_dir.join("adloom.toml");
        std::fs::write(&path, config).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.output().unwrap()
}

fn refused_as_newer(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("schema version 999, newer than this adloom knows"),
        "{stderr}"
    );
}

#[test]
fn an_embedded_store_from_a_newer_build_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("adloom.db");
    {
        // A store this build made, then stamped by a "newer" one.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE from_the_future (x INTEGER);
             PRAGMA user_version = 999;",
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    refused_as_newer(&serve(dir.path(), None));
    assert!(std::fs::read(&db).unwrap() == before, "the store changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_from_a_newer_build_is_refused_and_left_alone() {
    let db = crate::cluster::Database::new("newer").await;
    db.batch(
        "CREATE TABLE adloom_migrations (version INT PRIMARY KEY);
         INSERT INTO adloom_migrations (version) VALUES (999);",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("store = \"{}\"\n", db.url);
    let out = tokio::task::spawn_blocking({
        let path = dir.path().to_owned();
        move || serve(&path, Some(&config))
    })
    .await
    .unwrap();
    refused_as_newer(&out);
    assert_eq!(db.tables().await, 1, "no table was made");
    assert_eq!(
        db.one("SELECT COUNT(*) FROM adloom_migrations").await,
        1,
        "no migration was recorded"
    );
    db.drop_schema().await;
}

/// Data dirs made by earlier commits of adloom (`tests/fixtures/datadir-*`,
/// made by `scripts/make_fixture.sh` with `tests/fixtures/populate.py`):
/// today's build migrates each when it starts and answers what the old
/// build answered about its people, settings, list, audience, objects and
/// report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dirs_of_earlier_builds_start_and_answer_the_same() {
    for fixture in fixtures("datadir-") {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(fixture.join("adloom.db"), data.join("adloom.db")).unwrap();
        let old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
                .unwrap();
        let server = crate::Server::start(&data, Some("fixture"));
        answers_as_before(&server, &old, &fixture).await;
    }
}

/// PostgreSQL stores made by earlier commits (`tests/fixtures/postgres-*`,
/// `POSTGRES=... scripts/make_fixture.sh COMMIT`: a dump of the database
/// the old build served), loaded into a new database: today's build
/// migrates each when it starts and answers what the old build answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_of_earlier_builds_start_and_answer_the_same() {
    for fixture in fixtures("postgres-") {
        let db = FixtureDatabase::load(&fixture.join("dump.sql")).await;
        let old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = format!("store = \"{}\"\n", db.url);
        let server = crate::Server::spawn("serve", dir.path(), Some("fixture"), Some(&config));
        answers_as_before(&server, &old, &fixture).await;
        drop(server);
        db.drop().await;
    }
}

/// The fixtures in `tests/fixtures` whose names start with `prefix`; at
/// least one.
fn fixtures(prefix: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut made_by: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    made_by.sort();
    assert!(!made_by.is_empty(), "no {prefix}* in {}", dir.display());
    made_by
}

/// A database of its own on the test server, holding a fixture's dump.
struct FixtureDatabase {
    server: String,
    name: String,
    url: String,
}

impl FixtureDatabase {
    async fn load(dump: &std::path::Path) -> FixtureDatabase {
        let base = std::env::var("ADLOOM_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let server = base[..base.rfind('/').unwrap()].to_owned();
        let name = format!("adloom_upgrade_{}", std::process::id());
        // One statement a batch: a batch of several is one transaction,
        // and neither may run in one.
        execute(
            &base,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        execute(&base, &format!("CREATE DATABASE {name}")).await;
        let url = format!("{server}/{name}");
        execute(&url, &std::fs::read_to_string(dump).unwrap()).await;
        FixtureDatabase { server, name, url }
    }

    async fn drop(self) {
        execute(
            &format!("{}/postgres", self.server),
            &format!("DROP DATABASE {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = connection.await;
}

/// What the old build answered (`expected.json`), asked again of `server`.
async fn answers_as_before(
    server: &crate::Server,
    old: &serde_json::Value,
    fixture: &std::path::Path,
) {
    use reqwest::Method;
    let at = |path: &str| format!("{path} of {}", fixture.display());
    let get = |path: String| {
        let server = &server;
        async move {
            let (status, body) = server.call(Method::GET, &path, None).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    let account = old["ad_account_id"].as_str().unwrap();

    assert_eq!(
        get("/v1/admin/people/p1".into()).await,
        old["person"],
        "{}",
        at("p1")
    );
    assert_eq!(
        get("/v1/people/p4/ads_settings/history".into()).await,
        old["settings_history_p4"],
        "{}",
        at("p4's history")
    );
    let setting = get("/v1/people/p3/ads_settings".into()).await;
    assert_eq!(setting["use_partner_info"], false, "{}", at("p3"));

    let list = get(format!(
        "/v5/ad_accounts/{account}/customer_lists/{}",
        old["customer_list_id"].as_str().unwrap()
    ))
    .await;
    for field in ["name", "num_uploaded_user_records", "num_batches", "status"] {
        assert_eq!(list[field], old["customer_list"][field], "{}", at(field));
    }
    let audience = get(format!(
        "/v5/ad_accounts/{account}/audiences/{}",
        old["audience_id"].as_str().unwrap()
    ))
    .await;
    for field in ["name", "audience_type", "rule", "status"] {
        assert_eq!(audience[field], old["audience"][field], "{}", at(field));
    }
    // Its size carries noise drawn per period: the same people, maybe
    // another draw.
    let size = |a: &serde_json::Value| a["size"].as_i64().unwrap();
    assert!(
        (size(&audience) - size(&old["audience"])).abs() <= 32,
        "{}",
        at("size")
    );

    for (kind, id) in [
        ("campaigns", "campaign_id"),
        ("ad_groups", "ad_group_id"),
        ("ads", "ad_id"),
    ] {
        let object = get(format!(
            "/v5/ad_accounts/{account}/{kind}/{}",
            old[id].as_str().unwrap()
        ))
        .await;
        assert_eq!(object["id"], old[id], "{}", at(kind));
    }
    let pin = get(format!(
        "/v5/pins/{}?ad_account_id={account}",
        old["pin_id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(pin["title"], "Warm boots", "{}", at("the pin"));
    assert_eq!(
        pin["media"]["images"]["originals"]["url"]
            .as_str()
            .or(pin["media_source"]["url"].as_str()),
        Some("https://shop.example/boots.jpg"),
        "{}: {pin}",
        at("the pin's image")
    );

    let date = old["date"].as_str().unwrap();
    let report = get(format!(
        "/v5/ad_accounts/{account}/analytics?start_date={date}&end_date={date}&columns=SPEND_IN_MICRO_DOLLAR,TOTAL_IMPRESSION&granularity=DAY"
    ))
    .await;
    assert_eq!(report, old["report"], "{}", at("the report"));

    // The migrated store keeps serving: the ad still reaches the list.
    let (status, decision) = server
        .call(
            Method::POST,
            "/v1/decisions",
            Some(serde_json::json!({"user_id": "p8", "placement": "home_feed", "count": 3})),
        )
        .await;
    assert_eq!(status, 200, "{decision}");
    assert!(
        decision["ads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["ad_id"] == old["ad_id"]),
        "{}: {decision}",
        at("a decision")
    );
}
