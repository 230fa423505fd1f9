//! The fleet tree's accessories group (ratatui TestBackend + insta, 80x24 and 160x40): one
//! accessory running, one not booted, one on a host that is down; Enter on a row opens that
//! container's logs, Enter on the group folds it.

use crate::support::tui_fixtures as fx;

use fx::{render, text};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::tui::dispatch::{Recorder, Request};
use kdeck::tui::logbuf::Scope;
use kdeck::tui::versions::TreeRow;
use kdeck::tui::{App, LogLine, Update};
use ratatui::buffer::Buffer;
use ratatui::style::Color;

fn key(app: &mut App, d: &mut Recorder, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE), d);
}

/// Moves the selection to the row matching `want`.
fn select(app: &mut App, want: impl Fn(&TreeRow) -> bool) {
    let idx = app.tree().iter().position(want).expect("row in the tree");
    let mut d = Recorder::default();
    key(app, &mut d, KeyCode::Char('g'));
    for _ in 0..idx {
        key(app, &mut d, KeyCode::Char('j'));
    }
    assert_eq!(app.fleet_selected, idx);
}

fn is_acc(name: &'static str, host: &'static str) -> impl Fn(&TreeRow) -> bool {
    move |r| matches!(r, TreeRow::Accessory { name: n, host: h } if n == name && h == host)
}

fn row<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no row with {needle}:\n{screen}"))
}

/// Foreground of the first cell of `needle` on the row that also contains `on_row`.
fn fg_of(buf: &Buffer, on_row: &str, needle: &str) -> Color {
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        if line.contains(on_row) {
            if let Some(i) = line.find(needle) {
                let x = line[..i].chars().count() as u16;
                return buf[(x, y)].fg;
            }
        }
    }
    panic!("{needle} not on a row with {on_row}");
}

#[test]
fn accessories_group_under_the_roles() {
    let app = fx::app_with(fx::fleet_accessories());
    for (w, h) in [(80, 24), (160, 40)] {
        let s = text(&app, w, h);
        assert!(row(&s, "▾ accessories · 2").contains("1/3 up"), "{s}");
        assert!(row(&s, "db 10.77.4.11").contains("running"), "{s}");
        assert!(row(&s, "db 10.77.4.11").contains("16.4"), "{s}");
        assert!(row(&s, "db 10.77.4.11").contains("healthy"), "{s}");
        let missing = if w < 120 { "missing" } else { "not booted" };
        assert!(row(&s, "redis 10.77.4.12").contains(missing), "{s}");
        assert!(row(&s, "db 10.77.4.14").contains("✗ down"), "{s}");
        assert!(!row(&s, "db 10.77.4.14").contains(missing), "a down host says nothing about the container:\n{s}");
        // The group follows the roles.
        let pos = |n: &str| s.find(n).unwrap();
        assert!(pos("job") < pos("accessories"), "{s}");
    }
    insta::assert_snapshot!("fleet_accessories_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("fleet_accessories_160x40", text(&app, 160, 40));
    let wide = text(&app, 160, 40);
    assert!(row(&wide, "db 10.77.4.11").contains("klabapp-db"), "{wide}");
    assert!(row(&wide, "db 10.77.4.14").contains("no route to host"), "{wide}");
    // Same colours as app containers: running green, not booted yellow, down red.
    let t = render(&app, 160, 40);
    let buf = t.backend().buffer();
    assert_eq!(fg_of(buf, "db 10.77.4.11", "running"), Color::Green);
    assert_eq!(fg_of(buf, "redis 10.77.4.12", "not booted"), Color::Yellow);
    assert_eq!(fg_of(buf, "db 10.77.4.14", "✗ down"), Color::Red);
}

#[test]
fn accessory_detail_panes() {
    let mut app = fx::app_with(fx::fleet_accessories());
    select(&mut app, is_acc("db", "10.77.4.11"));
    let s = text(&app, 80, 24);
    assert!(s.contains("10.77.4.11 · accessory db"), "{s}");
    assert!(s.contains("container klabapp-db  image 10.77.4.1:5000/postgres:16.4"), "{s}");
    insta::assert_snapshot!("accessory_running_detail_80x24", s);
    select(&mut app, is_acc("redis", "10.77.4.12"));
    let s = text(&app, 160, 40);
    assert!(s.contains("not booted here: kdeck accessory boot redis"), "{s}");
    insta::assert_snapshot!("accessory_not_booted_detail_160x40", s);
    select(&mut app, is_acc("db", "10.77.4.14"));
    let s = text(&app, 80, 24);
    assert!(s.contains("down: no route to host (last seen 1 min ago)"), "{s}");
}

#[test]
fn enter_opens_the_container_logs_and_folds_the_group() {
    let mut app = fx::app_with(fx::fleet_accessories());
    let mut d = Recorder::default();
    // A not-booted accessory has no logs: a notice, no request, still on the fleet view.
    select(&mut app, is_acc("redis", "10.77.4.12"));
    key(&mut app, &mut d, KeyCode::Enter);
    assert!(d.0.is_empty(), "{:?}", d.0);
    assert!(text(&app, 80, 24).contains("accessory redis is not booted on 10.77.4.12"));

    select(&mut app, is_acc("db", "10.77.4.11"));
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(d.0, vec![Request::ContainerLogs { host: "10.77.4.11".into(), container: "klabapp-db".into() }]);
    let scope = Scope::HostContainer { host: "10.77.4.11".into(), container: "klabapp-db".into() };
    assert_eq!(app.log_view.scope, scope);
    // Only that container's lines on that host are shown.
    for (host, container, text) in [
        ("10.77.4.11", Some("klabapp-db"), "database system is ready to accept connections"),
        ("10.77.4.14", Some("klabapp-db"), "line from the other db host"),
        ("10.77.4.11", None, "GET /up 200"),
    ] {
        app.update(Update::Log(LogLine {
            host: host.into(),
            // The dashboard tags accessory lines with the container name (no role label).
            role: container.unwrap_or("web").into(),
            container: container.map(str::to_string),
            ts: Some(fx::now()),
            stderr: false,
            text: text.into(),
        }));
    }
    let s = text(&app, 80, 24);
    assert!(s.contains("ready to accept connections"), "{s}");
    assert!(!s.contains("other db host") && !s.contains("GET /up"), "{s}");
    assert!(s.contains("klabapp-db on 10.77.4.11"), "{s}");
    insta::assert_snapshot!("accessory_logs_80x24", s);

    // Back on the fleet: Enter on the group folds it (and again unfolds it).
    key(&mut app, &mut d, KeyCode::Char('1'));
    let before = app.tree().len();
    select(&mut app, |r| matches!(r, TreeRow::Accessories { .. }));
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(app.tree().len(), before - 3);
    let s = text(&app, 80, 24);
    assert!(s.contains("▸ accessories") && !s.contains("├ db") && !s.contains("└ redis"), "{s}");
    insta::assert_snapshot!("fleet_accessories_folded_80x24", s);
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(app.tree().len(), before);
    assert_eq!(d.0.len(), 1, "folding dispatches nothing: {:?}", d.0);
}
