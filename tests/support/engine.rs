//! Helpers shared by the engine's lab tests: the `engine` lab (net 3, 3 hosts: two web behind
//! the kamal-proxy stand-in, one worker), running kdeck and Kamal on the same app dir, a
//! request loop for zero-downtime checks.
#![allow(dead_code)]

pub use super::lab;

pub use lab::{Lab, Run};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Tests share the lab's hosts and run in parallel; a test that takes a host down holds this
/// exclusively so no other test sees the outage as its own failure.
static FAULTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The lab plus this test's share of it (see `FAULTS`); derefs to [`Lab`].
pub struct LabGuard {
    lab: Lab,
    _share: Share,
}

#[allow(dead_code)]
enum Share {
    Read(std::sync::RwLockReadGuard<'static, ()>),
    Write(std::sync::RwLockWriteGuard<'static, ()>),
}

impl std::ops::Deref for LabGuard {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

/// The engine lab, shared with the other non-disruptive tests. Copies this build's kdeck first
/// (see `kdeck_bin`).
pub fn lab() -> Option<LabGuard> {
    let share = Share::Read(FAULTS.read().unwrap_or_else(|e| e.into_inner()));
    kdeck_bin();
    Lab::up("engine", 3, 3).map(|lab| LabGuard { lab, _share: share })
}

/// The engine lab for a test that stops sshd or cuts links: no other test runs meanwhile.
#[allow(dead_code)]
pub fn lab_exclusive() -> Option<LabGuard> {
    let share = Share::Write(FAULTS.write().unwrap_or_else(|e| e.into_inner()));
    kdeck_bin();
    Lab::up("engine", 3, 3).map(|lab| LabGuard { lab, _share: share })
}

/// The kdeck binary of this build, copied once to a private path: the target dir may be shared
/// by several worktrees whose builds replace `target/debug/kdeck` at any time.
pub fn kdeck_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        // KDECK_TEST_BIN: this tree's own build when another tree's build has replaced the
        // shared `target/debug/kdeck` that CARGO_BIN_EXE_kdeck names.
        let p = std::env::var_os("KDECK_TEST_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kdeck")));
        let dir = std::env::temp_dir().join("kdeck-engine-tests");
        std::fs::create_dir_all(&dir).expect("mkdir");
        // Copies of test processes that are gone (a test process cannot clean up at exit).
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("kdeck-") {
                    if !Path::new(&format!("/proc/{pid}")).exists() {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        let copy = dir.join(format!("kdeck-{}", std::process::id()));
        std::fs::copy(&p, &copy).expect("copy kdeck");
        let out = Command::new(&copy).args(["lock", "status", "-c", "/nonexistent/deploy.yml"]).output().expect("run kdeck");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("not implemented yet"),
            "{} is not this worktree's build (shared target dir overwritten by another branch); rebuild and rerun",
            p.display()
        );
        copy
    })
    .clone()
}

/// Write the standard lab app for `service` (web on hosts 1–2, worker on host 3).
pub fn app(lab: &Lab, dir: &Path, service: &str, tweak: impl FnOnce(&mut lab::AppSpec)) -> PathBuf {
    let mut spec = lab::AppSpec::new(service, &lab.ips(0..2), &lab.ips(2..3));
    spec.deploy_timeout = 10;
    spec.drain_timeout = 2;
    spec.readiness_delay = 1;
    tweak(&mut spec);
    lab.write_app(dir, &spec)
}

pub fn kdeck_command(lab: &Lab, dir: &Path) -> Command {
    let mut c = Command::new(kdeck_bin());
    c.current_dir(dir).env("HOME", &lab.home).env("KDECK_KNOWN_HOSTS", &lab.known_hosts).env_remove("SSH_AUTH_SOCK").env_remove("VERSION").stdin(Stdio::null());
    c
}

pub fn kdeck(lab: &Lab, dir: &Path, args: &[&str]) -> Run {
    let out = kdeck_command(lab, dir).args(args).output().expect("run kdeck");
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn ok(r: Run, what: &str) -> Run {
    r.expect_ok(what)
}

/// `App Host: <h>` blocks → (host, body) pairs sorted by host (Kamal prints in completion
/// order and mixes its INFO log lines into stdout).
pub fn blocks(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![];
    for line in out.lines() {
        let t = line.trim_start();
        if t.starts_with("INFO [") || t.starts_with("DEBUG [") || t.starts_with("Finished all in") {
            continue;
        }
        if let Some(h) = line.strip_prefix("App Host: ") {
            v.push((h.trim().to_string(), String::new()));
        } else if let Some((_, body)) = v.last_mut() {
            if !line.trim().is_empty() {
                body.push_str(line.trim());
                body.push('\n');
            }
        }
    }
    v.sort();
    v
}

/// Remove what an earlier run of a test left for `service` (the lab may be kept between runs).
pub fn fresh(lab: &Lab, service: &str) {
    for h in lab.hosts() {
        let ids = lab.docker(&h.ip, &["ps", "-aq", "--filter", &format!("label=service={service}")]).stdout;
        for id in ids.split_whitespace() {
            let _ = lab.docker(&h.ip, &["rm", "-f", id]);
        }
        let _ = std::fs::remove_dir_all(h.root.join(format!(".kamal/lock-{service}")));
        let _ = std::fs::remove_file(h.root.join(format!(".kamal/{service}-audit.log")));
    }
}

/// Names of running containers of a service/role on a host (harness docker socket).
pub fn running(lab: &Lab, host: &str, service: &str, role: &str) -> Vec<String> {
    let r = lab.docker(host, &["ps", "--filter", &format!("label=service={service}"), "--filter", &format!("label=role={role}"), "--format", "{{.Names}}"]);
    r.stdout.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

pub fn all_containers(lab: &Lab, host: &str, service: &str) -> Vec<String> {
    let r = lab.docker(host, &["ps", "-a", "--filter", &format!("label=service={service}"), "--format", "{{.Names}} {{.State}}"]);
    r.stdout.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

pub fn lock_dir_exists(lab: &Lab, host: &str, service: &str) -> bool {
    lab.host(host).root.join(format!(".kamal/lock-{service}")).exists()
}

/// One HTTP GET through kamal-proxy; Some(body) on 200.
fn get(addr: &str, host_header: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    if !buf.starts_with("HTTP/1.1 200") && !buf.starts_with("HTTP/1.0 200") {
        return None;
    }
    buf.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string())
}

/// A bounded request loop against every web host's :80 (≈20 req/s per host).
pub struct Traffic {
    stop: Arc<AtomicBool>,
    pub ok: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    pub failures: Arc<Mutex<Vec<String>>>,
    pub versions: Arc<Mutex<Vec<String>>>,
    /// (host, version answered or "failed") → requests: what the load generator counted.
    pub per_host: Arc<Mutex<std::collections::BTreeMap<(String, String), u64>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Traffic {
    pub fn start(hosts: &[String], host_header: &str) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let okc = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(vec![]));
        let versions = Arc::new(Mutex::new(vec![]));
        let per_host = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let mut threads = vec![];
        for h in hosts {
            let (stop, okc, failed, failures, versions) = (stop.clone(), okc.clone(), failed.clone(), failures.clone(), versions.clone());
            let (per, host) = (per_host.clone(), h.clone());
            let addr = format!("{h}:80");
            let hh = host_header.to_string();
            threads.push(std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(600);
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match get(&addr, &hh, "/version") {
                        Some(v) => {
                            okc.fetch_add(1, Ordering::SeqCst);
                            *per.lock().unwrap().entry((host.clone(), v.clone())).or_insert(0) += 1;
                            let mut vs = versions.lock().unwrap();
                            if vs.last() != Some(&v) {
                                vs.push(v);
                            }
                        }
                        None => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            *per.lock().unwrap().entry((host.clone(), "failed".into())).or_insert(0) += 1;
                            failures.lock().unwrap().push(format!("{addr} at {:?}", Instant::now()));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }));
        }
        Traffic { stop, ok: okc, failed, failures, versions, per_host, threads }
    }

    /// Stop and return (ok, failed).
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        (self.ok.load(Ordering::SeqCst), self.failed.load(Ordering::SeqCst))
    }
}

/// Wait until every web host answers 200 through the proxy.
pub fn wait_serving(hosts: &[String], host_header: &str, timeout: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if hosts.iter().all(|h| get(&format!("{h}:80"), host_header, "/version").is_some()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

pub fn version_via_proxy(host: &str, host_header: &str) -> Option<String> {
    get(&format!("{host}:80"), host_header, "/version")
}

/// Per-host sets of (normalized) command strings from Kamal and kdeck must be equal; the
/// assertion lists, per host, what only one of them sent.
pub fn compare_traces(what: &str, kamal: &[std::collections::BTreeSet<String>], kdeck: &[std::collections::BTreeSet<String>]) {
    let mut report = String::new();
    for (i, (k, d)) in kamal.iter().zip(kdeck).enumerate() {
        for c in k.difference(d) {
            report.push_str(&format!("klab{} only Kamal: {c}\n", i + 1));
        }
        for c in d.difference(k) {
            report.push_str(&format!("klab{} only kdeck: {c}\n", i + 1));
        }
    }
    assert!(report.is_empty(), "{what}: command traces differ\n{report}");
}

/// A host command with its random parts (hex suffixes, timestamps, lock details) and the two
/// versions (`ver` → VER, `old` → OLD) replaced, so both tools' traces compare.
pub fn normalize(cmd: &str, ver: &str, old: &str) -> String {
    let mut s = cmd.replace("\\n", "\n");
    let rules: [(&str, &str); 6] = [
        (r"-exec-(\S+)-[0-9a-f]{6}\b", "-exec-$1-HEX6"),
        (r"_replaced_[0-9a-f]{16}", "_replaced_HEX16"),
        (r"(--hostname \S+)-[0-9a-f]{12}", "$1-HEX12"),
        (r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]", "[TIME]"),
        (r#"--target="[0-9a-f]{12}:"#, "--target=\"ID:"),
        (r#"echo "[A-Za-z0-9+/=\n]+" > \.kamal/lock"#, "echo \"B64\" > .kamal/lock"),
    ];
    for (re, rep) in rules {
        s = regex::Regex::new(re).unwrap().replace_all(&s, rep).into_owned();
    }
    s = s.replace(&format!("-{ver}_replaced_"), "-VER_replaced_").replace(&format!(" {ver}_replaced_"), " VER_replaced_");
    s = s.replace(&format!("-{old}_replaced_"), "-OLD_replaced_").replace(&format!(" {old}_replaced_"), " OLD_replaced_");
    s = regex::Regex::new(&format!(r"\b{ver}\b")).unwrap().replace_all(&s, "VER").into_owned();
    regex::Regex::new(&format!(r"\b{old}\b")).unwrap().replace_all(&s, "OLD").into_owned()
}

/// Every command each lab host saw since the last `clear_ssh_logs`, normalized, per host.
pub fn trace(lab: &Lab, ver: &str, old: &str) -> Vec<std::collections::BTreeSet<String>> {
    lab.hosts().iter().map(|h| lab.ssh_commands(&h.name).iter().map(|c| normalize(c, ver, old)).collect()).collect()
}

/// The steps of a `--json` run that its plan did not have (`host role kind`), each step
/// start matched to a planned row not yet started (as the dashboard's timeline matches them),
/// and the planned rows that never started although the run succeeded.
pub fn unplanned_steps(events: &[serde_json::Value]) -> (Vec<String>, Vec<String>) {
    let key =
        |e: &serde_json::Value| format!("{} {} {}", e["host"].as_str().unwrap_or("-"), e["role"].as_str().unwrap_or("-"), e["kind"].as_str().unwrap_or("?"));
    let plan = events.iter().find(|e| e["event"] == "plan_ready").expect("plan_ready event");
    let mut pending: Vec<String> = plan["steps"].as_array().expect("plan steps").iter().map(key).collect();
    let mut unplanned = vec![];
    for e in events.iter().filter(|e| e["event"] == "step_started") {
        match pending.iter().position(|k| *k == key(e)) {
            Some(i) => {
                pending.remove(i);
            }
            None => unplanned.push(key(e)),
        }
    }
    (unplanned, pending)
}
