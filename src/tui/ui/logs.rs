//! Logs view: merged lines of the selected scope, newest at the bottom, each prefixed with
//! host/role in the host's colour; the `/` filter shows matches with context.

use super::super::app::{App, FILTER_CONTEXT};
use super::super::logbuf::LineRef;
use super::super::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let lv = &app.log_view;
    let show_filter_line = lv.filter_input.is_some() || lv.filter.is_some();
    let [main, filter] = Layout::vertical([Constraint::Min(1), Constraint::Length(show_filter_line as u16)]).areas(area);

    let mode = if lv.follow { "following" } else { "paused" };
    let mut flags = vec![mode.to_string(), format!("since {}", lv.since.label())];
    if lv.wrap {
        flags.push("wrap".into());
    }
    if lv.timestamps {
        flags.push("timestamps".into());
    }
    let title = format!(" Logs · {} · {} · {} lines ", lv.scope.label(), flags.join(" · "), app.logs.len());
    let block = Block::bordered().title(title);
    let inner = block.inner(main);
    f.render_widget(block, main);

    let height = inner.height as usize;
    let width = inner.width.max(1) as usize;
    // Enough rows to fill the screen even when wrapping splits none of them.
    let want = lv.offset + height;
    let rows: Vec<(LineRef, bool, usize)> = match &lv.filter {
        Some(_) => app.logs.filtered_rev_grouped(FILTER_CONTEXT, want),
        None => app.logs.iter_rev(&lv.scope).take(want).map(|l| (l, false, 0)).collect(),
    };
    if rows.is_empty() {
        let msg = if lv.filter.is_some() {
            "  No line matches the filter."
        } else if app.logs.sources().is_empty() {
            "  Waiting for log lines…"
        } else {
            "  No lines in this scope yet."
        };
        f.render_widget(Paragraph::new(Line::styled(msg, t.dim())), inner);
    } else {
        let prefix_w = app.logs.sources().iter().map(|s| s.host.chars().count() + 1 + s.role.chars().count()).max().unwrap_or(0).min(28);
        // Past the oldest line: keep the screen full instead of scrolling into emptiness.
        let offset = if rows.len() < want { lv.offset.min(rows.len().saturating_sub(height)) } else { lv.offset };
        let current_match = lv.match_cursor.and_then(|k| rows.iter().enumerate().filter(|(_, r)| r.1).nth(k).map(|(i, _)| i));
        // Newest first; each line as the rows it takes (wrapped lines hang under the message).
        let mut visible: Vec<Line> = Vec::new();
        for (i, (l, is_match, group)) in rows.iter().enumerate().skip(offset) {
            if visible.len() >= height {
                break;
            }
            // `--` between the filter's context groups (as grep -C), under the older group.
            if let (Some(_), Some((_, _, newer_group))) = (&lv.filter, i.checked_sub(1).and_then(|j| rows.get(j))) {
                if i > offset && newer_group != group {
                    visible.push(Line::styled("--", t.dim()));
                    if visible.len() >= height {
                        break;
                    }
                }
            }
            let (line, indent) = render_line(app, t, l, *is_match && lv.filter.is_some(), current_match == Some(i), prefix_w);
            if lv.wrap {
                // The oldest line on screen may show only its last rows.
                visible.extend(hanging(line, t, width, indent).into_iter().rev().take(height - visible.len()));
            } else {
                visible.push(line);
            }
        }
        visible.reverse();
        f.render_widget(Paragraph::new(visible), inner);
    }

    if show_filter_line {
        let mut spans = vec![Span::styled(" / ", t.key())];
        match &lv.filter_input {
            Some(input) => {
                spans.push(Span::raw(input.clone()));
                spans.push(Span::styled("▏", t.key()));
            }
            None => spans.push(Span::raw(lv.filter.as_ref().map(|r| r.as_str().to_string()).unwrap_or_default())),
        }
        if let Some(e) = &lv.filter_error {
            spans.push(Span::styled(format!("  {e}"), t.err()));
        }
        if lv.filter.is_some() {
            let n = app.logs.match_count();
            spans.push(Span::styled(format!("   {n} match{}", if n == 1 { "" } else { "es" }), t.title()));
        }
        spans.push(Span::styled(format!("   ±{FILTER_CONTEXT} lines of context · n/N jump · Esc clear"), t.dim()));
        f.render_widget(Paragraph::new(Line::from(spans)), filter);
    }
}

/// A log line and the width of what stands before its message (where wrapped rows go on).
fn render_line<'a>(app: &App, t: &Theme, l: &LineRef<'a>, is_match: bool, current: bool, prefix_w: usize) -> (Line<'a>, usize) {
    let s = &app.logs.sources()[l.source];
    let mut spans = Vec::new();
    if current {
        spans.push(Span::styled("▶", t.matched()));
    }
    if app.log_view.timestamps {
        // With the date: a since-24h view spans two days.
        let ts = l.entry.ts.map(|ts| ts.format("%m-%d %H:%M:%S%.3f ").to_string()).unwrap_or_else(|| " ".repeat(19));
        spans.push(Span::styled(ts, t.dim()));
    }
    let prefix = format!("{}/{}", s.host, s.role);
    spans.push(Span::styled(format!("{prefix:<prefix_w$}"), t.host(&s.host)));
    spans.push(Span::styled(" │ ", t.dim()));
    let indent = spans.iter().map(Span::width).sum();
    // Context lines are dimmed; in a matching line the matched text itself is reversed, so it
    // stands out from every host's prefix colour (and without colour).
    match (&app.log_view.filter, is_match) {
        (Some(re), true) => {
            let text = l.entry.text.as_str();
            let mut at = 0;
            for m in re.find_iter(text).filter(|m| !m.is_empty()) {
                spans.push(Span::styled(&text[at..m.start()], t.base()));
                spans.push(Span::styled(&text[m.start()..m.end()], t.matched().add_modifier(Modifier::REVERSED)));
                at = m.end();
            }
            spans.push(Span::styled(&text[at..], t.base()));
        }
        (Some(_), false) => spans.push(Span::styled(l.entry.text.as_str(), t.dim())),
        (None, _) => spans.push(Span::styled(l.entry.text.as_str(), t.base())),
    }
    (Line::from(spans), indent)
}

/// `line` cut into rows of `width` columns, at a space where the row has one (else mid-word);
/// the rows after the first start `indent` columns in, under the message (at most half the
/// width, so a narrow screen still shows text), with the prefix's rule continued.
fn hanging(line: Line<'_>, t: &Theme, width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let indent = if indent * 2 > width { 0 } else { indent };
    let lead = if indent >= 3 { format!("{} │ ", " ".repeat(indent - 3)) } else { " ".repeat(indent) };
    let cells: Vec<(&str, ratatui::style::Style, usize)> =
        line.styled_graphemes(ratatui::style::Style::default()).map(|g| (g.symbol, g.style, Span::raw(g.symbol).width())).collect();
    let mut rows: Vec<Line<'static>> = vec![];
    let mut at = 0;
    while at < cells.len() || rows.is_empty() {
        let room = if rows.is_empty() { width } else { width - indent };
        // As many cells as fit (at least one), then back to the last space if the row is cut.
        let (mut end, mut used) = (at, 0);
        while end < cells.len() && (end == at || used + cells[end].2 <= room) {
            used += cells[end].2;
            end += 1;
        }
        if end < cells.len() {
            if let Some(sp) = (at + 1..end).rev().find(|&k| cells[k].0 == " ") {
                end = sp + 1;
            }
        }
        let mut spans: Vec<Span<'static>> = if rows.is_empty() { vec![] } else { vec![Span::styled(lead.clone(), t.dim())] };
        let lead_spans = spans.len();
        for (sym, style, _) in &cells[at..end] {
            // Consecutive graphemes of one style make one span (the lead stays apart).
            let merge = spans.len() > lead_spans;
            match spans.last_mut() {
                Some(last) if merge && last.style == *style => last.content.to_mut().push_str(sym),
                _ => spans.push(Span::styled(sym.to_string(), *style)),
            }
        }
        rows.push(Line::from(spans));
        at = end;
    }
    rows
}
