//! The management commands in the dashboard: `M` for maintenance (live again when the proxy
//! reports the app stopped, with a header badge), the palette's `proxy-…`, `registry-…`,
//! `remove` entries behind a confirmation (the destructive ones ask for the service name),
//! none of them with `--read-only`.

use crate::support::tui_fixtures as fx;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fx::text;
use kdeck::fleet::model::ProxyRoute;
use kdeck::tui::action::{palette_actions, Action, View};
use kdeck::tui::dispatch::{ManageOp, Recorder, Request};
use kdeck::tui::App;

fn key(app: &mut App, d: &mut Recorder, c: KeyCode) {
    let m = if matches!(c, KeyCode::Char(ch) if ch.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(c, m), d);
}

fn typed(app: &mut App, d: &mut Recorder, s: &str) {
    s.chars().for_each(|c| key(app, d, KeyCode::Char(c)));
}

fn in_maintenance() -> App {
    let mut s = fx::fleet();
    for h in s.hosts.iter_mut().take(2) {
        h.proxy_routes = vec![ProxyRoute { service: "klabapp-web-staging".into(), target: Some("abc:80".into()), state: "stopped".into() }];
    }
    fx::app_with(s)
}

#[test]
fn m_asks_before_maintenance_then_sends_it() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    assert!(!text(&app, 160, 40).contains("MAINTENANCE"));
    key(&mut app, &mut d, KeyCode::Char('M'));
    let screen = text(&app, 160, 40);
    assert!(screen.contains("kdeck app maintenance") && screen.contains("answers 503"), "{screen}");
    assert!(d.0.is_empty(), "nothing sent before the answer");
    key(&mut app, &mut d, KeyCode::Char('y'));
    assert_eq!(d.0, vec![Request::Manage(ManageOp::Maintenance)]);
}

#[test]
fn header_shows_maintenance_and_m_offers_live() {
    let mut app = in_maintenance();
    for (w, h) in [(160, 40), (80, 24)] {
        let screen = text(&app, w, h);
        assert!(screen.lines().nth(1).unwrap().contains("MAINTENANCE"), "{w}x{h}:\n{screen}");
    }
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('M'));
    assert!(text(&app, 160, 40).contains("kdeck app live"));
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(d.0, vec![Request::Manage(ManageOp::Live)]);
}

#[test]
fn palette_remove_runs_only_after_the_service_name_is_typed() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char(':'));
    typed(&mut app, &mut d, "app-remove");
    key(&mut app, &mut d, KeyCode::Enter);
    let screen = text(&app, 160, 40);
    assert!(screen.contains("kdeck app remove") && screen.contains("every container, image and directory"), "{screen}");
    key(&mut app, &mut d, KeyCode::Enter);
    assert!(d.0.is_empty(), "Enter without the name sent {:?}", d.0);
    typed(&mut app, &mut d, "klabapp");
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(d.0, vec![Request::Manage(ManageOp::AppRemove)]);
}

#[test]
fn palette_offers_every_management_command_except_when_read_only() {
    let names = |ro| palette_actions(View::Fleet, ro).into_iter().map(Action::name).collect::<Vec<_>>();
    for op in ManageOp::ALL {
        assert!(names(false).contains(&op.name()), "{} missing from the palette", op.name());
        assert!(!names(true).contains(&op.name()), "{} offered read-only", op.name());
    }
    assert!(!names(true).contains(&"maintenance"));
    let mut app = fx::app_with(fx::fleet());
    app.read_only = true;
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('M'));
    assert!(app.overlay.is_none() && d.0.is_empty(), "M is hidden read-only");
}

#[test]
fn rollback_picker_loads_the_audit_and_names_who_booted_each_version() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('B'));
    assert_eq!(d.0, vec![Request::LoadAudit], "the picker asks for the audit log");
    app.audit = Some(vec![format!("[2026-12-01T09:00:00Z] [ops@example.test] [staging] [web] Booted app version {}", fx::V2)]);
    let screen = text(&app, 160, 40);
    let row = screen.lines().find(|l| l.contains(&fx::V2[..7]) && l.contains("ago")).unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("booted [2026-12-01T09:00:00Z] [ops@example.test] [staging] [web]"), "{row}");
}

/// Someone else's deploy lock refuses what runs under it (maintenance) but not what Kamal runs
/// without it (a registry login, a build).
#[test]
fn a_held_lock_refuses_only_the_commands_that_take_it() {
    let mut s = fx::fleet();
    s.lock = Some(kdeck::kamal::lock::LockInfo { holder: "alice".into(), at: None, version: None, message: "m".into() });
    let mut app = fx::app_with(s);
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('M'));
    key(&mut app, &mut d, KeyCode::Char('y'));
    assert!(d.0.is_empty(), "maintenance runs under the lock: {:?}", d.0);
    assert!(text(&app, 160, 40).contains("press L to release it first"));
    key(&mut app, &mut d, KeyCode::Char(':'));
    typed(&mut app, &mut d, "registry-login");
    key(&mut app, &mut d, KeyCode::Enter);
    key(&mut app, &mut d, KeyCode::Char('y'));
    assert_eq!(d.0, vec![Request::Manage(ManageOp::RegistryLogin)]);
}
