//! What adloom counts and times, exposed in the Prometheus text format at
//! `GET /metrics` (operator only), through `metrics` and its Prometheus
//! exporter. Each `Engine` has its own recorder (not the process-global
//! one), so servers and tests in one process never mix their figures.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
    with_local_recorder, Counter, Histogram, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// What this node counted since it started, as the operator's health page
/// shows it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub requests: f64,
    pub server_errors: f64,
    pub decisions: f64,
    /// Decisions that served at least one ad.
    pub filled: f64,
    pub spend_micros: f64,
    /// Tag pixels and conversion events recorded.
    pub events_in: f64,
    /// What was turned away, by reason.
    pub rejected: std::collections::BTreeMap<String, f64>,
}

/// Sums the Prometheus text exposition into [`Figures`].
fn figures(exposition: &str) -> Figures {
    let mut f = Figures::default();
    let samples = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(series, value)| Some((series, value.parse::<f64>().ok()?)));
    for (series, v) in samples {
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        let label = |key: &str| {
            labels.split(',').find_map(|pair| {
                pair.strip_prefix(key)?
                    .strip_prefix("=\"")?
                    .strip_suffix('"')
            })
        };
        let mut reject = |why: String| *f.rejected.entry(why).or_default() += v;
        match name {
            "adloom_http_requests_total" => {
                f.requests += v;
                if label("status") == Some("5xx") {
                    f.server_errors += v;
                }
            }
            "adloom_decisions_total" => {
                f.decisions += v;
                if label("fill") == Some("filled") {
                    f.filled += v;
                }
            }
            "adloom_spend_micros_total" => f.spend_micros += v,
            "adloom_pixel_requests_total" => match label("outcome") {
                Some("recorded") => f.events_in += v,
                Some("duplicate" | "load_ping") | None => {}
                Some(outcome) => reject(format!("tag pixel: {}", outcome.replace('_', " "))),
            },
            "adloom_conversion_events_total" => match label("status") {
                Some("processed") => f.events_in += v,
                _ => reject("conversion event: failed".to_owned()),
            },
            "adloom_beacons_rejected_total" => reject("beacon: bad or expired token".to_owned()),
            "adloom_invalid_clicks_total" => reject(format!(
                "click not billed: {}",
                label("reason").unwrap_or("other").replace('_', " ")
            )),
            "adloom_requests_rate_limited_total" => reject("request: rate limited".to_owned()),
            "adloom_requests_shed_total" => reject("request: shed under load".to_owned()),
            _ => {}
        }
    }
    f
}

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
    const ALL: [PixelOutcome; 9] = [
        PixelOutcome::Recorded,
        PixelOutcome::Duplicate,
        PixelOutcome::LoadPing,
        PixelOutcome::UnknownTag,
        PixelOutcome::Malformed,
        PixelOutcome::Failed,
        PixelOutcome::OtherSite,
        PixelOutcome::NoSite,
        PixelOutcome::RateLimited,
    ];

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

/// The HELP line of every series (Prometheus's `promtool check metrics`
/// asks for one; OPERATING.md has what to alert on).
fn describe() {
    describe_counter!(
        "adloom_http_requests_total",
        "Requests answered, by route template, method and status class (ok, 4xx, 5xx)."
    );
    describe_histogram!(
        "adloom_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a request, by route template and method."
    );
    describe_counter!(
        "adloom_requests_rate_limited_total",
        "Ingestion requests refused with 429 by a rate limit."
    );
    describe_counter!(
        "adloom_requests_shed_total",
        "Requests refused with 503 because max_in_flight were already being handled."
    );
    describe_counter!(
        "adloom_pixel_requests_total",
        "Tag pixels, by outcome (recorded, or why not)."
    );
    describe_counter!(
        "adloom_event_commits_total",
        "Commits of the event writer, synced to disk or only written."
    );
    describe_counter!(
        "adloom_event_commit_events_total",
        "Events carried by the event writer's commits."
    );
    describe_counter!(
        "adloom_conversion_events_total",
        "Conversions API events, processed or failed."
    );
    describe_counter!(
        "adloom_purged_rows_total",
        "Rows removed by retention, by kind."
    );
    describe_gauge!(
        "adloom_retention_completed_timestamp_seconds",
        Unit::Seconds,
        "When this node last finished a retention run (Unix time)."
    );
    describe_counter!(
        "adloom_beacons_rejected_total",
        "Impression and click beacons refused: forged, tampered, late or replayed."
    );
    describe_counter!(
        "adloom_creations_capped_total",
        "New customer lists and audiences refused by the daily cap, by kind."
    );
    describe_counter!(
        "adloom_write_failures_total",
        "Writes no caller was waiting for that failed, by what they were."
    );
    describe_counter!(
        "adloom_invalid_clicks_total",
        "Clicks that billed nothing, by reason."
    );
    describe_counter!(
        "adloom_beacons_counted_total",
        "Impressions and clicks counted, by kind."
    );
    describe_counter!(
        "adloom_spend_micros_total",
        "Advertisers' spend charged by counted beacons, in micro-currency."
    );
    describe_counter!(
        "adloom_consent_strings_total",
        "Requests and pixels that carried IAB consent strings, by what they refused."
    );
    describe_counter!(
        "adloom_decisions_total",
        "Ad decisions, filled (at least one ad) or empty."
    );
    describe_counter!("adloom_ads_served_total", "Ads served by decisions.");
    describe_counter!(
        "adloom_shared_budget_charges_total",
        "Budgeted deliveries' charges, by where they were held: this node's lease, or the shared counters one by one."
    );
    describe_counter!(
        "adloom_candidates_lost_total",
        "Candidates that lost an explained decision, by reason."
    );
    describe_histogram!(
        "adloom_decision_duration_seconds",
        Unit::Seconds,
        "Time to decide, from the parsed request to the chosen ads."
    );
    describe_histogram!(
        "adloom_snapshot_rebuild_duration_seconds",
        Unit::Seconds,
        "Time to rebuild the serving snapshot after a catalog change."
    );
    describe_histogram!(
        "adloom_remote_changes_apply_duration_seconds",
        Unit::Seconds,
        "Time to apply changes announced by other nodes."
    );
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
    /// The series every decision, pixel and event commit updates,
    /// registered once for the same reason (a decision's four registry
    /// lookups were a microsecond).
    hot: Hot,
}

/// Handles of the series on the serving and ingestion paths.
struct Hot {
    decisions_filled: Counter,
    decisions_empty: Counter,
    ads_served: Counter,
    decision_duration: Histogram,
    /// By `PixelOutcome`, in the order of `PixelOutcome::ALL`.
    pixels: [Counter; PixelOutcome::ALL.len()],
    /// Synced, then written.
    commits: [(Counter, Counter); 2],
}

impl Hot {
    /// Registers the series with `recorder` (where they show at zero
    /// until counted).
    fn register(recorder: &PrometheusRecorder) -> Hot {
        with_local_recorder(recorder, || {
            let commits = |flush: &'static str| {
                (
                    counter!("adloom_event_commits_total", "flush" => flush),
                    counter!("adloom_event_commit_events_total", "flush" => flush),
                )
            };
            Hot {
                decisions_filled: counter!("adloom_decisions_total", "fill" => "filled"),
                decisions_empty: counter!("adloom_decisions_total", "fill" => "empty"),
                ads_served: counter!("adloom_ads_served_total"),
                decision_duration: histogram!("adloom_decision_duration_seconds"),
                pixels: PixelOutcome::ALL.map(
                    |outcome| counter!("adloom_pixel_requests_total", "outcome" => outcome.label()),
                ),
                commits: [commits("synced"), commits("written")],
            }
        })
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        with_local_recorder(&recorder, describe);
        Metrics {
            hot: Hot::register(&recorder),
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
        self.hot.pixels[outcome as usize].increment(1);
    }

    /// One commit of the event writer, durable (`synced`) or only written:
    /// with the events it carried, the two counters give the size of its
    /// groups.
    pub fn event_commit(&self, synced: bool, events: usize) {
        let (commits, events_in) = &self.hot.commits[usize::from(!synced)];
        commits.increment(1);
        events_in.increment(events as u64);
    }

    pub fn conversion_events(&self, processed: usize, failed: usize) {
        self.record(|| {
            counter!("adloom_conversion_events_total", "status" => "processed")
                .increment(processed as u64);
            counter!("adloom_conversion_events_total", "status" => "failed")
                .increment(failed as u64);
        });
    }

    /// Rows retention removed, by kind.
    pub fn purged(&self, kind: &'static str, rows: u64) {
        self.record(|| counter!("adloom_purged_rows_total", "kind" => kind).increment(rows));
    }

    /// This node finished a retention run at `now` (Unix seconds): an
    /// operator alerts when no node has for hours (OPERATING.md).
    pub fn retention_completed(&self, now: i64) {
        self.record(|| gauge!("adloom_retention_completed_timestamp_seconds").set(now as f64));
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

    /// A request or pixel that carried IAB consent strings: counted by
    /// what they decided (`none`: they refused nothing), so that strings
    /// that do not decode show up.
    pub fn consent_strings(&self, refusals: &adloom_core::consent::StringRefusals) {
        self.record(|| {
            let outcome = refusals
                .partner_targeting
                .or(refusals.off_platform_sharing)
                .map_or("none", |r| r.code());
            counter!("adloom_consent_strings_total", "outcome" => outcome).increment(1);
        });
    }

    /// A decision: how many ads it served, and why candidates lost (known
    /// when the request asked to explain).
    pub fn decision(&self, served: usize, losses: &[&'static str], took: Duration) {
        let hot = &self.hot;
        let fill = if served > 0 {
            &hot.decisions_filled
        } else {
            &hot.decisions_empty
        };
        fill.increment(1);
        hot.ads_served.increment(served as u64);
        hot.decision_duration.record(took.as_secs_f64());
        if !losses.is_empty() {
            self.record(|| {
                for reason in losses {
                    counter!("adloom_candidates_lost_total", "reason" => *reason).increment(1);
                }
            });
        }
    }

    /// Budgeted deliveries held in the shared counters: `leased` from this
    /// node's lease without a round trip, `one_by_one` there.
    pub fn shared_budget_charges(&self, leased: u64, one_by_one: u64) {
        self.record(|| {
            if leased > 0 {
                counter!("adloom_shared_budget_charges_total", "held" => "lease").increment(leased);
            }
            if one_by_one > 0 {
                counter!("adloom_shared_budget_charges_total", "held" => "one_by_one")
                    .increment(one_by_one);
            }
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

    /// The operator's health page's figures, read from the exposition
    /// `/metrics` serves, so that the two never disagree.
    pub fn figures(&self) -> Figures {
        figures(&self.render())
    }

    /// Folds recorded histogram samples into their buckets. The exporter
    /// keeps raw samples until then, so this runs every few seconds
    /// whether or not anyone scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl crate::Engine {
    /// What each ad account was billed today (UTC), across every node: the
    /// store's engagements, not this node's counters.
    pub async fn spend_today(&self) -> Result<Vec<(String, u64)>, crate::EngineError> {
        const DAY: i64 = 86_400;
        let today = self.clock.now().div_euclid(DAY) * DAY;
        Ok(self.store.spend_by_account(today, today + DAY).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pixel_outcome_counts_under_its_own_label() {
        // `pixel` finds an outcome's handle by its discriminant.
        for (i, outcome) in PixelOutcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, i, "{outcome:?}");
        }
        let m = Metrics::default();
        m.pixel(PixelOutcome::NoSite);
        m.pixel(PixelOutcome::NoSite);
        m.pixel(PixelOutcome::RateLimited);
        let text = m.render();
        assert!(
            text.contains("adloom_pixel_requests_total{outcome=\"no_site\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("adloom_pixel_requests_total{outcome=\"rate_limited\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("adloom_pixel_requests_total{outcome=\"recorded\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn the_health_figures_are_the_sums_of_the_exposition() {
        let m = Metrics::default();
        m.request("/v1/decisions", "POST", 200, Duration::from_millis(1));
        m.request("/v1/decisions", "POST", 503, Duration::from_millis(1));
        m.decision(1, &[], Duration::from_millis(1));
        m.decision(0, &["budget"], Duration::from_millis(1));
        m.beacon_counted("impression", 2_500);
        m.pixel(PixelOutcome::Recorded);
        m.pixel(PixelOutcome::Duplicate);
        m.pixel(PixelOutcome::OtherSite);
        m.conversion_events(3, 1);
        m.invalid_click("too_fast");
        let f = m.figures();
        assert_eq!((f.requests, f.server_errors), (2.0, 1.0));
        assert_eq!((f.decisions, f.filled), (2.0, 1.0));
        assert_eq!(f.spend_micros, 2_500.0);
        assert_eq!(f.events_in, 4.0);
        assert_eq!(f.rejected["tag pixel: other site"], 1.0);
        assert_eq!(f.rejected["conversion event: failed"], 1.0);
        assert_eq!(f.rejected["click not billed: too fast"], 1.0);
    }
}
