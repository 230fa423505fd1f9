//! The deploy dialog: what (the version picked and where it comes from), where (scope), how
//! (rolling, canary, or a rollout canary through kamal-proxy on one web host, with its window,
//! share and thresholds), the versions to pick from, and the pre-flight lines, with the keys at
//! the bottom. It fits 80x24 (the version list scrolls).

use super::super::app::{App, DeployDialog};
use super::super::theme::Theme;
use super::super::versions;
use super::centered;
use crate::fleet::traffic::canary::Thresholds;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect, dlg: &DeployDialog) {
    let w = area.width.min(112);
    let inner = w.saturating_sub(2) as usize;
    let list = app.deploy_candidates();
    let at = list.iter().position(|c| Some(&c.version) == dlg.version.as_ref()).unwrap_or(0);
    let picked = list.get(at);

    let mut top: Vec<Line> = Vec::new();
    let field = |k: &str, v: String, key: &str| {
        Line::from(vec![Span::styled(format!(" {k:<8} "), t.dim()), Span::styled(v, t.title()), Span::styled(format!("  {key}"), t.key())])
    };
    let how_build = match picked {
        Some(c) if c.start && !app.skip_push => "built here and pushed first",
        Some(c) if c.start => "pulled from the registry (-P)",
        Some(_) => "pulled from the registry",
        None => "",
    };
    let version = picked.map(|c| app.version_change(&c.version)).unwrap_or_else(|| "-".into());
    top.push(Line::from(vec![Span::styled(" version  ", t.dim()), Span::styled(version, t.title()), Span::styled(format!("  {how_build}"), t.dim())]));
    let scope = dlg.scopes.get(dlg.scope).map(|s| s.label()).unwrap_or_default();
    top.push(field("scope", scope, "s"));
    top.extend(how(app, t, dlg));

    let mut bottom: Vec<Line> = vec![Line::styled(" pre-flight", t.title())];
    for (ok, text) in app.deploy_checks() {
        let (mark, st) = match ok {
            Some(true) => ("✓", t.ok()),
            Some(false) => ("✗", t.err()),
            None => ("…", t.dim()),
        };
        bottom.push(Line::from(vec![Span::styled(format!(" {mark} "), st), Span::raw(text)]));
    }
    bottom.extend(room(app, t));
    if let Some(tr) = app.traffic.as_ref().and_then(|x| x.fleet_total(10)) {
        use crate::fleet::traffic::{fmt_ms, fmt_rate};
        bottom.push(Line::styled(format!("   traffic now: {} · 5xx {:.1}% · p95 {} (last 10 s)", fmt_rate(tr.rate), tr.error_pct, fmt_ms(tr.p95_ms)), t.dim()));
    }
    bottom.push(Line::from(vec![
        Span::raw(" "),
        Span::styled("y", t.key()),
        Span::raw(" deploy  "),
        Span::styled("j/k", t.key()),
        Span::raw(" version  "),
        Span::styled("s", t.key()),
        Span::raw(" scope  "),
        Span::styled("c", t.key()),
        Span::raw(" canary  "),
        Span::styled("n/Esc", t.key()),
        Span::raw(" cancel"),
    ]));

    // The versions get what is left of the height (at least 3 rows).
    let rows_of = |ls: &[Line]| ls.iter().map(|l| l.width().max(1).div_ceil(inner.max(1))).sum::<usize>();
    let fixed = rows_of(&top) + rows_of(&bottom) + 2 + 2;
    let rows = (area.height as usize).saturating_sub(fixed).max(3).min(list.len().max(1));
    let first = at.saturating_sub(rows.saturating_sub(1) / 2).min(list.len().saturating_sub(rows));
    let mut lines = top;
    lines.push(Line::styled(format!(" versions ({}) · source · age", list.len()), t.title()));
    if list.is_empty() {
        lines.push(Line::styled("   none known yet", t.dim()));
    }
    let src_w = list.iter().map(|c| c.sources().chars().count()).max().unwrap_or(8).clamp(8, 34);
    for (i, c) in list.iter().enumerate().skip(first).take(rows) {
        let mark = if i == at { "▶" } else { " " };
        let note = match (c.unusable(), &c.commit, c.current) {
            (Some(why), _, _) => why.to_string(),
            (None, _, true) => "running now".to_string(),
            (None, Some((_, subject)), _) => subject.clone(),
            _ => String::new(),
        };
        let row = format!(" {mark} {:<8} {:<src_w$} {:>10}  {note}", versions::short_version(&c.version), c.sources(), versions::ago(app.now, c.created));
        let row = cut(&row, inner);
        let base = if c.unusable().is_some() { t.dim() } else { t.base() };
        lines.push(Line::styled(row, if i == at { base.patch(t.selected()) } else { base }));
    }
    lines.push(Line::raw(""));
    lines.extend(bottom);
    // Long sentences (a host without room, a registry error) wrap: they get their rows.
    let h = rows_of(&lines);
    let r = centered(area, w, (h as u16 + 2).min(area.height));
    f.render_widget(Clear, r);
    let title = match (dlg.canary, dlg.rollout) {
        (true, true) => " Deploy as a rollout canary? ",
        (true, false) => " Deploy as a canary? ",
        _ => " Deploy? ",
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(Span::styled(title, t.title()))), r);
}

/// The dialog's `how` line and, for a canary, what stops it.
fn how<'a>(app: &App, t: &Theme, dlg: &DeployDialog) -> Vec<Line<'a>> {
    let field = |v: String, key: &str| {
        Line::from(vec![Span::styled(format!(" {:<8} ", "how"), t.dim()), Span::styled(v, t.title()), Span::styled(format!("  {key}"), t.key())])
    };
    let th = Thresholds::default();
    if dlg.rollout {
        // kamal-proxy's rollout on the one web host; passed: rollout stop, then every host.
        let host = app.rollout_host.clone().unwrap_or_default();
        vec![
            field(format!("rollout canary on {host}, watched {} s", dlg.window_s), "c  w window  p share"),
            Line::styled(
                format!("          {} % of kamal-rollout cookies; stop at 5xx > {:.0} % or p95 > {:.0}× live", dlg.percent, th.max_5xx_pct, th.max_p95_ratio),
                t.dim(),
            ),
        ]
    } else if dlg.canary {
        let next = if app.rollout_host.is_some() { "c rollout  w window" } else { "c  w window" };
        vec![
            field(format!("canary, watched {} s", dlg.window_s), next),
            Line::styled(
                format!(
                    "          rolled back at 5xx > {:.0} % or p95 > {:.0}× others' +20 ms; < {} req: stop",
                    th.max_5xx_pct, th.max_p95_ratio, th.min_requests
                ),
                t.dim(),
            ),
        ]
    } else {
        vec![field("rolling (Kamal's deploy)".into(), "c  canary")]
    }
}

/// Room for a second copy: one line when every host has it, else the hosts without.
fn room<'a>(app: &App, t: &Theme) -> Vec<Line<'a>> {
    let checks = app.room_checks();
    if app.resources.is_none() {
        return vec![Line::from(vec![Span::styled(" … ", t.dim()), Span::raw("room for a second copy: no resource sample yet")])];
    }
    let short: Vec<_> = checks.iter().filter(|c| !c.fits).collect();
    if short.is_empty() {
        return vec![Line::from(vec![
            Span::styled(" ✓ ", t.ok()),
            Span::raw(format!("room for a second copy on all {} host(s) (memory, disk)", checks.len())),
        ])];
    }
    let mut out = vec![];
    if checks.len() > short.len() {
        out.push(Line::from(vec![Span::styled(" ✓ ", t.ok()), Span::raw(format!("{} host(s) have room for a second copy", checks.len() - short.len()))]));
    }
    out.extend(short.into_iter().map(|c| Line::from(vec![Span::styled(" ✗ ", t.err()), Span::styled(c.message.clone(), t.err())])));
    out
}

fn cut(s: &str, room: usize) -> String {
    if s.chars().count() > room {
        format!("{}…", s.chars().take(room.saturating_sub(1)).collect::<String>())
    } else {
        s.to_string()
    }
}
