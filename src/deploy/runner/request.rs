//! What the operator asked for, as the engine's request kinds.

use super::AccessoryAction;
use super::ActionKind;

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Setup {
        skip_push: bool,
    },
    Deploy {
        skip_push: bool,
    },
    Redeploy {
        skip_push: bool,
    },
    Rollback {
        version: String,
    },
    /// A rollout canary's start (kdeck only): on the one host behind kamal-proxy the new
    /// version beside the live one, as kamal-proxy's rollout target with this split; the
    /// deploy lock stays held for [`Request::RolloutStop`].
    RolloutStart {
        skip_push: bool,
        split: crate::kamal::cmd::RolloutSplit,
    },
    /// A rollout canary's end: `kamal-proxy rollout stop`, the new containers stopped, the
    /// lock the start took released.
    RolloutStop,
    AppBoot,
    AppStart,
    AppStop,
    StaleStop,
    Prune {
        containers: bool,
        images: bool,
        retain: Option<usize>,
    },
    LockAcquire {
        message: String,
    },
    LockRelease,
    ProxyBoot,
    /// `proxy reboot`; `rolling`: one host after the other, hooks around each.
    ProxyReboot {
        rolling: bool,
    },
    /// `build push`: build with buildx and export as `output` (`registry`: push).
    BuildPush {
        output: String,
        no_cache: bool,
    },
    /// `build deliver`: `build push`, then `build pull`.
    BuildDeliver,
    /// `build pull`: the image pulled on every host.
    BuildPull,
    /// `build create`: the buildx builder (and a remote builder's docker context).
    BuildCreate,
    /// `build remove`: the builder removed.
    BuildRemove,
    /// `build dev`: the working directory built, tagged `-dirty`, exported as `output`.
    BuildDev {
        output: String,
        no_cache: bool,
    },
    /// `upgrade` (Kamal 1 → 2): per host group Traefik replaced by kamal-proxy and the app
    /// booted at `version` (`--version`, else the latest tag), then every accessory rebooted.
    Upgrade {
        rolling: bool,
        version: String,
    },
    /// `accessory upgrade NAME|all`: NAME rebooted into the kamal network, per host group.
    AccessoryUpgrade {
        name: String,
        rolling: bool,
    },
    /// `accessory boot|reboot|start|stop|restart|remove NAME` (`all` = every accessory).
    Accessory {
        action: AccessoryAction,
        name: String,
    },
    /// `app maintenance`: kamal-proxy answers 503 with `message` (drain timeout from the config
    /// unless given).
    AppMaintenance {
        drain_timeout: Option<u64>,
        message: Option<String>,
    },
    /// `app live`: back from maintenance.
    AppLive,
    /// `app remove`: containers, images and directories of the app.
    AppRemove,
    ProxyStart,
    ProxyStop,
    ProxyRestart,
    /// `proxy remove`; `force`: even when other apps are installed on the host.
    ProxyRemove {
        force: bool,
    },
    /// `remove`: the app, the proxy, every accessory and the hosts' registry session.
    Remove,
    /// `registry login|logout|setup|remove`, on this machine (`local`) and on the hosts (`remote`).
    Registry {
        action: RegistryAction,
        local: bool,
        remote: bool,
    },
    /// `server bootstrap`: Docker installed where it is missing.
    ServerBootstrap,
}

/// The registry commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryAction {
    Login,
    Logout,
    /// `login`, or with a local registry (`localhost:PORT`) its container started.
    Setup,
    /// `logout`, or with a local registry its container removed.
    Remove,
}

impl Request {
    pub fn action(&self) -> ActionKind {
        match self {
            Request::Setup { .. } => ActionKind::Setup,
            Request::Deploy { .. } => ActionKind::Deploy,
            Request::Redeploy { .. } => ActionKind::Redeploy,
            Request::Rollback { version } => ActionKind::Rollback { version: version.clone() },
            Request::AppBoot => ActionKind::AppBoot,
            Request::AppStart => ActionKind::AppStart,
            Request::AppStop | Request::StaleStop => ActionKind::AppStop,
            Request::Prune { .. } => ActionKind::Prune,
            Request::LockAcquire { .. } => ActionKind::LockAcquire,
            Request::LockRelease => ActionKind::LockRelease,
            Request::ProxyBoot => ActionKind::ProxyBoot,
            Request::ProxyReboot { .. } => ActionKind::ProxyReboot,
            Request::Accessory { action, name } => ActionKind::Accessory { action: action.as_str().into(), name: name.clone() },
            Request::BuildPush { .. } => ActionKind::Build { subcommand: "push".into() },
            Request::BuildDeliver => ActionKind::Build { subcommand: "deliver".into() },
            Request::BuildPull => ActionKind::Build { subcommand: "pull".into() },
            Request::BuildCreate => ActionKind::Build { subcommand: "create".into() },
            Request::BuildRemove => ActionKind::Build { subcommand: "remove".into() },
            Request::BuildDev { .. } => ActionKind::Build { subcommand: "dev".into() },
            Request::AccessoryUpgrade { name, .. } => ActionKind::Accessory { action: "upgrade".into(), name: name.clone() },
            Request::RolloutStart { .. } => ActionKind::Manage { command: "rollout deploy".into() },
            Request::RolloutStop => ActionKind::Manage { command: "rollout stop".into() },
            other => ActionKind::Manage { command: other.command_line().into() },
        }
    }
    /// The management commands as the operator types them.
    fn command_line(&self) -> &'static str {
        match self {
            Request::AppMaintenance { .. } => "app maintenance",
            Request::AppLive => "app live",
            Request::AppRemove => "app remove",
            Request::ProxyStart => "proxy start",
            Request::ProxyStop => "proxy stop",
            Request::ProxyRestart => "proxy restart",
            Request::ProxyRemove { .. } => "proxy remove",
            Request::Remove => "remove",
            Request::Registry { action: RegistryAction::Login, .. } => "registry login",
            Request::Registry { action: RegistryAction::Logout, .. } => "registry logout",
            Request::Registry { action: RegistryAction::Setup, .. } => "registry setup",
            Request::Registry { action: RegistryAction::Remove, .. } => "registry remove",
            Request::ServerBootstrap => "server bootstrap",
            Request::Upgrade { rolling: false, .. } => "upgrade",
            Request::Upgrade { rolling: true, .. } => "upgrade --rolling",
            _ => self.kamal_command(),
        }
    }
    /// `KAMAL_COMMAND` as Kamal sets it.
    pub(super) fn kamal_command(&self) -> &'static str {
        match self {
            Request::Setup { .. } => "setup",
            Request::Deploy { .. } | Request::RolloutStart { .. } | Request::RolloutStop => "deploy",
            Request::Redeploy { .. } => "redeploy",
            Request::Rollback { .. } => "rollback",
            Request::AppBoot | Request::AppStart | Request::AppStop | Request::StaleStop => "app",
            Request::AppMaintenance { .. } | Request::AppLive | Request::AppRemove => "app",
            Request::ProxyStart | Request::ProxyStop | Request::ProxyRestart | Request::ProxyRemove { .. } => "proxy",
            Request::Remove => "remove",
            Request::Registry { .. } => "registry",
            Request::ServerBootstrap => "server",
            Request::Prune { .. } => "prune",
            Request::LockAcquire { .. } | Request::LockRelease => "lock",
            Request::ProxyBoot | Request::ProxyReboot { .. } => "proxy",
            Request::Accessory { .. } | Request::AccessoryUpgrade { .. } => "accessory",
            Request::BuildPush { .. } | Request::BuildDeliver | Request::BuildPull | Request::BuildCreate | Request::BuildRemove | Request::BuildDev { .. } => {
                "build"
            }
            Request::Upgrade { .. } => "upgrade",
        }
    }
}
