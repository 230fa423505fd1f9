//! The fleet view's detail pane: what the selected row (a host, a role, an accessory, the
//! accessories group) is made of — connection, containers, other versions, resources, the
//! proxy's routes — as tall as it needs to be.

use super::super::app::App;
use super::super::resources;
use super::super::theme::Theme;
use super::super::versions::{self, TreeRow};
use crate::fleet::model::{ConnState, ContainerInfo, HostStatus};
use crate::fleet::resources::human_bytes as hb;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

/// The detail pane is as tall as its lines (wrapped at the pane's width), at least 4 or 6 rows,
/// taking only rows the fleet table does not need.
pub(super) fn detail_height(app: &App, area: Rect, lines: &[Line]) -> u16 {
    let inner_w = area.width.saturating_sub(2).max(1) as usize;
    let want: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_w)).sum::<usize>() + 2;
    let base: u16 = if area.height >= 16 { 6 } else { 4 };
    let table_needs = app.tree().len() as u16 + 3;
    let room = area.height.saturating_sub(table_needs).max(base);
    (want as u16).clamp(base, room).min(area.height.saturating_sub(3))
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
            if let Some(key) = hs.and_then(|h| h.unknown_host_key.as_ref()) {
                // Said plainly, with the key to act on, instead of the CLI's long hint.
                lines.push(Line::from(vec![Span::styled("unknown host key: ", t.err()), Span::raw(key.clone())]));
                lines.push(Line::from(vec![Span::styled("T", t.key()), Span::raw(" trust it (written to known_hosts after you confirm)")]));
                return false;
            }
            lines.push(Line::from(vec![Span::styled("down: ", t.err()), Span::raw(format!("{reason}{seen}"))]));
            false
        }
        Some(ConnState::Connecting) | None => {
            lines.push(Line::styled("connecting…", t.dim()));
            false
        }
        Some(ConnState::Up) => match hs.and_then(|h| h.docker_error.as_ref()) {
            Some(e) => {
                let seen = hs.and_then(|h| h.last_seen).map(|s| format!(" (containers as seen {})", versions::ago(app.now, Some(s)))).unwrap_or_default();
                lines.push(Line::from(vec![Span::styled("docker unreachable: ", t.err()), Span::raw(format!("{e}{seen}"))]));
                false
            }
            None => true,
        },
    }
}

/// The selected row's detail: the pane's title and lines.
pub(super) fn detail<'a>(app: &'a App, t: &Theme) -> (String, Vec<Line<'a>>) {
    let rows = app.tree();
    let mut lines: Vec<Line> = Vec::new();
    let title = match rows.get(app.fleet_selected) {
        Some(TreeRow::Host { role, host }) => {
            host_detail(app, t, role, host, &mut lines);
            format!(" {host} · {role} ")
        }
        Some(TreeRow::Role { role, .. }) => {
            let hosts = app.fleet.roles.iter().find(|(r, _)| r == role).map(|(_, h)| h.clone()).unwrap_or_default();
            for h in hosts {
                let v = versions::host(&app.fleet, &h)
                    .and_then(|hs| versions::role_version(hs, role))
                    .map(|v| versions::short_version(&v))
                    .unwrap_or_else(|| "-".into());
                lines.push(Line::from(vec![Span::styled(h.clone(), t.host(&h)), Span::raw(format!("  {v}"))]));
            }
            format!(" role {role} ")
        }
        Some(TreeRow::Accessory { name, host }) => {
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
            format!(" {host} · accessory {name} ")
        }
        Some(TreeRow::Accessories { collapsed, .. }) => {
            accessories_detail(app, t, *collapsed, &mut lines);
            " accessories ".into()
        }
        None => String::new(),
    };
    (title, lines)
}

/// A host row's detail: connection, the role's container(s), other versions, resources, routes.
fn host_detail<'a>(app: &'a App, t: &Theme, role: &str, host: &str, lines: &mut Vec<Line<'a>>) {
    let hs = versions::host(&app.fleet, host);
    push_conn(app, t, hs, lines);
    let Some(h) = hs else { return };
    match versions::role_container(h, role) {
        Some(c) => {
            push_container(t, c, lines);
        }
        // Only a host that answered can say it has no container.
        None if h.last_seen.is_none() => lines.push(Line::styled("no data yet: the host has not answered", t.dim())),
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
        .filter(|c| c.role == role && Some(c.version.clone()) != versions::role_version(h, role))
        .map(|c| format!("{} ({})", versions::short_version(&c.version), c.state))
        .collect();
    if !others.is_empty() {
        lines.push(Line::from(vec![Span::styled("other versions ", t.dim()), Span::raw(others.join(", "))]));
    }
    push_resources(app, t, host, lines);
    push_traffic(app, t, host, role, lines);
    let routes: Vec<String> = h
        .proxy_routes
        .iter()
        .map(|r| {
            let to = versions::route_version(h, r).map(|v| format!("{} ", versions::short_version(&v))).unwrap_or_default();
            format!("{} → {to}({}, {})", r.service, r.target.clone().unwrap_or_else(|| "-".into()), r.state)
        })
        .collect();
    if !routes.is_empty() {
        lines.push(Line::from(vec![Span::styled("proxy ", t.dim()), Span::raw(routes.join(", "))]));
    }
}

/// The host's latest resource sample as one detail line (none before the first sample).
fn push_resources<'a>(app: &'a App, t: &Theme, host: &str, lines: &mut Vec<Line<'a>>) {
    let Some(r) = app.resources.as_ref().and_then(|r| r.host(host)).filter(|r| r.sampled_at.is_some()) else { return };
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
    // Other Kamal apps share the host: what each uses (one app's deploy can starve another).
    if r.apps.iter().any(|a| !a.this) {
        let mut spans = vec![Span::styled("apps ", t.dim())];
        let mut apps: Vec<_> = r.apps.iter().collect();
        apps.sort_by(|a, b| b.mem_bytes.cmp(&a.mem_bytes).then_with(|| a.name().cmp(&b.name())));
        for (i, a) in apps.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", t.dim()));
            }
            spans.push(Span::styled(format!("{} {}", a.name(), hb(a.mem_bytes)), if a.this { t.title() } else { t.base() }));
        }
        lines.push(Line::from(spans));
    }
}

/// The role's traffic on the host, per version: `traffic v2 18.2/s · v1 0.0/s · 5xx 0% · p95 4ms · t: traffic`.
fn push_traffic<'a>(app: &'a App, t: &Theme, host: &str, role: &str, lines: &mut Vec<Line<'a>>) {
    let Some(snap) = &app.traffic else { return };
    let Some(min) = snap.host_total(host, Some(role), 60) else { return };
    let mut spans = vec![Span::styled("traffic ", t.dim())];
    // Older → newest, as on the deploy timeline.
    let rows: Vec<_> = snap.of_host(host).filter(|r| r.role.as_deref() == Some(role)).collect();
    for (i, r) in rows.iter().rev().enumerate() {
        let v = r.info.version.as_deref().map(versions::short_version).unwrap_or_else(|| "?".into());
        let arrow = if i + 1 < rows.len() { " → " } else { "  " };
        spans.push(Span::raw(format!("{v} {}{arrow}", crate::fleet::traffic::fmt_rate(r.last_10s.rate))));
    }
    let err = format!("5xx {:.1}%", min.error_pct);
    spans.push(Span::styled(err, if min.s5xx > 0 { t.err() } else { t.ok() }));
    spans.push(Span::raw(format!("  p95 {}", crate::fleet::traffic::fmt_ms(min.p95_ms))));
    spans.push(Span::styled("  t: traffic", t.dim()));
    lines.push(Line::from(spans));
}

/// The accessories group's detail: each accessory's state on each of its hosts.
fn accessories_detail(app: &App, t: &Theme, collapsed: bool, lines: &mut Vec<Line>) {
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
    lines.push(Line::styled(if collapsed { "Enter: unfold" } else { "Enter: fold" }, t.dim()));
}
