//! Audit view: the servers' Kamal audit log lines (`.kamal/<svc>-audit.log`) of every host,
//! merged by their time, newest last; a long line wraps under its text (not cut).

use super::super::app::App;
use super::super::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let title = if app.audit_marked.is_empty() {
        " Audit log ".to_string()
    } else {
        format!(" Audit log · ▌ the run picked in h ({} lines) ", app.audit_marked.len())
    };
    let block = Block::bordered().title(title);
    let lines: Vec<Line> = match &app.audit {
        None => vec![Line::styled("  Loading the audit log…", t.dim())],
        Some(a) if a.is_empty() => vec![Line::styled("  The audit log is empty.", t.dim())],
        Some(a) => {
            // audit_scroll counts lines up from the newest; wrapped lines take their rows.
            let h = area.height.saturating_sub(2) as usize;
            let w = area.width.saturating_sub(2).max(1) as usize;
            let end = a.len().saturating_sub(app.audit_scroll.min(a.len()));
            let (mut start, mut used) = (end, 0);
            while start > 0 {
                let rows = a[start - 1].chars().count().div_ceil(w).max(1);
                if used + rows > h && used > 0 {
                    break;
                }
                used += rows;
                start -= 1;
            }
            (start..end).map(|i| audit_line(t, &a[i], app.audit_marked.contains(&i))).collect()
        }
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

/// `host  [time] [who] text`: the host in its colour; a line of the run picked in `h` marked.
fn audit_line<'a>(t: &Theme, l: &str, marked: bool) -> Line<'a> {
    let (mark, text) = if marked { ("▌", t.selected()) } else { ("", t.base()) };
    match l.split_once("  ") {
        Some((host, rest)) => {
            Line::from(vec![Span::styled(mark, t.key()), Span::styled(format!("{host}  "), t.host(host)), Span::styled(rest.to_string(), text)])
        }
        None => Line::styled(l.to_string(), text),
    }
}
