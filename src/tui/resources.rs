//! Pure draw functions for resource widgets: host gauges, a container table with sparklines,
//! warning badges, the prune preview and the pre-deploy room check. Data comes from
//! `fleet::model::ResourceSnapshot` / `fleet::prune::PrunePlan` / `fleet::resources::RoomCheck`;
//! the views decide where to place them.

use super::theme::Theme;
use crate::fleet::model::{HostResources, ResourceSnapshot, ResourceWarning, Thresholds, WarningKind};
use crate::fleet::prune::PrunePlan;
use crate::fleet::resources::{human_bytes as hb, RoomCheck};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// The smallest memory scale of a container without a limit (see `container_table`).
const MEM_SCALE_FLOOR: f64 = 64.0 * 1024.0 * 1024.0;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `width` samples scaled to `max` (or the samples' own max).
pub fn sparkline(values: &[f64], width: usize, max: Option<f64>) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let tail = &values[values.len().saturating_sub(width)..];
    let top = max.unwrap_or_else(|| tail.iter().cloned().fold(0.0, f64::max)).max(f64::EPSILON);
    tail.iter()
        .map(|v| {
            let i = ((v / top).clamp(0.0, 1.0) * 7.0).round() as usize;
            BARS[i]
        })
        .collect()
}

/// `[████▌·····] 45%`-style bar in `width` cells (the percentage is drawn by the caller).
fn bar(p: f64, width: usize) -> String {
    let filled = ((p / 100.0).clamp(0.0, 1.0) * width as f64).round() as usize;
    let mut s = String::with_capacity(width * 3);
    for i in 0..width {
        s.push(if i < filled { '█' } else { '·' });
    }
    s
}

fn level(t: &Theme, p: f64, limit: f64) -> Style {
    if p > limit {
        t.err()
    } else if p > limit * 0.8 {
        t.warn()
    } else {
        t.ok()
    }
}

fn gauge_line<'a>(t: &Theme, label: &'a str, p: f64, limit: f64, detail: String, width: u16) -> Line<'a> {
    let bar_w = (width as usize).saturating_sub(label.len() + detail.chars().count() + 8).clamp(4, 30);
    let mark = if p > limit { "!" } else { " " };
    Line::from(vec![
        Span::styled(format!("{label:<5}"), t.title()),
        Span::styled(bar(p, bar_w), level(t, p, limit)),
        Span::styled(format!(" {p:>3.0}%{mark} "), level(t, p, limit)),
        Span::styled(detail, t.dim()),
    ])
}

/// Host gauges: CPU (with load), memory (+ swap), each disk Kamal's data lives on.
pub fn host_gauges(f: &mut Frame, area: Rect, t: &Theme, h: &HostResources, th: &Thresholds) {
    let mut lines: Vec<Line> = Vec::new();
    if h.sampled_at.is_none() {
        let why = h.error.clone().unwrap_or_else(|| "waiting for the first sample".into());
        lines.push(Line::from(Span::styled(why, t.dim())));
    } else {
        let load = h.load.map(|l| format!("load {:.2} {:.2} {:.2} · {} cpus", l[0], l[1], l[2], h.cpus)).unwrap_or_default();
        lines.push(gauge_line(t, "CPU", h.cpu_pct.unwrap_or(0.0), 100.0, load, area.width));
        let swap = if h.swap_total > 0 { format!(" · swap {}/{}", hb(h.swap_used), hb(h.swap_total)) } else { String::new() };
        lines.push(gauge_line(t, "MEM", h.mem_pct(), th.host_memory_pct, format!("{}/{}{swap}", hb(h.mem_used), hb(h.mem_total)), area.width));
        for d in &h.disks {
            lines.push(gauge_line(
                t,
                "DISK",
                d.used_pct(),
                th.disk_pct,
                format!("{} {} free · {}", d.mount, hb(d.avail_bytes), d.holds.join(", ")),
                area.width,
            ));
        }
        if let Some(e) = &h.error {
            lines.push(Line::from(Span::styled(format!("stale: {e}"), t.warn())));
        }
    }
    let title = Line::from(vec![Span::styled(format!(" {} ", h.host), t.host(&h.host)), Span::styled("resources ", t.title())]);
    f.render_widget(Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)), area);
}

/// Containers of a host: CPU and memory with sparklines, limit, restarts, OOM, log size.
pub fn container_table(f: &mut Frame, area: Rect, t: &Theme, h: &HostResources, th: &Thresholds) {
    let wide = area.width >= 120;
    let spark_w = if wide { 20 } else { 6 };
    let header = Row::new(["CONTAINER", "STATE", "CPU", "", "MEMORY", "", "RST", "OOM", "LOG"].map(|s| Cell::from(s).style(t.title())));
    let rows: Vec<Row> = h
        .containers
        .iter()
        .map(|c| {
            let cpu_hist: Vec<f64> = c.cpu_history.clone();
            let mem_hist: Vec<f64> = c.mem_history.iter().map(|b| *b as f64).collect();
            // Memory against the container's limit; without one, against its own peak but at
            // least 64 MiB, so 1 MiB of wobble in a tiny container is not drawn as a swing while
            // a real climb still shows.
            let peak = mem_hist.iter().cloned().fold(0.0, f64::max);
            let mem_max = Some(c.mem_limit.map_or(peak.max(MEM_SCALE_FLOOR), |l| l as f64));
            // A container that is not running has no live figures to draw.
            let live = c.state == "running";
            let mem_pct = c.mem_pct_of_limit();
            let mem = match (c.state.as_str(), c.mem_limit) {
                ("running", Some(l)) => format!("{}/{}", hb(c.mem_bytes), hb(l)),
                ("running", None) => hb(c.mem_bytes),
                _ => "-".into(),
            };
            let mem_style = mem_pct.map(|p| level(t, p, th.container_memory_pct)).unwrap_or(t.base());
            let loop_ = c.restarts_recent >= th.restart_loop_count || c.state == "restarting";
            Row::new(vec![
                Cell::from(c.name.clone()),
                Cell::from(c.state.clone()).style(if c.state == "running" { t.ok() } else { t.dim() }),
                Cell::from(c.cpu_pct.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into())),
                Cell::from(if live { sparkline(&cpu_hist, spark_w, None) } else { String::new() }).style(t.dim()),
                Cell::from(mem).style(mem_style),
                Cell::from(if live { sparkline(&mem_hist, spark_w, mem_max) } else { String::new() }).style(mem_style),
                Cell::from(c.restarts.to_string()).style(if loop_ { t.err() } else { t.base() }),
                Cell::from(if c.oom_killed { "OOM" } else { "" }).style(t.err()),
                Cell::from(match c.log_bytes {
                    Some(b) if c.log_opts.iter().any(|(k, _)| k == "max-size") => hb(b),
                    Some(b) if wide => format!("{} uncapped", hb(b)),
                    Some(b) => format!("{} !", hb(b)),
                    None => "-".into(),
                }),
            ])
        })
        .collect();
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(if wide { 10 } else { 8 }),
        Constraint::Length(4),
        Constraint::Length(spark_w as u16),
        Constraint::Length(13),
        Constraint::Length(spark_w as u16),
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(if wide { 16 } else { 9 }),
    ];
    let empty = h.containers.is_empty();
    let block = Block::default().borders(Borders::ALL).title(Span::styled(" containers ", t.title()));
    if empty {
        f.render_widget(Paragraph::new(Span::styled("no containers of this service", t.dim())).block(block), area);
    } else {
        f.render_widget(Table::new(rows, widths).header(header).block(block), area);
    }
}

fn badge_text(w: &ResourceWarning) -> &'static str {
    match w.kind {
        WarningKind::HostMemory => "MEM",
        WarningKind::ContainerMemory => "CMEM",
        WarningKind::Disk => "DISK",
        WarningKind::OomKilled => "OOM",
        WarningKind::RestartLoop => "LOOP",
    }
}

/// Short badges for one host (or one container when `container` is given), for tree rows:
/// `[DISK] [OOM]`. Empty when all is well.
pub fn warning_badges<'a>(t: &Theme, snap: &'a ResourceSnapshot, host: &str, container: Option<&str>) -> Vec<Span<'a>> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for w in snap.warnings().filter(|w| w.host == host && (container.is_none() || w.container.as_deref() == container)) {
        let b = badge_text(w);
        if seen.contains(&b) {
            continue;
        }
        seen.push(b);
        let style = match w.kind {
            WarningKind::OomKilled | WarningKind::RestartLoop => t.err(),
            _ => t.warn(),
        };
        out.push(Span::styled(format!("[{b}]"), style));
        out.push(Span::raw(" "));
    }
    out.pop();
    out
}

/// All warnings as sentences (a panel or the status area).
pub fn warnings_panel(f: &mut Frame, area: Rect, t: &Theme, snap: &ResourceSnapshot) {
    let lines: Vec<Line> = {
        let v: Vec<Line> = snap
            .warnings()
            .map(|w| {
                Line::from(vec![
                    Span::styled(
                        format!("[{}] ", badge_text(w)),
                        if matches!(w.kind, WarningKind::OomKilled | WarningKind::RestartLoop) { t.err() } else { t.warn() },
                    ),
                    Span::styled(format!("{} ", w.host), t.host(&w.host)),
                    Span::raw(w.message.clone()),
                ])
            })
            .collect();
        if v.is_empty() {
            vec![Line::from(Span::styled("✓ no resource warnings", t.ok()))]
        } else {
            v
        }
    };
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::default().borders(Borders::ALL).title(Span::styled(" warnings ", t.title()))),
        area,
    );
}

/// What `kamal prune all` would remove per host and the space that comes back.
pub fn prune_preview(f: &mut Frame, area: Rect, t: &Theme, plans: &[PrunePlan], retain: usize, keys: Line) {
    let mut lines: Vec<Line> = Vec::new();
    let total: u64 = plans.iter().map(|p| p.reclaimed_bytes()).sum();
    lines.push(Line::from(vec![
        Span::styled("kamal prune all", t.title()),
        Span::styled(format!(" · retain_containers {retain} · frees {} in total", hb(total)), t.dim()),
    ]));
    if plans.is_empty() {
        lines.push(Line::from(Span::styled("no preview yet", t.dim())));
    }
    for p in plans {
        let nothing = p.containers.is_empty() && p.untagged.is_empty() && p.dangling_images.is_empty();
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", p.host), t.host(&p.host)),
            if nothing {
                Span::styled("nothing to remove", t.dim())
            } else {
                Span::styled(
                    format!(
                        "{} containers, {} images → {}{}",
                        p.containers.len(),
                        p.deleted_images.len(),
                        hb(p.reclaimed_bytes()),
                        if p.exact { "" } else { " (estimate)" }
                    ),
                    t.warn(),
                )
            },
        ]));
        for (_, name) in &p.containers {
            lines.push(Line::from(vec![Span::styled("  rm   ", t.dim()), Span::raw(name.clone())]));
        }
        for tag in &p.untagged {
            lines.push(Line::from(vec![Span::styled("  rmi  ", t.dim()), Span::raw(tag.clone())]));
        }
        for id in &p.dangling_images {
            lines.push(Line::from(vec![Span::styled("  prune ", t.dim()), Span::raw(id.trim_start_matches("sha256:").chars().take(12).collect::<String>())]));
        }
    }
    // The keys sit in the box's bottom border, inside the popup.
    let block = Block::default().borders(Borders::ALL).title(Span::styled(" prune preview ", t.title())).title_bottom(keys);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// Lines for the deploy confirmation: one per host, plain about hosts without room.
pub fn room_check_lines<'a>(t: &Theme, checks: &'a [RoomCheck]) -> Vec<Line<'a>> {
    checks
        .iter()
        .map(|c| {
            let (mark, style) = if c.fits { ("✓ ", t.ok()) } else { ("✗ ", t.err()) };
            Line::from(vec![Span::styled(mark, style), Span::styled(c.message.clone(), if c.fits { t.base() } else { style })])
        })
        .collect()
}

/// A whole resources page for one host: gauges on top, containers below.
pub fn host_page(f: &mut Frame, area: Rect, t: &Theme, h: &HostResources, th: &Thresholds) {
    let gauge_h = (3 + h.disks.len() as u16 + u16::from(h.error.is_some())).max(3) + 1;
    let [top, bottom] = Layout::vertical([Constraint::Length(gauge_h), Constraint::Min(3)]).areas(area);
    host_gauges(f, top, t, h, th);
    container_table(f, bottom, t, h, th);
}
