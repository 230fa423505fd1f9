//! Runner units with a scripted host (pure: no network). The lab tests cover real hosts.

use super::remote::{ExecOutput, Remote, RemoteError, StreamLine};
use super::*;
use crate::kamal::{AppSpec, BootLimit, ProxySpec, RoleSpec};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Answers commands by substring rules; records everything it was sent.
struct Scripted {
    host: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
    /// (substring, status, stdout, stderr)
    rules: Vec<(String, i32, String, String)>,
    delay_ms: u64,
}

impl Remote for Scripted {
    fn host(&self) -> &str {
        &self.host
    }
    fn exec<'a>(&'a self, cmd: &'a str) -> BoxFuture<'a, Result<ExecOutput, RemoteError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push((self.host.clone(), cmd.to_string()));
            if self.delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
            }
            for (pat, st, out, err) in &self.rules {
                if cmd.contains(pat.as_str()) {
                    return Ok(ExecOutput { stdout: out.clone(), stderr: err.clone(), status: *st });
                }
            }
            Ok(ExecOutput::default())
        })
    }
    fn exec_input<'a>(&'a self, cmd: &'a str, _input: Vec<u8>) -> BoxFuture<'a, Result<ExecOutput, RemoteError>> {
        self.exec(cmd)
    }
    fn exec_stream<'a>(&'a self, _cmd: &'a str, _tx: mpsc::Sender<StreamLine>) -> BoxFuture<'a, Result<i32, RemoteError>> {
        Box::pin(async { Ok(0) })
    }
}

fn app() -> AppSpec {
    AppSpec {
        service: "svc".into(),
        image: "svc".into(),
        roles: vec![
            RoleSpec { name: "web".into(), hosts: vec!["h1".into(), "h2".into()], proxy: Some(ProxySpec::default()), ..Default::default() },
            RoleSpec { name: "worker".into(), hosts: vec!["h3".into()], ..Default::default() },
        ],
        readiness_delay: 0,
        deploy_timeout: 2,
        boot_limit: Some(BootLimit::Count(1)),
        ..Default::default()
    }
}

type CmdLog = Arc<Mutex<Vec<(String, String)>>>;

fn engine(app: AppSpec, rules: Vec<(&str, i32, &str, &str)>, delay_ms: u64) -> (Engine, mpsc::UnboundedReceiver<Event>, CmdLog) {
    let log = Arc::new(Mutex::new(vec![]));
    let rules: Vec<(String, i32, String, String)> = rules.into_iter().map(|(a, b, c, d)| (a.to_string(), b, c.to_string(), d.to_string())).collect();
    let mut remotes: BTreeMap<String, Arc<dyn Remote>> = BTreeMap::new();
    for h in app.all_hosts() {
        remotes.insert(h.clone(), Arc::new(Scripted { host: h, log: log.clone(), rules: rules.clone(), delay_ms }));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let e = Engine::new(
        Arc::new(app),
        remotes,
        tx,
        AbortHandle::new(),
        RunOptions {
            version: "v2".into(),
            performer: "me@x".into(),
            lock_user: "Me".into(),
            skip_hooks: true,
            lock_host: "h1".into(),
            roles_filter: None,
            no_cache: false,
            lock_wait: None,
            partial_hosts: vec![],
        },
    );
    (e, rx, log)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut v = vec![];
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

const HEALTH_OK: (&str, i32, &str, &str) = ("{{if .State.Health}}", 0, "running\n", "");
const ID: (&str, i32, &str, &str) = ("--quiet\n", 0, "", "");

#[tokio::test]
async fn boot_groups_run_one_at_a_time_and_tag_after_all() {
    let (e, mut rx, log) = engine(app(), vec![HEALTH_OK, ("--filter 'name=^svc-web-v2$' --quiet", 0, "abc123\n", ""), ID], 0);
    e.run(Request::Redeploy { skip_push: true }).await.unwrap();
    let ev = drain(&mut rx);
    let groups: Vec<Vec<String>> = ev.iter().filter_map(|e| if let Event::GroupStarted { hosts, .. } = e { Some(hosts.clone()) } else { None }).collect();
    assert_eq!(groups, vec![vec!["h1".to_string()], vec!["h2".into()], vec!["h3".into()]]);
    let log = log.lock().unwrap();
    let pos = |host: &str, pat: &str| log.iter().position(|(h, c)| h == host && c.contains(pat)).unwrap_or_else(|| panic!("{pat} on {host} not sent"));
    // Group order: h1's proxy deploy before h2's docker run before h3's.
    assert!(pos("h1", "kamal-proxy deploy svc-web") < pos("h2", "docker run --detach"));
    assert!(pos("h2", "kamal-proxy deploy svc-web") < pos("h3", "docker run --detach"));
    // latest tag only after every group.
    for h in ["h1", "h2", "h3"] {
        assert!(pos(h, "docker tag svc:v2 svc:latest") > pos("h3", "docker run --detach"));
    }
    assert!(pos("h1", "rm .kamal/lock-svc/details") > pos("h1", "docker tag"));
    assert!(matches!(ev.last(), Some(Event::Finished { ok: true, .. })));
}

#[tokio::test]
async fn failed_health_stops_new_container_releases_lock_and_boots_nothing_else() {
    let rules = vec![
        ("--filter 'name=^svc-web-v2$' --quiet | xargs docker logs", 0, "boot line 1\nboot line 2\n", ""),
        ("--filter 'name=^svc-web-v2$' --quiet | xargs docker inspect", 0, "null\n", ""),
        ("--filter 'name=^svc-web-v2$' --quiet | xargs docker stop", 0, "", ""),
        ("--filter 'name=^svc-web-v2$' --quiet", 0, "abc123\n", ""),
        ("kamal-proxy deploy", 1, "", "Error: target failed to become healthy within configured timeout (30s)"),
        HEALTH_OK,
    ];
    let (e, mut rx, log) = engine(app(), rules, 0);
    let res = e.run(Request::Redeploy { skip_push: true }).await;
    assert!(matches!(res, Err(EngineError::Failed { .. })), "{res:?}");
    let ev = drain(&mut rx);
    let fail = ev
        .iter()
        .find_map(|e| if let Event::StepFailed { kind: StepKind::Health, last_logs, error, .. } = e { Some((last_logs.clone(), error.clone())) } else { None })
        .expect("health failure event");
    assert_eq!(fail.0, vec!["boot line 1", "boot line 2"]);
    assert!(fail.1.contains("target failed to become healthy"));
    let log = log.lock().unwrap();
    assert!(log.iter().any(|(h, c)| h == "h1" && c.contains("name=^svc-web-v2$' --quiet | xargs docker stop")));
    assert!(!log.iter().any(|(h, c)| h != "h1" && c.contains("docker run --detach")), "other hosts were booted");
    assert!(!log.iter().any(|(_, c)| c.starts_with("docker tag")));
    assert!(log.iter().any(|(h, c)| h == "h1" && c.contains("rm .kamal/lock-svc/details")));
}

#[tokio::test]
async fn held_lock_is_reported_with_holder() {
    let details = crate::kamal::lock::details_text("Someone", chrono::Utc::now(), "v1", "hands off");
    let rules = vec![
        ("mkdir .kamal/lock-svc &&", 1, "", "mkdir: cannot create directory '.kamal/lock-svc': File exists"),
        ("stat .kamal/lock-svc", 0, details.as_str(), ""),
    ];
    let (e, _rx, log) = engine(app(), rules, 0);
    match e.run(Request::Rollback { version: "v1".into() }).await {
        Err(EngineError::Locked(info)) => {
            assert_eq!(info.holder, "Someone");
            assert_eq!(info.message, "hands off");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // Not ours: never removed.
    assert!(!log.lock().unwrap().iter().any(|(_, c)| c.contains("rm .kamal/lock-svc/details")));
}

/// `--lock-wait`: a lock taken by hand is not waited for; an automatic one is polled until the
/// wait times out (Kamal 2.12's `acquire_lock_with_wait`).
#[tokio::test]
async fn lock_wait_polls_an_automatic_lock_until_timeout_but_not_a_manual_one() {
    let wait = LockWait { timeout: std::time::Duration::from_secs(2), interval: std::time::Duration::from_secs(1) };
    let details = |message: &str| crate::kamal::lock::details_text("Other deploy", chrono::Utc::now(), "v1", message);
    fn held(details: &str) -> Vec<(&str, i32, &str, &str)> {
        vec![("mkdir .kamal/lock-svc &&", 1, "", "mkdir: cannot create directory '.kamal/lock-svc': File exists"), ("stat .kamal/lock-svc", 0, details, "")]
    }
    let attempts = |log: &CmdLog| log.lock().unwrap().iter().filter(|(_, c)| c.contains("mkdir .kamal/lock-svc &&")).count();

    let manual = details("hands off");
    let (mut e, _rx, log) = engine(app(), held(&manual), 0);
    e.opts.lock_wait = Some(wait);
    let err = e.run(Request::Rollback { version: "v1".into() }).await.unwrap_err().to_string();
    assert!(err.contains("held manually, not waiting"), "{err}");
    assert_eq!(attempts(&log), 1);

    let automatic = details(crate::kamal::lock::DEFAULT_MESSAGE);
    let (mut e, _rx, log) = engine(app(), held(&automatic), 0);
    e.opts.lock_wait = Some(wait);
    let t0 = std::time::Instant::now();
    let err = e.run(Request::Rollback { version: "v1".into() }).await.unwrap_err().to_string();
    assert!(err.contains("Timed out after 2s waiting for the deploy lock"), "{err}");
    assert!(t0.elapsed() >= std::time::Duration::from_secs(2), "gave up early: {:?}", t0.elapsed());
    assert!(attempts(&log) >= 2, "polled {} time(s)", attempts(&log));
    assert!(!log.lock().unwrap().iter().any(|(_, c)| c.contains("rm .kamal/lock-svc/details")), "removed a lock that is not ours");
}

/// A lock released between our `mkdir` and the read of its details is tried again at once, and
/// a lock directory without details does not make the wait spin forever.
#[tokio::test]
async fn lock_wait_retries_a_lock_that_vanished_a_bounded_number_of_times() {
    let wait = LockWait { timeout: std::time::Duration::from_secs(30), interval: std::time::Duration::from_secs(1) };
    let rules = vec![
        ("mkdir .kamal/lock-svc &&", 1, "", "mkdir: cannot create directory '.kamal/lock-svc': File exists"),
        ("stat .kamal/lock-svc", 1, "", "stat: cannot statx '.kamal/lock-svc': No such file or directory"),
    ];
    let (mut e, _rx, log) = engine(app(), rules, 0);
    e.opts.lock_wait = Some(wait);
    let t0 = std::time::Instant::now();
    let err = e.run(Request::Rollback { version: "v1".into() }).await.unwrap_err().to_string();
    assert!(err.contains("not waiting"), "{err}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(5), "waited {:?}", t0.elapsed());
    let attempts = log.lock().unwrap().iter().filter(|(_, c)| c.contains("mkdir .kamal/lock-svc &&")).count();
    assert_eq!(attempts, 4, "one attempt and three retries");
}

#[tokio::test]
async fn abort_stops_new_steps_and_releases_the_lock() {
    let (e, mut rx, log) = engine(app(), vec![HEALTH_OK, ("--filter 'name=^svc-web-v2$' --quiet", 0, "abc123\n", "")], 30);
    let abort = e.abort.clone();
    let run = e.run(Request::Redeploy { skip_push: true });
    tokio::pin!(run);
    // Abort once the first boot step started.
    loop {
        tokio::select! {
            r = &mut run => panic!("finished before abort: {r:?}"),
            Some(ev) = rx.recv() => if matches!(ev, Event::StepStarted { kind: StepKind::Boot, .. }) { abort.request(); break; },
        }
    }
    let res = run.await;
    assert!(matches!(res, Err(EngineError::Aborted)), "{res:?}");
    let log = log.lock().unwrap();
    assert!(log.iter().any(|(h, c)| h == "h1" && c.contains("rm .kamal/lock-svc/details")));
    assert!(!log.iter().any(|(h, c)| h == "h3" && c.contains("docker run --detach")));
}

#[tokio::test]
async fn rollback_to_missing_version_exits_clean() {
    let (e, _rx, log) = engine(app(), vec![], 0);
    let r = e.run(Request::Rollback { version: "nope".into() }).await;
    assert!(matches!(r, Err(EngineError::VersionUnavailable(_))));
    assert!(log.lock().unwrap().iter().any(|(_, c)| c.contains("rm .kamal/lock-svc/details")));
}

/// A missing secret fails deploy/boot before any host is touched, naming the key; actions
/// that need no secret (lock release, app stop) still run.
#[tokio::test]
async fn missing_secret_fails_only_actions_that_need_it() {
    let mut a = app();
    a.roles[0].env_secret_error = Some("servers.web.env.secret: .kamal/secrets: Secret 'APP_SECRET' not found in .kamal/secrets".into());
    let (e, _rx, log) = engine(a.clone(), vec![], 0);
    let err = e.run(Request::Deploy { skip_push: true }).await.unwrap_err().to_string();
    assert!(err.contains("APP_SECRET") && err.contains(".kamal/secrets"), "{err}");
    assert!(log.lock().unwrap().is_empty(), "nothing may run on a host: {:?}", log.lock().unwrap());
    let (e, _rx, _) = engine(a.clone(), vec![], 0);
    assert!(e.run(Request::AppBoot).await.unwrap_err().to_string().contains("APP_SECRET"));
    let (e, _rx, log) = engine(a, vec![], 0);
    e.run(Request::AppStop).await.expect("app stop needs no secret");
    assert!(!log.lock().unwrap().is_empty());
}

/// A connection lost during the health wait is reported as such (state unknown, the new
/// container may still run), not as an unhealthy container; the lock is still released.
#[tokio::test]
async fn lost_connection_during_health_is_not_unhealthy() {
    let rules = vec![
        ("echo kdeck-alive", 255, "", "Connection closed"),
        ("--filter 'name=^svc-web-v2$' --quiet", 0, "abc123\n", ""),
        ("kamal-proxy deploy", 255, "", ""),
        HEALTH_OK,
    ];
    let (e, mut rx, log) = engine(app(), rules, 0);
    let res = e.run(Request::Redeploy { skip_push: true }).await;
    assert!(matches!(res, Err(EngineError::Failed { .. })), "{res:?}");
    let ev = drain(&mut rx);
    let (error, health) = ev
        .iter()
        .find_map(|e| if let Event::StepFailed { kind: StepKind::Health, error, health, .. } = e { Some((error.clone(), health.clone())) } else { None })
        .expect("health failure event");
    assert!(error.contains("connection to h1 lost") && error.contains("svc-web-v2 may still be running"), "{error}");
    assert!(!error.contains("unhealthy"), "{error}");
    assert!(health.unwrap().reason.unwrap().contains("unreachable"));
    let log = log.lock().unwrap();
    assert!(log.iter().any(|(h, c)| h == "h1" && c.contains("rm .kamal/lock-svc/details")), "lock not released");
}

/// `upgrade`: per host Kamal's order (audit, Traefik cleanup, kamal-proxy stop and removal,
/// then proxy boot, app boot at the latest tag, prune); all hosts at once, or with `rolling`
/// one host finished before the next starts.
#[tokio::test]
async fn upgrade_replaces_traefik_per_host_in_kamals_order_and_rolling_one_host_at_a_time() {
    const CLEANUP: &str = "docker container stop traefik ; docker container prune --force --filter label=org.opencontainers.image.title=Traefik && docker image prune --all --force --filter label=org.opencontainers.image.title=Traefik";
    for rolling in [false, true] {
        let (e, _rx, log) = engine(app(), vec![HEALTH_OK, ("--filter 'name=^svc-web-latest$' --quiet", 0, "abc123\n", ""), ID], 0);
        e.run(Request::Upgrade { rolling, version: "latest".into() }).await.unwrap();
        let log = log.lock().unwrap();
        let pos =
            |host: &str, pat: &str| log.iter().position(|(h, c)| h == host && c.contains(pat)).unwrap_or_else(|| panic!("{pat} on {host} not sent: {log:?}"));
        for h in ["h1", "h2", "h3"] {
            let order = [
                "Rebooted proxy",
                CLEANUP,
                "docker container stop kamal-proxy",
                "docker container prune --force --filter label=org.opencontainers.image.title=kamal-proxy",
                "docker image prune --all --force --filter label=org.opencontainers.image.title=kamal-proxy",
                "docker network create kamal",
                "docker run --detach",
                "Pruned containers",
            ];
            let at: Vec<usize> = order.iter().map(|p| pos(h, p)).collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "rolling={rolling} {h}: {order:?} at {at:?}");
            assert!(log.iter().any(|(x, c)| x == h && c.contains("svc:latest")), "{h} boots the latest tag");
        }
        if rolling {
            assert!(pos("h1", "docker run --detach") < pos("h2", CLEANUP));
            assert!(pos("h2", "docker run --detach") < pos("h3", CLEANUP));
        } else {
            assert!(pos("h3", CLEANUP) < pos("h1", "docker network create kamal"));
        }
        assert!(pos("h1", "rm .kamal/lock-svc/details") > pos("h3", "docker run --detach"));
    }
}
