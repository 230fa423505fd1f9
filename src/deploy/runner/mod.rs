//! The runner: executes a request as Kamal would (same command strings, same order per host),
//! emitting [`Event`]s. It never prints.
//!
//! `recipe` says, per request kind, which phases are planned and what runs; `plan()` and
//! `run()` both read it. The rest are the seams of a run: `steps` (exec and step primitives),
//! `hooks`, `lock`, `image` (docker check, build, pull), `proxy`, `app` (stale, prune,
//! start/stop), `boot` and `health` (app boot), `accessory`.

mod accessory;
mod app;
mod boot;
mod builder;
mod exec;
mod health;
mod hooks;
mod image;
mod lock;
mod manage;
mod proxy;
mod recipe;
mod registry;
mod request;
mod rollout;
mod steps;
mod upgrade;

use super::abort::AbortHandle;
use super::event::{ActionKind, Event, LockInfo, PlannedStep, StepKind};
use super::remote::{ExecOutput, Remote};
use crate::kamal::AppSpec;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

pub use accessory::AccessoryAction;
pub use exec::{ExecRequest, ExecResult};
pub use request::{RegistryAction, Request};

/// Who runs the action and with which options.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Version to deploy/boot (deploy: the git version or `--version`).
    pub version: String,
    /// `git config user.email` or `whoami` (audit lines, hooks).
    pub performer: String,
    /// `git config user.name` or `Unknown` (lock details).
    pub lock_user: String,
    pub skip_hooks: bool,
    /// Host that holds the lock (Kamal's lock host rule, computed before host filtering).
    pub lock_host: String,
    /// `-r` roles given (for `KAMAL_ROLES`).
    pub roles_filter: Option<Vec<String>>,
    /// `--no-cache`: the image build ignores Docker's build cache.
    pub no_cache: bool,
    /// `--lock-wait`: wait for an automatic lock held by another deploy instead of failing.
    pub lock_wait: Option<LockWait>,
    /// Hosts where `-r` leaves some of the host's roles out: `app remove` keeps their images
    /// and directories, as Kamal.
    pub partial_hosts: Vec<String>,
}

/// How long `--lock-wait` waits for the deploy lock, and how often it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockWait {
    pub timeout: std::time::Duration,
    pub interval: std::time::Duration,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("Deploy lock found. Run 'kdeck lock help' for more information")]
    Locked(LockInfo),
    #[error("aborted")]
    Aborted,
    #[error("{message}")]
    Failed { host: Option<String>, message: String },
    /// `rollback` to a version that is not a container everywhere (Kamal exits 0).
    #[error("The app version '{0}' is not available as a container (use 'kdeck app containers' for available versions)")]
    VersionUnavailable(String),
}

type R<T> = Result<T, EngineError>;

fn failed(host: &str, message: impl Into<String>) -> EngineError {
    EngineError::Failed { host: Some(host.to_string()), message: message.into() }
}

pub struct Engine {
    /// The app in scope (roles/hosts already filtered by -r/-h/-p).
    pub app: Arc<AppSpec>,
    remotes: BTreeMap<String, Arc<dyn Remote>>,
    tx: mpsc::UnboundedSender<Event>,
    pub abort: AbortHandle,
    pub opts: RunOptions,
    started: Instant,
    lock_held: std::sync::atomic::AtomicBool,
    current_command: std::sync::Mutex<String>,
    /// Answers to `container_id_for(host, role, version)` already asked under the lock (rollback
    /// asks it before booting): boot takes them instead of asking again.
    known_ids: std::sync::Mutex<BTreeMap<(String, String, String), String>>,
    /// One registry login per host and run: the pull and the proxy boot both need it and run
    /// at the same time; the second waits for the first's answer instead of logging in again.
    logins: std::sync::Mutex<BTreeMap<String, Arc<tokio::sync::OnceCell<R<()>>>>>,
    /// The pre-connect hook ran (Kamal runs it once, before the first command on a host).
    connected: std::sync::atomic::AtomicBool,
}

impl Engine {
    pub fn new(app: Arc<AppSpec>, remotes: BTreeMap<String, Arc<dyn Remote>>, tx: mpsc::UnboundedSender<Event>, abort: AbortHandle, opts: RunOptions) -> Self {
        Engine {
            app,
            remotes,
            tx,
            abort,
            opts,
            started: Instant::now(),
            lock_held: Default::default(),
            current_command: Default::default(),
            known_ids: Default::default(),
            logins: Default::default(),
            connected: Default::default(),
        }
    }

    pub(super) fn emit(&self, e: Event) {
        let _ = self.tx.send(e);
    }

    pub(super) fn remote(&self, host: &str) -> R<&Arc<dyn Remote>> {
        self.remotes.get(host).ok_or_else(|| failed(host, format!("no connection to {host}")))
    }

    // ------------------------------------------------------------------ whole requests

    /// The steps a request will run, for the PlanReady event (the timeline's rows).
    pub fn plan(&self, req: &Request) -> (Vec<Vec<String>>, Vec<PlannedStep>) {
        self.plan_phases(&self.recipe(req).phases)
    }

    /// Run a whole request. Emits PlanReady first and Finished last; releases the lock in every path.
    pub async fn run(&self, req: Request) -> R<()> {
        *self.current_command.lock().map_err(|_| EngineError::Aborted)? = req.kamal_command().to_string();
        let recipe = self.recipe(&req);
        let (groups, steps) = self.plan_phases(&recipe.phases);
        self.emit(Event::PlanReady { action: req.action(), version: Some(self.opts.version.clone()), hosts: self.app.hosts_primary_first(), groups, steps });
        let t0 = Instant::now();
        let res = self.run_recipe(recipe).await;
        if self.lock_is_held() {
            let _ = self.release_lock().await;
        }
        let (ok, summary) = match &res {
            // Not the Debug form (`rollback { version: "v2" }`): `--json` consumers read this.
            Ok(()) => (true, format!("{} finished", req.action().describe())),
            Err(EngineError::VersionUnavailable(_)) => (true, res.as_ref().err().map(|e| e.to_string()).unwrap_or_default()),
            Err(e) => (false, e.to_string()),
        };
        self.emit(Event::Finished { ok, elapsed: t0.elapsed(), summary });
        res
    }
}

/// Kamal's failure text for a command: status plus both streams.
pub fn exec_failure(host: &str, out: &ExecOutput) -> String {
    format!(
        "Exception while executing on host {host}: docker exit status: {}\ndocker stdout: {}\ndocker stderr: {}",
        out.status,
        if out.stdout.trim().is_empty() { "Nothing written" } else { out.stdout.trim() },
        if out.stderr.trim().is_empty() { "Nothing written" } else { out.stderr.trim() }
    )
}

/// Hide registry passwords in anything that may be logged.
pub fn redact(s: &str) -> String {
    crate::logging::redact_command(s).into_owned()
}
