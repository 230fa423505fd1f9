//! The last action's failures whole (`Enter` in the deploy view): per failed step, every line
//! of its error, Docker's and kamal-proxy's health verdicts in full, and the container's last
//! log lines, in a scrollable pane. The timeline keeps only the sentence that matters.

use super::super::app::App;
use super::super::theme::Theme;
use super::super::timeline::StepState;
use super::super::versions;
use super::centered;
use crate::deploy::event::verdict;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Every failure of the timeline, as lines.
pub fn lines<'a>(app: &App, t: &Theme) -> Vec<Line<'a>> {
    let tl = app.deploy_timeline();
    let mut out = Vec::new();
    if let Some(fin) = tl.finished.as_ref().filter(|f| !f.ok) {
        for l in fin.summary.lines().filter(|l| !l.trim().is_empty()) {
            out.push(Line::styled(l.to_string(), t.err()));
        }
        out.push(Line::raw(""));
    }
    for r in &tl.rows {
        let StepState::Failed { elapsed, error, last_logs, health } = &r.state else { continue };
        let host = r.host.clone().unwrap_or_else(|| "local".into());
        out.push(Line::from(vec![
            Span::styled("✗ ", t.err()),
            Span::styled(host.clone(), t.host(&host).patch(t.title())),
            Span::raw(format!("  {}  after {}", super::steps::row_label(r), versions::elapsed(*elapsed))),
        ]));
        out.push(Line::styled(format!("  {}", verdict(error)), t.err()));
        section(&mut out, t, "error", error.lines());
        if let Some(h) = health.as_ref().or(r.health.as_ref()) {
            let mut facts = Vec::new();
            facts.extend(h.docker.as_ref().map(|d| format!("docker: {d}")));
            // What the error above already says in full is not printed twice.
            let new = |x: &&String| x.trim() != error.trim();
            facts.extend(h.proxy.as_ref().filter(new).map(|p| format!("kamal-proxy: {p}")));
            facts.extend(h.reason.as_ref().filter(new).filter(|r| h.proxy.as_ref() != Some(*r)).map(|r| format!("last health check: {r}")));
            section(&mut out, t, "health", facts.iter().flat_map(|f| f.lines()));
        }
        section(&mut out, t, "last log lines", last_logs.iter().map(String::as_str));
        out.push(Line::raw(""));
    }
    out
}

fn section<'a, 'b>(out: &mut Vec<Line<'a>>, t: &Theme, title: &str, body: impl Iterator<Item = &'b str>) {
    let body: Vec<&str> = body.filter(|l| !l.trim().is_empty()).collect();
    if body.is_empty() {
        return;
    }
    out.push(Line::styled(format!("  {title}:"), t.dim()));
    out.extend(body.into_iter().map(|l| Line::from(vec![Span::styled("  │ ", t.dim()), Span::raw(l.to_string())])));
}

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect, scroll: u16) {
    let lines = lines(app, t);
    let r = centered(area, area.width.saturating_sub(2).max(20), area.height.saturating_sub(2).max(5));
    let inner = r.height.saturating_sub(2);
    let scroll = scroll.min((lines.len() as u16).saturating_sub(inner));
    f.render_widget(Clear, r);
    let block = Block::bordered().title(Span::styled(" What failed ", t.title()));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll, 0)).block(block), r);
}
