//! Exec view: a textarea prompt (history, multi-line paste), scope and `--reuse`, and the
//! output streamed per host in panes.

use super::super::app::App;
use super::super::dispatch::ExecScope;
use super::super::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let lines = app.exec.textarea.lines().len() as u16;
    let prompt_h = lines.clamp(1, 6) + 2;
    let [prompt, opts, panes] = Layout::vertical([Constraint::Length(prompt_h), Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut ta = app.exec.textarea.clone();
    ta.set_block(Block::bordered().title(" exec in the app container "));
    f.render_widget(&ta, prompt);

    let scope = scope_label(app, &app.exec_scope());
    let reuse = if app.exec.reuse { "on (docker exec in the running container)" } else { "off (new container)" };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" scope ", t.dim()),
            Span::styled(scope, t.title()),
            Span::styled(" (Tab)  --reuse ", t.dim()),
            Span::styled(reuse, t.title()),
            Span::styled(" (ctrl-r)", t.dim()),
        ])),
        opts,
    );

    let out = &app.timeline.exec_output;
    if out.is_empty() {
        let msg = if app.timeline.is_exec() && app.timeline.is_running() { "  running…" } else { "  Output appears here, one pane per host." };
        f.render_widget(Paragraph::new(Line::styled(msg, t.dim())).block(Block::bordered().title(" output ")), panes);
        return;
    }
    let n = out.len() as u32;
    let cols = if panes.width >= 160 {
        n.min(3)
    } else if panes.width >= 100 {
        n.min(2)
    } else {
        1
    };
    let rows = n.div_ceil(cols);
    let row_areas = Layout::vertical((0..rows).map(|_| Constraint::Ratio(1, rows))).split(panes);
    for (i, (host, lines)) in out.iter().enumerate() {
        let r = i as u32 / cols;
        let c = i as u32 % cols;
        let col_areas = Layout::horizontal((0..cols).map(|_| Constraint::Ratio(1, cols))).split(row_areas[r as usize]);
        let a = col_areas[c as usize];
        let h = a.height.saturating_sub(2) as usize;
        let shown: Vec<Line> = lines.iter().rev().take(h).rev().map(|l| Line::raw(l.clone())).collect();
        // What ran where: the host and the command (the prompt is empty again once it ran).
        let ran = app
            .exec
            .history
            .last()
            .map(|c| format!("· $ {} ", super::fit(&c.replace('\n', "; "), (a.width as usize).saturating_sub(host.chars().count() + 8)).trim_end()))
            .unwrap_or_default();
        let block = Block::bordered().title(vec![Span::styled(format!(" {host} "), t.host(host)), Span::styled(ran, t.dim())]);
        f.render_widget(Paragraph::new(shown).wrap(Wrap { trim: false }).block(block), a);
    }
}

/// A scope and the hosts it reaches: `role web (10.77.4.11, 10.77.4.12)`.
fn scope_label(app: &App, scope: &ExecScope) -> String {
    let primary = app.fleet.roles.iter().find(|(r, _)| *r == app.fleet.primary_role).and_then(|(_, h)| h.first());
    let hosts: Vec<String> = match scope {
        ExecScope::All => return format!("all hosts ({})", app.fleet.hosts.len()),
        ExecScope::Primary => primary.into_iter().cloned().collect(),
        ExecScope::Role(r) => app.fleet.roles.iter().find(|(x, _)| x == r).map(|(_, h)| h.clone()).unwrap_or_default(),
        ExecScope::Host(h) => {
            let roles: Vec<&str> = app.fleet.roles.iter().filter(|(_, hs)| hs.contains(h)).map(|(r, _)| r.as_str()).collect();
            return format!("host {h} ({})", roles.join(", "));
        }
    };
    format!("{} ({})", scope.label(), hosts.join(", "))
}

/// Tab: where commands run, from every host and role.
pub fn scope_picker(app: &App, t: &Theme, f: &mut Frame, area: Rect, selected: usize) {
    let current = app.exec_scope();
    let lines: Vec<Line> = app
        .exec_scope_choices()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let st = if i == selected { t.selected() } else { t.base() };
            let mark = if i == selected { "▶ " } else { "  " };
            let now = if *c == current { "  · now" } else { "" };
            Line::from(vec![Span::styled(format!("{mark}{}", scope_label(app, c)), st), Span::styled(now, t.dim())])
        })
        .collect();
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = super::centered(area, 70.min(area.width), h);
    let inner = h.saturating_sub(2) as usize;
    let scroll = (selected + 1).saturating_sub(inner) as u16;
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)).block(Block::bordered().title(Span::styled(" Run where? ", t.title()))), r);
}
