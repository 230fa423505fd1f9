//! Several small apps on one host: the fleet's host detail lists what every Kamal app there
//! uses (this one in bold), and the deploy dialog says when a second copy of this app's
//! containers would not fit beside them, naming them (80x24 and 160x40).

use crate::support::tui_fixtures as fx;

use fx::text;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::fleet::model::*;
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::{App, Update};

const MIB: u64 = 1 << 20;

fn key(app: &mut App, c: char) {
    let m = if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(KeyCode::Char(c), m), &mut Recorder::default());
}

fn app_mem(service: &str, destination: Option<&str>, mem: u64, this: bool) -> AppMemory {
    AppMemory { service: service.into(), destination: destination.map(str::to_string), running: 1, mem_bytes: mem * MIB, this }
}

/// A 1 GiB host .12 shared by klabapp/staging (300 MiB), blog and shop/production; the others
/// have room.
fn app() -> App {
    let host = |name: &str, used: u64, apps: Vec<AppMemory>| HostResources {
        host: name.into(),
        conn: ConnState::Up,
        sampled_at: Some(fx::now()),
        cpu_pct: Some(8.0),
        mem_total: 1024 * MIB,
        mem_used: used * MIB,
        containers: vec![ContainerResources {
            name: "klabapp-web".into(),
            role: "web".into(),
            state: "running".into(),
            mem_bytes: 300 * MIB,
            ..Default::default()
        }],
        apps,
        ..Default::default()
    };
    let snap = ResourceSnapshot {
        service: "klabapp".into(),
        hosts: vec![
            host("10.77.4.11", 400, vec![app_mem("klabapp", Some("staging"), 300, true)]),
            host(
                "10.77.4.12",
                900,
                vec![app_mem("klabapp", Some("staging"), 300, true), app_mem("blog", None, 250, false), app_mem("shop", Some("production"), 280, false)],
            ),
            host("10.77.4.13", 300, vec![]),
        ],
        ..Default::default()
    };
    let mut app = fx::app_with(fx::fleet());
    app.update(Update::Resources(Box::new(snap)));
    app
}

#[test]
fn host_detail_lists_memory_per_app() {
    let mut app = app();
    key(&mut app, 'j');
    key(&mut app, 'j');
    let s = text(&app, 160, 40);
    assert!(s.contains("apps klabapp/staging 300 MiB · shop/production 280 MiB · blog 250 MiB"), "{s}");
    insta::assert_snapshot!("apps_memory_detail_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("apps_memory_detail_160x40", s);
    // A host with this app alone has no such line.
    key(&mut app, 'k');
    assert!(!text(&app, 160, 40).contains("apps klabapp"), "one app: no apps line");
}

#[test]
fn deploy_dialog_warns_when_the_second_copy_does_not_fit_beside_the_other_apps() {
    let mut app = app();
    key(&mut app, 'D');
    let s = text(&app, 160, 40);
    assert!(s.contains("NOT ENOUGH MEMORY") && s.contains("beside shop/production 280 MiB, blog 250 MiB"), "{s}");
    insta::assert_snapshot!("apps_memory_deploy_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("apps_memory_deploy_160x40", s);
}
