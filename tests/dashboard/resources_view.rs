//! Snapshot tests of the dashboard with live resources wired in (ratatui TestBackend + insta,
//! 80x24 and 160x40), from fixture data: the fleet view with resource columns and warning
//! badges, the host resources page, the deploy confirmation with the room check (one host
//! without room) and the prune preview; plus the keys that open them.

use crate::support::tui_fixtures as fx;

use fx::text;

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::fleet::model::*;
use kdeck::fleet::prune::PrunePlan;
use kdeck::fleet::resources::warnings;
use kdeck::tui::dispatch::{Recorder, Request};
use kdeck::tui::{App, Update};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn key(app: &mut App, c: char, rec: &mut Recorder) {
    let m = if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(KeyCode::Char(c), m), rec);
}

fn code(app: &mut App, c: KeyCode, rec: &mut Recorder) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE), rec);
}

macro_rules! snap {
    ($name:expr, $app:expr) => {
        insta::assert_snapshot!(concat!($name, "_80x24"), text(&$app, 80, 24));
        insta::assert_snapshot!(concat!($name, "_160x40"), text(&$app, 160, 40));
    };
}

fn container(name: &str, role: &str, mem: u64, limit: Option<u64>) -> ContainerResources {
    ContainerResources {
        id: format!("{name}-id"),
        name: name.into(),
        role: role.into(),
        state: "running".into(),
        cpu_pct: Some(12.5),
        mem_bytes: mem,
        mem_limit: limit,
        log_driver: Some("json-file".into()),
        log_bytes: Some(3 * MIB),
        cpu_history: vec![1.0, 5.0, 12.0, 30.0, 12.5, 8.0],
        mem_history: (1..=12).map(|i| i * mem / 12).collect(),
        ..Default::default()
    }
}

fn host(name: &str, mem_total: u64, mem_used: u64, disk_pct: u64, containers: Vec<ContainerResources>) -> HostResources {
    let total = 40 * GIB;
    let mut h = HostResources {
        host: name.into(),
        conn: ConnState::Up,
        sampled_at: Some(fx::now()),
        cpus: 2,
        load: Some([0.52, 0.4, 0.31]),
        cpu_pct: Some(23.0),
        mem_total,
        mem_used,
        docker_root: Some("/var/lib/docker".into()),
        disks: vec![DiskUsage {
            mount: "/".into(),
            filesystem: "/dev/vda1".into(),
            total_bytes: total,
            used_bytes: total * disk_pct / 100,
            avail_bytes: total - total * disk_pct / 100,
            holds: vec!["docker data root".into()],
        }],
        containers,
        cpu_history: vec![10.0, 20.0, 23.0],
        mem_history: vec![mem_used],
        ..Default::default()
    };
    h.warnings = warnings(&h, &Thresholds::default());
    h
}

/// .11 is fine; .12 has a full disk and a web container near its limit (no room for a second
/// copy); .13's job container was OOM-killed and restarts in a loop.
fn resources() -> ResourceSnapshot {
    let web = |v: &str| format!("klabapp-web-{v}");
    let mut oom = container(&format!("klabapp-job-{}", fx::V1), "job", 62 * MIB, Some(64 * MIB));
    oom.oom_killed = true;
    oom.oom_events = 1;
    oom.restarts = 6;
    oom.restarts_recent = 6;
    oom.last_oom = Some(Utc.with_ymd_and_hms(2026, 11, 22, 15, 58, 30).unwrap());
    ResourceSnapshot {
        service: "klabapp".into(),
        thresholds: Thresholds::default(),
        hosts: vec![
            host("10.77.4.11", 4 * GIB, GIB, 40, vec![container(&web(fx::V1), "web", 300 * MIB, None)]),
            host("10.77.4.12", 2 * GIB, 1900 * MIB, 93, vec![container(&web(fx::V1), "web", 900 * MIB, Some(GIB))]),
            host("10.77.4.13", 4 * GIB, GIB, 30, vec![oom]),
        ],
    }
}

fn plans() -> Vec<PrunePlan> {
    vec![
        PrunePlan {
            host: "10.77.4.11".into(),
            containers: vec![("aaaaaaaaaaaa".into(), format!("klabapp-web-{}", fx::V2))],
            untagged: vec![format!("10.77.4.1:5000/klabapp:{}", fx::V2)],
            deleted_images: vec!["sha256:bbbbbbbbbbbbbbbbbbbb".into()],
            containers_bytes: 4096,
            images_bytes: 48 * MIB,
            exact: true,
            ..Default::default()
        },
        PrunePlan { host: "10.77.4.12".into(), exact: true, ..Default::default() },
    ]
}

fn app() -> App {
    let mut app = fx::app_with(fx::fleet());
    app.update(Update::Resources(Box::new(resources())));
    app.update(Update::PrunePlans(plans()));
    app
}

#[test]
fn fleet_with_resources_and_warnings() {
    let mut app = app();
    let mut rec = Recorder::default();
    // Select host .12 (row 0 role web, 1 .11, 2 .12): its detail shows CPU/mem/disk + badges.
    key(&mut app, 'j', &mut rec);
    key(&mut app, 'j', &mut rec);
    let s = text(&app, 160, 40);
    assert!(s.contains("[DISK]") && s.contains("[CMEM]"), "{s}");
    assert!(s.contains("[OOM]") && s.contains("[LOOP]"), "{s}");
    assert!(s.contains("CPU MEM DISK"), "{s}");
    snap!("fleet_resources", app);
}

#[test]
fn fleet_without_resources_has_no_badges() {
    let app = fx::app_with(fx::fleet());
    let s = text(&app, 160, 40);
    assert!(!s.contains("CPU MEM DISK") && !s.contains("[DISK]"), "{s}");
}

#[test]
fn host_page_opens_with_m_and_closes_with_esc() {
    let mut app = app();
    let mut rec = Recorder::default();
    for _ in 0..4 {
        key(&mut app, 'j', &mut rec);
    }
    key(&mut app, 'm', &mut rec);
    let s = text(&app, 160, 40);
    assert!(s.contains("10.77.4.13 resources") && s.contains("OOM"), "{s}");
    snap!("host_page_oom", app);
    code(&mut app, KeyCode::Esc, &mut rec);
    assert!(app.overlay.is_none());
    assert!(rec.0.is_empty(), "the host page changes nothing: {:?}", rec.0);
}

#[test]
fn deploy_confirmation_shows_room_check() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'D', &mut rec);
    app.update(kdeck::tui::Update::Preflight(Box::new(crate::deploy_dialog::report_ok())));
    let s = text(&app, 160, 40);
    assert!(s.contains("NOT ENOUGH MEMORY") && s.contains("10.77.4.12"), "{s}");
    assert!(s.contains("room for a second copy"), "{s}");
    snap!("confirm_deploy_room", app);
    key(&mut app, 'y', &mut rec);
    assert!(matches!(rec.0.as_slice(), [Request::Preflight, Request::Deploy(_)]), "{:?}", rec.0);
}

#[test]
fn rollback_confirmation_shows_room_check() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'B', &mut rec);
    code(&mut app, KeyCode::Enter, &mut rec);
    let s = text(&app, 160, 40);
    assert!(s.contains("Roll back to") && s.contains("NOT ENOUGH MEMORY"), "{s}");
}

#[test]
fn prune_preview_then_prune() {
    let mut app = app();
    let mut rec = Recorder::default();
    key(&mut app, 'P', &mut rec);
    let s = text(&app, 160, 40);
    assert!(s.contains("prune preview") && s.contains("klabapp-web-4cba8e55"), "{s}");
    snap!("prune_preview", app);
    key(&mut app, 'n', &mut rec);
    assert!(rec.0.is_empty());
    key(&mut app, 'P', &mut rec);
    key(&mut app, 'y', &mut rec);
    assert_eq!(rec.0, vec![Request::Prune]);
}

#[test]
fn read_only_hides_prune_but_keeps_resources() {
    let mut app = app();
    app.read_only = true;
    let mut rec = Recorder::default();
    key(&mut app, 'P', &mut rec);
    assert!(app.overlay.is_none());
    key(&mut app, 'm', &mut rec);
    assert!(matches!(app.overlay, Some(kdeck::tui::app::Overlay::HostPage { .. })));
    key(&mut app, '?', &mut rec);
    let _ = text(&app, 160, 40);
    assert!(rec.0.is_empty());
    let names: Vec<_> = app.palette_items("prune");
    assert!(names.is_empty(), "{names:?}");
    assert!(!app.palette_items("host-resources").is_empty());
}
