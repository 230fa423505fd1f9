//! Actions on one fleet row (a role, a role's container on a host, an accessory on a host), as
//! k9s and lazydocker have them: each is the headless command of the same name narrowed to the
//! row (`-r ROLE`, `-h HOST`, `accessory … NAME -h HOST`), so the dashboard and a script do the
//! same thing. [`command_line`] spells that command for the confirmation and the README.

use super::versions::{self, TreeRow};
use crate::fleet::model::FleetSnapshot;

/// What can be done to a row (the row-action menu's entries, in its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowOp {
    Boot,
    Start,
    Stop,
    Restart,
    Remove,
    Logs,
    Inspect,
    Exec,
    /// An interactive shell in the row's running container.
    Shell,
    /// An interactive shell on the row's host itself.
    HostShell,
    /// A local port forwarded to the row's container (the fleet's `o`).
    Tunnel,
    /// kamal-proxy stopped, removed and run anew on the row's host.
    ProxyReboot,
}

impl RowOp {
    pub const ALL: [RowOp; 12] = [
        RowOp::Boot,
        RowOp::Start,
        RowOp::Stop,
        RowOp::Restart,
        RowOp::Remove,
        RowOp::Logs,
        RowOp::Inspect,
        RowOp::Exec,
        RowOp::Shell,
        RowOp::HostShell,
        RowOp::Tunnel,
        RowOp::ProxyReboot,
    ];

    /// The palette name (and the config file's name for its key).
    pub fn name(self) -> &'static str {
        match self {
            RowOp::Boot => "row-boot",
            RowOp::Start => "row-start",
            RowOp::Stop => "row-stop",
            RowOp::Restart => "row-restart",
            RowOp::Remove => "row-remove",
            RowOp::Logs => "row-logs",
            RowOp::Inspect => "row-inspect",
            RowOp::Exec => "row-exec",
            RowOp::Shell => "row-shell",
            RowOp::HostShell => "host-shell",
            RowOp::Tunnel => "row-tunnel",
            RowOp::ProxyReboot => "host-proxy-reboot",
        }
    }

    /// Changes the servers (hidden with `--read-only`). Logs and inspect only read; a tunnel
    /// only forwards a port.
    pub fn is_mutating(self) -> bool {
        !matches!(self, RowOp::Logs | RowOp::Inspect | RowOp::Tunnel)
    }

    /// Runs on the engine under the deploy lock (confirmed first).
    pub fn is_engine(self) -> bool {
        matches!(self, RowOp::Boot | RowOp::Start | RowOp::Stop | RowOp::Restart | RowOp::Remove | RowOp::ProxyReboot)
    }

    /// The service's name must be typed to confirm.
    pub fn typed(self) -> bool {
        self == RowOp::Remove
    }

    /// What the confirmation says it will do.
    pub fn effect(self, target: &RowTarget) -> String {
        let what = match target {
            RowTarget::Role { role } => format!("role {role} on each of its hosts"),
            RowTarget::Container { role, host } => format!("{role} on {host}"),
            RowTarget::Accessory { name, host } => format!("accessory {name} on {host}"),
        };
        match self {
            RowOp::Boot => format!("a new container of {what} booted (the old one stopped once it is healthy)"),
            RowOp::Start => format!("the existing container of {what} started"),
            RowOp::Stop => format!("the container of {what} stopped (taken out of kamal-proxy first)"),
            RowOp::Restart => format!("the container of {what} stopped, then started again"),
            RowOp::Remove => format!("every container, image and directory of {what} removed"),
            RowOp::ProxyReboot => format!("a brief outage on {}: kamal-proxy stopped, removed and run anew", target.host().unwrap_or_default()),
            _ => String::new(),
        }
    }
}

/// The row an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowTarget {
    /// Every host of a role (`-r ROLE`).
    Role { role: String },
    /// A role's container on one host (`-r ROLE -h HOST`).
    Container { role: String, host: String },
    /// An accessory on one of its hosts (`accessory … NAME -h HOST`).
    Accessory { name: String, host: String },
}

impl RowTarget {
    /// The target of a fleet row (the accessories group row has none).
    pub fn of(row: &TreeRow) -> Option<RowTarget> {
        match row {
            TreeRow::Role { role, .. } => Some(RowTarget::Role { role: role.clone() }),
            TreeRow::Host { role, host } => Some(RowTarget::Container { role: role.clone(), host: host.clone() }),
            TreeRow::Accessory { name, host } => Some(RowTarget::Accessory { name: name.clone(), host: host.clone() }),
            TreeRow::Accessories { .. } => None,
        }
    }

    pub fn host(&self) -> Option<&str> {
        match self {
            RowTarget::Role { .. } => None,
            RowTarget::Container { host, .. } | RowTarget::Accessory { host, .. } => Some(host),
        }
    }

    /// `web on 10.0.0.1`, `role web`, `accessory db on 10.0.0.3`.
    pub fn label(&self) -> String {
        match self {
            RowTarget::Role { role } => format!("role {role}"),
            RowTarget::Container { role, host } => format!("{role} on {host}"),
            RowTarget::Accessory { name, host } => format!("accessory {name} on {host}"),
        }
    }

    /// The actions this row offers, in menu order. `proxy_host`: the row's host runs
    /// kamal-proxy for the app (a role with `proxy:` is on it).
    pub fn ops(&self, proxy_host: bool) -> Vec<RowOp> {
        use RowOp::*;
        let ops: &[RowOp] = match self {
            RowTarget::Role { .. } => &[Boot, Start, Stop, Restart, Remove, Logs, Exec],
            RowTarget::Container { .. } => &[Boot, Start, Stop, Restart, Remove, Logs, Inspect, Exec, Shell, HostShell, Tunnel, ProxyReboot],
            RowTarget::Accessory { .. } => &[Boot, Start, Stop, Restart, Remove, Logs, Inspect, Shell, HostShell, Tunnel],
        };
        ops.iter().copied().filter(|o| *o != ProxyReboot || proxy_host).collect()
    }
}

/// The version `app start` (and the start half of a restart) brings back: the version of the
/// container the row shows (on a role row, the one most of its hosts show), running or not.
pub fn start_version(s: &FleetSnapshot, target: &RowTarget) -> Option<String> {
    match target {
        RowTarget::Container { role, host } => versions::host(s, host).and_then(|h| versions::role_container(h, role)).map(|c| c.version.clone()),
        RowTarget::Role { role } => {
            let hosts = s.roles.iter().find(|(r, _)| r == role).map(|(_, h)| h.as_slice()).unwrap_or_default();
            let mut counts: Vec<(String, usize)> = Vec::new();
            for h in hosts.iter().filter_map(|h| versions::host(s, h)) {
                if let Some(c) = versions::role_container(h, role) {
                    match counts.iter_mut().find(|(v, _)| *v == c.version) {
                        Some(n) => n.1 += 1,
                        None => counts.push((c.version.clone(), 1)),
                    }
                }
            }
            let max = counts.iter().map(|c| c.1).max()?;
            counts.into_iter().find(|c| c.1 == max).map(|c| c.0)
        }
        RowTarget::Accessory { .. } => None,
    }
}

/// The headless command a row action is the same as (what the confirmation shows and the
/// README lists). `boot_version`: the dashboard's `--version` (boot uses it, else `latest`);
/// `start_version`: see [`start_version`]. `None` for the actions without one (logs, inspect,
/// exec, tunnel: the dashboard's own views).
pub fn command_line(op: RowOp, target: &RowTarget, dest: Option<&str>, boot_version: Option<&str>, start_version: Option<&str>) -> Option<String> {
    let d = dest.map(|d| format!(" -d {d}")).unwrap_or_default();
    let scope = match target {
        RowTarget::Role { role } => format!(" -r {role}"),
        RowTarget::Container { role, host } => format!(" -r {role} -h {host}"),
        RowTarget::Accessory { host, .. } => format!(" -h {host}"),
    };
    let start_v = start_version.map(|v| format!(" --version {v}")).unwrap_or_default();
    let boot_v = boot_version.map(|v| format!(" --version {v}")).unwrap_or_default();
    let line = match (op, target) {
        (RowOp::Boot, RowTarget::Accessory { name, .. }) => format!("kdeck accessory boot {name}{scope}{d}"),
        (RowOp::Start, RowTarget::Accessory { name, .. }) => format!("kdeck accessory start {name}{scope}{d}"),
        (RowOp::Stop, RowTarget::Accessory { name, .. }) => format!("kdeck accessory stop {name}{scope}{d}"),
        (RowOp::Restart, RowTarget::Accessory { name, .. }) => format!("kdeck accessory restart {name}{scope}{d}"),
        (RowOp::Remove, RowTarget::Accessory { name, .. }) => format!("kdeck accessory remove {name} -y{scope}{d}"),
        (RowOp::Shell, RowTarget::Accessory { name, .. }) => format!("kdeck accessory exec -i --reuse {name}{scope}{d} sh"),
        (RowOp::Boot, _) => format!("kdeck app boot{scope}{d}{boot_v}"),
        (RowOp::Start, _) => format!("kdeck app start{scope}{d}{start_v}"),
        (RowOp::Stop, _) => format!("kdeck app stop{scope}{d}"),
        (RowOp::Restart, _) => format!("kdeck app stop{scope}{d} && kdeck app start{scope}{d}{start_v}"),
        (RowOp::Remove, _) => format!("kdeck app remove{scope}{d}"),
        (RowOp::Shell, _) => format!("kdeck app exec -i --reuse{scope}{d} sh"),
        (RowOp::HostShell, t) => format!("kdeck server exec -i -h {}{d} '{HOST_SHELL}'", t.host()?),
        (RowOp::ProxyReboot, t) => format!("kdeck proxy reboot -y -h {}{d}", t.host()?),
        (RowOp::Logs | RowOp::Inspect | RowOp::Exec | RowOp::Tunnel, _) => return None,
    };
    Some(line)
}

/// The command a shell on the host runs: the ssh user's login shell.
pub const HOST_SHELL: &str = "exec \"${SHELL:-sh}\" -l";

/// What an interactive shell from the dashboard runs in (the render loop suspends the screen
/// for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellTarget {
    /// `sh` in an app container on `host`: with `role`, that role's running container (as
    /// `app exec -i --reuse -r ROLE -h HOST sh`); without, the exec view's ctrl-o (its first role,
    /// `reuse`: the running container, else a new one).
    App { host: String, role: Option<String>, reuse: bool },
    /// `sh` in an accessory's running container (`accessory exec -i --reuse NAME -h HOST sh`).
    Accessory { host: String, name: String },
    /// The login shell on the host itself (`server exec -i -h HOST …`).
    Host { host: String },
}

impl ShellTarget {
    pub fn host(&self) -> &str {
        match self {
            ShellTarget::App { host, .. } | ShellTarget::Accessory { host, .. } | ShellTarget::Host { host } => host,
        }
    }

    /// `shell on 10.0.0.1`, `shell in web on 10.0.0.1`.
    pub fn label(&self) -> String {
        match self {
            ShellTarget::App { host, role: Some(r), .. } => format!("shell in {r} on {host}"),
            ShellTarget::App { host, role: None, .. } => format!("shell on {host}"),
            ShellTarget::Accessory { host, name } => format!("shell in accessory {name} on {host}"),
            ShellTarget::Host { host } => format!("shell on host {host}"),
        }
    }
}

/// A container as `docker inspect` shows it, for the inspect overlay. Secret values never get
/// here: the worker masks them before it sends the view.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InspectView {
    pub host: String,
    pub container: String,
    pub image: String,
    /// `running`, `exited (1)`, …
    pub state: String,
    pub started: Option<String>,
    pub restart_count: i64,
    /// (name, value or [`MASK`]) in the container's order.
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// `volume db-data → /var/lib/postgresql/data (rw)`.
    pub mounts: Vec<String>,
    /// `5432/tcp → 127.0.0.1:5432`.
    pub ports: Vec<String>,
    pub health: Option<String>,
    /// The health checks' log, oldest first: `time exit N output`.
    pub health_log: Vec<String>,
    /// Why the container could not be read.
    pub error: Option<String>,
}

/// What a hidden env value is shown as.
pub const MASK: &str = "••••••";

/// The env values that may be shown: a name from the config's clear env, Kamal's own
/// (`KAMAL_*`), or a value the image itself sets. Everything else — the keys under
/// `env.secret` and whatever came from the secret env file — is masked. `secrets`: every
/// secret value known to the config, scrubbed from whatever is shown anyway.
pub fn mask_env(env: &[String], clear: &[String], image_env: &[String], secrets: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            let shown = clear.iter().any(|c| c == k) || k.starts_with("KAMAL_") || image_env.iter().any(|i| i == kv);
            let v = if shown && !secrets.iter().any(|s| s.len() >= 4 && v.contains(s.as_str())) { v.to_string() } else { MASK.to_string() };
            (k.to_string(), v)
        })
        .collect()
}

/// `text` with every secret value (4 characters or more) replaced by [`MASK`].
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_shows_only_clear_kamal_and_image_values_and_scrubs_secrets() {
        let env: Vec<String> = ["APP_ENV=staging", "DATABASE_PASSWORD=hunter22", "KAMAL_VERSION=v1", "PATH=/bin", "FROM_FILE=x", "NOTE=uses hunter22"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let shown = mask_env(&env, &["APP_ENV".into(), "NOTE".into()], &["PATH=/bin".into()], &["hunter22".into()]);
        let v = |k: &str| shown.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(v("APP_ENV"), "staging");
        assert_eq!(v("KAMAL_VERSION"), "v1");
        assert_eq!(v("PATH"), "/bin");
        assert_eq!(v("DATABASE_PASSWORD"), MASK);
        assert_eq!(v("FROM_FILE"), MASK, "not in the config's clear env: from the secret env file");
        assert_eq!(v("NOTE"), MASK, "a clear value holding a secret");
        assert_eq!(scrub("pw=hunter22;", &["hunter22".into(), "ab".into()]), format!("pw={MASK};"));
    }

    #[test]
    fn each_row_action_names_the_headless_command_it_is() {
        let c = RowTarget::Container { role: "web".into(), host: "10.0.0.1".into() };
        let r = RowTarget::Role { role: "job".into() };
        let a = RowTarget::Accessory { name: "db".into(), host: "10.0.0.3".into() };
        let line = |op, t: &RowTarget| command_line(op, t, Some("staging"), None, Some("abc")).unwrap_or_default();
        assert_eq!(line(RowOp::Stop, &c), "kdeck app stop -r web -h 10.0.0.1 -d staging");
        assert_eq!(line(RowOp::Start, &r), "kdeck app start -r job -d staging --version abc");
        assert_eq!(line(RowOp::Restart, &c), "kdeck app stop -r web -h 10.0.0.1 -d staging && kdeck app start -r web -h 10.0.0.1 -d staging --version abc");
        assert_eq!(line(RowOp::Restart, &a), "kdeck accessory restart db -h 10.0.0.3 -d staging");
        assert_eq!(line(RowOp::ProxyReboot, &c), "kdeck proxy reboot -y -h 10.0.0.1 -d staging");
        assert_eq!(line(RowOp::Boot, &c), "kdeck app boot -r web -h 10.0.0.1 -d staging");
        assert_eq!(command_line(RowOp::Logs, &c, None, None, None), None);
        assert!(!r.ops(true).contains(&RowOp::ProxyReboot) && !r.ops(true).contains(&RowOp::Shell));
        assert!(c.ops(true).contains(&RowOp::ProxyReboot) && !c.ops(false).contains(&RowOp::ProxyReboot));
        assert!(!a.ops(true).contains(&RowOp::Exec));
    }
}
