//! What adloom counts and times, exposed in the Prometheus text format at
//! `GET /metrics` (operator only), through `metrics` and its Prometheus
//! exporter. Each `Engine` has its own recorder (not the process-global
//! one), so servers and tests in one process never mix their figures.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use metrics::{counter, histogram, with_local_recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// What the pixel endpoint did with a request. The pixel always answers
/// the GIF, so these counters are where rejections show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOutcome {
    Recorded,
    Duplicate,
    LoadPing,
    UnknownTag,
    Malformed,
    Failed,
    /// From a site its tag does not allow, or naming none.
    OtherSite,
    NoSite,
    /// Past the per-address rate limit.
    RateLimited,
}

impl PixelOutcome {
    pub fn label(self) -> &'static str {
        match self {
            PixelOutcome::Recorded => "recorded",
            PixelOutcome::Duplicate => "duplicate",
            PixelOutcome::LoadPing => "load_ping",
            PixelOutcome::UnknownTag => "unknown_tag",
            PixelOutcome::Malformed => "malformed",
            PixelOutcome::Failed => "failed",
            PixelOutcome::OtherSite => "other_site",
            PixelOutcome::NoSite => "no_site",
            PixelOutcome::RateLimited => "rate_limited",
        }
    }
}

/// Latency buckets, in seconds: 100 µs to 10 s.
const SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

/// A route's counter and latency histogram for one method and status class.
type RequestHandles = (metrics::Counter, metrics::Histogram);
/// Route → (method, status class) → handles.
type RequestTable = HashMap<String, HashMap<(&'static str, &'static str), RequestHandles>>;

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Handles registered once per route, method and status class: a
    /// request then costs two atomic updates, not a registry lookup with
    /// freshly built labels.
    requests: RwLock<RequestTable>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            requests: RwLock::default(),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    fn record(&self, f: impl FnOnce()) {
        with_local_recorder(&self.recorder, f)
    }

    /// One request answered: by route (its template, never the ids in it),
    /// method and status class.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let class = match status {
            100..=399 => "ok",
            400..=499 => "4xx",
            _ => "5xx",
        };
        // A fixed set of labels, whatever methods clients make up.
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            _ => "other",
        };
        let seconds = took.as_secs_f64();
        let known = adloom_core::sync::read(&self.requests)
            .get(route)
            .and_then(|by| by.get(&(method, class)))
            .map(|(c, h)| {
                c.increment(1);
                h.record(seconds);
            })
            .is_some();
        if known {
            return;
        }
        let handles: RequestHandles = with_local_recorder(&self.recorder, || {
            (
                counter!("adloom_http_requests_total", "route" => route.to_owned(), "method" => method, "status" => class),
                histogram!("adloom_http_request_duration_seconds", "route" => route.to_owned(), "method" => method),
            )
        });
        handles.0.increment(1);
        handles.1.record(seconds);
        adloom_core::sync::write(&self.requests)
            .entry(route.to_owned())
            .or_default()
            .insert((method, class), handles);
    }

    /// An ingestion request over its rate limit.
    pub fn rate_limited(&self) {
        self.record(|| counter!("adloom_requests_rate_limited_total").increment(1));
    }

    /// A request turned away because the server was at capacity.
    pub fn shed(&self) {
        self.record(|| counter!("adloom_requests_shed_total").increment(1));
    }

    pub fn pixel(&self, outcome: PixelOutcome) {
        self.record(|| {
            counter!("adloom_pixel_requests_total", "outcome" => outcome.label()).increment(1)
        });
    }

    pub fn conversion_events(&self, processed: usize, failed: usize) {
        self.record(|| {
            counter!("adloom_conversion_events_total", "status" => "processed")
                .increment(processed as u64);
            counter!("adloom_conversion_events_total", "status" => "failed")
                .increment(failed as u64);
        });
    }

    /// A forged, tampered, late or replayed beacon.
    pub fn beacon_rejected(&self) {
        self.record(|| counter!("adloom_beacons_rejected_total").increment(1));
    }

    /// A new customer list or audience refused by the daily cap.
    pub fn creation_capped(&self, kind: &'static str) {
        self.record(|| counter!("adloom_creations_capped_total", "kind" => kind).increment(1));
    }

    /// A write that answered nobody failed (`what`: `beacon_publish`,
    /// `beacon_apply`, `click_id`): it is logged where it happens, and
    /// counted here so that an operator sees it without reading logs.
    pub fn write_failed(&self, what: &'static str) {
        self.record(|| counter!("adloom_write_failures_total", "what" => what).increment(1));
    }

    /// A click that bills nothing (`engagement::InvalidClick`), by reason.
    pub fn invalid_click(&self, reason: &'static str) {
        self.record(|| counter!("adloom_invalid_clicks_total", "reason" => reason).increment(1));
    }

    /// A counted impression or click, and what it charged.
    pub fn beacon_counted(&self, kind: &'static str, charge_micros: u64) {
        self.record(|| {
            counter!("adloom_beacons_counted_total", "kind" => kind).increment(1);
            counter!("adloom_spend_micros_total").increment(charge_micros);
        });
    }

    /// A decision: how many ads it served, and why candidates lost (known
    /// when the request asked to explain).
    pub fn decision(&self, served: usize, losses: &[&'static str], took: Duration) {
        self.record(|| {
            let fill = if served > 0 { "filled" } else { "empty" };
            counter!("adloom_decisions_total", "fill" => fill).increment(1);
            counter!("adloom_ads_served_total").increment(served as u64);
            for reason in losses {
                counter!("adloom_candidates_lost_total", "reason" => *reason).increment(1);
            }
            histogram!("adloom_decision_duration_seconds").record(took.as_secs_f64());
        });
    }

    /// The serving snapshot was rebuilt.
    pub fn snapshot_rebuilt(&self, took: Duration) {
        self.record(|| {
            histogram!("adloom_snapshot_rebuild_duration_seconds").record(took.as_secs_f64())
        });
    }

    /// Another node's announced changes were applied here.
    pub fn remote_changes_applied(&self, took: Duration) {
        self.record(|| {
            histogram!("adloom_remote_changes_apply_duration_seconds").record(took.as_secs_f64())
        });
    }

    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded histogram samples into their buckets. The exporter
    /// keeps raw samples until then, so this runs every few seconds
    /// whether or not anyone scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}
