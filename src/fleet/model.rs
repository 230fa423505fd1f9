//! Data the fleet watchers maintain and the views draw. Pure data, no I/O.

pub use crate::docker::ContainerInfo;
pub use crate::kamal::lock::LockInfo;
pub use crate::ssh::ConnState;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What kamal-proxy on this host routes for a role's service name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyRoute {
    pub service: String,
    pub target: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct HostStatus {
    /// Host string exactly as written in deploy.yml.
    pub host: String,
    pub roles: Vec<String>,
    pub conn: ConnState,
    pub containers: Vec<ContainerInfo>,
    /// Current version per role (Kamal's §4.4 query semantics).
    pub current: Vec<(String, String)>,
    pub proxy_running: Option<bool>,
    pub proxy_routes: Vec<ProxyRoute>,
    /// When the containers, versions and proxy view were last read (they are last-known
    /// facts, not live ones, while the host or its Docker does not answer).
    pub last_seen: Option<DateTime<Utc>>,
    /// Docker on the host does not answer while ssh does (the error of the last attempt).
    pub docker_error: Option<String>,
    /// Down because known_hosts does not know the key it offers (`type fingerprint`): the
    /// dashboard can trust it.
    pub unknown_host_key: Option<String>,
    /// Containers of the app's accessories on this host (label `service=<svc>-<name>` or the
    /// accessory's `service:`); `role` holds the accessory's name, `version` its image tag.
    pub accessories: Vec<ContainerInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct FleetSnapshot {
    pub service: String,
    pub destination: Option<String>,
    pub image: String,
    pub primary_role: String,
    pub roles: Vec<(String, Vec<String>)>,
    pub hosts: Vec<HostStatus>,
    pub lock: Option<LockInfo>,
    /// Accessory name → its hosts, deploy.yml order (hosts may be outside every role).
    pub accessories: Vec<(String, Vec<String>)>,
}

impl HostStatus {
    /// The host answers and so does its Docker: what the row shows is live.
    pub fn live(&self) -> bool {
        self.conn == ConnState::Up && self.docker_error.is_none()
    }

    /// The container of accessory `name` here (Kamal runs at most one per host).
    pub fn accessory(&self, name: &str) -> Option<&ContainerInfo> {
        self.accessories.iter().find(|c| c.role == name)
    }
}

// ---------------------------------------------------------------------------------------------
// Resources (issue 6). Kept apart from `FleetSnapshot` so the fleet types stay as the views know
// them; the resource monitor publishes a `ResourceSnapshot` on its own channel.

/// Warning thresholds (percent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Host memory used (total − available) over total.
    pub host_memory_pct: f64,
    /// Container memory over its own `--memory` limit.
    pub container_memory_pct: f64,
    pub disk_pct: f64,
    /// Restarts within `restart_window_secs` that count as a loop.
    pub restart_loop_count: u32,
    pub restart_window_secs: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { host_memory_pct: 85.0, container_memory_pct: 85.0, disk_pct: 85.0, restart_loop_count: 3, restart_window_secs: 600 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    HostMemory,
    ContainerMemory,
    Disk,
    OomKilled,
    RestartLoop,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceWarning {
    pub kind: WarningKind,
    pub host: String,
    /// Container name for container warnings.
    pub container: Option<String>,
    /// Plain sentence for the views, e.g. "memory 91 % of the 64 MiB limit".
    pub message: String,
}

/// One filesystem as `df -P -k` reports it, with what kdeck found on it.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DiskUsage {
    pub mount: String,
    pub filesystem: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub avail_bytes: u64,
    /// What lives there: "docker data root", "volume <name>", "bind <path>".
    pub holds: Vec<String>,
}

impl DiskUsage {
    /// Used over (used + available), as `df` computes Use%.
    pub fn used_pct(&self) -> f64 {
        let denom = self.used_bytes + self.avail_bytes;
        if denom == 0 {
            0.0
        } else {
            self.used_bytes as f64 * 100.0 / denom as f64
        }
    }
}

/// The engine's own `system df`, in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DockerDf {
    pub images: u64,
    pub images_active: u64,
    pub images_bytes: u64,
    pub images_reclaimable_bytes: u64,
    pub containers: u64,
    pub containers_running: u64,
    pub containers_bytes: u64,
    pub volumes: u64,
    pub volumes_bytes: u64,
    pub build_cache_bytes: u64,
    pub build_cache_reclaimable_bytes: u64,
}

/// What belongs to the service (label `service=<svc>`, every destination) on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct KamalUsage {
    pub images: u64,
    pub images_bytes: u64,
    pub containers: u64,
    pub containers_running: u64,
    /// Bytes `kamal prune all` would free on this host (see `fleet::prune`).
    pub reclaimable_bytes: u64,
    pub prune_containers: u64,
    pub prune_images: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ContainerResources {
    pub id: String,
    pub name: String,
    pub role: String,
    pub state: String,
    /// Percent of one core (100 = one full core), like `docker stats`.
    pub cpu_pct: Option<f64>,
    /// Usage without page cache (what `docker stats` shows).
    pub mem_bytes: u64,
    /// The container's own `--memory` limit; `None` = unlimited (host memory applies).
    pub mem_limit: Option<u64>,
    pub restarts: u64,
    /// Restarts seen within the restart window (restart-loop detection).
    pub restarts_recent: u32,
    /// `.State.OOMKilled`, or an `oom` event seen since the monitor started.
    pub oom_killed: bool,
    pub oom_events: u32,
    pub last_oom: Option<DateTime<Utc>>,
    pub log_driver: Option<String>,
    /// Size of the json-file log on disk.
    pub log_bytes: Option<u64>,
    /// `--log-opt` values in effect (max-size, max-file).
    pub log_opts: Vec<(String, String)>,
    /// Recent samples, oldest first (bounded).
    pub cpu_history: Vec<f64>,
    pub mem_history: Vec<u64>,
}

impl ContainerResources {
    pub fn mem_pct_of_limit(&self) -> Option<f64> {
        self.mem_limit.filter(|l| *l > 0).map(|l| self.mem_bytes as f64 * 100.0 / l as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct HostResources {
    pub host: String,
    pub conn: ConnState,
    /// Last sampling error (the data below is then from the previous good sample, if any).
    pub error: Option<String>,
    pub sampled_at: Option<DateTime<Utc>>,
    pub cpus: u32,
    pub load: Option<[f64; 3]>,
    /// Whole-host CPU busy percent (all cores = 100) between the last two samples.
    pub cpu_pct: Option<f64>,
    pub mem_total: u64,
    pub mem_used: u64,
    pub swap_total: u64,
    pub swap_used: u64,
    pub docker_root: Option<String>,
    pub disks: Vec<DiskUsage>,
    pub docker_df: Option<DockerDf>,
    pub kamal: KamalUsage,
    pub containers: Vec<ContainerResources>,
    pub cpu_history: Vec<f64>,
    pub mem_history: Vec<u64>,
    pub warnings: Vec<ResourceWarning>,
    /// Every Kamal app on the host (this one included), by service and destination: what its
    /// running containers use. Several small apps often share a host; one's deploy can starve
    /// another.
    pub apps: Vec<AppMemory>,
}

/// One Kamal app (a `service` label and its `destination`) on a host: its running containers
/// and the memory they use (without page cache, as `docker stats`). An accessory is an app of
/// its own here (`<service>-<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AppMemory {
    pub service: String,
    pub destination: Option<String>,
    pub running: u32,
    pub mem_bytes: u64,
    /// The app (and destination) the sampler was started for.
    pub this: bool,
}

impl AppMemory {
    /// `service` or `service/destination`.
    pub fn name(&self) -> String {
        match &self.destination {
            Some(d) => format!("{}/{d}", self.service),
            None => self.service.clone(),
        }
    }
}

impl HostResources {
    pub fn mem_pct(&self) -> f64 {
        if self.mem_total == 0 {
            0.0
        } else {
            self.mem_used as f64 * 100.0 / self.mem_total as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ResourceSnapshot {
    pub service: String,
    pub thresholds: Thresholds,
    pub hosts: Vec<HostResources>,
}

impl ResourceSnapshot {
    pub fn host(&self, host: &str) -> Option<&HostResources> {
        self.hosts.iter().find(|h| h.host == host)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &ResourceWarning> {
        self.hosts.iter().flat_map(|h| h.warnings.iter())
    }
}
