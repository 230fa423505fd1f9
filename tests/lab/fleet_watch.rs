//! Fleet watcher and log fan-in against real lab hosts (sshd + dockerd per host):
//! containers appear/disappear from Docker events, the current version follows Kamal's
//! `latest` tag, the lock is read, a killed sshd marks the host Down and it recovers by itself;
//! merged logs carry host/role tags and resume after the reconnect without repeating lines.

use crate::support::lab;

use kdeck::fleet::logs::{self, FleetLog, FollowOptions, LogScope};
use kdeck::fleet::model::{ConnState, FleetSnapshot};
use kdeck::fleet::{FleetSpec, Watcher};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const SVC: &str = "kfleetw";

async fn wait_for(rx: &mut watch::Receiver<FleetSnapshot>, what: &str, within: Duration, f: impl Fn(&FleetSnapshot) -> bool) -> Duration {
    let t0 = Instant::now();
    let ok = matches!(tokio::time::timeout(within, rx.wait_for(|s| f(s))).await, Ok(Ok(_)));
    match ok {
        true => t0.elapsed(),
        false => panic!("timed out after {within:?} waiting for {what}; last snapshot: {:#?}", *rx.borrow()),
    }
}

fn run_app(l: &lab::Lab, host: &str, image: &str, role: &str, version: &str) {
    let name = format!("{SVC}-{role}-{version}");
    l.docker(
        host,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--restart",
            "unless-stopped",
            "--label",
            &format!("service={SVC}"),
            "--label",
            &format!("role={role}"),
            "--label",
            "destination",
            image,
        ],
    )
    .expect_ok("docker run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_follows_events_lock_and_host_down_up_and_logs_resume() {
    let _turn = crate::support::lab::turn();
    let _faults = FAULTS.lock().await;
    let Some(l) = lab::Lab::up("fleet", 5, 2) else { return };
    let (h1, h2) = (l.hosts[0].ip.clone(), l.hosts[1].ip.clone());
    for h in [&h1, &h2] {
        let _ = l.docker(h, &["rm", "-f", &format!("{SVC}-web-v1"), &format!("{SVC}-web-v2"), &format!("{SVC}-worker-v1")]);
    }
    let v1 = l.image(SVC, "v1", "ok");
    let v2 = l.image(SVC, "v2", "ok");
    let repo = v1.rsplit_once(':').unwrap().0.to_string();
    let mut spec = FleetSpec::new(SVC, None, &repo, vec![("web".into(), vec![h1.clone()]), ("worker".into(), vec![h2.clone()])]);
    // Long reconcile period: quick updates below can only come from Docker events.
    spec.reconcile_every = Duration::from_secs(120);
    let pool = l.pool();
    let (mut rx, handle) = Watcher::spawn(pool.clone(), spec.clone());

    wait_for(&mut rx, "both hosts up", Duration::from_secs(15), |s| s.hosts.iter().all(|h| h.conn == ConnState::Up)).await;
    assert_eq!(rx.borrow().lock, None, "no lock yet");

    // Containers appear from events.
    run_app(&l, &h1, &v1, "web", "v1");
    let took = wait_for(&mut rx, "web v1 running on h1", Duration::from_secs(10), |s| {
        s.hosts[0].containers.iter().any(|c| c.name == format!("{SVC}-web-v1") && c.state == "running")
    })
    .await;
    println!("container appeared after {took:?}");
    assert_eq!(rx.borrow().hosts[0].current, vec![("web".to_string(), "v1".to_string())]);
    run_app(&l, &h2, &v1, "worker", "v1");
    wait_for(&mut rx, "worker v1 on h2", Duration::from_secs(10), |s| s.hosts[1].current == vec![("worker".to_string(), "v1".to_string())]).await;

    // A second web container: the newest running one is current until `latest` says otherwise.
    run_app(&l, &h1, &v2, "web", "v2");
    wait_for(&mut rx, "v2 current (newest)", Duration::from_secs(10), |s| s.hosts[0].current == vec![("web".to_string(), "v2".to_string())]).await;
    l.docker(&h1, &["tag", &v1, &format!("{repo}:latest")]).expect_ok("tag latest");
    handle.refresh();
    wait_for(&mut rx, "v1 current (latest tag)", Duration::from_secs(10), |s| s.hosts[0].current == vec![("web".to_string(), "v1".to_string())]).await;

    // Lock held on the primary host, as Kamal writes it.
    let details = "Locked by: Lab Tester at 2026-11-22T14:12:14Z\nVersion: v9\nMessage: fleet test";
    l.ssh(&h1, &format!("mkdir -p .kamal/lock-{SVC} && echo '{}' | base64 > .kamal/lock-{SVC}/details", details)).expect_ok("lock");
    handle.refresh();
    wait_for(&mut rx, "lock shown", Duration::from_secs(10), |s| s.lock.as_ref().is_some_and(|l| l.holder == "Lab Tester" && l.message == "fleet test")).await;
    l.ssh(&h1, &format!("rm -r .kamal/lock-{SVC}")).expect_ok("unlock");
    handle.refresh();
    wait_for(&mut rx, "lock gone", Duration::from_secs(10), |s| s.lock.is_none()).await;

    // Logs: all scope, both hosts, tagged.
    let (mut lrx, lh) = logs::follow(&pool, &spec, LogScope::All, FollowOptions { tail: Some(5), ..Default::default() });
    let mut seen_hosts = HashSet::new();
    let t0 = Instant::now();
    while seen_hosts.len() < 2 && t0.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(FleetLog::Line(line))) = tokio::time::timeout(Duration::from_secs(1), lrx.recv()).await {
            assert!(!line.role.is_empty() && line.ts.is_some(), "{line:?}");
            seen_hosts.insert((line.host.clone(), line.role.clone()));
        }
    }
    assert_eq!(seen_hosts, HashSet::from([(h1.clone(), "web".to_string()), (h2.clone(), "worker".to_string())]));

    // Containers disappear from events.
    l.docker(&h1, &["rm", "-f", &format!("{SVC}-web-v2")]).expect_ok("rm");
    wait_for(&mut rx, "web v2 gone", Duration::from_secs(10), |s| !s.hosts[0].containers.iter().any(|c| c.name.ends_with("-v2"))).await;

    // Kill sshd on h2: Down within seconds, back by itself.
    l.sshd_stop(&h2);
    let took = wait_for(&mut rx, "h2 down", Duration::from_secs(10), |s| matches!(s.hosts[1].conn, ConnState::Down { .. })).await;
    println!("down noticed after {took:?}");
    assert_eq!(rx.borrow().hosts[0].conn, ConnState::Up, "h1 unaffected");
    tokio::time::sleep(Duration::from_secs(2)).await;
    l.sshd_start(&h2);
    let took = wait_for(&mut rx, "h2 back up with its containers", Duration::from_secs(20), |s| {
        s.hosts[1].conn == ConnState::Up && s.hosts[1].current == vec![("worker".to_string(), "v1".to_string())]
    })
    .await;
    println!("recovered after {took:?}");

    // The worker's log stream resumed: an Interrupted, then Resumed, then fresh lines, no repeats.
    let mut interrupted = false;
    let mut resumed = false;
    let mut after = 0;
    let mut texts: Vec<(Option<chrono::DateTime<chrono::Utc>>, String)> = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) && !(resumed && after >= 2) {
        match tokio::time::timeout(Duration::from_secs(1), lrx.recv()).await {
            Ok(Some(FleetLog::Interrupted { host, .. })) if host == h2 => interrupted = true,
            Ok(Some(FleetLog::Resumed { host, .. })) if host == h2 => resumed = true,
            Ok(Some(FleetLog::Line(line))) if line.host == h2 => {
                if resumed {
                    after += 1;
                }
                texts.push((line.ts, line.text.clone()));
            }
            _ => {}
        }
    }
    assert!(interrupted && resumed && after >= 2, "interrupted={interrupted} resumed={resumed} after={after}");
    let uniq: HashSet<_> = texts.iter().collect();
    assert_eq!(uniq.len(), texts.len(), "a line was delivered twice: {texts:?}");

    // Stop dockerd on h1 (ssh still answers): marked "docker unreachable" within seconds, the
    // connection still up; back when dockerd is.
    l.dockerd_stop(&h1);
    let took = wait_for(&mut rx, "h1 docker unreachable", Duration::from_secs(10), |s| s.hosts[0].docker_error.is_some() && !s.hosts[0].live()).await;
    println!("figure: docker down noticed after {took:?}");
    assert_eq!(rx.borrow().hosts[0].conn, ConnState::Up, "ssh still answers");
    assert!(rx.borrow().hosts[1].live(), "h2 unaffected");
    l.dockerd_start(&h1);
    wait_for(&mut rx, "h1 docker back", Duration::from_secs(30), |s| s.hosts[0].live()).await;
    drop(lh);
    drop(handle);
    for (h, n) in [(&h1, "web-v1"), (&h2, "worker-v1")] {
        let _ = l.docker(h, &["rm", "-f", &format!("{SVC}-{n}")]);
    }
}

/// Both tests take hosts down: one at a time.
static FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A host that is down is dialled again as soon as something happens — a Docker event on
/// another host, an action that needs it — not at the end of its backoff (a minute here, so
/// only the activity can bring it back in time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_host_is_dialled_again_at_once_on_activity() {
    let _turn = crate::support::lab::turn();
    let _faults = FAULTS.lock().await;
    let Some(l) = lab::Lab::up("fleet", 5, 2) else { return };
    let (h1, h2) = (l.hosts[0].ip.clone(), l.hosts[1].ip.clone());
    const PROBE: &str = "kprobe";
    let _ = l.docker(&h1, &["rm", "-f", "kprobe-web-v1"]);
    let v1 = l.image(PROBE, "v1", "ok");
    let repo = v1.rsplit_once(':').unwrap().0.to_string();
    let mut spec = FleetSpec::new(PROBE, None, &repo, vec![("web".into(), vec![h1.clone()]), ("worker".into(), vec![h2.clone()])]);
    spec.reconcile_every = Duration::from_secs(120);
    let pool = l.pool_with(|c| {
        c.min_backoff = Duration::from_secs(60);
        c.max_backoff = Duration::from_secs(60);
    });
    let (mut rx, handle) = Watcher::spawn(pool.clone(), spec);
    wait_for(&mut rx, "both hosts up", Duration::from_secs(15), |s| s.hosts.iter().all(|h| h.conn == ConnState::Up)).await;
    let down_then_back = |l: &lab::Lab| {
        l.sshd_stop(&h2);
        l.sshd_start(&h2);
    };

    // A Docker event on h1 dials h2 again.
    down_then_back(&l);
    wait_for(&mut rx, "h2 down", Duration::from_secs(10), |s| matches!(s.hosts[1].conn, ConnState::Down { .. })).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(matches!(rx.borrow().hosts[1].conn, ConnState::Down { .. }), "h2 must wait out its backoff without activity");
    let t0 = Instant::now();
    l.docker(&h1, &["run", "-d", "--name", "kprobe-web-v1", "--label", "service=kprobe", "--label", "role=web", "--label", "destination", &v1])
        .expect_ok("docker run");
    wait_for(&mut rx, "h2 up after an event on h1", Duration::from_secs(10), |s| s.hosts[1].conn == ConnState::Up).await;
    println!("figure: down host up {:?} after a Docker event elsewhere", t0.elapsed());

    // An action that needs h2 dials it (its last failure is older than a second).
    down_then_back(&l);
    wait_for(&mut rx, "h2 down again", Duration::from_secs(10), |s| matches!(s.hosts[1].conn, ConnState::Down { .. })).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t0 = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), pool.get(&h2).exec("echo probed")).await.expect("exec within 10 s");
    assert_eq!(out.expect("exec on h2 once it is back").stdout.trim(), "probed");
    println!("figure: action on a down host answered after {:?}", t0.elapsed());
    drop(handle);
    let _ = l.docker(&h1, &["rm", "-f", "kprobe-web-v1"]);
}
