//! Fixed-size traffic windows: per-second buckets for the last minute and 10-second buckets
//! for the last ten minutes, each with status-class counts and a log-scaled latency
//! histogram. Nothing is stored per request, so memory per series is constant (~35 KiB)
//! whatever the request rate.

/// Latency buckets: bucket `i` holds durations in `[64 µs · 2^(i/3), 64 µs · 2^((i+1)/3))`, so
/// a percentile is within one bucket (±13 %) of the exact figure; 64 buckets reach ~2 min.
pub const LAT_BUCKETS: usize = 64;
const LAT_BASE_NS: f64 = 64_000.0;

fn lat_bucket(ns: u64) -> usize {
    if (ns as f64) < LAT_BASE_NS {
        return 0;
    }
    let i = (3.0 * ((ns as f64) / LAT_BASE_NS).log2()) as usize;
    i.min(LAT_BUCKETS - 1)
}

/// The geometric middle of a bucket, in milliseconds.
fn lat_mid_ms(i: usize) -> f64 {
    LAT_BASE_NS * 2f64.powf((i as f64 + 0.5) / 3.0) / 1e6
}

/// One time slot's counts.
#[derive(Clone)]
struct Bucket {
    /// Start of the slot (unix seconds); a slot whose start is not the expected one is stale.
    start: i64,
    /// 1xx, 2xx, 3xx, 4xx, 5xx (anything else counts as 5xx: kamal-proxy logs 0 for none).
    classes: [u32; 5],
    lat: [u32; LAT_BUCKETS],
}

impl Bucket {
    const EMPTY: Bucket = Bucket { start: i64::MIN, classes: [0; 5], lat: [0; LAT_BUCKETS] };
}

/// A ring of `N` slots of `width` seconds.
#[derive(Clone)]
struct Ring {
    width: i64,
    slots: Vec<Bucket>,
}

impl Ring {
    fn new(width: i64, n: usize) -> Self {
        Ring { width, slots: vec![Bucket::EMPTY; n] }
    }

    fn slot(&mut self, t: i64) -> &mut Bucket {
        let start = t.div_euclid(self.width) * self.width;
        let n = self.slots.len() as i64;
        let b = &mut self.slots[(start / self.width).rem_euclid(n) as usize];
        if b.start != start {
            *b = Bucket { start, ..Bucket::EMPTY };
        }
        b
    }

    /// Adds the slots that start in `[from, to)`.
    fn sum(&self, from: i64, to: i64, into: &mut Bucket) {
        for b in &self.slots {
            if b.start >= from && b.start < to {
                for (a, x) in into.classes.iter_mut().zip(b.classes) {
                    *a += x;
                }
                for (a, x) in into.lat.iter_mut().zip(b.lat) {
                    *a += x;
                }
            }
        }
    }
}

/// Figures over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Seconds the window spans.
    pub window_s: u32,
    pub requests: u64,
    /// Requests per second over the window.
    pub rate: f64,
    pub s2xx: u64,
    pub s3xx: u64,
    pub s4xx: u64,
    pub s5xx: u64,
    /// 5xx as a percentage of all requests (0 when there were none).
    pub error_pct: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Stats {
    fn from_bucket(b: &Bucket, window_s: u32) -> Stats {
        let [s1, s2, s3, s4, s5] = b.classes.map(u64::from);
        let requests = s1 + s2 + s3 + s4 + s5;
        let q = |p: f64| quantile(&b.lat, requests, p);
        Stats {
            window_s,
            requests,
            rate: requests as f64 / window_s.max(1) as f64,
            s2xx: s2,
            s3xx: s3,
            s4xx: s4,
            s5xx: s5,
            error_pct: if requests == 0 { 0.0 } else { 100.0 * s5 as f64 / requests as f64 },
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        }
    }
}

fn quantile(lat: &[u32; LAT_BUCKETS], total: u64, p: f64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (i, n) in lat.iter().enumerate() {
        seen += u64::from(*n);
        if seen >= rank {
            return Some(lat_mid_ms(i));
        }
    }
    Some(lat_mid_ms(LAT_BUCKETS - 1))
}

/// One series (a host × service × target): a minute by the second, ten minutes by ten seconds.
#[derive(Clone)]
pub struct Series {
    secs: Ring,
    tens: Ring,
    /// Unix second of the newest request seen.
    pub last: i64,
    /// Requests ever counted (since the series started).
    pub total: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series { secs: Ring::new(1, 64), tens: Ring::new(10, 62), last: i64::MIN, total: 0 }
    }
}

impl Series {
    /// Counts a request that ended at unix second `t`.
    pub fn record(&mut self, t: i64, status: u16, duration_ns: u64) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        let lat = lat_bucket(duration_ns);
        for ring in [&mut self.secs, &mut self.tens] {
            let b = ring.slot(t);
            b.classes[class] += 1;
            b.lat[lat] += 1;
        }
        self.last = self.last.max(t);
        self.total += 1;
    }

    /// Figures over the `window` seconds before `now` (the second `now` is in progress and
    /// not counted). Windows up to 60 s come from the per-second ring; longer ones (up to
    /// 600 s) from the ten-second slots before the current one plus the seconds of the current
    /// one, so they span up to 9 s more than `window` (the rate is over the span).
    pub fn stats(&self, now: i64, window: u32) -> Stats {
        let mut b = Bucket { start: 0, ..Bucket::EMPTY };
        let mut span = window;
        if window <= 60 {
            self.secs.sum(now - i64::from(window), now, &mut b);
        } else {
            let slot = now.div_euclid(10) * 10;
            self.tens.sum(slot - i64::from(window), slot, &mut b);
            self.secs.sum(slot, now, &mut b);
            span += (now - slot) as u32;
        }
        let mut s = Stats::from_bucket(&b, span);
        s.window_s = window;
        s
    }

    /// Requests per second for each of the `n` (≤ 60) whole seconds before `now`, oldest first.
    pub fn per_second(&self, now: i64, n: usize) -> Vec<u32> {
        (0..n.min(60) as i64)
            .rev()
            .map(|back| {
                let t = now - 1 - back;
                self.secs.slots.iter().find(|b| b.start == t).map(|b| b.classes.iter().sum()).unwrap_or(0)
            })
            .collect()
    }

    /// 5xx per second for the same seconds as [`Series::per_second`].
    pub fn errors_per_second(&self, now: i64, n: usize) -> Vec<u32> {
        (0..n.min(60) as i64).rev().map(|back| self.secs.slots.iter().find(|b| b.start == now - 1 - back).map(|b| b.classes[4]).unwrap_or(0)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_status_classes_and_rate_over_the_window() {
        let mut s = Series::default();
        for i in 0..100 {
            s.record(1000 + i % 10, if i % 10 == 0 { 503 } else { 200 }, 2_000_000);
        }
        let st = s.stats(1010, 10);
        assert_eq!((st.requests, st.s2xx, st.s5xx), (100, 90, 10));
        assert!((st.rate - 10.0).abs() < 1e-9);
        assert!((st.error_pct - 10.0).abs() < 1e-9);
        // The second in progress is not counted; older seconds fall out of a short window.
        assert_eq!(s.stats(1009, 10).requests, 90);
        assert_eq!(s.stats(1015, 5).requests, 0);
    }

    #[test]
    fn percentiles_land_within_one_bucket_of_the_exact_figure() {
        let mut s = Series::default();
        // 1..=1000 ms, one request each: p50 = 500 ms, p95 = 950 ms, p99 = 990 ms.
        for ms in 1..=1000u64 {
            s.record(50, 200, ms * 1_000_000);
        }
        let st = s.stats(51, 10);
        for (got, want) in [(st.p50_ms, 500.0), (st.p95_ms, 950.0), (st.p99_ms, 990.0)] {
            let got = got.unwrap();
            assert!((got / want - 1.0).abs() < 0.13, "{got} vs {want}");
        }
        assert_eq!(Series::default().stats(51, 10).p95_ms, None);
    }

    #[test]
    fn ten_minute_window_uses_ten_second_slots_and_old_slots_are_reused() {
        let mut s = Series::default();
        for t in 0..600 {
            s.record(t, 200, 1_000_000);
        }
        assert_eq!(s.stats(600, 600).requests, 600);
        assert_eq!(s.stats(600, 60).requests, 60);
        // Mid-slot: the seconds of the current ten-second slot count too.
        assert_eq!(s.stats(605, 600).requests, 600);
        assert!((s.stats(605, 600).rate - 600.0 / 605.0).abs() < 1e-9);
        // An hour later the ring slots are overwritten, not added to.
        s.record(4200, 200, 1_000_000);
        assert_eq!(s.stats(4201, 60).requests, 1);
        assert_eq!(s.stats(4210, 600).requests, 1);
        assert_eq!(s.total, 601);
    }

    #[test]
    fn per_second_series_is_oldest_first_with_gaps_as_zero() {
        let mut s = Series::default();
        s.record(97, 200, 1);
        s.record(99, 500, 1);
        s.record(99, 200, 1);
        assert_eq!(s.per_second(100, 4), vec![0, 1, 0, 2]);
        assert_eq!(s.errors_per_second(100, 4), vec![0, 0, 0, 1]);
    }
}
