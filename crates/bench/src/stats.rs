//! Latency samples and their percentiles.

use std::time::Duration;

use serde::Serialize;

/// The `q`-th percentile (0–100) of `sorted` (ascending) by the nearest-rank method: the
/// smallest sample such that at least `q` % of the samples are less than or equal to it.
/// `None` for no samples.
pub fn percentile(sorted: &[u32], q: f64) -> Option<u32> {
    let last = sorted.len().checked_sub(1)?;
    let q = q.clamp(0.0, 100.0);
    // Nearest rank: ceil(q/100 × n), 1-based; rank 0 (q = 0) is the minimum.
    let rank = (q / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(last)).copied()
}

/// A duration as whole microseconds, saturating at `u32::MAX` (71 minutes).
pub fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// What a phase's latencies come to, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

impl LatencySummary {
    /// Summarises `samples` (microseconds), sorting them.
    pub fn of(samples: &mut [u32]) -> Self {
        samples.sort_unstable();
        let ms = |us: Option<u32>| f64::from(us.unwrap_or(0)) / 1000.0;
        let total: u64 = samples.iter().map(|&us| u64::from(us)).sum();
        let mean_ms = if samples.is_empty() {
            0.0
        } else {
            total as f64 / samples.len() as f64 / 1000.0
        };
        LatencySummary {
            count: samples.len(),
            p50_ms: ms(percentile(samples, 50.0)),
            p99_ms: ms(percentile(samples, 99.0)),
            max_ms: ms(samples.last().copied()),
            mean_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50));
        assert_eq!(percentile(&samples, 99.0), Some(99));
        assert_eq!(percentile(&samples, 100.0), Some(100));
        assert_eq!(percentile(&samples, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), Some(3));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn p99_of_a_small_sample_is_its_maximum() {
        let samples: Vec<u32> = (1..=10).collect();
        assert_eq!(percentile(&samples, 99.0), Some(10));
    }

    #[test]
    fn summaries_sort_and_convert_to_milliseconds() {
        let mut samples = vec![3000, 1000, 2000, 4000];
        let summary = LatencySummary::of(&mut samples);
        assert_eq!(samples, [1000, 2000, 3000, 4000]);
        assert_eq!(summary.count, 4);
        assert!((summary.p50_ms - 2.0).abs() < 1e-9);
        assert!((summary.p99_ms - 4.0).abs() < 1e-9);
        assert!((summary.max_ms - 4.0).abs() < 1e-9);
        assert!((summary.mean_ms - 2.5).abs() < 1e-9);
        assert_eq!(LatencySummary::of(&mut []), LatencySummary::default());
    }

    #[test]
    fn micros_saturate() {
        assert_eq!(micros(Duration::from_millis(3)), 3000);
        assert_eq!(micros(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}
