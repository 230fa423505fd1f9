//! The dashboard end to end in a real terminal (tmux) against the lab: start kdeck, see the 3
//! hosts with their versions, deploy by key + confirmation, watch the timeline reach done on
//! every host, merged logs from all hosts, filter them, roll back with the picker, see the
//! version change, kill a host's sshd and see it marked down, then back up. Asserts on the
//! screen text only.

use crate::support::lab;
use crate::support::tmux::Tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn row<'a>(screen: &'a str, host: &str) -> &'a str {
    screen.lines().find(|l| l.contains(&format!(" {host} ")) && (l.contains('├') || l.contains('└'))).unwrap_or("")
}

/// The deploy dialog's pre-flight has answered, and passed.
fn preflight_ok(screen: &str) -> bool {
    screen.contains("✓ registry") && screen.contains("✓ config and secrets read again")
}

fn hosts_on(screen: &str, hosts: &[String], version: &str) -> bool {
    hosts.iter().all(|h| {
        let r = row(screen, h);
        r.contains("● up") && r.split_whitespace().any(|w| w == version) && r.contains("running")
    })
}

/// The kdeck binary, copied so a build from another worktree sharing the target dir cannot
/// swap it mid-test; checked to be this tree's (it must know `dashboard --skip-push`).
fn kdeck_binary(dir: &Path) -> PathBuf {
    // KDECK_E2E_BIN: a private copy, for machines where several trees share one target dir.
    let src = std::env::var_os("KDECK_E2E_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kdeck")));
    let dst = dir.join("kdeck");
    std::fs::copy(&src, &dst).expect("copy kdeck");
    let help = Command::new(&dst).args(["dashboard", "--help"]).output().expect("kdeck --help");
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("--skip-push"),
        "{} is not this tree's kdeck (shared target dir raced); rebuild and rerun",
        src.display()
    );
    dst
}

#[test]
fn dashboard_end_to_end_in_tmux() {
    let _turn = crate::support::lab::turn();
    let Some(l) = lab::Lab::up("tui", 4, 3) else { return };
    let hosts = l.ips(0..3);
    let tmp = tempfile::tempdir().unwrap();
    let bin = kdeck_binary(tmp.path());
    l.image("klabapp", "v1", "ok");
    l.image("klabapp", "v2", "ok");
    let app = l.write_app(&tmp.path().join("app"), &lab::AppSpec::new("klabapp", &l.ips(0..2), &l.ips(2..3)));
    // The starting point is made by real Kamal: kdeck must read what Kamal left.
    l.kamal(&app, &["deploy", "-P", "--version", "v1"]).expect_ok("kamal deploy v1");

    let log = tmp.path().join("kdeck.log");
    let cmdline = format!(
        "env HOME={} {} dashboard --skip-push --version v2 --log-file {}; echo KDECK-EXITED; sleep 600",
        l.home.display(),
        bin.display(),
        log.display()
    );
    let t = Tmux::start(&format!("kdeck-e2e-{}", std::process::id()), &app, &cmdline, 160, 45);

    // 1. Every host with its version.
    let shown = t.waited("3 hosts up on v1", 30, |s| hosts_on(s, &hosts, "v1")).1;
    eprintln!("figure: start to all 3 hosts shown: {shown:?}");
    let s = t.screen();
    assert!(s.contains("service klabapp") && s.contains("lock unlocked"), "{s}");

    // 2. Deploy by key, confirm, the timeline reaches done on every host.
    // The dialog asks its pre-flight first (config and secrets again, the registry): y waits for it.
    t.keys(&["D"]);
    t.wait("deploy dialog and its pre-flight", 15, |s| s.contains("Deploy?") && s.contains("v1 → v2") && s.contains("all hosts") && preflight_ok(s));
    t.keys(&["y"]);
    t.wait("timeline", 10, |s| s.contains("deploy v2 ·"));
    t.wait("deploy done", 90, |s| s.contains("✓ deploy done"));
    let s = t.screen();
    for h in &hosts {
        assert!(s.lines().any(|l| l.contains(&format!("✓ {h} "))), "{h} not done:\n{s}");
    }
    t.keys(&["1"]);
    t.wait("hosts on v2", 20, |s| hosts_on(s, &hosts, "v2"));

    // Audit log from the hosts (Kamal's and kdeck's lines).
    t.keys(&["a"]);
    t.wait("audit lines", 15, |s| s.contains("Audit log") && s.lines().any(|l| l.contains(&format!("{}  [", hosts[0]))));
    // Exec in a new app container on every host: one pane per host.
    t.keys(&["1"]);
    t.keys(&["e"]);
    t.wait("exec prompt", 5, |s| s.contains("exec in the app container"));
    t.literal("echo exec-ok");
    t.keys(&["Enter"]);
    t.wait("exec output from every host", 30, |s| {
        hosts.iter().all(|h| s.contains(&format!("┌ {h} "))) && s.matches("exec-ok").count() >= 3 && s.contains("✓ exec done")
    });
    // An interactive shell in the running container suspends the dashboard and comes back.
    t.keys(&["C-r"]);
    t.wait("reuse on", 5, |s| s.contains("--reuse on"));
    t.keys(&["C-o"]);
    t.wait("shell started", 20, |s| s.contains(&format!("kdeck: shell on {}", hosts[0])));
    std::thread::sleep(Duration::from_millis(1500));
    t.literal("echo shell-$((40+2))");
    t.keys(&["Enter"]);
    t.wait("shell output", 10, |s| s.contains("shell-42"));
    t.literal("exit");
    t.keys(&["Enter"]);
    t.wait("dashboard back", 10, |s| s.contains("exec in the app container") && !s.contains("shell-42"));
    t.keys(&["Escape"]);

    // 3. Merged logs from all hosts, then a filter.
    t.keys(&["l"]);
    t.wait("lines from every host", 20, |s| s.contains("10.77.4.11/web") && s.contains("10.77.4.12/web") && s.contains("10.77.4.13/worker"));
    t.keys(&["/"]);
    t.literal("job [0-9]+");
    t.keys(&["Enter"]);
    t.wait("filtered lines", 10, |s| {
        let body: Vec<&str> = s.lines().filter(|l| l.contains(" │ ")).collect();
        s.contains("/ job [0-9]+") && !body.is_empty() && body.iter().all(|l| l.contains("10.77.4.13/worker"))
    });
    t.keys(&["Escape"]);
    t.keys(&["Escape"]);

    // 4. Rollback picker: v1 selectable, v2 current; roll back; the version changes.
    t.keys(&["1"]);
    t.keys(&["B"]);
    t.wait("rollback picker", 5, |s| s.contains("Roll back to") && s.lines().any(|l| l.contains("v2") && l.contains("current")));
    let s = t.screen();
    assert!(s.lines().any(|l| l.contains("▶ v1")), "v1 not preselected:\n{s}");
    t.keys(&["Enter"]);
    t.wait("rollback confirmation", 5, |s| s.contains("Roll back to v1?") && s.contains("version: v2 → v1"));
    t.keys(&["y"]);
    t.wait("rollback done", 90, |s| s.contains("✓ rollback v1 done"));
    t.keys(&["1"]);
    t.wait("hosts back on v1", 20, |s| hosts_on(s, &hosts, "v1") && s.contains("version v1"));

    // The deploy lock from the UI: acquire with a message, see the holder, release.
    t.keys(&["L"]);
    t.wait("lock message prompt", 5, |s| s.contains("Acquire the deploy lock"));
    t.literal("e2e hold");
    t.keys(&["Enter"]);
    t.wait("lock held", 20, |s| s.contains("LOCKED by") && s.contains("e2e hold"));
    t.keys(&["L"]);
    t.wait("release confirmation", 5, |s| s.contains("Release the deploy lock"));
    t.keys(&["y"]);
    t.wait("lock released", 20, |s| s.contains("lock unlocked"));

    // 5. A host's sshd dies: marked down within seconds; back up by itself (the backoff is
    // capped at 3 s), and at once on a key when it has been down a while (activity dials it).
    for on_key in [false, true] {
        let t0 = Instant::now();
        l.sshd_stop("klab3");
        t.wait("klab3 down", 20, |s| row(s, &hosts[2]).contains("✗ down"));
        eprintln!("figure: host marked down {:?} after `lab.sh sshd-stop` started", t0.elapsed());
        if on_key {
            std::thread::sleep(Duration::from_secs(4));
        }
        l.sshd_start("klab3");
        let t0 = Instant::now();
        if on_key {
            t.keys(&["j"]);
        }
        t.wait("klab3 up again", 30, |s| row(s, &hosts[2]).contains("● up"));
        let back = t0.elapsed();
        eprintln!("figure: host back up {back:?} after `lab.sh sshd-start` returned{}", if on_key { ", on a key" } else { "" });
        if on_key {
            assert!(back < Duration::from_millis(1500), "a key must dial a down host at once, not at the end of its backoff: {back:?}");
        }
    }

    // 5b. A host's link goes down (no RST, packets dropped): the keepalives notice it.
    for on_key in [false, true] {
        let t0 = Instant::now();
        l.link_down("klab2");
        t.wait("klab2 down after its link dropped", 20, |s| row(s, &hosts[1]).contains("✗ down"));
        eprintln!("figure: host marked down {:?} after its link went down", t0.elapsed());
        if on_key {
            std::thread::sleep(Duration::from_secs(4));
        }
        l.link_up("klab2");
        let t0 = Instant::now();
        if on_key {
            t.keys(&["k"]);
        }
        t.wait("klab2 up again after its link came back", 30, |s| row(s, &hosts[1]).contains("● up"));
        let back = t0.elapsed();
        eprintln!("figure: host back up {back:?} after its link came back{}", if on_key { ", on a key" } else { "" });
    }

    // 6. Quit: nothing runs, so no question; the terminal is given back.
    t.keys(&["q"]);
    t.wait("kdeck exit", 10, |s| s.contains("KDECK-EXITED"));
    let s = t.screen();
    assert!(!s.contains("Fleet ·"), "screen not restored:\n{s}");
    assert!(!s.contains("waiting for the running action"), "a plain quit with nothing running must not say it waits:\n{s}");
    let tracing = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!tracing.contains("lab-app-secret") && !tracing.contains("lab-registry-pass"), "a secret in the log");
    drop(t);

    // 7. Quit during a deploy: the dashboard must abort safely and wait — no lock left,
    // one running container per role and host — and exit non-zero.
    l.image("klabapp", "v3slow", "slow");
    let cmdline = format!(
        "env HOME={} {} dashboard --skip-push --version v3slow --log-file {}; echo KDECK-EXITED rc=$?; sleep 600",
        l.home.display(),
        bin.display(),
        log.display()
    );
    let t = Tmux::start(&format!("kdeck-e2e-quit-{}", std::process::id()), &app, &cmdline, 160, 45);
    t.wait("3 hosts up on v1", 30, |s| hosts_on(s, &hosts, "v1"));
    t.keys(&["D"]);
    t.wait("deploy dialog", 15, |s| s.contains("Deploy?") && s.contains("v1 → v3slow") && preflight_ok(s));
    t.keys(&["y"]);
    // The slow image answers /up only after 10 s: quit while the web hosts wait for health.
    t.wait("health wait", 60, |s| s.lines().any(|l| l.contains("⠿") && l.contains("health")));
    t.keys(&["q"]);
    t.wait("quit question", 5, |s| s.contains("Quit and abort"));
    t.keys(&["y"]);
    t.wait("aborting shown", 5, |s| s.contains("aborting…") && !s.contains("KDECK-EXITED"));
    let exited = t.waited("kdeck exit after the abort", 120, |s| s.contains("KDECK-EXITED")).1;
    eprintln!("figure: quit-and-abort to exit {exited:?}");
    let s = t.screen();
    assert!(s.contains("KDECK-EXITED rc=1"), "an aborted deploy must exit non-zero:\n{s}");
    // As the headless Ctrl-C: what runs where now, one line per host and role.
    assert!(s.contains("Host states after interruption:"), "no host states after quit-and-abort:\n{s}");
    for h in &hosts {
        assert!(s.lines().any(|l| l.contains(h.as_str()) && l.contains("]: running ")), "{h}: no state line:\n{s}");
    }
    let lock = l.kamal(&app, &["lock", "status"]);
    assert!(lock.stdout.contains("There is no deploy lock"), "lock left held:\n{}{}", lock.stdout, lock.stderr);
    for h in l.hosts() {
        let ps = l.docker(&h.name, &["ps", "--filter", "label=service=klabapp", "--filter", "status=running", "--format", "{{.Names}}"]).expect_ok("docker ps");
        let names: Vec<&str> = ps.stdout.lines().filter(|n| n.starts_with("klabapp-")).collect();
        assert!(names.len() <= 1, "{}: more than one running container after quit-and-abort: {names:?}", h.name);
    }
    drop(t);

    // 8. SIGTERM mid-deploy (a closed terminal, `kill`): the same safe abort, not a dead process
    // holding the lock.
    let pidfile = tmp.path().join("kdeck.pid");
    let cmdline = format!(
        "sh -c 'echo $$ > {}; exec env HOME={} {} dashboard --skip-push --version v3slow --log-file {}'; echo KDECK-EXITED rc=$?; sleep 600",
        pidfile.display(),
        l.home.display(),
        bin.display(),
        log.display()
    );
    let t = Tmux::start(&format!("kdeck-e2e-term-{}", std::process::id()), &app, &cmdline, 160, 45);
    t.wait("3 hosts up", 30, |s| hosts.iter().all(|h| row(s, h).contains("● up")));
    t.keys(&["D"]);
    t.wait("deploy dialog", 15, |s| s.contains("Deploy?") && preflight_ok(s));
    t.keys(&["y"]);
    t.wait("health wait", 60, |s| s.lines().any(|l| l.contains("⠿") && l.contains("health")));
    let pid = std::fs::read_to_string(&pidfile).expect("pid file").trim().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    t.wait("aborting shown after SIGTERM", 5, |s| s.contains("aborting…") || s.contains("KDECK-EXITED"));
    t.wait("kdeck exit after SIGTERM", 120, |s| s.contains("KDECK-EXITED"));
    let s = t.screen();
    assert!(s.contains("KDECK-EXITED rc=1"), "{s}");
    let lock = l.kamal(&app, &["lock", "status"]);
    assert!(lock.stdout.contains("There is no deploy lock"), "lock left held after SIGTERM:\n{}{}", lock.stdout, lock.stderr);
    for h in l.hosts() {
        let ps = l.docker(&h.name, &["ps", "--filter", "label=service=klabapp", "--filter", "status=running", "--format", "{{.Names}}"]).expect_ok("docker ps");
        let names: Vec<&str> = ps.stdout.lines().filter(|n| n.starts_with("klabapp-")).collect();
        assert!(names.len() <= 1, "{}: more than one running container after SIGTERM: {names:?}", h.name);
    }

    // 9. `scripts/demo` run again on this lab while the fleet runs another version (v3) keeps
    // that version (it used to deploy v1 over it without asking) and offers the next one.
    l.image("klabapp", "v3", "ok");
    let deploy = Command::new(&bin).args(["deploy", "-P", "--version", "v3"]).current_dir(&app).env("HOME", &l.home).output().unwrap();
    assert!(deploy.status.success(), "kdeck deploy v3: {}", String::from_utf8_lossy(&deploy.stderr));
    let demo = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo"))
        .arg("--prepare")
        .env("KDECK_DEMO_NAME", "tui")
        .env("KDECK_DEMO_NET", "4")
        .env("KDECK_DEMO_APP", tmp.path().join("demo-app"))
        .env("KDECK_DEMO_BIN", &bin)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "scripts/demo --prepare:\n{out}\n{}", String::from_utf8_lossy(&demo.stderr));
    assert!(out.contains("the fleet runs v3: kept") && out.contains("D deploys v1"), "{out}");
    assert!(out.contains("export HOME=") && out.contains("kamal app details"), "the demo says how to run kdeck and kamal headless:\n{out}");
    let versions = Command::new(&bin).args(["app", "version"]).current_dir(&app).env("HOME", &l.home).output().unwrap();
    let v = String::from_utf8_lossy(&versions.stdout);
    assert!(v.lines().filter(|l| !l.starts_with("App Host:") && !l.trim().is_empty()).all(|l| l.trim() == "v3"), "the demo changed the fleet's version:\n{v}");
}
