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
    /// `accessory boot|reboot|start|stop|restart|remove NAME` (`all` = every accessory).
    Accessory {
        action: AccessoryAction,
        name: String,
    },
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
        }
    }
    /// `KAMAL_COMMAND` as Kamal sets it.
    pub(super) fn kamal_command(&self) -> &'static str {
        match self {
            Request::Setup { .. } => "setup",
            Request::Deploy { .. } => "deploy",
            Request::Redeploy { .. } => "redeploy",
            Request::Rollback { .. } => "rollback",
            Request::AppBoot | Request::AppStart | Request::AppStop | Request::StaleStop => "app",
            Request::Prune { .. } => "prune",
            Request::LockAcquire { .. } | Request::LockRelease => "lock",
            Request::ProxyBoot | Request::ProxyReboot { .. } => "proxy",
            Request::Accessory { .. } => "accessory",
            Request::BuildPush { .. } | Request::BuildDeliver | Request::BuildPull | Request::BuildCreate | Request::BuildRemove | Request::BuildDev { .. } => {
                "build"
            }
        }
    }
}
