//! Snapshot tests of every dashboard view and overlay (ratatui TestBackend + insta), narrow
//! (80x24) and wide (160x40), with failure states, down hosts, disagreeing versions and empty
//! states, plus per-cell style checks (colours, NO_COLOR).

use crate::support::tui_fixtures as fx;

use fx::{render, text};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::App;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

fn key(app: &mut App, c: KeyCode) {
    let m = if matches!(c, KeyCode::Char(ch) if ch.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(c, m), &mut Recorder::default());
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        if let Some(i) = row.find(needle) {
            // Column in cells (all fixture text before the needle is ASCII or 1-cell symbols).
            return Some((row[..i].chars().count() as u16, y));
        }
    }
    None
}

macro_rules! snap {
    ($name:expr, $app:expr) => {
        insta::assert_snapshot!(concat!($name, "_80x24"), text(&$app, 80, 24));
        insta::assert_snapshot!(concat!($name, "_160x40"), text(&$app, 160, 40));
    };
}

#[test]
fn fleet_home() {
    let app = fx::app_with(fx::fleet());
    snap!("fleet_home", app);
}

#[test]
fn fleet_connecting_empty_state() {
    let mut app = App::new(false);
    app.now = fx::now();
    snap!("fleet_connecting", app);
}

#[test]
fn fleet_no_roles_empty_state() {
    let mut app = fx::app_with(Default::default());
    app.now = fx::now();
    snap!("fleet_no_roles", app);
}

#[test]
fn fleet_disagreeing_versions_and_unhealthy() {
    let mut app = fx::app_with(fx::fleet_disagreeing());
    keys(&mut app, "jj"); // select 10.77.4.12
    snap!("fleet_disagreeing", app);
}

#[test]
fn fleet_down_host_and_lock() {
    let mut app = fx::app_with(fx::fleet_down());
    keys(&mut app, "jjjj"); // role job → 10.77.4.13
    snap!("fleet_down", app);
    // The down marker is drawn in red; the lock holder in yellow.
    let t = render(&app, 160, 40);
    let (x, y) = find(t.backend().buffer(), "✗ down").unwrap();
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    let (x, y) = find(t.backend().buffer(), "LOCKED by alice").unwrap();
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Yellow);
}

#[test]
fn no_color_has_no_colours_but_keeps_markers() {
    let mut app = fx::app_with(fx::fleet_down());
    app.color = false;
    fx::log_lines(&mut app, 30);
    for view_key in ['1', '2'] {
        key(&mut app, KeyCode::Char(view_key));
        let t = render(&app, 120, 30);
        let buf = t.backend().buffer();
        for c in buf.content() {
            assert_eq!(c.fg, Color::Reset, "NO_COLOR: a cell has colour {:?} at {:?}", c.fg, c.symbol());
            assert_eq!(c.bg, Color::Reset);
        }
        if view_key == '1' {
            assert!(find(buf, "✗ down").is_some());
        }
    }
}

#[test]
fn logs_merged_with_host_colours() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 60);
    key(&mut app, KeyCode::Char('l'));
    snap!("logs_merged", app);
    // Each host prefix keeps one colour.
    let t = render(&app, 80, 24);
    let buf = t.backend().buffer();
    let (x, y) = find(buf, "10.77.4.11/web").unwrap();
    let c1 = buf[(x, y)].fg;
    assert_ne!(c1, Color::Reset);
    let mut seen = 0;
    for yy in 0..buf.area.height {
        if buf[(x, yy)].symbol() == "1" && find(buf, "10.77.4.11/web").is_some() {
            let row: String = (0..buf.area.width).map(|xx| buf[(xx, yy)].symbol().to_string()).collect();
            if row.contains("10.77.4.11/web") {
                assert_eq!(buf[(x, yy)].fg, c1);
                seen += 1;
            }
        }
    }
    assert!(seen > 2);
}

#[test]
fn logs_timestamps_wrap_paused() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 60);
    key(&mut app, KeyCode::Char('l'));
    keys(&mut app, "tw");
    keys(&mut app, "kkk"); // scroll up: paused
    assert!(!app.log_view.follow);
    snap!("logs_ts_wrap_paused", app);
}

/// A wrapped line goes on under its message, not at column 0: the continuation rows keep the
/// prefix's rule, so the next line's host stands out.
#[test]
fn logs_wrapped_lines_hang_under_the_message() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 6);
    let long = "Completed 500 Internal Server Error in 5003ms (ActiveRecord: 4998.1ms | Allocations: 1204) because the database did not answer within the pool timeout of 5 seconds";
    app.update(kdeck::tui::Update::Log(kdeck::tui::LogLine {
        host: "10.77.4.12".into(),
        role: "web".into(),
        container: None,
        ts: Some(fx::now()),
        stderr: true,
        text: long.into(),
    }));
    fx::log_lines(&mut app, 1);
    key(&mut app, KeyCode::Char('l'));
    keys(&mut app, "w");
    for (w, h) in [(80u16, 24u16), (160, 40)] {
        let screen = text(&app, w, h);
        let rows: Vec<&str> = screen.lines().collect();
        let first = rows.iter().position(|r| r.contains("Completed 500")).unwrap_or_else(|| panic!("{screen}"));
        let rule = rows[first].find(" │ ").unwrap();
        // The continuation rows: blank up to the rule, the rule, then text; together, the line.
        let text_of = |row: &str| row[rule + " │ ".len()..].trim_end_matches(['"', '│', ' ']).to_string();
        let mut joined = text_of(rows[first]);
        let mut i = first + 1;
        while rows[i].find(" │ ") == Some(rule) && rows[i][..rule].trim_matches(['"', '│', ' ']).is_empty() {
            joined = format!("{joined} {}", text_of(rows[i]));
            i += 1;
        }
        assert!(i > first + 1, "{w}x{h}: the long line did not wrap under its message:\n{screen}");
        assert_eq!(joined.split_whitespace().collect::<Vec<_>>().join(" "), long, "{w}x{h}: words cut or lost:\n{screen}");
    }
    snap!("logs_wrapped_hanging", app);
}

#[test]
fn logs_filter_with_context_and_jump() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 60);
    key(&mut app, KeyCode::Char('l'));
    key(&mut app, KeyCode::Char('/'));
    keys(&mut app, "ERROR.*5");
    snap!("logs_filter_typing", app);
    key(&mut app, KeyCode::Enter);
    keys(&mut app, "nn");
    snap!("logs_filter_jump", app);
}

#[test]
fn logs_scoped_to_host_via_enter() {
    let mut app = fx::app_with(fx::fleet());
    fx::log_lines(&mut app, 30);
    keys(&mut app, "jj"); // host .12
    key(&mut app, KeyCode::Enter);
    let s = text(&app, 80, 24);
    assert!(s.contains("host 10.77.4.12"), "{s}");
    assert!(!s.contains("10.77.4.11/web │"), "{s}");
    insta::assert_snapshot!("logs_host_scope_80x24", s);
}

#[test]
fn logs_empty_state() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char('l'));
    snap!("logs_empty", app);
}

#[test]
fn deploy_timeline_running() {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_running());
    assert_eq!(app.view(), kdeck::tui::View::Deploy, "a plan switches to the timeline");
    snap!("deploy_running", app);
}

#[test]
fn deploy_timeline_done() {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_done());
    snap!("deploy_done", app);
}

#[test]
fn deploy_timeline_failed_expanded() {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_failed());
    snap!("deploy_failed", app);
    let t = render(&app, 160, 40);
    let (x, y) = find(t.backend().buffer(), "✗ health wait").unwrap();
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
}

#[test]
fn deploy_timeline_empty_state() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char('3'));
    snap!("deploy_empty", app);
}

#[test]
fn confirm_deploy_overlay() {
    let mut app = fx::app_with(fx::fleet());
    app.next_version = Some(fx::V3.into());
    key(&mut app, KeyCode::Char('D'));
    snap!("confirm_deploy", app);
}

#[test]
fn confirm_production_requires_typing() {
    let mut app = fx::app_with(fx::at_destination(fx::fleet(), "production"));
    key(&mut app, KeyCode::Char('D'));
    app.update(kdeck::tui::Update::Preflight(Box::new(crate::deploy_dialog::report_ok())));
    // y in the dialog asks for the destination's name before anything is sent.
    key(&mut app, KeyCode::Char('y'));
    keys(&mut app, "produc");
    snap!("confirm_production", app);
}

#[test]
fn rollback_picker_overlay() {
    let mut app = fx::app_with(fx::fleet_disagreeing());
    key(&mut app, KeyCode::Char('B'));
    snap!("rollback_picker", app);
}

#[test]
fn rollback_picker_empty() {
    let mut s = fx::fleet();
    for h in &mut s.hosts {
        h.containers.clear();
        h.current.clear();
    }
    let mut app = fx::app_with(s);
    key(&mut app, KeyCode::Char('B'));
    snap!("rollback_empty", app);
}

#[test]
fn help_overlay_per_view() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char('?'));
    snap!("help_fleet", app);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('l'));
    key(&mut app, KeyCode::Char('?'));
    snap!("help_logs", app);
}

#[test]
fn palette_overlay() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char(':'));
    keys(&mut app, "ro");
    snap!("palette", app);
}

#[test]
fn lock_message_overlay() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char('L'));
    keys(&mut app, "hotfix");
    snap!("lock_message", app);
}

#[test]
fn quit_while_running_overlay() {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_running());
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.quit);
    snap!("quit_running", app);
}

#[test]
fn exec_view_with_panes() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char('e'));
    snap!("exec_empty", app);
    keys(&mut app, "bin/rails runner 'puts Rails.env'");
    key(&mut app, KeyCode::Enter);
    fx::feed(
        &mut app,
        vec![kdeck::deploy::event::Event::PlanReady {
            action: kdeck::deploy::event::ActionKind::Exec { cmd: "bin/rails runner 'puts Rails.env'".into() },
            version: Some(fx::V1.into()),
            hosts: vec!["10.77.4.11".into(), "10.77.4.12".into(), "10.77.4.13".into()],
            groups: vec![],
            steps: vec![],
        }],
    );
    for h in ["10.77.4.11", "10.77.4.12", "10.77.4.13"] {
        for l in ["staging", "done"] {
            app.update(kdeck::tui::Update::Engine(kdeck::deploy::event::Event::Output {
                host: Some(h.into()),
                role: None,
                stream: kdeck::deploy::event::Stream::Stdout,
                line: format!("{l} on {h}"),
            }));
        }
    }
    snap!("exec_panes", app);
    // What ran where: each pane names its host and the command.
    assert!(text(&app, 160, 40).lines().any(|l| l.contains("10.77.4.12") && l.contains("$ bin/rails runner")), "{}", text(&app, 160, 40));
}

#[test]
fn audit_view_states() {
    let mut app = fx::app_with(fx::fleet());
    key(&mut app, KeyCode::Char('a'));
    snap!("audit_loading", app);
    app.update(kdeck::tui::Update::Audit(vec![
        "10.77.4.11  [2026-11-22T15:01:02Z] [alice] Pulled image with version 1fd263c".into(),
        "10.77.4.12  [2026-11-22T15:01:09Z] [alice] Deployed klabapp to 10.77.4.12 (staging) with a message long enough to need a second row at 80 columns"
            .into(),
    ]));
    snap!("audit_lines", app);
    // A long line wraps (its end is on screen), not cut.
    assert!(text(&app, 80, 24).contains("80 columns"), "{}", text(&app, 80, 24));
}

#[test]
fn read_only_hides_mutating_actions() {
    let mut app = fx::app_with(fx::fleet());
    app.read_only = true;
    snap!("read_only_fleet", app);
    key(&mut app, KeyCode::Char('?'));
    let s = text(&app, 80, 24);
    for hidden in ["D ", "R ", "B ", "L ", "e ", "X "] {
        assert!(!s.contains(&format!("│  {hidden}")), "{hidden:?} in {s}");
    }
    assert!(!s.contains("redeploy") && !s.contains("rollback") && !s.contains("lock /"), "{s}");
    insta::assert_snapshot!("read_only_help_80x24", s);
}
