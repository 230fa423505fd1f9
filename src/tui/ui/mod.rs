//! Pure drawing: `draw(&App, &mut Frame)` with one small function per block. Nothing here
//! changes state or does I/O.

mod audit;
mod deploy;
mod deploy_compact;
mod deploy_dialog;
mod exec;
mod failure;
pub(crate) mod fleet;
mod fleet_detail;
mod history;
mod logs;
mod overlay;
mod rows;
mod servers;
mod stage;
mod steps;
pub mod tabs;
pub(crate) mod traffic;

use super::action::{exec_bindings, overlay_bindings, View};
use super::app::App;
use super::theme::Theme;
use super::versions;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(app: &App, f: &mut Frame) {
    draw_in(app, f, f.area())
}

/// [`draw`] into `area` (the deck draws its tab bar above it).
pub fn draw_in(app: &App, f: &mut Frame, area: Rect) {
    let t = Theme::with(app.color, app.palette);
    app.hits.set(Default::default());
    let [header, tabs, body, status] = Layout::vertical([Constraint::Length(2), Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    draw_header(app, &t, f, header);
    draw_tabs(app, &t, f, tabs);
    match app.view() {
        View::Fleet => fleet::draw(app, &t, f, body),
        View::Logs => logs::draw(app, &t, f, body),
        View::Deploy => deploy::draw(app, &t, f, body),
        View::Exec => exec::draw(app, &t, f, body),
        View::Audit => audit::draw(app, &t, f, body),
        View::Traffic => traffic::draw(app, &t, f, body),
    }
    draw_status(app, &t, f, status);
    overlay::draw(app, &t, f, body);
}

fn draw_header(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let s = &app.fleet;
    let dest = s.destination.clone().unwrap_or_else(|| "(default)".into());
    let version = versions::current_version(s).map(|v| versions::short_version(&v)).unwrap_or_else(|| "-".into());
    let service = if s.service.is_empty() { "-".to_string() } else { s.service.clone() };
    // Narrow terminals get the image's name without its registry (the whole line must fit).
    let image = match s.image.as_str() {
        "" => "-".to_string(),
        i if area.width < 110 => i.rsplit('/').next().unwrap_or(i).to_string(),
        i => i.to_string(),
    };
    let l1 = Line::from(vec![
        Span::styled(" kdeck ", t.tab_active()),
        Span::raw(" "),
        Span::styled("service ", t.dim()),
        Span::styled(service, t.title()),
        Span::styled("  dest ", t.dim()),
        Span::styled(dest, t.title()),
        Span::styled("  version ", t.dim()),
        Span::styled(version, t.title()),
        Span::styled(if versions::fleet_mixed(s) { " ≠ hosts differ" } else { "" }, t.warn()),
        Span::styled("  image ", t.dim()),
        Span::raw(image),
    ]);
    let lock = match &s.lock {
        None => Line::from(vec![Span::styled(" lock ", t.dim()), Span::styled("unlocked", t.ok())]),
        Some(l) => {
            let age = l.at.map(|a| versions::ago(app.now, Some(a))).unwrap_or_else(|| "?".into());
            Line::from(vec![
                Span::styled(" lock ", t.dim()),
                Span::styled(format!("LOCKED by {}", l.holder), t.warn()),
                Span::raw(format!(" · {age} · ")),
                Span::raw(l.message.clone()),
            ])
        }
    };
    let mut l2 = lock;
    if app.in_maintenance() {
        l2.spans.push(Span::styled("  MAINTENANCE (503) · M: live", t.err()));
    }
    if app.read_only {
        l2.spans.push(Span::styled("  [read-only]", t.warn()));
    }
    f.render_widget(Paragraph::new(vec![l1, l2]), area);
}

fn draw_tabs(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    let mut hits = app.hits.get();
    hits.tabs_y = area.y;
    let mut x = area.x + 1;
    for (i, v) in View::ALL.iter().enumerate() {
        if app.read_only && *v == View::Exec {
            continue;
        }
        let label = format!(" {} {} ", i + 1, v.title());
        let w = label.chars().count() as u16;
        hits.tabs[i] = (x, x + w);
        x += w + 1;
        spans.push(Span::styled(label, if *v == app.view() { t.tab_active() } else { t.dim() }));
        spans.push(Span::raw(" "));
    }
    app.hits.set(hits);
    let tl = &app.timeline;
    if let Some(a) = &tl.action {
        let name = action_name(a);
        // A deploy in parts between its runs is still running (its stage says what it waits for).
        let staged = tl.stage.as_ref().filter(|s| !matches!(s.state, super::dispatch::StageState::Done { .. }));
        let (txt, st) = match &tl.finished {
            Some(_) if staged.is_some() => {
                let what =
                    if staged.is_some_and(|s| matches!(s.state, super::dispatch::StageState::Watching { .. })) { "watching the canary" } else { "running" };
                (format!(" ⠿ {name} {what}"), t.running())
            }
            None => {
                let el = tl.started_at.map(|s| (app.now - s).num_seconds().max(0) as u64).unwrap_or(0);
                let ab = if tl.aborting.is_some() { " (aborting)" } else { "" };
                (format!(" ⠿ {name} running {}{ab}", versions::span(el)), t.running())
            }
            Some(fin) if fin.ok => (format!(" ✓ {name} done"), t.ok()),
            Some(_) => (format!(" ✗ {name} failed"), t.err()),
        };
        spans.push(Span::styled(txt, st));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(crate) fn action_name(a: &crate::deploy::event::ActionKind) -> String {
    use crate::deploy::event::ActionKind::*;
    match a {
        Setup => "setup".into(),
        Deploy => "deploy".into(),
        Redeploy => "redeploy".into(),
        Rollback { version } => format!("rollback {}", versions::short_version(version)),
        AppBoot => "app boot".into(),
        AppStart => "app start".into(),
        AppStop => "app stop".into(),
        Exec { .. } => "exec".into(),
        Prune => "prune".into(),
        LockAcquire => "lock".into(),
        LockRelease => "unlock".into(),
        ProxyBoot => "proxy boot".into(),
        ProxyReboot => "proxy reboot".into(),
        Accessory { action, name } => format!("accessory {action} {name}"),
        Manage { command } => command.clone(),
        Build { subcommand } => format!("build {subcommand}"),
    }
}

fn draw_status(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    if app.quitting && !app.notice.as_ref().is_some_and(|n| n.0) {
        let text = if app.quit_presses == 0 {
            " quitting: aborting… no new steps start, running ones finish, then the lock is released · q again to force"
        } else {
            " quitting: forced abort… waiting for the engine to release the deploy lock · q again to leave the screen"
        };
        f.render_widget(Paragraph::new(Line::from(Span::styled(text, t.warn()))), area);
        return;
    }
    if let Some((err, text)) = &app.notice {
        let st = if *err { t.err() } else { t.title() };
        // One line: the first of a multi-line error (the deploy view has the rest).
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or_default();
        let more = if lines.next().is_some() { " …" } else { "" };
        f.render_widget(Paragraph::new(Line::from(Span::styled(format!(" {first}{more}"), st))), area);
        return;
    }
    let mut spans = vec![Span::raw(" ")];
    for (k, d) in fit_keys(status_keys(app), area.width as usize) {
        spans.push(Span::styled(k, t.key()));
        spans.push(Span::raw(format!(" {d}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The keys the status bar shows for the current view (and overlay).
/// The keys that fit in `width` cells (each `key desc` plus two spaces): the way out (`?` help,
/// `q` quit) always stays; the others are dropped from the end of the list until the rest fit.
pub fn fit_keys(keys: Vec<(String, String)>, width: usize) -> Vec<(String, String)> {
    let cost = |(k, d): &(String, String)| k.chars().count() + d.chars().count() + 3;
    let keep = |(k, _): &(String, String)| k == "?" || k == "q";
    let mut keys = keys;
    while 1 + keys.iter().map(cost).sum::<usize>() > width {
        match keys.iter().rposition(|k| !keep(k)) {
            Some(i) => drop(keys.remove(i)),
            None => break,
        }
    }
    keys
}

pub fn status_keys(app: &App) -> Vec<(String, String)> {
    let pairs: Vec<(&str, &str)> = match &app.overlay {
        Some(o) => overlay_bindings(o.kind()).iter().filter(|b| b.bar).map(|b| (b.label, b.desc)).collect(),
        None if app.view() == View::Fleet && app.fleet_filter.typing => {
            vec![("type", "host, role, version, state"), ("Enter", "keep"), ("Esc", "clear")]
        }
        None if app.view() == View::Logs && app.log_view.filter_input.is_some() => {
            vec![("type", "regex"), ("Enter", "keep"), ("Esc", "clear")]
        }
        None if app.view() == View::Exec => exec_bindings().iter().filter(|b| b.bar).map(|b| (b.label, b.desc)).collect(),
        None => return app.keymap.shown(app.view(), app.read_only).into_iter().filter(|b| b.bar).map(|b| (b.label, b.desc)).collect(),
    };
    pairs.into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// `s` cut to `w` cells with `…` when longer (a cut name must not look like a real one),
/// padded to `w` otherwise.
pub(crate) fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

/// A centred rectangle of at most `w`×`h` inside `r`.
pub(crate) fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect { x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, width: w, height: h }
}
