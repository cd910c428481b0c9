//! Counters, exposed in the Prometheus text format at `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

const PIXEL_OUTCOMES: [(PixelOutcome, &str); 6] = [
    (PixelOutcome::Recorded, "recorded"),
    (PixelOutcome::Duplicate, "duplicate"),
    (PixelOutcome::LoadPing, "load_ping"),
    (PixelOutcome::UnknownTag, "unknown_tag"),
    (PixelOutcome::Malformed, "malformed"),
    (PixelOutcome::Failed, "failed"),
];

#[derive(Debug, Default)]
pub struct Metrics {
    pixels: [AtomicU64; 6],
    events_processed: AtomicU64,
    events_failed: AtomicU64,
    beacons_rejected: AtomicU64,
}

impl Metrics {
    pub fn pixel(&self, outcome: PixelOutcome) {
        let i = PIXEL_OUTCOMES
            .iter()
            .position(|(o, _)| *o == outcome)
            .unwrap_or(0);
        self.pixels[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn pixels(&self, outcome: PixelOutcome) -> u64 {
        let i = PIXEL_OUTCOMES
            .iter()
            .position(|(o, _)| *o == outcome)
            .unwrap_or(0);
        self.pixels[i].load(Ordering::Relaxed)
    }

    pub fn conversion_events(&self, processed: usize, failed: usize) {
        self.events_processed
            .fetch_add(processed as u64, Ordering::Relaxed);
        self.events_failed
            .fetch_add(failed as u64, Ordering::Relaxed);
    }

    /// A forged, tampered or replayed beacon.
    pub fn beacon_rejected(&self) {
        self.beacons_rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP adloom_beacons_rejected_total Forged, tampered or replayed beacons.\n",
        );
        out.push_str("# TYPE adloom_beacons_rejected_total counter\n");
        let rejected = self.beacons_rejected.load(Ordering::Relaxed);
        let _ = writeln!(out, "adloom_beacons_rejected_total {rejected}");
        out.push_str("# HELP adloom_pixel_requests_total Pixel requests by outcome.\n");
        out.push_str("# TYPE adloom_pixel_requests_total counter\n");
        for (i, (_, label)) in PIXEL_OUTCOMES.iter().enumerate() {
            let n = self.pixels[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "adloom_pixel_requests_total{{outcome=\"{label}\"}} {n}"
            );
        }
        out.push_str("# HELP adloom_conversion_events_total Conversions API events by status.\n");
        out.push_str("# TYPE adloom_conversion_events_total counter\n");
        let processed = self.events_processed.load(Ordering::Relaxed);
        let failed = self.events_failed.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "adloom_conversion_events_total{{status=\"processed\"}} {processed}"
        );
        let _ = writeln!(
            out,
            "adloom_conversion_events_total{{status=\"failed\"}} {failed}"
        );
        out
    }
}
