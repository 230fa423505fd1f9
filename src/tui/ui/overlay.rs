//! Overlays drawn over the body: help, command palette, confirmation, rollback picker, lock
//! message, quit question.

use super::super::action::{exec_bindings, View};
use super::super::app::{App, Confirm, Overlay};
use super::super::resources;
use super::super::theme::Theme;
use super::super::versions;
use super::centered;
use crate::fleet::model::WarningKind;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    match &app.overlay {
        None => {}
        Some(Overlay::Help) => help(app, t, f, area),
        Some(Overlay::Palette { input, selected }) => palette(app, t, f, area, input, *selected),
        Some(Overlay::Confirm(c)) => confirm(c, t, f, area),
        Some(Overlay::Deploy(dlg)) => super::deploy_dialog::draw(app, t, f, area, dlg),
        Some(Overlay::Rollback { selected }) => rollback(app, t, f, area, *selected),
        Some(Overlay::HostPage { host }) => host_page(app, t, f, area, host),
        Some(Overlay::Prune) => prune(app, t, f, area),
        Some(Overlay::LockMessage { input }) => lock_message(app, t, f, area, input),
        Some(Overlay::Quit) => quit(app, t, f, area),
        Some(Overlay::Failure { scroll }) => super::failure::draw(app, t, f, area, *scroll),
        Some(Overlay::History { selected }) => super::history::draw(app, t, f, area, *selected),
        Some(Overlay::ExecScope { selected }) => super::exec::scope_picker(app, t, f, area, *selected),
        Some(Overlay::RowActions { target, selected }) => super::rows::menu(app, t, f, area, target, *selected),
        Some(Overlay::Inspect { target, scroll }) => super::rows::inspect(app, t, f, area, target, *scroll),
    }
}

fn confirm(c: &Confirm, t: &Theme, f: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = vec![Line::raw("")];
    for l in &c.lines {
        lines.push(Line::raw(format!("  {l}")));
    }
    if !c.room.is_empty() {
        room_lines(c, t, area, &mut lines);
    }
    lines.push(Line::raw(""));
    match &c.require {
        Some(name) => {
            lines.push(Line::from(vec![Span::raw("  Type "), Span::styled(name.clone(), t.warn()), Span::raw(" to confirm: ")]));
            lines.push(Line::from(vec![Span::raw("  > "), Span::styled(c.typed.clone(), t.title()), Span::styled("▏", t.key())]));
        }
        None => lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled("y", t.key()),
            Span::raw(" confirm   "),
            Span::styled("n/Esc", t.key()),
            Span::raw(" cancel"),
        ])),
    }
    let w = if c.room.is_empty() { 70 } else { 100 };
    // Long room-check sentences wrap; leave them the rows they need.
    let inner = w.min(area.width).saturating_sub(2).max(1) as usize;
    let h: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    popup(f, area, w, h as u16 + 2, &format!(" {}? ", c.title), t, lines);
}

/// The confirmation's room check: does each host have room for a second copy.
fn room_lines(c: &Confirm, t: &Theme, area: Rect, lines: &mut Vec<Line>) {
    lines.push(Line::raw(""));
    lines.push(Line::styled("  room for a second copy during the deploy (memory, disk):", t.title()));
    // Many hosts on a small terminal: list the ones without room, count the rest,
    // so the confirm prompt stays on screen.
    let many = c.room.len() + c.lines.len() + 8 > area.height as usize;
    let shown: Vec<_> = if many { c.room.iter().filter(|r| !r.fits).cloned().collect() } else { c.room.clone() };
    let ok = c.room.len() - shown.len();
    if ok > 0 {
        lines.push(Line::styled(format!("  ✓ {ok} host(s) have room for a second copy"), t.ok()));
    }
    for l in resources::room_check_lines(t, &shown) {
        let mut spans = vec![Span::raw("  ")];
        spans.extend(l.spans.into_iter().map(|s| Span::styled(s.content.into_owned(), s.style)));
        lines.push(Line::from(spans));
    }
}

fn host_page(app: &App, t: &Theme, f: &mut Frame, area: Rect, host: &str) {
    f.render_widget(Clear, area);
    match app.resources.as_ref().and_then(|r| r.host(host)) {
        Some(h) => {
            let th = app.resources.as_ref().map(|r| r.thresholds).unwrap_or_default();
            let [page, warn] = Layout::vertical([Constraint::Min(6), Constraint::Length(warn_height(app, host))]).areas(area);
            resources::host_page(f, page, t, h, &th);
            if warn.height > 0 {
                host_warnings(app, t, f, warn, host);
            }
        }
        None => f.render_widget(
            Paragraph::new(vec![Line::raw(""), Line::styled("  No resource data for this host yet (sampling every 2 s).", t.dim())])
                .block(Block::bordered().title(format!(" {host} resources "))),
            area,
        ),
    }
}

fn prune(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let items: usize = app.prune_plans.iter().map(|p| 1 + p.containers.len() + p.untagged.len() + p.dangling_images.len()).sum();
    let r = centered(area, 100, (items.max(1) + 3) as u16);
    f.render_widget(Clear, r);
    let keys = if app.prune_plans.is_empty() {
        Line::from(vec![Span::styled(" computed every minute · ", t.dim()), Span::styled("Esc", t.key()), Span::raw(" close ")])
    } else {
        Line::from(vec![
            Span::raw(" "),
            Span::styled("y", t.key()),
            Span::raw(" run kamal prune all   "),
            Span::styled("n/Esc", t.key()),
            Span::raw(" cancel "),
        ])
    };
    resources::prune_preview(f, r, t, &app.prune_plans, app.retain_containers, keys);
}

fn lock_message(app: &App, t: &Theme, f: &mut Frame, area: Rect, input: &str) {
    let lines = vec![
        Line::raw(""),
        Line::raw(format!("  Acquire the deploy lock on {}", app.fleet.destination.clone().unwrap_or_else(|| "(default)".into()))),
        Line::raw(""),
        Line::from(vec![Span::raw("  message: "), Span::styled(input.to_string(), t.title()), Span::styled("▏", t.key())]),
    ];
    popup(f, area, 64, 6, " Lock ", t, lines);
}

fn quit(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let what = app.timeline.action.as_ref().map(super::action_name).unwrap_or_default();
    let lines = vec![
        Line::raw(""),
        Line::raw(format!("  A {what} is running.")),
        Line::raw("  Quit and abort it safely (no new steps start)?"),
        Line::raw(""),
        Line::from(vec![Span::raw("  "), Span::styled("y", t.key()), Span::raw(" quit   "), Span::styled("any other key", t.key()), Span::raw(" stay")]),
    ];
    popup(f, area, 60, 7, " Quit? ", t, lines);
}

fn popup(f: &mut Frame, area: Rect, w: u16, h: u16, title: &str, t: &Theme, lines: Vec<Line>) {
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(Span::styled(title.to_string(), t.title()))), r);
}

fn help(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let view = app.view();
    let entries: Vec<(String, String)> = if view == View::Exec {
        exec_bindings().iter().filter(|b| b.help).map(|b| (b.label.to_string(), b.desc.to_string())).collect()
    } else {
        app.keymap.shown(view, app.read_only).into_iter().filter(|b| b.help).map(|b| (b.label, b.desc)).collect()
    };
    // Two columns when one would not fit the height.
    // Inside the body with a row to spare at each end (the body keeps its borders).
    let rows_fit = area.height.saturating_sub(4) as usize;
    let cols = if entries.len() > rows_fit && area.width >= 80 { 2 } else { 1 };
    // Each column fits its share of the popup, so lines never wrap on narrow terminals.
    let col_w = ((44 * cols as u16).min(area.width).saturating_sub(2) as usize) / cols;
    let dw = col_w.saturating_sub(14).max(8);
    let line = |(k, d): &(String, String)| {
        let d: String = d.chars().take(dw).collect();
        Line::from(vec![Span::styled(format!("  {k:<12}"), t.key()), Span::raw(format!("{d:<dw$}"))])
    };
    let per_col = entries.len().div_ceil(cols);
    let mut lines: Vec<Line> = Vec::new();
    for i in 0..per_col {
        let mut l = line(&entries[i]);
        if cols == 2 {
            if let Some(e) = entries.get(i + per_col) {
                l.spans.extend(line(e).spans);
            }
        }
        lines.push(l);
    }
    let h = lines.len() as u16 + 2;
    popup(f, area, 44 * cols as u16, h, &format!(" Keys · {} ", view.title()), t, lines);
}

fn palette(app: &App, t: &Theme, f: &mut Frame, area: Rect, input: &str, selected: usize) {
    let items = app.palette_items(input);
    let mut lines = vec![Line::from(vec![Span::styled(" :", t.key()), Span::raw(input.to_string()), Span::styled("▏", t.key())])];
    for (i, a) in items.iter().enumerate() {
        let st = if i == selected { t.selected() } else { t.base() };
        lines.push(Line::styled(format!("  {:<20}", a.name()), st));
    }
    if items.is_empty() {
        lines.push(Line::styled("  no such command", t.dim()));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    popup(f, area, 40, h, " Command ", t, lines);
}

fn rollback(app: &App, t: &Theme, f: &mut Frame, area: Rect, selected: usize) {
    let choices = versions::rollback_choices(&app.fleet);
    let mut lines: Vec<Line> = Vec::new();
    if choices.is_empty() {
        lines.push(Line::styled("  No app containers found on the hosts.", t.dim()));
    }
    for (i, c) in choices.iter().enumerate() {
        let mark = if i == selected { "▶ " } else { "  " };
        let note = if c.current {
            "current".to_string()
        } else if !c.missing.is_empty() {
            format!("missing on {}", c.missing.join(", "))
        } else {
            app.audit.as_ref().and_then(|a| versions::booted_line(a.iter().map(String::as_str), &c.version)).unwrap_or_default()
        };
        let base = if c.selectable() { t.base() } else { t.dim() };
        let st = if i == selected { base.patch(t.selected()) } else { base };
        let row = format!("{mark}{:<12} {:>12}  {note}", versions::short_version(&c.version), versions::ago(app.now, c.created));
        // One line per version: the popup is at most 104 wide, inside the screen's border.
        let room = (area.width.min(104) as usize).saturating_sub(2);
        let row = if row.chars().count() > room { format!("{}…", row.chars().take(room.saturating_sub(1)).collect::<String>()) } else { row };
        lines.push(Line::styled(row, st));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("  Only versions present on every host of every role can be chosen.", t.dim()));
    let h = (lines.len() as u16 + 2).min(area.height);
    popup(f, area, 104, h, " Roll back to… ", t, lines);
}

fn warn_height(app: &App, host: &str) -> u16 {
    let n = app.resources.as_ref().map_or(0, |r| r.warnings().filter(|w| w.host == host).count()) as u16;
    if n == 0 {
        0
    } else {
        n.min(4) + 2
    }
}

/// The host's warnings as sentences under its page.
fn host_warnings(app: &App, t: &Theme, f: &mut Frame, area: Rect, host: &str) {
    let Some(snap) = &app.resources else { return };
    let lines: Vec<Line> = snap
        .warnings()
        .filter(|w| w.host == host)
        .map(|w| {
            let st = if matches!(w.kind, WarningKind::OomKilled | WarningKind::RestartLoop) { t.err() } else { t.warn() };
            Line::from(vec![Span::styled(super::fleet::badge_word(w), st), Span::raw(format!(" {}", w.message))])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(Span::styled(" warnings ", t.title()))), area);
}
