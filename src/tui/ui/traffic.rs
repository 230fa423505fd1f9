//! Traffic view: what kamal-proxy serves, read from its own request log. A fleet line (all
//! hosts: rate, 5xx, p95, a minute of requests/s), then per host each role's targets, newest
//! first, labelled with the app version behind them, each with its minute of requests/s, so a
//! deploy shows the old version's line falling to nothing and the new one's rising.

use super::super::app::App;
use super::super::theme::Theme;
use crate::fleet::traffic::{fmt_ms as ms, fmt_rate as rate, Stats, TrafficRow, TrafficSnapshot};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Traffic · kamal-proxy request log · rates over 10 s, the rest over 1 min ");
    let lines = match &app.traffic {
        None if app.fleet.hosts.is_empty() => vec![Line::styled("  Connecting to the hosts…", t.dim())],
        None => vec![Line::styled("  Reading kamal-proxy's request log on the proxy hosts…", t.dim())],
        Some(s) => body(app, s, t, area.width.saturating_sub(2) as usize),
    };
    let h = area.height.saturating_sub(2) as usize;
    let scroll = app.traffic_scroll.min(lines.len().saturating_sub(h));
    f.render_widget(Paragraph::new(lines.into_iter().skip(scroll).collect::<Vec<_>>()).block(block), area);
}

/// A host's traffic on its timeline line: each target's rate, older → newest
/// (`v1 16.6/s → v2 9.4/s`), then the run's traffic mark in red (`⚠ 5xx began (3 in 2 s)`).
/// `narrow`: the newest target only, and the mark's first word.
pub fn deploy_spans<'a>(app: &App, t: &Theme, host: &str, narrow: bool) -> Vec<Span<'a>> {
    let tl = app.deploy_timeline();
    let mut out = vec![];
    // The live figures belong to the live run only (not to a run looked up in the history).
    if let Some(s) = app.traffic.as_ref().filter(|_| app.history_view.is_none()) {
        let rows: Vec<&TrafficRow> = s.of_host(host).filter(|r| r.role.is_some()).take(if narrow { 1 } else { 2 }).collect();
        for (i, r) in rows.iter().rev().enumerate() {
            if i > 0 {
                out.push(Span::styled(" → ", t.dim()));
            }
            let v = r.info.version.as_deref().map(super::super::versions::short_version).unwrap_or_else(|| "?".into());
            let st = if r.last_10s.requests > 0 { t.base() } else { t.dim() };
            out.push(Span::styled(format!("{v} {}", rate(r.last_10s.rate)), st));
        }
    }
    if let Some(m) = tl.traffic_marks.get(host) {
        if narrow {
            // First, so a narrow line never cuts it off.
            out.insert(0, Span::styled(format!("⚠ {} ", m.what.split(' ').next().unwrap_or_default()), t.err()));
        } else {
            out.push(Span::styled(format!("  ⚠ {}", m.what), t.err()));
        }
    }
    out
}

/// Requests per second as bars scaled to the series' busiest second; a second without any
/// request is a blank, so "no traffic" never looks like "a little".
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(width)..];
    let top = tail.iter().cloned().fold(0.0, f64::max);
    tail.iter().map(|v| if *v <= 0.0 || top <= 0.0 { ' ' } else { BARS[((v / top) * 7.0).round().clamp(0.0, 7.0) as usize] }).collect()
}

fn err_span<'a>(t: &Theme, s: &Stats) -> Span<'a> {
    let txt = format!("{:>5.1}%", s.error_pct);
    if s.s5xx > 0 {
        Span::styled(txt, t.err())
    } else {
        Span::raw(txt)
    }
}

/// The columns after the label: rate 10 s, rate 1 min, 5xx %, p50, p95, p99.
fn figures<'a>(t: &Theme, ten: &Stats, min: &Stats) -> Vec<Span<'a>> {
    vec![
        Span::raw(format!("{:>9} {:>9} ", rate(ten.rate), rate(min.rate))),
        err_span(t, min),
        Span::raw(format!(" {:>7} {:>7} {:>7}  ", ms(min.p50_ms), ms(min.p95_ms), ms(min.p99_ms))),
    ]
}

const LABEL_W: usize = 26;
/// Label + figures before the sparkline.
const FIXED_W: usize = LABEL_W + 20 + 6 + 26;

fn body<'a>(app: &App, s: &TrafficSnapshot, t: &Theme, width: usize) -> Vec<Line<'a>> {
    let spark_w = width.saturating_sub(FIXED_W + 1).min(60);
    let hosts: Vec<String> = app.fleet.hosts.iter().map(|h| h.host.clone()).filter(|h| s.of_host(h).any(|r| r.role.is_some())).collect();
    let mut out = vec![];
    let mut fleet_ps = vec![0f64; 60];
    for h in &hosts {
        for (a, x) in fleet_ps.iter_mut().zip(s.host_per_second(h, None)) {
            *a += f64::from(x);
        }
    }
    let mut l = vec![Span::styled(format!(" {:<w$}", "fleet (all hosts)", w = LABEL_W - 1), t.title())];
    l.extend(figures(t, &s.fleet_total(10).unwrap_or_default(), &s.fleet_total(60).unwrap_or_default()));
    l.push(Span::styled(sparkline(&fleet_ps, spark_w), t.ok()));
    out.push(Line::from(l));
    out.push(Line::from(Span::styled(
        format!(
            " {:<w$}{:>9} {:>9} {:>6} {:>7} {:>7} {:>7}  {}",
            "host / version",
            "req/s 10s",
            "1 min",
            "5xx",
            "p50",
            "p95",
            "p99",
            if spark_w > 0 { format!("last {spark_w}s") } else { String::new() },
            w = LABEL_W - 1
        ),
        t.dim(),
    )));
    if hosts.is_empty() {
        out.push(Line::styled("  No requests through kamal-proxy for this app in the last 10 minutes.", t.dim()));
        return out;
    }
    for h in hosts {
        out.push(Line::from(Span::styled(format!(" {h}"), t.host(&h))));
        for r in s.of_host(&h).filter(|r| r.role.is_some()) {
            out.push(target_line(r, t, spark_w));
        }
    }
    out
}

fn target_line<'a>(r: &TrafficRow, t: &Theme, spark_w: usize) -> Line<'a> {
    let version = match &r.info.version {
        Some(v) => super::super::versions::short_version(v),
        None if r.target.is_empty() => "(no route)".into(),
        None => r.target.clone(),
    };
    let label = super::fit(&format!("{} {version}", r.role.as_deref().unwrap_or("")), LABEL_W - 3);
    let serving = r.last_10s.requests > 0;
    let mut l = vec![Span::raw("   "), Span::styled(label, if serving { t.title() } else { t.dim() })];
    l.extend(figures(t, &r.last_10s, &r.last_1m));
    let ps: Vec<f64> = r.per_second.iter().map(|x| f64::from(*x)).collect();
    let errs = r.errors_per_second.iter().any(|e| *e > 0);
    l.push(Span::styled(sparkline(&ps, spark_w), if errs { t.err() } else { t.ok() }));
    Line::from(l)
}
