//! The runs (`h` in the deploy view): the latest of this session on top, then the earlier ones
//! and the deploys and rollbacks of the hosts' audit logs (anyone's, Kamal's or kdeck's),
//! newest first — what ran, who, when, how long, how it ended. A later action (a lock release,
//! a prune) no longer erases the record of the deploy before it.

use super::super::app::{App, RunEntry};
use super::super::theme::Theme;
use super::super::timeline::Timeline;
use super::super::versions;
use super::centered;
use crate::kamal::audit_runs::AuditRun;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// One run as a line: `deploy v2  11:42:10  done in 3.6s`.
fn run_line<'a>(app: &App, t: &Theme, tl: &Timeline, selected: bool, shown: bool, latest: bool) -> Line<'a> {
    let name = tl.action.as_ref().map(super::action_name).unwrap_or_else(|| "nothing yet".into());
    let version = tl.version.as_deref().map(versions::short_version).unwrap_or_default();
    let at = tl.started_at.map(|s| s.format("%H:%M:%SZ").to_string()).unwrap_or_default();
    let (result, st) = match &tl.finished {
        None if tl.action.is_some() => {
            (format!("running {}", tl.started_at.map(|s| versions::elapsed((app.now - s).to_std().unwrap_or_default())).unwrap_or_default()), t.running())
        }
        None => (String::new(), t.dim()),
        Some(f) if f.ok => (format!("done in {}", versions::elapsed(f.elapsed)), t.ok()),
        Some(f) => (format!("FAILED after {}", versions::elapsed(f.elapsed)), t.err()),
    };
    let base = if selected { t.selected() } else { t.base() };
    Line::from(vec![
        Span::styled(if selected { "▶ " } else { "  " }, base),
        Span::styled(format!("{:<18}", format!("{name} {version}").trim_end().to_string()), base),
        Span::styled(format!(" {at:<12}"), t.dim()),
        Span::styled(format!(" {result:<22}"), st),
        Span::styled(if latest { " latest" } else { "" }, t.dim()),
        Span::styled(if shown { " · on screen" } else { "" }, t.dim()),
    ])
}

/// A deploy or rollback from the hosts' audit logs:
/// `deploy v2  12-03 11:42:10Z  done in 31s  by alice · audit log`.
fn audit_line<'a>(app: &App, t: &Theme, r: &AuditRun, selected: bool) -> Line<'a> {
    let base = if selected { t.selected() } else { t.base() };
    // Another day than today: with its date.
    let fmt = if r.started.date_naive() == app.now.date_naive() { "%H:%M:%SZ" } else { "%m-%d %H:%MZ" };
    let (result, st) = if r.finished() {
        (format!("done in {}", versions::elapsed(r.elapsed())), t.ok())
    } else {
        (format!("unfinished: {}/{} hosts", r.tagged.len(), r.booted.len().max(r.tagged.len())), t.err())
    };
    Line::from(vec![
        Span::styled(if selected { "▶ " } else { "  " }, base),
        Span::styled(format!("{:<18}", format!("{} {}", r.kind(), versions::short_version(&r.version))), base),
        Span::styled(format!(" {:<12}", r.started.format(fmt).to_string()), t.dim()),
        Span::styled(format!(" {result:<22}"), st),
        Span::styled(format!(" by {} · audit log", r.performer), t.dim()),
    ])
}

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect, selected: usize) {
    let entries = app.run_entries();
    let mut lines: Vec<Line> = entries
        .iter()
        .enumerate()
        .map(|(k, e)| match e {
            RunEntry::Latest => run_line(app, t, &app.timeline, selected == k, app.history_view.is_none(), true),
            RunEntry::Earlier(i) => run_line(app, t, &app.history[*i], selected == k, app.history_view == Some(*i), false),
            RunEntry::Audit(r) => audit_line(app, t, r, selected == k),
        })
        .collect();
    if entries.len() == 1 {
        let what = if app.audit.is_none() { "  Reading the hosts' audit logs…" } else { "  No earlier run in this session or in the hosts' audit logs." };
        lines.push(Line::styled(what, t.dim()));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, 100.min(area.width), h);
    // Keep the selected run in view.
    let inner = h.saturating_sub(2) as usize;
    let scroll = (selected + 1).saturating_sub(inner) as u16;
    f.render_widget(Clear, r);
    let title = " Runs: this session and the hosts' audit logs (Enter: show) ";
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)).block(Block::bordered().title(Span::styled(title, t.title()))), r);
}
