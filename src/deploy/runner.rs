//! The runner: executes a request as Kamal would (same command strings, same order per host),
//! emitting [`Event`]s. It never prints.

use super::abort::AbortHandle;
use super::event::{ActionKind, Event, HealthReport, LockInfo, PlannedStep, StepKind};
use super::remote::{upload, ExecOutput, Remote, RemoteError};
use crate::kamal::{self, audit, cmd, envfile, hooks, lock, AppSpec, RoleSpec};
use chrono::Utc;
use futures::future::join_all;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[path = "accessory.rs"]
mod accessory;
pub use accessory::AccessoryAction;

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
    ProxyReboot,
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
            Request::ProxyReboot => ActionKind::ProxyReboot,
            Request::Accessory { action, name } => ActionKind::Accessory { action: action.as_str().into(), name: name.clone() },
        }
    }
    /// `KAMAL_COMMAND` as Kamal sets it.
    fn kamal_command(&self) -> &'static str {
        match self {
            Request::Setup { .. } => "setup",
            Request::Deploy { .. } => "deploy",
            Request::Redeploy { .. } => "redeploy",
            Request::Rollback { .. } => "rollback",
            Request::AppBoot | Request::AppStart | Request::AppStop | Request::StaleStop => "app",
            Request::Prune { .. } => "prune",
            Request::LockAcquire { .. } | Request::LockRelease => "lock",
            Request::ProxyBoot | Request::ProxyReboot => "proxy",
            Request::Accessory { .. } => "accessory",
        }
    }
}

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
    #[error("The app version '{0}' is not available as a container (use 'kamal app containers' for available versions)")]
    VersionUnavailable(String),
}

type R<T> = Result<T, EngineError>;

fn failed(host: &str, message: impl Into<String>) -> EngineError {
    EngineError::Failed { host: Some(host.to_string()), message: message.into() }
}

/// Per-step failure detail carried until the StepFailed event is emitted.
struct StepFail {
    err: EngineError,
    last_logs: Vec<String>,
    health: Option<HealthReport>,
}

impl From<EngineError> for StepFail {
    fn from(err: EngineError) -> Self {
        StepFail { err, last_logs: vec![], health: None }
    }
}

/// The "barrier": non-primary roles wait until the first primary container is healthy.
#[derive(Clone)]
struct Barrier {
    tx: Arc<watch::Sender<Option<bool>>>,
    rx: watch::Receiver<Option<bool>>,
}

impl Barrier {
    fn new() -> Self {
        let (tx, rx) = watch::channel(None);
        Barrier { tx: Arc::new(tx), rx }
    }
    fn open(&self) {
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(true);
                true
            } else {
                false
            }
        });
    }
    fn close(&self) {
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(false);
                true
            } else {
                false
            }
        });
    }
    async fn wait(&self) -> bool {
        let mut rx = self.rx.clone();
        loop {
            if let Some(v) = *rx.borrow() {
                return v;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }
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
        }
    }

    fn emit(&self, e: Event) {
        let _ = self.tx.send(e);
    }

    fn remote(&self, host: &str) -> R<&Arc<dyn Remote>> {
        self.remotes.get(host).ok_or_else(|| failed(host, format!("no connection to {host}")))
    }

    // ------------------------------------------------------------------ primitives

    /// Run a command; a transport failure is an error, a non-zero status is not.
    pub async fn sh(&self, host: &str, command: &str) -> R<ExecOutput> {
        let r = self.remote(host)?;
        tracing::debug!(host, cmd = %redact(command), "exec");
        let fut = r.exec(command);
        let out = tokio::select! {
            o = fut => o,
            _ = self.abort.forced() => return Err(EngineError::Aborted),
        };
        let out = out.map_err(|e: RemoteError| failed(host, e.to_string()))?;
        tracing::debug!(host, status = out.status, "exec done");
        Ok(out)
    }

    /// Run a command even after a forced abort (clean-up that keeps hosts consistent).
    async fn sh_always(&self, host: &str, command: &str) -> R<ExecOutput> {
        let r = self.remote(host)?;
        r.exec(command).await.map_err(|e| failed(host, e.to_string()))
    }

    /// Run a command that must succeed (Kamal's SSHKit::Command::Failed otherwise).
    pub async fn sh_ok(&self, host: &str, command: &str) -> R<ExecOutput> {
        let out = self.sh(host, command).await?;
        if out.ok() {
            Ok(out)
        } else {
            Err(failed(host, exec_failure(host, &out)))
        }
    }

    async fn upload(&self, host: &str, path: &str, data: &[u8], mode: u32) -> R<()> {
        let r = self.remote(host)?;
        let out = upload(r.as_ref(), path, data, mode).await.map_err(|e| failed(host, e.to_string()))?;
        if !out.ok() {
            return Err(failed(host, format!("upload of {path} failed: {}", out.combined())));
        }
        Ok(())
    }

    /// `docker login` on `host` (Kamal's command), at most once per run.
    async fn login_once(&self, host: &str) -> R<()> {
        let Some(login) = cmd::docker_login(&self.app) else { return Ok(()) };
        let cell = self.logins.lock().unwrap().entry(host.to_string()).or_default().clone();
        cell.get_or_init(|| async { self.sh_ok(host, &login).await.map(|_| ()) }).await.clone()
    }

    async fn audit(&self, host: &str, role: Option<&str>, message: &str) -> R<()> {
        let line = audit::line(Utc::now(), &self.opts.performer, self.app.destination.as_deref(), role, message);
        self.sh_ok(host, &cmd::audit_record(&self.app, &line)).await.map(|_| ())
    }

    /// Run `f` as one visible step: started → finished/failed with elapsed time. A step does not
    /// start once a stop was requested.
    async fn step<T, F>(&self, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = Result<T, StepFail>>,
    {
        self.step_opt(true, host, role, kind, label, f).await
    }

    /// A step that runs even after a stop request: the rest of a host×role boot once its new
    /// container started (health, then stop old or stop new), so no host is left with two.
    async fn step_finish<T, F>(&self, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = Result<T, StepFail>>,
    {
        self.step_opt(false, host, role, kind, label, f).await
    }

    async fn step_opt<T, F>(&self, check_stop: bool, host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str, f: F) -> R<T>
    where
        F: Future<Output = Result<T, StepFail>>,
    {
        if check_stop && self.abort.is_stopping() {
            return Err(EngineError::Aborted);
        }
        let t0 = Instant::now();
        self.emit(Event::StepStarted { host: host.map(Into::into), role: role.map(Into::into), kind, label: label.into(), at: Utc::now() });
        match f.await {
            Ok(v) => {
                self.emit(Event::StepFinished { host: host.map(Into::into), role: role.map(Into::into), kind, elapsed: t0.elapsed() });
                Ok(v)
            }
            Err(sf) => {
                self.emit(Event::StepFailed {
                    host: host.map(Into::into),
                    role: role.map(Into::into),
                    kind,
                    elapsed: t0.elapsed(),
                    error: sf.err.to_string(),
                    last_logs: sf.last_logs,
                    health: sf.health,
                });
                Err(sf.err)
            }
        }
    }

    /// Progress of a step that runs locally (no host).
    fn progress_global(&self, kind: StepKind, t0: Instant, message: String) {
        self.emit(Event::StepProgress { host: None, role: None, kind, message, elapsed: t0.elapsed() });
    }

    fn progress(&self, host: &str, role: Option<&str>, kind: StepKind, t0: Instant, message: String) {
        self.emit(Event::StepProgress { host: Some(host.into()), role: role.map(Into::into), kind, message, elapsed: t0.elapsed() });
    }

    /// Run `f` on every host in parallel; first error (by host order) wins, all run to the end.
    async fn on_hosts<'a, F, Fut>(&'a self, hosts: &'a [String], f: F) -> R<()>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = R<()>> + 'a,
    {
        let results = join_all(hosts.iter().map(|h| f(h.as_str()))).await;
        let errs: Vec<EngineError> = results.into_iter().filter_map(|r| r.err()).collect();
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.into_iter().next().unwrap_or(EngineError::Aborted)),
            n => {
                if errs.iter().all(|e| matches!(e, EngineError::Aborted)) {
                    return Err(EngineError::Aborted);
                }
                let lines: Vec<String> = errs.iter().filter(|e| !matches!(e, EngineError::Aborted)).map(|e| e.to_string()).collect();
                Err(EngineError::Failed { host: None, message: format!("Exceptions on {n} hosts:\n{}", lines.join("\n")) })
            }
        }
    }

    // ------------------------------------------------------------------ hooks

    pub async fn hook(&self, name: &str, hosts: &[String], lock: bool, runtime: Option<u64>) -> R<()> {
        if self.opts.skip_hooks || !hooks::exists(&self.app, name) {
            return Ok(());
        }
        let ctx = hooks::HookContext {
            performer: self.opts.performer.clone(),
            version: self.opts.version.clone(),
            hosts: hosts.to_vec(),
            roles: self.opts.roles_filter.clone(),
            lock,
            command: self.current_command.lock().map(|c| c.clone()).unwrap_or_default(),
            runtime,
        };
        let env = hooks::env(&self.app, name, &ctx, Utc::now());
        let path = hooks::path(&self.app, name);
        let root = self.app.root.clone();
        self.step(None, None, StepKind::Hook, &format!("hook {name}"), async move {
            let out = tokio::process::Command::new(&path)
                .envs(env)
                .current_dir(&root)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| EngineError::Failed { host: None, message: format!("Hook `{name}` failed:\ncannot run {}: {e}", path.display()) })?;
            if !out.status.success() {
                let mut msg = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
                let err = String::from_utf8_lossy(&out.stderr);
                if !err.trim().is_empty() {
                    msg.push('\n');
                    msg.push_str(err.trim_end());
                }
                return Err(EngineError::Failed { host: None, message: format!("Hook `{name}` failed:\n{msg}") }.into());
            }
            Ok(())
        })
        .await
    }

    // ------------------------------------------------------------------ lock (§4.1, §9)

    pub async fn mkdir_kamal(&self, hosts: &[String]) -> R<()> {
        self.on_hosts(hosts, |h| async move {
            self.step(Some(h), None, StepKind::Other, "mkdir -p .kamal", async { self.sh_ok(h, &cmd::mkdir_kamal()).await.map(|_| ()).map_err(Into::into) })
                .await
        })
        .await
    }

    /// Read the lock on the lock host: `None` when free.
    pub async fn lock_status(&self) -> R<Option<LockInfo>> {
        let host = self.opts.lock_host.clone();
        let out = self.sh(&host, &cmd::lock_status(&self.app)).await?;
        if out.ok() {
            Ok(Some(lock::parse_details(&out.stdout)))
        } else if out.stderr.contains("No such file or directory") {
            Ok(None)
        } else {
            Err(failed(&host, exec_failure(&host, &out)))
        }
    }

    pub async fn acquire_lock(&self, message: &str) -> R<()> {
        let host = self.opts.lock_host.clone();
        let details = lock::encode_details(&self.opts.lock_user, Utc::now(), &self.opts.version, message);
        let c = cmd::lock_acquire(&self.app, &details);
        let h = host.as_str();
        self.step(Some(h), None, StepKind::Lock, "acquire deploy lock", async {
            let out = self.sh(h, &c).await?;
            if out.ok() {
                return Ok(());
            }
            if out.stderr.contains("cannot create directory") || out.stderr.contains("File exists") {
                let info =
                    self.lock_status().await.ok().flatten().unwrap_or(LockInfo { holder: "unknown".into(), at: None, version: None, message: String::new() });
                self.emit(Event::Lock { host: h.to_string(), held: Some(info.clone()) });
                return Err(EngineError::Locked(info).into());
            }
            Err(failed(h, exec_failure(h, &out)).into())
        })
        .await?;
        self.lock_held.store(true, std::sync::atomic::Ordering::SeqCst);
        self.emit(Event::Lock {
            host: host.clone(),
            held: Some(LockInfo {
                holder: self.opts.lock_user.clone(),
                at: Some(Utc::now()),
                version: Some(self.opts.version.clone()),
                message: message.into(),
            }),
        });
        Ok(())
    }

    /// Release the lock. Runs even after an abort (a fresh exec, not raced against Ctrl-C).
    pub async fn release_lock(&self) -> R<()> {
        let host = self.opts.lock_host.clone();
        let t0 = Instant::now();
        self.emit(Event::StepStarted { host: Some(host.clone()), role: None, kind: StepKind::Unlock, label: "release deploy lock".into(), at: Utc::now() });
        let r = self.remote(&host)?;
        let out = r.exec(&cmd::lock_release(&self.app)).await.map_err(|e| failed(&host, e.to_string()))?;
        if out.ok() {
            self.lock_held.store(false, std::sync::atomic::Ordering::SeqCst);
            self.emit(Event::StepFinished { host: Some(host.clone()), role: None, kind: StepKind::Unlock, elapsed: t0.elapsed() });
            self.emit(Event::Lock { host, held: None });
            Ok(())
        } else {
            let e = if out.stderr.contains("No such file or directory") { "There is no deploy lock".to_string() } else { exec_failure(&host, &out) };
            self.emit(Event::StepFailed {
                host: Some(host.clone()),
                role: None,
                kind: StepKind::Unlock,
                elapsed: t0.elapsed(),
                error: e.clone(),
                last_logs: vec![],
                health: None,
            });
            Err(failed(&host, e))
        }
    }

    pub fn lock_is_held(&self) -> bool {
        self.lock_held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Run `f` holding the lock; release in every exit path (errors, Ctrl-C).
    async fn with_lock<F, Fut>(&self, hosts: &[String], f: F) -> R<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R<()>>,
    {
        self.mkdir_kamal(hosts).await?;
        self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
        let res = f().await;
        let rel = self.release_lock().await;
        res.and(rel)
    }

    // ------------------------------------------------------------------ pull (§4.2)

    pub async fn pull(&self, hosts: &[String]) -> R<()> {
        let v = self.opts.version.clone();
        let many = hosts.len() > 1;
        self.on_hosts(hosts, |h| {
            let v = v.clone();
            async move {
                self.step(Some(h), None, StepKind::Pull, &format!("pull {}", self.app.image_ref(&v)), async {
                    // Independent of each other: run together (one connection, several channels).
                    let login = self.login_once(h);
                    let mirror = async {
                        if many {
                            // rc=1 when no mirror is configured: ignored, as Kamal does.
                            self.sh(h, &cmd::registry_mirror_probe()).await?;
                        }
                        Ok::<(), EngineError>(())
                    };
                    let rm = async { self.sh(h, &cmd::image_rm_force(&self.app, &v)).await.map(|_| ()) };
                    let pulled = audit::pulled(&v);
                    let (a, b, c, d) = tokio::join!(login, mirror, self.audit(h, None, &pulled), rm);
                    a?;
                    b?;
                    c?;
                    d?;
                    self.sh_ok(h, &cmd::pull(&self.app, &v)).await?;
                    self.sh_ok(h, &cmd::ensure_service_label(&self.app, &v)).await?;
                    Ok(())
                })
                .await
            }
        })
        .await
    }

    // ------------------------------------------------------------------ proxy (§4.3)

    pub async fn proxy_boot(&self, reboot: bool) -> R<()> {
        let all = self.app.all_hosts();
        let proxy_hosts = self.app.proxy_hosts();
        let ph = &proxy_hosts;
        // Per host: the network (all hosts) and the proxy's checks run together, then start/run.
        self.on_hosts(&all, |h| async move {
            let is_proxy = ph.iter().any(|p| p == h);
            let label = match (is_proxy, reboot) {
                (false, _) => "docker network create kamal",
                (true, false) => "boot kamal-proxy",
                (true, true) => "reboot kamal-proxy",
            };
            if reboot && !is_proxy {
                return Ok(());
            }
            self.step(Some(h), None, StepKind::ProxyBoot, label, async {
                let network = async {
                    if reboot {
                        return Ok::<(), EngineError>(());
                    }
                    let out = self.sh(h, &cmd::network_create()).await?;
                    if !out.ok() && !out.stderr.contains("already exists") {
                        return Err(failed(h, exec_failure(h, &out)));
                    }
                    Ok(())
                };
                let checks = async {
                    if !is_proxy {
                        return Ok::<(), EngineError>(());
                    }
                    let login = self.login_once(h);
                    let prep = async {
                        if reboot {
                            self.audit(h, None, audit::REBOOTED_PROXY).await?;
                            self.sh(h, &cmd::proxy_stop()).await?;
                            self.sh_ok(h, &cmd::proxy_prune_containers()).await?;
                        } else {
                            let tag = self.sh(h, &cmd::proxy_image_version()).await?.stdout.trim().to_string();
                            if !tag.is_empty() && version_lt(tag.trim_start_matches('v'), cmd::PROXY_MIN_VERSION.trim_start_matches('v')) {
                                return Err(failed(
                                    h,
                                    format!(
                                        "kamal-proxy version {tag} is too old, run `kamal proxy reboot` in order to update to at least {}",
                                        cmd::PROXY_MIN_VERSION
                                    ),
                                ));
                            }
                        }
                        Ok(())
                    };
                    let mkdir = async { self.sh_ok(h, &cmd::proxy_mkdir_apps_config()).await.map(|_| ()) };
                    let (a, b, c) = tokio::join!(login, prep, mkdir);
                    a.and(b).and(c)
                };
                let (n, c) = tokio::join!(network, checks);
                n?;
                c?;
                if is_proxy {
                    let run = if reboot { cmd::proxy_run() } else { cmd::proxy_start_or_run() };
                    self.sh_ok(h, &run).await?;
                }
                Ok(())
            })
            .await
        })
        .await
    }

    // ------------------------------------------------------------------ stale containers (§4.5)

    /// Running versions other than the current one, per (host, role).
    pub async fn stale_containers(&self, stop: bool) -> R<Vec<(String, String, String)>> {
        let hosts = self.app.all_hosts();
        let found = std::sync::Mutex::new(vec![]);
        self.on_hosts(&hosts, |h| {
            let found = &found;
            async move {
                for role in self.app.roles_on(h) {
                    let r = role.name.as_str();
                    self.step(Some(h), Some(r), StepKind::StaleStop, "stale containers", async {
                        let (c1, c2) = (cmd::list_running_versions(&self.app, r), cmd::current_running_version(&self.app, r));
                        let (running, current) = tokio::join!(self.sh(h, &c1), self.sh(h, &c2));
                        let running = running?.stdout;
                        let current = current?.stdout.trim().to_string();
                        for v in running.lines().map(str::trim).filter(|v| !v.is_empty() && *v != current) {
                            if let Ok(mut f) = found.lock() {
                                f.push((h.to_string(), r.to_string(), v.to_string()));
                            }
                            if stop {
                                self.sh(h, &cmd::stop_version(&self.app, role, v)).await?;
                            }
                        }
                        Ok(())
                    })
                    .await?;
                }
                Ok(())
            }
        })
        .await?;
        Ok(found.into_inner().unwrap_or_default())
    }

    // ------------------------------------------------------------------ app boot (§4.6)

    fn error_pages(&self) -> Vec<(String, Vec<u8>)> {
        let Some(dir) = &self.app.error_pages_path else { return vec![] };
        let mut files = vec![];
        if let Ok(rd) = std::fs::read_dir(self.app.root.join(dir)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let b = name.as_bytes();
                // Kamal uploads 4??.html and 5??.html only.
                if b.len() == 8 && (b[0] == b'4' || b[0] == b'5') && name.ends_with(".html") {
                    if let Ok(data) = std::fs::read(e.path()) {
                        files.push((name, data));
                    }
                }
            }
        }
        files.sort();
        files
    }

    /// Phase A: error pages on every app host, assets for proxy roles.
    async fn boot_prepare(&self, hosts: &[String], version: &str) -> R<()> {
        let pages = self.error_pages();
        self.on_hosts(hosts, |h| {
            let pages = pages.clone();
            async move {
                self.step(Some(h), None, StepKind::Other, "prepare (error pages, assets)", async {
                    if self.app.error_pages_path.is_some() {
                        self.sh_ok(h, &cmd::mkdir_error_pages(&self.app)).await?;
                        let dir = cmd::error_pages_dir(&self.app);
                        let stream = super::remote::scp_dir_stream(version, &pages);
                        let r = self.remote(h)?;
                        let out = r.exec_input(&format!("scp -t -r {dir}"), stream).await.map_err(|e| failed(h, e.to_string()))?;
                        if !out.ok() {
                            return Err(failed(h, format!("upload of error pages failed: {}", out.combined())).into());
                        }
                    }
                    for role in self.app.roles_on(h) {
                        if let (Some(ap), Some(_)) = (&role.asset_path, &role.proxy) {
                            self.sh_ok(h, &cmd::extract_assets(&self.app, &role.name, version, ap)).await?;
                            let old = self.sh(h, &cmd::current_running_version(&self.app, &role.name)).await?.stdout.trim().to_string();
                            self.sh_ok(h, &cmd::sync_asset_volumes(&self.app, &role.name, version, Some(&old))).await?;
                        }
                    }
                    Ok(())
                })
                .await
            }
        })
        .await
    }

    /// The full `app boot --version V`: prepare, groups, then tag latest.
    pub async fn app_boot(&self, version: &str) -> R<()> {
        let hosts = self.app.hosts_primary_first();
        self.boot_prepare(&hosts, version).await?;
        let groups = self.app.boot_groups(&hosts);
        let barrier = self.app.role(&self.app.primary_role).map(|_| Barrier::new());
        let n = groups.len();
        for (i, group) in groups.iter().enumerate() {
            if self.abort.is_stopping() {
                return Err(EngineError::Aborted);
            }
            self.emit(Event::GroupStarted { index: i, hosts: group.clone() });
            self.hook("pre-app-boot", group, true, None).await?;
            let res = self
                .on_hosts(group, |h| {
                    let barrier = barrier.clone();
                    async move {
                        for role in self.app.roles_on(h) {
                            self.boot_role(h, role, version, barrier.as_ref()).await?;
                        }
                        Ok(())
                    }
                })
                .await;
            if let Err(e) = res {
                if let Some(b) = &barrier {
                    b.close();
                }
                return Err(e);
            }
            self.hook("post-app-boot", group, true, None).await?;
            if let Some(w) = self.app.boot_wait {
                if i + 1 < n {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(w)) => {},
                        _ = self.abort.stopping() => return Err(EngineError::Aborted),
                    }
                }
            }
        }
        // Phase C: only after every group succeeded.
        self.on_hosts(&hosts, |h| async move {
            self.step(Some(h), None, StepKind::Tag, &format!("tag {} as {}", version, self.app.latest_tag()), async {
                let (msg, tag) = (audit::tagging(&self.app.image_ref(version)), cmd::tag_latest(&self.app, version));
                let (a, b) = tokio::join!(self.audit(h, None, &msg), self.sh_ok(h, &tag));
                a?;
                b?;
                Ok(())
            })
            .await
        })
        .await
    }

    async fn boot_role(&self, h: &str, role: &RoleSpec, version: &str, barrier: Option<&Barrier>) -> R<()> {
        let r = role.name.as_str();
        let app = &self.app;
        let primary = r == app.primary_role;
        // 1–2: rename a clash, find the old version. 5–6 meanwhile: the env file depends on
        // neither (Kamal rewrites it on every boot) nor on the barrier.
        let clash = self.step(Some(h), Some(r), StepKind::Rename, "check name clash / current version", async {
            let (c1, c2) = (cmd::container_id_for(app, r, version), cmd::current_running_version(app, r));
            let known = self.known_ids.lock().unwrap().remove(&(h.to_string(), r.to_string(), version.to_string()));
            let (id, old) = match known {
                Some(id) => (id, self.sh(h, &c2).await?.stdout),
                None => {
                    let (id, old) = tokio::join!(self.sh(h, &c1), self.sh(h, &c2));
                    (id?.stdout, old?.stdout)
                }
            };
            let mut old = old.trim().to_string();
            if !id.trim().is_empty() {
                let replaced = cmd::replaced_version(version, &kamal::random_hex(16));
                let (msg, ren) = (audit::renaming(version, &replaced), cmd::rename(app, r, version, &replaced));
                let (a, b) = tokio::join!(self.audit(h, Some(r), &msg), self.sh_ok(h, &ren));
                a?;
                b?;
                // Kamal asks for the current version again after the rename; the answer only
                // changes when the renamed container was the current one.
                if old == version {
                    old = replaced;
                }
            }
            Ok(if old.is_empty() { None } else { Some(old) })
        });
        let env = async {
            self.sh_ok(h, &cmd::mkdir_env_dir(app)).await?;
            self.upload(h, &cmd::env_file(app, r), envfile::encode(role.env_secret_for(h)).as_bytes(), 0o600).await
        };
        let (old, env) = tokio::join!(clash, env);
        let old = old?;
        env?;
        // 3: barrier
        if let (Some(b), false) = (barrier, primary) {
            let t0 = Instant::now();
            self.progress(h, Some(r), StepKind::Boot, t0, format!("waiting for the first {} container to be healthy", app.primary_role));
            if !b.wait().await {
                let e = failed(h, format!("Halted at barrier: first {} container is unhealthy", app.primary_role));
                self.emit(Event::StepFailed {
                    host: Some(h.into()),
                    role: Some(r.into()),
                    kind: StepKind::Boot,
                    elapsed: t0.elapsed(),
                    error: e.to_string(),
                    last_logs: vec![],
                    health: None,
                });
                return Err(e);
            }
        }
        // 4–7: audit, env file, docker run.
        let (started, run_id) = self
            .step(Some(h), Some(r), StepKind::Boot, &format!("start {}", app.container_name(r, version)), async {
                let run = cmd::app_run(app, role, h, version, &kamal::random_hex(12));
                let msg = audit::booted(version);
                let (a, b) = tokio::join!(self.audit(h, Some(r), &msg), self.sh_ok(h, &run));
                a?;
                Ok((Instant::now(), short_container_id(&b?.stdout)))
            })
            .await
            .inspect_err(|_| {
                if primary {
                    if let Some(b) = barrier {
                        b.close();
                    }
                }
            })?;
        // 8: readiness.
        let health = self
            .step_finish(Some(h), Some(r), StepKind::Health, "wait for health", async {
                match self.wait_ready(h, role, version, started, run_id).await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        if primary {
                            if let Some(b) = barrier {
                                b.close();
                            }
                        }
                        // A dropped connection is not an unhealthy container: say so, state unknown.
                        let lost = match self.sh_always(h, "echo kdeck-alive").await {
                            Ok(o) => o.status == 255,
                            Err(_) => true,
                        };
                        if lost {
                            let name = app.container_name(r, version);
                            let mut msg = format!(
                                "connection to {h} lost while waiting for health ({}); state unknown: {name} may still be running next to the old container. Re-run the deploy or a rollback once {h} is reachable",
                                e.to_string().lines().next().unwrap_or("")
                            );
                            if primary && barrier.is_some() {
                                msg = format!("{msg}\nNot booting any other roles (first {r} container not confirmed healthy)");
                            }
                            return Err(StepFail {
                                err: failed(h, msg),
                                last_logs: vec![],
                                health: Some(HealthReport { docker: None, proxy: None, reason: Some(format!("host unreachable ({h})")) }),
                            });
                        }
                        // Diagnostics Kamal prints, then stop only the new container.
                        let logs = self.sh_always(h, &cmd::container_logs_dump(app, r, version)).await.map(|o| o.stdout).unwrap_or_default();
                        let hjson = self.sh_always(h, &cmd::container_health_json(app, r, version)).await.map(|o| o.stdout.trim().to_string()).unwrap_or_default();
                        let status = self.sh_always(h, &cmd::container_health_status(app, r, version)).await.map(|o| o.stdout.trim().to_string()).ok();
                        let _ = self.sh_always(h, &cmd::stop_version(app, role, version)).await;
                        let lines: Vec<String> = logs.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().map(String::from).collect();
                        let mut msg = e.to_string();
                        if primary && barrier.is_some() {
                            msg = format!("{msg}\nFirst {r} container is unhealthy on {h}, not booting any other roles");
                        }
                        Err(StepFail {
                            err: failed(h, msg.clone()),
                            last_logs: lines,
                            health: Some(HealthReport {
                                docker: status,
                                proxy: role.proxy.as_ref().map(|_| e.to_string()),
                                reason: Some(if hjson.is_empty() || hjson == "null" { e.to_string() } else { hjson }),
                            }),
                        })
                    }
                }
            })
            .await;
        health?;
        self.emit(Event::Health {
            host: h.into(),
            role: r.into(),
            report: HealthReport { docker: Some("healthy".into()), proxy: role.proxy.as_ref().map(|_| "deployed".into()), reason: None },
        });
        if primary {
            if let Some(b) = barrier {
                b.open();
            }
        }
        // 10: stop old, clean up.
        if let Some(old) = old {
            self.step_finish(Some(h), Some(r), StepKind::StopOld, &format!("stop {}", app.container_name(r, &old)), async {
                self.sh_always(h, &cmd::stop_version(app, role, &old)).await?;
                if role.asset_path.is_some() && role.proxy.is_some() {
                    self.sh_always(h, &cmd::clean_assets(app, r, version)).await?;
                }
                if app.error_pages_path.is_some() {
                    self.sh_always(h, &cmd::clean_error_pages(app, version)).await?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Proxy roles: kamal-proxy deploy (blocks until healthy). Others: Docker state polling.
    /// `started`: when `docker run` returned; `run_id`: the short id it printed, if any.
    async fn wait_ready(&self, h: &str, role: &RoleSpec, version: &str, started: Instant, run_id: Option<String>) -> R<()> {
        let app = &self.app;
        let r = role.name.as_str();
        let t0 = Instant::now();
        if let Some(p) = &role.proxy {
            // `docker run --detach` printed the id Kamal asks for next (its first 12 characters).
            let id = match run_id {
                Some(id) => id,
                None => self.sh(h, &cmd::container_id_for(app, r, version)).await?.stdout.trim().to_string(),
            };
            if id.is_empty() {
                return Err(failed(h, format!("Failed to get endpoint for {r} on {h}, did the container boot?")));
            }
            self.progress(h, Some(r), StepKind::Health, t0, format!("kamal-proxy deploy {} → {id}:{}", app.prefix(r), p.app_port));
            let out = self.sh(h, &cmd::proxy_deploy(app, r, version, &id, p)).await?;
            if !out.ok() {
                return Err(failed(h, exec_failure(h, &out)));
            }
            self.emit(Event::StepProgress {
                host: Some(h.into()),
                role: Some(r.into()),
                kind: StepKind::Switch,
                message: "traffic switched".into(),
                elapsed: t0.elapsed(),
            });
            return Ok(());
        }
        let deadline = t0 + Duration::from_secs(app.deploy_timeout);
        let mut attempt = 1u64;
        loop {
            let mut status = self.sh(h, &cmd::container_health_status(app, r, version)).await?.stdout.trim().to_string();
            if status == "running" && app.readiness_delay > 0 {
                self.progress(
                    h,
                    Some(r),
                    StepKind::Health,
                    t0,
                    format!("Container is running, waiting for readiness delay of {} seconds", app.readiness_delay),
                );
                // The delay counts from the start: the container must still run `readiness_delay`
                // seconds after `docker run`, which is what Kamal's check after its sleep proves.
                // (After a retry, the container only now runs: the whole delay again.)
                let from = if attempt == 1 { started } else { Instant::now() };
                tokio::time::sleep_until((from + Duration::from_secs(app.readiness_delay)).into()).await;
                status = self.sh(h, &cmd::container_health_status(app, r, version)).await?.stdout.trim().to_string();
            }
            if status == "running" || status == "healthy" {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(failed(h, format!("container not ready after {} seconds ({status})", app.deploy_timeout)));
            }
            self.progress(h, Some(r), StepKind::Health, t0, format!("container is {status}, retrying"));
            tokio::time::sleep(Duration::from_secs(attempt).min(deadline - now)).await;
            attempt += 1;
        }
    }

    // ------------------------------------------------------------------ prune (§4.7)

    pub async fn prune(&self, containers: bool, images: bool, retain: Option<usize>) -> R<()> {
        let hosts = self.app.all_hosts();
        let retain = retain.unwrap_or(self.app.retain_containers);
        self.on_hosts(&hosts, |h| async move {
            self.step(Some(h), None, StepKind::Prune, "prune", async {
                if containers {
                    let c = cmd::prune_containers(&self.app, retain);
                    let (a, b) = tokio::join!(self.audit(h, None, audit::PRUNED_CONTAINERS), self.sh_ok(h, &c));
                    a?;
                    b?;
                }
                if images {
                    let (c1, c2) = (cmd::prune_dangling_images(&self.app), cmd::prune_tagged_images(&self.app));
                    let imgs = async {
                        self.sh_ok(h, &c1).await?;
                        self.sh_ok(h, &c2).await
                    };
                    let (a, b) = tokio::join!(self.audit(h, None, audit::PRUNED_IMAGES), imgs);
                    a?;
                    b?;
                }
                Ok(())
            })
            .await
        })
        .await
    }

    // ------------------------------------------------------------------ start / stop

    pub async fn app_stop(&self) -> R<()> {
        let hosts = self.app.all_hosts();
        self.on_hosts(&hosts, |h| async move {
            for role in self.app.roles_on(h) {
                let r = role.name.as_str();
                self.step(Some(h), Some(r), StepKind::Other, "stop app", async {
                    self.audit(h, Some(r), audit::STOPPED_APP).await?;
                    if role.proxy.is_some() {
                        let v = self.sh(h, &cmd::current_running_version(&self.app, r)).await?.stdout.trim().to_string();
                        if !v.is_empty() && !self.sh(h, &cmd::container_id_for(&self.app, r, &v)).await?.stdout.trim().is_empty() {
                            self.sh(h, &cmd::proxy_remove(&self.app, r)).await?;
                        }
                    }
                    self.sh(h, &cmd::app_stop_current(&self.app, role)).await?;
                    Ok(())
                })
                .await?;
            }
            Ok(())
        })
        .await
    }

    pub async fn app_start(&self, version: &str) -> R<()> {
        let hosts = self.app.all_hosts();
        self.on_hosts(&hosts, |h| async move {
            for role in self.app.roles_on(h) {
                let r = role.name.as_str();
                self.step(Some(h), Some(r), StepKind::Other, &format!("start {}", self.app.container_name(r, version)), async {
                    self.audit(h, None, &audit::started(version)).await?;
                    self.sh(h, &cmd::app_start(&self.app, r, version)).await?;
                    if role.proxy.is_some() {
                        self.wait_ready(h, role, version, Instant::now(), None).await?;
                    }
                    Ok(())
                })
                .await?;
            }
            Ok(())
        })
        .await
    }

    // ------------------------------------------------------------------ whole requests

    /// The steps a request will run, for the PlanReady event (the timeline's rows).
    pub fn plan(&self, req: &Request) -> (Vec<Vec<String>>, Vec<PlannedStep>) {
        let hosts = self.app.hosts_primary_first();
        let groups = self.app.boot_groups(&hosts);
        let mut steps = vec![];
        let mut add = |host: Option<&str>, role: Option<&str>, kind: StepKind, group: Option<usize>, label: &str| {
            steps.push(PlannedStep { host: host.map(Into::into), role: role.map(Into::into), kind, group, label: label.into() });
        };
        let boots = matches!(req, Request::Setup { .. } | Request::Deploy { .. } | Request::Redeploy { .. } | Request::Rollback { .. } | Request::AppBoot);
        if let Request::Setup { skip_push: false } | Request::Deploy { skip_push: false } | Request::Redeploy { skip_push: false } = req {
            add(None, None, StepKind::Build, None, "build and push");
        }
        if matches!(req, Request::Setup { .. } | Request::Deploy { .. } | Request::Redeploy { .. }) {
            for h in &hosts {
                add(Some(h), None, StepKind::Pull, None, "pull");
            }
        }
        add(Some(&self.opts.lock_host), None, StepKind::Lock, None, "acquire deploy lock");
        if boots {
            for (gi, g) in groups.iter().enumerate() {
                for h in g {
                    for role in self.app.roles_on(h) {
                        for kind in [StepKind::Boot, StepKind::Health, StepKind::StopOld] {
                            add(Some(h), Some(&role.name), kind, Some(gi), &format!("{kind:?}").to_lowercase());
                        }
                    }
                }
            }
            for h in &hosts {
                add(Some(h), None, StepKind::Tag, None, "tag latest");
            }
        }
        match req {
            Request::Accessory { action, name } => {
                self.accessory_plan(*action, name).into_iter().for_each(|s| add(s.host.as_deref(), s.role.as_deref(), s.kind, None, &s.label))
            }
            Request::Setup { .. } => {
                self.accessory_plan(AccessoryAction::Boot, "all").into_iter().for_each(|s| add(s.host.as_deref(), s.role.as_deref(), s.kind, None, &s.label))
            }
            _ => {}
        }
        add(Some(&self.opts.lock_host), None, StepKind::Unlock, None, "release deploy lock");
        (groups, steps)
    }

    /// Run a whole request. Emits PlanReady first and Finished last; releases the lock in every path.
    pub async fn run(&self, req: Request) -> R<()> {
        *self.current_command.lock().map_err(|_| EngineError::Aborted)? = req.kamal_command().to_string();
        let (groups, steps) = self.plan(&req);
        self.emit(Event::PlanReady { action: req.action(), version: Some(self.opts.version.clone()), hosts: self.app.hosts_primary_first(), groups, steps });
        let t0 = Instant::now();
        let res = self.run_inner(&req).await;
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

    async fn run_inner(&self, req: &Request) -> R<()> {
        // Secrets are lazy (as in Kamal): only actions writing env files or logging in to the
        // registry need them, and they fail before touching a host.
        let env = matches!(req, Request::Setup { .. } | Request::Deploy { .. } | Request::Redeploy { .. } | Request::Rollback { .. } | Request::AppBoot);
        let registry = env && !matches!(req, Request::Rollback { .. }) || matches!(req, Request::ProxyBoot | Request::ProxyReboot);
        if let Some(e) = self.app.secret_error(env, registry) {
            return Err(EngineError::Failed { host: None, message: e });
        }
        let all = self.app.all_hosts();
        let version = self.opts.version.clone();
        match req {
            Request::Setup { skip_push } | Request::Deploy { skip_push } | Request::Redeploy { skip_push } => {
                let full = !matches!(req, Request::Redeploy { .. });
                self.hook("pre-connect", &all, false, None).await?;
                if matches!(req, Request::Setup { .. }) {
                    self.mkdir_kamal(&all).await?;
                    self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
                    self.check_docker(&all).await?;
                    self.hook("docker-setup", &all, true, None).await?;
                }
                if !skip_push {
                    self.hook("pre-build", &all, self.lock_is_held(), None).await?;
                    self.build_and_push().await?;
                }
                // Lock, proxy and stale containers do not depend on the pull. Kamal runs them
                // after it; when no pre-deploy hook could observe the order, kdeck takes the lock
                // while pulling (holding it longer is only safer) and runs them meanwhile.
                let hook_sees_order = !self.opts.skip_hooks && hooks::exists(&self.app, "pre-deploy");
                let locked_work = async {
                    if !self.lock_is_held() {
                        self.mkdir_kamal(&all).await?;
                        self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
                    }
                    self.hook("pre-deploy", &all, true, None).await?;
                    // Independent: the proxy and stale app containers.
                    let proxy = async {
                        if full {
                            self.proxy_boot(false).await?;
                        }
                        // `setup`: every accessory after the proxy (existing ones are skipped).
                        if matches!(req, Request::Setup { .. }) {
                            self.accessories_boot_all().await?;
                        }
                        Ok(())
                    };
                    let (p, st) = tokio::join!(proxy, self.stale_containers(true));
                    p?;
                    st.map(|_| ())
                };
                if hook_sees_order {
                    self.pull(&all).await?;
                    locked_work.await?;
                } else {
                    let (p, l) = tokio::join!(self.pull(&all), locked_work);
                    // A held lock is the more useful error to report.
                    if let Err(e @ EngineError::Locked(_)) = l {
                        return Err(e);
                    }
                    p?;
                    l?;
                }
                self.app_boot(&version).await?;
                if full {
                    self.prune(true, true, None).await?;
                }
                self.release_lock().await?;
                self.hook("post-deploy", &all, false, Some(self.started.elapsed().as_secs())).await?;
                Ok(())
            }
            Request::Rollback { version: target } => {
                self.hook("pre-connect", &all, false, None).await?;
                self.mkdir_kamal(&all).await?;
                self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
                let missing = std::sync::atomic::AtomicBool::new(false);
                self.on_hosts(&all, |h| {
                    let missing = &missing;
                    async move {
                        for role in self.app.roles_on(h) {
                            let id = self.sh(h, &cmd::container_id_for(&self.app, &role.name, target)).await?.stdout;
                            if id.trim().is_empty() {
                                missing.store(true, std::sync::atomic::Ordering::SeqCst);
                            }
                            self.known_ids.lock().unwrap().insert((h.to_string(), role.name.clone(), target.clone()), id);
                        }
                        Ok(())
                    }
                })
                .await?;
                if missing.load(std::sync::atomic::Ordering::SeqCst) {
                    self.release_lock().await?;
                    return Err(EngineError::VersionUnavailable(target.clone()));
                }
                self.hook("pre-deploy", &all, true, None).await?;
                self.app_boot(target).await?;
                self.release_lock().await?;
                self.hook("post-deploy", &all, false, Some(self.started.elapsed().as_secs())).await?;
                Ok(())
            }
            Request::AppBoot => {
                self.hook("pre-connect", &all, false, None).await?;
                self.with_lock(&all, || self.app_boot(&version)).await
            }
            Request::AppStart => self.with_lock(&all, || self.app_start(&version)).await,
            Request::AppStop => self.with_lock(&all, || self.app_stop()).await,
            Request::StaleStop => self.with_lock(&all, || async { self.stale_containers(true).await.map(|_| ()) }).await,
            Request::Prune { containers, images, retain } => self.with_lock(&all, || self.prune(*containers, *images, *retain)).await,
            Request::LockAcquire { message } => {
                self.mkdir_kamal(&all).await?;
                self.acquire_lock(message).await?;
                // The lock stays: this is the point of `lock acquire`.
                self.lock_held.store(false, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
            Request::LockRelease => match self.lock_status().await? {
                Some(_) => self.release_lock().await,
                None => Err(EngineError::Failed { host: None, message: "There is no deploy lock".into() }),
            },
            Request::ProxyBoot => self.with_lock(&all, || self.proxy_boot(false)).await,
            Request::ProxyReboot => {
                let ph = self.app.proxy_hosts();
                self.with_lock(&all, || async {
                    self.hook("pre-proxy-reboot", &ph, true, None).await?;
                    self.proxy_boot(true).await?;
                    self.hook("post-proxy-reboot", &ph, true, None).await
                })
                .await
            }
            Request::Accessory { action, name } => self.accessory_request(*action, name).await,
        }
    }

    async fn check_docker(&self, hosts: &[String]) -> R<()> {
        let missing = std::sync::Mutex::new(vec![]);
        let _ = self
            .on_hosts(hosts, |h| {
                let missing = &missing;
                async move {
                    self.step(Some(h), None, StepKind::Other, "docker -v", async {
                        let out = self.sh(h, &cmd::docker_version_check()).await?;
                        if !out.ok() {
                            if let Ok(mut m) = missing.lock() {
                                m.push(h.to_string());
                            }
                            return Err(failed(h, format!("Docker is not installed on {h}")).into());
                        }
                        Ok(())
                    })
                    .await
                }
            })
            .await;
        let m = missing.into_inner().unwrap_or_default();
        if !m.is_empty() {
            return Err(EngineError::Failed {
                host: None,
                message: format!("Docker is not installed on {} and can't be automatically installed by kdeck. Install Docker manually: https://docs.docker.com/engine/install/", m.join(", ")),
            });
        }
        Ok(())
    }

    /// Local `docker build` (label service, tags version + latest) then push, as Kamal's build.
    async fn build_and_push(&self) -> R<()> {
        let app = self.app.clone();
        let v = self.opts.version.clone();
        self.step(None, None, StepKind::Build, &format!("build {}", app.image_ref(&v)), async {
            let t0 = Instant::now();
            let fail = |message: String| EngineError::Failed { host: None, message };
            let docker = |args: Vec<String>, dir: PathBuf, stdin: Option<String>, buildkit: bool| async move {
                let mut c = tokio::process::Command::new("docker");
                c.args(&args).current_dir(&dir).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                if buildkit {
                    c.env("DOCKER_BUILDKIT", "1");
                }
                let mut child = c.spawn().map_err(|e| EngineError::Failed { host: None, message: format!("Docker is not installed locally ({e})") })?;
                if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
                    use tokio::io::AsyncWriteExt;
                    let _ = w.write_all(input.as_bytes()).await;
                }
                let out = child.wait_with_output().await.map_err(|e| EngineError::Failed { host: None, message: format!("docker {}: {e}", args[0]) })?;
                if !out.status.success() {
                    let shown: Vec<String> = args.iter().map(|a| redact(a)).collect();
                    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                    let tail: Vec<&str> = text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                    return Err(EngineError::Failed { host: None, message: format!("docker {} failed:\n{}", shown.join(" "), tail.join("\n")) });
                }
                Ok::<(), EngineError>(())
            };
            if let (Some(u), false) = (&app.registry.username, app.local_registry()) {
                // The password goes on stdin: a local `ps` must not show it.
                let mut a = vec!["login".to_string()];
                if let Some(s) = &app.registry.server {
                    a.push(s.clone());
                }
                a.extend(["-u".into(), u.clone(), "--password-stdin".into()]);
                docker(a, app.root.clone(), Some(app.registry.password.clone().unwrap_or_default()), false).await?;
            }
            let secret_dir = tempfile::tempdir().map_err(|e| fail(format!("cannot create a private directory for build secrets: {e}")))?;
            let plan_app = app.clone();
            let (v2, sd) = (v.clone(), secret_dir.path().to_path_buf());
            let (plan, note) =
                tokio::task::spawn_blocking(move || super::build::plan(&plan_app, &v2, &sd)).await.map_err(|e| fail(e.to_string()))?.map_err(fail)?;
            if let Some(n) = note {
                self.progress_global(StepKind::Build, t0, n);
            }
            super::build::write_secret_files(&plan, secret_dir.path()).map_err(|e| fail(format!("cannot write build secrets: {e}")))?;
            self.progress_global(StepKind::Build, t0, format!("docker build in {}", plan.workdir.display()));
            docker(plan.args.clone(), plan.workdir.clone(), None, !plan.secrets.is_empty()).await?;
            for tag in &plan.push {
                self.progress_global(StepKind::Build, t0, format!("push {tag}"));
                docker(vec!["push".into(), tag.clone()], plan.workdir.clone(), None, false).await?;
            }
            Ok(())
        })
        .await
    }
}

/// Kamal's failure text for a command: status plus both streams.
/// The short (12-character) container id from `docker run --detach` output: its last line,
/// when that is a full 64-hex-digit id.
fn short_container_id(stdout: &str) -> Option<String> {
    let last = stdout.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    (last.len() == 64 && last.bytes().all(|b| b.is_ascii_hexdigit())).then(|| last[..12].to_string())
}

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

/// Gem::Version-style comparison of dotted numeric versions (non-numeric parts compare as 0).
fn version_lt(a: &str, b: &str) -> bool {
    let p = |s: &str| s.split('.').map(|x| x.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    p(a) < p(b)
}

/// A request running in the background (for the dashboard): its events, its abort handle
/// (first `request()` stops new steps, second aborts running ones; the lock is released either
/// way) and the final result.
pub struct Running {
    pub events: mpsc::UnboundedReceiver<Event>,
    pub abort: AbortHandle,
    pub handle: tokio::task::JoinHandle<Result<(), EngineError>>,
}

/// Start `req` on a tokio runtime. `remotes` are the shared per-host connections
/// (`crate::ssh::Session` implements [`Remote`]).
pub fn spawn(app: Arc<AppSpec>, remotes: BTreeMap<String, Arc<dyn Remote>>, opts: RunOptions, req: Request) -> Running {
    let (tx, events) = mpsc::unbounded_channel();
    let abort = AbortHandle::new();
    let engine = Engine::new(app, remotes, tx, abort.clone(), opts);
    let handle = tokio::spawn(async move { engine.run(req).await });
    Running { events, abort, handle }
}

#[cfg(test)]
mod tests {
    use super::short_container_id;

    #[test]
    fn short_id_from_docker_run_output() {
        let id = "c055c1a0c56c9f2d3c4b5a69788766554433221100ffeeddccbbaa9988776655";
        assert_eq!(short_container_id(&format!("{id}\n")).as_deref(), Some("c055c1a0c56c"));
        // docker run pulling first prints progress on stdout before the id
        assert_eq!(short_container_id(&format!("Status: Downloaded\n{id}\n\n")).as_deref(), Some("c055c1a0c56c"));
        assert_eq!(short_container_id(""), None);
        assert_eq!(short_container_id("not-an-id\n"), None);
        assert_eq!(short_container_id(&id[..12]), None);
    }
}
