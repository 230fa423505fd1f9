//! The dashboard's engine side: a task that turns the screen's [`Request`]s into engine runs
//! (each in its own task, reporting back through [`Update`]s), the deploy dialog's pre-flight,
//! logs, audit and tunnels. It never blocks the screen.

use super::dispatch::{ExecScope, Request, Since, Update};
use crate::app::context::Ctx;
use crate::deploy::event::Event;
use crate::deploy::{AbortHandle, ExecRequest, Request as EngineRequest};
use crate::fleet::logs::{self as fleet_logs, FleetLog, FleetLogLine, FollowHandle, FollowOptions, LogScope};
use crate::fleet::{FleetSpec, WatcherHandle};
use crate::kamal::{cmd, AppSpec, RoleSpec};
use crate::ssh::Pool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the engine runs for the dashboard: a request under the lock (on the app in its scope,
/// with the version it deploys), a deploy in parts, or `app exec`.
pub(super) enum EngineJob {
    Action(Arc<Ctx>, EngineRequest, String),
    Staged(super::staged::StagedJob),
    Exec(ExecRequest),
    /// A row action: its requests one after the other (a restart: stop, then start) on the app
    /// narrowed to the row.
    Row(Arc<Ctx>, super::row_jobs::Steps, String),
}

pub(super) struct Worker {
    /// The app as last read (the deploy dialog reads it again: fixed secrets count).
    pub(super) ctx: Arc<std::sync::RwLock<Arc<Ctx>>>,
    /// The app's directory (its config is read from there again).
    pub(super) dir: std::path::PathBuf,
    pub(super) pool: Pool,
    pub(super) spec: FleetSpec,
    pub(super) up: mpsc::Sender<Update>,
    pub(super) watcher: Arc<WatcherHandle>,
    pub(super) skip_push: bool,
    /// Set while an engine job runs (read on the way out).
    pub(super) busy: Arc<AtomicBool>,
    /// The traffic figures the screen shows (None: no role behind kamal-proxy).
    pub(super) traffic: Option<tokio::sync::watch::Receiver<crate::fleet::traffic::TrafficSnapshot>>,
}

impl Worker {
    fn ctx(&self) -> Arc<Ctx> {
        self.ctx.read().map(|c| c.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The deploy dialog opened: the config and secrets read again (the next actions use
    /// them), the registry and git asked; the answer goes to the screen.
    fn preflight(&self) {
        let (cell, pool, up, dir) = (self.ctx.clone(), self.pool.clone(), self.up.clone(), self.dir.clone());
        let global = self.ctx().global.clone();
        tokio::spawn(async move {
            let (ctx, report) = crate::app::preflight::gather(&pool, &global, &dir, Duration::from_secs(5)).await;
            if let (Some(c), Ok(mut cell)) = (ctx, cell.write()) {
                *cell = Arc::new(c);
            }
            let _ = up.send(Update::Preflight(Box::new(report))).await;
        });
    }

    async fn notice(&self, error: bool, text: String) {
        let _ = self.up.send(Update::Notice { error, text }).await;
    }

    /// Activity: every host that is down is dialled again now (the attempt's result shows on its
    /// row as any other; the backoff resumes if it fails).
    fn probe_down(&self) {
        for s in self.pool.sessions() {
            if s.probe() {
                tracing::debug!(host = %s.host(), "down: dialled again on a key");
            }
        }
    }

    /// Serve requests until the dashboard is gone, then stop the action in flight safely and wait
    /// for it. Returns true when an action had to be aborted that way.
    pub(super) async fn run(self, mut rx: mpsc::UnboundedReceiver<Request>) -> bool {
        let mut logs = self.follow(Since::Tail100);
        // An accessory's container opened from the fleet tree (lines go to the same store).
        let mut container_logs: Option<(FollowHandle, tokio::task::JoinHandle<()>)> = None;
        // The action in flight: its abort handle and whether it is still running.
        let mut running: Option<(AbortHandle, tokio::task::JoinHandle<()>)> = None;
        let mut tunnels: std::collections::HashMap<(String, String), crate::app::tunnel::Tunnel> = std::collections::HashMap::new();
        while let Some(req) = rx.recv().await {
            let busy = running.as_ref().is_some_and(|(_, j)| !j.is_finished());
            match req {
                Request::Deploy(_)
                | Request::Redeploy
                | Request::Rollback { .. }
                | Request::LockAcquire { .. }
                | Request::LockRelease
                | Request::Prune
                | Request::Manage(_)
                | Request::Exec { .. } => {
                    if busy {
                        self.notice(true, "an action is already running".into()).await;
                        continue;
                    }
                    if let Some(job) = self.engine_job(req) {
                        running = Some(self.start(job));
                    }
                }
                Request::Row { .. } | Request::Inspect { .. } => running = self.row_request(req, busy).await.or(running.take()),
                Request::Abort => match &running {
                    Some((a, j)) if !j.is_finished() => {
                        a.request();
                        let _ = self.up.send(Update::Engine(Event::Aborting { forced: a.is_forced() })).await;
                    }
                    _ => self.notice(false, "nothing is running".into()).await,
                },
                Request::Logs { since } => {
                    drop(logs);
                    logs = self.follow(since);
                }
                Request::ContainerLogs { host, container } => {
                    drop(container_logs.take());
                    let scope = LogScope::Container { host, container: container.clone() };
                    let (mut rx, handle) = fleet_logs::follow(&self.pool, &self.spec, scope, FollowOptions::default());
                    // Accessories have no role label: their lines are tagged `host/<container>`.
                    let (mtx, mrx) = mpsc::channel(1024);
                    tokio::spawn(async move {
                        while let Some(mut e) = rx.recv().await {
                            let (FleetLog::Line(FleetLogLine { role, .. })
                            | FleetLog::Interrupted { role, .. }
                            | FleetLog::Resumed { role, .. }
                            | FleetLog::Switched { role, .. }) = &mut e;
                            if role.is_empty() {
                                role.clone_from(&container);
                            }
                            if mtx.send(e).await.is_err() {
                                return;
                            }
                        }
                    });
                    container_logs = Some((handle, super::feed::forward_logs(mrx, self.up.clone())));
                }
                Request::LoadAudit => {
                    tokio::spawn(audit(self.ctx(), self.up.clone()));
                }
                Request::Preflight => self.preflight(),
                Request::TrustHostKey { host } => match self.pool.get(&host).trust_offered_host_key() {
                    Ok(fp) => self.notice(false, format!("trusted {fp} for {host}; connecting…")).await,
                    Err(e) => self.notice(true, e.to_string()).await,
                },
                Request::Tunnel { name, host } => self.tunnel(&mut tunnels, name, host).await,
                Request::Probe => self.probe_down(),
                // The render loop suspends the terminal and runs the shell itself.
                Request::Shell { .. } => {}
            }
        }
        drop(logs);
        match running {
            Some((a, j)) if !j.is_finished() => {
                if !a.is_stopping() {
                    a.request();
                }
                let _ = j.await;
                true
            }
            _ => false,
        }
    }

    /// The engine's work a dashboard request stands for; `None` for what the worker does
    /// itself (logs, audit, abort, the shell). Every request is named: a new one must be placed.
    fn engine_job(&self, req: Request) -> Option<EngineJob> {
        let ctx = self.ctx();
        let action = |r| Some(EngineJob::Action(ctx.clone(), r, ctx.version.clone()));
        match req {
            Request::Deploy(choice) => self.deploy_job(&ctx, choice),
            Request::Redeploy => action(EngineRequest::Redeploy { skip_push: self.skip_push }),
            Request::Rollback { version } => Some(EngineJob::Action(ctx.clone(), EngineRequest::Rollback { version: version.clone() }, version)),
            Request::LockAcquire { message } => action(EngineRequest::LockAcquire { message }),
            Request::LockRelease => action(EngineRequest::LockRelease),
            // What `kamal prune all` does: containers beyond retain_containers, then images.
            Request::Prune => action(EngineRequest::Prune { containers: true, images: true, retain: None }),
            Request::Exec { cmd, scope, reuse } => Some(EngineJob::Exec(ExecRequest {
                command: cmd,
                env: vec![],
                reuse,
                detach: false,
                version: ctx.global.version.clone(),
                targets: exec_jobs(&ctx.full, &scope),
                stream: true,
            })),
            Request::Manage(op) => action(manage_request(op, &ctx)),
            Request::Preflight
            | Request::Abort
            | Request::Logs { .. }
            | Request::ContainerLogs { .. }
            | Request::LoadAudit
            | Request::Shell { .. }
            | Request::Tunnel { .. }
            | Request::TrustHostKey { .. }
            | Request::Row { .. }
            | Request::Inspect { .. }
            | Request::Probe => None,
        }
    }

    /// A tunnel to a role's or accessory's container on a host (kept open until the screen
    /// ends; asked again, the open one is named).
    async fn tunnel(&self, tunnels: &mut std::collections::HashMap<(String, String), crate::app::tunnel::Tunnel>, name: String, host: String) {
        let key = (name.clone(), host.clone());
        if let Some(t) = tunnels.get(&key) {
            return self.notice(false, format!("tunnel {} → {} (already open)", t.local, t.description)).await;
        }
        let ctx = self.ctx();
        let port = crate::app::tunnel::default_port(&ctx.full, &name);
        match crate::app::tunnel::open(&self.pool, &ctx.full, &name, Some(&host), (0, port), "127.0.0.1").await {
            Ok(t) => {
                self.notice(false, format!("tunnel {} → {} (open until you quit)", t.local, t.description)).await;
                tunnels.insert(key, t);
            }
            Err(e) => self.notice(true, format!("{e}")).await,
        }
    }

    /// A fleet row's action on the engine (narrowed to the row), or its container's inspect
    /// read in the background (the answer comes as an update).
    async fn row_request(&self, req: Request, busy: bool) -> Option<(AbortHandle, tokio::task::JoinHandle<()>)> {
        match req {
            Request::Row { .. } if busy => self.notice(true, "an action is already running".into()).await,
            Request::Row { op, target, version } => match super::row_jobs::steps(&self.ctx(), op, &target, version) {
                Ok((ctx, steps)) => {
                    let what = format!("{} on {}", op.name().trim_start_matches("row-").replace('-', " "), target.label());
                    return Some(self.start(EngineJob::Row(ctx, steps, what)));
                }
                Err(e) => self.notice(true, format!("{}: {e}", target.label())).await,
            },
            Request::Inspect { target, container } => super::inspect::spawn(&self.pool, self.ctx(), target, container, self.up.clone()),
            _ => {}
        }
        None
    }

    /// A deploy from the dialog: the version picked, built first only when it is the start
    /// version without `-P` (anything else is pulled from the registry); `-h`/`-r` for a host
    /// or role; one host first or a canary in parts.
    fn deploy_job(&self, ctx: &Arc<Ctx>, choice: super::dispatch::DeployChoice) -> Option<EngineJob> {
        use super::dispatch::{DeployMode, DeployScope};
        let build = !self.skip_push && choice.version == ctx.version;
        let req = EngineRequest::Deploy { skip_push: !build };
        let narrowed = |hosts: Option<String>, roles: Option<String>| ctx.narrowed(hosts, roles).map(Arc::new);
        let gate = match choice.mode {
            DeployMode::Rolling => None,
            DeployMode::Canary { window_s, thresholds } | DeployMode::Rollout { window_s, thresholds, .. } => Some((window_s, thresholds)),
        };
        let traffic = self.traffic.clone();
        if let DeployMode::Rollout { percent, .. } = choice.mode {
            // kamal-proxy's rollout on the one web host, then the deploy of every host.
            let host = match crate::app::staged::rollout_host(ctx) {
                Ok(h) => h,
                Err(e) => {
                    let _ = self.up.try_send(Update::Notice { error: true, text: e });
                    return None;
                }
            };
            let split = Some(crate::kamal::cmd::RolloutSplit { percent: Some(percent), list: vec![] });
            let (first, rest) = (vec![host], ctx.app.all_hosts());
            return Some(EngineJob::Staged(super::staged::StagedJob {
                ctx: ctx.clone(),
                first,
                rest,
                version: choice.version,
                build,
                gate,
                traffic,
                rollout: split,
            }));
        }
        let (first, rest) = match (&choice.scope, gate) {
            (DeployScope::HostFirst(h), _) => crate::app::staged::host_first_split(ctx, h),
            (DeployScope::All, Some(_)) => crate::app::staged::canary_split(ctx),
            (scope, _) => {
                let scoped = match scope {
                    DeployScope::Role(r) => narrowed(None, Some(r.clone())),
                    DeployScope::Host(h) => narrowed(Some(h.clone()), None),
                    _ => Ok(ctx.clone()),
                };
                return match scoped {
                    Ok(c) => Some(EngineJob::Action(c, req, choice.version)),
                    Err(e) => {
                        let _ = self.up.try_send(Update::Notice { error: true, text: e.to_string() });
                        None
                    }
                };
            }
        };
        if first.is_empty() || (gate.is_some() && rest.is_empty()) {
            let _ = self.up.try_send(Update::Notice { error: true, text: "a canary needs hosts besides its first part".into() });
            return None;
        }
        Some(EngineJob::Staged(super::staged::StagedJob { ctx: ctx.clone(), first, rest, version: choice.version, build, gate, traffic, rollout: None }))
    }

    /// Run an engine job in its own task, its events forwarded to the screen.
    fn start(&self, job: EngineJob) -> (AbortHandle, tokio::task::JoinHandle<()>) {
        let abort = AbortHandle::new();
        let (etx, mut erx) = mpsc::unbounded_channel::<Event>();
        let ctx = self.ctx();
        let (engine_ctx, version) = match &job {
            EngineJob::Action(c, _, v) => (c.clone(), v.clone()),
            EngineJob::Staged(s) => (s.ctx.clone(), s.version.clone()),
            EngineJob::Exec(_) => (ctx.clone(), ctx.version.clone()),
            EngineJob::Row(c, _, _) => (c.clone(), c.version.clone()),
        };
        // A row action's notification names it (a restart is two runs, one notification).
        let what = match &job {
            EngineJob::Row(_, _, what) => Some(what.clone()),
            _ => None,
        };
        let engine = engine_ctx.engine(version, etx.clone(), abort.clone());
        let up = self.up.clone();
        let watcher = self.watcher.clone();
        let busy = self.busy.clone();
        let stage_abort = abort.clone();
        busy.store(true, Ordering::SeqCst);
        let j = tokio::spawn(async move {
            let fwd_up = up.clone();
            let fwd = tokio::spawn(async move {
                while let Some(e) = erx.recv().await {
                    let _ = fwd_up.send(Update::Engine(e)).await;
                }
            });
            // The forwarder ends when the last event sender is gone.
            let res = match job {
                EngineJob::Action(_, req, _) => {
                    drop(etx);
                    let r = engine.run(req).await.map_err(|e| e.to_string());
                    drop(engine);
                    r
                }
                EngineJob::Staged(s) => {
                    drop(engine);
                    super::staged::run(s, stage_abort, etx, up.clone()).await
                }
                EngineJob::Exec(req) => {
                    drop(etx);
                    let r = engine.exec(req).await.map(|_| ()).map_err(|e| e.to_string());
                    drop(engine);
                    r
                }
                EngineJob::Row(c, steps, _) => {
                    drop(engine);
                    let mut r = Ok(());
                    for (req, v) in steps {
                        r = c.engine(v, etx.clone(), stage_abort.clone()).run(req).await.map_err(|e| e.to_string());
                        if r.is_err() || stage_abort.is_stopping() {
                            break;
                        }
                    }
                    drop(etx);
                    r
                }
            };
            let _ = fwd.await;
            let ok = res.is_ok();
            if let Err(e) = res {
                let _ = up.send(Update::Notice { error: true, text: e }).await;
            }
            let _ = up.send(Update::ActionEnded { ok, what }).await;
            busy.store(false, Ordering::SeqCst);
            // Show the result now rather than at the next reconcile.
            watcher.refresh();
        });
        (abort, j)
    }

    fn follow(&self, since: Since) -> (FollowHandle, tokio::task::JoinHandle<()>) {
        let since_secs = since.seconds();
        let opts = FollowOptions {
            since: since_secs.map(|s| chrono::Utc::now().timestamp() - s),
            tail: if since_secs.is_some() { None } else { Some(100) },
            ..Default::default()
        };
        let (rx, handle) = fleet_logs::follow(&self.pool, &self.spec, LogScope::All, opts);
        let j = super::feed::forward_logs(rx, self.up.clone());
        (handle, j)
    }
}

/// `.kamal/<svc>-audit.log` of every host, each line prefixed with its host.
async fn audit(ctx: Arc<Ctx>, up: mpsc::Sender<Update>) {
    let c = cmd::audit_tail(&ctx.app);
    let mut lines = Vec::new();
    for h in ctx.full.all_hosts() {
        let Some(r) = ctx.remotes.get(&h) else { continue };
        match r.exec(&c).await {
            Ok(o) if o.ok() => lines.extend(o.stdout.lines().map(|l| format!("{h}  {l}"))),
            Ok(o) if o.stderr.contains("No such file") => {}
            Ok(o) => lines.push(format!("{h}  (cannot read the audit log: {})", o.combined())),
            Err(e) => lines.push(format!("{h}  ({e})")),
        }
    }
    // One story across hosts: merged by each line's `[time]` (Kamal's ISO stamps sort as text).
    lines.sort_by(|a, b| audit_time(a).cmp(audit_time(b)));
    let _ = up.send(Update::Audit(lines)).await;
}

/// The `[2026-12-03T11:37:56Z]` stamp of an audit line (`host  [time] …`); empty when none.
fn audit_time(line: &str) -> &str {
    line.split_once("  [").and_then(|(_, r)| r.split_once(']')).map_or("", |(t, _)| t)
}

/// The (host, role) pairs an exec scope runs on, in host order.
fn exec_jobs(app: &AppSpec, scope: &ExecScope) -> Vec<(String, RoleSpec)> {
    let primary = app.primary_host();
    let take = |h: &String, role: &RoleSpec| match scope {
        ExecScope::All => true,
        ExecScope::Primary => Some(h) == primary.as_ref() && role.name == app.primary_role,
        ExecScope::Role(r) => &role.name == r,
        ExecScope::Host(x) => h == x,
    };
    app.host_roles().into_iter().filter(|(h, role)| take(h, role)).collect()
}

/// The engine request of a dashboard management command (the headless command's defaults:
/// maintenance without a message and with the configured drain timeout; registry here and on
/// the hosts).
fn manage_request(op: crate::tui::dispatch::ManageOp, ctx: &Ctx) -> EngineRequest {
    use crate::deploy::RegistryAction;
    use crate::tui::dispatch::ManageOp::*;
    match op {
        Maintenance => EngineRequest::AppMaintenance { drain_timeout: None, message: None },
        Live => EngineRequest::AppLive,
        ProxyBoot => EngineRequest::ProxyBoot,
        ProxyReboot => EngineRequest::ProxyReboot { rolling: false },
        ProxyStart => EngineRequest::ProxyStart,
        ProxyStop => EngineRequest::ProxyStop,
        ProxyRestart => EngineRequest::ProxyRestart,
        ProxyRemove => EngineRequest::ProxyRemove { force: false },
        BuildPush => EngineRequest::BuildPush { output: "registry".into(), no_cache: false },
        BuildPull => EngineRequest::BuildPull,
        BuildDeliver => EngineRequest::BuildDeliver,
        RegistryLogin => EngineRequest::Registry { action: RegistryAction::Login, local: true, remote: true },
        RegistryLogout => EngineRequest::Registry { action: RegistryAction::Logout, local: true, remote: true },
        RegistrySetup => EngineRequest::Registry { action: RegistryAction::Setup, local: true, remote: true },
        RegistryRemove => EngineRequest::Registry { action: RegistryAction::Remove, local: true, remote: true },
        AccessoryUpgrade => EngineRequest::AccessoryUpgrade { name: "all".into(), rolling: false },
        // As `kdeck upgrade`: the app boots `--version`, else the latest tag.
        Upgrade => EngineRequest::Upgrade { rolling: false, version: ctx.global.version.clone().unwrap_or_else(|| ctx.app.latest_tag()) },
        ServerBootstrap => EngineRequest::ServerBootstrap,
        AppRemove => EngineRequest::AppRemove,
        Remove => EngineRequest::Remove,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_lines_of_all_hosts_merge_by_their_time() {
        let mut lines = [
            "10.0.0.1  [2026-12-03T11:00:05Z] [ops] Deployed v2".to_string(),
            "10.0.0.1  [2026-12-03T11:00:09Z] [ops] Rolled back to v1".to_string(),
            "10.0.0.2  [2026-12-03T11:00:06Z] [ops] Deployed v2".to_string(),
            "10.0.0.2  (cannot read the audit log: denied)".to_string(),
        ];
        lines.sort_by(|a, b| super::audit_time(a).cmp(super::audit_time(b)));
        let hosts_and_times: Vec<(&str, &str)> = lines.iter().map(|l| (&l[..8], super::audit_time(l))).collect();
        assert_eq!(
            hosts_and_times,
            vec![("10.0.0.2", ""), ("10.0.0.1", "2026-12-03T11:00:05Z"), ("10.0.0.2", "2026-12-03T11:00:06Z"), ("10.0.0.1", "2026-12-03T11:00:09Z")]
        );
    }
}
