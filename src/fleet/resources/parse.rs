//! Parsing the host exec: the `/proc` + `df` + `stat` read (one exec or a persistent shell
//! loop) and Docker's `system df`.

use super::super::model::DockerDf;
use super::super::raw;
use std::collections::HashMap;
use std::time::Duration;

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
pub(super) struct ProcStream {
    pub(super) stream: crate::ssh::ExecStream,
    pub(super) key: (Vec<String>, Vec<String>),
    pub(super) block: Vec<String>,
    pub(super) ended: bool,
    /// The newest block that carried `df`/`stat` data.
    pub(super) disk: Option<ProcSample>,
}

impl ProcStream {
    /// The newest complete block available now; waits up to `wait` when none is. `Some(true)`
    /// in the tuple = the block carries `df`/`stat` data.
    pub(super) async fn latest(&mut self, wait: Duration) -> Option<ProcSample> {
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
