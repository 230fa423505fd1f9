//! The fleet-scale code path on 10 hosts, in CI (the 3/10/50-host figures against real Kamal
//! come from `scripts/scale`, a benchmark): a deploy in boot groups (`boot.limit 25%`), reads,
//! the dashboard, one SSH handshake per host per process, and a host that does not answer
//! holding back only its own result.

use crate::support::lab;
use crate::support::scale::{self, Fleet};
use crate::support::tmux::Tmux;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SERVICE: &str = "ksmoke";

/// `App Host: <h>` blocks → (host, body) in the order printed.
fn blocks(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("App Host: ") {
            Some(h) => v.push((h.trim().to_string(), String::new())),
            None => {
                if let Some(b) = v.last_mut() {
                    b.1.push_str(line);
                    b.1.push('\n');
                }
            }
        }
    }
    v
}

#[test]
fn ten_hosts_deploy_in_groups_with_one_handshake_per_host_and_a_silent_host_holds_back_only_itself() {
    let _turn = lab::turn();
    let Some(l) = lab::Lab::up("smoke", 14, 10) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (web, workers) = (l.ips(0..8), l.ips(8..10));
    let mut spec = lab::AppSpec::new(SERVICE, &web, &workers);
    spec.readiness_delay = 0;
    spec.drain_timeout = 2;
    spec.extra_yaml.push_str("boot:\n  limit: 25%\n");
    let dir = l.write_app(tmp.path(), &spec);
    for v in ["s1", "s2"] {
        l.image(SERVICE, v, "ok");
    }
    let mut fleet = Fleet::new(&l, PathBuf::from(env!("CARGO_BIN_EXE_kdeck")));

    // Deploys: every host reached over one connection per process.
    for v in ["s1", "s2"] {
        let s = fleet.run("kdeck", &dir, &["deploy", "-P", "--version", v]);
        assert_eq!(s.handshakes, 10, "deploy {v}: one SSH handshake per host");
    }
    let version = l.kdeck_command(&dir).args(["app", "version"]).output().unwrap();
    let out = String::from_utf8_lossy(&version.stdout);
    let got = blocks(&out);
    assert_eq!(got.len(), 10, "{out}");
    assert!(got.iter().all(|(_, b)| b.trim() == "s2"), "not every host runs s2:\n{out}");
    for args in [&["app", "details"][..], &["lock", "status"], &["app", "logs", "-n", "5"]] {
        let s = fleet.run("kdeck", &dir, args);
        let want = if args[0] == "lock" { 1 } else { 10 };
        assert_eq!(s.handshakes, want, "{args:?}: hosts dialled");
    }

    // The dashboard: every host up, one handshake per host for the whole session; three hosts
    // whose sshd goes away and comes back cost one handshake each again, no more.
    let before = scale::handshakes(&l);
    let cmdline = format!("env HOME={} {} dashboard --read-only; echo KDECK-EXITED; sleep 600", l.home.display(), env!("CARGO_BIN_EXE_kdeck"));
    let t = Tmux::start(&format!("kdeck-smoke-{}", std::process::id()), &dir, &cmdline, 160, 45);
    let row_has = |s: &str, h: &str, what: &str| s.lines().any(|r| r.contains(&format!(" {h} ")) && r.contains(what));
    let all_up = |s: &str| web.iter().chain(&workers).all(|h| row_has(s, h, "● up"));
    t.wait("every host up", 60, all_up);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(scale::handshakes(&l) - before, 10, "dashboard start: one SSH handshake per host");
    let storm = &web[0..3];
    for h in storm {
        l.sshd_stop(h);
    }
    t.wait("three hosts down", 30, |s| storm.iter().all(|h| row_has(s, h, "✗ down")));
    for h in storm {
        l.sshd_start(h);
    }
    t.wait("every host up again", 60, all_up);
    std::thread::sleep(Duration::from_secs(3));
    t.keys(&["q"]);
    t.wait("kdeck exit", 30, |s| s.contains("KDECK-EXITED"));
    drop(t);
    assert_eq!(scale::handshakes(&l) - before, 13, "dashboard session: one handshake per host, and one per host that came back");

    // A host whose link is down (packets dropped: only the connect timeout ends its wait):
    // the nine others are printed as they answer, its own block comes last with the error.
    let silent = web[3].clone();
    l.link_down(&silent);
    let t0 = Instant::now();
    let mut child = l.kdeck_command(&dir).args(["app", "details"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("App Host: ") {
            seen.push((h.trim().to_string(), t0.elapsed()));
        }
    }
    let status = child.wait().unwrap();
    l.link_up(&silent);
    assert!(!status.success(), "app details with a silent host must fail");
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert_eq!(seen.last().unwrap().0, silent, "the silent host's block is not last: {seen:?}");
    let (others_done, silent_done) = (seen[8].1, seen[9].1);
    assert!(silent_done > others_done + Duration::from_secs(2), "the answering hosts were held back until the silent one gave up: {seen:?}");
}
