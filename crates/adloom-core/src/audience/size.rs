//! How big an audience looks to its advertiser (invariant 5).
//!
//! The "audience of one" attack: upload 100 people the attacker knows are
//! on the platform plus one target, and watch whether the status or the size
//! moves. A fixed threshold, or a fixed secret offset, gives the answer
//! away: step known people in one at a time until the status flips, then
//! swap the last of them for the target.
//!
//! So the count is blurred with noise from the discrete Laplace mechanism
//! of differential privacy (two-sided geometric, scale [`NOISE_SCALE`]),
//! redrawn when it falls outside ±[`MAX_SIZE_NOISE`]. One person more or
//! less changes the probability of any answer by a factor of at most
//! e^(1/scale), apart from the small chance of a draw at the very edge.
//! An audience is READY only once the noisy count reaches
//! `MIN_AUDIENCE_SIZE + MAX_SIZE_NOISE`, so one with fewer than 100 people
//! never is, whatever the draw.
//!
//! The draw must not be free to repeat, or averaging many answers would
//! take the noise out: the caller seeds it per audience and per period and
//! holds the answer for the period (adloom-engine's `membership::reported`).

use sha2::{Digest, Sha256};

/// Below this many people an audience is never targetable.
pub const MIN_AUDIENCE_SIZE: u64 = 100;
/// The noise added to a count stays within ±this.
pub const MAX_SIZE_NOISE: i64 = 16;
/// The noise's scale: the privacy loss per answer is 1/scale.
pub const NOISE_SCALE: f64 = 4.0;

/// An audience's size as an advertiser may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedSize {
    /// READY (targetable) or TOO_SMALL.
    pub ready: bool,
    /// The noisy count rounded down to two significant digits; `None` while
    /// TOO_SMALL.
    pub size: Option<u64>,
}

/// Coarsens an exact member count with a noise drawn by [`size_noise`].
pub fn reported_size(members: u64, noise: i64) -> ReportedSize {
    let noisy = i64::try_from(members)
        .unwrap_or(i64::MAX)
        .saturating_add(noise);
    let threshold = MIN_AUDIENCE_SIZE as i64 + MAX_SIZE_NOISE;
    if noisy < threshold {
        return ReportedSize {
            ready: false,
            size: None,
        };
    }
    ReportedSize {
        ready: true,
        size: Some(round_down_2_significant(noisy as u64)),
    }
}

/// A two-sided geometric draw within ±[`MAX_SIZE_NOISE`], determined by
/// `seed`: the same seed always gives the same noise.
pub fn size_noise(seed: &[u8]) -> i64 {
    // The difference of two geometric variables is two-sided geometric.
    // Draws outside the range are redrawn rather than clamped, so that the
    // edges carry no extra weight (clamping would put ~1% there).
    for attempt in 0u32..64 {
        let mut hasher = Sha256::new();
        hasher.update(seed);
        hasher.update(attempt.to_le_bytes());
        let digest = hasher.finalize();
        let first = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let second = u64::from_le_bytes(digest[8..16].try_into().expect("8 bytes"));
        let noise = geometric(first) - geometric(second);
        if noise.abs() <= MAX_SIZE_NOISE {
            return noise;
        }
    }
    0 // 64 draws out of range in a row: about 1 chance in 10^120
}

/// Geometric with P(k) = (1 - a) a^k, a = e^(-1/scale), by inversion.
fn geometric(bits: u64) -> i64 {
    // A uniform in (0, 1]: never 0, so the logarithm is finite.
    let uniform = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
    (-NOISE_SCALE * uniform.ln()).floor() as i64
}

/// The exact probability of each noise value, -MAX..=MAX: what
/// [`size_noise`] draws from. For the tests that bound what one person
/// more can change.
pub fn noise_distribution() -> Vec<(i64, f64)> {
    let a = (-1.0 / NOISE_SCALE).exp();
    let weights: Vec<(i64, f64)> = (-MAX_SIZE_NOISE..=MAX_SIZE_NOISE)
        .map(|k| (k, a.powi(k.abs() as i32)))
        .collect();
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    weights.into_iter().map(|(k, w)| (k, w / total)).collect()
}

/// 1,234 → 1,200; 987 → 980; 42 → 42.
pub fn round_down_2_significant(n: u64) -> u64 {
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    n / unit * unit
}
