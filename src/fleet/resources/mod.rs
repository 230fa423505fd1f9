//! Host and container resources, read through the host's existing connection (no agent):
//! one exec per tick for `/proc/loadavg`, `/proc/stat`, `/proc/meminfo`, `df -P -k` of the
//! filesystems holding Docker's data root and the service's volumes, and the json-file log
//! sizes; the Docker API for per-container stats (one-shot), inspect (limits, restarts,
//! OOM-killed, log config), events (`oom`) and, less often, `system df` and the prune preview.
//!
//! Pure parts (parsing, warnings, the pre-deploy room check) are plain functions.

mod monitor;
mod parse;
mod sampler;
mod warnings;

pub use monitor::{sample_once, Monitor, MonitorHandle};
pub use parse::{cpu_percent, mem_usage, parse_proc, parse_system_df, proc_command, proc_loop_command, ProcSample};
pub use sampler::HostSampler;
pub use warnings::{human_bytes, log_cap_hint, room_check, warnings, RoomCheck};

use super::model::Thresholds;
use std::time::Duration;

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

#[cfg(test)]
mod tests;
