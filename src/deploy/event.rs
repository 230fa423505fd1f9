//! Typed events emitted by the deploy engine and the fleet watchers.
//!
//! The TUI and the headless printer (`--json` or line output) are two consumers of the same
//! stream. Events carry data, never formatting. Keep variants additive: the TUI matches on them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

pub use crate::kamal::lock::LockInfo;

/// What an action is, as the operator named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Setup,
    Deploy,
    Redeploy,
    Rollback {
        version: String,
    },
    AppBoot,
    AppStart,
    AppStop,
    Exec {
        cmd: String,
    },
    Prune,
    LockAcquire,
    LockRelease,
    ProxyBoot,
    ProxyReboot,
    /// `accessory <action> <name|all>`.
    Accessory {
        action: String,
        name: String,
    },
    /// A management command (`app maintenance`, `proxy stop`, `remove` …), as typed.
    Manage {
        command: String,
    },
    /// `build <subcommand>`.
    Build {
        subcommand: String,
    },
}

impl ActionKind {
    /// The action as the operator typed it (`rollback v2`, `lock acquire`, `accessory boot db`),
    /// for human-readable summaries — the `--json` `finished` event included.
    pub fn describe(&self) -> String {
        match self {
            ActionKind::Setup => "setup".into(),
            ActionKind::Deploy => "deploy".into(),
            ActionKind::Redeploy => "redeploy".into(),
            ActionKind::Rollback { version } => format!("rollback {version}"),
            ActionKind::AppBoot => "app boot".into(),
            ActionKind::AppStart => "app start".into(),
            ActionKind::AppStop => "app stop".into(),
            ActionKind::Exec { cmd } => format!("app exec {cmd}"),
            ActionKind::Prune => "prune".into(),
            ActionKind::LockAcquire => "lock acquire".into(),
            ActionKind::LockRelease => "lock release".into(),
            ActionKind::ProxyBoot => "proxy boot".into(),
            ActionKind::ProxyReboot => "proxy reboot".into(),
            ActionKind::Accessory { action, name } => format!("accessory {action} {name}"),
            ActionKind::Manage { command } => command.clone(),
            ActionKind::Build { subcommand } => format!("build {subcommand}"),
        }
    }
}

/// The kind of a step in a plan; the timeline shows one row per (host, role, step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Hook,
    Build,
    Push,
    Pull,
    Lock,
    Unlock,
    ProxyBoot,
    StaleStop,
    /// Rename of a clashing container to `_replaced_<hex16>`.
    Rename,
    /// `docker run` of the new container.
    Boot,
    /// Waiting for health: kamal-proxy deploy (proxy roles) or Docker state polling.
    Health,
    /// Traffic switched by kamal-proxy (proxy roles).
    Switch,
    StopOld,
    Tag,
    Prune,
    Exec,
    Other,
}

/// One planned step, before it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedStep {
    pub host: Option<String>,
    pub role: Option<String>,
    pub kind: StepKind,
    /// Boot group index (0-based) for app boot steps; `None` for steps outside groups.
    pub group: Option<usize>,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The sentence that matters in a failure's text: the command's own error line inside an
/// exec failure ("… docker stderr: Error: target failed to become healthy …"), not the
/// exception header; otherwise the first non-empty line.
pub fn verdict(error: &str) -> &str {
    error
        .lines()
        .filter_map(|l| l.strip_prefix("docker stderr: "))
        .find(|l| !l.trim().is_empty() && *l != "Nothing written")
        .or_else(|| error.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
}

/// Health as Docker and kamal-proxy see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// `.State.Health.Status` or `.State.Status` when no healthcheck.
    pub docker: Option<String>,
    /// kamal-proxy's verdict (deploy exit status / message) for proxy roles.
    pub proxy: Option<String>,
    /// Why it failed: the last health log entry or proxy message.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    PlanReady {
        action: ActionKind,
        version: Option<String>,
        hosts: Vec<String>,
        groups: Vec<Vec<String>>,
        steps: Vec<PlannedStep>,
    },
    StepStarted {
        host: Option<String>,
        role: Option<String>,
        kind: StepKind,
        label: String,
        at: DateTime<Utc>,
    },
    StepProgress {
        host: Option<String>,
        role: Option<String>,
        kind: StepKind,
        message: String,
        #[serde(with = "duration_secs")]
        elapsed: Duration,
    },
    StepFinished {
        host: Option<String>,
        role: Option<String>,
        kind: StepKind,
        #[serde(with = "duration_secs")]
        elapsed: Duration,
    },
    StepFailed {
        host: Option<String>,
        role: Option<String>,
        kind: StepKind,
        #[serde(with = "duration_secs")]
        elapsed: Duration,
        error: String,
        /// The container's last log lines, when a boot/health step failed.
        last_logs: Vec<String>,
        health: Option<HealthReport>,
    },
    Output {
        host: Option<String>,
        role: Option<String>,
        stream: Stream,
        line: String,
    },
    Health {
        host: String,
        role: String,
        report: HealthReport,
    },
    GroupStarted {
        index: usize,
        hosts: Vec<String>,
    },
    Lock {
        host: String,
        held: Option<LockInfo>,
    },
    /// Ctrl-C / abort received: no new steps start.
    Aborting {
        forced: bool,
    },
    Finished {
        ok: bool,
        #[serde(with = "duration_secs")]
        elapsed: Duration,
        summary: String,
    },
}

mod duration_secs {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod describe_tests {
    use super::ActionKind;

    /// QA: the `--json` `finished` summary read `rollback { version: "v2" } finished` (Debug form).
    #[test]
    fn actions_are_described_as_typed() {
        assert_eq!(ActionKind::Rollback { version: "V2".into() }.describe(), "rollback V2");
        assert_eq!(ActionKind::LockAcquire.describe(), "lock acquire");
        assert_eq!(ActionKind::ProxyReboot.describe(), "proxy reboot");
        assert_eq!(ActionKind::Accessory { action: "boot".into(), name: "db".into() }.describe(), "accessory boot db");
        assert_eq!(ActionKind::Deploy.describe(), "deploy");
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::verdict;

    #[test]
    fn the_verdict_is_the_commands_error_not_the_exception_header() {
        let r = "Exception while executing on host 10.0.0.1: docker exit status: 1\ndocker stdout: Nothing written\ndocker stderr: Error: target failed to become healthy within configured timeout (20s)";
        assert_eq!(verdict(r), "Error: target failed to become healthy within configured timeout (20s)");
        assert_eq!(verdict("{\"Status\":\"unhealthy\"}"), "{\"Status\":\"unhealthy\"}");
        assert_eq!(verdict("\nExceptions on 2 hosts:\nconnection lost"), "Exceptions on 2 hosts:");
    }
}
