//! Host and container resources, read through the host's existing connection (no agent):
//! one exec per tick for `/proc/loadavg`, `/proc/stat`, `/proc/meminfo`, `df -P -k` of the
//! filesystems holding Docker's data root and the service's volumes, and the json-file log
//! sizes; the Docker API for per-container stats (one-shot), inspect (limits, restarts,
//! OOM-killed, log config), events (`oom`) and, less often, `system df` and the prune preview.
//!
//! Pure parts (parsing, warnings, the pre-deploy room check) are plain functions.

use super::model::*;
use super::prune;
use super::raw;
use super::spec::FleetSpec;
use crate::docker::DockerHost;
use crate::ssh::{Pool, Session};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

#[derive(Debug, Clone)]
pub struct ResourceOptions {
    /// Host + container sampling period.
    pub interval: Duration,
    /// `system df` + prune preview period (dockerd walks layers for it; keep it rare).
    pub df_every: Duration,
    /// Samples kept for sparklines.
    pub history: usize,
    pub thresholds: Thresholds,
    /// Compute `system df` and the prune preview at all.
    pub with_df: bool,
    /// `df` + log sizes every this many host samples (the rest read `/proc` only).
    pub disk_every: u32,
    /// Keep one exec running per host that prints a sample every `interval` using shell
    /// builtins (no process per read but `sleep` and `df`), instead of one exec per sample.
    pub stream: bool,
    /// Re-inspect a container at least this often (events and state changes re-inspect at once).
    pub inspect_every: Duration,
}

impl Default for ResourceOptions {
    fn default() -> Self {
        ResourceOptions {
            interval: Duration::from_secs(2),
            df_every: Duration::from_secs(60),
            history: 90,
            thresholds: Thresholds::default(),
            with_df: true,
            disk_every: 5,
            stream: true,
            inspect_every: Duration::from_secs(30),
        }
    }
}

// ----------------------------------------------------------------------------------------
// Parsing the host exec

/// What one `/proc` + `df` + `stat` read gives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProcSample {
    pub load: Option<[f64; 3]>,
    /// (busy, total) jiffies of the aggregate `cpu` line.
    pub cpu: Option<(u64, u64)>,
    pub cpus: u32,
    pub mem_total: u64,
    pub mem_available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    /// (filesystem, total, used, avail, mount, asked path)
    pub df: Vec<(String, u64, u64, u64, String, String)>,
    /// path → bytes
    pub files: HashMap<String, u64>,
}

const SEP: &str = "--kdeck--";

/// The command for one sample: `paths` go to `df`, `files` to `stat`.
pub fn proc_command(paths: &[String], files: &[String]) -> String {
    let q = |v: &[String]| v.iter().map(|p| shell_words::quote(p).into_owned()).collect::<Vec<_>>().join(" ");
    let mut c = format!(
        "export LC_ALL=C; cat /proc/loadavg; echo {SEP}; grep '^cpu' /proc/stat; echo {SEP}; grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo; echo {SEP}"
    );
    // One df per path so each line maps back to what was asked.
    for p in paths {
        let qp = shell_words::quote(p);
        c.push_str(&format!("; df -P -k {qp} 2>/dev/null | tail -n +2 | sed \"s|\\$| {}|\"", p.replace('|', "")));
    }
    c.push_str(&format!("; echo {SEP}"));
    if !files.is_empty() {
        c.push_str(&format!("; stat -c '%s %n' {} 2>/dev/null", q(files)));
    }
    c.push_str("; true");
    c
}

/// A shell loop printing one `@@S … @@E` block per `interval`, `/proc` read with builtins;
/// `df` and `stat` every `disk_every` blocks. It dies on the first write after the channel
/// closes (SIGPIPE), so dropping the stream ends it on the host.
pub fn proc_loop_command(paths: &[String], files: &[String], interval: Duration, disk_every: u32) -> String {
    let q = |v: &[String]| v.iter().map(|p| shell_words::quote(p).into_owned()).collect::<Vec<_>>().join(" ");
    let mut disk = String::new();
    for p in paths {
        let qp = shell_words::quote(p);
        disk.push_str(&format!("df -P -k {qp} 2>/dev/null | tail -n +2 | sed \"s|\\$| {}|\"; ", p.replace(['|', '"', '\\', '$', '`'], "")));
    }
    disk.push_str(&format!("echo {SEP}; "));
    if !files.is_empty() {
        disk.push_str(&format!("stat -c '%s %n' {} 2>/dev/null; ", q(files)));
    }
    let secs = format!("{:.1}", interval.as_secs_f64().max(0.2));
    let script = format!(
        "export LC_ALL=C; i=0; while :; do echo @@S; read l < /proc/loadavg; echo \"$l\"; echo {SEP}; \
         while read l; do case $l in cpu*) echo \"$l\";; *) break;; esac; done < /proc/stat; echo {SEP}; \
         while read k v u; do case $k in MemTotal:|MemAvailable:|SwapTotal:|SwapFree:) echo \"$k $v $u\";; esac; done < /proc/meminfo; echo {SEP}; \
         if [ $((i % {n})) -eq 0 ]; then echo @@D; {disk}fi; echo @@E; i=$((i+1)); sleep {secs}; done",
        n = disk_every.max(1)
    );
    format!("exec sh -c {}", shell_words::quote(&script))
}

/// The persistent reader of [`proc_loop_command`] output.
struct ProcStream {
    stream: crate::ssh::ExecStream,
    key: (Vec<String>, Vec<String>),
    block: Vec<String>,
    ended: bool,
    /// The newest block that carried `df`/`stat` data.
    disk: Option<ProcSample>,
}

impl ProcStream {
    /// The newest complete block available now; waits up to `wait` when none is. `Some(true)`
    /// in the tuple = the block carries `df`/`stat` data.
    async fn latest(&mut self, wait: Duration) -> Option<ProcSample> {
        use crate::ssh::ExecEvent;
        let mut last: Option<String> = None;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Once a block is in hand, only drain what is already there.
            let until = if last.is_some() { tokio::time::Instant::now() } else { deadline };
            let next = match tokio::time::timeout_at(until, self.stream.next()).await {
                Ok(e) => e,
                Err(_) => break,
            };
            match next {
                Some(ExecEvent::Stdout(l)) => match l.as_str() {
                    "@@S" => self.block.clear(),
                    "@@E" => {
                        let disk = self.block.iter().any(|l| l == "@@D");
                        let text = self.block.iter().filter(|l| *l != "@@D").cloned().collect::<Vec<_>>().join("\n");
                        if disk {
                            self.disk = Some(parse_proc(&text));
                        }
                        last = Some(text);
                        self.block.clear();
                    }
                    _ => self.block.push(l),
                },
                Some(ExecEvent::Stderr(_)) => {}
                Some(ExecEvent::Exit(_)) | None => {
                    self.ended = true;
                    break;
                }
            }
        }
        last.map(|t| parse_proc(&t))
    }
}

pub fn parse_proc(out: &str) -> ProcSample {
    let mut s = ProcSample::default();
    let parts: Vec<&str> = out.split(SEP).collect();
    if let Some(l) = parts.first() {
        let f: Vec<f64> = l.split_whitespace().take(3).filter_map(|x| x.parse().ok()).collect();
        if f.len() == 3 {
            s.load = Some([f[0], f[1], f[2]]);
        }
    }
    if let Some(p) = parts.get(1) {
        for l in p.lines() {
            let mut f = l.split_whitespace();
            match f.next() {
                Some("cpu") => {
                    let v: Vec<u64> = f.filter_map(|x| x.parse().ok()).collect();
                    if v.len() >= 4 {
                        let total: u64 = v.iter().take(8).sum();
                        let idle = v[3] + v.get(4).copied().unwrap_or(0);
                        s.cpu = Some((total - idle, total));
                    }
                }
                Some(x) if x.starts_with("cpu") => s.cpus += 1,
                _ => {}
            }
        }
    }
    if let Some(p) = parts.get(2) {
        for l in p.lines() {
            let mut f = l.split_whitespace();
            let (Some(k), Some(v)) = (f.next(), f.next().and_then(|v| v.parse::<u64>().ok())) else { continue };
            let b = v * 1024;
            match k {
                "MemTotal:" => s.mem_total = b,
                "MemAvailable:" => s.mem_available = b,
                "SwapTotal:" => s.swap_total = b,
                "SwapFree:" => s.swap_free = b,
                _ => {}
            }
        }
    }
    if let Some(p) = parts.get(3) {
        for l in p.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            // fs blocks used avail cap% mount asked
            if f.len() >= 7 {
                let n = |i: usize| f[i].parse::<u64>().unwrap_or(0) * 1024;
                s.df.push((f[0].into(), n(1), n(2), n(3), f[5].into(), f[6..].join(" ")));
            }
        }
    }
    if let Some(p) = parts.get(4) {
        for l in p.lines() {
            if let Some((n, path)) = l.trim().split_once(' ') {
                if let Ok(n) = n.parse() {
                    s.files.insert(path.to_string(), n);
                }
            }
        }
    }
    s
}

/// Docker CLI's CPU % from two cumulative samples: container delta over system delta × cpus.
pub fn cpu_percent(prev: (u64, u64), cur: (u64, u64), cpus: u32) -> Option<f64> {
    let (dc, ds) = (cur.0.checked_sub(prev.0)?, cur.1.checked_sub(prev.1)?);
    if ds == 0 {
        return None;
    }
    Some(dc as f64 / ds as f64 * cpus.max(1) as f64 * 100.0)
}

/// Memory `docker stats` shows: usage minus inactive file cache (cgroup v2) / cache (v1).
pub fn mem_usage(usage: u64, stats: Option<&HashMap<String, u64>>) -> u64 {
    let cache = stats.and_then(|s| s.get("total_inactive_file").or(s.get("inactive_file")).or(s.get("cache")).copied()).unwrap_or(0);
    usage.saturating_sub(cache)
}

// ----------------------------------------------------------------------------------------
// Warnings and the pre-deploy room check (pure)

fn mib(b: u64) -> String {
    human_bytes(b)
}

/// `1.5 GiB`, `64 MiB`, `512 B`.
pub fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else if v < 10.0 {
        format!("{v:.1} {}", U[i])
    } else {
        format!("{v:.0} {}", U[i])
    }
}

/// Warnings of one host from its latest sample. `restarts_recent` of each container is the
/// number of restarts seen within the restart window.
pub fn warnings(h: &HostResources, th: &Thresholds) -> Vec<ResourceWarning> {
    let mut w = Vec::new();
    let host = h.host.clone();
    if h.mem_total > 0 && h.mem_pct() > th.host_memory_pct {
        w.push(ResourceWarning {
            kind: WarningKind::HostMemory,
            host: host.clone(),
            container: None,
            message: format!("host memory {:.0} % used ({} of {})", h.mem_pct(), mib(h.mem_used), mib(h.mem_total)),
        });
    }
    for d in &h.disks {
        if d.used_pct() > th.disk_pct {
            w.push(ResourceWarning {
                kind: WarningKind::Disk,
                host: host.clone(),
                container: None,
                message: format!("disk {} {:.0} % full ({} free; {})", d.mount, d.used_pct(), mib(d.avail_bytes), d.holds.join(", ")),
            });
        }
    }
    for c in &h.containers {
        if let Some(p) = c.mem_pct_of_limit() {
            if p > th.container_memory_pct {
                w.push(ResourceWarning {
                    kind: WarningKind::ContainerMemory,
                    host: host.clone(),
                    container: Some(c.name.clone()),
                    message: format!("{} memory {:.0} % of its {} limit", c.name, p, mib(c.mem_limit.unwrap_or(0))),
                });
            }
        }
        if c.oom_killed {
            let when = c.last_oom.map(|t| format!(" at {}", t.format("%H:%M:%S"))).unwrap_or_default();
            w.push(ResourceWarning {
                kind: WarningKind::OomKilled,
                host: host.clone(),
                container: Some(c.name.clone()),
                message: format!("{} was OOM-killed{when} (restarts: {})", c.name, c.restarts),
            });
        }
        let recent = c.restarts_recent;
        if recent >= th.restart_loop_count || c.state == "restarting" {
            w.push(ResourceWarning {
                kind: WarningKind::RestartLoop,
                host: host.clone(),
                container: Some(c.name.clone()),
                message: format!("{} is restarting in a loop ({} restarts recently, {} total)", c.name, recent, c.restarts),
            });
        }
    }
    w
}

/// One host's answer to "is there room for a second copy of each role's container?".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomCheck {
    pub host: String,
    /// Memory a second copy of every role container on the host needs (current usage, or
    /// the limit when that is larger — a booting container may grow to it).
    pub needed_bytes: u64,
    pub available_bytes: u64,
    /// Role → bytes of its estimated second copy.
    pub per_role: Vec<(String, u64)>,
    /// Disk the new image needs (the average size of the service's images on the host) and
    /// what the filesystem of Docker's data root has free; `None` without disk data.
    pub disk: Option<(u64, u64)>,
    pub fits: bool,
    /// Plain sentence for the confirmation dialog.
    pub message: String,
}

/// Before a deploy the old and new container of each role run side by side for a while:
/// estimate a second copy per role from the running containers and compare with what the
/// host has available (MemAvailable). The new image is pulled first: compare its likely size
/// (the service's images on the host, on average) with the free space where Docker keeps it.
/// Hosts without data say so.
pub fn room_check(snap: &ResourceSnapshot, roles_by_host: &[(String, Vec<String>)]) -> Vec<RoomCheck> {
    roles_by_host
        .iter()
        .map(|(host, roles)| {
            let Some(h) = snap.host(host).filter(|h| h.mem_total > 0) else {
                return RoomCheck {
                    host: host.clone(),
                    needed_bytes: 0,
                    available_bytes: 0,
                    per_role: vec![],
                    disk: None,
                    fits: false,
                    message: format!("{host}: no resource data (host unreachable?) — cannot tell whether a second copy fits"),
                };
            };
            let per_role: Vec<(String, u64)> = roles
                .iter()
                .map(|r| {
                    let est = h
                        .containers
                        .iter()
                        .filter(|c| &c.role == r && c.state == "running")
                        .map(|c| c.mem_bytes.max(c.mem_limit.unwrap_or(0).min(h.mem_total)))
                        .max()
                        .unwrap_or(0);
                    (r.clone(), est)
                })
                .collect();
            let needed: u64 = per_role.iter().map(|(_, b)| b).sum();
            let available = h.mem_total.saturating_sub(h.mem_used);
            let mem_fits = needed <= available;
            let root = h.disks.iter().find(|d| d.holds.iter().any(|x| x == "docker data root"));
            let disk = root.filter(|_| h.kamal.images > 0).map(|d| (h.kamal.images_bytes / h.kamal.images, d.avail_bytes));
            let disk_fits = disk.is_none_or(|(need, free)| need <= free);
            let detail = per_role.iter().map(|(r, b)| format!("{r} {}", human_bytes(*b))).collect::<Vec<_>>().join(", ");
            let mut message = if mem_fits {
                format!("{host}: room for a second copy ({} needed: {detail}; {} available)", human_bytes(needed), human_bytes(available))
            } else {
                format!(
                    "{host}: NOT ENOUGH MEMORY for a second copy during the deploy: needs {} ({detail}), only {} available",
                    human_bytes(needed),
                    human_bytes(available)
                )
            };
            if let (Some((need, free)), Some(d)) = (disk, root) {
                if !disk_fits {
                    message = format!(
                        "{message}; NOT ENOUGH DISK for the new image: about {} needed, only {} free on {}",
                        human_bytes(need),
                        human_bytes(free),
                        d.mount
                    );
                }
            }
            let fits = mem_fits && disk_fits;
            RoomCheck { host: host.clone(), needed_bytes: needed, available_bytes: available, per_role, disk, fits, message }
        })
        .collect()
}

/// `logging:` options that would cap a container's json-file log (Kamal `logging.options`).
pub fn log_cap_hint(c: &ContainerResources) -> Option<String> {
    let driver = c.log_driver.as_deref().unwrap_or("json-file");
    if driver != "json-file" {
        return None;
    }
    if c.log_opts.iter().any(|(k, _)| k == "max-size") {
        return None;
    }
    Some("logging:\n  driver: json-file\n  options:\n    max-size: 10m\n    max-file: 3".into())
}

// ----------------------------------------------------------------------------------------
// Sampling

#[derive(Default)]
struct CState {
    cpu_prev: Option<(u64, u64)>,
    cpu_hist: VecDeque<f64>,
    mem_hist: VecDeque<u64>,
    restarts: Option<u64>,
    /// When restart counts went up.
    restart_times: VecDeque<(Instant, u64)>,
}

/// Per-host sampler state: previous counters, histories, OOM events, caches.
pub struct HostSampler {
    pub host: String,
    spec: Arc<FleetSpec>,
    opts: ResourceOptions,
    cpu_prev: Option<(u64, u64)>,
    cpu_hist: VecDeque<f64>,
    mem_hist: VecDeque<u64>,
    cstate: HashMap<String, CState>,
    /// container id → (count, last)
    ooms: HashMap<String, (u32, DateTime<Utc>)>,
    docker_root: Option<String>,
    last_df: Option<Instant>,
    df: Option<DockerDf>,
    kamal: KamalUsage,
    image_layers: HashMap<String, Vec<String>>,
    pub last_plan: Option<prune::PrunePlan>,
    last: HostResources,
    proc_stream: Option<ProcStream>,
    /// Last disk/log-size reading (the stream reads them every `disk_every` samples).
    last_disk: Option<ProcSample>,
    /// id → (state, when, inspect)
    inspects: HashMap<String, (String, Instant, bollard::models::ContainerInspectResponse)>,
    list_cache: Option<(Instant, Vec<bollard::models::ContainerSummary>)>,
}

impl HostSampler {
    pub fn new(host: &str, spec: Arc<FleetSpec>, opts: ResourceOptions) -> Self {
        HostSampler {
            host: host.into(),
            spec,
            opts,
            cpu_prev: None,
            cpu_hist: VecDeque::new(),
            mem_hist: VecDeque::new(),
            cstate: HashMap::new(),
            ooms: HashMap::new(),
            docker_root: None,
            last_df: None,
            df: None,
            kamal: KamalUsage::default(),
            image_layers: HashMap::new(),
            last_plan: None,
            last: HostResources { host: host.into(), ..Default::default() },
            proc_stream: None,
            last_disk: None,
            inspects: HashMap::new(),
            list_cache: None,
        }
    }

    /// A container event: its inspect data is stale.
    pub fn note_event(&mut self, id: &str) {
        self.inspects.remove(id);
        self.list_cache = None;
    }

    /// Records an `oom` event for a container.
    pub fn note_oom(&mut self, id: &str, at: DateTime<Utc>) {
        let e = self.ooms.entry(id.to_string()).or_insert((0, at));
        e.0 += 1;
        e.1 = at;
    }

    fn push<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
        q.push_back(v);
        while q.len() > cap {
            q.pop_front();
        }
    }

    /// `/proc` + disk data: from the persistent stream (restarted when the paths change or it
    /// ended), or one exec when streaming is off.
    async fn read_proc(&mut self, session: &Session, paths: Vec<String>, files: Vec<String>) -> Result<ProcSample, String> {
        if !self.opts.stream {
            let out = session.exec(&proc_command(&paths, &files)).await.map_err(|e| e.to_string())?;
            return Ok(parse_proc(&out.stdout));
        }
        let key = (paths, files);
        let restart = match &self.proc_stream {
            Some(p) => p.ended || p.key != key,
            None => true,
        };
        if restart {
            self.proc_stream = None;
            let cmd = proc_loop_command(&key.0, &key.1, self.opts.interval, self.opts.disk_every);
            let stream = session.exec_stream(&cmd).await.map_err(|e| e.to_string())?;
            self.proc_stream = Some(ProcStream { stream, key, block: Vec::new(), ended: false, disk: None });
            self.last_disk = None;
        }
        let wait = self.opts.interval + Duration::from_secs(3);
        let Some(ps) = self.proc_stream.as_mut() else { return Err("no proc stream".into()) };
        let got = ps.latest(wait).await;
        if let Some(d) = ps.disk.take() {
            self.last_disk = Some(d);
        }
        match got {
            Some(mut sample) => {
                if let Some(d) = &self.last_disk {
                    sample.df = d.df.clone();
                    sample.files = d.files.clone();
                }
                Ok(sample)
            }
            None => {
                if ps.ended {
                    self.proc_stream = None;
                }
                Err("no /proc sample from the host".into())
            }
        }
    }

    /// Takes one sample; on error keeps the previous data and records the error.
    pub async fn sample(&mut self, session: &Session) -> HostResources {
        match self.try_sample(session).await {
            Ok(h) => {
                self.last = h.clone();
                h
            }
            Err(e) => {
                let mut h = self.last.clone();
                h.error = Some(e);
                h.conn = session.state().borrow().clone();
                h.warnings = warnings(&h, &self.opts.thresholds);
                h
            }
        }
    }

    async fn try_sample(&mut self, session: &Session) -> Result<HostResources, String> {
        let dh = DockerHost::new(session);
        if self.docker_root.is_none() {
            let info = raw::get_json(session, "/v1.41/info").await?;
            self.docker_root = Some(raw::str_of(&info, "DockerRootDir")).filter(|s| !s.is_empty());
        }
        // The container list changes only with events (which drop the cache) — re-list rarely.
        let list = match self.list_cache.as_ref().filter(|(at, _)| at.elapsed() < self.opts.inspect_every) {
            Some((_, l)) => l.clone(),
            None => {
                let l = dh.containers(&self.spec.filter(None)).await.map_err(|e| e.to_string())?;
                self.list_cache = Some((Instant::now(), l.clone()));
                l
            }
        };
        // Inspect every container (limits, restarts, OOM, log path, mounts), stats for running ones.
        let mut conts = Vec::new();
        let mut disk_paths: Vec<(String, String)> = Vec::new(); // (path, what)
        if let Some(r) = &self.docker_root {
            disk_paths.push((r.clone(), "docker data root".into()));
        }
        let mut log_paths = Vec::new();
        let inspect_every = self.opts.inspect_every;
        let cached: Vec<Option<bollard::models::ContainerInspectResponse>> = list
            .iter()
            .map(|c| {
                let id = c.id.clone().unwrap_or_default();
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                self.inspects.get(&id).filter(|(st, at, _)| *st == state && at.elapsed() < inspect_every).map(|(_, _, i)| i.clone())
            })
            .collect();
        let stats_futs = list.iter().zip(cached).map(|(c, cached)| {
            let id = c.id.clone().unwrap_or_default();
            let running = c.state.map(|s| s.to_string()).as_deref() == Some("running");
            let dh = dh.clone();
            async move {
                let fresh = cached.is_none();
                let insp = match cached {
                    Some(i) => Some(i),
                    None => dh.inspect(&id).await.ok(),
                };
                let insp = insp.map(|i| (i, fresh));
                let stats = if running {
                    let o = bollard::query_parameters::StatsOptions { stream: false, one_shot: true };
                    dh.api.stats(&id, Some(o)).next().await.and_then(|r| r.ok())
                } else {
                    None
                };
                (insp, stats)
            }
        });
        let results = futures::future::join_all(stats_futs).await;
        let now = Utc::now();
        let cap = self.opts.history;
        let window = Duration::from_secs(self.opts.thresholds.restart_window_secs);
        let mut seen = Vec::new();
        for (c, (insp, stats)) in list.iter().zip(results) {
            let id = c.id.clone().unwrap_or_default();
            seen.push(id.clone());
            let insp = insp.map(|(i, fresh)| {
                if fresh {
                    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                    self.inspects.insert(id.clone(), (state, Instant::now(), i.clone()));
                }
                i
            });
            let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
            let role = c.labels.as_ref().and_then(|l| l.get("role").cloned()).unwrap_or_default();
            let state = c.state.map(|s| s.to_string()).unwrap_or_default();
            let mut r = ContainerResources { id: id.clone(), name, role, state, ..Default::default() };
            if let Some(i) = &insp {
                r.restarts = i.restart_count.unwrap_or(0).max(0) as u64;
                let st = i.state.as_ref();
                r.oom_killed = st.and_then(|s| s.oom_killed).unwrap_or(false);
                if let Some(hc) = &i.host_config {
                    r.mem_limit = hc.memory.filter(|m| *m > 0).map(|m| m as u64);
                    if let Some(lc) = &hc.log_config {
                        r.log_driver = lc.typ.clone();
                        r.log_opts = lc.config.clone().unwrap_or_default().into_iter().collect();
                        r.log_opts.sort();
                    }
                }
                if let Some(lp) = i.log_path.clone().filter(|p| !p.is_empty()) {
                    log_paths.push((id.clone(), lp));
                }
                for m in i.mounts.iter().flatten() {
                    if let Some(src) = m.source.clone().filter(|s| !s.is_empty()) {
                        let what = match (m.typ.as_deref(), &m.name) {
                            (Some("volume"), Some(n)) => format!("volume {n}"),
                            _ => format!("bind {src}"),
                        };
                        if !disk_paths.iter().any(|(p, _)| *p == src) {
                            disk_paths.push((src, what));
                        }
                    }
                }
            }
            let cs = self.cstate.entry(id.clone()).or_default();
            if let Some(s) = stats {
                let cpu = s.cpu_stats.as_ref();
                let total = cpu.and_then(|c| c.cpu_usage.as_ref()).and_then(|u| u.total_usage);
                let sys = cpu.and_then(|c| c.system_cpu_usage);
                let online = cpu.and_then(|c| c.online_cpus).unwrap_or(1);
                if let (Some(t), Some(sy)) = (total, sys) {
                    if let Some(prev) = cs.cpu_prev {
                        r.cpu_pct = cpu_percent(prev, (t, sy), online);
                    }
                    cs.cpu_prev = Some((t, sy));
                }
                if let Some(m) = &s.memory_stats {
                    r.mem_bytes = mem_usage(m.usage.unwrap_or(0), m.stats.as_ref());
                }
            } else {
                cs.cpu_prev = None;
            }
            if let Some(p) = r.cpu_pct {
                Self::push(&mut cs.cpu_hist, p, cap);
            }
            if r.state == "running" {
                Self::push(&mut cs.mem_hist, r.mem_bytes, cap);
            }
            // Restart loop: count increases within the window.
            let nowi = Instant::now();
            if let Some(prev) = cs.restarts {
                if r.restarts > prev {
                    cs.restart_times.push_back((nowi, r.restarts - prev));
                }
            }
            cs.restarts = Some(r.restarts);
            while cs.restart_times.front().is_some_and(|(t, _)| nowi.duration_since(*t) > window) {
                cs.restart_times.pop_front();
            }
            let recent: u64 = cs.restart_times.iter().map(|(_, n)| n).sum();
            r.cpu_history = cs.cpu_hist.iter().copied().collect();
            r.mem_history = cs.mem_hist.iter().copied().collect();
            if let Some((n, at)) = self.ooms.get(&id) {
                r.oom_events = *n;
                r.last_oom = Some(*at);
                if now.signed_duration_since(*at).num_seconds() < window.as_secs() as i64 {
                    r.oom_killed = true;
                }
            }
            r.restarts_recent = recent as u32;
            conts.push(r);
        }
        self.cstate.retain(|k, _| seen.contains(k));
        self.inspects.retain(|k, _| seen.contains(k));

        // One exec: /proc, df, log sizes.
        let paths: Vec<String> = disk_paths.iter().map(|(p, _)| p.clone()).collect();
        let files: Vec<String> = log_paths.iter().map(|(_, p)| p.clone()).collect();
        let ps = self.read_proc(session, paths, files).await?;
        for c in conts.iter_mut() {
            if let Some((_, p)) = log_paths.iter().find(|(id, _)| *id == c.id) {
                c.log_bytes = ps.files.get(p).copied();
            }
        }
        let mut disks: Vec<DiskUsage> = Vec::new();
        for (fs, total, used, avail, mount, asked) in &ps.df {
            let what = disk_paths.iter().find(|(p, _)| p == asked).map(|(_, w)| w.clone()).unwrap_or_else(|| asked.clone());
            match disks.iter_mut().find(|d| d.mount == *mount) {
                Some(d) => {
                    if !d.holds.contains(&what) {
                        d.holds.push(what)
                    }
                }
                None => disks.push(DiskUsage {
                    mount: mount.clone(),
                    filesystem: fs.clone(),
                    total_bytes: *total,
                    used_bytes: *used,
                    avail_bytes: *avail,
                    holds: vec![what],
                }),
            }
        }
        let host_cpu = match (self.cpu_prev, ps.cpu) {
            (Some(p), Some(c)) => cpu_percent(p, c, 1),
            _ => None,
        };
        self.cpu_prev = ps.cpu;
        let mem_used = ps.mem_total.saturating_sub(ps.mem_available);
        if let Some(c) = host_cpu {
            Self::push(&mut self.cpu_hist, c, cap);
        }
        Self::push(&mut self.mem_hist, mem_used, cap);

        // system df + prune preview, rarely.
        if self.opts.with_df && self.last_df.is_none_or(|t| t.elapsed() >= self.opts.df_every) {
            self.last_df = Some(Instant::now());
            if let Ok(v) = raw::get_json(session, "/v1.41/system/df").await {
                self.df = Some(parse_system_df(&v));
            }
            if let Ok(st) = prune::gather(session, &self.spec.service, &mut self.image_layers).await {
                let p = prune::plan(&self.host, &st, &self.spec.repository, &self.spec.latest_tag, self.spec.retain_containers);
                let svc_imgs: Vec<&prune::PImage> = st.images.iter().filter(|i| i.service).collect();
                self.kamal = KamalUsage {
                    images: svc_imgs.len() as u64,
                    images_bytes: svc_imgs.iter().map(|i| i.size).sum(),
                    containers: st.containers.iter().filter(|c| c.service).count() as u64,
                    containers_running: st.containers.iter().filter(|c| c.service && c.state == "running").count() as u64,
                    reclaimable_bytes: p.reclaimed_bytes(),
                    prune_containers: p.containers.len() as u64,
                    prune_images: p.deleted_images.len() as u64,
                };
                self.last_plan = Some(p);
            }
        }

        let mut h = HostResources {
            host: self.host.clone(),
            conn: ConnState::Up,
            error: None,
            sampled_at: Some(now),
            cpus: ps.cpus,
            load: ps.load,
            cpu_pct: host_cpu,
            mem_total: ps.mem_total,
            mem_used,
            swap_total: ps.swap_total,
            swap_used: ps.swap_total.saturating_sub(ps.swap_free),
            docker_root: self.docker_root.clone(),
            disks,
            docker_df: self.df.clone(),
            kamal: self.kamal.clone(),
            containers: conts,
            cpu_history: self.cpu_hist.iter().copied().collect(),
            mem_history: self.mem_hist.iter().copied().collect(),
            warnings: vec![],
        };
        h.warnings = warnings(&h, &self.opts.thresholds);
        Ok(h)
    }
}

/// `/system/df` of API 1.41 (`LayersSize`, `Images[]`, …), reduced like `docker system df`.
pub fn parse_system_df(v: &serde_json::Value) -> DockerDf {
    let arr = |k: &str| v.get(k).and_then(|x| x.as_array()).cloned().unwrap_or_default();
    let images = arr("Images");
    let layers = raw::u64_of(v, "LayersSize");
    let mut used = 0u64;
    let mut active = 0u64;
    for i in &images {
        if i.get("Containers").and_then(|x| x.as_i64()).unwrap_or(0) > 0 {
            active += 1;
            used += raw::u64_of(i, "Size").saturating_sub(raw::u64_of(i, "SharedSize"));
        }
    }
    let containers = arr("Containers");
    let volumes = arr("Volumes");
    let cache = arr("BuildCache");
    DockerDf {
        images: images.len() as u64,
        images_active: active,
        images_bytes: layers,
        images_reclaimable_bytes: layers.saturating_sub(used),
        containers: containers.len() as u64,
        containers_running: containers.iter().filter(|c| raw::str_of(c, "State") == "running").count() as u64,
        containers_bytes: containers.iter().map(|c| raw::u64_of(c, "SizeRw")).sum(),
        volumes: volumes.len() as u64,
        volumes_bytes: volumes.iter().filter_map(|x| x.get("UsageData")).map(|u| raw::u64_of(u, "Size")).sum(),
        build_cache_bytes: cache.iter().map(|c| raw::u64_of(c, "Size")).sum(),
        build_cache_reclaimable_bytes: cache
            .iter()
            .filter(|c| !c.get("InUse").and_then(|x| x.as_bool()).unwrap_or(false))
            .map(|c| raw::u64_of(c, "Size"))
            .sum(),
    }
}

// ----------------------------------------------------------------------------------------
// The live monitor

pub struct MonitorHandle {
    _guard: DropGuard,
    plans: Arc<std::sync::Mutex<HashMap<String, prune::PrunePlan>>>,
}

impl MonitorHandle {
    /// The latest prune preview per host (refreshed every `df_every`).
    pub fn prune_plans(&self) -> Vec<prune::PrunePlan> {
        let m = self.plans.lock().unwrap();
        let mut v: Vec<_> = m.values().cloned().collect();
        v.sort_by(|a, b| a.host.cmp(&b.host));
        v
    }
}

pub struct Monitor;

impl Monitor {
    /// Samples every host of `spec` every `opts.interval` (and right after an `oom`, `die` or
    /// `start` event of the service), publishing a [`ResourceSnapshot`].
    pub fn spawn(pool: Pool, spec: FleetSpec, opts: ResourceOptions) -> (watch::Receiver<ResourceSnapshot>, MonitorHandle) {
        let hosts = spec.hosts();
        let (tx, rx) = watch::channel(ResourceSnapshot {
            service: spec.service.clone(),
            thresholds: opts.thresholds,
            hosts: hosts.iter().map(|h| HostResources { host: h.clone(), ..Default::default() }).collect(),
        });
        let (htx, hrx) = mpsc::unbounded_channel::<HostResources>();
        let cancel = CancellationToken::new();
        let plans = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let spec = Arc::new(spec);
        for h in hosts {
            let session = pool.get(&h);
            tokio::spawn(monitor_host(session, spec.clone(), opts.clone(), htx.clone(), cancel.clone(), plans.clone()));
        }
        drop(htx);
        tokio::spawn(async move {
            let mut hrx = hrx;
            while let Some(h) = hrx.recv().await {
                tx.send_modify(|s| {
                    if let Some(slot) = s.hosts.iter_mut().find(|x| x.host == h.host) {
                        *slot = h;
                    }
                });
            }
        });
        (rx, MonitorHandle { _guard: cancel.drop_guard(), plans })
    }
}

async fn monitor_host(
    session: Session,
    spec: Arc<FleetSpec>,
    opts: ResourceOptions,
    tx: mpsc::UnboundedSender<HostResources>,
    cancel: CancellationToken,
    plans: Arc<std::sync::Mutex<HashMap<String, prune::PrunePlan>>>,
) {
    let host = session.host().to_string();
    let mut sampler = HostSampler::new(&host, spec.clone(), opts.clone());
    let mut state_rx = session.state();
    loop {
        let cur = state_rx.borrow_and_update().clone();
        if cur != ConnState::Up {
            let mut h = sampler.last.clone();
            h.conn = cur;
            let _ = tx.send(h);
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = state_rx.changed() => if r.is_err() { return },
            }
            continue;
        }
        let dh = DockerHost::new(&session);
        let mut events = dh.events(&spec.service);
        let mut tick = tokio::time::interval(opts.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = state_rx.changed() => {
                    if r.is_err() { return }
                    if *state_rx.borrow() != ConnState::Up { break }
                    continue;
                }
                ev = events.next() => match ev {
                    Some(Ok(e)) => {
                        let action = e.action.clone().unwrap_or_default();
                        let id = e.actor.as_ref().and_then(|a| a.id.clone()).unwrap_or_default();
                        if action == "oom" {
                            let at = e.time.and_then(|t| DateTime::from_timestamp(t, 0)).unwrap_or_else(Utc::now);
                            sampler.note_oom(&id, at);
                        }
                        sampler.note_event(&id);
                        if !matches!(action.as_str(), "oom" | "die" | "start" | "restart" | "destroy") {
                            continue;
                        }
                        // sample right away
                    }
                    Some(Err(_)) | None => {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        events = dh.events(&spec.service);
                        // Events may have been missed meanwhile.
                        sampler.note_event("");
                        continue;
                    }
                },
                _ = tick.tick() => {}
            }
            let h = tokio::select! {
                _ = cancel.cancelled() => return,
                h = tokio::time::timeout(Duration::from_secs(15), sampler.sample(&session)) => h,
            };
            let h = match h {
                Ok(h) => h,
                Err(_) => {
                    let mut h = sampler.last.clone();
                    h.error = Some("sampling timed out".into());
                    h
                }
            };
            if let Some(p) = &sampler.last_plan {
                plans.lock().unwrap().insert(host.clone(), p.clone());
            }
            let _ = tx.send(h);
        }
    }
}

/// One full reading of every host (two samples `gap` apart so CPU % is known), for the
/// headless `details --resources`. Returns the snapshot and the prune preview per host.
pub async fn sample_once(pool: &Pool, spec: &FleetSpec, opts: ResourceOptions, gap: Duration) -> (ResourceSnapshot, Vec<prune::PrunePlan>) {
    let spec = Arc::new(spec.clone());
    let futs = spec.hosts().into_iter().map(|h| {
        let session = pool.get(&h);
        let spec = spec.clone();
        let opts = opts.clone();
        async move {
            let mut s = HostSampler::new(&h, spec, ResourceOptions { stream: false, ..opts });
            if let Err(e) = session.connected().await {
                let r = HostResources { host: h.clone(), conn: session.state().borrow().clone(), error: Some(e.to_string()), ..Default::default() };
                return (r, None);
            }
            let _ = s.sample(&session).await;
            tokio::time::sleep(gap).await;
            s.opts.with_df = false;
            let r = s.sample(&session).await;
            (r, s.last_plan.clone())
        }
    });
    let res = futures::future::join_all(futs).await;
    let mut plans = Vec::new();
    let mut hosts = Vec::new();
    for (h, p) in res {
        hosts.push(h);
        plans.extend(p);
    }
    (ResourceSnapshot { service: spec.service.clone(), thresholds: opts.thresholds, hosts }, plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC: &str = "0.52 0.40 0.31 2/345 6789\n--kdeck--\ncpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\n--kdeck--\nMemTotal:        2000000 kB\nMemAvailable:     500000 kB\nSwapTotal:       1000000 kB\nSwapFree:         900000 kB\n--kdeck--\n/dev/sda1 10000 9000 1000 90% / /var/lib/docker\ntmpfs 100 10 90 10% /data /var/lib/docker/volumes/fill/_data\n--kdeck--\n1234 /var/lib/docker/containers/abc/abc-json.log\n";

    #[test]
    fn parses_one_host_read() {
        let s = parse_proc(PROC);
        assert_eq!(s.load, Some([0.52, 0.40, 0.31]));
        assert_eq!(s.cpu, Some((150, 1000)));
        assert_eq!(s.cpus, 2);
        assert_eq!((s.mem_total, s.mem_available), (2_048_000_000, 512_000_000));
        assert_eq!(s.swap_total - s.swap_free, 102_400_000);
        assert_eq!(s.df.len(), 2);
        assert_eq!(s.df[0].4, "/");
        assert_eq!(s.df[1].5, "/var/lib/docker/volumes/fill/_data");
        assert_eq!(s.files.get("/var/lib/docker/containers/abc/abc-json.log"), Some(&1234));
        assert_eq!(parse_proc(""), ProcSample::default());
    }

    #[test]
    fn loop_command_runs_in_posix_sh() {
        let cmd = proc_loop_command(&["/".into(), "/no/such".into()], &["/proc/version".into()], Duration::from_millis(200), 2);
        let mut child = std::process::Command::new("sh").arg("-c").arg(&cmd).stdout(std::process::Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(900));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let blocks: Vec<&str> = text.split("@@S\n").filter(|b| b.contains("@@E")).collect();
        assert!(blocks.len() >= 3, "{text}");
        let first = parse_proc(&blocks[0].replace("@@D\n", "").replace("@@E", ""));
        assert!(first.load.is_some() && first.cpu.is_some() && first.mem_total > 0, "{text}");
        assert_eq!(first.df.len(), 1, "{text}");
        assert_eq!(first.df[0].5, "/");
        assert!(first.files.contains_key("/proc/version") || text.contains("stat"), "{text}");
        assert!(blocks[0].contains("@@D") && !blocks[1].contains("@@D") && blocks[2].contains("@@D"), "{text}");
    }

    #[test]
    fn cpu_percent_like_docker_stats() {
        assert_eq!(cpu_percent((100, 1000), (150, 1100), 2), Some(100.0));
        assert_eq!(cpu_percent((100, 1000), (150, 1000), 2), None);
        assert_eq!(cpu_percent((200, 1000), (150, 1100), 2), None);
    }

    fn host_with(mem_used: u64, disk_used: u64, c: ContainerResources) -> HostResources {
        HostResources {
            host: "h1".into(),
            conn: ConnState::Up,
            mem_total: 1000,
            mem_used,
            disks: vec![DiskUsage {
                mount: "/".into(),
                total_bytes: 100,
                used_bytes: disk_used,
                avail_bytes: 100 - disk_used,
                holds: vec!["docker data root".into()],
                ..Default::default()
            }],
            containers: vec![c],
            ..Default::default()
        }
    }

    #[test]
    fn warnings_fire_at_thresholds() {
        let th = Thresholds::default();
        let c = ContainerResources {
            name: "app-web-v1".into(),
            role: "web".into(),
            state: "running".into(),
            mem_bytes: 50,
            mem_limit: Some(100),
            ..Default::default()
        };
        assert!(warnings(&host_with(500, 50, c.clone()), &th).is_empty());
        let kinds = |h: &HostResources| warnings(h, &th).into_iter().map(|w| w.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&host_with(900, 50, c.clone())), vec![WarningKind::HostMemory]);
        assert_eq!(kinds(&host_with(500, 90, c.clone())), vec![WarningKind::Disk]);
        let hot = ContainerResources { mem_bytes: 90, oom_killed: true, ..c.clone() };
        assert_eq!(kinds(&host_with(500, 50, hot)), vec![WarningKind::ContainerMemory, WarningKind::OomKilled]);
        let looping = ContainerResources { restarts_recent: 3, ..c.clone() };
        assert_eq!(kinds(&host_with(500, 50, looping)), vec![WarningKind::RestartLoop]);
        // no limit: never a container-memory warning
        let unlimited = ContainerResources { mem_limit: None, mem_bytes: 10_000, ..c };
        assert!(warnings(&host_with(500, 50, unlimited), &th).is_empty());
    }

    #[test]
    fn room_check_says_plainly_when_it_does_not_fit() {
        let gib = 1u64 << 30;
        let web = ContainerResources { role: "web".into(), state: "running".into(), mem_bytes: gib / 2, ..Default::default() };
        let worker = ContainerResources { role: "worker".into(), state: "running".into(), mem_bytes: gib / 4, mem_limit: Some(gib), ..Default::default() };
        let h = HostResources { host: "h1".into(), mem_total: 4 * gib, mem_used: 3 * gib, containers: vec![web, worker], ..Default::default() };
        let snap = ResourceSnapshot { hosts: vec![h], ..Default::default() };
        let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
        assert!(r[0].fits, "{}", r[0].message);
        // worker counts its 1 GiB limit: 1.5 GiB needed, 1 GiB available
        let r = room_check(&snap, &[("h1".into(), vec!["web".into(), "worker".into()]), ("h9".into(), vec!["web".into()])]);
        assert!(!r[0].fits);
        assert!(r[0].message.contains("NOT ENOUGH MEMORY"), "{}", r[0].message);
        assert!(r[0].message.contains("1.5 GiB"), "{}", r[0].message);
        assert!(!r[1].fits && r[1].message.contains("no resource data"));

        // Enough memory, but the image (2 images, 3 GiB) does not fit on the data root's disk.
        let mut h = snap.hosts[0].clone();
        h.kamal.images = 2;
        h.kamal.images_bytes = 3 * gib;
        h.disks = vec![DiskUsage { mount: "/var".into(), avail_bytes: gib, holds: vec!["docker data root".into()], ..Default::default() }];
        let snap = ResourceSnapshot { hosts: vec![h.clone()], ..Default::default() };
        let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
        assert!(!r[0].fits, "{}", r[0].message);
        assert!(r[0].message.contains("NOT ENOUGH DISK") && r[0].message.contains("1.5 GiB needed, only 1.0 GiB free on /var"), "{}", r[0].message);
        assert_eq!(r[0].disk, Some((3 * gib / 2, gib)));
        h.disks[0].avail_bytes = 2 * gib;
        let snap = ResourceSnapshot { hosts: vec![h], ..Default::default() };
        let r = room_check(&snap, &[("h1".into(), vec!["web".into()])]);
        assert!(r[0].fits && !r[0].message.contains("DISK"), "{}", r[0].message);
    }

    #[test]
    fn system_df_like_the_cli() {
        let v = serde_json::json!({
            "LayersSize": 1000,
            "Images": [{"Containers": 1, "Size": 600, "SharedSize": 100}, {"Containers": 0, "Size": 400, "SharedSize": 100}],
            "Containers": [{"SizeRw": 5, "State": "running"}, {"SizeRw": 7, "State": "exited"}],
            "Volumes": [{"UsageData": {"Size": 30, "RefCount": 1}}, {"UsageData": {"Size": -1, "RefCount": 0}}],
            "BuildCache": null
        });
        let d = parse_system_df(&v);
        assert_eq!((d.images, d.images_active, d.images_bytes, d.images_reclaimable_bytes), (2, 1, 1000, 500));
        assert_eq!((d.containers, d.containers_running, d.containers_bytes), (2, 1, 12));
        assert_eq!((d.volumes, d.volumes_bytes, d.build_cache_bytes), (2, 30, 0));
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(64 << 20), "64 MiB");
    }
}
