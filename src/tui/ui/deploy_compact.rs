//! The compact deploy timeline, for when the full one does not fit (10, 50 hosts; 3 hosts at
//! 80x24): one line per host — its boot group, a bar of its steps, done/total, the step it is
//! in and its elapsed time — and under it the steps of the selected host (j/k). Until the
//! operator moves, the selection follows the first failed host, else the first running one.

use super::super::app::App;
use super::super::theme::Theme;
use super::super::timeline::{StepRow, StepState};
use super::super::versions;
use super::steps::{row_label, step_lines};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use std::time::Duration;

/// The host the step pane shows: the operator's pick once they moved, else the first failed
/// host, else the first running one, else the first.
pub fn selected(app: &App, hosts: &[Option<String>]) -> usize {
    match app.deploy_host {
        Some(i) => i.min(hosts.len().saturating_sub(1)),
        None => app.deploy_timeline().auto_host(hosts),
    }
}

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect, title: String, head: Vec<Line>, name_w: usize) {
    let tl = app.deploy_timeline();
    let hosts = tl.host_order();
    let sel = selected(app, &hosts);
    let host_w = hosts.iter().map(|h| h.as_deref().unwrap_or("local").chars().count()).max().unwrap_or(5);
    let bar_w = hosts.iter().map(|h| tl.rows.iter().filter(|r| &r.host == h).count()).max().unwrap_or(0);
    let mut top: Vec<Line> = head;
    top.push(summary(app, t, &hosts));
    let fixed = top.len();
    let rows: Vec<&StepRow> = tl.rows.iter().filter(|r| r.host == hosts.get(sel).cloned().flatten()).collect();
    // The host list takes what it needs (up to all but 6 rows); the steps pane the rest.
    let list_h = ((fixed + hosts.len() + 2) as u16).min(area.height.saturating_sub(6)).max(3.min(area.height));
    let [list, steps] = Layout::vertical([Constraint::Length(list_h), Constraint::Min(0)]).areas(area);
    // The heading stays; the host lines scroll to keep the selected one in view, with a few
    // hosts after it when there are.
    let room = (list.height.saturating_sub(2) as usize).saturating_sub(fixed).max(1);
    let start = (sel + 3).saturating_sub(room).min(hosts.len().saturating_sub(room));
    for (i, h) in hosts.iter().enumerate().skip(start).take(room) {
        top.push(host_line(app, t, h, i == sel, (host_w, bar_w, area.width < 120)));
    }
    f.render_widget(Paragraph::new(top).block(Block::bordered().title(title)), list);
    let mut lines = Vec::new();
    for r in rows {
        step_lines(app, t, r, name_w, &mut lines);
    }
    let name = hosts.get(sel).cloned().flatten().unwrap_or_else(|| "local".into());
    let block = Block::bordered().title(Span::styled(format!(" {name} · steps (j/k: host) "), t.title()));
    f.render_widget(Paragraph::new(lines).block(block), steps);
}

/// `37/50 hosts done · 1 running · 12 waiting · group 4/5`: the rollout at a glance.
fn summary<'a>(app: &App, t: &Theme, hosts: &[Option<String>]) -> Line<'a> {
    let tl = app.deploy_timeline();
    let remote: Vec<&Option<String>> = hosts.iter().filter(|h| h.is_some()).collect();
    let (mut done, mut running, mut failed) = (0, 0, 0);
    for h in &remote {
        let (d, total, f) = tl.host_progress(h);
        if f {
            failed += 1;
        } else if total > 0 && d == total {
            done += 1;
        } else if tl.rows.iter().any(|r| &r.host == *h && matches!(r.state, StepState::Running { .. })) {
            running += 1;
        }
    }
    let waiting = remote.len() - done - running - failed;
    let mut spans = vec![Span::styled(format!("{done}/{} hosts done", remote.len()), t.title())];
    spans.push(Span::styled(format!(" · {running} running · {waiting} waiting"), t.dim()));
    if failed > 0 {
        spans.push(Span::styled(format!(" · {failed} failed"), t.err()));
    }
    if let (Some(g), true) = (tl.current_group, tl.groups.len() > 1) {
        spans.push(Span::styled(format!(" · group {}/{}", g + 1, tl.groups.len()), t.dim()));
    }
    Line::from(spans)
}

/// `› ● 10.77.4.12  g1/2  ███▓░░░░  3/8   14.2s  health wait web`
fn host_line<'a>(app: &App, t: &Theme, host: &Option<String>, selected: bool, (host_w, bar_w, narrow): (usize, usize, bool)) -> Line<'a> {
    let tl = app.deploy_timeline();
    let (done, total, failed) = tl.host_progress(host);
    let rows: Vec<&StepRow> = tl.rows.iter().filter(|r| &r.host == host).collect();
    let running = rows.iter().find(|r| matches!(r.state, StepState::Running { .. }));
    let (mark, mark_st) = if failed {
        ("✗", t.err())
    } else if total > 0 && done == total {
        ("✓", t.ok())
    } else if running.is_some() {
        ("●", t.running())
    } else {
        ("·", t.dim())
    };
    let name = host.clone().unwrap_or_else(|| "local".into());
    let group = match host.as_deref().and_then(|h| tl.group_of(h)) {
        Some(g) if tl.groups.len() > 1 => format!("g{}/{}", g + 1, tl.groups.len()),
        _ => String::new(),
    };
    let mut spans = vec![
        Span::raw(if selected { "› " } else { "  " }),
        Span::styled(format!("{mark} "), mark_st),
        Span::styled(format!("{name:<host_w$}"), t.host(&name)),
        Span::styled(format!("  {group:<5} "), t.dim()),
    ];
    for r in &rows {
        let (c, st) = match r.state {
            StepState::Done { .. } => ("█", t.ok()),
            StepState::Running { .. } => ("▓", t.running()),
            StepState::Failed { .. } => ("█", t.err()),
            StepState::Pending => ("░", t.dim()),
        };
        spans.push(Span::styled(c, st));
    }
    spans.push(Span::raw(" ".repeat(bar_w.saturating_sub(rows.len()))));
    let phase = match (failed, running) {
        (true, _) => rows.iter().find(|r| matches!(r.state, StepState::Failed { .. })).map(|r| format!("failed: {}", row_label(r))).unwrap_or_default(),
        (false, Some(r)) => row_label(r),
        (false, None) if total > 0 && done == total => "done".into(),
        (false, None) if tl.finished.is_some() => "not started".into(),
        (false, None) => "waiting".into(),
    };
    spans.push(Span::styled(format!("  {:>5}", format!("{done}/{total}")), t.dim()));
    spans.push(Span::raw(format!(" {:>7}  ", versions::elapsed(host_elapsed(app, &rows)))));
    let phase_w: usize = if narrow { 16 } else { 26 };
    let pad = phase_w.saturating_sub(phase.chars().count());
    spans.push(Span::styled(phase, if failed { t.err() } else { t.base() }));
    if let Some(h) = host {
        let traffic = super::traffic::deploy_spans(app, t, h, narrow);
        if !traffic.is_empty() {
            spans.push(Span::raw(" ".repeat(pad + 1)));
            spans.extend(traffic);
        }
    }
    Line::from(spans)
}

/// Time the host's steps have taken so far (a running step counts up to now).
fn host_elapsed(app: &App, rows: &[&StepRow]) -> Duration {
    rows.iter()
        .map(|r| match &r.state {
            StepState::Done { elapsed } | StepState::Failed { elapsed, .. } => *elapsed,
            StepState::Running { since } => (app.now - *since).to_std().unwrap_or_default(),
            StepState::Pending => Duration::ZERO,
        })
        .sum()
}
