//! The servers page: per host, every Kamal app there — roles, versions, containers, memory,
//! kamal-proxy's routes — and the tab that shows it, or `read-only`.

use super::super::action::server_bindings;
use super::super::deck::Deck;
use super::super::servers::ServerRow;
use super::super::theme::Theme;
use super::super::versions::short_version;
use super::{fit, fit_keys};
use crate::fleet::model::ConnState;
use crate::fleet::resources::human_bytes as hb;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

pub fn draw(deck: &Deck, f: &mut Frame, area: Rect) {
    let t = Theme::with(deck.current().color, deck.current().palette);
    let [header, body, status] = Layout::vertical([Constraint::Length(2), Constraint::Min(3), Constraint::Length(1)]).areas(area);
    draw_header(deck, &t, f, header);
    draw_table(deck, &t, f, body);
    let line = match &deck.servers_notice {
        Some(n) => Line::from(Span::styled(format!(" {n}"), t.warn())),
        None => {
            let keys = server_bindings().iter().filter(|b| b.bar).map(|b| (b.label.to_string(), b.desc.to_string())).collect();
            let mut spans = vec![Span::raw(" ")];
            for (k, d) in fit_keys(keys, status.width as usize) {
                spans.push(Span::styled(k, t.key()));
                spans.push(Span::raw(format!(" {d}  ")));
            }
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), status);
}

fn draw_header(deck: &Deck, t: &Theme, f: &mut Frame, area: Rect) {
    let hosts = deck.servers.as_ref().map_or(0, |s| s.hosts.len());
    let apps: Vec<_> = deck.server_rows().into_iter().filter_map(|r| if let ServerRow::App(_, a) = r { Some(a) } else { None }).collect();
    let mut names: Vec<String> = apps.iter().map(|a| a.name()).collect();
    names.sort();
    names.dedup();
    let open = names.iter().filter(|n| apps.iter().any(|a| &&a.name() == n && deck.tab_of(a).is_some())).count();
    let l1 = Line::from(vec![
        Span::styled(" kdeck ", t.tab_active()),
        Span::raw(" "),
        Span::styled("servers ", t.title()),
        Span::raw(format!("{hosts} hosts · {} apps · {open} in tabs · {} read-only", names.len(), names.len() - open)),
    ]);
    let l2 = Line::styled(" every Kamal app on these hosts (labels, kamal-proxy list) · Enter: its tab", t.dim());
    f.render_widget(Paragraph::new(vec![l1, l2]), area);
}

fn draw_table(deck: &Deck, t: &Theme, f: &mut Frame, area: Rect) {
    let wide = area.width >= 120;
    let inner = area.width.saturating_sub(2) as usize;
    // Host / app, roles, version, containers, memory, proxy, tab.
    let (wa, wr, wv, wc, wm, wp) = if wide { (30, 14, 10, 7, 10, 34) } else { (26, 0, 9, 5, 9, 0) };
    let wt = inner.saturating_sub(1 + wa + wr + wv + wc + wm + wp);
    let head = format!(
        " {}{}{}{}{}{}{}",
        fit("Host / app", wa),
        fit(if wide { "Roles" } else { "" }, wr),
        fit("Version", wv),
        fit("Run", wc),
        fit("Memory", wm),
        fit(if wide { "Proxy" } else { "" }, wp),
        fit("Tab", wt)
    );
    let mut lines = vec![Line::styled(head, t.dim())];
    let rows = deck.server_rows();
    let visible = area.height.saturating_sub(3) as usize;
    let skip = deck.servers_selected.saturating_sub(visible.saturating_sub(1));
    for (i, row) in rows.iter().enumerate().skip(skip).take(visible) {
        let sel = i == deck.servers_selected;
        let mut line = match row {
            ServerRow::Host(h) => {
                let (conn, cst) = match &h.conn {
                    ConnState::Up => ("● up", t.ok()),
                    ConnState::Down { .. } => ("✗ down", t.err()),
                    _ => ("… conn", t.dim()),
                };
                let mut spans = vec![Span::raw(format!(" ▾ {} ", h.host)), Span::styled(conn, cst)];
                if let Some(r) = deck.host_resources(&h.host) {
                    spans.push(Span::styled(format!("  mem {}/{} {:.0}%", hb(r.mem_used), hb(r.mem_total), r.mem_pct()), t.dim()));
                }
                match (&h.error, h.read) {
                    (Some(e), _) => spans.push(Span::styled(format!("  {e}"), t.err())),
                    (None, false) => spans.push(Span::styled("  not read yet", t.dim())),
                    (None, true) if h.apps.is_empty() => spans.push(Span::styled("  no Kamal app", t.dim())),
                    _ => {}
                }
                Line::from(spans)
            }
            ServerRow::App(h, a) => {
                let versions = a.versions.iter().map(|v| short_version(v)).collect::<Vec<_>>().join(" ");
                let run = format!("{}/{}", a.running, a.running + a.stopped);
                let mem = deck.app_memory(&h.host, a).map(|m| hb(m.mem_bytes)).unwrap_or_else(|| "-".into());
                let proxy = h.routes_of(a).map(|r| format!("{} {}", r.service, r.state)).collect::<Vec<_>>().join(", ");
                let kind = if a.accessory() { " (accessory)" } else { "" };
                let (tab, tst) = match deck.tab_of(a) {
                    Some(i) => (deck.tabs[i].name.clone(), t.ok()),
                    None => ("read-only".to_string(), t.dim()),
                };
                Line::from(vec![
                    Span::raw(format!("   {}", fit(&format!("{}{kind}", a.name()), wa - 2))),
                    Span::raw(fit(&a.roles.join(","), wr)),
                    Span::raw(fit(if versions.is_empty() { "-" } else { &versions }, wv)),
                    Span::raw(fit(&run, wc)),
                    Span::raw(fit(&mem, wm)),
                    Span::raw(fit(&proxy, wp)),
                    Span::styled(fit(&tab, wt), tst),
                ])
            }
        };
        if sel {
            line = line.patch_style(t.selected());
        }
        lines.push(line);
    }
    if rows.is_empty() {
        lines.push(Line::styled(" reading the hosts…", t.dim()));
    }
    let block = Block::default().borders(Borders::ALL).title(" Apps on the servers ");
    f.render_widget(Paragraph::new(lines).block(block), area);
}
