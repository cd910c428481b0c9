//! The HTTP API end to end through the router, without a socket, on a real
//! embedded store in a temporary directory.

mod abuse;
mod access;
mod ad_accounts;
mod admin_pages;
mod ads_manager;
mod audiences;
mod consent_strings;
mod conversions;
mod decisions;
mod errors;
mod observability;
mod openapi;
mod pages;
mod pair;
mod people;
mod pixel;
mod privacy;
mod promotions;
mod review;
mod settings;
mod tag_js;
mod transparency;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use adloom_engine::Clock;
use adloom_http::{router, AppState, Config};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const ADMIN: &str = "test-admin-token";

/// A clock the test moves by hand.
pub struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct App {
    router: Router,
    /// The engine behind the router, for what runs in the background
    /// (retention).
    pub engine: adloom_engine::Engine,
    /// What the router serves, for what calls the API in-process
    /// (`adloom_http::bulk`).
    pub state: AppState,
    pub store: std::sync::Arc<dyn adloom_store::Store>,
    pub clock: Arc<TestClock>,
    pub dir: tempfile::TempDir,
}

/// The API over a new engine on `store`, answering tag pixels from a
/// journal in `dir` as `adloom serve` does.
fn state_of(
    store: &Arc<dyn adloom_store::Store>,
    config: Config,
    clock: &Arc<TestClock>,
    dir: &std::path::Path,
) -> AppState {
    let engine = adloom_engine::Engine::new(store.clone(), config.engine.clone())
        .with_clock(clock.clone())
        .with_pixel_journal(&dir.join("pixels.journal"))
        .unwrap();
    AppState::over(engine, config, ADMIN)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    /// The body as sent (an image's bytes).
    pub bytes: bytes::Bytes,
}

impl Default for App {
    fn default() -> App {
        App::with_config(|_| {})
    }
}

impl App {
    pub fn new() -> App {
        App::default()
    }

    /// An app whose budgets and frequency caps are held in the Redis at
    /// `url`, as one of several nodes.
    pub async fn with_shared_counters(url: &str) -> App {
        let shared = adloom_store::counters::connect(url, "adloom-test")
            .await
            .unwrap();
        App::with_engine(|engine| engine.with_shared_counters(shared))
    }

    /// An app whose engine `setup` finishes, as `adloom serve` does with
    /// what the operator configured (shared counters, an image fetcher).
    pub fn with_engine(setup: impl FnOnce(adloom_engine::Engine) -> adloom_engine::Engine) -> App {
        let app = App::new();
        let mut config = Config {
            spool_dir: app.dir.path().to_owned(),
            ..Config::default()
        };
        // As `adloom serve` sets it: adloom's own address.
        config.engine.review.own_origin = Some(config.public_url.clone());
        let engine = adloom_engine::Engine::new(app.store.clone(), config.engine.clone())
            .with_clock(app.clock.clone())
            // Not the journal of `app`'s own engine, still open here.
            .with_pixel_journal(&app.dir.path().join("pixels-2.journal"))
            .unwrap();
        let state = AppState::over(setup(engine), config, ADMIN);
        App {
            engine: state.engine.clone(),
            router: router(state.clone()),
            state,
            ..app
        }
    }

    pub fn with_config(tweak: impl FnOnce(&mut Config)) -> App {
        let dir = tempfile::tempdir().unwrap();
        let store = adloom_store::open(&format!(
            "sqlite://{}",
            dir.path().join("adloom.db").display()
        ))
        .unwrap();
        let mut config = Config {
            spool_dir: dir.path().to_owned(),
            ..Config::default()
        };
        tweak(&mut config);
        let clock = Arc::new(TestClock(AtomicI64::new(1_700_000_000)));
        let state = state_of(&store, config, &clock, dir.path());
        App {
            engine: state.engine.clone(),
            router: router(state.clone()),
            state,
            store,
            clock,
            dir,
        }
    }

    /// A fresh server process on the same database, as after a restart
    /// (keep `self` alive: it owns the directory).
    pub fn reopen(&self) -> App {
        let store = adloom_store::open(&format!(
            "sqlite://{}",
            self.dir.path().join("adloom.db").display()
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            spool_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let clock = Arc::new(TestClock(AtomicI64::new(self.clock.now())));
        let state = state_of(&store, config, &clock, dir.path());
        App {
            engine: state.engine.clone(),
            router: router(state.clone()),
            state,
            store,
            clock,
            dir,
        }
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The app's clock now.
    pub fn now(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
            bytes,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.call(method, uri, Some(ADMIN), body).await
    }

    /// Creates an ad account and returns its id.
    pub async fn ad_account(&self, name: &str) -> String {
        let r = self
            .admin(Method::POST, "/v5/ad_accounts", Some(json!({"name": name})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates an access token for these accounts.
    pub async fn token(&self, ad_account_ids: &[&str]) -> String {
        let r = self
            .admin(
                Method::POST,
                "/v1/admin/access_tokens",
                Some(json!({"ad_account_ids": ad_account_ids})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn upsert(&self, people: Value) -> Reply {
        self.admin(Method::POST, "/v1/admin/people", Some(people))
            .await
    }
}

/// A browser: the cookies it was given, sent back with every request.
pub struct Browser<'a> {
    app: &'a App,
    pub cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a App) -> Browser<'a> {
        Browser {
            app,
            cookies: Vec::new(),
        }
    }

    pub async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Reply {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = if cookie.is_empty() {
            req
        } else {
            req.header(header::COOKIE, cookie.join("; "))
        };
        let reply = self.app.send(req.body(body).unwrap()).await;
        for set in reply.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        reply
    }

    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(Request::get(uri), Body::empty()).await
    }

    pub async fn post_form(&mut self, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(body),
        )
        .await
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The page's CSRF field (the same as this browser's cookie).
    pub fn csrf(&self) -> String {
        self.cookie("adloom_csrf").unwrap().to_owned()
    }
}

/// Asserts the API's error shape with the expected status and code.
pub fn assert_error(r: &Reply, status: StatusCode, code: u64) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["code"], json!(code), "{:?}", r.body);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn healthz_answers() {
    let app = App::new();
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
}
