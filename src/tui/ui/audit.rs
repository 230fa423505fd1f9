//! Audit view: the servers' Kamal audit log lines (`.kamal/<svc>-audit.log`), newest last.

use super::super::app::App;
use super::super::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Audit log ");
    let lines: Vec<Line> = match &app.audit {
        None => vec![Line::styled("  Loading the audit log…", t.dim())],
        Some(a) if a.is_empty() => vec![Line::styled("  The audit log is empty.", t.dim())],
        Some(a) => {
            // audit_scroll counts lines up from the newest.
            let h = area.height.saturating_sub(2) as usize;
            let end = a.len().saturating_sub(app.audit_scroll.min(a.len()));
            let start = end.saturating_sub(h);
            a[start..end].iter().map(|l| Line::raw(l.clone())).collect()
        }
    };
    f.render_widget(Paragraph::new(lines).block(block), area);
}
