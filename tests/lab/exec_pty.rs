//! Interactive sessions over kdeck's own SSH connection, in a real terminal (tmux) against the
//! lab (`pty`, net 7: web on host 1, worker on host 2, the app deployed by kdeck): `app exec -i`
//! in a new container and with `--reuse`, piped stdin, and the dashboard's ctrl-o shell.
//!
//! Every run has a `PATH` whose `ssh` fails loudly (and leaves a marker file), so a session that
//! still went through the OpenSSH client cannot pass. Each tmux script records the terminal
//! settings (`stty -g`) before kdeck starts and compares them after it exits.

use crate::support::engine as engine_support;

use crate::support::tmux::Tmux;
use engine_support::lab::Lab;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The kdeck binary under test, copied to a private path. Several worktrees share the target
/// dir and replace `target/debug/kdeck` at any time, so the copy must be this tree's build: it
/// has the interactive session's stdin thread. Copied into the lab's dir (removed with the lab). `KDECK_E2E_BIN` names a binary to use instead.
fn kdeck_bin(lab: &Lab) -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = std::env::var_os("KDECK_E2E_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kdeck")));
        let dst = lab.dir.join("kdeck-under-test");
        std::fs::copy(&src, &dst).expect("copy kdeck");
        let ours = Command::new("grep").args(["-q", "-a", "kdeck-stdin"]).arg(&dst).status().map(|s| s.success()).unwrap_or(false);
        if !ours {
            let _ = std::fs::remove_file(&dst);
            panic!(
                "{} is not this tree's kdeck (shared target dir overwritten by another branch's build); rebuild and rerun, or set KDECK_E2E_BIN",
                src.display()
            );
        }
        dst
    })
    .clone()
}

/// kdeck (this tree's) for an app dir, with the lab's HOME and known_hosts.
fn kdeck_cmd(lab: &Lab, app: &Path) -> Command {
    let mut c = Command::new(kdeck_bin(lab));
    c.current_dir(app).env("HOME", &lab.home).env("KDECK_KNOWN_HOSTS", &lab.known_hosts).env_remove("SSH_AUTH_SOCK").env_remove("VERSION").stdin(Stdio::null());
    c
}

struct Env {
    lab: &'static Lab,
    app: PathBuf,
    /// Directory with the failing `ssh`, put first in PATH.
    fake_bin: PathBuf,
    /// Created by the fake `ssh` if anything runs it.
    marker: PathBuf,
    web: String,
    worker: String,
}

fn env() -> Option<&'static Env> {
    static ENV: OnceLock<Option<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let lab = Lab::shared("pty", 7, 2)?;
        // Inside the lab's dir: removed with the lab.
        let dir = lab.dir.join("exec-pty");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        lab.image("ptyapp", "v1", "ok");
        let (web, worker) = (lab.ips(0..1)[0].clone(), lab.ips(1..2)[0].clone());
        let mut spec = engine_support::lab::AppSpec::new("ptyapp", std::slice::from_ref(&web), std::slice::from_ref(&worker));
        (spec.deploy_timeout, spec.drain_timeout, spec.readiness_delay) = (10, 2, 1);
        let app = lab.write_app(&dir.join("app"), &spec);
        let r = kdeck_cmd(lab, &app).args(["deploy", "-P", "--version", "v1"]).output().expect("run kdeck");
        assert!(r.status.success(), "kdeck deploy v1 failed:\n{}\n{}", String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
        let fake_bin = dir.join("fake-bin");
        std::fs::create_dir_all(&fake_bin).unwrap();
        let marker = dir.join("openssh-was-run");
        let script = format!("#!/bin/sh\necho \"FAKE-SSH-CALLED $*\" >&2\ntouch {}\nexit 97\n", marker.display());
        std::fs::write(fake_bin.join("ssh"), script).unwrap();
        Command::new("chmod").arg("+x").arg(fake_bin.join("ssh")).status().unwrap();
        Some(Env { lab, app, fake_bin, marker, web, worker })
    })
    .as_ref()
}

impl Env {
    fn path(&self) -> String {
        format!("{}:{}", self.fake_bin.display(), std::env::var("PATH").unwrap_or_default())
    }

    /// A shell script for tmux: run kdeck with `args`, then report its exit status and whether
    /// the terminal settings are what they were, then stay open for capture-pane.
    fn script(&self, name: &str, args: &[&str]) -> PathBuf {
        let log = self.app.join(format!("{name}.log"));
        let mut argv = vec![kdeck_bin(self.lab).display().to_string(), "--log-file".into(), log.display().to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let text = format!(
            "S0=$(stty -g)\nenv HOME={} KDECK_KNOWN_HOSTS={} PATH={} {}\necho \"KDECK-EXIT=$?\"\nif [ \"$(stty -g)\" = \"$S0\" ]; then echo TTY-RESTORED; else echo TTY-CHANGED; fi\nsleep 600\n",
            shell_words::quote(&self.lab.home.display().to_string()),
            shell_words::quote(&self.lab.known_hosts.display().to_string()),
            shell_words::quote(&self.path()),
            shell_words::join(&argv),
        );
        let p = self.app.join(format!("{name}.sh"));
        std::fs::write(&p, text).unwrap();
        p
    }

    fn assert_no_openssh(&self) {
        assert!(!self.marker.exists(), "the OpenSSH client was run (fake ssh marker {} exists)", self.marker.display());
    }
}

/// The script in a `cols`×`rows` terminal, kdeck's log shown when a wait times out.
fn tmux(name: &str, dir: &Path, script: &Path, cols: u16, rows: u16) -> Tmux {
    Tmux::start(&format!("kdeck-pty-{name}-{}", std::process::id()), dir, &format!("sh {}", script.display()), cols, rows)
        .with_log(dir.join(format!("{name}.log")))
}

fn exit_line(s: &str) -> Option<i32> {
    s.lines().find_map(|l| l.trim().strip_prefix("KDECK-EXIT=")).and_then(|v| v.trim().parse().ok())
}

/// Commands the host's sshd ran that start with `prefix`.
fn ran(lab: &Lab, host: &str, prefix: &str) -> Vec<String> {
    lab.ssh_commands(host).into_iter().filter(|c| c.starts_with(prefix)).collect()
}

#[test]
fn exec_i_new_container_pty_size_resize_exit_status_and_restore() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    let script = e.script("new", &["app", "exec", "-i", "sh"]);
    let t = tmux("new", &e.app, &script, 100, 30);
    t.wait("Kamal's launch line", 60, |s| {
        s.contains("Get most recent version available as an image...")
            && s.contains(&format!("Launching interactive command with version latest via SSH from new container on {}...", e.web))
    });
    t.wait("the container's shell prompt", 30, |s| s.lines().any(|l| l.trim_end().ends_with('#')));

    // Commands typed reach the remote shell; it runs on a pty of the pane's size.
    let (rows, cols) = t.pane_size();
    t.line("echo out=$((6*7)) size=$(stty size) tty=$(tty)");
    t.wait("output of the typed command with the pane's size", 15, |s| s.contains(&format!("out=42 size={rows} {cols} tty=/dev/pts/")));

    // Resizing the terminal is forwarded.
    t.resize(120, 40);
    let (rows2, cols2) = t.pane_size();
    assert_ne!((rows2, cols2), (rows, cols), "tmux did not resize the pane");
    std::thread::sleep(Duration::from_millis(500));
    t.line("echo resized=$(stty size)");
    t.wait("the new size inside", 15, |s| s.contains(&format!("resized={rows2} {cols2}")));

    // ctrl-c goes to the remote side (raw mode): it stops the remote `sleep`, not kdeck.
    t.line("sleep 30");
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&["C-c"]);
    let started = Instant::now();
    t.line("echo alive=$((1+1))");
    let s = t.wait("the remote shell after ctrl-c", 15, |s| s.contains("alive=2") || exit_line(s).is_some());
    assert!(exit_line(&s).is_none() && started.elapsed() < Duration::from_secs(15), "ctrl-c ended kdeck:\n{s}");

    // The remote exit status becomes kdeck's, and the terminal is given back as it was.
    t.line("exit 7");
    let s = t.wait("kdeck to exit", 30, |s| exit_line(s).is_some() && (s.contains("TTY-RESTORED") || s.contains("TTY-CHANGED")));
    assert_eq!(exit_line(&s), Some(7), "{s}");
    assert!(s.contains("TTY-RESTORED"), "terminal settings not restored:\n{s}");
    assert!(s.contains(&format!("Connection to {} closed.", e.web)), "{s}");
    assert!(!s.contains("FAKE-SSH-CALLED"), "{s}");
    e.assert_no_openssh();

    // Kamal's command for a terminal (`-it`), on the primary host only.
    let runs = ran(e.lab, &e.web, "docker run -it --rm --name ptyapp-web-exec-latest-");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].ends_with("/ptyapp:latest sh"), "{}", runs[0]);
    assert!(runs[0].contains("--env-file .kamal/apps/ptyapp/env/roles/web.env"), "{}", runs[0]);
    assert!(ran(e.lab, &e.worker, "docker run -it").is_empty());
}

#[test]
fn exec_i_reuse_shell_in_running_container_ends_with_ctrl_d() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    let script = e.script("reuse", &["app", "exec", "-i", "--reuse", "sh"]);
    let t = tmux("reuse", &e.app, &script, 90, 25);
    t.wait("Kamal's launch line", 60, |s| {
        s.contains("Get current version of running container...")
            && s.contains(&format!("Launching interactive command with version v1 via SSH from existing container on {}...", e.web))
    });
    t.wait("the container's shell prompt", 30, |s| s.lines().any(|l| l.trim_end().ends_with('#')));
    // Kamal names the host `<host>-<hex12>`: this is the running app container.
    t.line("echo host=$(hostname) size=$(stty size)");
    let (rows, cols) = t.pane_size();
    t.wait("the running container's hostname", 15, |s| s.contains(&format!("host={}-", e.web)) && s.contains(&format!("size={rows} {cols}")));
    // ctrl-d goes to the remote shell (raw mode), which ends; so does kdeck, with its status.
    t.keys(&["C-d"]);
    let s = t.wait("kdeck to exit", 30, |s| exit_line(s).is_some() && (s.contains("TTY-RESTORED") || s.contains("TTY-CHANGED")));
    assert_eq!(exit_line(&s), Some(0), "{s}");
    assert!(s.contains("TTY-RESTORED"), "terminal settings not restored:\n{s}");
    e.assert_no_openssh();
    // exactly this command, once (the SIGTERM test beside it runs `sh -i`)
    let sent = e.lab.ssh_commands(&e.web).into_iter().filter(|c| c == "docker exec -it ptyapp-web-v1 sh").count();
    assert_eq!(sent, 1, "{:?}", e.lab.ssh_commands(&e.web));
}

#[test]
fn exec_i_sigterm_closes_the_session_and_restores_the_terminal() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    // `sh -i`, not `sh`: the ctrl-d test beside it counts its own `… sh` command
    let script = e.script("term", &["app", "exec", "-i", "--reuse", "sh -i"]);
    let t = tmux("term", &e.app, &script, 80, 24);
    t.wait("the container's shell prompt", 60, |s| s.lines().any(|l| l.trim_end().ends_with('#')));
    // kdeck is the child of the pane's shell.
    let o = t.cmd().args(["display-message", "-p", "-t", "main", "#{pane_pid}"]).output().unwrap();
    let shell_pid = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = Command::new("pgrep").args(["-P", &shell_pid]).output().unwrap();
    let kdeck_pid = String::from_utf8_lossy(&o.stdout).split_whitespace().next().expect("kdeck's pid").to_string();
    assert!(Command::new("kill").args(["-TERM", &kdeck_pid]).status().unwrap().success());
    let s = t.wait("kdeck to exit", 30, |s| exit_line(s).is_some() && (s.contains("TTY-RESTORED") || s.contains("TTY-CHANGED")));
    assert_eq!(exit_line(&s), Some(255), "{s}");
    assert!(s.contains("TTY-RESTORED"), "terminal settings not restored:\n{s}");
    e.assert_no_openssh();
}

/// Runs kdeck with `stdin_text` piped in; kills it after 90 s.
fn piped(e: &Env, args: &[&str], stdin_text: &str) -> (Option<i32>, String, String) {
    let mut c = kdeck_cmd(e.lab, &e.app);
    c.env("PATH", e.path()).args(args);
    run_piped(c, stdin_text)
}

fn run_piped(mut c: Command, stdin_text: &str) -> (Option<i32>, String, String) {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("run command");
    child.stdin.take().unwrap().write_all(stdin_text.as_bytes()).unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(90)).is_err() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    let _ = watchdog.join();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn exec_i_with_piped_stdin_runs_without_pty() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    // Like `ssh -t` with stdin not a terminal: no pty (`tty` says so), `docker run -i`, stdout and
    // stderr kept apart, stdin's EOF reaches the command, its status is kdeck's.
    let (code, out, err) = piped(e, &["app", "exec", "-i", "sh"], "echo piped-$((2+3)); tty; echo to-stderr >&2\nexit 5\n");
    assert_eq!(code, Some(5), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains(&format!("Launching interactive command with version latest via SSH from new container on {}...", e.web)), "{out}");
    assert!(out.contains("piped-5") && out.contains("not a tty"), "{out}");
    assert!(err.contains("to-stderr") && !out.contains("to-stderr"), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!err.contains("Connection to"), "{err}");
    e.assert_no_openssh();
    assert!(!ran(e.lab, &e.web, "docker run -i --rm --name ptyapp-web-exec-latest-").is_empty());

    // EOF alone ends a command that reads stdin (`cat` echoes and exits 0).
    let (code, out, _) = piped(e, &["app", "exec", "-i", "cat"], "through-cat\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.lines().any(|l| l == "through-cat"), "{out}");

    // `-r worker`: Kamal's primary host of that role, and its role's container.
    let (code, out, err) = piped(e, &["app", "exec", "-i", "-r", "worker", "echo", "on-worker"], "");
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains(&format!("from new container on {}...", e.worker)) && out.contains("on-worker"), "{out}");
    assert!(!ran(e.lab, &e.worker, "docker run -i --rm --name ptyapp-worker-exec-latest-").is_empty());

    // `-e` and `--reuse`: Kamal's `docker exec -i --env K="v" <container> CMD`.
    let (code, out, err) = piped(e, &["app", "exec", "-i", "--reuse", "-e", "PTYVAR=from-e", "env"], "");
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.lines().any(|l| l == "PTYVAR=from-e"), "{out}");
    assert_eq!(ran(e.lab, &e.web, "docker exec -i --env PTYVAR=\"from-e\" ptyapp-web-v1 env").len(), 1, "{:?}", e.lab.ssh_commands(&e.web));

    // `--version`: no lookup line, that version's image and exec container name.
    let (code, out, err) = piped(e, &["app", "exec", "-i", "--version", "v1", "echo", "versioned"], "");
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!out.contains("Get most recent version") && out.contains("Launching interactive command with version v1 via SSH from new container on"), "{out}");
    let runs: Vec<String> =
        ran(e.lab, &e.web, "docker run -i --rm --name ptyapp-web-exec-v1-").into_iter().filter(|c| c.ends_with("/ptyapp:v1 echo versioned")).collect();
    assert_eq!(runs.len(), 1, "{:?}", e.lab.ssh_commands(&e.web));
    e.assert_no_openssh();
}

#[test]
fn dashboard_ctrl_o_shell_over_the_pool_connection() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    let script = e.script("dash", &["dashboard"]);
    let t = tmux("dash", &e.app, &script, 140, 40);
    t.wait("both hosts up", 30, |s| [&e.web, &e.worker].iter().all(|h| s.lines().any(|l| l.contains(&format!(" {h} ")) && l.contains("● up"))));
    t.keys(&["e"]);
    t.wait("exec view", 5, |s| s.contains("exec in the app container"));
    t.keys(&["C-r"]);
    t.wait("reuse on", 5, |s| s.contains("--reuse on"));
    t.keys(&["C-o"]);
    t.wait("the shell", 20, |s| s.contains(&format!("kdeck: shell on {}", e.web)));
    t.wait("the container's shell prompt", 30, |s| s.lines().any(|l| l.trim_end().ends_with('#')));
    let (rows, cols) = t.pane_size();
    t.line("echo dash=$((40+2)) size=$(stty size)");
    t.wait("shell output on a pty of the pane's size", 15, |s| s.contains(&format!("dash=42 size={rows} {cols}")));
    t.line("exit 4");
    // Back on the dashboard (redrawn, the shell's lines gone), told how the shell ended.
    t.wait("dashboard back", 15, |s| s.contains("exec in the app container") && !s.contains("dash=42") && s.contains("exited with status 4"));
    // Keys reach the dashboard again.
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    let s = t.wait("kdeck to exit", 20, |s| exit_line(s).is_some() && (s.contains("TTY-RESTORED") || s.contains("TTY-CHANGED")));
    assert_eq!(exit_line(&s), Some(0), "{s}");
    assert!(s.contains("TTY-RESTORED"), "terminal settings not restored:\n{s}");
    e.assert_no_openssh();
    assert!(!ran(e.lab, &e.web, "docker exec -it $(docker ps --latest --quiet --filter label=service=ptyapp").is_empty());
}

/// Real Kamal with stdin piped (None, after a SKIP, when it is not installed outside CI).
fn kamal_piped(e: &Env, args: &[&str], input: &str) -> Option<(Option<i32>, String, String)> {
    if Command::new("kamal").arg("version").output().map(|o| !o.status.success()).unwrap_or(true) {
        assert!(std::env::var("KDECK_LAB_REQUIRED").is_err(), "real Kamal is not installed (scripts/install-deps)");
        eprintln!("SKIP: real Kamal not installed");
        return None;
    }
    let mut k = e.lab.kamal_command_with_openssh(&e.app);
    k.args(args);
    Some(run_piped(k, input))
}

/// `server exec -i`: on the primary host, the same command string, output and status as Kamal's
/// (Kamal over the OpenSSH client, kdeck over its own connection).
#[test]
fn server_exec_i_piped_same_command_output_and_status_as_real_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    let input = "echo host-out-$((40+2)); exit 6\n";
    // The module's tests share the hosts' logs and run in parallel: count, never clear.
    let on = |h: &str| e.lab.ssh_commands(h).iter().filter(|c| c.as_str() == "sh -s").count();
    let before = on(&e.web);
    let Some((kcode, kout, kerr)) = kamal_piped(e, &["server", "exec", "-i", "sh -s"], input) else { return };
    let after_kamal = on(&e.web);
    let (code, out, err) = piped(e, &["server", "exec", "-i", "sh -s"], input);
    assert_eq!(kcode, Some(6), "kamal:\n{kout}\n{kerr}");
    assert_eq!(code, kcode, "kdeck:\n{out}\n{err}");
    let lines = |s: &str| -> Vec<String> { s.lines().filter(|l| !l.trim_start().starts_with("INFO") && !l.trim().is_empty()).map(|l| l.to_string()).collect() };
    assert_eq!(lines(&out), lines(&kout), "kdeck:\n{out}\nkamal:\n{kout}");
    assert!(out.contains("host-out-42"), "{out}");
    assert_eq!((after_kamal - before, on(&e.web) - after_kamal), (1, 1), "the command string on the primary host, once by each tool");
    assert!(e.lab.ssh_commands(&e.worker).iter().all(|c| c != "sh -s"), "only the primary host");
    e.assert_no_openssh();
}

#[test]
fn exec_i_piped_same_remote_command_output_and_status_as_real_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(e) = env() else { return };
    let input = "echo same-out-$((20+3)); echo same-err >&2; exit 3\n";
    let Some((kcode, kout, kerr)) = kamal_piped(e, &["app", "exec", "-i", "sh -s"], input) else { return };
    let (code, out, err) = piped(e, &["app", "exec", "-i", "sh -s"], input);

    assert_eq!(kcode, Some(3), "kamal:\n{kout}\n{kerr}");
    assert_eq!(code, kcode, "kdeck:\n{out}\n{err}");
    // Kamal's own lines and the command's output, in order (Kamal adds its SSHKit INFO lines).
    let lines = |s: &str| -> Vec<String> { s.lines().filter(|l| !l.trim_start().starts_with("INFO") && !l.trim().is_empty()).map(|l| l.to_string()).collect() };
    assert_eq!(lines(&out), lines(&kout), "kdeck:\n{out}\nkamal:\n{kout}");
    assert!(out.contains("same-out-23") && err.contains("same-err") && kerr.contains("same-err"), "{out}\n{err}\n{kerr}");
    e.assert_no_openssh();

    // Byte for byte the same docker command on the same host (the name's random hex aside).
    let norm = |c: &String| regex::Regex::new(r"exec-latest-[0-9a-f]{6}").unwrap().replace(c, "exec-latest-HEX").into_owned();
    let runs: Vec<String> = ran(e.lab, &e.web, "docker run -i --rm --name ptyapp-web-exec-latest-").into_iter().filter(|c| c.ends_with(" sh -s")).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(norm(&runs[0]), norm(&runs[1]));
    assert!(ran(e.lab, &e.worker, "docker run -i").iter().all(|c| !c.ends_with(" sh -s")));
}
