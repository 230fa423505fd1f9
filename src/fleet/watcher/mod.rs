//! The fleet watcher: one task per host on the shared [`Pool`], fed by Docker events
//! (`label=service=<svc>`) plus a periodic reconcile, publishing a [`FleetSnapshot`] on a
//! `watch` channel. A host whose connection drops is shown `Down` as soon as its session
//! says so (or a reconcile stops answering) and comes back by itself when the session
//! reconnects.

mod read;

pub use read::{accessory_info, current_container, current_version, lock_status, parse_proxy_list, split_containers};

use super::model::{ConnState, FleetSnapshot, HostStatus};
use super::spec::FleetSpec;
use crate::docker::DockerHost;
use crate::kamal::lock::LockInfo;
use crate::ssh::{Pool, Session};
use futures::StreamExt;
use read::ReadCache;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::{CancellationToken, DropGuard};

/// A reconcile that takes longer than this marks the host down (link gone, peer silent).
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(8);
/// Without Docker events or actions, a host is read whole this often (its lock every tick).
const IDLE_READ: Duration = Duration::from_secs(15);
/// Events arriving in a burst (a deploy) are folded into one reconcile.
const EVENT_DEBOUNCE: Duration = Duration::from_millis(150);

enum Msg {
    Host(Box<HostStatus>),
    Lock(Option<LockInfo>),
}

/// Keeps the watcher running; dropping it stops every task.
pub struct WatcherHandle {
    refresh: Arc<Notify>,
    _guard: DropGuard,
}

impl WatcherHandle {
    /// Reconciles every host now (after an action, or on the user's request).
    pub fn refresh(&self) {
        self.refresh.notify_waiters();
    }
}

pub struct Watcher;

impl Watcher {
    /// Starts watching every host of `spec`. Needs a tokio runtime.
    pub fn spawn(pool: Pool, spec: FleetSpec) -> (watch::Receiver<FleetSnapshot>, WatcherHandle) {
        let hosts = spec.watched_hosts();
        let initial = FleetSnapshot {
            service: spec.service.clone(),
            destination: spec.destination.clone(),
            image: spec.repository.clone(),
            primary_role: spec.primary_role.clone(),
            roles: spec.roles.clone(),
            hosts: hosts.iter().map(|h| HostStatus { host: h.clone(), roles: spec.roles_of(h), ..Default::default() }).collect(),
            lock: None,
            accessories: spec.accessories.iter().map(|a| (a.name.clone(), a.hosts.clone())).collect(),
        };
        let (snap_tx, snap_rx) = watch::channel(initial);
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let refresh = Arc::new(Notify::new());
        let spec = Arc::new(spec);
        let sessions: Arc<Vec<Session>> = Arc::new(hosts.iter().map(|h| pool.get(h)).collect());
        for session in sessions.iter() {
            let others = Others(sessions.clone());
            tokio::spawn(host_task(session.clone(), others, spec.clone(), tx.clone(), cancel.clone(), refresh.clone()));
        }
        drop(tx);
        tokio::spawn(aggregate(rx, snap_tx, cancel.clone()));
        (snap_rx, WatcherHandle { refresh, _guard: cancel.drop_guard() })
    }
}

async fn aggregate(mut rx: mpsc::UnboundedReceiver<Msg>, tx: watch::Sender<FleetSnapshot>, cancel: CancellationToken) {
    loop {
        let msg = tokio::select! {
            _ = cancel.cancelled() => return,
            m = rx.recv() => match m { Some(m) => m, None => return },
        };
        // Fold whatever else is queued into the same publication.
        let mut batch = vec![msg];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        tx.send_if_modified(|snap| {
            let mut changed = false;
            for m in batch.drain(..) {
                match m {
                    Msg::Host(h) => {
                        if let Some(slot) = snap.hosts.iter_mut().find(|x| x.host == h.host) {
                            changed |= store(slot, *h);
                        }
                    }
                    Msg::Lock(l) => {
                        if snap.lock != l {
                            snap.lock = l;
                            changed = true;
                        }
                    }
                }
            }
            changed
        });
    }
}

/// Puts a host's new status in its slot; true when the screen can show the difference. A
/// newer "last read" time alone is not shown while the host is live (only its age is, once it
/// is not), so it is stored without waking every receiver after each periodic read.
fn store(slot: &mut HostStatus, new: HostStatus) -> bool {
    if slot.last_seen != new.last_seen && slot.live() && new.live() {
        let seen = slot.last_seen;
        slot.last_seen = new.last_seen;
        if *slot == new {
            return false;
        }
        slot.last_seen = seen;
    }
    if *slot == new {
        return false;
    }
    *slot = new;
    true
}

/// Every watched host's session: news from one host (a Docker event) is activity that dials the
/// hosts that are down again at once, instead of at the end of their backoff.
struct Others(Arc<Vec<Session>>);

impl Others {
    fn probe_down(&self, except: &str) {
        for s in self.0.iter().filter(|s| s.host() != except) {
            if s.probe() {
                tracing::debug!(host = %s.host(), "down: dialled again on activity elsewhere");
            }
        }
    }
}

async fn host_task(session: Session, others: Others, spec: Arc<FleetSpec>, tx: mpsc::UnboundedSender<Msg>, cancel: CancellationToken, refresh: Arc<Notify>) {
    let host = session.host().to_string();
    let mut st = HostStatus { host: host.clone(), roles: spec.roles_of(&host), ..Default::default() };
    let mut state_rx = session.state();
    let send = |st: &HostStatus| {
        let _ = tx.send(Msg::Host(Box::new(st.clone())));
    };
    loop {
        let cur = state_rx.borrow_and_update().clone();
        if cur != ConnState::Up {
            // Retries flip the session between Connecting and Down: a host that is down stays
            // Down (with the latest reason) until it is Up again.
            let keep_down = cur == ConnState::Connecting && matches!(st.conn, ConnState::Down { .. });
            if !keep_down {
                st.conn = cur;
                st.unknown_host_key = session.offered_host_key();
                send(&st);
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = state_rx.changed() => if r.is_err() { return },
            }
            continue;
        }
        let dh = DockerHost::new(&session);
        let mut events = read::fleet_events(&dh, &spec);
        let mut tick = ticker(spec.reconcile_every);
        let mut dirty = true;
        // A new connection may see anything changed: the first read asks everything.
        let mut cache = ReadCache::default();
        let mut last_read = tokio::time::Instant::now();
        loop {
            if dirty {
                dirty = false;
                last_read = tokio::time::Instant::now();
                match tokio::time::timeout(RECONCILE_TIMEOUT, read::reconcile(&dh, &spec, &mut cache)).await {
                    Ok(Ok(mut r)) => {
                        let lock = r.lock.take();
                        apply(&mut st, r);
                        if host == spec.primary_host {
                            let _ = tx.send(Msg::Lock(lock));
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(host = %host, "reconcile failed: {e}");
                        if *state_rx.borrow() != ConnState::Up {
                            break;
                        }
                        // ssh answers, Docker does not: the containers are last-known now.
                        st.docker_error = Some(docker_error_text(&e));
                    }
                    Err(_) => {
                        st.conn = ConnState::Down { reason: format!("no answer within {RECONCILE_TIMEOUT:?}") };
                    }
                }
                send(&st);
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = state_rx.changed() => {
                    if r.is_err() { return }
                    if *state_rx.borrow() != ConnState::Up { break }
                }
                ev = events.next() => match ev {
                    Some(Ok(e)) => {
                        tracing::debug!(host = %host, action = ?e.action, "docker event");
                        others.probe_down(&host);
                        // Fold a burst of events into one reconcile.
                        let _ = tokio::time::timeout(EVENT_DEBOUNCE, async {
                            while let Some(Ok(_)) = events.next().await {}
                        }).await;
                        cache.invalidate();
                        dirty = true;
                    }
                    Some(Err(_)) | None => {
                        match after_events_ended(&mut state_rx, &cancel).await {
                            AfterEvents::Stop => return,
                            AfterEvents::HostDown => break,
                            AfterEvents::Resubscribe => {}
                        }
                        events = read::fleet_events(&dh, &spec);
                        cache.invalidate();
                        dirty = true;
                    }
                },
                _ = tick.tick() => dirty = on_tick(&session, &spec, last_read, &tx).await,
                _ = refresh.notified() => {
                    cache.invalidate();
                    dirty = true;
                }
            }
        }
        st.conn = match state_rx.borrow().clone() {
            ConnState::Down { reason } => ConnState::Down { reason },
            _ => ConnState::Down { reason: "connection lost".into() },
        };
        send(&st);
    }
}

/// What a host's task does once its Docker events request ended.
enum AfterEvents {
    Stop,
    HostDown,
    Resubscribe,
}

/// The events request ended: either the connection went (the host is then shown down, not read
/// again, which would dial it at once and hide the loss) or dockerd restarted (resubscribe after
/// a second).
async fn after_events_ended(state_rx: &mut watch::Receiver<ConnState>, cancel: &CancellationToken) -> AfterEvents {
    if *state_rx.borrow() != ConnState::Up {
        return AfterEvents::HostDown;
    }
    tokio::select! {
        _ = cancel.cancelled() => AfterEvents::Stop,
        r = state_rx.changed() => match r {
            Err(_) => AfterEvents::Stop,
            Ok(()) if *state_rx.borrow() != ConnState::Up => AfterEvents::HostDown,
            Ok(()) => AfterEvents::Resubscribe,
        },
        _ = tokio::time::sleep(Duration::from_secs(1)) => AfterEvents::Resubscribe,
    }
}

/// A tick every `every`, the first one `every` from now, late ticks delayed (not bunched).
fn ticker(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    tick
}

/// The periodic tick: a full read once [`IDLE_READ`] (or the spec's period, if longer) has
/// passed since the last one (Docker events and actions ask for one at once in between; the
/// tick is the safety net), else on the lock host the lock alone (taken and released without
/// any Docker event). True: read the host now.
async fn on_tick(session: &Session, spec: &FleetSpec, last_read: tokio::time::Instant, tx: &mpsc::UnboundedSender<Msg>) -> bool {
    if last_read.elapsed() >= IDLE_READ.max(spec.reconcile_every) {
        return true;
    }
    if session.host() == spec.primary_host {
        let _ = tx.send(Msg::Lock(read::lock_status(session, &spec.lock_dir).await));
    }
    false
}

/// A successful read: the host and its Docker answer, and this is what they said.
fn apply(st: &mut HostStatus, r: read::Reconciled) {
    st.conn = ConnState::Up;
    st.docker_error = None;
    st.unknown_host_key = None;
    st.containers = r.containers;
    st.accessories = r.accessories;
    st.current = r.current;
    st.proxy_running = r.proxy_running;
    st.proxy_routes = r.proxy_routes;
    st.last_seen = Some(chrono::Utc::now());
}

/// One line for "docker unreachable" (bollard's errors can be long and nested).
fn docker_error_text(e: &crate::docker::Error) -> String {
    let s = e.to_string();
    let first = s.lines().next().unwrap_or("").trim();
    let short: String = first.chars().take(120).collect();
    if short.is_empty() {
        "no answer".into()
    } else {
        short
    }
}
