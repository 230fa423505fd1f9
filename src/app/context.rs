//! What every headless command needs: the app in scope, the lock host, the version, who runs
//! it, and one connection per host.

use crate::cli::Global;
use crate::deploy::remote::{OpenSsh, Remote};
use crate::deploy::{AbortHandle, Engine, Event, RunOptions};
use crate::kamal::AppSpec;
use color_eyre::eyre::{eyre, Result, WrapErr};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

pub struct Ctx {
    /// The whole app (unfiltered).
    pub full: AppSpec,
    /// The app narrowed to `-r`/`-h`/`-p`.
    pub app: Arc<AppSpec>,
    pub lock_host: String,
    pub version: String,
    pub performer: String,
    pub lock_user: String,
    pub remotes: BTreeMap<String, Arc<dyn Remote>>,
    pub global: Global,
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).current_dir(root).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// `*` wildcards as Kamal's `-h`/`-r` filters.
fn matches(pattern: &str, s: &str) -> bool {
    crate::pattern::wildcard(pattern, s, false)
}

fn split(list: &Option<String>) -> Option<Vec<String>> {
    list.as_ref().map(|s| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
}

/// Narrow roles and hosts like Kamal's `-r`, `-h`, `-p`.
pub fn scope(app: &AppSpec, g: &Global) -> Result<AppSpec> {
    let mut a = app.clone();
    if let Some(roles) = split(&g.roles) {
        a.roles.retain(|r| roles.iter().any(|p| matches(p, &r.name)));
        if a.roles.is_empty() {
            return Err(eyre!("No --roles match for {}", roles.join(",")));
        }
    }
    let primary = app.primary_host();
    let hosts_filter = split(&g.hosts);
    for r in &mut a.roles {
        if g.primary {
            r.hosts.retain(|h| Some(h) == primary.as_ref());
        }
        if let Some(hs) = &hosts_filter {
            r.hosts.retain(|h| hs.iter().any(|p| matches(p, h)));
        }
    }
    a.roles.retain(|r| !r.hosts.is_empty());
    // Accessories: `-h`/`-p` narrow their hosts, and `-r` to the hosts of those roles (what
    // Kamal 2.11 does on the lab: `accessory details db -r web` shows only db's web hosts).
    let role_hosts: Vec<String> = a.roles.iter().flat_map(|r| r.hosts.iter().cloned()).collect();
    for acc in &mut a.accessories {
        if g.primary {
            acc.hosts.retain(|h| Some(h) == primary.as_ref());
        }
        if let Some(hs) = &hosts_filter {
            acc.hosts.retain(|h| hs.iter().any(|p| matches(p, h)));
        }
        if g.roles.is_some() {
            acc.hosts.retain(|h| role_hosts.contains(h));
        }
    }
    // As Kamal, `-h` matches the accessories' hosts too (`config.all_hosts`): a host that only
    // carries accessories leaves no role in scope but is no error.
    let accessory_host = hosts_filter.is_some() && a.accessories.iter().any(|x| !x.hosts.is_empty());
    if a.roles.is_empty() && !accessory_host {
        return Err(eyre!("No --hosts match for {}", g.hosts.clone().unwrap_or_default()));
    }
    Ok(a)
}

/// Kamal's lock host: first `-h` host (the roles' hosts, then the accessories', config order),
/// else primary host of the first `-r` role, else primary host.
pub fn lock_host(app: &AppSpec, g: &Global) -> Option<String> {
    if let Some(hs) = split(&g.hosts) {
        let mut all = app.all_hosts();
        for h in app.accessories.iter().flat_map(|a| a.hosts.iter()) {
            if !all.contains(h) {
                all.push(h.clone());
            }
        }
        if let Some(h) = all.into_iter().find(|h| hs.iter().any(|p| matches(p, h))) {
            return Some(h);
        }
    }
    if let Some(rs) = split(&g.roles) {
        if let Some(r) = app.roles.iter().find(|r| rs.iter().any(|p| matches(p, &r.name))) {
            if let Some(h) = r.hosts.first() {
                return Some(h.clone());
            }
        }
    }
    app.primary_host()
}

/// The app from the shared `config` module (ERB, validation, secrets; errors name file and
/// key).
pub fn load_app(g: &Global) -> Result<AppSpec> {
    load_app_in(g, None)
}

/// [`load_app`] for the app in `dir` (`None`: the current directory).
pub fn load_app_in(g: &Global, dir: Option<&Path>) -> Result<AppSpec> {
    let path: PathBuf = g.config_file.clone();
    let opts = crate::config::LoadOptions {
        config_file: path,
        destination: g.destination.clone(),
        version: g.version.clone(),
        cwd: dir.map(Path::to_path_buf),
        ..Default::default()
    };
    let c = crate::config::Config::load(&opts).map_err(|e| eyre!("{e}"))?;
    Ok(crate::kamal::from_config::from_config(&c))
}

impl Ctx {
    /// The app in scope with its own connections (headless commands).
    pub fn new(g: &Global) -> Result<Ctx> {
        Self::build(g, None, |full, hosts| connect(full, hosts, g))
    }

    /// The same, on an existing pool (the dashboard's; no second set of connections).
    pub fn on_pool(pool: &crate::ssh::Pool, g: &Global) -> Result<Ctx> {
        Self::on_pool_in(pool, g, None)
    }

    /// [`Ctx::on_pool`] for the app in `dir` (a destination tab, a workspace's app).
    pub fn on_pool_in(pool: &crate::ssh::Pool, g: &Global, dir: Option<&Path>) -> Result<Ctx> {
        Self::build(g, dir, |_, hosts| Ok(hosts.iter().map(|h| (h.clone(), Arc::new(pool.get(h)) as Arc<dyn Remote>)).collect()))
    }

    fn build(g: &Global, dir: Option<&Path>, remotes: impl FnOnce(&AppSpec, &[String]) -> Result<BTreeMap<String, Arc<dyn Remote>>>) -> Result<Ctx> {
        let full = load_app_in(g, dir)?;
        let app = scope(&full, g)?;
        let lock_host = lock_host(&full, g).ok_or_else(|| eyre!("{}: servers: no hosts configured", g.config_file.display()))?;
        let root = full.root.clone();
        let version = g
            .version
            .clone()
            .or_else(|| std::env::var("VERSION").ok().filter(|v| !v.is_empty()))
            .or_else(|| git(&root, &["rev-parse", "HEAD"]))
            .unwrap_or_else(|| "latest".into());
        let performer = git(&root, &["config", "user.email"])
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| git(&root, &["config", "user.name"]))
            .unwrap_or_else(|| "unknown".into());
        let lock_user = git(&root, &["config", "user.name"]).unwrap_or_else(|| "Unknown".into());
        let mut hosts = full.all_hosts();
        if !hosts.contains(&lock_host) {
            hosts.push(lock_host.clone());
        }
        for h in full.accessories.iter().flat_map(|a| a.hosts.iter()) {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        let remotes = remotes(&full, &hosts)?;
        Ok(Ctx { full, app: Arc::new(app), lock_host, version, performer, lock_user, remotes, global: g.clone() })
    }

    /// The same app narrowed to other hosts or roles (`-h`/`-r`), without reading the config
    /// again: the dashboard's scoped deploys and the parts of a staged one.
    pub fn narrowed(&self, hosts: Option<String>, roles: Option<String>) -> Result<Ctx> {
        let global = Global { hosts, roles, primary: false, ..self.global.clone() };
        let app = scope(&self.full, &global)?;
        let lock_host = lock_host(&self.full, &global).ok_or_else(|| eyre!("{}: servers: no hosts configured", global.config_file.display()))?;
        Ok(Ctx {
            full: self.full.clone(),
            app: Arc::new(app),
            lock_host,
            version: self.version.clone(),
            performer: self.performer.clone(),
            lock_user: self.lock_user.clone(),
            remotes: self.remotes.clone(),
            global,
        })
    }

    pub fn engine(&self, version: String, tx: mpsc::UnboundedSender<Event>, abort: AbortHandle) -> Engine {
        Engine::new(
            self.app.clone(),
            self.remotes.clone(),
            tx,
            abort,
            RunOptions {
                version,
                performer: self.performer.clone(),
                lock_user: self.lock_user.clone(),
                skip_hooks: self.global.skip_hooks,
                lock_host: self.lock_host.clone(),
                roles_filter: split(&self.global.roles),
                no_cache: false,
                lock_wait: self.global.lock_wait.then(|| crate::deploy::LockWait {
                    timeout: std::time::Duration::from_secs(self.global.lock_wait_timeout),
                    interval: std::time::Duration::from_secs(self.global.lock_wait_interval.max(1)),
                }),
                partial_hosts: self.partial_hosts(),
            },
        )
    }

    /// Hosts where the role filter leaves some of the host's roles out.
    fn partial_hosts(&self) -> Vec<String> {
        let names = |app: &AppSpec, h: &str| app.roles_on(h).iter().map(|r| r.name.clone()).collect::<std::collections::BTreeSet<_>>();
        self.app.all_hosts().into_iter().filter(|h| names(&self.app, h) != names(&self.full, h)).collect()
    }

    pub fn hosts(&self) -> Vec<String> {
        self.app.all_hosts()
    }
}

/// One connection per host: the shared russh backend (`KDECK_TRANSPORT=openssh` switches to
/// the local OpenSSH client with ControlMaster multiplexing).
pub fn connect(app: &AppSpec, hosts: &[String], g: &Global) -> Result<BTreeMap<String, Arc<dyn Remote>>> {
    let known_hosts = std::env::var_os("KDECK_KNOWN_HOSTS").map(PathBuf::from);
    let keys: Vec<PathBuf> = app.ssh_keys.iter().map(|k| if k.is_relative() { app.root.join(k) } else { k.clone() }).collect();
    let mut m: BTreeMap<String, Arc<dyn Remote>> = BTreeMap::new();
    if std::env::var("KDECK_TRANSPORT").is_ok_and(|t| t == "openssh") {
        let control_dir = std::env::temp_dir().join(format!("kdeck-cm-{}", std::process::id()));
        std::fs::create_dir_all(&control_dir).wrap_err_with(|| format!("cannot create {}", control_dir.display()))?;
        for h in hosts {
            m.insert(
                h.clone(),
                Arc::new(OpenSsh {
                    host: h.clone(),
                    user: app.ssh_user.clone(),
                    port: app.ssh_port,
                    keys: keys.clone(),
                    known_hosts: known_hosts.clone(),
                    accept_new: g.accept_new_host_keys,
                    control_dir: control_dir.clone(),
                }),
            );
        }
        return Ok(m);
    }
    let pool = pool(app, g)?;
    for h in hosts {
        m.insert(h.clone(), Arc::new(pool.get(h)));
    }
    Ok(m)
}

/// The shared russh pool for `app` (one connection per host, reused by every view and action):
/// Kamal's `ssh:` options plus kdeck's known_hosts (`KDECK_KNOWN_HOSTS`) and host-key policy.
pub fn pool(app: &AppSpec, g: &Global) -> Result<crate::ssh::Pool> {
    // Headless commands dial only the hosts they use (`-h`/`-r`, the lock host).
    pool_with(app, g, crate::ssh::ClientOptions { lazy: true, ..Default::default() }, None)
}

/// The pool of a screen that watches the fleet (the dashboard, `logs -f`): a dead link is
/// noticed within seconds (a keepalive every 2 s, down after 2 unanswered) and a host that
/// comes back is retried at least every 3 s, however long it was away.
pub fn live_pool(app: &AppSpec, g: &Global) -> Result<crate::ssh::Pool> {
    live_pool_with(app, g, None)
}

/// [`live_pool`] that trusts the host keys of `known_hosts` instead of the default file.
pub fn live_pool_with(app: &AppSpec, g: &Global, known_hosts: Option<&Path>) -> Result<crate::ssh::Pool> {
    let client = crate::ssh::ClientOptions {
        keepalive_interval: std::time::Duration::from_secs(2),
        keepalive_max: 2,
        max_backoff: std::time::Duration::from_secs(3),
        ..Default::default()
    };
    pool_with(app, g, client, known_hosts)
}

fn pool_with(app: &AppSpec, g: &Global, mut client: crate::ssh::ClientOptions, known_hosts: Option<&Path>) -> Result<crate::ssh::Pool> {
    if let Some(k) = known_hosts.map(Path::to_path_buf).or_else(|| std::env::var_os("KDECK_KNOWN_HOSTS").map(PathBuf::from)) {
        client.known_hosts = k;
    }
    if g.accept_new_host_keys {
        client.host_key_policy = crate::ssh::HostKeyPolicy::AcceptNew;
    }
    crate::ssh::Pool::new(app.ssh.clone(), client).map_err(|e| eyre!("{e}"))
}

/// Close multiplexed connections and remove the control dir.
pub fn disconnect() {
    let control_dir = std::env::temp_dir().join(format!("kdeck-cm-{}", std::process::id()));
    if let Ok(rd) = std::fs::read_dir(&control_dir) {
        for e in rd.flatten() {
            let _ = std::process::Command::new("ssh")
                .arg("-o")
                .arg(format!("ControlPath={}", e.path().display()))
                .arg("-O")
                .arg("exit")
                .arg("x")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    let _ = std::fs::remove_dir_all(&control_dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kamal::accessory::AccessorySpec;
    use crate::kamal::RoleSpec;

    fn app() -> AppSpec {
        AppSpec {
            service: "s".into(),
            roles: vec![
                RoleSpec { name: "web".into(), hosts: vec!["h1".into(), "h2".into()], ..Default::default() },
                RoleSpec { name: "worker".into(), hosts: vec!["h3".into()], ..Default::default() },
            ],
            accessories: vec![
                AccessorySpec { name: "db".into(), hosts: vec!["h1".into(), "h3".into()], ..Default::default() },
                AccessorySpec { name: "cache".into(), hosts: vec!["h3".into()], ..Default::default() },
            ],
            ..Default::default()
        }
    }

    fn acc_hosts(g: &Global) -> Vec<Vec<String>> {
        scope(&app(), g).unwrap().accessories.iter().map(|a| a.hosts.clone()).collect()
    }

    /// As Kamal 2.11 on the lab: `-h` and `-p` narrow accessory hosts, `-r` to the roles' hosts.
    #[test]
    fn accessory_hosts_follow_kamals_host_and_role_filters() {
        assert_eq!(acc_hosts(&Global::default()), vec![vec!["h1", "h3"], vec!["h3"]]);
        assert_eq!(acc_hosts(&Global { hosts: Some("h3".into()), ..Default::default() }), vec![vec!["h3"], vec!["h3"]]);
        assert_eq!(acc_hosts(&Global { roles: Some("web".into()), ..Default::default() }), vec![vec!["h1"], Vec::<&str>::new()]);
        assert_eq!(acc_hosts(&Global { roles: Some("worker".into()), ..Default::default() }), vec![vec!["h3"], vec!["h3"]]);
        assert_eq!(acc_hosts(&Global { primary: true, ..Default::default() }), vec![vec!["h1"], Vec::<&str>::new()]);
    }

    /// Kamal's `-h` takes any host of the config, accessories' included: a host that only
    /// carries an accessory is in scope (no role) and is the lock host; an unknown one is not.
    #[test]
    fn a_host_with_only_accessories_is_a_valid_host_filter() {
        let mut full = app();
        full.accessories[1].hosts = vec!["h9".into()];
        let g = Global { hosts: Some("h9".into()), ..Default::default() };
        let a = scope(&full, &g).unwrap();
        assert!(a.roles.is_empty());
        assert_eq!(a.accessories[1].hosts, vec!["h9"]);
        assert_eq!(lock_host(&full, &g).as_deref(), Some("h9"));
        let err = scope(&full, &Global { hosts: Some("nope".into()), ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "No --hosts match for nope");
    }
}
