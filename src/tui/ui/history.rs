//! The runs of this session (`h` in the deploy view): the latest on top, then the earlier ones
//! newest first — what ran, when, how long, how it ended — so a later action (a lock release,
//! a prune) no longer erases the record of the deploy before it.

use super::super::app::App;
use super::super::theme::Theme;
use super::super::timeline::Timeline;
use super::super::versions;
use super::centered;
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
        Span::styled(format!("{:<24}", format!("{name} {version}").trim_end().to_string()), base),
        Span::styled(format!(" {at:<9}"), t.dim()),
        Span::styled(format!(" {result:<22}"), st),
        Span::styled(if latest { " latest" } else { "" }, t.dim()),
        Span::styled(if shown { " · on screen" } else { "" }, t.dim()),
    ])
}

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect, selected: usize) {
    let mut lines = vec![run_line(app, t, &app.timeline, selected == 0, app.history_view.is_none(), true)];
    for (k, tl) in app.history.iter().rev().enumerate() {
        let index = app.history.len() - 1 - k;
        lines.push(run_line(app, t, tl, selected == k + 1, app.history_view == Some(index), false));
    }
    if app.history.is_empty() {
        lines.push(Line::styled("  No earlier run in this session (the audit view has the hosts' history).", t.dim()));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, 90.min(area.width), h);
    // Keep the selected run in view.
    let inner = h.saturating_sub(2) as usize;
    let scroll = (selected + 1).saturating_sub(inner) as u16;
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)).block(Block::bordered().title(Span::styled(" Runs of this session ", t.title()))), r);
}
