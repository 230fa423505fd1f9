//! Sampling one host: the container list, inspect and stats, the `/proc` read, `system df`
//! and the prune preview, with the histories kept between samples.

use super::super::model::*;
use super::super::prune;
use super::super::raw;
use super::super::spec::FleetSpec;
use super::parse::{cpu_percent, mem_usage, parse_proc, parse_system_df, proc_command, proc_loop_command, ProcSample, ProcStream};
use super::warnings::warnings;
use super::ResourceOptions;
use crate::docker::DockerHost;
use crate::ssh::Session;
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse, ContainerSummary};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    pub(super) opts: ResourceOptions,
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
    pub(super) last: HostResources,
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
        self.learn_docker_root(session).await?;
        // Every Kamal app's containers: this app's are sampled in full, the others' memory only.
        let (list, others): (Vec<_>, Vec<_>) = self.container_list(&dh).await?.into_iter().partition(|c| self.own(c));
        // Inspect every container (limits, restarts, OOM, log path, mounts), stats for running ones.
        let mut conts = Vec::new();
        let mut disk_paths: Vec<(String, String)> = Vec::new(); // (path, what)
        if let Some(r) = &self.docker_root {
            disk_paths.push((r.clone(), "docker data root".into()));
        }
        let mut log_paths = Vec::new();
        let results = self.inspect_and_stats(&dh, &list).await;
        let now = Utc::now();
        let mut seen = Vec::new();
        for (c, (insp, stats)) in list.iter().zip(results) {
            seen.push(c.id.clone().unwrap_or_default());
            conts.push(self.container(c, insp, stats, now, &mut disk_paths, &mut log_paths));
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
        let disks = disks(&ps, &disk_paths);
        let (host_cpu, mem_used) = self.host_counters(&ps);
        let apps = self.app_memory(&dh, &conts, &others).await;

        // system df + prune preview, rarely.
        if self.opts.with_df && self.last_df.is_none_or(|t| t.elapsed() >= self.opts.df_every) {
            self.refresh_df(session).await;
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
            apps,
        };
        h.warnings = warnings(&h, &self.opts.thresholds);
        Ok(h)
    }

    /// A container of this app and destination (Kamal's label filter).
    fn own(&self, c: &ContainerSummary) -> bool {
        let get = |k: &str| c.labels.as_ref().and_then(|l| l.get(k)).map(String::as_str);
        get("service") == Some(self.spec.service.as_str()) && get("destination").unwrap_or("") == self.spec.destination.as_deref().unwrap_or("")
    }

    /// Memory per app on the host: this app's from its sampled containers, every other app's
    /// from a one-shot `stats` of each of its running containers.
    async fn app_memory(&self, dh: &DockerHost, own: &[ContainerResources], others: &[ContainerSummary]) -> Vec<AppMemory> {
        let running: Vec<&ContainerSummary> = others.iter().filter(|c| c.state.map(|s| s.to_string()).as_deref() == Some("running")).collect();
        let mems = futures::future::join_all(running.iter().map(|c| {
            let id = c.id.clone().unwrap_or_default();
            let dh = dh.clone();
            async move {
                let o = bollard::query_parameters::StatsOptions { stream: false, one_shot: true };
                let s = dh.api.stats(&id, Some(o)).next().await.and_then(|r| r.ok());
                s.and_then(|s| s.memory_stats).map(|m| mem_usage(m.usage.unwrap_or(0), m.stats.as_ref())).unwrap_or(0)
            }
        }))
        .await;
        let mut apps: Vec<AppMemory> = Vec::new();
        let mut add = |service: &str, destination: Option<&str>, mem: u64, this: bool| {
            let destination = destination.filter(|d| !d.is_empty()).map(str::to_string);
            match apps.iter_mut().find(|a| a.service == service && a.destination == destination) {
                Some(a) => {
                    a.running += 1;
                    a.mem_bytes += mem;
                }
                None => apps.push(AppMemory { service: service.to_string(), destination, running: 1, mem_bytes: mem, this }),
            }
        };
        for c in own.iter().filter(|c| c.state == "running") {
            add(&self.spec.service, self.spec.destination.as_deref(), c.mem_bytes, true);
        }
        for (c, mem) in running.iter().zip(mems) {
            let get = |k: &str| c.labels.as_ref().and_then(|l| l.get(k)).map(String::as_str);
            add(get("service").unwrap_or_default(), get("destination"), mem, false);
        }
        apps.sort_by_key(AppMemory::name);
        apps
    }

    /// Docker's data root, asked once per sampler.
    async fn learn_docker_root(&mut self, session: &Session) -> Result<(), String> {
        if self.docker_root.is_none() {
            let info = raw::get_json(session, "/v1.41/info").await.map_err(|e| e.to_string())?;
            self.docker_root = Some(raw::str_of(&info, "DockerRootDir")).filter(|s| !s.is_empty());
        }
        Ok(())
    }

    /// Every Kamal app's containers on the host. This app's change only with its events (which
    /// drop the cache); other apps' are re-read at least every `inspect_every` — re-list rarely.
    async fn container_list(&mut self, dh: &DockerHost) -> Result<Vec<ContainerSummary>, String> {
        Ok(match self.list_cache.as_ref().filter(|(at, _)| at.elapsed() < self.opts.inspect_every) {
            Some((_, l)) => l.clone(),
            None => {
                let l = dh.kamal_containers().await.map_err(|e| e.to_string())?;
                self.list_cache = Some((Instant::now(), l.clone()));
                l
            }
        })
    }

    /// Per container, all at once: its inspect (the cached one while its state is unchanged and
    /// it is recent; `true` = just fetched) and one-shot stats when it runs.
    async fn inspect_and_stats(
        &self,
        dh: &DockerHost,
        list: &[ContainerSummary],
    ) -> Vec<(Option<(ContainerInspectResponse, bool)>, Option<ContainerStatsResponse>)> {
        let inspect_every = self.opts.inspect_every;
        let cached: Vec<Option<ContainerInspectResponse>> = list
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
        futures::future::join_all(stats_futs).await
    }

    /// One container's reading: a fresh inspect is cached, its log file and mounts are noted
    /// for the `/proc` read, its counters go to the histories kept for it.
    fn container(
        &mut self,
        c: &ContainerSummary,
        insp: Option<(ContainerInspectResponse, bool)>,
        stats: Option<ContainerStatsResponse>,
        now: DateTime<Utc>,
        disk_paths: &mut Vec<(String, String)>,
        log_paths: &mut Vec<(String, String)>,
    ) -> ContainerResources {
        let id = c.id.clone().unwrap_or_default();
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
            read_inspect(&mut r, i, disk_paths, log_paths);
        }
        self.track(&id, &mut r, stats, now);
        r
    }

    /// CPU % from the previous stats, the histories, restarts within the window and OOM events.
    fn track(&mut self, id: &str, r: &mut ContainerResources, stats: Option<ContainerStatsResponse>, now: DateTime<Utc>) {
        let cap = self.opts.history;
        let window = Duration::from_secs(self.opts.thresholds.restart_window_secs);
        let cs = self.cstate.entry(id.to_string()).or_default();
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
        if let Some((n, at)) = self.ooms.get(id) {
            r.oom_events = *n;
            r.last_oom = Some(*at);
            if now.signed_duration_since(*at).num_seconds() < window.as_secs() as i64 {
                r.oom_killed = true;
            }
        }
        r.restarts_recent = recent as u32;
    }

    /// Host CPU % (from the previous `/proc/stat`) and memory used, into the host histories.
    fn host_counters(&mut self, ps: &ProcSample) -> (Option<f64>, u64) {
        let cap = self.opts.history;
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
        (host_cpu, mem_used)
    }

    /// `system df` and the prune preview (with the service's share of images and containers).
    async fn refresh_df(&mut self, session: &Session) {
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
}

/// What an inspect tells: restarts, OOM kill, memory limit, log config; its log file and the
/// sources of its mounts (the disks to read) are noted.
fn read_inspect(r: &mut ContainerResources, i: &ContainerInspectResponse, disk_paths: &mut Vec<(String, String)>, log_paths: &mut Vec<(String, String)>) {
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
        log_paths.push((r.id.clone(), lp));
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

/// The `df` lines per mount, each naming what it holds (data root, volumes, binds).
fn disks(ps: &ProcSample, disk_paths: &[(String, String)]) -> Vec<DiskUsage> {
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
    disks
}
