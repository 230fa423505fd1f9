//! What one dashboard session opens: every destination of the app (`config/deploy.<dest>.yml`,
//! plus `config/deploy.yml` alone when it deploys without one), or the one `-d` names; and the
//! ssh pools they share — one pool per set of `ssh:` settings, so a host in two destinations
//! (or two apps) is one connection.

use super::context::{self, live_pool_with};
use crate::cli::Global;
use crate::kamal::AppSpec;
use crate::ssh::{Pool, SshOptions};
use color_eyre::eyre::{eyre, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One destination of one app, as a tab of the dashboard.
#[derive(Debug, Clone)]
pub struct Target {
    /// The app's directory (where its config loads from, hooks and builds run).
    pub dir: PathBuf,
    /// The command line's options for this destination (`-d` set).
    pub global: Global,
    /// What the tab bar calls it.
    pub label: String,
}

/// The destination names of `config_file` (`deploy.staging.yml` → `staging`), sorted.
/// Dotted middles are left out (`deploy.ws-echo.eu.yml` belongs to `deploy.ws-echo.yml`).
pub fn destinations(config_file: &Path) -> Vec<String> {
    let name = config_file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let stem = name.strip_suffix(".yml").unwrap_or(&name).to_string();
    let dir = match config_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(rd) = std::fs::read_dir(&dir) else { return vec![] };
    let mut out: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            let dest = n.strip_prefix(&format!("{stem}."))?.strip_suffix(".yml")?.to_string();
            (!dest.is_empty() && !dest.contains('.')).then_some(dest)
        })
        .collect();
    out.sort();
    out
}

/// The tabs of the app in `dir` (`None`: the current directory): with `-d`, that destination
/// alone; else the base config when it loads without a destination, then every destination
/// file. A destination that does not load is an error naming its file; a base config that
/// does not load alone is left out when destinations do (e.g. `require_destination: true`).
pub fn of_app(g: &Global, dir: Option<&Path>, label_prefix: Option<&str>) -> Result<Vec<Target>> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().map_err(|e| eyre!("no current directory: {e}"))?,
    };
    // `staging`, `(default)`; with several apps `shop/staging`, `shop`.
    let label = |dest: Option<&str>| match (label_prefix, dest) {
        (Some(p), Some(d)) => format!("{p}/{d}"),
        (Some(p), None) => p.to_string(),
        (None, d) => d.unwrap_or("(default)").to_string(),
    };
    let target = |dest: Option<&str>| Target { dir: dir.clone(), global: Global { destination: dest.map(str::to_string), ..g.clone() }, label: label(dest) };
    if let Some(d) = &g.destination {
        return Ok(vec![target(Some(d))]);
    }
    let config_file = if g.config_file.is_absolute() { g.config_file.clone() } else { dir.join(&g.config_file) };
    let dests = destinations(&config_file);
    let base = context::load_app_in(g, Some(&dir));
    let mut out = Vec::new();
    match base {
        Ok(_) => out.push(target(None)),
        Err(e) if dests.is_empty() => return Err(e),
        Err(_) => {}
    }
    for d in &dests {
        let t = target(Some(d));
        context::load_app_in(&t.global, Some(&dir))?;
        out.push(t);
    }
    Ok(out)
}

/// The dashboard's ssh pools: apps (and destinations) with the same `ssh:` settings share one,
/// so each host is dialled once whatever number of tabs show it.
#[derive(Default)]
pub struct Pools {
    pools: Mutex<Vec<(SshOptions, Pool)>>,
    known_hosts: Option<PathBuf>,
}

impl Pools {
    /// Pools that trust the host keys of `known_hosts` (a test lab's) instead of the default
    /// file.
    pub fn with_known_hosts(known_hosts: &Path) -> Pools {
        Pools { known_hosts: Some(known_hosts.to_path_buf()), ..Default::default() }
    }

    /// The live pool for `app` (see [`super::context::live_pool`]): the one already built for the same `ssh:`
    /// settings, else a new one.
    pub fn live(&self, app: &AppSpec, g: &Global) -> Result<Pool> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = pools.iter().find(|(o, _)| *o == app.ssh) {
            return Ok(p.clone());
        }
        let p = live_pool_with(app, g, self.known_hosts.as_deref())?;
        pools.push((app.ssh.clone(), p.clone()));
        Ok(p)
    }

    /// Every pool built so far.
    pub fn all(&self) -> Vec<Pool> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(_, p)| p.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_files_name_the_destinations() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("config");
        std::fs::create_dir_all(&c).unwrap();
        for f in ["deploy.yml", "deploy.staging.yml", "deploy.production.yml", "deploy.ws-echo.yml", "deploy.ws-echo.eu.yml", "other.yml", "deploy.yaml"] {
            std::fs::write(c.join(f), "").unwrap();
        }
        assert_eq!(destinations(&c.join("deploy.yml")), vec!["production", "staging", "ws-echo"]);
        assert_eq!(destinations(&c.join("deploy.ws-echo.yml")), vec!["eu"]);
        assert!(destinations(&tmp.path().join("nowhere/deploy.yml")).is_empty());
    }
}
