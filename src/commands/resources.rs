//! `kdeck details --resources`: host and container resources, warnings and the prune preview
//! as a table, or as one JSON document with `--json`. The caller maps its config onto a
//! [`FleetSpec`] and hands over the shared [`Pool`].

use crate::fleet::model::{ConnState, HostResources, ResourceSnapshot};
use crate::fleet::prune::PrunePlan;
use crate::fleet::resources::{human_bytes as hb, log_cap_hint, sample_once, ResourceOptions};
use crate::fleet::FleetSpec;
use crate::ssh::Pool;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// Samples every host once (two readings 1 s apart for CPU %) and prints. Exit code 1 when a
/// host could not be read.
pub async fn run(pool: &Pool, spec: &FleetSpec, json: bool, out: &mut dyn std::io::Write) -> color_eyre::Result<ExitCode> {
    let (snap, plans) = sample_once(pool, spec, ResourceOptions::default(), Duration::from_secs(1)).await;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&to_json(&snap, &plans, spec))?)?;
    } else {
        write!(out, "{}", render_table(&snap, &plans, spec))?;
    }
    let failed = snap.hosts.iter().any(|h| h.error.is_some() || h.sampled_at.is_none());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub fn to_json(snap: &ResourceSnapshot, plans: &[PrunePlan], spec: &FleetSpec) -> serde_json::Value {
    serde_json::json!({
        "service": spec.service,
        "destination": spec.destination,
        "retain_containers": spec.retain_containers,
        "thresholds": snap.thresholds,
        "hosts": snap.hosts,
        "warnings": snap.warnings().collect::<Vec<_>>(),
        "prune_preview": plans,
    })
}

fn pct(v: Option<f64>) -> String {
    v.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into())
}

fn conn(h: &HostResources) -> &'static str {
    match (&h.conn, &h.error, h.sampled_at) {
        (_, Some(_), _) => "error",
        (ConnState::Up, None, Some(_)) => "up",
        (ConnState::Down { .. }, _, _) => "down",
        _ => "-",
    }
}

fn table(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let w: Vec<usize> = (0..n).map(|i| rows.iter().map(|r| r.get(i).map(|c| c.chars().count()).unwrap_or(0)).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
    }
    s
}

/// The plain-text report (pure, for tests).
pub fn render_table(snap: &ResourceSnapshot, plans: &[PrunePlan], spec: &FleetSpec) -> String {
    let mut s = String::new();
    hosts_section(&mut s, snap);
    docker_disk_section(&mut s, snap);
    containers_section(&mut s, snap);
    warnings_section(&mut s, snap);
    prune_section(&mut s, plans, spec);
    log_cap_section(&mut s, snap);
    s
}

fn header_row(titles: &[&str]) -> Vec<String> {
    titles.iter().map(|t| t.to_string()).collect()
}

/// One row per host (CPU, load, memory, swap, the docker root's disk), then the read errors.
fn hosts_section(s: &mut String, snap: &ResourceSnapshot) {
    let mut rows = vec![header_row(&["HOST", "CONN", "CPU", "LOAD", "MEMORY", "SWAP", "DISK (docker root)"])];
    for h in &snap.hosts {
        let root = h.disks.iter().find(|d| d.holds.iter().any(|x| x == "docker data root"));
        rows.push(vec![
            h.host.clone(),
            conn(h).into(),
            pct(h.cpu_pct),
            h.load.map(|l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])).unwrap_or_else(|| "-".into()),
            if h.mem_total > 0 { format!("{} / {} ({:.0}%)", hb(h.mem_used), hb(h.mem_total), h.mem_pct()) } else { "-".into() },
            if h.swap_total > 0 { format!("{} / {}", hb(h.swap_used), hb(h.swap_total)) } else { "none".into() },
            root.map(|d| format!("{} {:.0}% ({} free)", d.mount, d.used_pct(), hb(d.avail_bytes))).unwrap_or_else(|| "-".into()),
        ]);
    }
    s.push_str(&table(&rows));
    for h in &snap.hosts {
        if let Some(e) = &h.error {
            if e.starts_with(&h.host) {
                let _ = writeln!(s, "{e}");
            } else {
                let _ = writeln!(s, "{}: {e}", h.host);
            }
        }
    }
}

/// `docker system df` per host and the service's share of it.
fn docker_disk_section(s: &mut String, snap: &ResourceSnapshot) {
    s.push_str("\nDOCKER DISK USE\n");
    let mut rows = vec![header_row(&["HOST", "IMAGES", "CONTAINERS", "VOLUMES", "BUILD CACHE", "SERVICE IMAGES", "SERVICE CONTAINERS", "PRUNE WOULD FREE"])];
    for h in &snap.hosts {
        let d = h.docker_df.clone().unwrap_or_default();
        let k = &h.kamal;
        rows.push(vec![
            h.host.clone(),
            format!("{} {} ({} reclaimable)", d.images, hb(d.images_bytes), hb(d.images_reclaimable_bytes)),
            format!("{} {}", d.containers, hb(d.containers_bytes)),
            format!("{} {}", d.volumes, hb(d.volumes_bytes)),
            hb(d.build_cache_bytes),
            format!("{} {}", k.images, hb(k.images_bytes)),
            format!("{} ({} running)", k.containers, k.containers_running),
            format!("{} ({} containers, {} images)", hb(k.reclaimable_bytes), k.prune_containers, k.prune_images),
        ]);
    }
    s.push_str(&table(&rows));
}

/// Every container of the service: state, CPU, memory against its limit, restarts, logs.
fn containers_section(s: &mut String, snap: &ResourceSnapshot) {
    s.push_str("\nCONTAINERS\n");
    let mut rows = vec![header_row(&["HOST", "CONTAINER", "ROLE", "STATE", "CPU", "MEMORY / LIMIT", "RESTARTS", "OOM", "LOG"])];
    for h in &snap.hosts {
        for c in &h.containers {
            rows.push(vec![
                h.host.clone(),
                c.name.clone(),
                c.role.clone(),
                c.state.clone(),
                pct(c.cpu_pct),
                match (c.state.as_str(), c.mem_limit) {
                    ("running", Some(l)) => format!("{} / {} ({:.0}%)", hb(c.mem_bytes), hb(l), c.mem_pct_of_limit().unwrap_or(0.0)),
                    ("running", None) => format!("{} / no limit", hb(c.mem_bytes)),
                    _ => "-".into(),
                },
                c.restarts.to_string(),
                if c.oom_killed { "OOM-KILLED".into() } else { "-".into() },
                match (c.log_bytes, c.log_opts.iter().find(|(k, _)| k == "max-size")) {
                    (Some(b), Some((_, m))) => format!("{} (max-size {m})", hb(b)),
                    (Some(b), None) => format!("{} (uncapped)", hb(b)),
                    (None, _) => c.log_driver.clone().unwrap_or_else(|| "-".into()),
                },
            ]);
        }
    }
    if rows.len() == 1 {
        s.push_str("(no containers of this service)\n");
    } else {
        s.push_str(&table(&rows));
    }
}

fn warnings_section(s: &mut String, snap: &ResourceSnapshot) {
    let warnings: Vec<_> = snap.warnings().collect();
    s.push_str("\nWARNINGS\n");
    if warnings.is_empty() {
        s.push_str("none\n");
    }
    for w in warnings {
        let _ = writeln!(s, "! {}: {}", w.host, w.message);
    }
}

/// What `kamal prune all` would remove on each host.
fn prune_section(s: &mut String, plans: &[PrunePlan], spec: &FleetSpec) {
    let _ = writeln!(s, "\nPRUNE PREVIEW (kamal prune all, retain_containers {})", spec.retain_containers);
    if plans.is_empty() {
        s.push_str("not available\n");
    }
    for p in plans {
        if p.containers.is_empty() && p.untagged.is_empty() && p.dangling_images.is_empty() {
            let _ = writeln!(s, "{}: nothing to remove", p.host);
            continue;
        }
        let _ = writeln!(
            s,
            "{}: {} reclaimed{} ({} images, {} containers)",
            p.host,
            hb(p.reclaimed_bytes()),
            if p.exact { "" } else { " (estimate)" },
            hb(p.images_bytes),
            hb(p.containers_bytes)
        );
        for (id, name) in &p.containers {
            let _ = writeln!(s, "  docker rm {} ({name})", &id[..id.len().min(12)]);
        }
        for id in &p.dangling_images {
            let _ = writeln!(s, "  image prune {}", id.trim_start_matches("sha256:").chars().take(12).collect::<String>());
        }
        for t in &p.untagged {
            let _ = writeln!(s, "  docker rmi {t}");
        }
    }
}

/// json-file logs without `max-size`, and the config that caps them.
fn log_cap_section(s: &mut String, snap: &ResourceSnapshot) {
    let uncapped: Vec<String> =
        snap.hosts.iter().flat_map(|h| h.containers.iter().filter(|c| log_cap_hint(c).is_some()).map(move |c| format!("{} on {}", c.name, h.host))).collect();
    if !uncapped.is_empty() {
        let _ = writeln!(s, "\nLOGS: json-file logs without max-size: {}", uncapped.join(", "));
        s.push_str("Cap them in config/deploy.yml (applies on the next deploy):\n");
        for l in "logging:\n  driver: json-file\n  options:\n    max-size: 10m\n    max-file: 3".lines() {
            let _ = writeln!(s, "  {l}");
        }
    }
}
