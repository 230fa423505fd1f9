//! Actions on a fleet row (`x`): the menu lists what the row offers with its keys, the ones
//! that change the servers are confirmed with the headless command they are the same as and
//! hidden read-only, inspect shows the container with its secret values masked, the shells
//! suspend the screen for the right target.

use crate::support::tui_fixtures as fx;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fx::text;
use kdeck::tui::action::{palette_actions, Action, View};
use kdeck::tui::dispatch::{Recorder, Request};
use kdeck::tui::rows::{InspectView, RowOp, RowTarget, ShellTarget, MASK};
use kdeck::tui::versions::TreeRow;
use kdeck::tui::{App, Update};

fn key(app: &mut App, d: &mut Recorder, c: KeyCode) {
    let m = if matches!(c, KeyCode::Char(ch) if ch.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(c, m), d);
}

fn typed(app: &mut App, d: &mut Recorder, s: &str) {
    s.chars().for_each(|c| key(app, d, KeyCode::Char(c)));
}

fn select(app: &mut App, want: impl Fn(&TreeRow) -> bool) {
    let idx = app.tree().iter().position(want).expect("row in the tree");
    app.fleet_selected = idx;
}

fn host_row(host: &'static str) -> impl Fn(&TreeRow) -> bool {
    move |r| matches!(r, TreeRow::Host { host: h, .. } if h == host)
}

const WEB1: &str = "10.77.4.11";

fn web1() -> RowTarget {
    RowTarget::Container { role: "web".into(), host: WEB1.into() }
}

#[test]
fn x_on_a_host_row_lists_its_actions_with_their_keys() {
    let mut app = fx::app_with(fx::fleet());
    select(&mut app, host_row(WEB1));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('x'));
    assert!(matches!(&app.overlay, Some(kdeck::tui::app::Overlay::RowActions { .. })));
    // The highlighted entry's headless command is shown under the list.
    key(&mut app, &mut d, KeyCode::Char('j'));
    key(&mut app, &mut d, KeyCode::Char('j'));
    insta::assert_snapshot!("row_actions_host_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("row_actions_host_160x40", text(&app, 160, 40));
    let s = text(&app, 160, 40);
    assert!(s.contains("Actions · web on 10.77.4.11") && s.contains("runs: kdeck app stop -r web -h 10.77.4.11 -d staging"), "{s}");
    for entry in ["b  boot", "S  stop", "R  restart", "X  remove", "i  inspect", "c  shell in the container", "h  shell on the host", "P  proxy reboot"] {
        assert!(s.contains(entry), "{entry} missing:\n{s}");
    }
    assert!(d.0.is_empty(), "opening the menu sends nothing");
}

#[test]
fn each_row_offers_only_what_applies_to_it() {
    let mut app = fx::app_with(fx::fleet_accessories());
    let ops = |app: &App, t: RowTarget| app.row_ops(&t);
    let role = ops(&app, RowTarget::Role { role: "web".into() });
    assert!(role.contains(&RowOp::Restart) && !role.contains(&RowOp::Inspect) && !role.contains(&RowOp::Shell) && !role.contains(&RowOp::ProxyReboot));
    assert!(ops(&app, web1()).contains(&RowOp::ProxyReboot), "web hosts run kamal-proxy");
    let job = ops(&app, RowTarget::Container { role: "job".into(), host: "10.77.4.13".into() });
    assert!(!job.contains(&RowOp::ProxyReboot), "no proxy on the job host");
    let db = ops(&app, RowTarget::Accessory { name: "db".into(), host: WEB1.into() });
    assert!(db.contains(&RowOp::Remove) && db.contains(&RowOp::Shell) && !db.contains(&RowOp::Exec) && !db.contains(&RowOp::ProxyReboot));
    app.read_only = true;
    assert_eq!(ops(&app, web1()), vec![RowOp::Logs, RowOp::Inspect, RowOp::Tunnel], "read-only: only what reads");
}

#[test]
fn stop_in_the_menu_is_confirmed_with_its_headless_command_then_sent() {
    let mut app = fx::app_with(fx::fleet());
    select(&mut app, host_row(WEB1));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('x'));
    key(&mut app, &mut d, KeyCode::Char('S'));
    let s = text(&app, 160, 40);
    assert!(s.contains("Stop web on 10.77.4.11?") && s.contains("  kdeck app stop -r web -h 10.77.4.11 -d staging"), "{s}");
    insta::assert_snapshot!("row_confirm_stop_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("row_confirm_stop_160x40", s);
    assert!(d.0.is_empty(), "nothing sent before the answer");
    key(&mut app, &mut d, KeyCode::Char('y'));
    assert_eq!(d.0, vec![Request::Row { op: RowOp::Stop, target: web1(), version: None }]);
}

#[test]
fn start_and_restart_bring_back_the_version_the_row_shows() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    select(&mut app, |r| matches!(r, TreeRow::Role { role, .. } if role == "web"));
    key(&mut app, &mut d, KeyCode::Char('x'));
    key(&mut app, &mut d, KeyCode::Char('R'));
    let s = text(&app, 160, 40);
    assert!(s.contains("kdeck app stop -r web -d staging && kdeck app start -r web") && s.contains(&format!("--version {}", fx::V1)), "{s}");
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(d.0, vec![Request::Row { op: RowOp::Restart, target: RowTarget::Role { role: "web".into() }, version: Some(fx::V1.into()) }]);
}

#[test]
fn remove_runs_only_after_the_service_name_is_typed() {
    let mut app = fx::app_with(fx::fleet_accessories());
    select(&mut app, |r| matches!(r, TreeRow::Accessory { name, host } if name == "db" && host == WEB1));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('x'));
    key(&mut app, &mut d, KeyCode::Char('X'));
    let s = text(&app, 160, 40);
    assert!(s.contains("Remove accessory db on 10.77.4.11?") && s.contains("  kdeck accessory remove db -y -h 10.77.4.11 -d staging"), "{s}");
    key(&mut app, &mut d, KeyCode::Char('y'));
    key(&mut app, &mut d, KeyCode::Enter);
    assert!(d.0.is_empty(), "sent without the name: {:?}", d.0);
    typed(&mut app, &mut d, "klabapp");
    key(&mut app, &mut d, KeyCode::Enter);
    assert_eq!(d.0, vec![Request::Row { op: RowOp::Remove, target: RowTarget::Accessory { name: "db".into(), host: WEB1.into() }, version: None }]);
}

#[test]
fn read_only_hides_what_changes_the_servers_from_menu_keys_and_palette() {
    let mut app = fx::app_with(fx::fleet());
    app.read_only = true;
    select(&mut app, host_row(WEB1));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('x'));
    let s = text(&app, 160, 40);
    assert!(s.contains("inspect") && !s.contains("stop") && !s.contains("shell"), "{s}");
    key(&mut app, &mut d, KeyCode::Char('S'));
    assert!(d.0.is_empty() && !matches!(app.overlay, Some(kdeck::tui::app::Overlay::Confirm(_))), "stop ran read-only");
    let names: Vec<&str> = palette_actions(View::Fleet, true).into_iter().map(Action::name).collect();
    assert!(names.contains(&"row-inspect") && names.contains(&"row-actions") && !names.contains(&"row-stop") && !names.contains(&"host-shell"), "{names:?}");
}

#[test]
fn palette_runs_a_row_action_on_the_selected_row() {
    let mut app = fx::app_with(fx::fleet());
    select(&mut app, host_row("10.77.4.13"));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char(':'));
    typed(&mut app, &mut d, "row-boot");
    key(&mut app, &mut d, KeyCode::Enter);
    let s = text(&app, 160, 40);
    assert!(s.contains("Boot job on 10.77.4.13?") && s.contains("  kdeck app boot -r job -h 10.77.4.13 -d staging"), "{s}");
    key(&mut app, &mut d, KeyCode::Char('y'));
    assert_eq!(d.0, vec![Request::Row { op: RowOp::Boot, target: RowTarget::Container { role: "job".into(), host: "10.77.4.13".into() }, version: None }]);
}

#[test]
fn shells_open_in_the_container_in_the_accessory_and_on_the_host() {
    let mut app = fx::app_with(fx::fleet_accessories());
    let mut d = Recorder::default();
    select(&mut app, host_row(WEB1));
    key(&mut app, &mut d, KeyCode::Char('x'));
    key(&mut app, &mut d, KeyCode::Char('c'));
    assert_eq!(app.pending_shell.take(), Some(ShellTarget::App { host: WEB1.into(), role: Some("web".into()), reuse: true }));
    key(&mut app, &mut d, KeyCode::Char('x'));
    key(&mut app, &mut d, KeyCode::Char('h'));
    assert_eq!(app.pending_shell.take(), Some(ShellTarget::Host { host: WEB1.into() }));
    select(&mut app, |r| matches!(r, TreeRow::Accessory { name, .. } if name == "db"));
    key(&mut app, &mut d, KeyCode::Char('x'));
    key(&mut app, &mut d, KeyCode::Char('c'));
    assert_eq!(app.pending_shell.take(), Some(ShellTarget::Accessory { host: WEB1.into(), name: "db".into() }));
}

fn inspected() -> InspectView {
    InspectView {
        host: WEB1.into(),
        container: format!("klabapp-web-staging-{}", fx::V1),
        image: format!("10.77.4.1:5000/klabapp:{}", fx::V1),
        state: "running".into(),
        started: Some("2026-11-22T14:00:05Z".into()),
        restart_count: 2,
        env: vec![
            ("APP_ENV".into(), "staging".into()),
            ("DATABASE_PASSWORD".into(), MASK.into()),
            ("KAMAL_VERSION".into(), fx::V1.into()),
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ],
        labels: vec![("destination".into(), "staging".into()), ("role".into(), "web".into()), ("service".into(), "klabapp".into())],
        mounts: vec!["bind /root/.kamal/apps/klabapp/assets → /app/public/assets (rw)".into()],
        ports: vec!["80/tcp (not published)".into()],
        health: Some("healthy".into()),
        health_log: vec!["2026-11-22 15:59:50 UTC exit 0 ok".into(), "2026-11-22 15:59:55 UTC exit 0 ok".into()],
        error: None,
    }
}

#[test]
fn i_inspects_the_rows_container_with_secret_values_masked() {
    let mut app = fx::app_with(fx::fleet());
    select(&mut app, host_row(WEB1));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('i'));
    assert_eq!(d.0, vec![Request::Inspect { target: web1(), container: format!("klabapp-web-{}", fx::V1) }]);
    assert!(text(&app, 80, 24).contains("Reading the container's details"));
    app.update(Update::Inspect(Box::new(inspected())));
    insta::assert_snapshot!("inspect_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("inspect_160x40", text(&app, 160, 40));
    let s = text(&app, 160, 40);
    assert!(s.contains(&format!("DATABASE_PASSWORD={MASK}")) && s.contains("APP_ENV=staging") && s.contains("restarts 2"), "{s}");
    key(&mut app, &mut d, KeyCode::Esc);
    assert!(app.overlay.is_none());
    // A late answer after the overlay closed does not reopen anything.
    app.update(Update::Inspect(Box::new(inspected())));
    assert!(app.overlay.is_none() && app.inspect.is_none());
}

#[test]
fn status_bar_and_help_name_the_row_action_key() {
    let mut app = fx::app_with(fx::fleet());
    assert!(text(&app, 160, 40).lines().last().unwrap().contains("x actions on the row"));
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('?'));
    let s = text(&app, 160, 40);
    assert!(s.contains("actions on the row") && s.contains("inspect its container"), "{s}");
}
