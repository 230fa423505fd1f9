//! The canary verdict: the new version's requests on the canary hosts against the requests the
//! other hosts (still on the old version) served over the same window. Pure.

use super::{TrafficRow, TrafficSnapshot};

/// When a canary is stopped.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// Highest 5xx share of the canary's requests, in percent.
    pub max_5xx_pct: f64,
    /// Highest canary p95 as a multiple of the other hosts' p95 (plus 20 ms, so a fast
    /// baseline's noise does not stop a healthy canary).
    pub max_p95_ratio: f64,
    /// Fewer requests than this on the canary: nothing to judge.
    pub min_requests: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { max_5xx_pct: 1.0, max_p95_ratio: 2.0, min_requests: 20 }
    }
}

/// The figures of one side over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Side {
    pub requests: u64,
    pub s5xx: u64,
    pub error_pct: f64,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "reason")]
pub enum Verdict {
    Pass,
    /// Thresholds crossed: roll the canary back.
    Fail(String),
    /// Too few requests reached the canary to tell.
    Inconclusive(String),
}

fn side(rows: &[&TrafficRow], window_s: u32) -> Side {
    let n = window_s.min(60) as usize;
    let long = window_s > 60;
    let mut s = Side::default();
    for r in rows {
        if long {
            s.requests += r.last_10m.requests;
            s.s5xx += r.last_10m.s5xx;
        } else {
            s.requests += r.per_second.iter().rev().take(n).map(|x| u64::from(*x)).sum::<u64>();
            s.s5xx += r.errors_per_second.iter().rev().take(n).map(|x| u64::from(*x)).sum::<u64>();
        }
        let p = if long { r.last_10m.p95_ms } else { r.last_1m.p95_ms };
        s.p95_ms = match (s.p95_ms, p) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    s.error_pct = if s.requests == 0 { 0.0 } else { 100.0 * s.s5xx as f64 / s.requests as f64 };
    s
}

/// The canary's side (its hosts' rows of `version`), the baseline (the other hosts' rows of any
/// other version) and the verdict.
pub fn judge(snap: &TrafficSnapshot, canary: &[String], version: &str, window_s: u32, th: &Thresholds) -> (Side, Side, Verdict) {
    let app = |r: &&TrafficRow| r.role.is_some();
    let new: Vec<&TrafficRow> = snap.rows.iter().filter(app).filter(|r| canary.contains(&r.host) && r.info.version.as_deref() == Some(version)).collect();
    let old: Vec<&TrafficRow> = snap.rows.iter().filter(app).filter(|r| !canary.contains(&r.host) && r.info.version.as_deref() != Some(version)).collect();
    let (c, b) = (side(&new, window_s), side(&old, window_s));
    let v = verdict(&c, &b, window_s, th, "the other hosts", "");
    (c, b, v)
}

/// A rollout canary (kamal-proxy's split on one host): the new version's requests on `host`
/// (those kamal-proxy sent to the rollout target) against the live version's on the same host.
pub fn judge_rollout(snap: &TrafficSnapshot, host: &str, version: &str, window_s: u32, th: &Thresholds) -> (Side, Side, Verdict) {
    let mine = |r: &&TrafficRow| r.role.is_some() && r.host == host;
    let new: Vec<&TrafficRow> = snap.rows.iter().filter(mine).filter(|r| r.info.version.as_deref() == Some(version)).collect();
    let old: Vec<&TrafficRow> = snap.rows.iter().filter(mine).filter(|r| r.info.version.as_deref() != Some(version)).collect();
    let (c, b) = (side(&new, window_s), side(&old, window_s));
    let v = verdict(&c, &b, window_s, th, "the live version", "; only requests with a kamal-rollout cookie can reach it");
    (c, b, v)
}

/// `base`: what the baseline is, in the reasons; `few`: added when too few requests came.
fn verdict(c: &Side, b: &Side, window_s: u32, th: &Thresholds, base: &str, few: &str) -> Verdict {
    if c.s5xx > 0 && c.error_pct > th.max_5xx_pct {
        let base = if b.requests > 0 { format!(" ({base}: {:.1} %)", b.error_pct) } else { String::new() };
        return Verdict::Fail(format!("{:.1} % of the canary's {} requests answered 5xx, above {:.1} %{base}", c.error_pct, c.requests, th.max_5xx_pct));
    }
    if c.requests < th.min_requests {
        return Verdict::Inconclusive(format!(
            "only {} requests reached the canary in {window_s} s (at least {} needed to judge{few})",
            c.requests, th.min_requests
        ));
    }
    if let (Some(cp), Some(bp)) = (c.p95_ms, b.p95_ms) {
        if cp > bp * th.max_p95_ratio + 20.0 {
            return Verdict::Fail(format!(
                "the canary's p95 {} is above {:.1}× {base}'s {} (+20 ms)",
                super::fmt_ms(Some(cp)),
                th.max_p95_ratio,
                super::fmt_ms(Some(bp))
            ));
        }
    }
    Verdict::Pass
}

#[cfg(test)]
mod tests {
    use super::super::{TargetInfo, TrafficBook};
    use super::*;
    use crate::kamal::proxy_log::ProxyRequest;

    fn req(target: &str, status: u16, ms: u64, t: i64) -> ProxyRequest {
        ProxyRequest {
            time: chrono::DateTime::from_timestamp(t, 0),
            service: "app-web".into(),
            target: target.into(),
            status,
            duration_ns: ms * 1_000_000,
            method: "GET".into(),
            host: String::new(),
            path: "/".into(),
        }
    }

    fn snap(canary_5xx_every: Option<u32>, canary_ms: u64, canary_n: u32) -> TrafficSnapshot {
        let mut b = TrafficBook::default();
        for t in 940..1000 {
            for i in 0..canary_n {
                let status = if canary_5xx_every.is_some_and(|e| i % e == 0) { 500 } else { 200 };
                b.record("h1", &req("new:80", status, canary_ms, t), t);
            }
            for _ in 0..10 {
                b.record("h2", &req("old:80", 200, 4, t), t);
            }
        }
        b.set_target("h1", "new:80", TargetInfo { container: None, version: Some("v2".into()) });
        b.set_target("h2", "old:80", TargetInfo { container: None, version: Some("v1".into()) });
        b.snapshot(1000, &|_| Some("web".into()))
    }

    #[test]
    fn a_healthy_canary_passes() {
        let (c, b, v) = judge(&snap(None, 4, 5), &["h1".into()], "v2", 30, &Thresholds::default());
        assert_eq!(v, Verdict::Pass);
        assert_eq!((c.requests, b.requests), (150, 300));
    }

    #[test]
    fn five_hundreds_above_the_threshold_fail_the_canary() {
        let (c, _, v) = judge(&snap(Some(2), 4, 4), &["h1".into()], "v2", 30, &Thresholds::default());
        assert!(matches!(&v, Verdict::Fail(r) if r.contains("50.0 % of the canary's 120 requests answered 5xx")), "{v:?}");
        assert_eq!(c.s5xx, 60);
    }

    #[test]
    fn a_rollout_canary_is_judged_against_the_live_version_on_its_host() {
        // Both versions on one host: the rollout target's 500s against the live target.
        let mut b = TrafficBook::default();
        for t in 970..1000 {
            for i in 0..3 {
                b.record("h1", &req("new:80", if i == 0 { 500 } else { 200 }, 4, t), t);
            }
            b.record("h1", &req("old:80", 200, 4, t), t);
            b.record("h2", &req("other:80", 200, 4, t), t);
        }
        b.set_target("h1", "new:80", TargetInfo { container: None, version: Some("v2".into()) });
        b.set_target("h1", "old:80", TargetInfo { container: None, version: Some("v1".into()) });
        b.set_target("h2", "other:80", TargetInfo { container: None, version: Some("v1".into()) });
        let (c, base, v) = judge_rollout(&b.snapshot(1000, &|_| Some("web".into())), "h1", "v2", 30, &Thresholds::default());
        assert_eq!((c.requests, c.s5xx, base.requests), (90, 30, 30));
        assert!(matches!(&v, Verdict::Fail(r) if r.ends_with("(the live version: 0.0 %)")), "{v:?}");
        let (_, _, v) = judge_rollout(&b.snapshot(1000, &|_| Some("web".into())), "h2", "v2", 30, &Thresholds::default());
        assert!(matches!(&v, Verdict::Inconclusive(r) if r.contains("kamal-rollout cookie")), "{v:?}");
    }

    #[test]
    fn a_slow_canary_fails_on_p95_and_too_little_traffic_is_inconclusive() {
        let (_, _, v) = judge(&snap(None, 400, 5), &["h1".into()], "v2", 30, &Thresholds::default());
        assert!(matches!(&v, Verdict::Fail(r) if r.contains("p95")), "{v:?}");
        let (_, _, v) = judge(&snap(None, 4, 0), &["h1".into()], "v2", 30, &Thresholds::default());
        assert!(matches!(v, Verdict::Inconclusive(_)), "{v:?}");
    }
}
