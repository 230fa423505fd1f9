//! The dashboard's row actions (`x` on a fleet row) on the lab, in a real terminal: each sends
//! the hosts the same commands as its headless command narrowed to the row, and — where Kamal
//! has the command — as Kamal 2.11's (`app stop|start|boot|remove -r ROLE -h HOST`,
//! `proxy reboot -h HOST`); a restart is `app stop` then `app start`; an accessory's restart is
//! `accessory restart NAME -h HOST`. Inspect shows the container with the secret masked.
//!
//! Kamal's and the headless runs go first, without the dashboard; then the dashboard does the
//! same on the same state. The dashboard's own background commands (seen while it idles) are
//! left out of every trace before comparing.

use crate::support::engine as engine_support;
use crate::support::tmux::Tmux;
use engine_support::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

type Trace = Vec<BTreeSet<String>>;

/// `t` without the dashboard's own commands: those it sent while idle, and the resource
/// monitor's sampler, which starts anew on a host whose containers changed.
fn minus(t: &Trace, background: &Trace) -> Trace {
    let sampler = |c: &String| c.contains("echo @@S;");
    t.iter().zip(background).map(|(a, b)| a.difference(b).filter(|c| !sampler(c)).cloned().collect()).collect()
}

fn union(a: &Trace, b: &Trace) -> Trace {
    a.iter().zip(b).map(|(x, y)| x.union(y).cloned().collect()).collect()
}

/// Runs `args` with `tool` after clearing the hosts' logs; the trace it left.
fn traced(lab: &Lab, what: &str, run: impl FnOnce() -> Run) -> Trace {
    lab.clear_ssh_logs();
    ok(run(), what);
    trace(lab, "v1", "v0")
}

/// Waits until the deploy lock of `svc` was released on some host since the logs were cleared
/// (every row action that changes the servers runs under it), then for the screen to say done.
fn wait_released(lab: &Lab, t: &Tmux, svc: &str, releases: usize, done: &str) {
    let release = format!("rm -r .kamal/lock-{svc}");
    let t0 = Instant::now();
    loop {
        let logs: String = lab.hosts().iter().map(|h| lab.ssh_log(&h.name)).collect();
        let started: Vec<&str> = logs.lines().filter(|l| l.ends_with(&release)).collect();
        // The release command has finished: its wrapper pid logged END.
        let ended = started.iter().all(|s| {
            let pid = s.split('\t').nth(2).unwrap_or_default();
            logs.lines().any(|l| l.split('\t').nth(2) == Some(pid) && l.contains("\tEND\t"))
        });
        if started.len() >= releases && ended {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{done}: the lock was never released\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    t.wait(done, 20, |s| s.contains(done));
}

/// The dashboard in tmux on the lab, and the commands it sends when idle.
struct Dash<'a> {
    lab: &'a Lab,
    t: &'a Tmux,
    svc: &'a str,
    background: Trace,
}

impl Dash<'_> {
    /// Selects fleet row `row` (0 = the first role) and runs menu entry `key` on it, confirmed
    /// with `confirm` (keys), then waits for it to finish (a restart releases the lock twice);
    /// the commands it sent, without the background ones.
    fn act(&self, row: usize, key: &str, confirm: &[&str], done: &str) -> Trace {
        let (lab, t) = (self.lab, self.t);
        let releases = if key == "R" && row != 6 { 2 } else { 1 };
        t.keys(&["1", "g"]);
        for _ in 0..row {
            t.keys(&["j"]);
        }
        lab.clear_ssh_logs();
        t.keys(&["x"]);
        t.wait("the row-action menu", 5, |s| s.contains("Actions ·"));
        t.keys(&[key]);
        t.wait("the confirmation", 5, |s| s.contains("runs:"));
        t.keys(confirm);
        wait_released(lab, t, self.svc, releases, done);
        minus(&trace(lab, "v1", "v0"), &self.background)
    }
}

#[test]
fn row_actions_send_the_same_commands_as_their_headless_commands_and_kamal() {
    let _turn = crate::support::lab::turn();
    // Alone on the lab: the proxy reboots and the traces are every command the hosts saw.
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etrow";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    let acc_image = lab.image("etrowcache", "v1", "ok");
    let (h1, h3) = (lab.hosts()[0].ip.clone(), lab.hosts()[2].ip.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |s| {
        s.extra_yaml = format!("accessories:\n  cache:\n    image: {acc_image}\n    host: {h3}\n");
    });
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");
    ok(kdeck(&lab, &dir, &["accessory", "boot", "cache"]), "kdeck accessory boot cache");

    // Kamal's and the headless commands, on the worker's container and the first web host.
    let w = ["-r", "worker", "-h", h3.as_str()];
    let cmd = |verb: &[&str], scope: &[&str], extra: &[&str]| -> Vec<String> { verb.iter().chain(scope).chain(extra).map(|s| s.to_string()).collect() };
    let kamal = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        traced(&lab, &format!("kamal {a:?}"), || lab.kamal(&dir, &a))
    };
    let headless = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        traced(&lab, &format!("kdeck {a:?}"), || kdeck(&lab, &dir, &a))
    };
    let k_stop = kamal(cmd(&["app", "stop"], &w, &[]));
    let k_start = kamal(cmd(&["app", "start"], &w, &["--version", "v1"]));
    let h_stop = headless(cmd(&["app", "stop"], &w, &[]));
    let h_start = headless(cmd(&["app", "start"], &w, &["--version", "v1"]));
    let k_boot = kamal(cmd(&["app", "boot"], &w, &["--version", "v1"]));
    let h_boot = headless(cmd(&["app", "boot"], &w, &["--version", "v1"]));
    let k_reboot = kamal(cmd(&["proxy", "reboot", "-y"], &["-h", &h1], &[]));
    let h_reboot = headless(cmd(&["proxy", "reboot", "-y"], &["-h", &h1], &[]));
    let restore = || ok(kdeck(&lab, &dir, &["app", "boot", "-r", "worker", "-h", &h3, "--version", "v1"]), "boot the worker again");
    let k_remove = kamal(cmd(&["app", "remove"], &w, &[]));
    restore();
    let h_remove = headless(cmd(&["app", "remove"], &w, &[]));
    restore();
    let h_acc = headless(cmd(&["accessory", "restart", "cache"], &["-h", &h3], &[]));
    for (what, k, h) in [
        ("app stop", &k_stop, &h_stop),
        ("app start", &k_start, &h_start),
        ("app boot", &k_boot, &h_boot),
        ("proxy reboot", &k_reboot, &h_reboot),
        ("app remove", &k_remove, &h_remove),
    ] {
        compare_traces(&format!("{what} -h (Kamal, headless kdeck)"), k, h);
    }

    // The dashboard: the same on the same rows (web: 0 role, 1–2 hosts; worker: 3 role, 4 host;
    // accessories: 5 group, 6 cache).
    let log = tmp.path().join("kdeck.log");
    let cmdline = format!(
        "env HOME={} KDECK_KNOWN_HOSTS={} {} dashboard --version v1 --log-file {}; echo KDECK-EXITED; sleep 600",
        lab.home.display(),
        lab.known_hosts.display(),
        kdeck_bin().display(),
        log.display()
    );
    let t = Tmux::start(&format!("kdeck-rows-{}", std::process::id()), &dir, &cmdline, 160, 45).with_log(log);
    t.wait("every host up", 30, |s| s.matches("● up").count() >= 3 && s.contains("cache"));
    std::thread::sleep(Duration::from_secs(2));
    lab.clear_ssh_logs();
    std::thread::sleep(Duration::from_secs(5));
    let background = trace(&lab, "v1", "v0");
    eprintln!("the dashboard's background commands while idle: {background:?}");
    let base = |t: &Trace| minus(t, &background);
    let dash = Dash { lab: &lab, t: &t, svc, background: background.clone() };

    let d_stop = dash.act(4, "S", &["y"], "✓ app stop done");
    compare_traces("row stop (headless, dashboard)", &base(&h_stop), &d_stop);
    let d_start = dash.act(4, "s", &["y"], "✓ app start done");
    compare_traces("row start (headless, dashboard)", &base(&h_start), &d_start);
    let d_restart = dash.act(4, "R", &["y"], "✓ app start done");
    compare_traces("row restart (headless stop + start, dashboard)", &base(&union(&h_stop, &h_start)), &d_restart);
    let d_boot = dash.act(4, "b", &["y"], "✓ app boot done");
    compare_traces("row boot (headless, dashboard)", &base(&h_boot), &d_boot);
    let d_reboot = dash.act(1, "P", &["y"], "✓ proxy reboot done");
    compare_traces("host proxy reboot (headless, dashboard)", &base(&h_reboot), &d_reboot);
    let d_remove = dash.act(4, "X", &[svc, "Enter"], "✓ app remove done");
    compare_traces("row remove (headless, dashboard)", &base(&h_remove), &d_remove);
    let d_acc = dash.act(6, "R", &["y"], "✓ accessory restart cache done");
    compare_traces("accessory restart (headless, dashboard)", &base(&h_acc), &d_acc);

    // Inspect the first web host's container: the env with the secret masked, no command sent.
    t.keys(&["1", "g", "j", "i"]);
    let s = t.wait("the inspect overlay", 15, |s| s.contains("Env (secret values hidden)") && s.contains("APP_SECRET="));
    assert!(s.contains("APP_ENV=lab") && s.contains("APP_SECRET=••••••") && !s.contains("lab-app-secret"), "{s}");
    assert!(s.contains(&format!("service={svc}")) && s.contains("role=web"), "{s}");
    t.keys(&["Escape", "q"]);
    t.wait("kdeck exit", 20, |s| s.contains("KDECK-EXITED"));
    fresh(&lab, svc);
    fresh(&lab, &format!("{svc}-cache"));
}
