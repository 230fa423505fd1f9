//! Headless commands an operator found rough, end to end through the kdeck binary on a 3-host
//! lab of its own (`qa2`, net 13): web on hosts 1–2 behind the kamal-proxy
//! stand-in, worker on host 3.

use crate::support::engine as engine_support;

use engine_support::{app, fresh, kdeck, lab::Lab, ok};
use std::path::Path;

const SVC: &str = "qa2svc";

/// Processes whose argv is exactly `argv` (NUL separated), not zombies.
fn processes_with_argv(argv: &[&str]) -> Vec<i32> {
    let needle: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0u8])).collect();
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'));
        if cmd == needle && !zombie {
            found.push(pid);
        }
    }
    found
}

fn last_json(out: &str) -> serde_json::Value {
    let line = out.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in: {out}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn exec_containers(lab: &Lab) -> Vec<String> {
    let mut v = vec![];
    for h in lab.hosts() {
        let names = lab.docker(&h.ip, &["ps", "-a", "--format", "{{.Names}}", "--filter", &format!("label=service={SVC}")]).stdout;
        v.extend(names.lines().filter(|n| n.contains("-exec-")).map(|n| format!("{}:{n}", h.ip)));
    }
    v
}

#[test]
fn json_events_refused_flags_and_proxy_command_cleanup() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = Lab::up("qa2", 13, 3) else { return };
    engine_support::kdeck_bin();
    lab.image(SVC, "v1", "ok");
    lab.image(SVC, "v2", "ok");
    fresh(&lab, SVC);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), SVC, |_| {});

    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v2"]), "kdeck deploy v2");

    // the --json `finished` event names the action as typed, not in Rust's Debug form.
    let r = ok(kdeck(&lab, &dir, &["rollback", "v1", "--json"]), "kdeck rollback v1 --json");
    let fin = last_json(&r.stdout);
    assert_eq!(fin["event"], "finished", "{fin}");
    assert_eq!(fin["summary"], "rollback v1 finished", "{fin}");
    // The plan knows every step of the rollback (the dashboard's totals never grow mid-run).
    let events: Vec<serde_json::Value> = r.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let (unplanned, never_started) = engine_support::unplanned_steps(&events);
    assert!(unplanned.is_empty() && never_started.is_empty(), "rollback: run but not planned: {unplanned:?}; planned, never started: {never_started:?}");
    let r = ok(kdeck(&lab, &dir, &["lock", "acquire", "-m", "qa2", "--json"]), "lock acquire --json");
    assert_eq!(last_json(&r.stdout)["summary"], "lock acquire finished");
    let r = ok(kdeck(&lab, &dir, &["lock", "release", "--json"]), "lock release --json");
    assert_eq!(last_json(&r.stdout)["summary"], "lock release finished");

    // --detach with --reuse / -i is refused as Kamal refuses it, nothing runs on the hosts.
    let before = exec_containers(&lab);
    for (args, msg) in [
        (&["app", "exec", "--detach", "--reuse", "sleep 30"][..], "Detach is not compatible with reuse"),
        (&["app", "exec", "--detach", "-i", "--reuse", "sleep 30"][..], "Detach is not compatible with interactive or reuse"),
    ] {
        let k = kdeck(&lab, &dir, args);
        assert_eq!(k.code, Some(1), "{args:?}: {}{}", k.stdout, k.stderr);
        assert!(k.stderr.contains(msg), "{args:?}: {}", k.stderr);
        let kamal = lab.kamal(&dir, args);
        assert_eq!(kamal.code, Some(1), "kamal {args:?}: {}{}", kamal.stdout, kamal.stderr);
        assert!(format!("{}{}", kamal.stdout, kamal.stderr).contains(msg), "kamal words differ: {}", kamal.stderr);
    }
    assert_eq!(exec_containers(&lab), before, "a refused exec started containers");

    // a proxy_command that never answers is gone when kdeck is (it used to be orphaned,
    // one per host, because `sh -c` forked it and only the shell was killed).
    let secs = format!("{}", 8_000_000 + std::process::id());
    let yml = dir.join("config/deploy.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    assert!(text.contains("  keys_only: true\n"));
    std::fs::write(&yml, text.replace("  keys_only: true\n", &format!("  keys_only: true\n  proxy_command: \"sleep {secs}\"\n"))).unwrap();
    let r = kdeck(&lab, &dir, &["app", "version"]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("cannot reach"), "{}", r.stdout);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left = processes_with_argv(&["sleep", &secs]);
    for pid in &left {
        // SAFETY: plain kill(2) of a process this test caused.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    assert!(left.is_empty(), "proxy commands outlived kdeck: {left:?}");
    std::fs::write(&yml, text).unwrap();
    cleanup(&lab, &dir);
}

fn cleanup(lab: &Lab, dir: &Path) {
    let _ = kdeck(lab, dir, &["lock", "release"]);
    fresh(lab, SVC);
}
