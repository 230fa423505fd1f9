//! The dashboard wired to the real thing: the app's Kamal config, one ssh [`Pool`] (one
//! connection per host, shared by the fleet watcher, the log fan-in, the engine and exec), and
//! a task that turns the UI's [`Request`]s into engine runs. Nothing here blocks the UI: every
//! request is handled in its own task and reports back through [`Update`]s.

use super::dispatch::{ChannelDispatcher, Request, Update};
use super::worker::Worker;
use super::{App, DeckUpdate, Tab};
use crate::app::context::{self, Ctx};
use crate::app::fleet_spec;
use crate::app::targets::{Pools, Target};
use crate::cli::Global;
use crate::fleet::Watcher;
use crate::ssh::Pool;
use color_eyre::eyre::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What `kdeck` / `kdeck dashboard` runs: every destination of the app in the current
/// directory (or the one `-d` names), one tab each.
pub fn run_dashboard(g: &Global, read_only: bool, skip_push: bool) -> Result<std::process::ExitCode> {
    // Config errors surface here, before the terminal is taken over: the dashboard's own
    // settings first, then the app's.
    let settings = super::settings::load()?;
    let targets = crate::app::targets::of_app(g, None, None)?;
    run_targets(targets, read_only, skip_push, settings)
}

/// What `kdeck workspace` runs: every app (and its destinations) of the workspace file.
pub fn run_workspace(g: &Global, w: &crate::cli::WorkspaceArgs) -> Result<std::process::ExitCode> {
    // A bad file or app is an error naming the file and key, before the terminal is taken.
    let settings = super::settings::load()?;
    let targets = crate::app::workspace::targets(g, w.file.as_deref())?;
    run_targets(targets, w.dashboard.read_only, w.dashboard.skip_push, settings)
}

/// The dashboard over `targets` (one tab each, one ssh pool per set of `ssh:` settings), with
/// the config file's keys, colours, notifications and mouse.
pub fn run_targets(targets: Vec<Target>, read_only: bool, skip_push: bool, settings: super::settings::Settings) -> Result<std::process::ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let res = rt.block_on(dashboard(targets, read_only, skip_push, settings));
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

    let first_look = super::feed::first_look(snap_rx.clone(), FIRST_LOOK_WAIT);
    super::feed::forward_fleet(snap_rx, up_tx.clone());
    // Resources and traffic start once every host has been read once (or after FIRST_LOOK_WAIT):
    // their first reads (system df, stats, ten minutes of proxy log) would otherwise compete
    // with the fleet rows for the hosts. The canary reads the same traffic figures the screen
    // shows, through `traffic`, which the follow feeds once it runs.
    let proxy_hosts = ctx.full.proxy_hosts();
    let (traffic_tx, traffic_rx) = tokio::sync::watch::channel(crate::fleet::traffic::TrafficSnapshot::default());
    let traffic = (!proxy_hosts.is_empty()).then_some(traffic_rx);
    let (p, sp, tx) = (pool.clone(), spec.clone(), up_tx.clone());
    tokio::spawn(async move {
        first_look.await;
        // Resources over the same connections; the forwarder owns the monitor (dropping it stops it).
        let (res_rx, monitor) = crate::fleet::resources::Monitor::spawn(p.clone(), sp.clone(), crate::fleet::resources::ResourceOptions::default());
        forward_resources(res_rx, monitor, tx.clone());
        // Traffic through kamal-proxy on every host of a role behind it (the last 10 minutes first).
        if !proxy_hosts.is_empty() {
            let opts = crate::fleet::traffic::TrafficOptions { history_s: Some(600), ..Default::default() };
            let (rx, handle) = crate::fleet::traffic::follow(&p, &sp, &proxy_hosts, opts);
            super::feed::forward_traffic(rx, handle, tx, traffic_tx);
        }
    });

    let (req_tx, req_rx) = mpsc::unbounded_channel::<Request>();
    let busy = Arc::new(AtomicBool::new(false));
    let worker = Worker {
        ctx: Arc::new(std::sync::RwLock::new(ctx.clone())),
        dir: t.dir.clone(),
        pool: pool.clone(),
        spec,
        up: up_tx.clone(),
        watcher: Arc::new(watcher),
        skip_push,
        busy: busy.clone(),
        traffic,
    };
    let worker = tokio::spawn(worker.run(req_rx));

    let mut app = App::new(read_only);
    app.retain_containers = ctx.full.retain_containers;
    // A secret the new containers need that cannot be read: the deploy dialog says so first.
    app.secret_problems = ctx.full.roles.iter().filter_map(|r| r.env_secret_error.clone()).collect();
    app.secret_problems.dedup();
    app.rollout_host = crate::app::staged::rollout_host(&ctx).ok();
    app.next_version = Some(ctx.version.clone());
    app.version_flag = t.global.version.clone();
    app.proxy_hosts = ctx.full.proxy_hosts();
    app.skip_push = skip_push;
    let shell = super::row_jobs::shell_command(ctx.clone(), pool.clone());
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

async fn dashboard(targets: Vec<Target>, read_only: bool, skip_push: bool, settings: super::settings::Settings) -> Result<super::term::Outcome> {
    let mut live = open_deck(Pools::default(), &targets, read_only, skip_push)?;
    for t in &mut live.deck.tabs {
        settings.apply(&mut t.app);
    }
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

/// At most one resources update a second: every host's sample changes the snapshot (25 a second
/// at 50 hosts), and the screen needs only the newest.
const RESOURCES_EVERY: Duration = Duration::from_secs(1);

/// Longest wait for every host's first read before resources and traffic start anyway.
const FIRST_LOOK_WAIT: Duration = Duration::from_secs(2);

/// Sends the newest resource snapshot at most once per [`RESOURCES_EVERY`], and the prune
/// preview when it changed.
fn forward_resources(
    mut rx: tokio::sync::watch::Receiver<crate::fleet::model::ResourceSnapshot>,
    monitor: crate::fleet::resources::MonitorHandle,
    tx: mpsc::Sender<Update>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sent_plans = None;
        loop {
            let snap = rx.borrow_and_update().clone();
            if tx.send(Update::Resources(Box::new(snap))).await.is_err() {
                return;
            }
            let plans = monitor.prune_plans();
            if sent_plans.as_ref() != Some(&plans) {
                sent_plans = Some(plans.clone());
                if tx.send(Update::PrunePlans(plans)).await.is_err() {
                    return;
                }
            }
            let next = tokio::time::Instant::now() + RESOURCES_EVERY;
            if rx.changed().await.is_err() {
                return;
            }
            tokio::time::sleep_until(next).await;
        }
    })
}
