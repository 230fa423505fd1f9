//! Fleet view: destination → role → host tree with each host's live state, and a detail pane
//! for the selected row.

use super::super::app::App;

use super::super::theme::Theme;
use super::super::versions::{self, TreeRow};
use crate::fleet::model::{ConnState, ContainerInfo, HostStatus};
use crate::fleet::model::{ResourceWarning, WarningKind};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let dest = app.fleet.destination.clone().unwrap_or_else(|| "(default)".into());
    let mut title = format!(" Fleet · {dest} ");
    if app.fleet_filter.typing || app.fleet_filter.text.trim() != "" {
        let cursor = if app.fleet_filter.typing { "▏" } else { "" };
        let counts = app.fleet_filter_counts().map(|(s, a)| format!(" {s}/{a} hosts")).unwrap_or_default();
        title.push_str(&format!("· /{}{cursor}{counts} ", app.fleet_filter.text));
    }
    if app.fleet_sort != crate::tui::app::FleetSort::Config {
        title.push_str(&format!("· by {} ", app.fleet_sort.label()));
    }
    if !app.fleet_loaded {
        let p = Paragraph::new(vec![Line::raw(""), Line::styled("  Connecting to the hosts…", t.dim())]).block(Block::bordered().title(title));
        f.render_widget(p, area);
        return;
    }
    if app.fleet.roles.is_empty() {
        let p = Paragraph::new(vec![
            Line::raw(""),
            Line::styled("  No roles or hosts in this configuration.", t.dim()),
            Line::styled("  Check `servers:` in config/deploy.yml.", t.dim()),
        ])
        .block(Block::bordered().title(title));
        f.render_widget(p, area);
        return;
    }
    let (detail_title, detail_lines) = super::fleet_detail::detail(app, t);
    let detail_h = super::fleet_detail::detail_height(app, area, &detail_lines);
    let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(area);
    draw_table(app, t, f, list, title);
    f.render_widget(Paragraph::new(detail_lines).wrap(Wrap { trim: false }).block(Block::bordered().title(detail_title)), detail);
}

/// `3 hosts`, or with a filter hiding some `1 of 9 hosts`.
fn host_count(shown: usize, all: usize) -> String {
    let plural = if all == 1 { "" } else { "s" };
    if shown < all {
        format!("{shown} of {all} host{plural}")
    } else {
        format!("{all} host{plural}")
    }
}

fn conn_cell<'a>(t: &Theme, h: Option<&HostStatus>) -> Span<'a> {
    match h.map(|h| &h.conn) {
        Some(ConnState::Up) if h.is_some_and(|h| h.docker_error.is_some()) => Span::styled("✗ docker", t.err()),
        Some(ConnState::Up) => Span::styled("● up", t.ok()),
        Some(ConnState::Down { .. }) => Span::styled("✗ down", t.err()),
        Some(ConnState::Connecting) | None => Span::styled("… conn", t.dim()),
    }
}

fn state_style(t: &Theme, state: &str) -> Style {
    match state {
        "running" => t.ok(),
        "restarting" | "created" | "paused" => t.warn(),
        _ => t.err(),
    }
}

fn health_span<'a>(t: &Theme, health: Option<&str>) -> Span<'a> {
    match health {
        Some("healthy") => Span::styled("healthy", t.ok()),
        Some("starting") => Span::styled("starting", t.warn()),
        Some(h) => Span::styled(h.to_string(), t.err()),
        None => Span::styled("-", t.dim()),
    }
}

/// The fleet table's columns for a width: headers, widths, and the Container column's width.
struct Columns {
    header: Vec<&'static str>,
    widths: Vec<Constraint>,
    /// Wide layout (120 cells or more): Container and Last failure columns.
    wide: bool,
    container_w: u16,
}

impl Columns {
    fn new(app: &App, width: u16) -> Self {
        let wide = width >= 120;
        let mut cols: Vec<(&'static str, Constraint)> = vec![("Role / host", Constraint::Length(if wide { 30 } else { 24 })), ("Conn", Constraint::Length(8))];
        if wide {
            // Its width is what the others leave (set below).
            cols.push(("Container", Constraint::Length(0)));
        }
        cols.extend([
            ("Version", Constraint::Length(10)),
            ("State", Constraint::Length(if wide { 12 } else { 8 })),
            ("Up", Constraint::Length(6)),
            ("Health", Constraint::Length(9)),
            ("Proxy", Constraint::Length(if wide { 12 } else { 11 })),
        ]);
        // Only once the resource monitor reports (tests and `--no-resources`-like setups have none).
        if wide && app.resources.is_some() {
            cols.push(("CPU MEM DISK", Constraint::Length(14)));
        }
        // Once kamal-proxy's request log has been read: req/s (10 s), 5xx and p95 (1 min).
        if wide && app.traffic.is_some() {
            cols.push(("Req/s  5xx  p95  60s", Constraint::Length(TRAFFIC_W)));
        }
        if wide {
            cols.push(("Last failure", Constraint::Min(10)));
        }
        // The Container column gets what the fixed columns leave (ratatui would otherwise shrink
        // it silently and cut names mid-word); names longer than that end in `…`.
        let fixed: u16 = cols
            .iter()
            .map(|(_, w)| match w {
                Constraint::Length(n) | Constraint::Min(n) => *n,
                _ => 0,
            })
            .sum();
        let gaps = cols.len() as u16 - 1;
        let container_w = width.saturating_sub(2 + 1 + gaps + fixed).clamp(8, 28);
        for (h, w) in &mut cols {
            if *h == "Container" {
                *w = Constraint::Length(container_w);
            }
        }
        let (header, widths) = cols.into_iter().unzip();
        Columns { header, widths, wide, container_w }
    }
}

/// What every row of the fleet table is drawn with.
struct TableCtx<'a> {
    app: &'a App,
    t: &'a Theme,
    wide: bool,
    /// The CPU MEM DISK column is shown.
    with_res: bool,
    /// The traffic column is shown.
    with_traffic: bool,
    container_w: usize,
    /// Each role's majority version, once per role, not per host row (50 hosts would make it
    /// quadratic).
    majority: std::collections::HashMap<&'a str, Option<String>>,
}

fn draw_table(app: &App, t: &Theme, f: &mut Frame, area: Rect, title: String) {
    let cols = Columns::new(app, area.width);
    let cx = TableCtx {
        app,
        t,
        wide: cols.wide,
        with_res: cols.wide && app.resources.is_some(),
        with_traffic: cols.wide && app.traffic.is_some(),
        container_w: cols.container_w as usize,
        majority: app.fleet.roles.iter().map(|(r, _)| (r.as_str(), versions::role_majority(&app.fleet, r))).collect(),
    };
    let rows_def = app.tree();
    let mut rows = Vec::new();
    for (i, r) in rows_def.iter().enumerate() {
        let next = rows_def.get(i + 1);
        rows.push(match r {
            TreeRow::Role { role, hosts } => cx.role_row(role, *hosts),
            TreeRow::Host { role, host } => cx.host_row(role, host, next.is_none_or(|n| !matches!(n, TreeRow::Host { .. }))),
            TreeRow::Accessories { count, collapsed } => cx.accessories_row(*count, *collapsed),
            TreeRow::Accessory { name, host } => cx.accessory_row(name, host, next.is_none_or(|n| !matches!(n, TreeRow::Accessory { .. }))),
        });
    }
    let table = Table::new(rows, cols.widths)
        .header(Row::new(cols.header).style(t.title()))
        .block(Block::bordered().title(title))
        .row_highlight_style(t.selected())
        .highlight_symbol("›")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always)
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(app.fleet_selected));
    f.render_stateful_widget(table, area, &mut state);
    // The rows below the border and the header, for the mouse.
    let mut hits = app.hits.get();
    hits.fleet_rows = Rect { x: area.x + 1, y: area.y + 2, width: area.width.saturating_sub(2), height: area.height.saturating_sub(3) };
    hits.fleet_offset = state.offset();
    app.hits.set(hits);
}

impl TableCtx<'_> {
    fn role_row(&self, role: &str, hosts: usize) -> Row<'static> {
        let (app, t) = (self.app, self.t);
        let maj = self.majority.get(role).cloned().flatten();
        let dis = versions::role_disagrees(&app.fleet, role);
        let mut v = vec![Span::raw(maj.as_deref().map(versions::short_version).unwrap_or_else(|| "-".into()))];
        if dis {
            v.push(Span::styled(" ≠", t.warn()));
        }
        let primary = if role == app.fleet.primary_role { "*" } else { "" };
        let mut cells = vec![
            Cell::from(Line::from(vec![
                Span::styled(format!("▾ {role}"), t.title()),
                Span::styled(
                    format!("{primary} · {}", host_count(hosts, app.fleet.roles.iter().find(|(r, _)| r == role).map_or(hosts, |(_, h)| h.len()))),
                    t.dim(),
                ),
            ])),
            Cell::from(""),
        ];
        if self.wide {
            cells.push(Cell::from(""));
        }
        cells.push(Cell::from(Line::from(v)));
        if dis && self.wide {
            cells.extend([Cell::from(""), Cell::from(""), Cell::from(""), Cell::from("")]);
            if self.with_res {
                cells.push(Cell::from(""));
            }
            if self.with_traffic {
                cells.push(Cell::from(""));
            }
            cells.push(Cell::from(Span::styled("hosts run different versions", t.warn())));
        }
        Row::new(cells)
    }

    fn host_row(&self, role: &str, host: &str, last: bool) -> Row<'static> {
        let (app, t, wide) = (self.app, self.t, self.wide);
        let branch = if last { "  └ " } else { "  ├ " };
        let hs = versions::host(&app.fleet, host);
        let c = hs.and_then(|h| versions::role_container(h, role));
        let ver = hs.and_then(|h| versions::role_version(h, role));
        let maj = self.majority.get(role).cloned().flatten();
        let mut vspans = vec![Span::raw(ver.as_deref().map(versions::short_version).unwrap_or_else(|| "-".into()))];
        if ver.is_some() && ver != maj {
            vspans.push(Span::styled(" ≠", t.warn()));
        }
        let down = matches!(hs.map(|h| &h.conn), Some(ConnState::Down { .. }));
        // Not live (host or Docker not answering): the last-known state, dimmed and marked `?`.
        let live = hs.is_some_and(HostStatus::live);
        let state = match c {
            Some(c) if live => Span::styled(c.state.clone(), state_style(t, &c.state)),
            Some(c) => Span::styled(format!("{}?", c.state), t.dim()),
            None => Span::styled(if down || !live { "?" } else { "no container" }, t.dim()),
        };
        let dim_unless_live = |sp: Span<'static>| if live { sp } else { Span::styled(sp.content.into_owned(), t.dim()) };
        let mut name = vec![Span::styled(branch, t.dim()), Span::styled(host.to_string(), t.host(host))];
        let badges = self.host_badges(hs, role, host);
        if !wide {
            // Narrow: the most severe badge, and how many more the detail pane lists.
            if let Some(b) = badges.first() {
                name.push(Span::raw(" "));
                name.push(b.clone());
                if badges.len() > 1 {
                    name.push(Span::styled(format!("+{}", badges.len() - 1), t.dim()));
                }
            }
        }
        let mut cells = vec![Cell::from(Line::from(name)), Cell::from(conn_cell(t, hs))];
        if wide {
            cells.push(Cell::from(c.map(|c| super::fit(&short_name(&c.name, &c.version), self.container_w).trim_end().to_string()).unwrap_or_default()));
        }
        cells.push(Cell::from(Line::from(vspans)));
        cells.push(Cell::from(state));
        cells.push(Cell::from(if live { up_for(app, c) } else { "-".into() }));
        cells.push(Cell::from(dim_unless_live(health_span(t, c.and_then(|c| c.health.as_deref())))));
        cells.push(Cell::from(dim_unless_live(proxy_text(t, hs, &app.fleet.service, app.fleet.destination.as_deref(), role))));
        if self.with_res {
            cells.push(Cell::from(res_compact(app, t, host)));
        }
        if self.with_traffic {
            cells.push(Cell::from(traffic_compact(app, t, host, role)));
        }
        if wide {
            let mut last: Vec<Span> = Vec::new();
            for b in badges {
                last.push(b);
                last.push(Span::raw(" "));
            }
            last.push(failure_span(app, t, hs, c));
            cells.push(Cell::from(Line::from(last)));
        }
        Row::new(cells)
    }

    /// A host row's badges, most severe first: more than one live container of the role, then
    /// the resource warnings.
    fn host_badges(&self, hs: Option<&HostStatus>, role: &str, host: &str) -> Vec<Span<'static>> {
        let mut badges = row_badges(self.app, self.t, host, role);
        let live = hs.map(|h| versions::live_containers(h, role).len()).unwrap_or(0);
        if live > 1 {
            // Short in the narrow layout: the name column is 24 cells.
            let b = if self.wide { format!("[{live} running]") } else { format!("[{live} up]") };
            badges.insert(0, Span::styled(b, self.t.err()));
        }
        badges
    }

    fn accessories_row(&self, count: usize, collapsed: bool) -> Row<'static> {
        let (app, t) = (self.app, self.t);
        let running = app
            .fleet
            .accessories
            .iter()
            .flat_map(|(n, hs)| hs.iter().map(move |h| (n, h)))
            // Last-known states of a host that does not answer are not counted as up.
            .filter(|(n, h)| versions::host(&app.fleet, h).filter(|hs| hs.live()).and_then(|hs| hs.accessory(n)).is_some_and(|c| c.state == "running"))
            .count();
        let total: usize = app.fleet.accessories.iter().map(|(_, h)| h.len()).sum();
        let fold = if collapsed { "▸" } else { "▾" };
        let mut cells = vec![
            Cell::from(Line::from(vec![Span::styled(format!("{fold} accessories"), t.title()), Span::styled(format!(" · {count}"), t.dim())])),
            Cell::from(""),
        ];
        if self.wide {
            cells.push(Cell::from(""));
        }
        cells.push(Cell::from(""));
        let st = if running == total { t.ok() } else { t.warn() };
        cells.push(Cell::from(Span::styled(format!("{running}/{total} up"), st)));
        Row::new(cells)
    }

    fn accessory_row(&self, name: &str, host: &str, last: bool) -> Row<'static> {
        let (app, t, wide) = (self.app, self.t, self.wide);
        let branch = if last { "  └ " } else { "  ├ " };
        let hs = versions::host(&app.fleet, host);
        let c = hs.and_then(|h| h.accessory(name));
        let down = matches!(hs.map(|h| &h.conn), Some(ConnState::Down { .. }));
        let live = hs.is_some_and(HostStatus::live);
        let state = match c {
            Some(c) if live => Span::styled(c.state.clone(), state_style(t, &c.state)),
            Some(c) => Span::styled(format!("{}?", c.state), t.dim()),
            None if down || !live => Span::styled("?", t.dim()),
            // The narrow State column has 8 cells; the detail pane says how to boot it.
            None => Span::styled(if wide { "not booted" } else { "missing" }, t.warn()),
        };
        let name_cell = Line::from(vec![Span::styled(branch, t.dim()), Span::raw(format!("{name} ")), Span::styled(host.to_string(), t.host(host))]);
        let mut cells = vec![Cell::from(name_cell), Cell::from(conn_cell(t, hs))];
        if wide {
            cells.push(Cell::from(c.map(|c| super::fit(&c.name, self.container_w).trim_end().to_string()).unwrap_or_default()));
        }
        cells.push(Cell::from(c.map(|c| c.version.clone()).unwrap_or_else(|| "-".into())));
        cells.push(Cell::from(state));
        cells.push(Cell::from(if live { up_for(app, c) } else { "-".into() }));
        cells.push(Cell::from(health_span(t, c.and_then(|c| c.health.as_deref()))));
        cells.push(Cell::from("-"));
        if self.with_res {
            cells.push(Cell::from(res_compact(app, t, host)));
        }
        if self.with_traffic {
            cells.push(Cell::from(""));
        }
        if wide {
            cells.push(Cell::from(failure_span(app, t, hs, c)));
        }
        Row::new(cells)
    }
}

/// How long a running container has been up (`-` otherwise).
fn up_for(app: &App, c: Option<&ContainerInfo>) -> String {
    c.filter(|c| c.state == "running").and_then(|c| c.started).map(|s| versions::span((app.now - s).num_seconds().max(0) as u64)).unwrap_or_else(|| "-".into())
}

/// The Last failure cell: why the host is down, or the container's last health failure.
fn failure_span(app: &App, t: &Theme, hs: Option<&HostStatus>, c: Option<&ContainerInfo>) -> Span<'static> {
    let age = hs.and_then(|h| h.last_seen).map(|s| format!(" · data from {}", versions::ago(app.now, Some(s)))).unwrap_or_default();
    match hs.map(|h| (&h.conn, &h.docker_error)) {
        Some((ConnState::Down { reason }, _)) => Span::styled(format!("{reason}{age}"), t.err()),
        Some((ConnState::Up, Some(e))) => Span::styled(format!("docker unreachable: {e}{age}"), t.err()),
        _ => c.and_then(|c| c.health_failure.clone()).map(|s| Span::styled(s, t.err())).unwrap_or_else(|| Span::raw("")),
    }
}

/// The proxy's view of a role on a host: the version its route sends traffic to (`→ v3`; `≠`
/// when that is not the version the row shows), its state when not running, or why there is
/// no route.
fn proxy_text(t: &Theme, h: Option<&HostStatus>, service: &str, destination: Option<&str>, role: &str) -> Span<'static> {
    let Some(h) = h else { return Span::raw("-") };
    // Kamal's proxy service name: `<service>-<role>[-<destination>]` (another destination of the
    // app on the same host has its own route).
    let want = match destination {
        Some(d) => format!("{service}-{role}-{d}"),
        None => format!("{service}-{role}"),
    };
    let route = h.proxy_routes.iter().find(|r| r.service == want);
    if h.proxy_running == Some(false) {
        // Roles without a proxy route never needed kamal-proxy here.
        return Span::raw(if route.is_some() { "stopped" } else { "-" });
    }
    let Some(r) = route else { return Span::raw(if h.proxy_running == Some(true) { "no route" } else { "-" }) };
    let state = if r.state == "running" { String::new() } else { format!(" {}", r.state) };
    match versions::route_version(h, r) {
        Some(v) if Some(&v) != versions::role_version(h, role).as_ref() => Span::styled(format!("→ {} ≠{state}", versions::short_version(&v)), t.warn()),
        Some(v) => Span::raw(format!("→ {}{state}", versions::short_version(&v))),
        None => Span::raw(r.state.clone()),
    }
}

/// Container name with the version abbreviated, so it fits a column.
fn short_name(name: &str, version: &str) -> String {
    let short = versions::short_version(version);
    match name.strip_suffix(version) {
        Some(prefix) if short != version => format!("{prefix}{short}…"),
        _ => name.to_string(),
    }
}

pub(crate) fn badge_word(w: &ResourceWarning) -> &'static str {
    match w.kind {
        WarningKind::HostMemory => "[MEM]",
        WarningKind::ContainerMemory => "[CMEM]",
        WarningKind::Disk => "[DISK]",
        WarningKind::OomKilled => "[OOM]",
        WarningKind::RestartLoop => "[LOOP]",
    }
}

const TRAFFIC_W: u16 = 24;

/// `12.3/s   0%  4ms ▁▃▅▇█`: a role's requests per second on a host over 10 s, its 5xx share
/// and p95 over a minute, and its last seconds; `-` for a role kamal-proxy does not serve.
fn traffic_compact<'a>(app: &App, t: &Theme, host: &str, role: &str) -> Line<'a> {
    let Some(snap) = &app.traffic else { return Line::raw("") };
    let (Some(ten), Some(min)) = (snap.host_total(host, Some(role), 10), snap.host_total(host, Some(role), 60)) else {
        return Line::styled("-", t.dim());
    };
    let ps: Vec<f64> = snap.host_per_second(host, Some(role)).into_iter().map(f64::from).collect();
    let err = Span::styled(format!("{:>4.0}%", min.error_pct), if min.s5xx > 0 { t.err() } else { t.dim() });
    Line::from(vec![
        Span::raw(format!("{:>7}", crate::fleet::traffic::fmt_rate(ten.rate))),
        err,
        Span::raw(format!(" {:>5} ", crate::fleet::traffic::fmt_ms(min.p95_ms))),
        Span::styled(super::traffic::sparkline(&ps, 5), t.ok()),
    ])
}

/// `12% 61% 40%!`: CPU, memory and the fullest disk of a host, `!` past a threshold.
fn res_compact<'a>(app: &App, t: &Theme, host: &str) -> Line<'a> {
    let Some(snap) = &app.resources else { return Line::raw("") };
    let Some(r) = snap.host(host).filter(|r| r.sampled_at.is_some()) else { return Line::styled("-", t.dim()) };
    let th = snap.thresholds;
    let cell = |p: Option<f64>, limit: f64| -> Span<'a> {
        match p {
            Some(p) if p > limit => Span::styled(format!("{p:>3.0}%!"), t.err()),
            Some(p) => Span::raw(format!("{p:>3.0}% ")),
            None => Span::styled("  -  ", t.dim()),
        }
    };
    let disk = r.disks.iter().map(|d| d.used_pct()).fold(None, |a: Option<f64>, p| Some(a.map_or(p, |a: f64| a.max(p))));
    Line::from(vec![cell(r.cpu_pct, 100.0), cell(Some(r.mem_pct()), th.host_memory_pct), cell(disk, th.disk_pct)])
}

/// Warning badges of a host row, most severe first: host-wide ones and those of the row's
/// role's containers on that host.
fn row_badges(app: &App, t: &Theme, host: &str, role: &str) -> Vec<Span<'static>> {
    let Some(snap) = &app.resources else { return vec![] };
    let mut ws: Vec<&ResourceWarning> = snap
        .warnings()
        .filter(|w| w.host == host)
        .filter(|w| w.container.as_ref().is_none_or(|c| snap.host(host).is_some_and(|h| h.containers.iter().any(|x| &x.name == c && x.role == role))))
        .collect();
    let rank = |w: &ResourceWarning| match w.kind {
        WarningKind::OomKilled => 0,
        WarningKind::RestartLoop => 1,
        WarningKind::Disk => 2,
        WarningKind::HostMemory => 3,
        WarningKind::ContainerMemory => 4,
    };
    ws.sort_by_key(|w| rank(w));
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for w in ws {
        let b = badge_word(w);
        if seen.contains(&b) {
            continue;
        }
        seen.push(b);
        let st = if rank(w) < 2 { t.err() } else { t.warn() };
        out.push(Span::styled(b, st));
    }
    out
}
