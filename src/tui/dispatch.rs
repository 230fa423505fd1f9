//! The boundary between the dashboard and the engine.
//!
//! The UI never waits on the network: it hands [`Request`]s to a [`Dispatcher`] (which must
//! return at once, spawning work as needed) and receives [`Update`]s on a channel.

pub use super::rows::{InspectView, RowOp, RowTarget, ShellTarget};
use crate::deploy::event::Event;
use crate::fleet::model::{FleetSnapshot, ResourceSnapshot};
use crate::fleet::prune::PrunePlan;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// Where an exec runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecScope {
    All,
    Primary,
    Role(String),
    Host(String),
}

impl ExecScope {
    pub fn label(&self) -> String {
        match self {
            ExecScope::All => "all hosts".into(),
            ExecScope::Primary => "primary host".into(),
            ExecScope::Role(r) => format!("role {r}"),
            ExecScope::Host(h) => format!("host {h}"),
        }
    }
}

/// "Since" presets for the log subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Tail100,
    Minutes5,
    Hour1,
    Day1,
}

impl Since {
    pub const ALL: [Since; 4] = [Since::Tail100, Since::Minutes5, Since::Hour1, Since::Day1];
    pub fn label(self) -> &'static str {
        match self {
            Since::Tail100 => "last 100",
            Since::Minutes5 => "5m",
            Since::Hour1 => "1h",
            Since::Day1 => "24h",
        }
    }
    /// How far back, in seconds; `None` for the last 100 lines.
    pub fn seconds(self) -> Option<i64> {
        match self {
            Since::Tail100 => None,
            Since::Minutes5 => Some(300),
            Since::Hour1 => Some(3600),
            Since::Day1 => Some(86400),
        }
    }
}

/// Which hosts a deploy from the dialog reaches (Kamal's `-h`/`-r`, or a host first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployScope {
    All,
    Role(String),
    Host(String),
    /// This host alone first; the rest only when it went well (and, as a canary, when its
    /// traffic passed).
    HostFirst(String),
}

impl DeployScope {
    pub fn label(&self) -> String {
        match self {
            DeployScope::All => "all hosts".into(),
            DeployScope::Role(r) => format!("role {r} (-r {r})"),
            DeployScope::Host(h) => format!("host {h} (-h {h})"),
            DeployScope::HostFirst(h) => format!("{h} first, then the rest"),
        }
    }
}

/// How a deploy from the dialog proceeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeployMode {
    /// Kamal's rolling deploy over the scope.
    Rolling,
    /// `deploy --canary`: the first part alone, its traffic judged for the window against
    /// the other hosts', then the rest — or that part rolled back.
    Canary { window_s: u32, thresholds: crate::fleet::traffic::canary::Thresholds },
    /// `deploy --canary --canary-rollout PERCENT` (one web host): kamal-proxy's own rollout
    /// there, the new version's requests judged against the live one's for the window, the
    /// rollout stopped, then the deploy of every host when it passed.
    Rollout { window_s: u32, thresholds: crate::fleet::traffic::canary::Thresholds, percent: u8 },
}

/// What the deploy dialog asks for: a version, where, how.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployChoice {
    pub version: String,
    pub scope: DeployScope,
    pub mode: DeployMode,
}

/// A deploy in parts (one host first, a canary) between and after its engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub first: Vec<String>,
    pub rest: Vec<String>,
    pub version: String,
    /// The canary's window and thresholds (None: the rest follows when the first part is done).
    pub gate: Option<(u32, crate::fleet::traffic::canary::Thresholds)>,
    pub state: StageState,
    /// The canary's verdict: passed or not, and why with the figures it read.
    pub verdict: Option<(bool, String)>,
    /// A rollout canary's split (the first part is then kamal-proxy's rollout on the one web
    /// host, and the rest the deploy of every host).
    pub rollout: Option<crate::kamal::cmd::RolloutSplit>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageState {
    /// The first part is being deployed.
    First,
    /// Its traffic is being watched since then.
    Watching { since: DateTime<Utc> },
    /// The rest is being deployed.
    Rest,
    /// A failed canary's part is rolled back.
    RollingBack,
    /// A rollout canary's rollout is being stopped (`kamal-proxy rollout stop`).
    Stopping,
    /// All parts have ended: how, in one sentence.
    Done { ok: bool, summary: String },
}

/// Everything the dashboard can ask the engine to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// From the deploy dialog: the version picked, its scope and mode.
    Deploy(DeployChoice),
    /// The deploy dialog opened: read the config and secrets again, ask the registry and git.
    Preflight,
    Redeploy,
    Rollback {
        version: String,
    },
    Exec {
        cmd: String,
        scope: ExecScope,
        reuse: bool,
    },
    /// A local port forwarded to a role's or accessory's container on a host (kept open
    /// until the dashboard quits).
    Tunnel {
        name: String,
        host: String,
    },
    /// An interactive shell (in a container or on a host): the loop suspends the TUI around it.
    Shell {
        target: ShellTarget,
    },
    /// An action on one fleet row: the headless command narrowed to the row (see
    /// `rows::command_line`). `version`: what `app start` starts (the row's container's).
    Row {
        op: RowOp,
        target: RowTarget,
        version: Option<String>,
    },
    /// `docker inspect` of the row's container, answered by [`Update::Inspect`].
    Inspect {
        target: RowTarget,
        container: String,
    },
    LockAcquire {
        message: String,
    },
    LockRelease,
    /// Same semantics as Ctrl-C headless: first = no new steps, second = forced.
    Abort,
    /// (Re)subscribe logs with a since preset.
    Logs {
        since: Since,
    },
    LoadAudit,
    /// Also follow one container's logs (an accessory's), replacing the previous such follow.
    ContainerLogs {
        host: String,
        container: String,
    },
    /// `kamal prune all` (retain_containers, only this service's images).
    Prune,
    /// One of the management commands (maintenance, proxy, remove …).
    Manage(ManageOp),
    /// Write the key a host offered into known_hosts and dial it again (confirmed first).
    TrustHostKey {
        host: String,
    },
    /// The operator is at the keys: dial the hosts that are down again now rather than at the
    /// end of their reconnect backoff.
    Probe,
}

/// The management commands the dashboard offers (the `:` palette, `M` for maintenance), each
/// the engine request of the headless command with the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManageOp {
    Maintenance,
    Live,
    ProxyBoot,
    ProxyReboot,
    ProxyStart,
    ProxyStop,
    ProxyRestart,
    ProxyRemove,
    BuildPush,
    BuildPull,
    BuildDeliver,
    RegistryLogin,
    RegistryLogout,
    RegistrySetup,
    RegistryRemove,
    ServerBootstrap,
    AccessoryUpgrade,
    Upgrade,
    AppRemove,
    Remove,
}

impl ManageOp {
    /// In the palette's order.
    pub const ALL: [ManageOp; 20] = [
        ManageOp::Maintenance,
        ManageOp::Live,
        ManageOp::ProxyBoot,
        ManageOp::ProxyReboot,
        ManageOp::ProxyStart,
        ManageOp::ProxyStop,
        ManageOp::ProxyRestart,
        ManageOp::ProxyRemove,
        ManageOp::BuildPush,
        ManageOp::BuildPull,
        ManageOp::BuildDeliver,
        ManageOp::RegistryLogin,
        ManageOp::RegistryLogout,
        ManageOp::RegistrySetup,
        ManageOp::RegistryRemove,
        ManageOp::ServerBootstrap,
        ManageOp::AccessoryUpgrade,
        ManageOp::Upgrade,
        ManageOp::AppRemove,
        ManageOp::Remove,
    ];

    /// The palette name: the headless command with dashes (`kdeck app maintenance`).
    pub fn name(self) -> &'static str {
        match self {
            ManageOp::Maintenance => "app-maintenance",
            ManageOp::Live => "app-live",
            ManageOp::ProxyBoot => "proxy-boot",
            ManageOp::ProxyReboot => "proxy-reboot",
            ManageOp::ProxyStart => "proxy-start",
            ManageOp::ProxyStop => "proxy-stop",
            ManageOp::ProxyRestart => "proxy-restart",
            ManageOp::ProxyRemove => "proxy-remove",
            ManageOp::BuildPush => "build-push",
            ManageOp::BuildPull => "build-pull",
            ManageOp::BuildDeliver => "build-deliver",
            ManageOp::RegistryLogin => "registry-login",
            ManageOp::RegistryLogout => "registry-logout",
            ManageOp::RegistrySetup => "registry-setup",
            ManageOp::RegistryRemove => "registry-remove",
            ManageOp::AccessoryUpgrade => "accessory-upgrade",
            ManageOp::Upgrade => "upgrade",
            ManageOp::ServerBootstrap => "server-bootstrap",
            ManageOp::AppRemove => "app-remove",
            ManageOp::Remove => "remove",
        }
    }

    /// What the confirmation says it will do.
    pub fn effect(self) -> &'static str {
        match self {
            ManageOp::Maintenance => "kamal-proxy answers 503 (maintenance page) for every proxied role",
            ManageOp::Live => "kamal-proxy serves the app again",
            ManageOp::ProxyBoot => "the kamal network on every host, kamal-proxy started or run on the proxy hosts",
            ManageOp::ProxyReboot => "a brief outage on each proxy host: kamal-proxy stopped, removed and run anew",
            ManageOp::ProxyStart => "kamal-proxy's container started on the proxy hosts",
            ManageOp::ProxyStop => "kamal-proxy stopped on the proxy hosts: every app behind it goes down",
            ManageOp::ProxyRestart => "kamal-proxy stopped and started on the proxy hosts",
            ManageOp::ProxyRemove => "kamal-proxy's container, image and directory removed from the proxy hosts, unless other apps are installed there",
            ManageOp::BuildPush => "the image built from the committed tree and pushed to the registry",
            ManageOp::BuildPull => "the image pulled onto every host",
            ManageOp::BuildDeliver => "the image built and pushed, then pulled onto every host",
            ManageOp::RegistryLogin => "docker login here and on every host",
            ManageOp::RegistryLogout => "docker logout here and on every host",
            ManageOp::RegistrySetup => "docker login here and on every host (a local registry: its container started here)",
            ManageOp::RegistryRemove => "docker logout here and on every host (a local registry: its container removed here)",
            ManageOp::AccessoryUpgrade => "every accessory rebooted into the kamal network (Kamal 1 → 2), all hosts at once",
            ManageOp::Upgrade => "Kamal 1 → 2 on every host: Traefik replaced by kamal-proxy, the app booted at the dashboard's --version (else the latest tag), the accessories rebooted",
            ManageOp::ServerBootstrap => "Docker installed on hosts that lack it, then the docker-setup hook",
            ManageOp::AppRemove => "every container, image and directory of the app removed from its hosts",
            ManageOp::Remove => "the app, kamal-proxy (unless other apps use it), every accessory and the hosts' registry login removed",
        }
    }

    /// Runs under the deploy lock, as in Kamal (builds and registry logins do not).
    pub fn takes_lock(self) -> bool {
        !matches!(
            self,
            ManageOp::BuildPush
                | ManageOp::BuildPull
                | ManageOp::BuildDeliver
                | ManageOp::RegistryLogin
                | ManageOp::RegistryLogout
                | ManageOp::RegistrySetup
                | ManageOp::RegistryRemove
        )
    }

    /// Destructive: the operator types the service name to confirm.
    pub fn typed(self) -> bool {
        matches!(self, ManageOp::AppRemove | ManageOp::Remove | ManageOp::ProxyRemove)
    }
}

impl Request {
    pub fn is_mutating(&self) -> bool {
        !matches!(
            self,
            Request::Logs { .. } | Request::LoadAudit | Request::ContainerLogs { .. } | Request::Probe | Request::Preflight | Request::Inspect { .. }
        )
    }
}

/// One log line from a watcher.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub host: String,
    pub role: String,
    pub container: Option<String>,
    pub ts: Option<DateTime<Utc>>,
    pub stderr: bool,
    pub text: String,
}

/// What flows into the dashboard.
#[derive(Debug, Clone)]
pub enum Update {
    Fleet(FleetSnapshot),
    Engine(Event),
    Log(LogLine),
    Audit(Vec<String>),
    /// Live host/container resources from `fleet::resources::Monitor`.
    Resources(Box<ResourceSnapshot>),
    /// The latest prune preview per host.
    PrunePlans(Vec<PrunePlan>),
    /// Requests per host × target, from kamal-proxy's request log (`fleet::traffic`).
    Traffic(Box<crate::fleet::traffic::TrafficSnapshot>),
    /// What the deploy dialog's pre-flight found (the picker's registry and git sources too).
    Preflight(Box<crate::app::preflight::Report>),
    /// A deploy in parts moved on (canary watching, its verdict, the end).
    Stage(Stage),
    /// An engine job has ended (after all its runs: a row's restart is two): the bell and the
    /// desktop notification. `what`: the row action's name, else the run's.
    ActionEnded {
        ok: bool,
        what: Option<String>,
    },
    /// The container a row's inspect asked for (secret values already masked).
    Inspect(Box<InspectView>),
    /// A message for the status line (errors from the engine included).
    Notice {
        error: bool,
        text: String,
    },
    /// The process got SIGTERM/SIGHUP: quit, after the running action (already told to abort)
    /// has finished.
    Terminate,
}

/// Implemented by the engine. Must not block.
pub trait Dispatcher: Send {
    fn dispatch(&mut self, req: Request);
}

/// A dispatcher that forwards requests on a channel (the engine's task receives them).
pub struct ChannelDispatcher(pub mpsc::UnboundedSender<Request>);

impl Dispatcher for ChannelDispatcher {
    fn dispatch(&mut self, req: Request) {
        let _ = self.0.send(req);
    }
}

/// Records requests; for tests and `--read-only` previews.
#[derive(Default)]
pub struct Recorder(pub Vec<Request>);

impl Dispatcher for Recorder {
    fn dispatch(&mut self, req: Request) {
        self.0.push(req);
    }
}
