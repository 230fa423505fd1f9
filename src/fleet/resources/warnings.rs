//! Warnings and the pre-deploy room check (pure).

use super::super::model::*;
use serde::Serialize;

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
    /// The other Kamal apps on the host and the memory they use now (largest first): what the
    /// second copy must fit beside.
    pub others: Vec<(String, u64)>,
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
                    others: vec![],
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
            let mut others: Vec<(String, u64)> = h.apps.iter().filter(|a| !a.this).map(|a| (a.name(), a.mem_bytes)).collect();
            others.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            // Who else lives there: a deploy that does not fit starves them (or is OOM-killed).
            let beside = match others.len() {
                0 => String::new(),
                n => {
                    let shown: Vec<String> = others.iter().take(3).map(|(a, b)| format!("{a} {}", human_bytes(*b))).collect();
                    let more = if n > 3 { format!(" and {} more", n - 3) } else { String::new() };
                    format!(" beside {}{more}", shown.join(", "))
                }
            };
            let root = h.disks.iter().find(|d| d.holds.iter().any(|x| x == "docker data root"));
            let disk = root.filter(|_| h.kamal.images > 0).map(|d| (h.kamal.images_bytes / h.kamal.images, d.avail_bytes));
            let disk_fits = disk.is_none_or(|(need, free)| need <= free);
            let detail = per_role.iter().map(|(r, b)| format!("{r} {}", human_bytes(*b))).collect::<Vec<_>>().join(", ");
            let mut message = if mem_fits {
                format!("{host}: room for a second copy ({} needed: {detail}; {} available)", human_bytes(needed), human_bytes(available))
            } else {
                format!(
                    "{host}: NOT ENOUGH MEMORY for a second copy during the deploy: needs {} ({detail}), only {} available{beside}",
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
            RoomCheck { host: host.clone(), needed_bytes: needed, available_bytes: available, per_role, disk, others, fits, message }
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
