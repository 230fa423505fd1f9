//! Snapshot tests (insta, TestBackend) of the resource widgets, the headless table, and the
//! room check sentences; plus per-cell style checks where colour carries the warning.

use chrono::{TimeZone, Utc};
use kdeck::commands::resources::{render_table, to_json};
use kdeck::fleet::model::*;
use kdeck::fleet::prune::PrunePlan;
use kdeck::fleet::resources::{room_check, warnings};
use kdeck::fleet::FleetSpec;
use kdeck::tui::resources as w;
use kdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn container(name: &str, role: &str, state: &str, mem: u64, limit: Option<u64>) -> ContainerResources {
    ContainerResources {
        id: format!("{name}-id"),
        name: name.into(),
        role: role.into(),
        state: state.into(),
        cpu_pct: (state == "running").then_some(12.5),
        mem_bytes: mem,
        mem_limit: limit,
        log_driver: Some("json-file".into()),
        log_bytes: Some(3 * MIB),
        cpu_history: vec![1.0, 5.0, 12.0, 30.0, 12.5, 8.0],
        mem_history: (1..=12).map(|i| i * mem / 12).collect(),
        ..Default::default()
    }
}

fn host(name: &str, mem_used: u64, disk_used_pct: u64, containers: Vec<ContainerResources>) -> HostResources {
    let total = 100 * GIB;
    let mut h = HostResources {
        host: name.into(),
        conn: ConnState::Up,
        sampled_at: Some(Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap()),
        cpus: 2,
        load: Some([0.52, 0.4, 0.31]),
        cpu_pct: Some(23.0),
        mem_total: 4 * GIB,
        mem_used,
        docker_root: Some("/var/lib/docker".into()),
        disks: vec![DiskUsage {
            mount: "/".into(),
            filesystem: "/dev/vda1".into(),
            total_bytes: total,
            used_bytes: total * disk_used_pct / 100,
            avail_bytes: total - total * disk_used_pct / 100,
            holds: vec!["docker data root".into()],
        }],
        docker_df: Some(DockerDf {
            images: 6,
            images_active: 2,
            images_bytes: 900 * MIB,
            images_reclaimable_bytes: 600 * MIB,
            containers: 5,
            containers_running: 2,
            containers_bytes: 12 * MIB,
            volumes: 1,
            volumes_bytes: 30 * MIB,
            ..Default::default()
        }),
        kamal: KamalUsage {
            images: 4,
            images_bytes: 800 * MIB,
            containers: 5,
            containers_running: 2,
            reclaimable_bytes: 410 * MIB,
            prune_containers: 2,
            prune_images: 2,
        },
        containers,
        cpu_history: vec![10.0, 20.0, 23.0],
        mem_history: vec![mem_used],
        ..Default::default()
    };
    h.warnings = warnings(&h, &Thresholds::default());
    h
}

fn snapshot() -> ResourceSnapshot {
    let mut oom = container("klabapp-worker-v2", "worker", "running", 60 * MIB, Some(64 * MIB));
    oom.oom_killed = true;
    oom.oom_events = 1;
    oom.restarts = 4;
    oom.restarts_recent = 4;
    oom.last_oom = Some(Utc.with_ymd_and_hms(2026, 11, 22, 15, 58, 30).unwrap());
    let mut capped = container("klabapp-web-v2", "web", "running", 200 * MIB, None);
    capped.log_opts = vec![("max-size".into(), "10m".into())];
    ResourceSnapshot {
        service: "klabapp".into(),
        thresholds: Thresholds::default(),
        hosts: vec![
            host("10.77.5.11", GIB, 40, vec![capped, container("klabapp-web-v1", "web", "exited", 0, None)]),
            host("10.77.5.12", 3 * GIB + GIB / 2, 91, vec![oom]),
            HostResources {
                host: "10.77.5.13".into(),
                conn: ConnState::Down { reason: "connection refused".into() },
                error: Some("10.77.5.13: unreachable: connection refused".into()),
                ..Default::default()
            },
        ],
    }
}

fn plans() -> Vec<PrunePlan> {
    vec![
        PrunePlan {
            host: "10.77.5.11".into(),
            containers: vec![("aaaaaaaaaaaaaaaa".into(), "klabapp-web-v0".into())],
            untagged: vec!["10.77.5.1:5000/klabapp:v0".into()],
            deleted_images: vec!["sha256:bbbbbbbbbbbbbbbbbbbb".into()],
            containers_bytes: 4096,
            images_bytes: 5 * MIB,
            exact: true,
            ..Default::default()
        },
        PrunePlan { host: "10.77.5.12".into(), exact: true, ..Default::default() },
    ]
}

fn text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    let mut s = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        for x in 0..b.area.width {
            line.push_str(b[(x, y)].symbol());
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn draw(wd: u16, ht: u16, f: impl FnOnce(&mut ratatui::Frame, Rect)) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(wd, ht)).unwrap();
    t.draw(|fr| {
        let a = fr.area();
        f(fr, a)
    })
    .unwrap();
    t
}

#[test]
fn host_pages_narrow_and_wide() {
    let s = snapshot();
    let th = Thresholds::default();
    let th2 = Theme::new(true);
    for (wd, ht) in [(80u16, 24u16), (160, 40)] {
        for h in &s.hosts {
            let t = draw(wd, ht, |f, a| w::host_page(f, a, &th2, h, &th));
            insta::assert_snapshot!(format!("host_page_{}_{wd}x{ht}", h.host.replace('.', "_")), text(&t));
        }
    }
}

#[test]
fn warning_colours_and_badges() {
    let s = snapshot();
    let th = Thresholds::default();
    let theme = Theme::new(true);
    // Disk at 91 % on .12: the DISK gauge's percentage is drawn in red.
    let t = draw(80, 8, |f, a| w::host_gauges(f, a, &theme, &s.hosts[1], &th));
    let txt = text(&t);
    let (y, line) = txt.lines().enumerate().find(|(_, l)| l.contains("DISK")).unwrap();
    let x = line.find("91%").expect("91% shown") as u16;
    // `find` is a byte index; bars are multi-byte, so locate by cells instead.
    let buf = t.backend().buffer();
    let cell_x = (0..buf.area.width).find(|cx| buf[(*cx, y as u16)].symbol() == "9" && buf[(*cx + 1, y as u16)].symbol() == "1").unwrap_or(x);
    assert_eq!(buf[(cell_x, y as u16)].fg, Color::Red, "{txt}");

    let spans = w::warning_badges(&theme, &s, "10.77.5.12", None);
    let badges: Vec<String> = spans.iter().map(|s| s.content.to_string()).collect();
    assert_eq!(badges, vec!["[MEM]", " ", "[DISK]", " ", "[CMEM]", " ", "[OOM]", " ", "[LOOP]"]);
    assert!(w::warning_badges(&theme, &s, "10.77.5.11", None).is_empty());
    let t = draw(100, 8, |f, a| w::warnings_panel(f, a, &theme, &s));
    insta::assert_snapshot!("warnings_panel_100x8", text(&t));
    let none = ResourceSnapshot::default();
    let t = draw(60, 3, |f, a| w::warnings_panel(f, a, &Theme::new(false), &none));
    insta::assert_snapshot!("warnings_panel_empty_60x3", text(&t));
}

#[test]
fn prune_preview_and_room_check() {
    let theme = Theme::new(true);
    let t = draw(80, 10, |f, a| w::prune_preview(f, a, &theme, &plans(), 5, ratatui::text::Line::raw("")));
    insta::assert_snapshot!("prune_preview_80x10", text(&t));
    let t = draw(80, 4, |f, a| w::prune_preview(f, a, &theme, &[], 5, ratatui::text::Line::raw("")));
    insta::assert_snapshot!("prune_preview_empty_80x4", text(&t));

    let s = snapshot();
    let checks =
        room_check(&s, &[("10.77.5.11".into(), vec!["web".into()]), ("10.77.5.12".into(), vec!["worker".into()]), ("10.77.5.13".into(), vec!["web".into()])]);
    let lines: Vec<String> = w::room_check_lines(&theme, &checks).iter().map(|l| l.to_string()).collect();
    insta::assert_snapshot!("room_check_lines", lines.join("\n"));
    assert!(checks[0].fits && checks[1].fits && !checks[2].fits);
}

#[test]
fn headless_table_and_json() {
    let s = snapshot();
    let mut spec = FleetSpec::new(
        "klabapp",
        None,
        "10.77.5.1:5000/klabapp",
        vec![("web".into(), vec!["10.77.5.11".into(), "10.77.5.13".into()]), ("worker".into(), vec!["10.77.5.12".into()])],
    );
    spec.retain_containers = 5;
    insta::assert_snapshot!("details_resources_table", render_table(&s, &plans(), &spec));
    let j = to_json(&s, &plans(), &spec);
    assert_eq!(j["hosts"].as_array().unwrap().len(), 3);
    assert_eq!(j["warnings"].as_array().unwrap().len(), 5);
    assert_eq!(j["hosts"][1]["containers"][0]["oom_killed"], true);
    assert_eq!(j["prune_preview"][0]["untagged"][0], "10.77.5.1:5000/klabapp:v0");
}

#[test]
fn sparkline_scales() {
    assert_eq!(w::sparkline(&[0.0, 50.0, 100.0], 3, Some(100.0)), "▁▅█");
    assert_eq!(w::sparkline(&[1.0, 2.0, 3.0, 4.0], 2, None), "▆█");
    assert_eq!(w::sparkline(&[], 5, None), "");
}
