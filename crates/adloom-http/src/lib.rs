//! adloom's HTTP service: maps requests to the engine (`adloom-engine`)
//! and back.
//!
//! Architecture invariant: this is the only crate that knows about HTTP and
//! Pinterest's JSON wire shapes. Handlers parse, call one engine or core
//! function or store call through the engine, and map the result; state
//! and background work live in the engine, the rules in `adloom-core`.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn adloom_store::Store>) {
//! let state = adloom_http::AppState::new(store, adloom_http::Config::default(), "admin-token");
//! let app = adloom_http::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adloom_engine::Engine;
use adloom_store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

mod ad_accounts;
mod admin_pages;
mod audiences;
pub mod auth;
pub mod bulk;
mod console;
mod conversions;
pub mod demo;
pub mod error;
mod extract;
mod feedback;
/// The fuzz targets' entry points; its tests replay the committed corpus.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod keywords;
mod limits;
mod list_upload;
mod media;
mod openapi;
mod pages;
mod pair;
mod people;
mod pixel;
mod promotions;
mod reports;
mod reviews;
pub mod serving;
mod settings;

pub use auth::Auth;

/// The service's settings; the binary fills them from flags, environment
/// and the config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The engine's own: consent defaults, the reserve price, refresh and
    /// reporting periods.
    pub engine: adloom_engine::Config,
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest streamed import (NDJSON people), in bytes.
    pub max_import_bytes: u64,
    /// Longest time one request may take, body upload included.
    pub request_timeout: Duration,
    /// The URL browsers reach adloom at, for the tag's code snippet.
    pub public_url: String,
    /// Where streamed imports are spooled (hashed records only) before they
    /// are applied in one transaction.
    pub spool_dir: PathBuf,
    /// Set by `adloom demo`: serve the demo's feed and shop.
    pub demo: Option<demo::DemoSite>,
    /// Requests handled at once; past this, 503 with Retry-After.
    pub max_in_flight: usize,
    /// Ingestion requests per minute per bearer token, and per client
    /// address (a minute's worth may come at once); 0 for no limit.
    pub rate_limit_per_token: u32,
    pub rate_limit_per_ip: u32,
    /// Tag pixels per second from one client address, with a burst of
    /// three seconds' worth; past it a pixel still gets its GIF but is not
    /// recorded (counted per tag in the console). 0 for no limit.
    pub pixel_rate_limit_per_ip: u32,
    /// New customer lists, and new audiences, per ad account per UTC day:
    /// each one is another noisy answer about who is on the platform.
    pub max_new_lists_per_day: u64,
    pub max_new_audiences_per_day: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            engine: adloom_engine::Config::default(),
            max_body_bytes: 4 * 1024 * 1024,
            max_import_bytes: 1024 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            public_url: "http://127.0.0.1:8080".to_owned(),
            spool_dir: std::env::temp_dir(),
            demo: None,
            max_in_flight: 1024,
            rate_limit_per_token: 0,
            rate_limit_per_ip: 0,
            pixel_rate_limit_per_ip: 20,
            max_new_lists_per_day: 100,
            max_new_audiences_per_day: 100,
        }
    }
}

/// What every handler can reach. Cloned for every request (and more than
/// once on its way through the middleware), so it is one `Arc`: a clone is
/// one reference count, whatever the state holds.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct AppStateInner {
    /// Everything that keeps state or runs in the background.
    pub engine: Engine,
    pub config: Arc<Config>,
    pub auth: Auth,
    /// One permit per request in flight.
    in_flight: Arc<tokio::sync::Semaphore>,
    limits: Arc<limits::Limits>,
    shed_log: Arc<limits::ShedLog>,
}

impl AppState {
    /// A new engine on this store, and the API over it. Needs a tokio
    /// runtime.
    pub fn new(store: Arc<dyn Store>, config: Config, admin_token: &str) -> AppState {
        let engine = Engine::new(store, config.engine.clone());
        AppState::over(engine, config, admin_token)
    }

    /// The API over an engine already set up (shared counters, a bus).
    pub fn over(engine: Engine, config: Config, admin_token: &str) -> AppState {
        AppState(Arc::new(AppStateInner {
            engine,
            in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight)),
            limits: Arc::new(limits::Limits::new(
                config.rate_limit_per_token,
                config.rate_limit_per_ip,
                config.pixel_rate_limit_per_ip,
            )),
            shed_log: Arc::default(),
            config: Arc::new(config),
            auth: Auth::new(admin_token),
        }))
    }

    /// Tests set the engine's clock before the state is cloned.
    pub fn with_clock(self, clock: Arc<dyn adloom_engine::Clock>) -> AppState {
        let Ok(fields) = Arc::try_unwrap(self.0) else {
            panic!("an AppState is set up before it is cloned");
        };
        AppState(Arc::new(AppStateInner {
            engine: fields.engine.with_clock(clock),
            ..fields
        }))
    }

    /// A signing key for one purpose, derived from the installation's
    /// secret.
    pub async fn key(&self, purpose: &str) -> Result<Vec<u8>, error::ApiError> {
        Ok(self.engine.key(purpose).await?)
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
    let core_js: Arc<str> = pixel::core_js_for(&config.public_url).into();
    // Customer lists carry up to millions of records in one body.
    let import_limit = DefaultBodyLimit::max(config.max_import_bytes as usize);
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/sdk/feed.js", get(feed_sdk))
        .route("/media/{id}", get(media::serve))
        .route(
            "/tag/core.js",
            get(move || pixel::core_js(Arc::clone(&core_js))),
        )
        .merge(pages::routes())
        .merge(demo::routes())
        .merge(console::routes())
        .merge(admin_pages::routes())
        .route("/v1/admin/echo", post(echo))
        .route("/v1/admin/people", post(people::upsert))
        .route(
            "/v1/admin/people/{user_id}",
            get(people::get).delete(people::delete),
        )
        .route(
            "/v1/admin/access_tokens",
            post(ad_accounts::create_access_token).get(ad_accounts::list_access_tokens),
        )
        .route(
            "/v1/admin/access_tokens/{id}",
            delete(ad_accounts::revoke_access_token),
        )
        .route("/v1/admin/ad_reviews", get(reviews::queue))
        .route("/v1/admin/ad_reviews/{ad_id}", post(reviews::decide))
        .route(
            "/v1/people/{user_id}/ads_settings",
            get(settings::get).put(settings::put),
        )
        .route(
            "/v1/people/{user_id}/ads_settings/history",
            get(settings::history),
        )
        .route(
            "/v1/people/{user_id}/hidden_ads",
            get(feedback::list).post(feedback::hide),
        )
        .route(
            "/v1/people/{user_id}/hidden_ads/{scope}/{target_id}",
            delete(feedback::unhide),
        )
        .route("/v1/people/{user_id}/ad_reports", post(feedback::report))
        .route(
            "/v1/people/{user_id}/advertisers",
            get(feedback::advertisers),
        )
        .route(
            "/v5/ad_accounts",
            get(ad_accounts::list).post(ad_accounts::create),
        )
        .route("/v5/ad_accounts/{ad_account_id}", get(ad_accounts::get))
        .route(
            "/v5/ad_accounts/{ad_account_id}/conversion_tags",
            get(conversions::list_tags).post(conversions::create_tag),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/conversion_tags/{conversion_tag_id}",
            get(conversions::get_tag).patch(conversions::update_tag),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/events",
            post(conversions::send_events),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/customer_lists",
            get(audiences::list_lists)
                .post(audiences::create_list)
                .layer(import_limit),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/customer_lists/{customer_list_id}",
            get(audiences::get_list)
                .patch(audiences::update_list)
                .layer(import_limit),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/pair_matches",
            post(pair::start),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/pair_matches/{pair_match_id}/advertiser_ids",
            post(pair::advertiser_ids).layer(import_limit),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/pair_matches/{pair_match_id}/publisher_ids",
            get(pair::publisher_ids),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/pair_matches/{pair_match_id}/matched",
            post(pair::matched).layer(import_limit),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/audiences",
            get(audiences::list_audiences).post(audiences::create_audience),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/audiences/{audience_id}",
            get(audiences::get_audience).patch(audiences::update_audience),
        )
        .route("/v1/people/{user_id}/audiences", get(audiences::why))
        .route(
            "/v5/ad_accounts/{ad_account_id}/analytics",
            get(reports::account),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/campaigns/analytics",
            get(reports::campaigns),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups/analytics",
            get(reports::ad_groups),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ads/analytics",
            get(reports::ads),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/keywords",
            get(keywords::list)
                .post(keywords::create)
                .patch(keywords::update),
        )
        .route("/v1/decisions", post(serving::decide))
        .route("/v1/beacons/impression/{token}", get(serving::impression))
        .route("/v1/beacons/click/{token}", get(serving::click))
        .route("/v5/pins", post(promotions::create_pin))
        .route("/v5/pins/{pin_id}", get(promotions::get_pin))
        .route(
            "/v5/ad_accounts/{ad_account_id}/campaigns",
            get(promotions::list_campaigns)
                .post(promotions::create_campaigns)
                .patch(promotions::update_campaigns),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/campaigns/{campaign_id}",
            get(promotions::get_campaign),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups",
            get(promotions::list_ad_groups)
                .post(promotions::create_ad_groups)
                .patch(promotions::update_ad_groups),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups/{ad_group_id}",
            get(promotions::get_ad_group),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups/audience_sizing",
            post(promotions::audience_sizing),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ads",
            get(promotions::list_ads)
                .post(promotions::create_ads)
                .patch(promotions::update_ads),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ads/{ad_id}",
            get(promotions::get_ad),
        )
        .fallback(|| async { error::ApiError::from_status(StatusCode::NOT_FOUND) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_request,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            shed_load,
        ))
        .layer(axum::middleware::from_fn(refuse_long_uris))
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(axum::middleware::map_response(error::into_error_shape))
        // Every request gets an id (or keeps the caller's), logged with it
        // and echoed in the answer's `x-request-id`.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &axum::http::Request<axum::body::Body>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            },
        ).on_failure(
            |class: tower_http::classify::ServerErrorsFailureClass,
             latency: std::time::Duration,
             _: &tracing::Span| {
                // Shed load is reported once a second by `shed_load`.
                let shed = matches!(class, tower_http::classify::ServerErrorsFailureClass::StatusCode(s) if s == StatusCode::SERVICE_UNAVAILABLE);
                if !shed {
                    tracing::error!(%class, ?latency, "request failed");
                }
            },
        ))
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        // The tag pixel, past every layer above: `pixel::pixel` keeps what
        // of them it needs.
        .merge(
            Router::new()
                .route("/v3/", get(pixel::pixel))
                .with_state(state),
        )
}

/// Request ids: 96 random bits.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let bytes: [u8; 12] = rand::RngExt::random(&mut rand::rng());
        let id = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// The longest request target (path and query) the API takes. Pinterest's
/// own requests stay far below; a tag pixel has no need of more.
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// A longer request target gets 414 in the API's shape (the tag pixel,
/// served past this layer, answers its GIF and counts it as malformed).
async fn refuse_long_uris(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let long = req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().len() > MAX_URI_BYTES);
    if !long {
        return next.run(req).await;
    }
    error::ApiError::new(
        StatusCode::URI_TOO_LONG,
        414,
        format!("the request target is longer than {MAX_URI_BYTES} bytes"),
    )
    .into_response()
}

/// Past `max_in_flight` requests at once, answers 503 with Retry-After at
/// once rather than queueing: memory stays bounded and callers back off.
/// Health and readiness always answer, so an orchestrator can tell
/// "busy" from "down".
async fn shed_load(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let Ok(_permit) = state.in_flight.try_acquire() else {
        return shed(&state);
    };
    next.run(req).await
}

/// The answer to a request past capacity: 503 with Retry-After.
fn shed(state: &AppState) -> axum::response::Response {
    use axum::response::IntoResponse;
    state.engine.metrics.shed();
    state.shed_log.shed();
    let mut res = error::ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        503,
        "the server is at capacity; retry shortly",
    )
    .into_response();
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    res
}

/// Counts and times every request by its route's template.
async fn count_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let method = req.method().clone();
    let res = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    state.engine.metrics.request(
        route,
        method.as_str(),
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}

/// Counters for Prometheus; the operator's token is required.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format.", content_type = "text/plain", body = String),
        (status = 401, description = "No valid token.", body = error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = error::ErrorBody),
    )
)]
async fn render_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    _: extract::Admin,
) -> String {
    state.engine.metrics.render()
}

/// `POST /v1/admin/echo`: answers the JSON object it was sent, after the
/// same authentication and parsing a decision goes through. The floor that
/// load tests measure the decision API against.
#[utoipa::path(
    post,
    path = "/v1/admin/echo",
    operation_id = "echo",
    tag = "operations",
    request_body(content = Object, description = "Any JSON object."),
    responses(
        (status = 200, description = "The same object.", body = Object),
        (status = 400, description = "Not a JSON object.", body = error::ErrorBody),
        (status = 401, description = "No valid token.", body = error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = error::ErrorBody),
    )
)]
async fn echo(
    _: extract::Admin,
    extract::ApiJson(body): extract::ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> axum::Json<serde_json::Map<String, serde_json::Value>> {
    axum::Json(body)
}

/// `GET /readyz`'s body.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Readiness {
    /// The store answers.
    store: bool,
    /// People and the catalog are in memory.
    serving_state_loaded: bool,
}

/// `GET /readyz`: 200 once the store answers and the serving state
/// (people, catalog) is in memory; 503 until then.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "Not yet.", body = Readiness),
    )
)]
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (store, serving) = state.engine.readiness().await;
    let body = Readiness {
        store,
        serving_state_loaded: serving,
    };
    let status = if store && serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /sdk/feed.js`: the feed SDK (`assets/feed.js`), an ES module that
/// renders a decision's promoted pin and fires its impression beacon once
/// the ad is viewable.
#[utoipa::path(
    get,
    path = "/sdk/feed.js",
    operation_id = "sdk/feed",
    tag = "serving",
    description = "The feed SDK: an ES module for a platform's web feed. It renders a promoted pin from a decision (image, title, \"Promoted by ...\", \"Why am I seeing this ad?\" with the reasons and a link to the ads settings, \"Hide this ad\" and \"Report this ad\" hooks) and fires the impression beacon once at least half of the ad has been on screen for one continuous second.",
    security(()),
    responses((status = 200, description = "The module.", content_type = "text/javascript", body = String))
)]
async fn feed_sdk() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../assets/feed.js"),
    )
        .into_response()
}

/// 200 once the server is up; the server binds only after the store opened.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "operations",
    security(()),
    responses((status = 200, description = "`ok`.", content_type = "text/plain", body = String))
)]
async fn health() -> &'static str {
    "ok"
}
