//! Where traffic went wrong during a run: the first time a host's requests through kamal-proxy
//! show 5xx answers, or the newest target's p95 jumps well above the older one's, the step the
//! host was in is marked (timeline and step list), so "it broke at the switch" is visible at
//! a glance. Pure: the snapshot and the timeline in, a mark out.

use super::timeline::{StepState, Timeline, TrafficMark};
use crate::fleet::traffic::{TrafficRow, TrafficSnapshot};
use chrono::{DateTime, Utc};

/// The problem the host's traffic shows now, if any. `had_errors`: the host already answered
/// 5xx before the run (then only a latency jump counts).
pub fn detect(snap: &TrafficSnapshot, host: &str, had_errors: bool) -> Option<String> {
    let rows: Vec<&TrafficRow> = snap.of_host(host).filter(|r| r.role.is_some()).collect();
    let errs: u32 = rows.iter().map(|r| r.errors_per_second.iter().rev().take(2).sum::<u32>()).sum();
    if errs > 0 && !had_errors {
        return Some(format!("5xx began ({errs} in 2 s)"));
    }
    // Rows are newest target first; compare the newest with the one it replaces.
    let (new, old) = (rows.first()?, rows.get(1)?);
    let (Some(np), Some(op)) = (new.last_10s.p95_ms, old.last_1m.p95_ms) else { return None };
    if new.last_10s.requests >= 20 && np > (3.0 * op).max(op + 50.0) {
        return Some(format!("p95 {} → {}", crate::fleet::traffic::fmt_ms(Some(op)), crate::fleet::traffic::fmt_ms(Some(np))));
    }
    None
}

/// Marks each host of a running rollout whose traffic just went wrong (once per host and run).
pub fn mark(tl: &mut Timeline, snap: &TrafficSnapshot, now: DateTime<Utc>) {
    if !tl.is_running() || tl.is_exec() {
        return;
    }
    // Hosts already answering 5xx when the run began are not blamed on it.
    let baseline = tl
        .traffic_baseline
        .get_or_insert_with(|| tl.hosts.iter().filter(|h| snap.host_total(h, None, 10).is_some_and(|s| s.s5xx > 0)).cloned().collect())
        .clone();
    for host in tl.hosts.clone() {
        if tl.traffic_marks.contains_key(&host) {
            continue;
        }
        let Some(what) = detect(snap, &host, baseline.contains(&host)) else { continue };
        let mine = |r: &&super::timeline::StepRow| r.host.as_deref() == Some(host.as_str());
        let step = tl
            .rows
            .iter()
            .position(|r| mine(&r) && matches!(r.state, StepState::Running { .. }))
            .or_else(|| tl.rows.iter().rposition(|r| mine(&r) && !matches!(r.state, StepState::Pending)));
        tl.traffic_marks.insert(host, TrafficMark { what, step, at: now });
    }
}
