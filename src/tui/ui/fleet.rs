//! Fleet view: destination → role → host tree with each host's live state, and a detail pane
//! for the selected row.

use super::super::app::App;
use super::super::resources;
use super::super::theme::Theme;
use super::super::versions::{self, TreeRow};
use crate::fleet::model::{ConnState, ContainerInfo, HostStatus};
use crate::fleet::model::{ResourceWarning, WarningKind};
use crate::fleet::resources::human_bytes as hb;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

pub fn draw(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let dest = app.fleet.destination.clone().unwrap_or_else(|| "(default)".into());
    let title = format!(" Fleet · {dest} ");
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
    let detail_h = if area.height >= 16 { 6 } else { 4 };
    let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(area);
    draw_table(app, t, f, list, title);
    draw_detail(app, t, f, detail);
}

fn conn_cell<'a>(t: &Theme, h: Option<&HostStatus>) -> Span<'a> {
    match h.map(|h| &h.conn) {
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

fn draw_table(app: &App, t: &Theme, f: &mut Frame, area: Rect, title: String) {
    let wide = area.width >= 120;
    let with_res = wide && app.resources.is_some();
    // The Container column gets what the fixed columns leave (ratatui would otherwise shrink it
    // silently and cut names mid-word); names longer than that end in `…`.
    let fixed: u16 = 30 + 7 + 10 + 12 + 6 + 9 + 12 + if with_res { 14 } else { 0 } + 10;
    let ncols: u16 = 9 + u16::from(with_res);
    let container_w = area.width.saturating_sub(2 + 1 + (ncols - 1) + fixed).clamp(8, 28);
    let rows_def = app.tree();
    // Once per role, not per host row (50 hosts would make it quadratic).
    let majority: std::collections::HashMap<&str, Option<String>> =
        app.fleet.roles.iter().map(|(r, _)| (r.as_str(), versions::role_majority(&app.fleet, r))).collect();
    let mut rows = Vec::new();
    for (i, r) in rows_def.iter().enumerate() {
        match r {
            TreeRow::Role { role, hosts } => {
                let maj = majority.get(role.as_str()).cloned().flatten();
                let dis = versions::role_disagrees(&app.fleet, role);
                let mut v = vec![Span::raw(maj.as_deref().map(versions::short_version).unwrap_or_else(|| "-".into()))];
                if dis {
                    v.push(Span::styled(" ≠", t.warn()));
                }
                let primary = if *role == app.fleet.primary_role { "*" } else { "" };
                let mut cells = vec![
                    Cell::from(Line::from(vec![
                        Span::styled(format!("▾ {role}"), t.title()),
                        Span::styled(format!("{primary} · {hosts} host{}", if *hosts == 1 { "" } else { "s" }), t.dim()),
                    ])),
                    Cell::from(""),
                ];
                if wide {
                    cells.push(Cell::from(""));
                }
                cells.push(Cell::from(Line::from(v)));
                if dis && wide {
                    cells.extend([Cell::from(""), Cell::from(""), Cell::from(""), Cell::from("")]);
                    if app.resources.is_some() {
                        cells.push(Cell::from(""));
                    }
                    cells.push(Cell::from(Span::styled("hosts run different versions", t.warn())));
                }
                rows.push(Row::new(cells));
            }
            TreeRow::Host { role, host } => {
                let last = rows_def.get(i + 1).is_none_or(|n| !matches!(n, TreeRow::Host { .. }));
                let branch = if last { "  └ " } else { "  ├ " };
                let hs = versions::host(&app.fleet, host);
                let c = hs.and_then(|h| versions::role_container(h, role));
                let ver = hs.and_then(|h| versions::role_version(h, role));
                let maj = majority.get(role.as_str()).cloned().flatten();
                let mut vspans = vec![Span::raw(ver.as_deref().map(versions::short_version).unwrap_or_else(|| "-".into()))];
                if ver.is_some() && ver != maj {
                    vspans.push(Span::styled(" ≠", t.warn()));
                }
                let down = matches!(hs.map(|h| &h.conn), Some(ConnState::Down { .. }));
                let state = c
                    .map(|c| Span::styled(c.state.clone(), state_style(t, &c.state)))
                    .unwrap_or_else(|| Span::styled(if down { "?" } else { "no container" }, t.dim()));
                let up = c
                    .filter(|c| c.state == "running")
                    .and_then(|c| c.started)
                    .map(|s| versions::span((app.now - s).num_seconds().max(0) as u64))
                    .unwrap_or_else(|| "-".into());
                let proxy = proxy_text(hs, &app.fleet.service, role);
                let mut name = vec![Span::styled(branch, t.dim()), Span::styled(host.clone(), t.host(host))];
                let mut badges = row_badges(app, t, host, role);
                let live = hs.map(|h| versions::live_containers(h, role).len()).unwrap_or(0);
                if live > 1 {
                    // Short in the narrow layout: the name column is 24 cells.
                    let b = if wide { format!("[{live} running]") } else { format!("[{live} up]") };
                    badges.insert(0, Span::styled(b, t.err()));
                }
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
                    cells.push(Cell::from(
                        c.map(|c| super::fit(&short_name(&c.name, &c.version), container_w as usize).trim_end().to_string()).unwrap_or_default(),
                    ));
                }
                cells.push(Cell::from(Line::from(vspans)));
                cells.push(Cell::from(state));
                cells.push(Cell::from(up));
                cells.push(Cell::from(health_span(t, c.and_then(|c| c.health.as_deref()))));
                cells.push(Cell::from(proxy));
                if wide && app.resources.is_some() {
                    cells.push(Cell::from(res_compact(app, t, host)));
                }
                if wide {
                    let fail = match hs.map(|h| &h.conn) {
                        Some(ConnState::Down { reason }) => Span::styled(reason.clone(), t.err()),
                        _ => c.and_then(|c| c.health_failure.clone()).map(|s| Span::styled(s, t.err())).unwrap_or_else(|| Span::raw("")),
                    };
                    let mut last: Vec<Span> = Vec::new();
                    for b in badges {
                        last.push(b);
                        last.push(Span::raw(" "));
                    }
                    last.push(fail);
                    cells.push(Cell::from(Line::from(last)));
                }
                rows.push(Row::new(cells));
            }
            TreeRow::Accessories { count, collapsed } => {
                let running = app
                    .fleet
                    .accessories
                    .iter()
                    .flat_map(|(n, hs)| hs.iter().map(move |h| (n, h)))
                    .filter(|(n, h)| versions::host(&app.fleet, h).and_then(|hs| hs.accessory(n)).is_some_and(|c| c.state == "running"))
                    .count();
                let total: usize = app.fleet.accessories.iter().map(|(_, h)| h.len()).sum();
                let fold = if *collapsed { "▸" } else { "▾" };
                let mut cells = vec![
                    Cell::from(Line::from(vec![Span::styled(format!("{fold} accessories"), t.title()), Span::styled(format!(" · {count}"), t.dim())])),
                    Cell::from(""),
                ];
                if wide {
                    cells.push(Cell::from(""));
                }
                cells.push(Cell::from(""));
                let st = if running == total { t.ok() } else { t.warn() };
                cells.push(Cell::from(Span::styled(format!("{running}/{total} up"), st)));
                rows.push(Row::new(cells));
            }
            TreeRow::Accessory { name, host } => {
                let last = rows_def.get(i + 1).is_none_or(|n| !matches!(n, TreeRow::Accessory { .. }));
                let branch = if last { "  └ " } else { "  ├ " };
                let hs = versions::host(&app.fleet, host);
                let c = hs.and_then(|h| h.accessory(name));
                let down = matches!(hs.map(|h| &h.conn), Some(ConnState::Down { .. }));
                let state = match c {
                    Some(c) => Span::styled(c.state.clone(), state_style(t, &c.state)),
                    None if down || !matches!(hs.map(|h| &h.conn), Some(ConnState::Up)) => Span::styled("?", t.dim()),
                    // The narrow State column has 8 cells; the detail pane says how to boot it.
                    None => Span::styled(if wide { "not booted" } else { "missing" }, t.warn()),
                };
                let up = c
                    .filter(|c| c.state == "running")
                    .and_then(|c| c.started)
                    .map(|s| versions::span((app.now - s).num_seconds().max(0) as u64))
                    .unwrap_or_else(|| "-".into());
                let name_cell = Line::from(vec![Span::styled(branch, t.dim()), Span::raw(format!("{name} ")), Span::styled(host.clone(), t.host(host))]);
                let mut cells = vec![Cell::from(name_cell), Cell::from(conn_cell(t, hs))];
                if wide {
                    cells.push(Cell::from(c.map(|c| super::fit(&c.name, container_w as usize).trim_end().to_string()).unwrap_or_default()));
                }
                cells.push(Cell::from(c.map(|c| c.version.clone()).unwrap_or_else(|| "-".into())));
                cells.push(Cell::from(state));
                cells.push(Cell::from(up));
                cells.push(Cell::from(health_span(t, c.and_then(|c| c.health.as_deref()))));
                cells.push(Cell::from("-"));
                if wide && app.resources.is_some() {
                    cells.push(Cell::from(res_compact(app, t, host)));
                }
                if wide {
                    cells.push(Cell::from(match hs.map(|h| &h.conn) {
                        Some(ConnState::Down { reason }) => Span::styled(reason.clone(), t.err()),
                        _ => c.and_then(|c| c.health_failure.clone()).map(|s| Span::styled(s, t.err())).unwrap_or_else(|| Span::raw("")),
                    }));
                }
                rows.push(Row::new(cells));
            }
        }
    }
    let mut header = vec!["Role / host", "Conn"];
    let mut widths = vec![Constraint::Length(if wide { 30 } else { 24 }), Constraint::Length(7)];
    if wide {
        header.push("Container");
        widths.push(Constraint::Length(container_w));
    }
    header.extend(["Version", "State", "Up", "Health", "Proxy"]);
    widths.extend([
        Constraint::Length(10),
        Constraint::Length(if wide { 12 } else { 8 }),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(if wide { 12 } else { 8 }),
    ]);
    // Only once the resource monitor reports (tests and `--no-resources`-like setups have none).
    if wide && app.resources.is_some() {
        header.push("CPU MEM DISK");
        widths.push(Constraint::Length(14));
    }
    if wide {
        header.push("Last failure");
        widths.push(Constraint::Min(10));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(Block::bordered().title(title))
        .row_highlight_style(t.selected())
        .highlight_symbol("›")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always)
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(app.fleet_selected));
    f.render_stateful_widget(table, area, &mut state);
}

/// The proxy's view of a role on a host: the route state, or why there is none.
fn proxy_text(h: Option<&HostStatus>, service: &str, role: &str) -> Span<'static> {
    let Some(h) = h else { return Span::raw("-") };
    let want = format!("{service}-{role}");
    let has_route = h.proxy_routes.iter().any(|r| r.service == want || r.service.starts_with(&format!("{want}-")));
    if h.proxy_running == Some(false) {
        // Roles without a proxy route never needed kamal-proxy here.
        return Span::raw(if has_route { "stopped" } else { "-" });
    }
    match h.proxy_routes.iter().find(|r| r.service == want || r.service.starts_with(&format!("{want}-"))) {
        Some(r) => Span::raw(r.state.clone()),
        None if h.proxy_running == Some(true) => Span::raw("no route"),
        None => Span::raw("-"),
    }
}

/// A container's name, image and last health failure as detail lines.
fn push_container(t: &Theme, c: &ContainerInfo, lines: &mut Vec<Line>) {
    lines.push(Line::from(vec![Span::styled("container ", t.dim()), Span::raw(c.name.clone()), Span::styled("  image ", t.dim()), Span::raw(c.image.clone())]));
    if let Some(fail) = &c.health_failure {
        lines.push(Line::from(vec![Span::styled("last health failure: ", t.err()), Span::raw(fail.clone())]));
    }
}

/// The host's connection as detail lines (down with its reason, or connecting); true when up.
fn push_conn(app: &App, t: &Theme, hs: Option<&HostStatus>, lines: &mut Vec<Line>) -> bool {
    match hs.map(|h| &h.conn) {
        Some(ConnState::Down { reason }) => {
            let seen = hs.and_then(|h| h.last_seen).map(|s| format!(" (last seen {})", versions::ago(app.now, Some(s)))).unwrap_or_default();
            lines.push(Line::from(vec![Span::styled("down: ", t.err()), Span::raw(format!("{reason}{seen}"))]));
            false
        }
        Some(ConnState::Connecting) | None => {
            lines.push(Line::styled("connecting…", t.dim()));
            false
        }
        Some(ConnState::Up) => true,
    }
}

fn draw_detail(app: &App, t: &Theme, f: &mut Frame, area: Rect) {
    let rows = app.tree();
    let mut lines: Vec<Line> = Vec::new();
    let title;
    match rows.get(app.fleet_selected) {
        Some(TreeRow::Host { role, host }) => {
            title = format!(" {host} · {role} ");
            let hs = versions::host(&app.fleet, host);
            push_conn(app, t, hs, &mut lines);
            if let Some(h) = hs {
                match versions::role_container(h, role) {
                    Some(c) => {
                        push_container(t, c, &mut lines);
                    }
                    None => lines.push(Line::styled(format!("no {} container for role {role}", app.fleet.service), t.dim())),
                }
                let live = versions::live_containers(h, role);
                if live.len() > 1 {
                    let list: Vec<String> = live
                        .iter()
                        .map(|c| {
                            let (v, replaced) = match c.version.split_once("_replaced_") {
                                Some((v, _)) => (v, " replaced"),
                                None => (c.version.as_str(), ""),
                            };
                            format!("{}{replaced} ({})", versions::short_version(v), c.state)
                        })
                        .collect();
                    lines.push(Line::from(vec![
                        Span::styled(format!("{} {role} containers up: ", live.len()), t.err()),
                        Span::raw(list.join(", ")),
                        Span::styled(" · interrupted deploy? deploy or roll back", t.dim()),
                    ]));
                }
                let others: Vec<String> = h
                    .containers
                    .iter()
                    .filter(|c| &c.role == role && Some(c.version.clone()) != versions::role_version(h, role))
                    .map(|c| format!("{} ({})", versions::short_version(&c.version), c.state))
                    .collect();
                if !others.is_empty() {
                    lines.push(Line::from(vec![Span::styled("other versions ", t.dim()), Span::raw(others.join(", "))]));
                }
                if let Some(r) = app.resources.as_ref().and_then(|r| r.host(host)).filter(|r| r.sampled_at.is_some()) {
                    let disk = r.disks.iter().map(|d| d.used_pct()).fold(None, |a: Option<f64>, p| Some(a.map_or(p, |a| a.max(p))));
                    let mut spans = vec![
                        Span::styled("cpu ", t.dim()),
                        Span::raw(r.cpu_pct.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into())),
                        Span::styled("  mem ", t.dim()),
                        Span::raw(format!("{}/{} {:.0}%", hb(r.mem_used), hb(r.mem_total), r.mem_pct())),
                        Span::styled("  disk ", t.dim()),
                        Span::raw(disk.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into())),
                        Span::raw("  "),
                    ];
                    if let Some(snap) = &app.resources {
                        spans.extend(resources::warning_badges(t, snap, host, None));
                    }
                    spans.push(Span::styled("  m: resources", t.dim()));
                    lines.push(Line::from(spans));
                }
                let routes: Vec<String> =
                    h.proxy_routes.iter().map(|r| format!("{} → {} ({})", r.service, r.target.clone().unwrap_or_else(|| "-".into()), r.state)).collect();
                if !routes.is_empty() {
                    lines.push(Line::from(vec![Span::styled("proxy ", t.dim()), Span::raw(routes.join(", "))]));
                }
            }
        }
        Some(TreeRow::Role { role, .. }) => {
            title = format!(" role {role} ");
            let hosts = app.fleet.roles.iter().find(|(r, _)| r == role).map(|(_, h)| h.clone()).unwrap_or_default();
            for h in hosts {
                let v = versions::host(&app.fleet, &h)
                    .and_then(|hs| versions::role_version(hs, role))
                    .map(|v| versions::short_version(&v))
                    .unwrap_or_else(|| "-".into());
                lines.push(Line::from(vec![Span::styled(h.clone(), t.host(&h)), Span::raw(format!("  {v}"))]));
            }
        }
        Some(TreeRow::Accessory { name, host }) => {
            title = format!(" {host} · accessory {name} ");
            let hs = versions::host(&app.fleet, host);
            if push_conn(app, t, hs, &mut lines) {
                match hs.and_then(|h| h.accessory(name)) {
                    Some(c) => {
                        push_container(t, c, &mut lines);
                        lines.push(Line::styled("Enter: this container's logs", t.dim()));
                    }
                    None => lines.push(Line::styled(format!("not booted here: kdeck accessory boot {name}"), t.dim())),
                }
            }
        }
        Some(TreeRow::Accessories { collapsed, .. }) => {
            title = " accessories ".into();
            for (name, hosts) in &app.fleet.accessories {
                let mut spans = vec![Span::styled(format!("{name} "), t.title())];
                for h in hosts {
                    let hs = versions::host(&app.fleet, h);
                    let st = match hs.and_then(|hs| hs.accessory(name)) {
                        Some(c) => c.state.clone(),
                        None if matches!(hs.map(|h| &h.conn), Some(ConnState::Up)) => "not booted".into(),
                        None => "?".into(),
                    };
                    spans.push(Span::styled(h.clone(), t.host(h)));
                    spans.push(Span::raw(format!(" {st}  ")));
                }
                lines.push(Line::from(spans));
            }
            lines.push(Line::styled(if *collapsed { "Enter: unfold" } else { "Enter: fold" }, t.dim()));
        }
        None => title = String::new(),
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), area);
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
