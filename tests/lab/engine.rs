//! Engine acceptance on the lab (3 hosts: 2 web behind the kamal-proxy stand-in, 1 worker),
//! with real Kamal 2.11 on the same hosts. Each test uses its own service name.

use crate::support::engine as engine_support;
use engine_support::*;
use std::time::{Duration, Instant};

fn web(lab: &Lab) -> Vec<String> {
    lab.ips(0..2)
}

/// deploy → deploy → redeploy → rollback with kdeck under traffic (0 failures); Kamal's views
/// agree afterwards and Kamal can roll back what kdeck deployed.
#[test]
fn engine_zero_downtime_and_kamal_agrees() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "ezero";
    fresh(&lab, svc);
    for v in ["v1", "v2", "v3"] {
        lab.image(svc, v, "ok");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let hh = format!("{svc}.test");
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    assert!(wait_serving(&web(&lab), &hh, Duration::from_secs(10)), "v1 not served");

    let traffic = Traffic::start(&web(&lab), &hh);
    let d2 = ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v2"]), "kdeck deploy v2");
    ok(kdeck(&lab, &dir, &["redeploy", "-P", "--version", "v3"]), "kdeck redeploy v3");
    ok(kdeck(&lab, &dir, &["rollback", "v2"]), "kdeck rollback v2");
    let (n_ok, n_failed) = traffic.finish();
    assert!(n_ok > 50, "too few requests: {n_ok}");
    assert_eq!(n_failed, 0, "failed requests during deploy/redeploy/rollback");
    // One line per step per host with elapsed time.
    assert!(d2.stdout.lines().any(|l| l.contains("✓ 10.77.3.11 [web]") && l.ends_with("s)")), "{}", d2.stdout);

    // kdeck and Kamal agree on versions.
    let kv = ok(lab.kamal(&dir, &["app", "version"]), "kamal app version");
    let dv = ok(kdeck(&lab, &dir, &["app", "version"]), "kdeck app version");
    assert_eq!(blocks(&kv.stdout), blocks(&dv.stdout));
    for (_, b) in blocks(&dv.stdout) {
        assert_eq!(b.trim(), "v2");
    }
    for h in web(&lab) {
        assert_eq!(version_via_proxy(&h, &hh).as_deref(), Some("v2"));
    }
    // Lock free for both, audit lines visible to Kamal, containers listed the same.
    assert!(ok(lab.kamal(&dir, &["lock", "status"]), "kamal lock status").stdout.contains("There is no deploy lock"));
    assert!(ok(kdeck(&lab, &dir, &["lock", "status"]), "kdeck lock status").stdout.contains("There is no deploy lock"));
    let ka = ok(lab.kamal(&dir, &["audit"]), "kamal audit").stdout;
    assert!(ka.contains("[lab@kdeck.test] [web] Booted app version v3"), "{ka}");
    assert!(ka.contains("Tagging") && ka.contains(":v2 as the latest image"), "{ka}");
    let kc = ok(lab.kamal(&dir, &["app", "containers"]), "kamal app containers").stdout;
    for name in [format!("{svc}-web-v1"), format!("{svc}-web-v3"), format!("{svc}-worker-v2")] {
        assert!(kc.contains(&name), "kamal app containers misses {name}:\n{kc}");
    }
    let kd = ok(lab.kamal(&dir, &["app", "details"]), "kamal app details").stdout;
    assert!(kd.contains(&format!("{svc}-web-v2")) && kd.contains(&format!("{svc}-worker-v2")), "{kd}");
    // Kamal rolls back what kdeck deployed.
    ok(lab.kamal(&dir, &["rollback", "v3"]), "kamal rollback v3");
    let dv = ok(kdeck(&lab, &dir, &["app", "version"]), "kdeck app version");
    for (_, b) in blocks(&dv.stdout) {
        assert_eq!(b.trim(), "v3");
    }
    for h in lab.ips(0..3) {
        let role = if h == lab.ips(2..3)[0] { "worker" } else { "web" };
        assert_eq!(running(&lab, &h, svc, role), vec![format!("{svc}-{role}-v3")], "on {h}");
    }
}

/// Kamal deploys; kdeck reads the version, rolls back, shows logs.
#[test]
fn interop_kamal_deploys_kdeck_follows() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "ekamal";
    fresh(&lab, svc);
    for v in ["v1", "v2"] {
        lab.image(svc, v, "ok");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v2"]), "kamal deploy v2");
    let dv = ok(kdeck(&lab, &dir, &["app", "version"]), "kdeck app version");
    let b = blocks(&dv.stdout);
    assert_eq!(b.len(), 3, "{}", dv.stdout);
    assert!(b.iter().all(|(_, v)| v.trim() == "v2"), "{}", dv.stdout);
    ok(kdeck(&lab, &dir, &["rollback", "v1"]), "kdeck rollback v1");
    let kv = ok(lab.kamal(&dir, &["app", "version"]), "kamal app version");
    assert!(blocks(&kv.stdout).iter().all(|(_, v)| v.trim() == "v1"), "{}", kv.stdout);
    let logs = ok(kdeck(&lab, &dir, &["app", "logs", "-n", "5"]), "kdeck app logs");
    let lb = blocks(&logs.stdout);
    assert_eq!(lb.len(), 3, "{}", logs.stdout);
    assert!(lb.iter().any(|(_, body)| body.contains(&format!("app {svc} v1"))), "{}", logs.stdout);
    assert!(lb.iter().any(|(_, body)| body.contains(&format!("worker {svc} v1"))), "{}", logs.stdout);
    let kaudit = ok(lab.kamal(&dir, &["audit"]), "kamal audit").stdout;
    assert!(kaudit.contains("Renaming container v1 to v1_replaced_"), "{kaudit}");
}

/// A version whose /up never passes: fails on the first web host, nothing else booted, old
/// version keeps serving, new container stopped, lock released, exit 1, reason shown.
#[test]
fn engine_unhealthy_version_fails_safely() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "efail";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "bad", "unhealthy");
    let tmp = tempfile::tempdir().unwrap();
    // One host per group, so "the first web host" is well defined (hosts of a group boot in parallel).
    let dir = app(&lab, tmp.path(), svc, |s| {
        s.deploy_timeout = 5;
        s.extra_yaml.push_str("boot:\n  limit: 1\n");
    });
    let hh = format!("{svc}.test");
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    assert!(wait_serving(&web(&lab), &hh, Duration::from_secs(10)));
    let traffic = Traffic::start(&web(&lab), &hh);
    let r = kdeck(&lab, &dir, &["deploy", "-P", "--version", "bad"]);
    let (n_ok, n_failed) = traffic.finish();
    assert_eq!(r.code, Some(1), "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(n_failed, 0, "old version stopped serving ({n_ok} ok)");
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("healthy"), "no health-check failure shown:\n{out}");
    assert!(out.contains("last log lines:") && out.contains(&format!("app {svc} bad")), "no container log lines:\n{out}");
    let [h1, h2, h3] = [lab.ips(0..1)[0].clone(), lab.ips(1..2)[0].clone(), lab.ips(2..3)[0].clone()];
    // New container stopped on the first web host; nothing booted elsewhere.
    assert!(running(&lab, &h1, svc, "web") == vec![format!("{svc}-web-v1")], "{:?}", all_containers(&lab, &h1, svc));
    assert!(all_containers(&lab, &h1, svc).iter().any(|c| c.starts_with(&format!("{svc}-web-bad ")) && !c.ends_with("running")));
    assert!(!all_containers(&lab, &h2, svc).iter().any(|c| c.contains("-bad")), "{:?}", all_containers(&lab, &h2, svc));
    assert!(!all_containers(&lab, &h3, svc).iter().any(|c| c.contains("-bad")), "{:?}", all_containers(&lab, &h3, svc));
    assert!(!lock_dir_exists(&lab, &h1, svc), "lock left behind");
    for h in web(&lab) {
        assert_eq!(version_via_proxy(&h, &hh).as_deref(), Some("v1"));
    }
    // All hosts in one boot: the worker waits at the barrier, which says why it closed.
    let tmp2 = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp2.path(), svc, |s| s.deploy_timeout = 5);
    let r = kdeck(&lab, &dir, &["deploy", "-P", "--version", "bad"]);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, Some(1), "{out}");
    assert!(out.contains("Halted at barrier: the first web container is unhealthy on 10.77.3."), "the barrier names why it closed:\n{out}");
    assert!(!all_containers(&lab, &h3, svc).iter().any(|c| c.contains("-bad")), "the worker booted past a closed barrier");
}

/// The lock both ways: Kamal's lock stops kdeck (holder/time/message shown) and vice versa.
#[test]
fn engine_lock_both_ways() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "elock";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(lab.kamal(&dir, &["lock", "acquire", "-m", "kamal holds it"]), "kamal lock acquire");
    let r = kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("Deploy lock already in place!"), "{}", r.stdout);
    assert!(r.stdout.contains("Locked by: Lab Tester at 20") && r.stdout.contains("Message: kamal holds it"), "{}", r.stdout);
    assert!(lock_dir_exists(&lab, &lab.ips(0..1)[0], svc), "kdeck removed Kamal's lock");
    ok(lab.kamal(&dir, &["lock", "release"]), "kamal lock release");

    ok(kdeck(&lab, &dir, &["lock", "acquire", "-m", "kdeck holds it"]), "kdeck lock acquire");
    let ks = ok(lab.kamal(&dir, &["lock", "status"]), "kamal lock status").stdout;
    assert!(ks.contains("Message: kdeck holds it") && ks.contains("Locked by: Lab Tester"), "{ks}");
    let kd = lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]);
    assert!(!kd.ok, "kamal deployed through kdeck's lock");
    assert!(format!("{}{}", kd.stdout, kd.stderr).contains("kdeck holds it"));
    ok(kdeck(&lab, &dir, &["lock", "release"]), "kdeck lock release");
    assert!(ok(lab.kamal(&dir, &["lock", "status"]), "kamal lock status").stdout.contains("There is no deploy lock"));
}

/// `--lock-wait`: a command that needs the lock waits while another deploy holds it (the lock
/// Kamal writes with its automatic message), and goes on once it is released; a lock taken by
/// hand is not waited for.
#[test]
fn engine_lock_wait_waits_for_an_automatic_lock_only() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "elockw";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(lab.kamal(&dir, &["lock", "acquire", "-m", "by hand"]), "kamal lock acquire (manual)");
    let r = kdeck(&lab, &dir, &["prune", "images", "--lock-wait", "--lock-wait-interval", "1"]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("held manually, not waiting"), "{}{}", r.stdout, r.stderr);
    ok(lab.kamal(&dir, &["lock", "release"]), "kamal lock release");

    ok(lab.kamal(&dir, &["lock", "acquire", "-m", "Automatic deploy lock"]), "kamal lock acquire (as a deploy)");
    let t0 = Instant::now();
    let waiting = kdeck_command(&lab, &dir)
        .args(["prune", "images", "--lock-wait", "--lock-wait-interval", "1", "--lock-wait-timeout", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    ok(lab.kamal(&dir, &["lock", "release"]), "kamal lock release");
    let out = waiting.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(t0.elapsed() >= Duration::from_secs(3), "did not wait: {text}");
    assert!(text.contains("retrying in 1s"), "{text}");
    assert!(!lock_dir_exists(&lab, &lab.ips(0..1)[0], svc), "the lock was left behind");
}

/// boot.limit 1 + boot.wait 2 on 3 hosts: three groups, one at a time, ≥2 s apart (events).
#[test]
fn engine_boot_groups_one_at_a_time() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "egroups";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |s| s.extra_yaml.push_str("boot:\n  limit: 1\n  wait: 2\n"));
    let r = ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1", "--json"]), "kdeck deploy --json");
    let events: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let groups: Vec<Vec<String>> = events
        .iter()
        .filter(|e| e["event"] == "group_started")
        .map(|e| e["hosts"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect())
        .collect();
    assert_eq!(groups, vec![lab.ips(0..1), lab.ips(1..2), lab.ips(2..3)]);
    // Each group's boot starts only after the previous group's health step finished.
    let idx = |pred: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(pred).unwrap();
    for (a, b) in [(0usize, 1usize), (1, 2)] {
        let ha = groups[a][0].clone();
        let hb = groups[b][0].clone();
        let done_a = idx(&|e| e["event"] == "step_finished" && e["kind"] == "health" && e["host"] == ha.as_str());
        let start_b = idx(&|e| e["event"] == "step_started" && e["kind"] == "boot" && e["host"] == hb.as_str());
        assert!(done_a < start_b, "group {b} started before group {a} was healthy");
    }
    let plan = events.iter().find(|e| e["event"] == "plan_ready").unwrap();
    assert_eq!(plan["groups"].as_array().unwrap().len(), 3);
    // The plan knows every step the run takes (the dashboard's totals never grow mid-run), and
    // a successful run leaves none of them unstarted.
    let (unplanned, never_started) = unplanned_steps(&events);
    assert!(unplanned.is_empty() && never_started.is_empty(), "steps run but not planned: {unplanned:?}\nplanned but never started: {never_started:?}");
    assert_eq!(events.last().unwrap()["event"], "finished");
    assert_eq!(events.last().unwrap()["ok"], true);
}

/// SIGINT during a deploy: no lock left, exactly one running version per role on every host.
#[test]
fn engine_sigint_leaves_no_lock_and_one_version() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "esigint";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "slow");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |s| s.deploy_timeout = 20);
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let child = kdeck_command(&lab, &dir)
        .args(["deploy", "-P", "--version", "v2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first new container is booting (the slow /up keeps it in health wait).
    let t0 = Instant::now();
    let first = lab.ips(0..1)[0].clone();
    while t0.elapsed() < Duration::from_secs(60) {
        if running(&lab, &first, svc, "web").iter().any(|n| n.ends_with("-v2")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: plain libc kill on our own child's pid.
    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("Host states after interruption"), "{stdout}");
    assert!(!lock_dir_exists(&lab, &first, svc), "lock left behind:\n{stdout}");
    for (i, h) in lab.ips(0..3).iter().enumerate() {
        let role = if i == 2 { "worker" } else { "web" };
        let r = running(&lab, h, svc, role);
        assert_eq!(r.len(), 1, "{h} runs {r:?}\n{stdout}");
    }
}

/// Collects a child's output lines as they come (tests look for them with a deadline).
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Lines {
    fn read(r: impl std::io::Read + Send + 'static) -> Lines {
        use std::io::BufRead;
        let v = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let w = v.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                w.lock().unwrap().push(l);
            }
        });
        Lines(v)
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn all(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
    /// Index of the first line at or after `from` matching `pred`, waiting up to `secs`.
    fn wait(&self, from: usize, secs: u64, pred: impl Fn(&str) -> bool) -> Option<usize> {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(secs) {
            if let Some(i) = self.0.lock().unwrap().iter().skip(from).position(|l| pred(l)) {
                return Some(from + i);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

/// `app logs -f` announces a host that is down at start and follows it once it is up,
/// announces a host whose connection dies and resumes it without repeating lines.
#[test]
fn engine_logs_follow_survives_host_loss() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "efollow";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let h3 = lab.ips(2..3)[0].clone();
    let klab3 = lab.hosts()[2].name.clone();
    lab.sshd_stop(&klab3);
    let mut child = kdeck_command(&lab, &dir)
        .args(["app", "logs", "-f", "-n", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = Lines::read(child.stdout.take().unwrap());
    let err = Lines::read(child.stderr.take().unwrap());
    let worker = format!("{h3} [worker]: ");
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(err.wait(0, 30, |l| l.starts_with(&format!("cannot reach {h3}"))).is_some(), "no notice for the down host:\n{}", err.all());
        lab.sshd_start(&klab3);
        assert!(err.wait(0, 40, |l| l.contains(&format!("{h3}: reachable again"))).is_some(), "no notice when up:\n{}", err.all());
        assert!(out.wait(0, 30, |l| l.starts_with(&worker) && l.contains(" job ")).is_some(), "host down at start never followed:\n{}", out.all());
        lab.sshd_stop(&klab3);
        assert!(err.wait(0, 30, |l| l.contains(&format!("{h3}: connection lost"))).is_some(), "no notice on loss:\n{}", err.all());
        std::thread::sleep(Duration::from_secs(3));
        let mark = out.len();
        lab.sshd_start(&klab3);
        assert!(out.wait(mark, 40, |l| l.starts_with(&worker) && l.contains(" job ")).is_some(), "worker never resumed:\n{}\n{}", out.all(), err.all());
        // Resumed from where it stopped: no line twice.
        std::thread::sleep(Duration::from_secs(2));
        let all = out.all();
        let jobs: Vec<&str> = all.lines().filter(|l| l.starts_with(&worker) && l.contains(" job ")).collect();
        let mut uniq = jobs.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), jobs.len(), "duplicated lines after resume:\n{all}");
    }));
    lab.sshd_start(&klab3);
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let st = child.wait().unwrap();
    if let Err(e) = res {
        std::panic::resume_unwind(e);
    }
    assert_eq!(st.code(), Some(0));
}

/// On real hosts: a missing secret leaves read-only commands working and fails deploy
/// naming the key; `lock release` without a lock is Kamal's message and exit 0.
#[test]
fn engine_missing_secret_is_lazy_and_lock_release_without_lock() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "esecret";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    // The lab app lists APP_SECRET in env.secret; deploy with it, then lose it.
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let secrets = dir.join(".kamal/secrets");
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let all = std::fs::read_to_string(&secrets).unwrap();
    assert!(all.contains("APP_SECRET="));
    std::fs::write(&secrets, all.lines().filter(|l| !l.starts_with("APP_SECRET=")).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let v = ok(kdeck(&lab, &dir, &["app", "version"]), "app version with a missing secret");
    assert!(v.stdout.contains("v1"), "{}", v.stdout);
    ok(kdeck(&lab, &dir, &["app", "exec", "--reuse", "hostname"]), "app exec --reuse with a missing secret");
    ok(kdeck(&lab, &dir, &["lock", "status"]), "lock status with a missing secret");
    let d = kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]);
    assert_eq!(d.code, Some(1));
    let text = format!("{}{}", d.stdout, d.stderr);
    assert!(text.contains("APP_SECRET") && text.contains(".kamal/secrets"), "{text}");
    assert!(!text.contains("lab-app-secret"));
    assert!(!lock_dir_exists(&lab, &lab.ips(0..1)[0], svc), "deploy left a lock");

    let r = kdeck(&lab, &dir, &["lock", "release"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("There is no deploy lock"), "{}", r.stdout);
}

/// Only what is asked is touched: `-h` dials that host alone (the kdeck log names every
/// connection), `-r worker` the worker's host; without a filter every host is dialled.
#[test]
fn engine_host_and_role_filters_dial_only_those_hosts() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "edial";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let ips = lab.ips(0..3);
    let dialled = |args: &[&str]| -> Vec<String> {
        let log = tmp.path().join(format!("dial-{}.log", args.join("_").replace(['/', ' '], "")));
        let mut all: Vec<&str> = args.to_vec();
        let log_arg = log.display().to_string();
        all.extend(["--log-file", &log_arg]);
        ok(kdeck(&lab, &dir, &all), &format!("kdeck {args:?}"));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        ips.iter().filter(|ip| text.lines().any(|l| l.contains("connected (") && l.contains(ip.as_str()))).cloned().collect()
    };
    assert_eq!(dialled(&["app", "version", "-h", &ips[1]]), vec![ips[1].clone()], "-h dials that host only");
    assert_eq!(dialled(&["app", "version", "-r", "worker"]), vec![ips[2].clone()], "-r worker dials the worker host only");
    assert_eq!(dialled(&["app", "version"]), ips, "no filter: every host");
}

/// Secrets from a password manager (`$(kamal secrets fetch --adapter 1password …)` in
/// `.kamal/secrets`, resolved in-process): a deploy whose vault sign-in fails stops before
/// the lock is taken, names the adapter, leaves every host's env file as it was and prints
/// no secret; with the vault answering, the deploy goes through.
#[test]
fn engine_password_manager_failure_stops_deploy_before_the_lock() {
    use crate::support::vendors::{answer, failure, with_stand_ins, Scenario};
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "evault";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let secrets = dir.join(".kamal/secrets");
    let plain = std::fs::read_to_string(&secrets).unwrap();
    let others: String = plain.lines().filter(|l| !l.starts_with("APP_SECRET=")).map(|l| format!("{l}\n")).collect();
    std::fs::write(
        &secrets,
        format!("{others}VAULT=$(kamal secrets fetch --adapter 1password --account acme --from Deploy/App APP_SECRET)\nAPP_SECRET=$(kamal secrets extract APP_SECRET $VAULT)\n"),
    )
    .unwrap();
    // `op item get … --fields label=APP_SECRET --format json`: the one field asked for.
    let item = r#"{"id":"x","label":"APP_SECRET","value":"vault-app-secret","reference":"op://Deploy/App/APP_SECRET"}"#;
    let signed_in = Scenario::new(&["op"], vec![answer("op --version", "2.30.0\n"), answer("op account get", "ok\n"), answer("op item get", item)]);
    let vault_dir = tempfile::tempdir().unwrap();
    let mut c = kdeck_command(&lab, &dir);
    with_stand_ins(&mut c, &signed_in, vault_dir.path());
    let out = c.args(["deploy", "-P", "--version", "v1"]).output().unwrap();
    assert!(out.status.success(), "deploy with the vault answering: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let env_file = |h: &str| lab.host(h).root.join(format!(".kamal/apps/{svc}/env/roles/web.env"));
    let web = lab.ips(0..1)[0].clone();
    let before = std::fs::read_to_string(env_file(&web)).expect("env file after the first deploy");
    assert!(before.contains("APP_SECRET=vault-app-secret"), "the vault's value reached the host");

    let locked_vault = Scenario::new(
        &["op"],
        vec![
            answer("op --version", "2.30.0\n"),
            failure("op account get", 1, "[ERROR] account is not signed in"),
            failure("op signin", 1, "[ERROR] authorization prompt dismissed"),
        ],
    );
    let vault_dir = tempfile::tempdir().unwrap();
    let mut c = kdeck_command(&lab, &dir);
    with_stand_ins(&mut c, &locked_vault, vault_dir.path());
    let out = c.args(["deploy", "-P", "--version", "v1"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1password") && text.contains("authorization prompt dismissed"), "the error names the adapter and quotes the vault: {text}");
    assert!(!text.contains("vault-app-secret"), "a secret value in the output: {text}");
    assert!(!lock_dir_exists(&lab, &web, svc), "the failed fetch left a lock");
    assert_eq!(std::fs::read_to_string(env_file(&web)).unwrap(), before, "the env file changed after a failed fetch");
}

/// `kdeck deploy | tee` with tee gone (Ctrl-C reaches both): no panic/abort, the safe stop
/// still runs (no lock, one version per role) and the host-state report goes to stderr.
#[test]
fn engine_sigint_with_closed_stdout_still_stops_safely() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "epipe";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "slow");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |s| s.deploy_timeout = 20);
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = kdeck_command(&lab, &dir)
        .args(["deploy", "-P", "--version", "v2"])
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let first = lab.ips(0..1)[0].clone();
    while t0.elapsed() < Duration::from_secs(60) {
        if running(&lab, &first, svc, "web").iter().any(|n| n.ends_with("-v2")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("Host states after interruption"), "{stderr}");
    assert!(!lock_dir_exists(&lab, &first, svc), "lock left behind:\n{stderr}");
    for (i, h) in lab.ips(0..3).iter().enumerate() {
        let role = if i == 2 { "worker" } else { "web" };
        assert_eq!(running(&lab, h, svc, role).len(), 1, "{h}\n{stderr}");
    }
}
