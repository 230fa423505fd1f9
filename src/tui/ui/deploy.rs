//! Deploy timeline: per host (in boot-group order) each step with its state and elapsed time;
//! failures expanded with the error, the health verdicts and the container's last log lines.

use super::super::app::App;
use super::super::theme::Theme;
use super::super::timeline::{Finished, StepRow, StepState};
use super::super::versions;
use crate::deploy::event::{verdict, ActionKind, HealthReport, StepKind};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

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

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let tl = app.deploy_timeline();
    let Some(action) = &tl.action else {
        let mut lines = vec![Line::raw(""), Line::styled("  No deploy has run in this session.", t.dim())];
        if !app.read_only {
            lines.push(Line::styled("  D deploy · R redeploy · B rollback (all ask first)", t.dim()));
        }
        f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Deploy ")), area);
        return;
    };
    // A rollback's name already carries its version.
    // Only actions that ship a version name it (prune, lock, proxy and exec do not).
    let version = match action {
        ActionKind::Setup | ActionKind::Deploy | ActionKind::Redeploy | ActionKind::AppBoot => {
            tl.version.as_deref().map(versions::short_version).unwrap_or_default()
        }
        _ => String::new(),
    };
    let status = match &tl.finished {
        None => {
            let el = tl.started_at.map(|s| (app.now - s).to_std().unwrap_or_default()).unwrap_or_default();
            let ab = match tl.aborting {
                Some(true) => " · ABORT FORCED",
                Some(false) => " · aborting (no new steps)",
                None => "",
            };
            format!("running {}{ab}", versions::elapsed(el))
        }
        Some(fin) if fin.ok => format!("done in {}", versions::elapsed(fin.elapsed)),
        Some(fin) => format!("FAILED after {}: {}", versions::elapsed(fin.elapsed), verdict(&fin.summary).trim_end_matches(':')),
    };
    // An earlier run picked with `h` says so (the latest may be running meanwhile).
    let earlier = if app.history_view.is_some() { " · earlier run (h: runs)" } else { "" };
    let title = format!(" {} · {status}{earlier} ", [super::action_name(action), version.clone()].join(" ").trim_end());
    let mut lines: Vec<Line> = Vec::new();
    if let Some(fin) = &tl.finished {
        finished_lines(app, t, fin, action, &version, &mut lines);
    }
    let name_w = app.deploy_timeline().rows.iter().map(|r| row_label(r).chars().count()).max().unwrap_or(10).max(10);
    // Every elapsed time lines up: the column is as wide as the longest label (within reason).
    let name_w = name_w.min((area.width as usize).saturating_sub(24).max(10));
    if !tl.is_exec() && !fits(app, area, lines.len()) {
        return super::deploy_compact::draw(app, t, f, area, title, lines, name_w);
    }
    for host in tl.host_order() {
        let (done, total, failed) = tl.host_progress(&host);
        let mut head = vec![];
        match &host {
            Some(h) => {
                let mark = if failed {
                    Span::styled("✗ ", t.err())
                } else if total > 0 && done == total {
                    Span::styled("✓ ", t.ok())
                } else {
                    Span::styled("● ", t.running())
                };
                head.push(mark);
                head.push(Span::styled(h.clone(), t.host(h).patch(t.title())));
                if let Some(g) = tl.group_of(h) {
                    if tl.groups.len() > 1 {
                        head.push(Span::styled(format!("  group {}/{}", g + 1, tl.groups.len()), t.dim()));
                    }
                }
                head.push(Span::styled(format!("  {done}/{total}"), t.dim()));
            }
            None => head.push(Span::styled("local", t.title())),
        }
        lines.push(Line::from(head));
        for r in tl.rows.iter().filter(|r| r.host == host) {
            step_lines(app, t, r, name_w, &mut lines);
        }
    }
    if tl.is_exec() && !tl.output.is_empty() {
        lines.push(Line::styled("output", t.title()));
        for (h, l) in tl.output.iter().rev().take(10).rev() {
            let h = h.clone().unwrap_or_else(|| "local".into());
            lines.push(Line::from(vec![Span::styled(format!("  {h} │ "), t.host(&h)), Span::raw(l.clone())]));
        }
    }
    let inner_h = area.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(inner_h);
    // Until the operator scrolls, keep the first failure (else the first running step) in view.
    let scroll = if app.deploy_scroll == 0 {
        let focus = lines
            .iter()
            .position(|l| l.spans.first().is_some_and(|s| s.content.starts_with("  ✗")))
            .or_else(|| lines.iter().position(|l| l.spans.first().is_some_and(|s| s.content.starts_with("  ⠿"))));
        match focus {
            Some(i) if i + 8 > inner_h => (i + 8 - inner_h).min(max_scroll),
            _ => 0,
        }
    } else {
        app.deploy_scroll.min(max_scroll)
    } as u16;
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)).block(Block::bordered().title(title)), area);
}

/// Whether the full timeline (a heading and every step of every host, under `head` lines)
/// fits the pane; else the compact one is drawn.
fn fits(app: &App, area: Rect, head: usize) -> bool {
    let tl = app.deploy_timeline();
    let hosts = tl.host_order();
    let needed = head + hosts.len() + tl.rows.iter().filter(|r| hosts.contains(&r.host)).count();
    // A failure's detail lines come on top; a single host always uses the full view.
    let failed_extra = if tl.rows.iter().any(|r| matches!(r.state, StepState::Failed { .. })) { 6 } else { 0 };
    hosts.iter().filter(|h| h.is_some()).count() <= 1 || needed + failed_extra <= area.height.saturating_sub(2) as usize
}

/// The finished action's verdict: its summary line by line, and where the whole failure is.
fn finished_lines(app: &App, t: &Theme, fin: &Finished, action: &ActionKind, version: &str, lines: &mut Vec<Line>) {
    let tl = app.deploy_timeline();
    let st = if fin.ok { t.ok() } else { t.err() };
    let mark = if fin.ok { "✓" } else { "✗" };
    // The engine's summary names the action with Debug formatting; say it plainly instead.
    let text = match (fin.ok, action) {
        (true, ActionKind::Exec { .. }) | (false, _) => fin.summary.clone(),
        (true, _) => format!("{} finished", [super::action_name(action), version.to_string()].join(" ").trim_end()),
    };
    // A multi-line summary ("Exceptions on 2 hosts:" + one line per host) keeps its lines.
    // At most four of them here; the failure pane (Enter) has them all.
    let mut text_lines = text.lines().filter(|l| !l.trim().is_empty() && *l != "docker stdout: Nothing written");
    lines.push(Line::styled(format!("{mark} {}", text_lines.next().unwrap_or_default()), st));
    let rest: Vec<&str> = text_lines.collect();
    lines.extend(rest.iter().take(4).map(|l| Line::styled(format!("  {l}"), st)));
    if rest.len() > 4 {
        lines.push(Line::styled(format!("  … {} more line(s)", rest.len() - 4), t.dim()));
    }
    if !fin.ok && tl.rows.iter().any(|r| matches!(r.state, StepState::Failed { .. })) {
        lines.push(Line::styled("  Enter: the whole error, health and logs", t.dim()));
    }
}

pub(super) fn row_label(r: &StepRow) -> String {
    match (&r.role, r.kind) {
        (_, StepKind::Hook) | (_, StepKind::Other) => r.label.clone(),
        // One kind covers both the `kamal` network (every host) and kamal-proxy itself.
        (None, StepKind::ProxyBoot) if r.label.contains("network") => "network".into(),
        // A check; a rename happens only on a name clash, and its output says so.
        (Some(role), StepKind::Rename) => format!("check names {role}"),
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
