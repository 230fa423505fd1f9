//! Live traffic, read from kamal-proxy itself: each host's proxy request log (followed over
//! the host's shared connection, like `kamal proxy logs -f`) is parsed line by line
//! ([`ProxyRequest`]) and counted per host × service × target in fixed-size windows
//! ([`window::Series`]). A target is a container (`<id>:<port>`), so the figures are per app
//! version: during a deploy the old target's rate falls and the new one's rises, per host.
//!
//! - [`TrafficBook`] is the pure aggregation (no per-request storage).
//! - [`follow`] runs it over the pool and publishes a [`TrafficSnapshot`] every second.

pub mod canary;
pub mod follow;
pub mod window;

pub use follow::{follow, TrafficHandle, TrafficOptions};
pub use window::Stats;

use crate::kamal::proxy_log::ProxyRequest;
use std::collections::BTreeMap;
use window::Series;

/// The windows every row carries: the last 10 s, minute and 10 minutes.
pub const WINDOWS: [u32; 3] = [10, 60, 600];

/// `12.3/s` (one decimal under 100).
pub fn fmt_rate(r: f64) -> String {
    if r < 100.0 {
        format!("{r:.1}/s")
    } else {
        format!("{r:.0}/s")
    }
}

/// A latency: `4.6ms`, `180ms`, `12s`; `-` when there were no requests.
pub fn fmt_ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.1}ms"),
        Some(v) if v < 10_000.0 => format!("{v:.0}ms"),
        Some(v) => format!("{:.0}s", v / 1000.0),
    }
}

/// Where a target's requests went: the container behind it, once known.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TargetInfo {
    /// Container name (`<service>-<role>-<version>`).
    pub container: Option<String>,
    /// App version (the name's suffix after the role's prefix).
    pub version: Option<String>,
}

/// One host × service × target with its figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrafficRow {
    pub host: String,
    pub service: String,
    /// The app's role whose service this is (`None` for another app's service).
    pub role: Option<String>,
    pub target: String,
    #[serde(flatten)]
    pub info: TargetInfo,
    pub last_10s: Stats,
    pub last_1m: Stats,
    pub last_10m: Stats,
    /// Requests per second over the last 60 s, oldest first.
    pub per_second: Vec<u32>,
    /// 5xx per second over the same seconds.
    pub errors_per_second: Vec<u32>,
    /// Unix second of the newest request.
    pub last_seen: i64,
    /// Requests counted since the follow started.
    pub total: u64,
}

/// Every row at one moment, ordered by host, service, then newest target first.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TrafficSnapshot {
    /// Unix second the figures are for.
    pub at: i64,
    pub rows: Vec<TrafficRow>,
}

impl TrafficSnapshot {
    /// The rows of one host.
    pub fn of_host<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a TrafficRow> + 'a {
        self.rows.iter().filter(move |r| r.host == host)
    }

    /// A host's figures over all its targets of this app, or of one role's (`window` one of
    /// [`WINDOWS`]); `None` when nothing of it was seen.
    pub fn host_total(&self, host: &str, role: Option<&str>, window: u32) -> Option<Stats> {
        total(self.app_rows(host, role), window)
    }

    /// Requests per second over the last 60 s of a host (all its app targets, or one role's),
    /// oldest first.
    pub fn host_per_second(&self, host: &str, role: Option<&str>) -> Vec<u32> {
        let mut v = vec![0u32; 60];
        for r in self.app_rows(host, role) {
            for (a, x) in v.iter_mut().zip(&r.per_second) {
                *a += x;
            }
        }
        v
    }

    /// Every host's figures of this app together.
    pub fn fleet_total(&self, window: u32) -> Option<Stats> {
        total(self.rows.iter().filter(|r| r.role.is_some()), window)
    }

    fn app_rows<'a>(&'a self, host: &'a str, role: Option<&'a str>) -> impl Iterator<Item = &'a TrafficRow> + 'a {
        self.of_host(host).filter(move |r| r.role.is_some() && (role.is_none() || r.role.as_deref() == role))
    }
}

impl TrafficRow {
    pub fn window(&self, w: u32) -> &Stats {
        match w {
            0..=10 => &self.last_10s,
            11..=60 => &self.last_1m,
            _ => &self.last_10m,
        }
    }
}

/// The rows' figures over `window` together (`None` without rows).
fn total<'a>(rows: impl Iterator<Item = &'a TrafficRow>, window: u32) -> Option<Stats> {
    let rows: Vec<&Stats> = rows.map(|r| r.window(window)).collect();
    (!rows.is_empty()).then(|| merge(&rows))
}

/// Sums figures of several rows over the same window; percentiles are the worst row's (an
/// upper bound: the histograms are not kept in the snapshot).
fn merge(rows: &[&Stats]) -> Stats {
    let mut s = Stats { window_s: rows[0].window_s, ..Default::default() };
    for r in rows {
        s.requests += r.requests;
        s.s2xx += r.s2xx;
        s.s3xx += r.s3xx;
        s.s4xx += r.s4xx;
        s.s5xx += r.s5xx;
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        s.p50_ms = max(s.p50_ms, r.p50_ms);
        s.p95_ms = max(s.p95_ms, r.p95_ms);
        s.p99_ms = max(s.p99_ms, r.p99_ms);
    }
    s.rate = s.requests as f64 / f64::from(s.window_s.max(1));
    s.error_pct = if s.requests == 0 { 0.0 } else { 100.0 * s.s5xx as f64 / s.requests as f64 };
    s
}

/// The aggregation: one [`Series`] per host × service × target.
#[derive(Default)]
pub struct TrafficBook {
    series: BTreeMap<(String, String, String), Series>,
    targets: BTreeMap<(String, String), TargetInfo>,
}

impl TrafficBook {
    /// Counts one request logged by `host`'s proxy; `fallback_t` (unix seconds) is used when
    /// the line has no time of its own.
    pub fn record(&mut self, host: &str, req: &ProxyRequest, fallback_t: i64) {
        let t = req.time.map(|t| t.timestamp()).unwrap_or(fallback_t);
        let key = (host.to_string(), req.service.clone(), req.target.clone());
        self.series.entry(key).or_default().record(t, req.status, req.duration_ns);
    }

    /// Is anything known about `target` on `host` (its container), so it needs no lookup?
    pub fn knows_target(&self, host: &str, target: &str) -> bool {
        self.targets.contains_key(&(host.to_string(), target.to_string()))
    }

    pub fn set_target(&mut self, host: &str, target: &str, info: TargetInfo) {
        self.targets.insert((host.to_string(), target.to_string()), info);
    }

    /// Takes in another book's series (books of different hosts never share a key).
    pub fn absorb(&mut self, other: TrafficBook) {
        self.series.extend(other.series);
        self.targets.extend(other.targets);
    }

    /// The targets with traffic on `host` whose container is not known yet.
    pub fn unnamed_targets(&self, host: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .series
            .keys()
            .filter(|(h, _, t)| h == host && !t.is_empty() && self.targets.get(&(h.clone(), t.clone())).is_none_or(|i| i.container.is_none()))
            .map(|(_, _, t)| t.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Forgets series idle for longer than the longest window.
    pub fn forget_idle(&mut self, now: i64) {
        self.series.retain(|_, s| now - s.last <= i64::from(WINDOWS[2]) + 10);
    }

    /// The figures at unix second `now`; `role_of` names the app role a service belongs to.
    pub fn snapshot(&self, now: i64, role_of: &dyn Fn(&str) -> Option<String>) -> TrafficSnapshot {
        let mut rows: Vec<TrafficRow> = self
            .series
            .iter()
            .map(|((host, service, target), s)| TrafficRow {
                host: host.clone(),
                service: service.clone(),
                role: role_of(service),
                target: target.clone(),
                info: self.targets.get(&(host.clone(), target.clone())).cloned().unwrap_or_default(),
                last_10s: s.stats(now, WINDOWS[0]),
                last_1m: s.stats(now, WINDOWS[1]),
                last_10m: s.stats(now, WINDOWS[2]),
                per_second: s.per_second(now, 60),
                errors_per_second: s.errors_per_second(now, 60),
                last_seen: s.last,
                total: s.total,
            })
            .collect();
        rows.sort_by(|a, b| (&a.host, &a.service, std::cmp::Reverse(a.last_seen)).cmp(&(&b.host, &b.service, std::cmp::Reverse(b.last_seen))));
        TrafficSnapshot { at: now, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(service: &str, target: &str, status: u16, t: i64) -> ProxyRequest {
        ProxyRequest {
            time: chrono::DateTime::from_timestamp(t, 0),
            service: service.into(),
            target: target.into(),
            status,
            duration_ns: 3_000_000,
            method: "GET".into(),
            host: String::new(),
            path: "/".into(),
        }
    }

    #[test]
    fn rows_are_per_host_service_and_target_with_the_app_role() {
        let mut b = TrafficBook::default();
        for t in 100..110 {
            b.record("h1", &req("app-web", "old:80", 200, t), 0);
        }
        for t in 105..110 {
            b.record("h1", &req("app-web", "new:80", 500, t), 0);
            b.record("h2", &req("other-web", "x:80", 200, t), 0);
        }
        b.set_target("h1", "new:80", TargetInfo { container: Some("app-web-v2".into()), version: Some("v2".into()) });
        let role_of = |s: &str| s.strip_prefix("app-").map(str::to_string);
        let snap = b.snapshot(110, &role_of);
        let keys: Vec<_> = snap.rows.iter().map(|r| (r.host.as_str(), r.target.as_str(), r.last_10s.requests)).collect();
        // newest target first within a host × service
        assert_eq!(keys, vec![("h1", "new:80", 5), ("h1", "old:80", 10), ("h2", "x:80", 5)]);
        assert_eq!(snap.rows[0].info.version.as_deref(), Some("v2"));
        assert_eq!(snap.rows[2].role, None);
        let total = snap.host_total("h1", None, 10).unwrap();
        assert_eq!((total.requests, total.s5xx), (15, 5));
        assert!((total.error_pct - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(snap.host_total("h1", Some("web"), 10).unwrap().requests, 15);
        assert_eq!(snap.host_total("h1", Some("api"), 10), None);
        assert_eq!(snap.host_total("h2", None, 10), None, "another app's traffic is not this app's");
        assert_eq!(snap.host_per_second("h1", None)[59], 2);
    }

    #[test]
    fn idle_series_are_forgotten_after_the_longest_window() {
        let mut b = TrafficBook::default();
        b.record("h1", &req("app-web", "a:80", 200, 100), 0);
        b.forget_idle(700);
        assert_eq!(b.snapshot(700, &|_| None).rows.len(), 1);
        b.forget_idle(711);
        assert!(b.snapshot(711, &|_| None).rows.is_empty());
    }
}
