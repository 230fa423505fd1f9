//! The dashboard half of the scale harness: the release kdeck in a real terminal (tmux), read
//! from outside (`/proc` for CPU and RSS, the screen for "every host up") and from its own log
//! file (the render loop's key-to-frame and draw figures, written when it quits).

use crate::lab;
use crate::tmux::Tmux;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What one dashboard session measured.
struct Session {
    start_to_all_up: Duration,
    cpu_pct: f64,
    rss_mib: f64,
    /// `render loop stats` fields from the log file.
    stats: String,
    /// SSH handshakes over the whole session (every host).
    handshakes: usize,
    /// What `ctrl-s` saved just before quitting (the merged Logs view), when asked for.
    saved_logs: Option<String>,
}

/// `utime + stime` of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the `(comm)`; utime and stime are the 12th and 13th of them
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    let hz = 100.0; // USER_HZ on Linux
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / hz
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

/// The kdeck process in the pane (the child of the pane's shell).
fn kdeck_pid(t: &Tmux) -> u32 {
    let o = t.cmd().args(["display-message", "-p", "-t", "main", "#{pane_pid}"]).output().unwrap();
    let shell = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).lines().next().and_then(|p| p.trim().parse().ok()).expect("kdeck process in the pane")
}

fn all_up(screen: &str, hosts: &[String]) -> bool {
    hosts.iter().all(|h| screen.lines().any(|l| l.contains(&format!(" {h} ")) && l.contains("● up")))
}

/// Pins every process of the lab's hosts (dockerd, containerd, sshd, the containers: all
/// processes in the hosts' network namespaces; what they start later inherits it) to CPU 0, so
/// the dashboard can have CPU 1 to itself: an operator's terminal does not share its CPU with
/// the fifty servers it watches. Returns how many processes were pinned.
fn pin_lab_to_cpu0(lab: &lab::Lab) -> usize {
    use std::os::unix::fs::MetadataExt;
    let inode = |p: &Path| std::fs::metadata(p).map(|m| m.ino()).ok();
    let nets: Vec<u64> = lab.hosts().iter().filter_map(|h| inode(&Path::new("/run/netns").join(&h.netns))).collect();
    let mut pinned = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if inode(&e.path().join("ns/net")).is_some_and(|i| nets.contains(&i)) {
            let ok = Command::new("taskset").args(["-a", "-p", "0x1", &pid.to_string()]).output().is_ok_and(|o| o.status.success());
            pinned += usize::from(ok);
        }
    }
    pinned
}

/// Pins a process and its threads to CPU 1.
fn pin_to_cpu1(pid: u32) {
    let _ = Command::new("taskset").args(["-a", "-p", "0x2", &pid.to_string()]).output();
}

/// One dashboard session: start, wait for every host, then `work` while CPU is measured over
/// `window`, then quit and read the render loop's figures.
fn session(lab: &lab::Lab, bin: &Path, dir: &Path, n: usize, window: Duration, work: &dyn Fn(&Tmux), save: bool) -> Session {
    let log = dir.join("kdeck-scale.log");
    let _ = std::fs::remove_file(&log);
    let cmdline = format!(
        "env HOME={} KDECK_KNOWN_HOSTS={} taskset -c 1 {} --log-file {} dashboard --read-only; echo KDECK-EXITED; sleep 600",
        lab.home.display(),
        lab.known_hosts.display(),
        bin.display(),
        log.display()
    );
    let hosts = lab.ips(0..n);
    let hs0 = crate::measure::handshakes(lab);
    let t0 = Instant::now();
    let t = Tmux::start(&format!("kdeck-scale-{}-{n}", std::process::id()), dir, &cmdline, 200, (n + 30) as u16);
    let (_, start_to_all_up) = t.waited("every host up", 120, |s| all_up(s, &hosts));
    let start_to_all_up = start_to_all_up.min(t0.elapsed());
    let pid = kdeck_pid(&t);
    pin_to_cpu1(pid);
    if let Some(server) = t.cmd().args(["display-message", "-p", "#{pid}"]).output().ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()) {
        pin_to_cpu1(server);
    }
    std::thread::sleep(Duration::from_secs(5));
    let (c0, w0) = (cpu_seconds(pid), Instant::now());
    while w0.elapsed() < window {
        work(&t);
    }
    let cpu_pct = 100.0 * (cpu_seconds(pid) - c0) / w0.elapsed().as_secs_f64();
    let rss = rss_mib(pid);
    let saved_logs = save.then(|| save_logs(lab, &t));
    t.keys(&["q"]);
    t.wait("kdeck exit", 30, |s| s.contains("KDECK-EXITED"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stats = text
        .lines()
        .rev()
        .find(|l| l.contains("render loop stats"))
        .map(|l| l.split("render loop stats").nth(1).unwrap_or("").trim().to_string())
        .unwrap_or_default();
    let handshakes = crate::measure::handshakes(lab) - hs0;
    Session { start_to_all_up, cpu_pct, rss_mib: rss, stats, handshakes, saved_logs }
}

/// `ctrl-s` in the Logs view, then the file it wrote (the newest in the lab HOME's state dir).
fn save_logs(lab: &lab::Lab, t: &Tmux) -> String {
    let dir = lab.home.join(".local/state/kdeck/logs");
    let before = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    t.keys(&["2", "C-s"]);
    for _ in 0..50 {
        let mut files: Vec<_> = std::fs::read_dir(&dir).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
        if files.len() > before {
            files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            return std::fs::read_to_string(files.last().unwrap()).unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("ctrl-s wrote nothing into {}", dir.display());
}

/// Per host and role, the load lines (`tick I.J`, J = 1..=`per_sec` each second) as the merged
/// view holds them: (sources, lines, lines missing between two neighbours, lines out of order).
fn check_order(saved: &str, per_sec: u64) -> (usize, usize, usize, usize) {
    let mut last: std::collections::HashMap<String, (u64, u64)> = std::collections::HashMap::new();
    let (mut lines, mut lost, mut reordered) = (0, 0, 0);
    for l in saved.lines() {
        let Some(src) = l.split_whitespace().find(|w| w.contains('/') && w.starts_with(|c: char| c.is_ascii_digit())) else { continue };
        let Some(seq) = l.rsplit_once(" tick ").or_else(|| l.rsplit_once(" job ")).map(|(_, s)| s.trim()) else { continue };
        let Some((i, j)) = seq.split_once('.').and_then(|(i, j)| Some((i.parse::<u64>().ok()?, j.parse::<u64>().ok()?))) else { continue };
        lines += 1;
        if let Some(&(pi, pj)) = last.get(src) {
            let (prev, cur) = (pi * per_sec + pj - 1, i * per_sec + j - 1);
            if cur <= prev {
                reordered += 1;
            } else {
                lost += (cur - prev - 1) as usize;
            }
        }
        last.insert(src.to_string(), (i, j));
    }
    (last.len(), lines, lost, reordered)
}

fn field(stats: &str, key: &str) -> String {
    stats.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{key}="))).unwrap_or("?").trim_matches('"').to_string()
}

/// Both sessions (at rest, under load) as a table.
#[allow(clippy::too_many_arguments)]
pub fn measure(lab: &lab::Lab, bin: &Path, dir: &Path, chatty: &Path, load_version: &str, n: usize, per_sec: usize, emit: &dyn Fn(&str)) {
    let pinned = pin_lab_to_cpu0(lab);
    let idle = |_: &Tmux| std::thread::sleep(Duration::from_millis(200));
    let rest = session(lab, bin, dir, n, Duration::from_secs(30), &idle, false);
    // every container logs `per_sec` lines/s from now on
    let st =
        lab.kdeck_command_at(bin, chatty).args(["deploy", "-P", "--version", load_version]).stdout(std::process::Stdio::null()).status().expect("kdeck deploy");
    assert!(st.success(), "deploy of the log-load version failed");
    let keys = |t: &Tmux| {
        // the merged Logs view, then a key every ~100 ms (tmux send-keys sleeps 150 ms per key)
        t.keys(&["2"]);
        t.keys(&["k"]);
        t.keys(&["G"]);
    };
    let load = session(lab, bin, chatty, n, Duration::from_secs(30), &keys, true);
    let mut out = format!(
        "Dashboard (release build, tmux 200 columns, `--read-only`; kdeck and tmux on CPU 1, the lab's {pinned} host processes on CPU 0):\n\n| figure | at rest | under load |\n|---|---|---|\n"
    );
    let row = |name: &str, a: String, b: String| format!("| {name} | {a} | {b} |\n");
    out.push_str(&row(
        "start to every host shown up",
        format!("{:.2} s", rest.start_to_all_up.as_secs_f64()),
        format!("{:.2} s", load.start_to_all_up.as_secs_f64()),
    ));
    out.push_str(&row("CPU (share of one core, 30 s)", format!("{:.1} %", rest.cpu_pct), format!("{:.1} %", load.cpu_pct)));
    out.push_str(&row("RSS at the end", format!("{:.0} MiB", rest.rss_mib), format!("{:.0} MiB", load.rss_mib)));
    out.push_str(&row("SSH handshakes in the session", rest.handshakes.to_string(), load.handshakes.to_string()));
    for (k, name) in [
        ("key_to_frame_p50_ms", "key-to-frame p50 (ms)"),
        ("key_to_frame_p99_ms", "key-to-frame p99 (ms)"),
        ("draw_p99_ms", "frame draw p99 (ms)"),
        ("frame_p99_ms", "frame draw + write to the terminal p99 (ms)"),
        ("frames", "frames drawn"),
        ("updates", "updates applied"),
    ] {
        // no key was pressed at rest
        let shown = |st: &str| if k.starts_with("key_") && field(st, "keys") == "0" { "-".to_string() } else { field(st, k) };
        out.push_str(&row(name, shown(&rest.stats), shown(&load.stats)));
    }
    let lines = n * per_sec;
    let (sources, seen, lost, reordered) = check_order(load.saved_logs.as_deref().unwrap_or(""), per_sec as u64);
    out.push_str(&format!(
        "\nUnder load: {n} containers × {per_sec} lines/s = {lines} lines/s into the merged log. The Logs view saved with `ctrl-s` at the end held {seen} load lines from {sources} containers: {lost} missing between neighbours, {reordered} out of order per container.\n"
    ));
    emit(&out);
}
