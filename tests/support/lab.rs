//! Test-side handle on the kamal-deck lab (`tests/lab/lab.sh`, see `tests/lab/README.md`).
//!
//! ```ignore
//! use crate::support::lab;                    // in a module of the lab harness
//! let _turn = lab::turn();                      // first in every lab test
//! let Some(lab) = lab::Lab::up("backend", 2, 3) else { return };   // skip outside CI
//! let app = lab.write_app(tmp.path(), &lab::AppSpec::new("klabapp", &lab.ips(0..2), &lab.ips(2..3)));
//! ```
//!
//! `Lab::up` is shared per process and name: each call returns a handle; the lab is torn down
//! when the last handle of that name in this process is dropped (unless `KDECK_LAB_KEEP=1`).
//! `Lab::shared` returns a `&'static Lab` that stays up until the test binary exits.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// One lab "server".
#[derive(Clone, Debug)]
pub struct LabHost {
    /// `klab1`, `klab2`, … (also the hostname inside the host).
    pub name: String,
    /// Address on the lab bridge, e.g. `10.77.2.11`; what deploy.yml lists.
    pub ip: String,
    /// `ip netns` name.
    pub netns: String,
    /// dockerd socket reachable from outside the host (for the harness, not for kdeck).
    pub docker_socket: PathBuf,
    /// ForceCommand log of every command sent over SSH (see README).
    pub ssh_log: PathBuf,
    /// The host's `/root` (so `.kamal/` of the host is `root.join(".kamal")`).
    pub root: PathBuf,
    /// The host's public key file (`ssh-ed25519 AAAA… klabN`).
    pub host_key: PathBuf,
}

/// Output of a command run by the harness.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            ok: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    /// Panics with both streams when the command failed.
    pub fn expect_ok(self, what: &str) -> Run {
        assert!(self.ok, "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr);
        self
    }
}

#[derive(Debug)]
pub struct Lab {
    pub name: String,
    pub net: u8,
    pub dir: PathBuf,
    pub hosts: Vec<LabHost>,
    /// `10.77.K.1:5000`
    pub registry: String,
    /// Client private key (ed25519, no passphrase) accepted by root on every host.
    pub ssh_key: PathBuf,
    /// Plain `ip ssh-ed25519 …` lines for every host.
    pub known_hosts: PathBuf,
    /// Same entries, hashed (`|1|…`).
    pub known_hosts_hashed: PathBuf,
    /// OpenSSH client config: `ssh -F <ssh_config> klab1` works.
    pub ssh_config: PathBuf,
    /// A HOME for client tools: `.ssh/known_hosts`, `.ssh/id_ed25519` of the lab.
    pub home: PathBuf,
}

fn shared_names() -> &'static Mutex<Vec<String>> {
    static N: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    N.get_or_init(|| Mutex::new(Vec::new()))
}

extern "C" {
    fn atexit(cb: extern "C" fn()) -> i32;
}

extern "C" fn down_shared_labs() {
    if std::env::var("KDECK_LAB_KEEP").map(|v| v == "1").unwrap_or(false) {
        return;
    }
    let names = std::mem::take(&mut *shared_names().lock().unwrap_or_else(|e| e.into_inner()));
    for n in names {
        let r = lab_sh(&["down", "--name", &n]);
        if !r.ok {
            eprintln!("lab.sh down --name {n} failed: {}", r.stderr);
        }
    }
}

fn registry() -> &'static Mutex<HashMap<String, usize>> {
    static R: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Path of `tests/lab/lab.sh`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.sh")
}

fn required() -> bool {
    std::env::var("KDECK_LAB_REQUIRED").map(|v| v == "1").unwrap_or(false)
}

fn skip_or_panic(reason: String) -> Option<Lab> {
    if required() {
        panic!("lab required (KDECK_LAB_REQUIRED=1) but cannot start: {reason}");
    }
    println!("SKIP: {reason}");
    eprintln!("SKIP: {reason}");
    None
}

/// Runs `lab.sh <args>`.
pub fn lab_sh(args: &[&str]) -> Run {
    let out = Command::new("bash").arg(script()).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()));
    Run::from(out)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl Lab {
    /// Brings the lab `name` up on 10.77.`net`.0/24 with `hosts` hosts (idempotent).
    /// Returns None (after printing `SKIP: reason`) when it cannot start, unless
    /// `KDECK_LAB_REQUIRED=1`, in which case it panics with the reason.
    pub fn up(name: &str, net: u8, hosts: usize) -> Option<Lab> {
        if !is_root() {
            return skip_or_panic("the lab needs root (network namespaces, dockerd)".into());
        }
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        let r = lab_sh(&["up", "--name", name, "--net", &net.to_string(), "--hosts", &hosts.to_string()]);
        if !r.ok {
            // a half-started lab must not stay behind (unless kept for debugging)
            if !std::env::var("KDECK_LAB_KEEP").map(|v| v == "1").unwrap_or(false) && !reg.contains_key(name) {
                let _ = lab_sh(&["down", "--name", name]);
            }
            drop(reg);
            return skip_or_panic(format!("lab.sh up --name {name} failed: {}{}", r.stderr.trim(), r.stdout.trim()));
        }
        let json_path = PathBuf::from(r.stdout.trim().lines().last().unwrap_or_default());
        let lab = match Lab::load(&json_path) {
            Ok(l) => l,
            Err(e) => {
                drop(reg);
                return skip_or_panic(format!("cannot read {}: {e}", json_path.display()));
            }
        };
        *reg.entry(name.to_string()).or_insert(0) += 1;
        Some(lab)
    }

    /// Like `up`, but one lab per process and name that lives until the test binary exits
    /// (torn down then by an `atexit` hook, unless `KDECK_LAB_KEEP=1`). Use it when many tests
    /// of one binary share a lab, so it is not brought down and up between tests.
    pub fn shared(name: &str, net: u8, hosts: usize) -> Option<&'static Lab> {
        static SHARED: OnceLock<Mutex<HashMap<String, Option<&'static Lab>>>> = OnceLock::new();
        let mut m = SHARED.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = m.get(name) {
            if l.is_none() {
                skip_or_panic(format!("lab {name} could not start earlier in this process"));
                return None;
            }
            return *l;
        }
        let lab = Lab::up(name, net, hosts).map(|l| &*Box::leak(Box::new(l)));
        if lab.is_some() {
            shared_names().lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string());
            static HOOK: std::sync::Once = std::sync::Once::new();
            HOOK.call_once(|| unsafe {
                atexit(down_shared_labs);
            });
        }
        m.insert(name.to_string(), lab);
        lab
    }

    fn load(path: &Path) -> Result<Lab, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let s = |k: &str| v[k].as_str().map(str::to_string).ok_or_else(|| format!("lab.json: missing {k}"));
        let hosts = v["hosts"]
            .as_array()
            .ok_or("lab.json: missing hosts")?
            .iter()
            .map(|h| {
                let g = |k: &str| h[k].as_str().unwrap_or_default().to_string();
                LabHost {
                    name: g("name"),
                    ip: g("ip"),
                    netns: g("netns"),
                    docker_socket: g("docker_socket").into(),
                    ssh_log: g("ssh_log").into(),
                    root: g("root").into(),
                    host_key: g("host_key").into(),
                }
            })
            .collect();
        Ok(Lab {
            name: s("name")?,
            net: v["net"].as_u64().ok_or("lab.json: missing net")? as u8,
            dir: s("dir")?.into(),
            hosts,
            registry: s("registry")?,
            ssh_key: s("ssh_key")?.into(),
            known_hosts: s("known_hosts")?.into(),
            known_hosts_hashed: s("known_hosts_hashed")?.into(),
            ssh_config: s("ssh_config")?.into(),
            home: s("home")?.into(),
        })
    }

    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// A host by name (`klab2`) or address.
    pub fn host(&self, h: &str) -> &LabHost {
        self.hosts.iter().find(|x| x.name == h || x.ip == h).unwrap_or_else(|| panic!("no host {h} in lab {}", self.name))
    }

    /// Addresses of hosts by index range, e.g. `lab.ips(0..2)`.
    pub fn ips(&self, r: std::ops::Range<usize>) -> Vec<String> {
        self.hosts[r].iter().map(|h| h.ip.clone()).collect()
    }

    /// Bridge address (the control side as seen from the hosts).
    pub fn gateway(&self) -> String {
        self.registry.split(':').next().unwrap_or_default().to_string()
    }

    /// Runs the docker CLI against a host's dockerd (harness socket, not over SSH).
    pub fn docker(&self, host: &str, args: &[&str]) -> Run {
        let h = self.host(host);
        let out = Command::new("/usr/bin/docker")
            .arg("-H")
            .arg(format!("unix://{}", h.docker_socket.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker");
        Run::from(out)
    }

    /// Runs a shell command on a host over real SSH (OpenSSH client, lab key, lab known_hosts).
    /// It goes through the host's ForceCommand logger like any client.
    pub fn ssh(&self, host: &str, command: &str) -> Run {
        let h = self.host(host);
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .arg(&h.ip)
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh");
        Run::from(out)
    }

    /// Runs a command inside the host's namespaces (network + mount), without SSH.
    pub fn in_host(&self, host: &str, argv: &[&str]) -> Run {
        let h = self.host(host);
        let out = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", h.netns))
            .arg(format!("--mount={}/ns/{}.mnt", self.dir.display(), h.name))
            .arg(format!("--uts={}/ns/{}.uts", self.dir.display(), h.name))
            .arg("--")
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("run nsenter");
        Run::from(out)
    }

    /// The host's SSH command log (`<ts>\t<host>\t<pid>\tSTART\t<command>` / `…\tEND\trc=N`).
    pub fn ssh_log(&self, host: &str) -> String {
        std::fs::read_to_string(&self.host(host).ssh_log).unwrap_or_default()
    }

    /// Just the command strings of the host's SSH log, in order.
    pub fn ssh_commands(&self, host: &str) -> Vec<String> {
        self.ssh_log(host)
            .lines()
            .filter_map(|l| {
                let mut f = l.splitn(5, '\t');
                let (_ts, _h, _pid, kind, cmd) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next());
                (kind == "START").then(|| cmd.unwrap_or_default().to_string())
            })
            .collect()
    }

    /// Empties every host's SSH log.
    pub fn clear_ssh_logs(&self) {
        for h in &self.hosts {
            let _ = std::fs::write(&h.ssh_log, "");
        }
    }

    /// The stand-in kamal-proxy's argv log on a host (one line per CLI invocation:
    /// `2026-11-22T14:07:43Z kamal-proxy 'deploy' 'svc' '--target=…'`), read from the
    /// `kamal-proxy-config` volume (empty when there is none).
    pub fn proxy_argv_log(&self, host: &str) -> String {
        let r = self.docker(host, &["volume", "inspect", "-f", "{{.Mountpoint}}", "kamal-proxy-config"]);
        if !r.ok {
            return String::new();
        }
        std::fs::read_to_string(Path::new(r.stdout.trim()).join("argv.log")).unwrap_or_default()
    }

    /// Builds the busybox app image and pushes it as `<registry>/<service>:<version>`.
    /// `variant`: "ok", "unhealthy" (/up answers 404) or "slow" (/up after UP_DELAY, 10 s).
    pub fn image(&self, service: &str, version: &str, variant: &str) -> String {
        let r = lab_sh(&["image", "--name", &self.name, service, version, "--variant", variant]).expect_ok(&format!("lab.sh image {service} {version}"));
        r.stdout.trim().to_string()
    }

    /// A kdeck connection pool for this lab's hosts, as the watcher tests use it: the lab key
    /// only, the lab's known_hosts (strict), quick connect, keepalive and reconnect.
    pub fn pool(&self) -> kdeck::ssh::Pool {
        self.pool_with(|_| {})
    }

    /// [`Lab::pool`] with its client options changed by `f` (a longer backoff, …).
    pub fn pool_with(&self, f: impl FnOnce(&mut kdeck::ssh::ClientOptions)) -> kdeck::ssh::Pool {
        use kdeck::ssh::{ClientOptions, HostKeyPolicy, Pool, SshOptions};
        use std::time::Duration;
        let kamal = SshOptions { keys: vec![self.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..Default::default() };
        let client = ClientOptions {
            known_hosts: self.known_hosts.clone(),
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(3),
            keepalive_interval: Duration::from_secs(2),
            keepalive_max: 2,
            max_backoff: Duration::from_secs(2),
            default_keys: vec![],
            use_agent: false,
            ..Default::default()
        };
        let mut client = client;
        f(&mut client);
        Pool::new(kamal, client).expect("pool")
    }

    /// Writes the test app's build context (Dockerfile with `ARG APP_VERSION`, busybox root)
    /// into `dir` for a client-side build and returns the `DOCKER_HOST` of the control dockerd,
    /// which can build it and push to this lab's registry.
    pub fn build_context(&self, service: &str, version: &str, dir: &Path) -> String {
        let d = dir.to_string_lossy();
        let r = lab_sh(&["context", service, version, &d]).expect_ok(&format!("lab.sh context {service}"));
        r.stdout.trim().to_string()
    }

    pub fn sshd_stop(&self, host: &str) {
        lab_sh(&["sshd-stop", "--name", &self.name, host]).expect_ok("sshd-stop");
    }
    pub fn dockerd_stop(&self, host: &str) {
        lab_sh(&["dockerd-stop", "--name", &self.name, host]).expect_ok("dockerd-stop");
    }
    pub fn dockerd_start(&self, host: &str) {
        lab_sh(&["dockerd-start", "--name", &self.name, host]).expect_ok("dockerd-start");
    }
    pub fn sshd_start(&self, host: &str) {
        lab_sh(&["sshd-start", "--name", &self.name, host]).expect_ok("sshd-start");
    }
    pub fn link_down(&self, host: &str) {
        lab_sh(&["link-down", "--name", &self.name, host]).expect_ok("link-down");
    }
    pub fn link_up(&self, host: &str) {
        lab_sh(&["link-up", "--name", &self.name, host]).expect_ok("link-up");
    }

    /// A `kamal` command for an app dir written by `write_app`: cwd = app dir, HOME = the lab's
    /// home (its `.ssh/known_hosts` has the lab host keys, so net-ssh's check passes and nothing
    /// is written to the real `~/.ssh`).
    pub fn kamal_command(&self, app_dir: &Path) -> Command {
        let mut c = Command::new("kamal");
        c.current_dir(app_dir).env("HOME", &self.home).stdin(Stdio::null());
        c
    }

    /// `kamal_command` for Kamal's interactive commands (`-i`), which exec the OpenSSH client:
    /// a wrapper first on PATH points it at the lab's known_hosts (OpenSSH reads the passwd
    /// entry's ~/.ssh, not $HOME's).
    pub fn kamal_command_with_openssh(&self, app_dir: &Path) -> Command {
        let bin = app_dir.join("kamal-bin");
        std::fs::create_dir_all(&bin).unwrap();
        let wrapper = format!("#!/bin/sh\nexec /usr/bin/ssh -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes \"$@\"\n", self.known_hosts.display());
        std::fs::write(bin.join("ssh"), wrapper).unwrap();
        Command::new("chmod").arg("+x").arg(bin.join("ssh")).status().unwrap();
        let mut c = self.kamal_command(app_dir);
        c.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()));
        c
    }

    /// A `kdeck` command (this package's binary) for an app dir, with the same `HOME` as
    /// `kamal_command` (lab known_hosts, key, git identity).
    pub fn kdeck_command(&self, app_dir: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kdeck"));
        c.current_dir(app_dir).env("HOME", &self.home).stdin(Stdio::null());
        c
    }

    /// `kdeck_command` with another kdeck binary (a benchmark's release build).
    pub fn kdeck_command_at(&self, bin: &Path, app_dir: &Path) -> Command {
        let mut c = Command::new(bin);
        c.current_dir(app_dir).env("HOME", &self.home).env("KDECK_KNOWN_HOSTS", &self.known_hosts).stdin(Stdio::null());
        c
    }

    /// Runs real Kamal in an app dir.
    pub fn kamal(&self, app_dir: &Path, args: &[&str]) -> Run {
        Run::from(self.kamal_command(app_dir).args(args).output().expect("run kamal (is it installed? scripts/install-deps)"))
    }

    /// Writes a Kamal app directory (config/deploy.yml, .kamal/secrets) for this lab into
    /// `dir` and returns `dir`. Works with real Kamal 2.11 (`kamal deploy -P --version V`)
    /// and kdeck. Build images first with `lab.image(service, V, "ok")`.
    pub fn write_app(&self, dir: &Path, spec: &AppSpec) -> PathBuf {
        std::fs::create_dir_all(dir.join("config")).expect("mkdir config");
        std::fs::create_dir_all(dir.join(".kamal")).expect("mkdir .kamal");
        let image = spec.image.clone().unwrap_or_else(|| spec.service.clone());
        let mut y = String::new();
        let _ = writeln!(y, "# written by tests/support/lab.rs for lab {} ({})", self.name, self.dir.display());
        let _ = writeln!(y, "service: {}", spec.service);
        let _ = writeln!(y, "image: {image}");
        let _ = writeln!(y, "servers:");
        let _ = writeln!(y, "  web:");
        let _ = writeln!(y, "    hosts:");
        for h in &spec.web_hosts {
            let _ = writeln!(y, "      - {h}");
        }
        if !spec.worker_hosts.is_empty() {
            let _ = writeln!(y, "  worker:");
            let _ = writeln!(y, "    hosts:");
            for h in &spec.worker_hosts {
                let _ = writeln!(y, "      - {h}");
            }
            let _ = writeln!(y, "    cmd: /bin/worker");
        }
        let _ = writeln!(y, "proxy:");
        let _ = writeln!(y, "  app_port: 80");
        if let Some(host) = &spec.host_header {
            let _ = writeln!(y, "  host: {host}");
        }
        let _ = writeln!(y, "  healthcheck:");
        let _ = writeln!(y, "    path: /up");
        let _ = writeln!(y, "    interval: 1");
        let _ = writeln!(y, "    timeout: 2");
        y.push_str(&spec.proxy_extra);
        let _ = writeln!(y, "registry:");
        let _ = writeln!(y, "  server: {}", self.registry);
        let _ = writeln!(y, "  username: lab");
        let _ = writeln!(y, "  password:");
        let _ = writeln!(y, "    - KAMAL_REGISTRY_PASSWORD");
        let _ = writeln!(y, "builder:");
        let _ = writeln!(y, "  arch: amd64");
        let _ = writeln!(y, "ssh:");
        let _ = writeln!(y, "  user: root");
        let _ = writeln!(y, "  keys_only: true");
        let _ = writeln!(y, "  keys:");
        let _ = writeln!(y, "    - {}", self.ssh_key.display());
        let _ = writeln!(y, "env:");
        let _ = writeln!(y, "  clear:");
        let _ = writeln!(y, "    APP_ENV: lab");
        y.push_str(&spec.extra_env);
        let _ = writeln!(y, "  secret:");
        let _ = writeln!(y, "    - APP_SECRET");
        let _ = writeln!(y, "deploy_timeout: {}", spec.deploy_timeout);
        let _ = writeln!(y, "drain_timeout: {}", spec.drain_timeout);
        let _ = writeln!(y, "readiness_delay: {}", spec.readiness_delay);
        y.push_str(&spec.extra_yaml);
        std::fs::write(dir.join("config/deploy.yml"), y).expect("write deploy.yml");
        std::fs::write(dir.join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=lab-registry-pass\nAPP_SECRET=lab-app-secret\n").expect("write .kamal/secrets");
        // Kamal wants a git repo even with --version (lock details, performer)
        if !dir.join(".git").exists() {
            let git = |args: &[&str]| {
                let _ = Command::new("git")
                    .current_dir(dir)
                    .args(["-c", "user.email=lab@kdeck.test", "-c", "user.name=Lab Tester"])
                    .args(args)
                    .stdin(Stdio::null())
                    .output();
            };
            git(&["init", "-q"]);
            git(&["config", "user.email", "lab@kdeck.test"]);
            git(&["config", "user.name", "Lab Tester"]);
            git(&["add", "-A"]);
            git(&["commit", "-q", "-m", "lab app"]);
        }
        dir.to_path_buf()
    }
}

/// What `write_app` writes. `AppSpec::new("klabapp", &web_ips, &worker_ips)` then adjust fields.
#[derive(Clone, Debug)]
pub struct AppSpec {
    pub service: String,
    /// `image:` (default: the service name; the lab pushes `<registry>/<image>:<version>`).
    pub image: Option<String>,
    pub web_hosts: Vec<String>,
    /// Role `worker` (cmd `/bin/worker`), omitted when empty.
    pub worker_hosts: Vec<String>,
    /// `proxy.host` (default `<service>.test`); None = wildcard route.
    pub host_header: Option<String>,
    pub deploy_timeout: u32,
    pub drain_timeout: u32,
    pub readiness_delay: u32,
    /// Appended verbatim to deploy.yml (top-level keys).
    pub extra_yaml: String,
    /// Appended verbatim under `proxy:` (two-space indented keys, e.g. `  run:`).
    pub proxy_extra: String,
    /// Appended verbatim under `env: clear:` (four-space indented, e.g. `    APP_LINES_PER_TICK: 100`).
    pub extra_env: String,
}

impl AppSpec {
    pub fn new(service: &str, web_hosts: &[String], worker_hosts: &[String]) -> AppSpec {
        AppSpec {
            service: service.to_string(),
            image: None,
            web_hosts: web_hosts.to_vec(),
            worker_hosts: worker_hosts.to_vec(),
            host_header: Some(format!("{service}.test")),
            deploy_timeout: 20,
            drain_timeout: 5,
            readiness_delay: 1,
            extra_yaml: String::new(),
            proxy_extra: String::new(),
            extra_env: String::new(),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        let n = reg.entry(self.name.clone()).or_insert(1);
        *n = n.saturating_sub(1);
        if *n == 0 {
            reg.remove(&self.name);
            if std::env::var("KDECK_LAB_KEEP").map(|v| v == "1").unwrap_or(false) {
                eprintln!("KDECK_LAB_KEEP=1: lab {} left up ({})", self.name, self.dir.display());
                return;
            }
            let r = lab_sh(&["down", "--name", &self.name]);
            if !r.ok {
                eprintln!("lab.sh down --name {} failed: {}", self.name, r.stderr);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client for lab addresses only (traffic tests): keep-alive or one-shot.

/// One HTTP/1.1 connection, reused while the server keeps it open.
pub struct HttpConn {
    addr: String,
    stream: Option<std::io::BufReader<std::net::TcpStream>>,
}

impl HttpConn {
    /// `addr` like `10.77.1.11:80` (must be a lab address).
    pub fn new(addr: &str) -> HttpConn {
        assert!(addr.starts_with("10.77.") || addr.starts_with("127."), "lab traffic only: {addr}");
        HttpConn { addr: addr.to_string(), stream: None }
    }

    /// GET `path` with `Host: host`; returns (status, body). `keep_alive: false` closes after.
    pub fn get(&mut self, host: &str, path: &str, keep_alive: bool) -> std::io::Result<(u16, String)> {
        use std::io::{BufRead, Read, Write};
        if self.stream.is_none() {
            let addr: std::net::SocketAddr = self.addr.parse().map_err(|_| std::io::Error::other("bad addr"))?;
            let s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            s.set_nodelay(true)?;
            self.stream = Some(std::io::BufReader::new(s));
        }
        let r = self.stream.as_mut().unwrap();
        let conn = if keep_alive { "keep-alive" } else { "close" };
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kdeck-lab\r\nConnection: {conn}\r\n\r\n");
        let res = (|| {
            r.get_mut().write_all(req.as_bytes())?;
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before response"));
            }
            let status: u16 =
                line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
            let mut len: Option<usize> = None;
            let mut close = false;
            loop {
                let mut h = String::new();
                r.read_line(&mut h)?;
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().ok();
                    }
                    if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                        close = true;
                    }
                }
            }
            let mut body = Vec::new();
            match len {
                Some(n) => {
                    body.resize(n, 0);
                    r.read_exact(&mut body)?;
                }
                None => {
                    r.read_to_end(&mut body)?;
                    close = true;
                }
            }
            Ok((status, String::from_utf8_lossy(&body).into_owned(), close))
        })();
        match res {
            Ok((status, body, close)) => {
                if close || !keep_alive {
                    self.stream = None;
                }
                Ok((status, body))
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// One-shot GET (new connection, `Connection: close`).
pub fn http_get(addr: &str, host: &str, path: &str) -> std::io::Result<(u16, String)> {
    HttpConn::new(addr).get(host, path, false)
}

/// Result of a `RequestLoop`.
#[derive(Debug, Default)]
pub struct LoopStats {
    pub ok: usize,
    /// non-2xx answers and transport errors
    pub failed: usize,
    /// body (trimmed) → count, for 2xx answers
    pub bodies: std::collections::BTreeMap<String, usize>,
    /// first few failures, for the assertion message
    pub errors: Vec<String>,
}

/// A bounded request loop against a lab address: two threads (one keep-alive connection, one
/// new connection per request), a request every `pause` each, stopping on `stop()` or after
/// `max_requests` per thread / 120 s, whichever comes first.
pub struct RequestLoop {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<LoopStats>>,
}

impl RequestLoop {
    pub fn start(addr: &str, host: &str, path: &str, pause: std::time::Duration, max_requests: usize) -> RequestLoop {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = [true, false]
            .into_iter()
            .map(|keep| {
                let (addr, host, path, stop) = (addr.to_string(), host.to_string(), path.to_string(), stop.clone());
                std::thread::spawn(move || {
                    let mut st = LoopStats::default();
                    let mut c = HttpConn::new(&addr);
                    let started = std::time::Instant::now();
                    for _ in 0..max_requests {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) || started.elapsed().as_secs() > 120 {
                            break;
                        }
                        match c.get(&host, &path, keep) {
                            Ok((s, body)) if (200..300).contains(&s) => {
                                st.ok += 1;
                                *st.bodies.entry(body.trim().to_string()).or_insert(0) += 1;
                            }
                            Ok((s, body)) => {
                                st.failed += 1;
                                if st.errors.len() < 5 {
                                    st.errors.push(format!("status {s}: {}", body.trim()));
                                }
                            }
                            Err(e) => {
                                st.failed += 1;
                                if st.errors.len() < 5 {
                                    st.errors.push(format!("error: {e}"));
                                }
                            }
                        }
                        std::thread::sleep(pause);
                    }
                    st
                })
            })
            .collect();
        RequestLoop { stop, threads }
    }

    pub fn stop(self) -> LoopStats {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut all = LoopStats::default();
        for t in self.threads {
            let st = t.join().expect("request loop thread");
            all.ok += st.ok;
            all.failed += st.failed;
            for (k, v) in st.bodies {
                *all.bodies.entry(k).or_insert(0) += v;
            }
            all.errors.extend(st.errors);
        }
        all
    }
}

/// The lab each module of the lab harness uses, by network number: modules on one network share
/// a lab (or cannot be up at once), so they take turns; modules on different networks may run
/// side by side. A module missing here runs alone.
const GROUPS: &[(&str, &[&str])] = &[
    ("net1", &["proxy", "real_kamal"]),
    ("net2", &["backend_docker", "backend_ssh"]),
    ("net3", &["build", "deploy_dialog", "engine", "engine_build", "interop_manage", "interop_trace", "row_actions", "traffic"]),
    ("net4", &["dashboard_e2e"]),
    ("net5", &["fleet_watch", "resources_cli", "resources_live", "resources_prune"]),
    ("net6", &["accessories", "fleet_accessories"]),
    ("net7", &["exec_pty"]),
    ("net11", &["lifecycle"]),
    ("net13", &["cli_on_lab"]),
    ("net16", &["destinations"]),
    ("net14", &["scale_smoke"]),
    ("net17", &["rollout"]),
];

/// Modules of one group that may still run side by side: each works on its own service of the
/// shared lab and none takes a host down.
const TEAMS: &[&[&str]] = &[&["resources_cli", "resources_live", "resources_prune"]];

/// The group of a test file (`tests/lab/engine.rs` → "net3"), or None.
fn group_of(file: &str) -> Option<&'static str> {
    let stem = Path::new(file).file_stem()?.to_str()?;
    GROUPS.iter().find(|(_, mods)| mods.contains(&stem)).map(|(g, _)| *g)
}

/// Who holds a turn: the module's team (its first module) or the module's file.
fn holder_of(file: &'static str) -> &'static str {
    let stem = Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    TEAMS.iter().find(|t| t.contains(&stem)).map_or(file, |t| t[0])
}

/// Which module (or team) holds each group (None: a module outside every group), and how many of
/// its tests.
type Turns = (Mutex<Vec<(Option<&'static str>, &'static str, usize)>>, std::sync::Condvar);

fn turns() -> &'static Turns {
    static T: OnceLock<Turns> = OnceLock::new();
    T.get_or_init(|| (Mutex::new(Vec::new()), std::sync::Condvar::new()))
}

/// A test's turn in the lab harness (see [`turn`]); the next module of its group may start once
/// every test of this one has dropped its turn.
pub struct Turn {
    group: Option<&'static str>,
    file: &'static str,
}

/// Waits until no test of another module on the same lab network runs, then holds a turn for the
/// caller's module until dropped. The lab tests of one module run in parallel with each other
/// (they share their labs with care: a fault lock, distinct services); modules of one group
/// ([`GROUPS`]) share labs by name, take hosts down and reuse network numbers, so they never
/// overlap; modules of different groups may. Call it first in every lab test.
#[track_caller]
pub fn turn() -> Turn {
    let caller = std::panic::Location::caller().file();
    let (group, file) = (group_of(caller), holder_of(caller));
    timing("call");
    let (m, cv) = turns();
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    // another module of the group, or (for a module outside every group) any other module
    let blocked = |held: &[(Option<&str>, &str, usize)]| held.iter().any(|(hg, hf, _)| *hf != file && (group.is_none() || hg.is_none() || *hg == group));
    while blocked(&g) {
        g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
    }
    match g.iter_mut().find(|(_, hf, _)| *hf == file) {
        Some(held) => held.2 += 1,
        None => g.push((group, file, 1)),
    }
    drop(g);
    timing("start");
    Turn { group, file }
}

/// With `KDECK_LAB_TIMING=<file>`, appends `<unix ms> <call|start|end> <test>` per lab test, to
/// see where the harness's time goes.
fn timing(what: &str) {
    use std::io::Write as _;
    let Some(path) = std::env::var_os("KDECK_LAB_TIMING") else { return };
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let name = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        // one write per line: two tests append at once
        let _ = f.write_all(format!("{ms} {what} {name}\n").as_bytes());
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        timing("end");
        let (m, cv) = turns();
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = g.iter().position(|(hg, hf, _)| *hf == self.file && *hg == self.group) {
            g[i].2 -= 1;
            if g[i].2 == 0 {
                g.remove(i);
                cv.notify_all();
            }
        }
    }
}
