//! The row-action menu (`x` on a fleet row) and the inspect overlay.

use super::super::action::row_op_key;
use super::super::app::App;
use super::super::rows::{command_line, start_version, InspectView, RowTarget};
use super::super::theme::Theme;
use super::{centered, fit};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// The menu: each action the row offers with its key, the highlighted one's headless command
/// underneath.
pub fn menu(app: &App, t: &Theme, f: &mut Frame, area: Rect, target: &RowTarget, selected: usize) {
    let ops = app.row_ops(target);
    let w = 64.min(area.width);
    let inner = w.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let mark = if i == selected { "›" } else { " " };
        let (key, desc) = row_op_key(*op);
        let mut l = Line::from(vec![Span::raw(format!(" {mark} ")), Span::styled(format!("{key:<3}"), t.key()), Span::raw(fit(desc, inner.saturating_sub(6)))]);
        if i == selected {
            l = l.patch_style(t.selected());
        }
        lines.push(l);
    }
    if ops.is_empty() {
        lines.push(Line::styled("  nothing can be done to this row read-only", t.dim()));
    }
    if let Some(op) = ops.get(selected) {
        let version = start_version(&app.fleet, target);
        if let Some(cmd) = command_line(*op, target, app.fleet.destination.as_deref(), app.version_flag.as_deref(), version.as_deref()) {
            lines.push(Line::raw(""));
            lines.push(Line::styled(format!(" runs: {cmd}"), t.dim()));
        }
    }
    let h: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner.max(1))).sum();
    let r = centered(area, w, (h + 2) as u16);
    f.render_widget(Clear, r);
    let title = Span::styled(format!(" Actions · {} ", target.label()), t.title());
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), r);
}

/// A container's inspect over the body: what it runs, its env (secrets masked), labels,
/// mounts, ports and health log.
pub fn inspect(app: &App, t: &Theme, f: &mut Frame, area: Rect, target: &RowTarget, scroll: u16) {
    f.render_widget(Clear, area);
    let title = Span::styled(format!(" Inspect · {} ", target.label()), t.title());
    let lines = match &app.inspect {
        None => vec![Line::raw(""), Line::styled("  Reading the container's details…", t.dim())],
        Some(v) => view_lines(v, t),
    };
    let p = Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll, 0)).block(Block::bordered().title(title));
    f.render_widget(p, area);
}

fn view_lines<'a>(v: &InspectView, t: &Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    if let Some(e) = &v.error {
        out.push(Line::raw(""));
        out.push(Line::styled(format!("  cannot read {} on {}: {e}", v.container, v.host), t.err()));
        return out;
    }
    let kv = |k: &str, val: String| Line::from(vec![Span::styled(format!(" {k:<10}"), t.dim()), Span::raw(val)]);
    out.push(kv("container", format!("{} on {}", v.container, v.host)));
    out.push(kv("image", v.image.clone()));
    let mut state = v.state.clone();
    if let Some(s) = &v.started {
        state.push_str(&format!(" · since {s}"));
    }
    state.push_str(&format!(" · restarts {}", v.restart_count));
    out.push(kv("state", state));
    out.push(kv("health", v.health.clone().unwrap_or_else(|| "no health check".into())));
    let section = |out: &mut Vec<Line<'a>>, name: &str, items: Vec<Line<'a>>| {
        out.push(Line::raw(""));
        out.push(Line::styled(format!(" {name}"), t.title()));
        if items.is_empty() {
            out.push(Line::styled("   (none)", t.dim()));
        }
        out.extend(items);
    };
    let env = v
        .env
        .iter()
        .map(|(k, val)| {
            let st = if val == super::super::rows::MASK { t.dim() } else { t.base() };
            Line::from(vec![Span::raw(format!("   {k}=")), Span::styled(val.clone(), st)])
        })
        .collect();
    section(&mut out, "Env (secret values hidden)", env);
    section(&mut out, "Labels", v.labels.iter().map(|(k, val)| Line::raw(format!("   {k}={val}"))).collect());
    section(&mut out, "Mounts", v.mounts.iter().map(|m| Line::raw(format!("   {m}"))).collect());
    section(&mut out, "Ports", v.ports.iter().map(|p| Line::raw(format!("   {p}"))).collect());
    section(&mut out, "Health log", v.health_log.iter().map(|h| Line::raw(format!("   {h}"))).collect());
    out
}
