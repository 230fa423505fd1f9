//! Deploy timeline: per host (in boot-group order) each step with its state and elapsed time;
//! failures expanded with the error, the health verdicts and the container's last log lines.

use super::super::app::App;
use super::super::theme::Theme;
use super::super::timeline::{Finished, StepState};
use super::super::versions;
use super::steps::{row_label, step_lines};
use crate::deploy::event::{verdict, ActionKind};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

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
    if let Some(s) = &tl.stage {
        lines.extend(super::stage::lines(app, t, s));
    }
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
        lines.push(host_head(app, t, &host, area.width < 120));
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

/// A host's heading in the full timeline: its mark, name, boot group, steps done and traffic.
fn host_head<'a>(app: &App, t: &Theme, host: &Option<String>, narrow: bool) -> Line<'a> {
    let tl = app.deploy_timeline();
    let (done, total, failed) = tl.host_progress(host);
    let mut head = vec![];
    match host {
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
            let traffic = super::traffic::deploy_spans(app, t, h, narrow);
            if !traffic.is_empty() {
                head.push(Span::raw("   "));
                head.extend(traffic);
            }
        }
        None => head.push(Span::styled("local", t.title())),
    }
    Line::from(head)
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
