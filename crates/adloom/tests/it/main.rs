//! The `adloom` binary as an operator runs it: started as a child process,
//! stopped with signals, killed with SIGKILL, started again on the same data
//! dir.

mod backup;
mod cluster;
mod crash;
mod operating;
mod pair;
mod purge;
mod upgrade;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_adloom");

/// A running `adloom serve`.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The thread reading standard error: it ends with the process, so
    /// joining it means every line is in `stderr`.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    client: reqwest::Client,
    token: String,
}

impl Server {
    fn start(data_dir: &Path, admin_token: Option<&str>) -> Server {
        Server::spawn("serve", data_dir, admin_token, None)
    }

    fn start_demo(data_dir: &Path) -> Server {
        Server::spawn("demo", data_dir, None, None)
    }

    /// `serve` with this config file.
    fn start_with_config(data_dir: &Path, config: &str) -> Server {
        Server::spawn("serve", data_dir, None, Some(config))
    }

    fn spawn(
        command: &str,
        data_dir: &Path,
        admin_token: Option<&str>,
        config: Option<&str>,
    ) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("ADLOOM_CONFIG");
        if let Some(config) = config {
            std::fs::create_dir_all(data_dir).unwrap();
            let path = data_dir.join("adloom.toml");
            std::fs::write(&path, config).unwrap();
            cmd.env("ADLOOM_CONFIG", path);
        }
        cmd.args([command, "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("ADLOOM_ADMIN_TOKEN")
            // The tests play many browsers from one address: the per-address
            // pixel limit (tested through the router) would take them for
            // one script.
            .env("ADLOOM_PIXEL_RATE_LIMIT_PER_IP", "0")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = admin_token {
            cmd.args(["--admin-token", t]);
        }
        let mut child = cmd.spawn().expect("adloom starts");
        let (stdout, _) = collect(child.stdout.take().unwrap(), None);
        let (tx, rx) = mpsc::channel();
        let (stderr, stderr_reader) = collect(child.stderr.take().unwrap(), Some(tx));
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("adloom did not start: {}", stderr.lock().unwrap()));
        let token = match admin_token {
            Some(t) => t.to_owned(),
            None => std::fs::read_to_string(data_dir.join("admin-token"))
                .unwrap()
                .trim()
                .to_owned(),
        };
        Server {
            child,
            addr,
            stdout,
            stderr,
            stderr_reader: Some(stderr_reader),
            client: reqwest::Client::new(),
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A new ad account and an access token for it.
    async fn account_with_token(&self, name: &str) -> (String, String) {
        let (_, account) = self
            .call(
                reqwest::Method::POST,
                "/v5/ad_accounts",
                Some(json!({ "name": name })),
            )
            .await;
        let account = account["id"].as_str().unwrap().to_owned();
        let (_, token) = self
            .call(
                reqwest::Method::POST,
                "/v1/admin/access_tokens",
                Some(json!({"ad_account_ids": [account]})),
            )
            .await;
        let token = token["access_token"].as_str().unwrap().to_owned();
        (account, token)
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for the reader of standard error to take the last lines.
    fn drain(&mut self) {
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
    }

    /// Sends SIGTERM and returns the exit code.
    fn stop(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        self.drain();
        let logs = self.stderr.lock().unwrap().clone();
        (status.code(), logs)
    }

    fn kill9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.drain();
        let logs = self.stderr.lock().unwrap().clone();
        logs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a pipe into a string on a thread; reports the listening address
/// when the log line that carries it goes by.
fn collect(
    pipe: impl Read + Send + 'static,
    ready: Option<mpsc::Sender<SocketAddr>>,
) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&out);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let (Some(tx), true) = (&ready, line.contains("adloom is listening")) {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse().ok())
                    .expect("address in the listening line");
                let _ = tx.send(addr);
            }
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    (out, reader)
}

async fn seed(server: &Server) -> String {
    let (s, _) = server
        .call(
            reqwest::Method::POST,
            "/v1/admin/people",
            Some(
                json!([{"user_id": "u1", "email": "Durable.Person@Example.com", "country": "FR"}]),
            ),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = server
        .call(
            reqwest::Method::PUT,
            "/v1/people/u1/ads_settings",
            Some(json!({"use_partner_info": true})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, account) = server
        .call(
            reqwest::Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Shoes Inc"})),
        )
        .await;
    assert_eq!(s, 201);
    account["id"].as_str().unwrap().to_owned()
}

async fn check_seeded(server: &Server, account: &str) {
    let (s, person) = server
        .call(reqwest::Method::GET, "/v1/admin/people/u1", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(person["country"], "FR");
    let (_, setting) = server
        .call(reqwest::Method::GET, "/v1/people/u1/ads_settings", None)
        .await;
    assert_eq!(setting["use_partner_info"], true);
    assert_eq!(setting["effective"]["partner_targeting"], true);
    let (s, got) = server
        .call(
            reqwest::Method::GET,
            &format!("/v5/ad_accounts/{account}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(got["name"], "Shoes Inc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_makes_an_admin_token_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let (s, _) = server
        .call(reqwest::Method::GET, "/v5/ad_accounts", None)
        .await;
    assert_eq!(s, 200);
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let token = server.token.clone();
    let printed = server.stdout.lock().unwrap().clone();
    assert!(
        printed.contains(&token),
        "the token is printed once: {printed}"
    );
    let (code, logs) = server.stop();
    assert_eq!(code, Some(0), "{logs}");
    assert!(!logs.contains(&token), "the token never reaches the log");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("admin-token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "admin-token is readable by its owner only");

    let again = Server::start(dir.path(), None);
    assert_eq!(again.token, token);
    let (s, _) = again
        .call(reqwest::Method::GET, "/v5/ad_accounts", None)
        .await;
    assert_eq!(s, 200);
    assert!(
        !again.stdout.lock().unwrap().contains(&token),
        "printed only the first time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    let account = seed(&server).await;
    server.kill9();
    let server = Server::start(dir.path(), Some("admin-secret"));
    check_seeded(&server, &account).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    let account = seed(&server).await;
    let (code, logs) = server.stop();
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("stopped cleanly"), "{logs}");
    let wal = dir.path().join("adloom.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL was checkpointed"
    );
    let server = Server::start(dir.path(), Some("admin-secret"));
    check_seeded(&server, &account).await;
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_identifiers_never_reach_the_data_dir_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    let emails = ["Json.Person@Example.com", "ndjson.person@example.org"];
    server
        .call(
            reqwest::Method::POST,
            "/v1/admin/people",
            Some(json!([{"user_id": "u1", "email": emails[0], "phone": "+1 (415) 555-0199"}])),
        )
        .await;
    let ndjson = format!(
        "{{\"user_id\": \"u2\", \"email\": \"{}\", \"phone\": \"+44 20 7946 0999\"}}\n",
        emails[1]
    );
    let res = server
        .client
        .post(server.url("/v1/admin/people"))
        .bearer_auth(&server.token)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // A bad record must not echo the value back into the log either.
    server
        .call(
            reqwest::Method::POST,
            "/v1/admin/people",
            Some(json!([{"user_id": "u3", "email": "broken-address-at-example"}])),
        )
        .await;
    let logs = server.kill9();
    let needles = [
        emails[0].to_lowercase(),
        emails[1].to_owned(),
        "4155550199".to_owned(),
        "442079460999".to_owned(),
        "broken-address-at-example".to_owned(),
    ];
    for file in all_files(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).to_lowercase();
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{needle} found in {}",
                file.display()
            );
        }
    }
    for needle in &needles {
        assert!(
            !logs.to_lowercase().contains(needle.as_str()),
            "{needle} found in the log"
        );
    }
    assert!(
        logs.contains("/v1/admin/people"),
        "the log does record requests: {logs}"
    );
}

#[test]
fn hash_prints_the_digests_advertisers_upload() {
    let mut child = Command::new(BIN)
        .args(["hash", "--kind", "email"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b" Alice@Example.COM \n\nbob.smith+news@gmail.com\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976\n\
         43e239e8f631a2e99084f78d22150de521753231fc16c250f20550081d8eeb7b\n"
    );
    let bad = Command::new(BIN)
        .args(["hash", "--kind", "phone"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut bad = bad;
    bad.stdin
        .take()
        .unwrap()
        .write_all(b"not a phone\n")
        .unwrap();
    let out = bad.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_bad_config_file_exits_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("adloom.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nno_such_key = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
}

/// The Python interpreter of the virtualenv that holds Pinterest's official
/// SDK: `ADLOOM_SDK_PYTHON`, or the one `scripts/test` makes.
fn sdk_python() -> PathBuf {
    if let Some(p) = std::env::var_os("ADLOOM_SDK_PYTHON") {
        return PathBuf::from(p);
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sdk-venv/bin/python");
    assert!(
        default.exists(),
        "Pinterest's SDK is not installed: run the tests with scripts/test, which makes {}",
        default.display()
    );
    default
}

/// Pinterest's official Python SDK (`pinterest-api-sdk`) drives every
/// resource adloom claims (tests/sdk/sdk_test.py): campaigns, ad groups,
/// pins, ads, keywords, conversion tags and events, customer lists,
/// audiences and analytics. The wire format is proven against a client
/// adloom did not write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinterest_sdk_drives_every_claimed_resource() {
    let python = sdk_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    let emails: Vec<String> = (0..120).map(|i| format!("person{i}@example.com")).collect();
    let people: Vec<Value> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"user_id": format!("u{i}"), "email": e, "country": "US", "locale": "en-US"}))
        .collect();
    let (s, _) = server
        .call(
            reqwest::Method::POST,
            "/v1/admin/people",
            Some(json!(people)),
        )
        .await;
    assert_eq!(s, 200);
    let (account, token) = server.account_with_token("SDK").await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk/sdk_test.py");
    let out = Command::new(&python)
        .arg(script)
        .env("PINTEREST_API_URI", server.url("/v5"))
        .env("PINTEREST_ACCESS_TOKEN", &token)
        .env("AD_ACCOUNT_ID", &account)
        .env("EMAILS", emails.join(","))
        .env("ADLOOM_URL", server.url(""))
        .env("ADLOOM_ADMIN_TOKEN", "admin-secret")
        .output()
        .expect("the SDK's Python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("sdk: 5 passed, 0 failed"), "{stdout}");
}

/// `adloom world` builds a small world through the API; a second run leaves
/// it alone; `serve` then decides over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_makes_a_world_once_and_serve_decides_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let world = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["world", "--data-dir"])
            .arg(dir.path())
            .args(["--people", "400", "--accounts", "4", "--ad-groups", "40"])
            .args(["--audiences", "4", "--list-size", "300"])
            .args(extra)
            .env_remove("ADLOOM_ADMIN_TOKEN")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(world(&[]).contains("40 ad groups"));
    assert!(world(&["--seed", "2"]).contains("left as it is"));

    let server = Server::start(dir.path(), None);
    let (status, accounts) = server
        .call(reqwest::Method::GET, "/v5/ad_accounts", None)
        .await;
    assert_eq!(status, 200);
    let accounts = accounts["items"].as_array().unwrap();
    assert_eq!(accounts.len(), 4);
    let account = accounts[0]["id"].as_str().unwrap();
    let (_, audiences) = server
        .call(
            reqwest::Method::GET,
            &format!("/v5/ad_accounts/{account}/audiences"),
            None,
        )
        .await;
    assert_eq!(audiences["items"].as_array().unwrap().len(), 1);
    let (_, groups) = server
        .call(
            reqwest::Method::GET,
            &format!("/v5/ad_accounts/{account}/ad_groups"),
            None,
        )
        .await;
    assert_eq!(groups["items"].as_array().unwrap().len(), 10);
    let mut filled = 0;
    for user in 0..20 {
        let (status, d) = server
            .call(
                reqwest::Method::POST,
                "/v1/decisions",
                Some(json!({"user_id": format!("u{user}"), "placement": "home_feed", "count": 3})),
            )
            .await;
        assert_eq!(status, 200, "{d}");
        filled += d["ads"].as_array().unwrap().len();
    }
    assert!(filled > 0, "the world's ad groups deliver");
}

/// A browser's cookies, kept by hand over reqwest.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for set in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.0.retain(|(name, _)| name != k);
            if !set.contains("Max-Age=0") {
                self.0.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    fn get(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).unwrap().1.clone()
    }
}

/// `adloom demo` builds its world once and tells the help page's story
/// over plain HTTP: Alice looked at shoes and did not buy, so Shoes Inc.
/// reaches her "because she visited their website"; once she switches
/// "Use info from our ad partners" to No, the shoe ad is gone, other ads
/// stay, and no partner reason is left. (The browser test walks the same
/// story in Chromium.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_the_help_pages_story() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Server::start_demo(dir.path());
    let addr = demo.addr;
    // Standard output is read by its own thread: the URLs, printed before
    // the listening line on standard error, may land a moment after it.
    let printed = || demo.stdout.lock().unwrap().contains("/demo/feed");
    for _ in 0..200 {
        if printed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(printed(), "prints its URLs");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    let mut jar = Jar::default();
    let get = |jar: &Jar, path: &str| {
        client
            .get(format!("{base}{path}"))
            .header(reqwest::header::COOKIE, jar.header())
            .send()
    };
    let res = get(&jar, "/demo").await.unwrap();
    jar.keep(&res);
    assert!(res.text().await.unwrap().contains("Alice"));
    // A form as the page posts it: with this browser's CSRF token.
    let post = |jar: &Jar, path: &str, field: (&'static str, &'static str)| {
        client
            .post(format!("{base}{path}"))
            .header(reqwest::header::COOKIE, jar.header())
            .form(&[("csrf", jar.get("adloom_csrf")), (field.0, field.1.into())])
            .send()
    };
    let res = post(&jar, "/demo/person", ("user_id", "alice"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    jar.keep(&res);

    let feed = get(&jar, "/demo/feed").await.unwrap().text().await.unwrap();
    let ads = feed_ads(&feed);
    let shoes = ads
        .iter()
        .find(|ad| ad["advertiser"] == "Shoes Inc.")
        .unwrap_or_else(|| panic!("the shoe ad: {feed}"));
    assert!(shoes["why"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["text"] == "Shoes Inc. wants to reach people who visited their website"));
    assert!(
        feed.contains(r#"src="/demo/feed.js""#),
        "the feed SDK renders them"
    );

    let settings = get(&jar, "/settings/ads")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(settings.contains("partner info is on for your ads"));
    let res = post(&jar, "/settings/ads", ("use_partner_info", "no"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    let feed = get(&jar, "/demo/feed").await.unwrap().text().await.unwrap();
    let ads = feed_ads(&feed);
    assert!(
        ads.iter().all(|ad| ad["advertiser"] != "Shoes Inc."),
        "{feed}"
    );
    assert!(!ads.is_empty(), "other ads stay: {feed}");
    for ad in &ads {
        for why in ad["why"].as_array().unwrap() {
            let kind = why["kind"].as_str().unwrap();
            for partner in ["website_visit", "customer_list", "conversion"] {
                assert!(!kind.starts_with(partner), "{why}");
            }
        }
    }
    assert!(demo.stderr.lock().unwrap().contains("demo world built"));

    // The operator's review queue holds the ad people reported, and a
    // fourth advertiser's empty account waits for Ads Manager.
    let (status, queue) = demo
        .call(
            reqwest::Method::GET,
            "/v1/admin/ad_reviews?status=PENDING",
            None,
        )
        .await;
    assert_eq!(status, 200, "{queue}");
    let waiting = queue["items"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{queue}");
    assert_eq!(
        waiting[0]["pin"]["title"],
        "Plant tonic: triple growth overnight"
    );
    assert!(demo
        .stdout
        .lock()
        .unwrap()
        .contains("Ads Manager from scratch"));
    let demo_file: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo.json")).unwrap()).unwrap();
    let newcomer = demo_file["new_advertiser_token"].as_str().unwrap();
    let mine = client
        .get(format!("{base}/v5/ad_accounts"))
        .bearer_auth(newcomer)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["name"], "Your shop");
    let campaigns = client
        .get(format!(
            "{base}/v5/ad_accounts/{}/campaigns",
            mine["items"][0]["id"].as_str().unwrap()
        ))
        .bearer_auth(newcomer)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        campaigns["items"],
        json!([]),
        "empty, to build in Ads Manager"
    );
    drop(demo);

    // A second start serves the same world without building it again.
    let again = Server::start_demo(dir.path());
    let logs = again.stderr.lock().unwrap().clone();
    assert!(!logs.contains("demo world built"), "{logs}");
}

/// The ads of a demo feed page: each slot carries its decision's ad as
/// JSON in `data-ad`, for the feed SDK to render.
fn feed_ads(html: &str) -> Vec<Value> {
    html.split(r#"data-ad=""#)
        .skip(1)
        .map(|rest| {
            let attribute = &rest[..rest.find('"').unwrap()];
            let json = attribute
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            serde_json::from_str(&json).unwrap()
        })
        .collect()
}

/// The same story in headless Chromium (Debian's package), driven by
/// playwright-core (`tests/browser/story.mjs`, installed by scripts/test).
/// Screenshots go to `target/screenshots`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Server::start_demo(dir.path());
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let demo_file: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo.json")).unwrap()).unwrap();
    let said = in_chromium(
        "story.mjs",
        &[
            format!("http://{}", demo.addr),
            shots.display().to_string(),
            demo_file["console_token"].as_str().unwrap().to_owned(),
        ],
    )
    .await;
    assert!(said.contains("ok: the shoe ad is gone"), "{said}");
    assert!(said.contains("ok: the console draws its charts"), "{said}");
    assert!(
        said.contains("ok: the settings page names the shop and how it has the info"),
        "{said}"
    );
    for shot in [
        "feed.png",
        "settings-advertisers.png",
        "settings.png",
        "feed-after-no.png",
        "console.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot}");
    }
}

/// The feed SDK (`/sdk/feed.js`) in headless Chromium
/// (`tests/browser/viewability.mjs`): an ad never scrolled into view bills
/// nothing, one scrolled past in under a second bills nothing, one in view
/// for a second bills one impression; a click bills the click; "Hide this
/// ad" reaches the platform's hook. The page's clock is the test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_sdk_bills_only_viewable_ads_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    let said = in_chromium(
        "viewability.mjs",
        &[format!("http://{}", server.addr), "admin-secret".to_owned()],
    )
    .await;
    assert!(said.contains("viewability: passed"), "{said}");
}

/// Ads Manager in headless Chromium (`tests/browser/ads_manager.mjs`): an
/// advertiser goes from an empty account to a live ad reaching a customer
/// list without the API (the list hashed in the page, no plain identifier
/// on the wire), the operator approves it in manual review, a person hides
/// it; every page passes axe-core with no serious or critical violation.
/// Screenshots go to `target/screenshots`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ads_manager_from_an_empty_account_to_a_hidden_ad_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_config(dir.path(), "ad_review = \"manual\"\n");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let said = in_chromium(
        "ads_manager.mjs",
        &[
            format!("http://{}", server.addr),
            server.token.clone(),
            shots.display().to_string(),
        ],
    )
    .await;
    assert!(said.contains("ads manager: passed"), "{said}");
}

/// Runs a browser test of tests/browser (playwright-core, installed by
/// scripts/test) with these arguments; fails with what it said unless it
/// passed, else returns what it said.
async fn in_chromium(script: &str, args: &[String]) -> String {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run the tests with scripts/test"
    );
    let out = tokio::process::Command::new("node")
        .arg(browser.join(script))
        .args(args)
        .output()
        .await
        .expect("node runs the browser test");
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    said
}

/// `adloom import people` and `adloom lists upload` against a running
/// adloom: CSV in, batches out, bad rows named, checkpoints honoured; the
/// list's records are hashed before they leave the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_people_and_upload_a_list_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("admin-secret"));
    let url = format!("http://{}", server.addr);
    let work = tempfile::tempdir().unwrap();
    let people = work.path().join("people.csv");
    let mut csv = String::from("user_id,email,country,interests,age\n");
    for i in 0..7 {
        csv.push_str(&format!(
            "c{i},person{i}@example.com,US,shoes;running,3{i}\n"
        ));
    }
    csv.push_str("c7,person7@example.com,US,,old\n");
    std::fs::write(&people, csv).unwrap();
    let adloom = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("ADLOOM_ADMIN_TOKEN")
            .env_remove("ADLOOM_TOKEN")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let file = people.to_str().unwrap();
    let said = adloom(&[
        "import",
        "people",
        file,
        "--url",
        &url,
        "--token",
        "admin-secret",
        "--batch",
        "3",
    ]);
    assert!(
        said.contains("8 rows read, 1 rejected, 7 people sent"),
        "{said}"
    );
    assert!(
        said.contains("line 9: age \"old\" is not a number"),
        "{said}"
    );
    let (status, person) = server
        .call(reqwest::Method::GET, "/v1/admin/people/c4", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(person["interests"], json!(["running", "shoes"]), "sorted");

    // An interrupted run left a checkpoint after line 6: the next run sends
    // only the rest.
    let len = std::fs::metadata(&people).unwrap().len();
    std::fs::write(
        work.path().join("people.csv.adloom-import"),
        format!("{{\"file_len\": {len}, \"lines_done\": 6}}"),
    )
    .unwrap();
    let said = adloom(&[
        "import",
        "people",
        file,
        "--url",
        &url,
        "--token",
        "admin-secret",
    ]);
    assert!(said.contains("2 people sent (6 lines skipped"), "{said}");
    assert!(!work.path().join("people.csv.adloom-import").exists());

    let (account, token) = server.account_with_token("Shop").await;
    let list = work.path().join("buyers.csv");
    let mut rows = String::from("email\n");
    for i in 0..5 {
        rows.push_str(&format!("Person{i}@Example.com\n"));
    }
    rows.push_str("not-an-email\n");
    std::fs::write(&list, rows).unwrap();
    let said = adloom(&[
        "lists",
        "upload",
        list.to_str().unwrap(),
        "--ad-account",
        &account,
        "--token",
        &token,
        "--url",
        &url,
        "--batch",
        "2",
    ]);
    assert!(
        said.contains("(buyers): 6 rows read, 1 rejected, 5 hashed records uploaded"),
        "{said}"
    );
    assert!(said.contains("status TOO_SMALL"), "{said}");
    let logs = server.stderr.lock().unwrap().clone();
    assert!(
        !logs.to_lowercase().contains("person3@example.com"),
        "plain emails never reach the server's log"
    );
}

/// `adloom load` sets up its world, drives a running server at a fixed
/// rate for a bounded time, and reports each kind of request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tool_drives_a_server_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some("load-admin"));
    let out = Command::new(BIN)
        .args(["load", "--url", &format!("http://{}", server.addr)])
        .args([
            "--token",
            "load-admin",
            "--rate",
            "100",
            "--seconds",
            "2",
            "--every",
            "1",
        ])
        .arg("--pid")
        .arg(server.child.id().to_string())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for kind in ["Decision", "Impression", "Pixel", "Conversions"] {
        let line = said
            .lines()
            .find(|l| l.starts_with(kind))
            .unwrap_or_else(|| panic!("{kind} in {said}"));
        assert!(line.trim_end().ends_with(" 0"), "no errors: {line}");
    }
    assert!(said.contains("server resident memory at the end"));
    let out = Command::new(BIN)
        .args(["load", "--url", "http://203.0.113.9:8080", "--token", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "only loopback");
}

/// Slow-loris: connections that send nothing, or only part of a request's
/// head, are closed by the server after `header_read_timeout_secs`; while
/// they hold every connection slot (`max_connections`), a new client
/// waits, and is answered once they are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_dribbling_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_config(
        dir.path(),
        "header_read_timeout_secs = 1\nmax_connections = 4\n",
    );
    let mut held = Vec::new();
    for i in 0..4 {
        let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 1 {
            socket
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: adloom\r\n")
                .await
                .unwrap();
        }
        held.push(socket);
    }
    // A fifth client, queued behind the four.
    let waiting = tokio::spawn({
        let url = server.url("/healthz");
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    for (i, mut socket) in held.into_iter().enumerate() {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut rest))
            .await
            .unwrap_or_else(|_| panic!("connection {i} was left open"));
        // Closed, possibly after a 408; never a real answer.
        assert!(
            closed.is_err() || !String::from_utf8_lossy(&rest).contains("200 OK"),
            "connection {i}: {}",
            String::from_utf8_lossy(&rest)
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the waiting client was answered")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// `adloom serve` on PostgreSQL (`store = "postgres://..."`): the schema is
/// made at start-up, writes are acknowledged once committed, and a node
/// killed with SIGKILL and started again finds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_keeps_acknowledged_writes() {
    let db = cluster::Database::new("serve").await;
    let config = format!("store = \"{}\"\n", db.url);

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_config(dir.path(), &config);
    let account = seed(&server).await;
    let logs = server.kill9();
    assert!(logs.contains("applied schema migration"), "{logs}");
    let server = Server::start_with_config(dir.path(), &config);
    check_seeded(&server, &account).await;
    assert!(db.tables().await > 10, "adloom's tables are in PostgreSQL");
    drop(server);
    db.drop_schema().await;
}

/// Today's date plus `offset` days, UTC, as the reports take it.
pub fn date(offset: i64) -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    adloom_core::report::format_date(days + offset)
}
