//! Live resources against real lab hosts: a container allocating memory up to its `--memory`
//! limit shows the climb and is flagged, its OOM kill and restart show within seconds; a
//! size-limited volume filled past the threshold raises the disk warning and removing the
//! file clears it.

use crate::support::lab;

use kdeck::fleet::model::{ResourceSnapshot, WarningKind};
use kdeck::fleet::resources::{Monitor, ResourceOptions};
use kdeck::fleet::FleetSpec;
use kdeck::ssh::{ClientOptions, Pool, SshOptions};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const SVC: &str = "kres";

fn pool(l: &lab::Lab) -> Pool {
    let kamal = SshOptions { keys: vec![l.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..Default::default() };
    let client = ClientOptions {
        known_hosts: l.known_hosts.clone(),
        connect_timeout: Duration::from_secs(3),
        max_backoff: Duration::from_secs(2),
        default_keys: vec![],
        use_agent: false,
        ..Default::default()
    };
    Pool::new(kamal, client).expect("pool")
}

async fn wait_for(rx: &mut watch::Receiver<ResourceSnapshot>, what: &str, within: Duration, f: impl Fn(&ResourceSnapshot) -> bool) -> Duration {
    let t0 = Instant::now();
    let ok = matches!(tokio::time::timeout(within, rx.wait_for(|s| f(s))).await, Ok(Ok(_)));
    if !ok {
        panic!("timed out after {within:?} waiting for {what}; last snapshot: {:#?}", *rx.borrow());
    }
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_climb_oom_restart_and_disk_warning() {
    let _turn = crate::support::lab::turn();
    let Some(l) = lab::Lab::up("fleet", 5, 2) else { return };
    let h1 = l.hosts[0].ip.clone();
    let hog = format!("{SVC}-hog-v1");
    let filler = format!("{SVC}-web-v1");
    let _ = l.docker(&h1, &["rm", "-f", &hog, &filler]);
    let _ = l.docker(&h1, &["volume", "rm", "-f", "kresfill"]);
    let img = l.image(SVC, "v1", "ok");
    let repo = img.rsplit_once(':').unwrap().0.to_string();
    let spec = FleetSpec::new(SVC, None, &repo, vec![("web".into(), vec![h1.clone()]), ("hog".into(), vec![h1.clone()])]);
    let opts = ResourceOptions { interval: Duration::from_millis(500), df_every: Duration::from_secs(3600), ..Default::default() };
    let pool = pool(&l);
    let (mut rx, _h) = Monitor::spawn(pool, spec, opts);

    // A size-limited volume (tmpfs, 8 MiB) used by a service container.
    l.docker(&h1, &["volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=8m", "kresfill"])
        .expect_ok("volume create");
    let labels =
        |role: &str| vec!["--label".to_string(), format!("service={SVC}"), "--label".into(), format!("role={role}"), "--label".into(), "destination".into()];
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), filler.clone(), "-v".into(), "kresfill:/data".into()];
    args.extend(labels("web"));
    args.push(img.clone());
    l.docker(&h1, &args.iter().map(String::as_str).collect::<Vec<_>>()).expect_ok("run filler");
    wait_for(&mut rx, "the volume's filesystem listed", Duration::from_secs(15), |s| {
        s.hosts[0].disks.iter().any(|d| d.holds.iter().any(|x| x == "volume kresfill"))
    })
    .await;
    {
        let s = rx.borrow();
        let h = &s.hosts[0];
        assert!(h.mem_total > 0 && h.cpus > 0 && h.load.is_some(), "{h:#?}");
        assert!(h.disks.iter().any(|d| d.holds.iter().any(|x| x == "docker data root")), "{:#?}", h.disks);
        assert!(!h.warnings.iter().any(|w| w.kind == WarningKind::Disk), "{:#?}", h.warnings);
    }
    l.docker(&h1, &["exec", &filler, "sh", "-c", "head -c 7600000 /dev/zero > /data/fill"]).expect_ok("fill");
    let took = wait_for(&mut rx, "disk warning", Duration::from_secs(20), |s| {
        s.hosts[0].warnings.iter().any(|w| w.kind == WarningKind::Disk && w.message.contains("volume kresfill"))
    })
    .await;
    println!("disk warning after {took:?}: {:?}", rx.borrow().hosts[0].warnings);
    l.docker(&h1, &["exec", &filler, "rm", "/data/fill"]).expect_ok("unfill");
    wait_for(&mut rx, "disk warning cleared", Duration::from_secs(20), |s| !s.hosts[0].warnings.iter().any(|w| w.kind == WarningKind::Disk)).await;
    let _ = l.docker(&h1, &["rm", "-f", &filler]);

    // A container that keeps one more 1 MiB string every 0.3 s up to its 40 MiB limit, then
    // gets OOM-killed (separate variables: no transient copies of the whole heap).
    let script = "a=$(head -c 1048576 /dev/zero | tr '\\0' x); i=0; while :; do i=$((i+1)); eval \"v$i=\\$a\"; sleep 0.3; done";
    let mut args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "--name".into(),
        hog.clone(),
        "--memory".into(),
        "40m".into(),
        "--memory-swap".into(),
        "40m".into(),
        "--restart".into(),
        "unless-stopped".into(),
    ];
    args.extend(labels("hog"));
    args.extend([img.clone(), "/bin/sh".into(), "-c".into(), script.into()]);
    l.docker(&h1, &args.iter().map(String::as_str).collect::<Vec<_>>()).expect_ok("run hog");

    let limit = 40u64 << 20;
    let hog_of = |s: &ResourceSnapshot| s.hosts[0].containers.iter().find(|c| c.name == hog).cloned();
    wait_for(&mut rx, "hog listed with its limit", Duration::from_secs(10), |s| hog_of(s).is_some_and(|c| c.mem_limit == Some(limit))).await;
    let took = wait_for(&mut rx, "container memory warning", Duration::from_secs(60), |s| {
        s.hosts[0].warnings.iter().any(|w| w.kind == WarningKind::ContainerMemory && w.container.as_deref() == Some(hog.as_str()))
    })
    .await;
    let c = hog_of(&rx.borrow()).unwrap();
    println!("memory warning after {took:?}; history {:?}", c.mem_history.iter().map(|b| b >> 20).collect::<Vec<_>>());
    // The climb is visible: several rising samples below the limit.
    let mut rising = 0;
    for w in c.mem_history.windows(2) {
        if w[1] > w[0] {
            rising += 1;
        }
    }
    assert!(rising >= 5, "no visible climb: {:?}", c.mem_history);

    let t_oom = Instant::now();
    let took = wait_for(&mut rx, "OOM flag and a restart", Duration::from_secs(60), |s| {
        hog_of(s).is_some_and(|c| c.oom_killed && c.restarts >= 1) && s.hosts[0].warnings.iter().any(|w| w.kind == WarningKind::OomKilled)
    })
    .await;
    let c = hog_of(&rx.borrow()).unwrap();
    // Cross-check with Docker: it saw the restart too.
    let r = l.docker(&h1, &["inspect", "-f", "{{.RestartCount}}", &hog]).expect_ok("inspect");
    assert!(r.stdout.trim().parse::<u64>().unwrap() >= 1);
    println!("OOM + restart shown {took:?} after the memory warning (oom events {}, restarts {}), {:?}", c.oom_events, c.restarts, t_oom.elapsed());
    let _ = l.docker(&h1, &["rm", "-f", &hog]);
    let _ = l.docker(&h1, &["volume", "rm", "-f", "kresfill"]);
}
