//! Headless CLI behaviour through the real `kdeck` binary that needs no lab: closed pipes,
//! usage-error exit codes, Kamal's subcommand spellings.

use std::path::Path;
use std::process::{Command, Stdio};

const APP: &str = "service: app\nimage: acme/app\nservers:\n  web:\n    - 192.0.2.10\nregistry:\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\nenv:\n  secret:\n    - DB_PASSWORD\n";

fn app_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("kdeck-cli-").tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("config")).unwrap();
    std::fs::create_dir_all(d.path().join(".kamal")).unwrap();
    std::fs::write(d.path().join("config/deploy.yml"), APP).unwrap();
    std::fs::write(d.path().join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=pw\nDB_PASSWORD=db\n").unwrap();
    d
}

fn kdeck(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kdeck"));
    c.args(args).arg("--log-file").arg(dir.join("kdeck.log")).current_dir(dir).env_remove("RUST_BACKTRACE").env_remove("VERSION");
    c
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = kdeck(dir, args).output().expect("run kdeck");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// stdout whose reader is already gone (`kdeck … | head -1`): no panic, no abort.
#[test]
fn closed_stdout_pipe_does_not_panic() {
    let d = app_dir();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = kdeck(d.path(), &["config", "--version", "v1"]).stdout(Stdio::from(writer)).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic on closed stdout: {err}");
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
}

/// usage errors exit 1 like Kamal (clap's default is 2); help still exits 0.
#[test]
fn usage_errors_exit_1_help_exits_0() {
    let d = app_dir();
    let (code, _, err) = run(d.path(), &["deploy", "--bogus"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--bogus"), "{err}");
    let (code, _, err) = run(d.path(), &["rollback"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = run(d.path(), &["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage"), "{out}");
    let (code, _, _) = run(d.path(), &["app", "--help"]);
    assert_eq!(code, 0);
    // Thor shows a group's commands and exits 0.
    let (code, out, err) = run(d.path(), &["app"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("stale_containers"));
}

/// Kamal's spellings of multi-word subcommands (Thor accepts both `_` and `-`).
#[test]
fn kamal_underscore_subcommands_are_accepted() {
    let d = app_dir();
    for args in [&["app", "stale_containers", "--help"][..], &["app", "stale-containers", "--help"][..]] {
        let (code, out, err) = run(d.path(), args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
}

/// `app exec --detach --reuse` ran the command in the running containers and exited 0;
/// Kamal refuses `--detach` with `--reuse` and/or `-i` (exit 1) before touching a host.
#[test]
fn exec_detach_with_reuse_or_interactive_is_refused() {
    let d = app_dir();
    for (args, want) in [
        (&["app", "exec", "--detach", "--reuse", "true"][..], "Detach is not compatible with reuse"),
        (&["app", "exec", "--detach", "-i", "true"][..], "Detach is not compatible with interactive"),
        (&["app", "exec", "--detach", "-i", "--reuse", "true"][..], "Detach is not compatible with interactive or reuse"),
    ] {
        let t = std::time::Instant::now();
        let (code, out, err) = run(d.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.contains("App Host"), "{args:?} ran something: {out}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{args:?} tried to connect first");
    }
}

/// `proxy reboot` asks first, as Kamal (a brief outage on each host): without a terminal and
/// without `-y` the answer is no — `Aborted`, exit 0, no host touched.
#[test]
fn proxy_reboot_without_confirmation_is_aborted_before_connecting() {
    let d = app_dir();
    let t = std::time::Instant::now();
    let o = kdeck(d.path(), &["proxy", "reboot"]).stdin(Stdio::null()).output().expect("run kdeck");
    let (code, out, err) = (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Aborted"), "{out}");
    assert!(err.contains("Are you sure?") && err.contains("-y"), "{err}");
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "tried to connect first");
    let (code, out, err) = run(d.path(), &["proxy", "reboot", "--help"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("--rolling") && out.contains("--confirmed"), "{out}");
}

/// `aliases:` from deploy.yml run as commands (`kdeck NAME ARGS…` = the alias's command line,
/// then the arguments), as Kamal; an unknown name stays a usage error.
#[test]
fn config_aliases_run_as_commands() {
    let d = app_dir();
    let yml = d.path().join("config/deploy.yml");
    let mut text = std::fs::read_to_string(&yml).unwrap();
    text.push_str("aliases:\n  conf: config\n  conf2: conf\n");
    std::fs::write(&yml, text).unwrap();
    let (code, direct, err) = run(d.path(), &["config", "--version", "v1"]);
    assert_eq!(code, 0, "{err}");
    for alias in ["conf", "conf2"] {
        let (code, out, err) = run(d.path(), &[alias, "--version", "v1"]);
        assert_eq!((code, out.as_str()), (0, direct.as_str()), "{alias}: {err}");
    }
    let (code, _, err) = run(d.path(), &["nope"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nope"), "{err}");
}

/// A rollout canary where it cannot run is refused before any host is reached: two web hosts
/// (kamal-proxy splits between two targets on one host), a share above 100, a list value a
/// cookie cannot carry, the flag without `--canary`.
#[test]
fn a_rollout_canary_is_refused_clearly_where_it_cannot_run() {
    let d = app_dir();
    std::fs::write(d.path().join("config/deploy.yml"), APP.replace("    - 192.0.2.10\n", "    - 192.0.2.10\n    - 192.0.2.11\n")).unwrap();
    let deploy = |extra: &[&str]| run(d.path(), &[&["deploy", "-P", "--version", "v2"], extra].concat());
    let (code, _, err) = deploy(&["--canary", "--canary-rollout", "50"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--canary-rollout: a rollout canary needs a single web host") && err.contains("192.0.2.10, 192.0.2.11"), "{err}");
    let (code, _, err) = deploy(&["--canary", "--canary-rollout", "101"]);
    assert!(code == 1 && err.contains("101 is not in 0..=100"), "{err}");
    let (code, _, err) = deploy(&["--canary", "--canary-rollout-list", "a;b"]);
    assert!(code == 1 && err.contains("--canary-rollout-list: \"a;b\" has ';'"), "{err}");
    let (code, _, err) = deploy(&["--canary-rollout", "50"]);
    assert!(code == 1 && err.contains("--canary"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
