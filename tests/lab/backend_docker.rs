//! docker backend acceptance on the lab (3 hosts, lab name `backend`, net 2): Kamal-labelled
//! listing, inspect with health, logs from 3 hosts × 2 containers at once over one connection
//! per host, 50 concurrent log streams on one host, stopping a stream leaves nothing running,
//! and a log follow that survives sshd being killed (no lost or duplicated lines).
//! One test function, steps in order, because the lab is shared and faults are injected.

use crate::support::lab;

use futures::StreamExt;
use kdeck::docker::{cli, DockerHost, LabelFilter, LogEvent, LogOptions};
use kdeck::fleet::model::ConnState;
use kdeck::ssh::{ClientOptions, Pool, SshOptions};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const SVC: &str = "kdeckbk";

fn pool(lab: &lab::Lab) -> Pool {
    let kamal = SshOptions { keys: vec![lab.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..SshOptions::default() };
    let client = ClientOptions {
        known_hosts: lab.known_hosts.clone(),
        connect_timeout: Duration::from_secs(3),
        keepalive_interval: Duration::from_secs(1),
        keepalive_max: 2,
        default_keys: vec![],
        use_agent: false,
        max_backoff: Duration::from_secs(1),
        ..ClientOptions::default()
    };
    Pool::new(kamal, client).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Fault-injecting and container-changing tests take the write side; the rest share.
static FAULTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The shared lab with the test containers on every host (set up once per binary):
/// `kdeckbk-web-v1` (healthy), `kdeckbk-worker-v2` (unhealthy), plus an other-service and a
/// staging container that Kamal's default filter must not list.
fn setup() -> Option<&'static lab::Lab> {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let lab = lab::Lab::shared("backend", 2, 3)?;
    READY.get_or_init(|| {
        let ok = lab.image(SVC, "v1", "ok");
        let bad = lab.image(SVC, "v2", "unhealthy");
        for ip in &lab.ips(0..3) {
            run_container(lab, ip, "web", "v1", &ok, &["--health-cmd", "wget -qO- http://127.0.0.1/up", "--health-interval", "1s"]);
            run_container(
                lab,
                ip,
                "worker",
                "v2",
                &bad,
                &["--health-cmd", "wget -qO- http://127.0.0.1/up || (echo no up here; exit 1)", "--health-interval", "1s", "--health-retries", "1"],
            );
            let _ = lab.docker(ip, &["rm", "-f", "other-web-v1", "kdeckbk-web-staging-v1"]);
            lab.docker(ip, &["run", "-d", "--name", "other-web-v1", "--label", "service=other", "--label", "role=web", "--label", "destination", &ok])
                .expect_ok("other");
            lab.docker(
                ip,
                &["run", "-d", "--name", "kdeckbk-web-staging-v1", "--label", "service=kdeckbk", "--label", "role=web", "--label", "destination=staging", &ok],
            )
            .expect_ok("staging");
        }
        true
    });
    Some(lab)
}

fn ctx(lab: &lab::Lab) -> (Vec<String>, Pool, Vec<DockerHost>, LabelFilter) {
    let ips = lab.ips(0..3);
    let pool = pool(lab);
    let hosts = ips.iter().map(|ip| DockerHost::new(&pool.get(ip))).collect();
    (ips, pool, hosts, LabelFilter::service(SVC))
}

/// `docker logs` processes living in the host's network namespace.
fn docker_logs_processes(lab: &lab::Lab, host: &str) -> Vec<String> {
    let netns = &lab.host(host).netns;
    let out = std::process::Command::new("ip").args(["netns", "pids", netns]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("docker") && c.contains(" logs "))
        .collect()
}

fn run_container(lab: &lab::Lab, host: &str, role: &str, version: &str, image: &str, extra: &[&str]) {
    let name = format!("{SVC}-{role}-{version}");
    let _ = lab.docker(host, &["rm", "-f", &name]);
    let mut args = vec!["run", "-d", "--name", &name, "--label", "service=kdeckbk", "--label", "destination"];
    let role_label = format!("role={role}");
    args.extend(["--label", &role_label]);
    args.extend(extra);
    args.push(image);
    lab.docker(host, &args).expect_ok(&format!("docker run {name} on {host}"));
}

fn tick_of(text: &str) -> Option<u64> {
    text.rsplit_once(" tick ").and_then(|(_, n)| n.trim().parse().ok())
}

#[test]
#[allow(unused_variables)]
fn list_kamal_labelled_containers() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.read().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let f = LabelFilter::service(SVC);
        for h in &hosts {
            let list = h.containers(&f).await.unwrap();
            let mut names: Vec<String> = list.iter().flat_map(|c| c.names.clone().unwrap_or_default()).collect();
            names.sort();
            assert_eq!(names, vec!["/kdeckbk-web-v1", "/kdeckbk-worker-v2"], "{}", h.host());
            let web = h.containers(&LabelFilter { role: Some("web".into()), ..f.clone() }).await.unwrap();
            assert_eq!(web.len(), 1);
            let staging = h.containers(&LabelFilter { destination: Some("staging".into()), ..f.clone() }).await.unwrap();
            assert_eq!(staging.len(), 1);
            // The CLI fallback sees the same containers.
            let mut cli_names: Vec<String> = cli::containers(&h.session, &f).await.unwrap().into_iter().map(|c| c.names).collect();
            cli_names.sort();
            assert_eq!(cli_names, vec!["kdeckbk-web-v1", "kdeckbk-worker-v2"]);
        }
    });
}

#[test]
#[allow(unused_variables)]
fn inspect_health_with_last_check_output() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.read().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let infos = hosts[0].container_infos(&f).await.unwrap();
            let web = infos.iter().find(|c| c.role == "web").unwrap();
            let worker = infos.iter().find(|c| c.role == "worker").unwrap();
            assert_eq!((web.version.as_str(), worker.version.as_str()), ("v1", "v2"));
            assert_eq!(web.state, "running");
            if web.health.as_deref() == Some("healthy") && worker.health.as_deref() == Some("unhealthy") {
                assert!(worker.health_failure.as_deref().unwrap_or_default().contains("no up here"), "{worker:?}");
                let h = hosts[0].health("kdeckbk-worker-v2").await.unwrap();
                assert_eq!(h.last_exit_code, Some(1));
                break;
            }
            assert!(Instant::now() < deadline, "health never settled: {web:?} {worker:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

#[test]
#[allow(unused_variables)]
fn logs_from_3_hosts_x_2_containers_at_once() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.read().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let opts = LogOptions { follow: true, tail: Some(2), timestamps: true, since: None };
        let mut streams = vec![];
        for h in &hosts {
            for c in ["kdeckbk-web-v1", "kdeckbk-worker-v2"] {
                streams.push((h.host().to_string(), c, h.logs(c, &opts)));
            }
        }
        let firsts = futures::future::join_all(streams.iter_mut().map(|(_, _, s)| async move {
            let mut n = 0;
            while n < 3 {
                let l = tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("log line in time").unwrap().unwrap();
                assert!(l.ts.is_some(), "{l:?}");
                n += 1;
            }
            n
        }))
        .await;
        assert_eq!(firsts.iter().sum::<usize>(), 18);
        drop(streams);
        for ip in &ips {
            let st = pool.get(ip).stats().connects.load(Ordering::Relaxed);
            assert_eq!(st, 1, "{ip}: one SSH connection carries every stream");
        }
    });
}

#[test]
#[allow(unused_variables)]
fn fifty_concurrent_log_streams_on_one_host() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.read().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let h = &hosts[1];
        let before = h.session.stats().stream_channels.load(Ordering::Relaxed);
        let mut many: Vec<_> = (0..50)
            .map(|i| {
                h.logs(
                    if i % 2 == 0 { "kdeckbk-web-v1" } else { "kdeckbk-worker-v2" },
                    &LogOptions { follow: true, tail: Some(1), timestamps: true, since: None },
                )
            })
            .collect();
        let got = futures::future::join_all(
            many.iter_mut()
                .map(|s| async move { tokio::time::timeout(Duration::from_secs(15), s.next()).await.ok().flatten().map(|r| r.is_ok()).unwrap_or(false) }),
        )
        .await;
        assert_eq!(got.iter().filter(|b| **b).count(), 50);
        assert!(h.session.stats().stream_channels.load(Ordering::Relaxed) - before >= 50);
        drop(many);
    });
}

#[test]
#[allow(unused_variables)]
fn stopping_a_stream_leaves_no_docker_logs_process() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.read().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let h = &hosts[1];
        let host1 = ips[1].clone();
        let mut cli_stream = cli::follow_logs(&h.session, "kdeckbk-web-v1", Some(1), None).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), cli_stream.next()).await.unwrap();
        assert!(matches!(first, Some(kdeck::ssh::ExecEvent::Stdout(_))), "{first:?}");
        assert!(!docker_logs_processes(lab, &host1).is_empty(), "the CLI follow runs docker logs on the host");
        drop(cli_stream);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = docker_logs_processes(lab, &host1);
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "docker logs still running after the stream was dropped: {left:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The same through a pty: the hang-up ends the remote command.
        let mut pty_stream = h.session.exec_stream_pty("docker logs --follow --tail 1 kdeckbk-web-v1").await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), pty_stream.next()).await.unwrap();
        assert!(matches!(first, Some(kdeck::ssh::ExecEvent::Stdout(_))), "{first:?}");
        assert!(!docker_logs_processes(lab, &host1).is_empty());
        drop(pty_stream);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !docker_logs_processes(lab, &host1).is_empty() {
            assert!(Instant::now() < deadline, "pty docker logs still running: {:?}", docker_logs_processes(lab, &host1));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // API streams dropped above: nothing lingers either.
        assert!(docker_logs_processes(lab, &host1).is_empty());
    });
}

#[test]
#[allow(unused_variables)]
fn sshd_killed_during_follow_reconnects_and_resumes_without_loss_or_dups() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.write().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let host2 = ips[2].clone();
        let session = pool.get(&host2);
        let d = DockerHost::new(&session);
        let mut follow = d.follow_logs("kdeckbk-web-v1", Some(0));
        let mut ticks: Vec<u64> = vec![];
        let mut events = vec![];
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(LogEvent::Line(l))) = tokio::time::timeout(Duration::from_millis(300), follow.next()).await {
                ticks.extend(tick_of(&l.text));
            }
        }
        assert!(ticks.len() >= 2, "ticks before the fault: {ticks:?}");
        let mut state = session.state();
        tokio::task::block_in_place(|| lab.sshd_stop(&host2));
        tokio::time::timeout(Duration::from_secs(10), state.wait_for(|s| matches!(s, ConnState::Down { .. })))
            .await
            .expect("backend reports the host down")
            .unwrap();
        println!("down: {:?}", *session.state().borrow());
        tokio::time::sleep(Duration::from_secs(3)).await; // the app keeps logging meanwhile
        tokio::task::block_in_place(|| lab.sshd_start(&host2));
        tokio::time::timeout(Duration::from_secs(15), session.wait_up()).await.expect("reconnects when sshd is back");
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            match tokio::time::timeout(Duration::from_millis(300), follow.next()).await {
                Ok(Some(LogEvent::Line(l))) => ticks.extend(tick_of(&l.text)),
                Ok(Some(e)) => events.push(e),
                _ => {}
            }
        }
        drop(follow);
        assert!(events.iter().any(|e| matches!(e, LogEvent::Interrupted(_))), "{events:?}");
        assert!(events.contains(&LogEvent::Resumed), "{events:?}");
        let first = ticks[0];
        let want: Vec<u64> = (first..first + ticks.len() as u64).collect();
        assert_eq!(ticks, want, "every tick exactly once across the reconnect");
        assert!(ticks.len() >= 9, "ticks kept coming after the resume: {ticks:?}");
        assert_eq!(session.stats().connects.load(Ordering::Relaxed), 2, "one reconnect");
    });
}

#[test]
#[allow(unused_variables)]
fn link_down_detected_by_keepalive_then_recovers() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.write().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let host0 = ips[0].clone();
        let s0 = pool.get(&host0);
        let mut st0 = s0.state();
        let t0 = Instant::now();
        tokio::task::block_in_place(|| lab.link_down(&host0));
        let r = tokio::time::timeout(Duration::from_secs(15), st0.wait_for(|s| matches!(s, ConnState::Down { .. }))).await;
        tokio::task::block_in_place(|| lab.link_up(&host0));
        r.expect("keepalive notices a dead link").unwrap();
        println!("link down noticed after {:?}", t0.elapsed());
        tokio::time::timeout(Duration::from_secs(20), s0.wait_up()).await.expect("back up after link-up");
        let v = DockerHost::new(&s0).containers(&f).await.unwrap();
        assert_eq!(v.len(), 2);
    });
}

#[test]
#[allow(unused_variables)]
fn typed_operations_pull_tag_images_run_exec_rename_stop_events_network() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.write().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let (ips, pool, hosts, f) = ctx(lab);
        let h = DockerHost::connect(&pool.get(&ips[1])).await.unwrap();
        let mut events = h.events(SVC);
        let image = format!("{}/{SVC}:v1", lab.registry);
        let mut progress = vec![];
        h.pull(&image, |p| progress.push(p)).await.unwrap();
        assert!(!progress.is_empty());
        let err = h.pull(&format!("{}/{SVC}:nope", lab.registry), |_| {}).await.unwrap_err();
        assert!(err.to_string().contains("nope") || err.to_string().contains("not found"), "{err}");
        h.tag(&image, &format!("{}/{SVC}:latest", lab.registry)).await.unwrap();
        let imgs = h.images(Some(&format!("{}/{SVC}", lab.registry))).await.unwrap();
        let tags: Vec<String> = imgs.iter().flat_map(|i| i.repo_tags.clone()).collect();
        assert!(tags.contains(&format!("{}/{SVC}:latest", lab.registry)), "{tags:?}");
        let out = h.exec("kdeckbk-web-v1", &["cat", "/www/version"]).await.unwrap();
        assert_eq!((out.stdout.trim(), out.status), ("v1", 0));
        let out = h.exec("kdeckbk-web-v1", &["sh", "-c", "echo oops >&2; exit 4"]).await.unwrap();
        assert_eq!((out.stderr.trim(), out.status), ("oops", 4));
        h.rename("kdeckbk-worker-v2", "kdeckbk-worker-v2_replaced_0123456789abcdef").await.unwrap();
        h.rename("kdeckbk-worker-v2_replaced_0123456789abcdef", "kdeckbk-worker-v2").await.unwrap();
        h.stop("kdeckbk-web-v1", Some(1)).await.unwrap();
        h.start("kdeckbk-web-v1").await.unwrap();
        let mut actions = vec![];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(actions.iter().any(|a: &String| a == "rename") && actions.iter().any(|a| a == "stop") && actions.iter().any(|a| a == "start")) {
            assert!(Instant::now() < deadline, "events seen: {actions:?}");
            if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(500), events.next()).await {
                let ev = ev.unwrap();
                let labels = ev.actor.as_ref().and_then(|a| a.attributes.clone()).unwrap_or_default();
                assert_eq!(labels.get("service").map(String::as_str), Some(SVC), "filtered by label service");
                actions.extend(ev.action);
            }
        }
        drop(events);
        let body = bollard::models::ContainerCreateBody {
            image: Some(image.clone()),
            labels: Some([("service", SVC), ("role", "job"), ("destination", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            env: Some(vec!["APP_VARIANT=ok".into()]),
            ..Default::default()
        };
        let id = h.run("kdeckbk-job-v1", body).await.unwrap();
        let info = h.inspect(&id).await.unwrap();
        assert_eq!(info.state.and_then(|s| s.running), Some(true));
        let jobs = h.containers(&LabelFilter { role: Some("job".into()), ..f.clone() }).await.unwrap();
        assert_eq!(jobs.len(), 1);
        h.remove(&id, true).await.unwrap();
        assert!(h.inspect(&id).await.is_err());
        h.network_create("kdeckbk-net").await.unwrap();
        h.network_create("kdeckbk-net").await.expect("existing network is fine");
        let _ = lab.docker(&ips[1], &["network", "rm", "kdeckbk-net"]);
    });
}

#[test]
fn docker_api_over_dial_stdio_fallback() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = setup() else { return };
    let _g = FAULTS.read().unwrap_or_else(|e| e.into_inner());
    rt().block_on(async {
        let kamal = SshOptions { keys: vec![lab.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..SshOptions::default() };
        let client = ClientOptions {
            known_hosts: lab.known_hosts.clone(),
            default_keys: vec![],
            use_agent: false,
            docker_transport: kdeck::ssh::DockerTransport::DialStdio,
            ..ClientOptions::default()
        };
        let pool = Pool::new(kamal, client).unwrap();
        let s = pool.get(&lab.ips(0..1)[0]);
        let d = DockerHost::new(&s);
        assert_eq!(d.containers(&LabelFilter::service(SVC)).await.unwrap().len(), 2);
        assert_eq!(d.inspect("kdeckbk-web-v1").await.unwrap().name.as_deref(), Some("/kdeckbk-web-v1"));
        let mut logs = d.logs("kdeckbk-web-v1", &LogOptions { follow: false, tail: Some(3), timestamps: true, since: None });
        let mut n = 0;
        while let Some(l) = logs.next().await {
            assert!(l.unwrap().ts.is_some());
            n += 1;
        }
        assert_eq!(n, 3);
        assert_eq!(s.stats().stream_channels.load(Ordering::Relaxed), 0, "no direct-streamlocal used");
        assert!(s.stats().exec_channels.load(Ordering::Relaxed) >= 3);
        assert!(lab.ssh_commands(&lab.ips(0..1)[0]).iter().any(|c| c == "docker system dial-stdio"));
    });
}
