//! One step of a timeline as lines: its label, state and elapsed time, and for a failure the
//! sentence that matters, the rest of the error, the health verdicts and the last log lines.
//! Shared by the full and the compact deploy timeline and the failure pane.

use super::super::app::App;
use super::super::theme::Theme;
use super::super::timeline::{StepRow, StepState};
use super::super::versions;
use crate::deploy::event::{verdict, HealthReport, StepKind};
use ratatui::text::{Line, Span};

pub fn step_name(k: StepKind) -> &'static str {
    match k {
        StepKind::Hook => "hook",
        StepKind::Build => "build",
        StepKind::Push => "push",
        StepKind::Pull => "pull",
        StepKind::Lock => "lock",
        StepKind::Unlock => "unlock",
        StepKind::ProxyBoot => "proxy boot",
        StepKind::StaleStop => "stop stale",
        StepKind::Rename => "rename",
        StepKind::Boot => "boot",
        StepKind::Health => "health wait",
        StepKind::Switch => "switch",
        StepKind::StopOld => "stop old",
        StepKind::Tag => "tag",
        StepKind::Prune => "prune",
        StepKind::Exec => "exec",
        StepKind::Other => "step",
    }
}

pub(super) fn row_label(r: &StepRow) -> String {
    match (&r.role, r.kind) {
        (_, StepKind::Hook) | (_, StepKind::Other) => r.label.clone(),
        // One kind covers both the `kamal` network (every host) and kamal-proxy itself.
        (None, StepKind::ProxyBoot) if r.label.contains("network") => "network".into(),
        // A check; a rename happens only on a name clash, and its output says so.
        (Some(role), StepKind::Rename) => format!("check names {role}"),
        // A rollout canary's steps: kamal-proxy's rollout command, and the new container stopped.
        (Some(role), StepKind::Health | StepKind::Switch) if r.label.contains("rollout ") => {
            let l = r.label.trim_start_matches("kamal-proxy ");
            format!("{} {role}", l.split(':').next().unwrap_or(l))
        }
        (Some(role), StepKind::StopOld) if r.label.starts_with("stop the new container") => format!("stop new {role}"),
        (Some(role), k) => format!("{} {role}", step_name(k)),
        (None, k) => step_name(k).to_string(),
    }
}

/// Docker's and kamal-proxy's view, without what the error line above already says.
fn health_line<'a>(t: &Theme, h: &HealthReport, said: &str) -> Vec<Line<'a>> {
    let new = |x: &str| !x.trim().is_empty() && !said.contains(x.trim()) && !said.contains(verdict(x));
    let mut out = Vec::new();
    let mut spans = vec![Span::raw("      ")];
    if let Some(d) = &h.docker {
        spans.push(Span::styled("docker: ", t.dim()));
        spans.push(Span::raw(format!("{d}  ")));
    }
    if let Some(p) = h.proxy.as_ref().filter(|p| new(p)) {
        spans.push(Span::styled("proxy: ", t.dim()));
        spans.push(Span::raw(verdict(p).to_string()));
    }
    if spans.len() > 1 {
        out.push(Line::from(spans));
    }
    if let Some(r) = h.reason.as_ref().filter(|r| new(r) && h.proxy.as_deref().is_none_or(|p| !p.contains(r.trim()))) {
        out.push(Line::from(vec![Span::styled("      reason: ", t.dim()), Span::raw(verdict(r).to_string())]));
    }
    out
}

/// A failure's lines under its step: the sentence that matters first (on the step's line), then
/// the rest of the error line by line (what repeats it dropped), at most three.
fn error_detail(error: &str) -> (&str, Vec<&str>) {
    let head = verdict(error);
    let rest: Vec<&str> =
        error.lines().map(str::trim_end).filter(|l| !l.trim().is_empty() && !l.ends_with(head) && *l != "docker stdout: Nothing written").collect();
    (head, rest)
}

pub(super) fn step_lines(app: &App, t: &Theme, r: &StepRow, w: usize, lines: &mut Vec<Line>) {
    step_state_lines(app, t, r, w, lines);
    // Where this host's traffic first went wrong in the run.
    let tl = app.deploy_timeline();
    let here = r.host.as_ref().and_then(|h| tl.traffic_marks.get(h)).filter(|m| m.step.and_then(|i| tl.rows.get(i)) == Some(r));
    if let Some(m) = here {
        lines.push(Line::styled(format!("      ⚠ traffic: {} while this step ran ({})", m.what, m.at.format("%H:%M:%S")), t.err()));
    }
}

fn step_state_lines(app: &App, t: &Theme, r: &StepRow, w: usize, lines: &mut Vec<Line>) {
    // Cut, never overflow: the elapsed column must stay aligned.
    let label = super::fit(&row_label(r), w);
    match &r.state {
        // After the action ended, a step still pending never ran: say so.
        StepState::Pending if app.deploy_timeline().finished.is_some() => lines.push(Line::styled(format!("  · {label}  not started"), t.dim())),
        StepState::Pending => lines.push(Line::styled(format!("  · {label}"), t.dim())),
        StepState::Running { since } => {
            // Time since the step started, ticking with the clock (not the time of the last
            // progress event, which a health wait only sends when its state changes).
            let el = (app.now - *since).to_std().unwrap_or_default().max(r.progress_elapsed.unwrap_or_default());
            let mut spans = vec![Span::styled("  ⠿ ", t.running()), Span::styled(label, t.running()), Span::raw(format!(" {:>7}", versions::elapsed(el)))];
            if let Some(p) = &r.progress {
                spans.push(Span::styled(format!("  {p}"), t.dim()));
            }
            lines.push(Line::from(spans));
            if let Some(h) = &r.health {
                lines.extend(health_line(t, h, ""));
            }
        }
        StepState::Done { elapsed } => {
            let mut spans = vec![Span::styled("  ✓ ", t.ok()), Span::raw(label), Span::raw(format!(" {:>7}", versions::elapsed(*elapsed)))];
            if r.kind == StepKind::Health {
                if let Some(p) = r.health.as_ref().and_then(|h| h.proxy.clone().or(h.docker.clone())) {
                    spans.push(Span::styled(format!("  {p}"), t.dim()));
                }
            }
            lines.push(Line::from(spans));
        }
        StepState::Failed { elapsed, error, last_logs, health } => {
            let (head, rest) = error_detail(error);
            lines.push(Line::from(vec![
                Span::styled("  ✗ ", t.err()),
                Span::styled(label, t.err()),
                Span::raw(format!(" {:>7}  ", versions::elapsed(*elapsed))),
                Span::styled(head.to_string(), t.err()),
            ]));
            for l in rest.iter().take(3) {
                lines.push(Line::styled(format!("      {l}"), t.dim()));
            }
            if rest.len() > 3 {
                lines.push(Line::styled(format!("      … {} more line(s)", rest.len() - 3), t.dim()));
            }
            if let Some(h) = health.as_ref().or(r.health.as_ref()) {
                lines.extend(health_line(t, h, error));
            }
            if !last_logs.is_empty() {
                lines.push(Line::styled("      last log lines:", t.dim()));
                for l in last_logs.iter().rev().take(8).rev() {
                    lines.push(Line::from(vec![Span::styled("      │ ", t.dim()), Span::raw(l.clone())]));
                }
            }
        }
    }
}
