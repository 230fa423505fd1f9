//! Exec view: a textarea prompt (history, multi-line paste), scope and `--reuse`, and the
//! output streamed per host in panes.

use super::super::app::App;
use super::super::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let lines = app.exec.textarea.lines().len() as u16;
    let prompt_h = lines.clamp(1, 6) + 2;
    let [prompt, opts, panes] = Layout::vertical([Constraint::Length(prompt_h), Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut ta = app.exec.textarea.clone();
    ta.set_block(Block::bordered().title(" exec in the app container "));
    f.render_widget(&ta, prompt);

    let scope = app.exec_scope().label();
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
