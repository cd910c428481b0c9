//! Rate limits on the ingestion endpoints (tag pixels, conversion events,
//! people and customer-list uploads): per bearer token and per client
//! address, each a token bucket (governor) in requests per minute, as
//! Pinterest publishes its limits, with a burst of one minute's worth. Over the limit: 429 in Pinterest's shape (code 8) with
//! Retry-After. Off (0) unless configured.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::token_hash;
use crate::error::ApiError;
use crate::AppState;

/// Forget idle keys this often (in requests), so the maps stay small.
const RETAIN_EVERY: u64 = 10_000;

pub struct Limits {
    per_token: Option<DefaultKeyedRateLimiter<String>>,
    per_ip: Option<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    pixels_per_ip: Option<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    seen: AtomicU64,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl Limits {
    pub fn new(
        per_token_per_minute: u32,
        per_ip_per_minute: u32,
        pixels_per_second: u32,
    ) -> Limits {
        Limits {
            per_token: limiter(per_token_per_minute),
            per_ip: limiter(per_ip_per_minute),
            pixels_per_ip: NonZeroU32::new(pixels_per_second).map(|n| {
                let burst = n.saturating_mul(NonZeroU32::new(3).expect("3 is not zero"));
                RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))
            }),
            seen: AtomicU64::new(0),
        }
    }

    /// Whether one more pixel from this address is within its limit. A
    /// browser never sends hundreds a second; a script pouring pixels into
    /// someone's audiences does.
    pub fn pixel_allowed(&self, ip: Option<std::net::IpAddr>) -> bool {
        match (&self.pixels_per_ip, ip) {
            (Some(l), Some(ip)) => {
                if self.seen.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
                    l.retain_recent();
                }
                l.check_key(&ip).is_ok()
            }
            _ => true,
        }
    }

    /// How long to wait, if this request is over a limit.
    fn check(&self, token: Option<String>, ip: Option<std::net::IpAddr>) -> Option<Duration> {
        if self.seen.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            if let Some(l) = &self.per_token {
                l.retain_recent();
            }
            if let Some(l) = &self.per_ip {
                l.retain_recent();
            }
        }
        // The limiter's own clock: making one per request calibrates it
        // each time (a few percent of a pixel's cost).
        if let (Some(l), Some(ip)) = (&self.per_ip, ip) {
            if let Err(wait) = l.check_key(&ip) {
                return Some(wait.wait_time_from(l.clock().now()));
            }
        }
        if let (Some(l), Some(token)) = (&self.per_token, token) {
            if let Err(wait) = l.check_key(&token) {
                return Some(wait.wait_time_from(l.clock().now()));
            }
        }
        None
    }
}

/// Load shedding logs a line a second at most, with how many requests it
/// shed since the last: a line per shed request would flood the log
/// exactly when the server is busiest.
#[derive(Default)]
pub struct ShedLog {
    count: AtomicU64,
    last_second: std::sync::atomic::AtomicI64,
}

impl ShedLog {
    pub fn shed(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if let Some(shed) = self.shed_at(now) {
            tracing::warn!(
                shed,
                "at capacity: requests answered 503 since the last report"
            );
        }
    }

    /// Counts one shed request at `now` (seconds); the count to report, if
    /// this is the first of a new second.
    fn shed_at(&self, now: i64) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let last = self.last_second.load(Ordering::Relaxed);
        let first_of_second = now > last
            && self
                .last_second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        first_of_second.then(|| self.count.swap(0, Ordering::Relaxed))
    }
}

/// Whether a request feeds data in: pixels, conversion events, people,
/// customer lists.
fn is_ingestion(method: &Method, path: &str) -> bool {
    path == "/v3/"
        || (method == Method::POST && path == "/v1/admin/people")
        || (method != Method::GET
            && path.starts_with("/v5/ad_accounts/")
            && (path.ends_with("/events") || path.contains("/customer_lists")))
}

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !is_ingestion(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(token_hash);
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match over_limit(&state, token, ip) {
        None => next.run(req).await,
        Some(refused) => refused,
    }
}

/// The answer to an ingestion request over its token's or its address's
/// limit, if it is.
pub(crate) fn over_limit(
    state: &AppState,
    token: Option<String>,
    ip: Option<std::net::IpAddr>,
) -> Option<Response> {
    let wait = state.limits.check(token, ip)?;
    state.engine.metrics.rate_limited();
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    Some(
        ApiError::rate_limited(
            "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate limits within a short time window.",
            secs,
        )
        .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingestion_is_pixels_events_people_and_lists() {
        assert!(is_ingestion(&Method::GET, "/v3/"));
        assert!(is_ingestion(&Method::POST, "/v5/ad_accounts/1/events"));
        assert!(is_ingestion(
            &Method::PATCH,
            "/v5/ad_accounts/1/customer_lists/2"
        ));
        assert!(is_ingestion(&Method::POST, "/v1/admin/people"));
        assert!(!is_ingestion(
            &Method::GET,
            "/v5/ad_accounts/1/customer_lists"
        ));
        assert!(!is_ingestion(&Method::POST, "/v1/decisions"));
    }

    #[test]
    fn each_key_has_its_own_bucket() {
        let limits = Limits::new(2, 0, 0);
        let a = || Some("a".to_owned());
        assert!(limits.check(a(), None).is_none());
        assert!(limits.check(a(), None).is_none());
        assert!(limits.check(a(), None).is_some(), "a's burst is spent");
        assert!(limits.check(Some("b".into()), None).is_none());
        assert!(Limits::new(0, 0, 0).check(a(), None).is_none(), "off");
    }

    /// Issue 13, finding 14: one line a second, with a count.
    #[test]
    fn shedding_reports_once_a_second() {
        let log = ShedLog::default();
        assert_eq!(log.shed_at(10), Some(1));
        assert!((0..99).all(|_| log.shed_at(10).is_none()));
        assert_eq!(log.shed_at(11), Some(100));
        assert_eq!(log.shed_at(11), None);
    }

    #[test]
    fn pixels_per_address_have_a_burst_of_three_seconds() {
        let limits = Limits::new(0, 0, 2);
        let ip = Some(std::net::IpAddr::from([192, 0, 2, 1]));
        let allowed = (0..10).filter(|_| limits.pixel_allowed(ip)).count();
        assert_eq!(allowed, 6);
        assert!(limits.pixel_allowed(Some(std::net::IpAddr::from([192, 0, 2, 2]))));
        assert!(limits.pixel_allowed(None), "an address unknown: no limit");
        assert!(
            (0..100).all(|_| Limits::new(0, 0, 0).pixel_allowed(ip)),
            "off"
        );
    }
}
