use super::super::model::*;
use super::*;

const PROC: &str = "0.52 0.40 0.31 2/345 6789\n--kdeck--\ncpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\n--kdeck--\nMemTotal:        2000000 kB\nMemAvailable:     500000 kB\nSwapTotal:       1000000 kB\nSwapFree:         900000 kB\n--kdeck--\n/dev/sda1 10000 9000 1000 90% / /var/lib/docker\ntmpfs 100 10 90 10% /data /var/lib/docker/volumes/fill/_data\n--kdeck--\n1234 /var/lib/docker/containers/abc/abc-json.log\n";

#[test]
fn parses_one_host_read() {
    let s = parse_proc(PROC);
    assert_eq!(s.load, Some([0.52, 0.40, 0.31]));
    assert_eq!(s.cpu, Some((150, 1000)));
    assert_eq!(s.cpus, 2);
    assert_eq!((s.mem_total, s.mem_available), (2_048_000_000, 512_000_000));
    assert_eq!(s.swap_total - s.swap_free, 102_400_000);
    assert_eq!(s.df.len(), 2);
    assert_eq!(s.df[0].4, "/");
    assert_eq!(s.df[1].5, "/var/lib/docker/volumes/fill/_data");
    assert_eq!(s.files.get("/var/lib/docker/containers/abc/abc-json.log"), Some(&1234));
    assert_eq!(parse_proc(""), ProcSample::default());
}

#[test]
fn loop_command_runs_in_posix_sh() {
    let cmd = proc_loop_command(&["/".into(), "/no/such".into()], &["/proc/version".into()], Duration::from_millis(200), 2);
    let mut child = std::process::Command::new("sh").arg("-c").arg(&cmd).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let blocks: Vec<&str> = text.split("@@S\n").filter(|b| b.contains("@@E")).collect();
    assert!(blocks.len() >= 3, "{text}");
    let first = parse_proc(&blocks[0].replace("@@D\n", "").replace("@@E", ""));
    assert!(first.load.is_some() && first.cpu.is_some() && first.mem_total > 0, "{text}");
    assert_eq!(first.df.len(), 1, "{text}");
    assert_eq!(first.df[0].5, "/");
    assert!(first.files.contains_key("/proc/version") || text.contains("stat"), "{text}");
    assert!(blocks[0].contains("@@D") && !blocks[1].contains("@@D") && blocks[2].contains("@@D"), "{text}");
}

#[test]
fn cpu_percent_like_docker_stats() {
    assert_eq!(cpu_percent((100, 1000), (150, 1100), 2), Some(100.0));
    assert_eq!(cpu_percent((100, 1000), (150, 1000), 2), None);
    assert_eq!(cpu_percent((200, 1000), (150, 1100), 2), None);
}

fn host_with(mem_used: u64, disk_used: u64, c: ContainerResources) -> HostResources {
    HostResources {
        host: "h1".into(),
        conn: ConnState::Up,
        mem_total: 1000,
        mem_used,
        disks: vec![DiskUsage {
            mount: "/".into(),
            total_bytes: 100,
            used_bytes: disk_used,
            avail_bytes: 100 - disk_used,
            holds: vec!["docker data root".into()],
            ..Default::default()
        }],
        containers: vec![c],
        ..Default::default()
    }
}

#[test]
fn warnings_fire_at_thresholds() {
    let th = Thresholds::default();
    let c = ContainerResources {
        name: "app-web-v1".into(),
        role: "web".into(),
        state: "running".into(),
        mem_bytes: 50,
        mem_limit: Some(100),
        ..Default::default()
    };
    assert!(warnings(&host_with(500, 50, c.clone()), &th).is_empty());
    let kinds = |h: &HostResources| warnings(h, &th).into_iter().map(|w| w.kind).collect::<Vec<_>>();
    assert_eq!(kinds(&host_with(900, 50, c.clone())), vec![WarningKind::HostMemory]);
    assert_eq!(kinds(&host_with(500, 90, c.clone())), vec![WarningKind::Disk]);
    let hot = ContainerResources { mem_bytes: 90, oom_killed: true, ..c.clone() };
    assert_eq!(kinds(&host_with(500, 50, hot)), vec![WarningKind::ContainerMemory, WarningKind::OomKilled]);
    let looping = ContainerResources { restarts_recent: 3, ..c.clone() };
    assert_eq!(kinds(&host_with(500, 50, looping)), vec![WarningKind::RestartLoop]);
    // no limit: never a container-memory warning
    let unlimited = ContainerResources { mem_limit: None, mem_bytes: 10_000, ..c };
    assert!(warnings(&host_with(500, 50, unlimited), &th).is_empty());
}

#[test]
fn room_check_says_plainly_when_it_does_not_fit() {
    let gib = 1u64 << 30;
    let web = ContainerResources { role: "web".into(), state: "running".into(), mem_bytes: gib / 2, ..Default::default() };
    let worker = ContainerResources { role: "worker".into(), state: "running".into(), mem_bytes: gib / 4, mem_limit: Some(gib), ..Default::default() };
    let h = HostResources { host: "h1".into(), mem_total: 4 * gib, mem_used: 3 * gib, containers: vec![web, worker], ..Default::default() };
    let snap = ResourceSnapshot { hosts: vec![h], ..Default::default() };
    let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
    assert!(r[0].fits, "{}", r[0].message);
    // worker counts its 1 GiB limit: 1.5 GiB needed, 1 GiB available
    let r = room_check(&snap, &[("h1".into(), vec!["web".into(), "worker".into()]), ("h9".into(), vec!["web".into()])]);
    assert!(!r[0].fits);
    assert!(r[0].message.contains("NOT ENOUGH MEMORY"), "{}", r[0].message);
    assert!(r[0].message.contains("1.5 GiB"), "{}", r[0].message);
    assert!(!r[1].fits && r[1].message.contains("no resource data"));

    // Enough memory, but the image (2 images, 3 GiB) does not fit on the data root's disk.
    let mut h = snap.hosts[0].clone();
    h.kamal.images = 2;
    h.kamal.images_bytes = 3 * gib;
    h.disks = vec![DiskUsage { mount: "/var".into(), avail_bytes: gib, holds: vec!["docker data root".into()], ..Default::default() }];
    let snap = ResourceSnapshot { hosts: vec![h.clone()], ..Default::default() };
    let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
    assert!(!r[0].fits, "{}", r[0].message);
    assert!(r[0].message.contains("NOT ENOUGH DISK") && r[0].message.contains("1.5 GiB needed, only 1.0 GiB free on /var"), "{}", r[0].message);
    assert_eq!(r[0].disk, Some((3 * gib / 2, gib)));
    h.disks[0].avail_bytes = 2 * gib;
    let snap = ResourceSnapshot { hosts: vec![h], ..Default::default() };
    let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
    assert!(r[0].fits && !r[0].message.contains("DISK"), "{}", r[0].message);
}

#[test]
fn system_df_like_the_cli() {
    let v = serde_json::json!({
        "LayersSize": 1000,
        "Images": [{"Containers": 1, "Size": 600, "SharedSize": 100}, {"Containers": 0, "Size": 400, "SharedSize": 100}],
        "Containers": [{"SizeRw": 5, "State": "running"}, {"SizeRw": 7, "State": "exited"}],
        "Volumes": [{"UsageData": {"Size": 30, "RefCount": 1}}, {"UsageData": {"Size": -1, "RefCount": 0}}],
        "BuildCache": null
    });
    let d = parse_system_df(&v);
    assert_eq!((d.images, d.images_active, d.images_bytes, d.images_reclaimable_bytes), (2, 1, 1000, 500));
    assert_eq!((d.containers, d.containers_running, d.containers_bytes), (2, 1, 12));
    assert_eq!((d.volumes, d.volumes_bytes, d.build_cache_bytes), (2, 30, 0));
    assert_eq!(human_bytes(1536), "1.5 KiB");
    assert_eq!(human_bytes(64 << 20), "64 MiB");
}

/// Small apps sharing a host: a deploy that does not fit names the others it would starve
/// (largest first, the app itself left out), and a deploy that fits says nothing of them.
#[test]
fn room_check_names_the_other_apps_it_must_fit_beside() {
    let mib = 1u64 << 20;
    let app = |service: &str, destination: Option<&str>, mem: u64, this: bool| AppMemory {
        service: service.into(),
        destination: destination.map(str::to_string),
        running: 1,
        mem_bytes: mem,
        this,
    };
    let web = ContainerResources { role: "web".into(), state: "running".into(), mem_bytes: 300 * mib, ..Default::default() };
    let h = HostResources {
        host: "h1".into(),
        mem_total: 1024 * mib,
        mem_used: 900 * mib,
        containers: vec![web],
        apps: vec![app("blog", None, 200 * mib, false), app("shop", Some("staging"), 350 * mib, false), app("app", Some("production"), 300 * mib, true)],
        ..Default::default()
    };
    let snap = ResourceSnapshot { hosts: vec![h.clone()], ..Default::default() };
    let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
    assert!(!r[0].fits);
    assert_eq!(r[0].others, vec![("shop/staging".to_string(), 350 * mib), ("blog".to_string(), 200 * mib)]);
    assert!(r[0].message.ends_with("only 124 MiB available beside shop/staging 350 MiB, blog 200 MiB"), "{}", r[0].message);
    let roomy = HostResources { mem_used: 600 * mib, ..h };
    let r = room_check(&ResourceSnapshot { hosts: vec![roomy], ..Default::default() }, &[("h1".into(), vec!["web".into()])]);
    assert!(r[0].fits && !r[0].message.contains("beside"), "{}", r[0].message);
}
