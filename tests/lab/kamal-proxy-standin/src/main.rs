//! kamal-proxy stand-in for the kamal-deck test lab. NOT a product and not kamal-proxy:
//! a small re-implementation of the command line and routing behaviour that Kamal 2.11 and
//! kamal-deck rely on (see README.md), because the real image cannot be pulled in the lab.
//!
//! `kamal-proxy run` is the daemon (HTTP on :80, control socket in /tmp); every other
//! command is a client that sends its argv over the socket and prints what the daemon says.

mod dns;
mod flags;
mod http;
mod rollout;

use flags::Kind::{Bool, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const VERSION: &str = "v0.9.2";

// ---------------------------------------------------------------------------------------------
// paths, time, logging

fn state_dir() -> PathBuf {
    if let Ok(d) = std::env::var("KAMAL_PROXY_STATE_DIR") {
        return d.into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/home/kamal-proxy".into());
    PathBuf::from(home).join(".config/kamal-proxy")
}

fn socket_path() -> PathBuf {
    std::env::var("KAMAL_PROXY_SOCKET").map(PathBuf::from).unwrap_or_else(|_| "/tmp/kamal-proxy.sock".into())
}

/// `2026-11-22T14:07:43Z` (UTC, whole seconds); with `millis` adds `.123`.
fn timestamp(millis: bool) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // civil-from-days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let base = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60);
    if millis {
        format!("{base}.{:03}Z", now.subsec_millis())
    } else {
        format!("{base}Z")
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// One JSON log line on stdout (what `docker logs kamal-proxy` shows).
fn log_event(level: &str, msg: &str, fields: &[(&str, String)]) {
    let mut line = format!("{{\"time\":{},\"level\":\"{level}\",\"msg\":{}", json_str(&timestamp(true)), json_str(msg));
    for (k, v) in fields {
        line.push_str(&format!(",{}:{}", json_str(k), json_str(v)));
    }
    line.push('}');
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A request's log line, as kamal-proxy v0.9.2's logging middleware writes it (slog JSON:
/// the same keys in the same order; ints for port, status, duration in ns and the lengths).
fn log_request(req: &http::Request, resp: &http::Response, service: &str, target: &str, took: Duration, peer: &(String, String)) {
    let header = |name: &str| http::header(&req.headers, name).unwrap_or("").to_string();
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let forwarded = header("X-Forwarded-For");
    let remote = if forwarded.is_empty() { peer.0.clone() } else { forwarded };
    // Go's server reports 0 for a request without a body, as here.
    let body_len = req.body.len();
    let resp_type = http::header(&resp.headers, "Content-Type").unwrap_or("").to_string();
    let s = |v: &str| json_str(v);
    let line = format!(
        "{{\"time\":{},\"level\":\"INFO\",\"msg\":\"Request\",\"host\":{},\"port\":80,\"path\":{},\"request_id\":{},\"status\":{},\"service\":{},\"target\":{},\"duration\":{},\"method\":{},\"req_content_length\":{},\"req_content_type\":{},\"resp_content_length\":{},\"resp_content_type\":{},\"client_addr\":{},\"client_port\":{},\"remote_addr\":{},\"user_agent\":{},\"proto\":{},\"scheme\":\"http\",\"query\":{}}}",
        s(&timestamp(true)),
        s(&header("Host")),
        s(path),
        s(&header("X-Request-ID")),
        resp.status,
        s(service),
        s(target),
        took.as_nanos(),
        s(&req.method),
        body_len,
        s(&header("Content-Type")),
        if req.method == "HEAD" { 0 } else { resp.body.len() },
        s(&resp_type),
        s(&peer.0),
        s(&peer.1),
        s(&remote),
        s(&header("User-Agent")),
        s(&req.version),
        s(query),
    );
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Appends this invocation's argv to `<state>/argv.log` in the lab's trace format.
fn record_argv(args: &[String]) {
    let dir = state_dir();
    let _ = std::fs::create_dir_all(&dir);
    let mut line = format!("{} kamal-proxy", timestamp(false));
    for a in args {
        line.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
    }
    line.push('\n');
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("argv.log")) {
        let _ = f.write_all(line.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// state

#[derive(Clone, Debug, PartialEq)]
enum Mode {
    Running,
    Stopped(String),
    Paused,
}

#[derive(Clone, Debug)]
struct Service {
    name: String,
    target: String,
    hosts: Vec<String>,
    path_prefixes: Vec<String>,
    mode: Mode,
    target_timeout: Duration,
    max_pause: Duration,
    tls: bool,
    /// Health-check settings of the last `deploy` (a `rollout deploy` checks with them).
    health: Health,
    /// `rollout deploy`'s target (empty: none); requests reach it only under a split.
    rollout_target: String,
    /// `rollout set`'s split (None: no split, or `rollout stop`).
    split: Option<rollout::Split>,
}

#[derive(Clone, Debug)]
struct Health {
    path: String,
    port: Option<u16>,
    host: Option<String>,
    interval: Duration,
    timeout: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Health { path: "/up".into(), port: None, host: None, interval: Duration::from_secs(1), timeout: Duration::from_secs(5) }
    }
}

impl Service {
    fn new(name: String) -> Service {
        Service {
            name,
            target: String::new(),
            hosts: vec![],
            path_prefixes: vec![],
            mode: Mode::Running,
            target_timeout: Duration::from_secs(30),
            max_pause: Duration::from_secs(30),
            tls: false,
            health: Health::default(),
            rollout_target: String::new(),
            split: None,
        }
    }

    /// The target this request goes to: the rollout target when a split sends its
    /// `kamal-rollout` cookie there, else the live one.
    fn target_for(&self, req: &http::Request) -> &str {
        match &self.split {
            Some(split) if !self.rollout_target.is_empty() && split.uses_rollout(&rollout::cookie(&req.headers)) => &self.rollout_target,
            _ => &self.target,
        }
    }
}

struct Shared {
    services: Mutex<BTreeMap<String, Service>>,
    /// notified on every route/mode change (paused requests wait on it)
    changed: Condvar,
    /// in-flight requests per target, for draining
    inflight: Mutex<HashMap<String, usize>>,
    drained: Condvar,
}

const STATE_FILE: &str = "kamal-proxy.state";

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}
fn unesc(s: &str) -> String {
    let mut o = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => o.push('\n'),
                Some(x) => o.push(x),
                None => {}
            }
        } else {
            o.push(c)
        }
    }
    o
}

fn save_state(services: &BTreeMap<String, Service>) {
    let mut t = String::from("# kamal-proxy stand-in state (kdeck lab)\n");
    for s in services.values() {
        t.push_str(&format!("service {}\ntarget {}\n", esc(&s.name), esc(&s.target)));
        for h in &s.hosts {
            t.push_str(&format!("host {}\n", esc(h)));
        }
        for p in &s.path_prefixes {
            t.push_str(&format!("path-prefix {}\n", esc(p)));
        }
        match &s.mode {
            Mode::Running => t.push_str("mode running\n"),
            Mode::Paused => t.push_str("mode paused\n"),
            Mode::Stopped(m) => t.push_str(&format!("mode stopped\nmessage {}\n", esc(m))),
        }
        t.push_str(&format!("target-timeout-ms {}\nmax-pause-ms {}\ntls {}\n", s.target_timeout.as_millis(), s.max_pause.as_millis(), s.tls));
        let hc = &s.health;
        t.push_str(&format!("hc-path {}\nhc-interval-ms {}\nhc-timeout-ms {}\n", esc(&hc.path), hc.interval.as_millis(), hc.timeout.as_millis()));
        if let Some(p) = hc.port {
            t.push_str(&format!("hc-port {p}\n"));
        }
        if let Some(h) = &hc.host {
            t.push_str(&format!("hc-host {}\n", esc(h)));
        }
        if !s.rollout_target.is_empty() {
            t.push_str(&format!("rollout-target {}\n", esc(&s.rollout_target)));
        }
        if let Some(sp) = &s.split {
            t.push_str(&format!("rollout-percent {}\nrollout-list {}\n", sp.percent, esc(&sp.list.join(","))));
        }
        t.push_str("end\n");
    }
    let dir = state_dir();
    let _ = std::fs::create_dir_all(&dir);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    if std::fs::write(&tmp, t).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(STATE_FILE));
    }
}

fn load_state() -> BTreeMap<String, Service> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(state_dir().join(STATE_FILE)) else { return out };
    let mut cur: Option<Service> = None;
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        let v = unesc(v);
        match (k, cur.as_mut()) {
            ("service", _) => cur = Some(Service::new(v)),
            ("target", Some(s)) => s.target = v,
            ("host", Some(s)) => s.hosts.push(v),
            ("path-prefix", Some(s)) => s.path_prefixes.push(v),
            ("mode", Some(s)) => {
                s.mode = match v.as_str() {
                    "paused" => Mode::Paused,
                    "stopped" => Mode::Stopped(String::new()),
                    _ => Mode::Running,
                }
            }
            ("message", Some(s)) => s.mode = Mode::Stopped(v),
            ("target-timeout-ms", Some(s)) => s.target_timeout = Duration::from_millis(v.parse().unwrap_or(30000)),
            ("max-pause-ms", Some(s)) => s.max_pause = Duration::from_millis(v.parse().unwrap_or(30000)),
            ("tls", Some(s)) => s.tls = v == "true",
            ("hc-path", Some(s)) => s.health.path = v,
            ("hc-interval-ms", Some(s)) => s.health.interval = Duration::from_millis(v.parse().unwrap_or(1000)),
            ("hc-timeout-ms", Some(s)) => s.health.timeout = Duration::from_millis(v.parse().unwrap_or(5000)),
            ("hc-port", Some(s)) => s.health.port = v.parse().ok(),
            ("hc-host", Some(s)) => s.health.host = Some(v),
            ("rollout-target", Some(s)) => s.rollout_target = v,
            ("rollout-percent", Some(s)) => s.split = Some(rollout::Split { percent: v.parse().unwrap_or(0), list: vec![] }),
            ("rollout-list", Some(s)) => {
                if let Some(sp) = s.split.as_mut() {
                    sp.list = if v.is_empty() { vec![] } else { v.split(',').map(str::to_string).collect() };
                }
            }
            ("end", Some(_)) => {
                let s = cur.take().unwrap();
                out.insert(s.name.clone(), s);
            }
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// routing and proxying

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

fn route<'a>(services: &'a BTreeMap<String, Service>, host: &str, path: &str) -> Option<&'a Service> {
    let path_ok = |s: &Service| s.path_prefixes.is_empty() || s.path_prefixes.iter().any(|p| path.starts_with(p.as_str()));
    let host = host.to_ascii_lowercase();
    let host_match = |pat: &str| {
        let pat = pat.to_ascii_lowercase();
        if let Some(suffix) = pat.strip_prefix("*.") {
            host.ends_with(&format!(".{suffix}"))
        } else {
            pat == host
        }
    };
    // longest path prefix first among exact host matches, then wildcard services
    let mut best: Option<(&Service, usize)> = None;
    for s in services.values().filter(|s| !s.target.is_empty() && s.hosts.iter().any(|h| host_match(h)) && path_ok(s)) {
        let len = s.path_prefixes.iter().map(String::len).max().unwrap_or(0);
        if best.map(|(_, l)| len > l).unwrap_or(true) {
            best = Some((s, len));
        }
    }
    if best.is_none() {
        for s in services.values().filter(|s| !s.target.is_empty() && s.hosts.is_empty() && path_ok(s)) {
            let len = s.path_prefixes.iter().map(String::len).max().unwrap_or(0);
            if best.map(|(_, l)| len > l).unwrap_or(true) {
                best = Some((s, len));
            }
        }
    }
    best.map(|(s, _)| s)
}

struct InflightGuard<'a> {
    shared: &'a Shared,
    target: String,
}
impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        let mut m = self.shared.inflight.lock().unwrap();
        if let Some(n) = m.get_mut(&self.target) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.target);
            }
        }
        self.shared.drained.notify_all();
    }
}

fn maintenance_page(message: &str) -> String {
    let msg = if message.is_empty() { "Service temporarily unavailable" } else { message };
    format!("<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body><h1>{}</h1></body></html>\n", html_escape(msg))
}
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn handle_request(shared: &Shared, req: &http::Request, client_ip: &str) -> (http::Response, String, String) {
    let host = http::header(&req.headers, "Host").map(strip_port).unwrap_or("").to_string();
    let path = req.target.split('?').next().unwrap_or("/").to_string();
    // pick the route; wait while the service is paused
    let picked = {
        let mut services = shared.services.lock().unwrap();
        let started = Instant::now();
        loop {
            let Some(s) = route(&services, &host, &path) else { break None };
            match &s.mode {
                Mode::Paused => {
                    let max = s.max_pause;
                    let left = max.checked_sub(started.elapsed());
                    match left {
                        Some(left) if !left.is_zero() => {
                            services = shared.changed.wait_timeout(services, left).unwrap().0;
                        }
                        _ => break Some(Err(http::simple(504, "<h1>Gateway Timeout</h1>\n"))),
                    }
                }
                Mode::Stopped(m) => break Some(Err(http::simple(503, &maintenance_page(m)))),
                Mode::Running => {
                    // counted while the route is held, so a concurrent deploy's drain waits for it
                    let target = s.target_for(req).to_string();
                    *shared.inflight.lock().unwrap().entry(target.clone()).or_insert(0) += 1;
                    break Some(Ok((s.name.clone(), target, s.target_timeout)));
                }
            }
        }
    };
    let (name, target, target_timeout) = match picked {
        None => return (http::simple(404, "<h1>Not Found</h1>\n"), String::new(), String::new()),
        Some(Err(resp)) => return (resp, String::new(), String::new()),
        Some(Ok(s)) => s,
    };
    let _guard = InflightGuard { shared, target: target.clone() };
    let extra = vec![
        ("X-Forwarded-For".to_string(), client_ip.to_string()),
        ("X-Forwarded-Proto".to_string(), "http".to_string()),
        ("X-Forwarded-Host".to_string(), host.clone()),
    ];
    let resp = match dns::resolve(&target) {
        Err(e) => {
            log_event("WARN", "Target unreachable", &[("target", target.clone()), ("error", e.to_string())]);
            http::simple(502, "<h1>Bad Gateway</h1>\n")
        }
        Ok(addr) => match http::forward(addr, None, req, &extra, target_timeout) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => http::simple(504, "<h1>Gateway Timeout</h1>\n"),
            Err(e) => {
                log_event("WARN", "Error while proxying", &[("target", target.clone()), ("error", e.to_string())]);
                http::simple(502, "<h1>Bad Gateway</h1>\n")
            }
        },
    };
    (resp, name, target)
}

fn serve_client(shared: Arc<Shared>, stream: TcpStream) {
    let peer_addr = stream.peer_addr().ok();
    let peer = peer_addr.map(|a| a.ip().to_string()).unwrap_or_default();
    let peer = (peer, peer_addr.map(|a| a.port().to_string()).unwrap_or_default());
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(75)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                let _ = http::write_response(&mut writer, &http::simple(400, "<h1>Bad Request</h1>\n"), false, false);
                return;
            }
        };
        let started = Instant::now();
        let keep = http::keep_alive(&req);
        let (resp, service, target) = handle_request(&shared, &req, &peer.0);
        let ok = http::write_response(&mut writer, &resp, req.method == "HEAD", keep).is_ok();
        log_request(&req, &resp, &service, &target, started.elapsed(), &peer);
        if !ok || !keep {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// control commands (run inside the daemon, output streamed back to the client)

struct Reply<'a> {
    out: &'a mut UnixStream,
}
impl Reply<'_> {
    fn line(&mut self, fd: u8, text: &str) {
        for l in text.lines() {
            let _ = writeln!(self.out, "{fd} {l}");
        }
        let _ = self.out.flush();
    }
    fn exit(&mut self, code: i32) {
        let _ = writeln!(self.out, "x {code}");
        let _ = self.out.flush();
    }
}

fn deploy_spec() -> Vec<(&'static str, flags::Kind)> {
    vec![
        ("target", Value),
        ("read-target", Value),
        ("host", Value),
        ("path-prefix", Value),
        ("strip-path-prefix", Bool),
        ("deploy-timeout", Value),
        ("drain-timeout", Value),
        ("health-check-path", Value),
        ("health-check-interval", Value),
        ("health-check-timeout", Value),
        ("health-check-port", Value),
        ("health-check-host", Value),
        ("target-timeout", Value),
        ("buffer-requests", Bool),
        ("buffer-responses", Bool),
        ("buffer-memory", Value),
        ("max-request-body", Value),
        ("max-response-body", Value),
        ("tls", Bool),
        ("tls-certificate-path", Value),
        ("tls-private-key-path", Value),
        ("tls-redirect", Bool),
        ("tls-acme-cache-path", Value),
        ("tls-staging", Bool),
        ("canonical-host", Value),
        ("forward-headers", Bool),
        ("error-pages", Value),
        ("log-request-header", Value),
        ("log-response-header", Value),
        ("force", Bool),
        ("scope-cookie-paths", Bool),
        ("writer-affinity-timeout", Value),
        ("read-target-websockets", Bool),
        ("help", Bool),
    ]
}

fn health_check(target: &str, path: &str, host: Option<&str>, port: Option<u16>, timeout: Duration) -> Result<u16, String> {
    let (thost, tport) = dns::split_host_port(target).map_err(|e| e.to_string())?;
    let addr = dns::resolve(&format!("{thost}:{}", port.unwrap_or(tport))).map_err(|e| e.to_string())?;
    let req = http::Request {
        method: "GET".into(),
        target: if path.starts_with('/') { path.to_string() } else { format!("/{path}") },
        version: "HTTP/1.1".into(),
        headers: vec![("User-Agent".into(), "kamal-proxy".into())],
        body: vec![],
    };
    let r = http::forward(addr, Some(host.unwrap_or(&thost)), &req, &[], timeout).map_err(|e| e.to_string())?;
    if (200..300).contains(&r.status) {
        Ok(r.status)
    } else {
        Err(format!("status {}", r.status))
    }
}

fn drain(shared: &Shared, target: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut m = shared.inflight.lock().unwrap();
    while m.get(target).copied().unwrap_or(0) > 0 {
        let now = Instant::now();
        if now >= deadline {
            log_event("WARN", "Drain timed out", &[("target", target.to_string())]);
            return;
        }
        m = shared.drained.wait_timeout(m, deadline - now).unwrap().0;
    }
}

fn cmd_deploy(shared: &Shared, args: &[String], r: &mut Reply) -> i32 {
    let p = match flags::parse(args, &deploy_spec()) {
        Ok(p) => p,
        Err(e) => {
            r.line(2, &format!("Error: {e}"));
            return 1;
        }
    };
    let res = (|| -> Result<(), String> {
        let name = match p.positional.as_slice() {
            [n] => n.clone(),
            _ => return Err(format!("accepts 1 arg(s), received {}", p.positional.len())),
        };
        let targets = p.all("target");
        let target = match targets.as_slice() {
            [] => return Err("required flag(s) \"target\" not set".into()),
            [t, ..] => t.clone(),
        };
        dns::split_host_port(&target).map_err(|e| e.to_string())?;
        let hosts: Vec<String> = p.all("host").iter().flat_map(|h| h.split(',')).map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect();
        let deploy_timeout = p.duration("deploy-timeout", Duration::from_secs(30))?;
        let drain_timeout = p.duration("drain-timeout", Duration::from_secs(30))?;
        let hc_interval = p.duration("health-check-interval", Duration::from_secs(1))?;
        let hc_timeout = p.duration("health-check-timeout", Duration::from_secs(5))?;
        let target_timeout = p.duration("target-timeout", Duration::from_secs(30))?;
        let hc_path = p.one("health-check-path").unwrap_or("/up").to_string();
        let hc_port = match p.one("health-check-port") {
            Some(v) => Some(v.parse::<u16>().map_err(|_| format!("invalid argument \"{v}\" for \"--health-check-port\" flag"))?),
            None => None,
        };
        let hc_host = p.one("health-check-host").map(str::to_string);
        let health = Health { path: hc_path.clone(), port: hc_port, host: hc_host.clone(), interval: hc_interval, timeout: hc_timeout };
        let force = p.bool("force", false)?;
        let tls = p.bool("tls", false)?;
        for b in ["buffer-requests", "buffer-responses", "strip-path-prefix", "tls-redirect", "tls-staging", "forward-headers", "scope-cookie-paths", "read-target-websockets"] {
            p.bool(b, false)?;
        }
        for d in ["writer-affinity-timeout"] {
            p.duration(d, Duration::ZERO)?;
        }
        // a host may belong to one service only
        {
            let services = shared.services.lock().unwrap();
            for s in services.values().filter(|s| s.name != name) {
                if s.hosts.iter().any(|h| hosts.contains(h)) || (s.hosts.is_empty() && hosts.is_empty() && !s.target.is_empty() && s.path_prefixes == p.all("path-prefix")) {
                    return Err("host settings conflict with another service".into());
                }
            }
        }
        log_event("INFO", "Deploying", &[("service", name.clone()), ("target", target.clone()), ("hosts", hosts.join(","))]);
        if !force {
            let deadline = Instant::now() + deploy_timeout;
            loop {
                let started = Instant::now();
                let left = deadline.saturating_duration_since(started);
                if left.is_zero() {
                    log_event("INFO", "Target failed to become healthy", &[("service", name.clone()), ("target", target.clone())]);
                    return Err(format!("target failed to become healthy within configured timeout ({})", flags::format_duration(deploy_timeout)));
                }
                match health_check(&target, &hc_path, hc_host.as_deref(), hc_port, hc_timeout.min(left)) {
                    Ok(_) => break,
                    Err(e) => log_event("INFO", "Healthcheck failed", &[("target", target.clone()), ("path", hc_path.clone()), ("error", e)]),
                }
                let wait = hc_interval.saturating_sub(started.elapsed()).min(deadline.saturating_duration_since(Instant::now()));
                std::thread::sleep(wait);
            }
        }
        // healthy: switch atomically, then drain the previous target
        let old = {
            let mut services = shared.services.lock().unwrap();
            let entry = services.entry(name.clone()).or_insert_with(|| Service::new(name.clone()));
            entry.health = health;
            let old = std::mem::replace(&mut entry.target, target.clone());
            entry.hosts = hosts.clone();
            entry.path_prefixes = p.all("path-prefix");
            entry.target_timeout = target_timeout;
            entry.tls = tls;
            save_state(&services);
            shared.changed.notify_all();
            old
        };
        log_event("INFO", "Deployed", &[("service", name.clone()), ("target", target.clone()), ("previous", old.clone())]);
        if !old.is_empty() && old != target {
            drain(shared, &old, drain_timeout);
        }
        Ok(())
    })();
    match res {
        Ok(()) => 0,
        Err(e) => {
            r.line(2, &format!("Error: {e}"));
            1
        }
    }
}

fn one_service(args: &[String], spec: &[(&str, flags::Kind)]) -> Result<(String, flags::Parsed), String> {
    let p = flags::parse(args, spec)?;
    match p.positional.as_slice() {
        [n] => Ok((n.clone(), p)),
        _ => Err(format!("accepts 1 arg(s), received {}", p.positional.len())),
    }
}

fn set_mode(shared: &Shared, name: &str, f: impl FnOnce(&mut Service)) -> Result<String, String> {
    let mut services = shared.services.lock().unwrap();
    let s = services.get_mut(name).ok_or_else(|| "service not found".to_string())?;
    f(s);
    let target = s.target.clone();
    save_state(&services);
    shared.changed.notify_all();
    Ok(target)
}

fn dispatch(shared: &Shared, argv: &[String], r: &mut Reply) -> i32 {
    let Some(cmd) = argv.first() else {
        r.line(2, "Error: no command");
        return 1;
    };
    let args = &argv[1..];
    let res: Result<(), String> = match cmd.as_str() {
        "deploy" => return cmd_deploy(shared, args, r),
        "remove" | "rm" => one_service(args, &[]).and_then(|(name, _)| {
            let mut services = shared.services.lock().unwrap();
            services.remove(&name).ok_or_else(|| "service not found".to_string())?;
            save_state(&services);
            shared.changed.notify_all();
            log_event("INFO", "Removed", &[("service", name)]);
            Ok(())
        }),
        "list" | "ls" => flags::parse(args, &[]).map(|_| {
            let services = shared.services.lock().unwrap();
            // kamal-proxy's table: cells padded to the widest, two spaces apart, every cell
            // styled (header italic, service bold), a blank Host for a catch-all service.
            let mut rows = vec![["Service", "Host", "Target", "State", "TLS"].map(String::from)];
            for s in services.values() {
                let state = match &s.mode {
                    Mode::Running => "running",
                    Mode::Paused => "paused",
                    Mode::Stopped(_) => "stopped",
                };
                let tls = if s.tls { "yes" } else { "no" };
                rows.push([s.name.clone(), s.hosts.join(","), s.target.clone(), state.into(), tls.into()]);
            }
            let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
            let mut t = String::new();
            for (n, row) in rows.iter().enumerate() {
                for (i, cell) in row.iter().enumerate() {
                    let style = if n == 0 { "3;94" } else if i == 0 { "1;34" } else { "" };
                    t.push_str(&format!("\u{1b}[{style}m{cell}\u{1b}[0m{}  ", " ".repeat(widths[i] - cell.len())));
                }
                t.push('\n');
            }
            r.line(1, &t);
        }),
        "stop" => one_service(args, &[("drain-timeout", Value), ("message", Value)]).and_then(|(name, p)| {
            let drain_timeout = p.duration("drain-timeout", Duration::from_secs(30))?;
            let message = p.one("message").unwrap_or("").to_string();
            let target = set_mode(shared, &name, |s| s.mode = Mode::Stopped(message))?;
            drain(shared, &target, drain_timeout);
            log_event("INFO", "Stopped", &[("service", name)]);
            Ok(())
        }),
        "pause" => one_service(args, &[("drain-timeout", Value), ("max-pause", Value)]).and_then(|(name, p)| {
            let drain_timeout = p.duration("drain-timeout", Duration::from_secs(30))?;
            let max_pause = p.duration("max-pause", Duration::from_secs(30))?;
            let target = set_mode(shared, &name, |s| {
                s.mode = Mode::Paused;
                s.max_pause = max_pause;
            })?;
            drain(shared, &target, drain_timeout);
            log_event("INFO", "Paused", &[("service", name)]);
            Ok(())
        }),
        "resume" => one_service(args, &[]).and_then(|(name, _)| {
            set_mode(shared, &name, |s| s.mode = Mode::Running)?;
            log_event("INFO", "Resumed", &[("service", name)]);
            Ok(())
        }),
        "rollout" => return rollout::dispatch(shared, args, r),
        other => Err(format!("unknown command \"{other}\" for \"kamal-proxy\"")),
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            r.line(2, &format!("Error: {e}"));
            1
        }
    }
}

fn serve_control(shared: Arc<Shared>, mut s: UnixStream) {
    let mut buf = Vec::new();
    if s.read_to_end(&mut buf).is_err() {
        return;
    }
    let text = String::from_utf8_lossy(&buf);
    let argv: Vec<String> = if text.is_empty() { vec![] } else { text.split('\0').map(str::to_string).collect() };
    let mut r = Reply { out: &mut s };
    let code = dispatch(&shared, &argv, &mut r);
    r.exit(code);
}

// ---------------------------------------------------------------------------------------------
// entry points

extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
    fn _exit(code: i32) -> !;
}
extern "C" fn on_term(_sig: i32) {
    // state is saved on every change, so there is nothing to flush
    unsafe { _exit(0) }
}

fn run(args: &[String]) -> i32 {
    let spec = [("http-port", Value), ("https-port", Value), ("metrics-port", Value), ("http3", Bool), ("debug", Bool), ("help", Bool)];
    let p = match flags::parse(args, &spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let port = p.one("http-port").unwrap_or("80").to_string();
    unsafe {
        signal(15, on_term as extern "C" fn(i32) as usize); // SIGTERM: PID 1 in a container ignores it otherwise
        signal(2, on_term as extern "C" fn(i32) as usize);
    }
    let services = load_state();
    let shared = Arc::new(Shared { services: Mutex::new(services), changed: Condvar::new(), inflight: Mutex::new(HashMap::new()), drained: Condvar::new() });
    let sock = socket_path();
    let _ = std::fs::remove_file(&sock);
    let control = match UnixListener::bind(&sock) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Error: cannot listen on {}: {e}", sock.display());
            return 1;
        }
    };
    let http = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Error: cannot listen on :{port}: {e}");
            return 1;
        }
    };
    {
        let services = shared.services.lock().unwrap();
        log_event(
            "INFO",
            "Server started",
            &[("http", port.clone()), ("version", format!("{VERSION} (kdeck lab stand-in)")), ("services", services.keys().cloned().collect::<Vec<_>>().join(","))],
        );
    }
    let sh = shared.clone();
    std::thread::spawn(move || {
        for c in control.incoming().flatten() {
            let sh = sh.clone();
            std::thread::spawn(move || serve_control(sh, c));
        }
    });
    for c in http.incoming() {
        match c {
            Ok(c) => {
                let sh = shared.clone();
                std::thread::spawn(move || serve_client(sh, c));
            }
            Err(e) => {
                log_event("WARN", "accept failed", &[("error", e.to_string())]);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    0
}

/// Client side of every command but `run`: ship argv to the daemon, relay its output.
fn client(argv: &[String]) -> i32 {
    let sock = socket_path();
    let mut s = match UnixStream::connect(&sock) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: cannot reach kamal-proxy at {} (is `kamal-proxy run` running?): {e}", sock.display());
            return 1;
        }
    };
    if s.write_all(argv.join("\0").as_bytes()).is_err() || s.shutdown(std::net::Shutdown::Write).is_err() {
        eprintln!("Error: lost connection to kamal-proxy");
        return 1;
    }
    let mut code = 1;
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { break };
        let (tag, text) = line.split_at(line.find(' ').unwrap_or(line.len()));
        let text = text.strip_prefix(' ').unwrap_or(text);
        match tag {
            "1" => println!("{text}"),
            "2" => eprintln!("{text}"),
            "x" => code = text.trim().parse().unwrap_or(1),
            _ => {}
        }
    }
    code
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    record_argv(&args);
    let code = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("version") | Some("--version") => {
            println!("{VERSION} (kdeck lab stand-in, not kamal-proxy)");
            0
        }
        Some("help") | Some("--help") | Some("-h") | None => {
            println!("kamal-proxy stand-in (kdeck test lab; not a product)\n\nCommands: run, deploy, remove, list, stop, pause, resume, rollout, version");
            0
        }
        Some(_) => client(&args),
    };
    std::process::exit(code);
}
