//! The dashboard wired to the real thing: the app's Kamal config, one ssh [`Pool`] (one
//! connection per host, shared by the fleet watcher, the log fan-in, the engine and exec), and
//! a task that turns the UI's [`Request`]s into engine runs. Nothing here blocks the UI: every
//! request is handled in its own task and reports back through [`Update`]s.

use super::dispatch::{ChannelDispatcher, ExecScope, Request, Since, Update};
use super::term::ShellCommand;
use super::{App, DeckUpdate, Tab};
use crate::app::context::{self, Ctx};
use crate::app::fleet_spec;
use crate::app::targets::{Pools, Target};
use crate::cli::Global;
use crate::deploy::event::Event;
use crate::deploy::{AbortHandle, ExecRequest, Request as EngineRequest};
use crate::fleet::logs::{self as fleet_logs, FleetLog, FleetLogLine, FollowHandle, FollowOptions, LogScope};
use crate::fleet::{FleetSpec, Watcher, WatcherHandle};
use crate::kamal::{cmd, AppSpec, RoleSpec};
use crate::ssh::Pool;
use color_eyre::eyre::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What `kdeck` / `kdeck dashboard` runs: every destination of the app in the current
/// directory (or the one `-d` names), one tab each.
pub fn run_dashboard(g: &Global, read_only: bool, skip_push: bool) -> Result<std::process::ExitCode> {
    // Config errors surface here, before the terminal is taken over.
    let targets = crate::app::targets::of_app(g, None, None)?;
    run_targets(targets, read_only, skip_push)
}

/// What `kdeck workspace` runs: every app (and its destinations) of the workspace file.
pub fn run_workspace(g: &Global, w: &crate::cli::WorkspaceArgs) -> Result<std::process::ExitCode> {
    // A bad file or app is an error naming the file and key, before the terminal is taken.
    let targets = crate::app::workspace::targets(g, w.file.as_deref())?;
    run_targets(targets, w.dashboard.read_only, w.dashboard.skip_push)
}

/// The dashboard over `targets` (one tab each, one ssh pool per set of `ssh:` settings).
pub fn run_targets(targets: Vec<Target>, read_only: bool, skip_push: bool) -> Result<std::process::ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let res = rt.block_on(dashboard(targets, read_only, skip_push));
    // Streams and watchers end with the runtime; do not wait for slow hosts (the engine has
    // already finished: `dashboard` waits for it).
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(if res?.failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS })
}

/// One tab's live parts: its app state, the channels to and from its worker, the worker.
struct Opened {
    name: String,
    app: App,
    ctx: Arc<Ctx>,
    req_tx: mpsc::UnboundedSender<Request>,
    up_tx: mpsc::Sender<Update>,
    up_rx: mpsc::Receiver<Update>,
    worker: tokio::task::JoinHandle<bool>,
    busy: Arc<AtomicBool>,
    shell: super::term::ShellCommand,
    pool: Pool,
}

/// A target's context on the shared pool, its watchers (fleet, resources, traffic) and its
/// worker.
fn open(pools: &Pools, t: &Target, read_only: bool, skip_push: bool) -> Result<Opened> {
    let full = context::load_app_in(&t.global, Some(&t.dir))?;
    let pool = pools.live(&full, &t.global)?;
    let ctx = Arc::new(Ctx::on_pool_in(&pool, &t.global, Some(&t.dir))?);
    // The watcher sees the whole fleet: -r/-h narrow what actions touch, not what is shown.
    let spec = fleet_spec(&ctx.full, &ctx.lock_host);
    let (snap_rx, watcher) = Watcher::spawn(pool.clone(), spec.clone());
    let (up_tx, up_rx) = mpsc::channel::<Update>(8192);

    super::feed::forward_fleet(snap_rx, up_tx.clone());
    // Resources over the same connections; the forwarder owns the monitor (dropping it stops it).
    let (res_rx, monitor) = crate::fleet::resources::Monitor::spawn(pool.clone(), spec.clone(), crate::fleet::resources::ResourceOptions::default());
    forward_resources(res_rx, monitor, up_tx.clone());
    // Traffic through kamal-proxy on every host of a role behind it (the last 10 minutes first).
    let proxy_hosts = ctx.full.proxy_hosts();
    if !proxy_hosts.is_empty() {
        let opts = crate::fleet::traffic::TrafficOptions { history_s: Some(600), ..Default::default() };
        let (traffic_rx, handle) = crate::fleet::traffic::follow(&pool, &spec, &proxy_hosts, opts);
        super::feed::forward_traffic(traffic_rx, handle, up_tx.clone());
    }

    let (req_tx, req_rx) = mpsc::unbounded_channel::<Request>();
    let busy = Arc::new(AtomicBool::new(false));
    let worker = Worker { ctx: ctx.clone(), pool: pool.clone(), spec, up: up_tx.clone(), watcher: Arc::new(watcher), skip_push, busy: busy.clone() };
    let worker = tokio::spawn(worker.run(req_rx));

    let mut app = App::new(read_only);
    app.retain_containers = ctx.full.retain_containers;
    // A secret the new containers need that cannot be read: the deploy dialog says so first.
    app.secret_problems = ctx.full.roles.iter().filter_map(|r| r.env_secret_error.clone()).collect();
    app.secret_problems.dedup();
    app.next_version = Some(ctx.version.clone());
    app.skip_push = skip_push;
    let shell = shell_command(ctx.clone(), pool.clone());
    Ok(Opened { name: t.label.clone(), app, ctx, req_tx, up_tx, up_rx, worker, busy, shell, pool })
}

/// The dashboard's tabs, live: each target's watchers and worker on the shared pools, the
/// deck that shows them and the one channel of their updates (tagged with the tab's index).
/// [`LiveDeck::finish`] waits for the workers once the screen is gone.
pub struct LiveDeck {
    pub deck: super::deck::Deck,
    pub updates: mpsc::Receiver<DeckUpdate>,
    pub pools: Pools,
    /// Per tab: its context, its worker (true when it had to abort an action) and whether an
    /// action runs.
    ends: Vec<(Arc<Ctx>, tokio::task::JoinHandle<bool>, Arc<AtomicBool>)>,
    /// Kept until the end, so the screen never sees its channel close while a worker lives.
    senders: Vec<(mpsc::UnboundedSender<Request>, mpsc::Sender<Update>)>,
}

/// Opens every target (inside a tokio runtime): a tab each, in order.
pub fn open_deck(pools: Pools, targets: &[Target], read_only: bool, skip_push: bool) -> Result<LiveDeck> {
    let mut opened = Vec::new();
    for t in targets {
        opened.push(open(&pools, t, read_only, skip_push)?);
    }
    let (tx, updates) = mpsc::channel::<DeckUpdate>(8192);
    // Server mode: every Kamal app on the hosts of the open apps, each host read on its session.
    let mut sessions: Vec<crate::ssh::Session> = Vec::new();
    for o in &opened {
        for h in o.ctx.full.all_hosts().into_iter().chain(o.ctx.full.accessories.iter().flat_map(|a| a.hosts.clone())) {
            if !sessions.iter().any(|s| s.host() == h) {
                sessions.push(o.pool.get(&h));
            }
        }
    }
    forward_servers(sessions, tx.clone());
    let mut ends = Vec::new();
    let mut tabs = Vec::new();
    let mut senders = Vec::new();
    for (i, o) in opened.into_iter().enumerate() {
        ends.push((o.ctx, o.worker, o.busy));
        senders.push((o.req_tx.clone(), o.up_tx));
        let (tx, mut up_rx) = (tx.clone(), o.up_rx);
        tokio::spawn(async move {
            while let Some(u) = up_rx.recv().await {
                if tx.send(DeckUpdate::Tab(i, u)).await.is_err() {
                    return;
                }
            }
        });
        tabs.push(Tab { name: o.name, app: o.app, dispatcher: Box::new(ChannelDispatcher(o.req_tx)), shell: Some(o.shell) });
    }
    Ok(LiveDeck { deck: super::deck::Deck::new(tabs), updates, pools, ends, senders })
}

impl LiveDeck {
    /// After the screen: the action in flight in any tab must stop safely and release its lock
    /// before the process (and its runtime) ends — each worker aborts it once every request
    /// sender is gone, and this waits for them. True when one had to be aborted.
    pub async fn finish(self, quit_during_action: bool) -> bool {
        let LiveDeck { deck, ends, senders, .. } = self;
        drop(deck);
        drop(senders);
        // Not eprintln!: after SIGHUP the terminal is gone and a failed write must not panic.
        use std::io::Write;
        if ends.iter().any(|(_, _, busy)| busy.load(Ordering::SeqCst)) {
            let _ = writeln!(std::io::stderr(), "kdeck: waiting for the running action to stop safely and release the deploy lock…");
        }
        let mut any_aborted = false;
        for (ctx, worker, _) in ends {
            let aborted = worker.await.unwrap_or(false);
            any_aborted |= aborted;
            if aborted || quit_during_action {
                // As the headless commands after Ctrl-C: what runs where now.
                for line in crate::app::states::host_states(&ctx, "interruption").await {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
        }
        any_aborted
    }
}

async fn dashboard(targets: Vec<Target>, read_only: bool, skip_push: bool) -> Result<super::term::Outcome> {
    let mut live = open_deck(Pools::default(), &targets, read_only, skip_push)?;
    let signals = on_terminate(live.senders.clone());
    let res = super::term::run_screen_on_terminal(&mut live.deck, &mut live.updates).await;
    // Whatever ended the screen (quit, a forced quit, a dead terminal, an error).
    if let Some(s) = signals {
        s.abort();
    }
    let aborted = live.finish(res.as_ref().is_ok_and(|o| o.quit_during_action)).await;
    res.map(|o| super::term::Outcome { failed: o.failed || aborted, ..o })
}

/// SIGTERM/SIGHUP (terminal closed): abort the running action of every tab safely and let the
/// screen quit once they have finished, instead of dying with a lock held.
fn on_terminate(tabs: Vec<(mpsc::UnboundedSender<Request>, mpsc::Sender<Update>)>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut hup = signal(SignalKind::hangup()).ok()?;
    Some(tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        for (req, up) in tabs {
            let _ = req.send(Request::Abort);
            let _ = up.send(Update::Terminate).await;
        }
    }))
}

/// Polls what runs on the servers (every 5 s) and sends it to the deck; the task owns the poll.
fn forward_servers(sessions: Vec<crate::ssh::Session>, tx: mpsc::Sender<DeckUpdate>) {
    let (mut rx, handle) = crate::fleet::apps::watch(sessions, Duration::from_secs(5));
    tokio::spawn(async move {
        let _handle = handle;
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            if tx.send(DeckUpdate::Servers(snap)).await.is_err() {
                return;
            }
        }
    });
}

/// Sends each resource snapshot (and the prune preview that goes with it) to the dashboard.
fn forward_resources(
    mut rx: tokio::sync::watch::Receiver<crate::fleet::model::ResourceSnapshot>,
    monitor: crate::fleet::resources::MonitorHandle,
    tx: mpsc::Sender<Update>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let snap = rx.borrow_and_update().clone();
            if tx.send(Update::Resources(Box::new(snap))).await.is_err() {
                return;
            }
            if tx.send(Update::PrunePlans(monitor.prune_plans())).await.is_err() {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
}

/// A shell on a host over the dashboard's own connection to it (a pty channel, no OpenSSH
/// client): `sh` in the role's running container (reuse) or in a new one.
fn shell_command(ctx: Arc<Ctx>, pool: Pool) -> ShellCommand {
    Box::new(move |host: &str, reuse: bool| {
        let app = &ctx.full;
        let role = app.roles_on(host).first().map(|r| (*r).clone())?;
        let remote = if reuse {
            format!("docker exec -it $(docker ps --latest --quiet {} --filter status=running) sh", cmd::filters(app, Some(&role.name)))
        } else {
            // As `kamal app exec -i` (and `kdeck app exec -i`) without --version: the image
            // tagged latest on the host, i.e. the last version fully deployed there.
            let v = app.latest_tag();
            cmd::app_exec_run(app, &role, host, &v, &crate::kamal::random_hex(6), &[], cmd::ExecMode::Interactive { tty: true }, "sh")
        };
        let session = pool.get(host);
        Some(Box::pin(async move { crate::ssh::interactive::run_on_terminal(&session, &remote).await.map_err(|e| e.to_string()) }))
    })
}

/// What the engine runs for the dashboard: a request under the lock (with the version it
/// deploys), or `app exec`.
enum EngineJob {
    Action(EngineRequest, String),
    Exec(ExecRequest),
}

struct Worker {
    ctx: Arc<Ctx>,
    pool: Pool,
    spec: FleetSpec,
    up: mpsc::Sender<Update>,
    watcher: Arc<WatcherHandle>,
    skip_push: bool,
    /// Set while an engine job runs (read on the way out).
    busy: Arc<AtomicBool>,
}

impl Worker {
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
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Request>) -> bool {
        let mut logs = self.follow(Since::Tail100);
        // An accessory's container opened from the fleet tree (lines go to the same store).
        let mut container_logs: Option<(FollowHandle, tokio::task::JoinHandle<()>)> = None;
        // The action in flight: its abort handle and whether it is still running.
        let mut running: Option<(AbortHandle, tokio::task::JoinHandle<()>)> = None;
        let mut tunnels: std::collections::HashMap<(String, String), crate::app::tunnel::Tunnel> = std::collections::HashMap::new();
        while let Some(req) = rx.recv().await {
            let busy = running.as_ref().is_some_and(|(_, j)| !j.is_finished());
            match req {
                Request::Deploy
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
                    tokio::spawn(audit(self.ctx.clone(), self.up.clone()));
                }
                Request::TrustHostKey { host } => match self.pool.get(&host).trust_offered_host_key() {
                    Ok(fp) => self.notice(false, format!("trusted {fp} for {host}; connecting…")).await,
                    Err(e) => self.notice(true, e.to_string()).await,
                },
                Request::Tunnel { name, host } => {
                    let key = (name.clone(), host.clone());
                    if let Some(t) = tunnels.get(&key) {
                        self.notice(false, format!("tunnel {} → {} (already open)", t.local, t.description)).await;
                        continue;
                    }
                    let port = crate::app::tunnel::default_port(&self.ctx.full, &name);
                    match crate::app::tunnel::open(&self.pool, &self.ctx.full, &name, Some(&host), (0, port), "127.0.0.1").await {
                        Ok(t) => {
                            self.notice(false, format!("tunnel {} → {} (open until you quit)", t.local, t.description)).await;
                            tunnels.insert(key, t);
                        }
                        Err(e) => self.notice(true, format!("{e}")).await,
                    }
                }
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
        let action = |r| Some(EngineJob::Action(r, self.ctx.version.clone()));
        match req {
            Request::Deploy => action(EngineRequest::Deploy { skip_push: self.skip_push }),
            Request::Redeploy => action(EngineRequest::Redeploy { skip_push: self.skip_push }),
            Request::Rollback { version } => Some(EngineJob::Action(EngineRequest::Rollback { version: version.clone() }, version)),
            Request::LockAcquire { message } => action(EngineRequest::LockAcquire { message }),
            Request::LockRelease => action(EngineRequest::LockRelease),
            // What `kamal prune all` does: containers beyond retain_containers, then images.
            Request::Prune => action(EngineRequest::Prune { containers: true, images: true, retain: None }),
            Request::Exec { cmd, scope, reuse } => Some(EngineJob::Exec(ExecRequest {
                command: cmd,
                env: vec![],
                reuse,
                detach: false,
                version: self.ctx.global.version.clone(),
                targets: exec_jobs(&self.ctx.full, &scope),
                stream: true,
            })),
            Request::Manage(op) => action(manage_request(op, &self.ctx)),
            Request::Abort
            | Request::Logs { .. }
            | Request::ContainerLogs { .. }
            | Request::LoadAudit
            | Request::Shell { .. }
            | Request::Tunnel { .. }
            | Request::TrustHostKey { .. }
            | Request::Probe => None,
        }
    }

    /// Run an engine job in its own task, its events forwarded to the screen.
    fn start(&self, job: EngineJob) -> (AbortHandle, tokio::task::JoinHandle<()>) {
        let version = match &job {
            EngineJob::Action(_, v) => v.clone(),
            EngineJob::Exec(_) => self.ctx.version.clone(),
        };
        let abort = AbortHandle::new();
        let (etx, mut erx) = mpsc::unbounded_channel::<Event>();
        let engine = self.ctx.engine(version, etx, abort.clone());
        let up = self.up.clone();
        let watcher = self.watcher.clone();
        let busy = self.busy.clone();
        busy.store(true, Ordering::SeqCst);
        let j = tokio::spawn(async move {
            let fwd_up = up.clone();
            let fwd = tokio::spawn(async move {
                while let Some(e) = erx.recv().await {
                    let _ = fwd_up.send(Update::Engine(e)).await;
                }
            });
            let res = match job {
                EngineJob::Action(req, _) => engine.run(req).await,
                EngineJob::Exec(req) => engine.exec(req).await.map(|_| ()),
            };
            drop(engine);
            let _ = fwd.await;
            if let Err(e) = res {
                let _ = up.send(Update::Notice { error: true, text: e.to_string() }).await;
            }
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
