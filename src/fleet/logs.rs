//! Log fan-in: follows the logs of a scope (all, a role, a host, one container) across hosts
//! with bollard log streams over each host's shared connection, tags every line with host
//! and role, and resumes after a reconnect with `since` + de-duplication. For role/host
//! scopes it follows the role's current container (Kamal §4.4, like `kamal app logs`) and
//! switches when a deploy makes another container current.

use super::spec::FleetSpec;
use crate::docker::{DockerHost, LogDedup, LogOptions, LogSource};
use crate::ssh::Pool;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Which containers to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogScope {
    All,
    Role(String),
    Host(String),
    /// One container on one host (id or name).
    Container {
        host: String,
        container: String,
    },
}

/// A line, tagged with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetLogLine {
    pub host: String,
    pub role: String,
    pub container: String,
    pub ts: Option<DateTime<Utc>>,
    pub stderr: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FleetLog {
    Line(FleetLogLine),
    /// The host's stream broke; it resumes (without repeating lines) when the host is back.
    Interrupted {
        host: String,
        role: String,
        reason: String,
    },
    Resumed {
        host: String,
        role: String,
    },
    /// Now following another container (a deploy switched the current one).
    Switched {
        host: String,
        role: String,
        container: String,
    },
}

/// Options of a follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Unix seconds; `None` = only `tail` lines of history.
    pub since: Option<i64>,
    pub tail: Option<u64>,
    /// How often role/host scopes look for a new current container.
    pub recheck: Duration,
    /// Channel capacity; a slow consumer applies back-pressure to the streams, never memory.
    pub capacity: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions { since: None, tail: Some(100), recheck: Duration::from_secs(3), capacity: 4096 }
    }
}

/// Stops every stream of a follow when dropped.
pub struct FollowHandle {
    _guard: DropGuard,
}

/// Starts following `scope`. Lines arrive on the receiver; drop the handle to stop.
pub fn follow(pool: &Pool, spec: &FleetSpec, scope: LogScope, opts: FollowOptions) -> (mpsc::Receiver<FleetLog>, FollowHandle) {
    let (tx, rx) = mpsc::channel(opts.capacity.max(16));
    let cancel = CancellationToken::new();
    let spec = Arc::new(spec.clone());
    let opts = Arc::new(opts);
    let mut targets: Vec<(String, Target)> = Vec::new();
    match &scope {
        LogScope::Container { host, container } => targets.push((host.clone(), Target::Container(container.clone()))),
        _ => {
            for (role, hosts) in &spec.roles {
                for h in hosts {
                    let keep = match &scope {
                        LogScope::All => true,
                        LogScope::Role(r) => r == role,
                        LogScope::Host(x) => x == h,
                        LogScope::Container { .. } => false,
                    };
                    if keep {
                        targets.push((h.clone(), Target::Role(role.clone())));
                    }
                }
            }
        }
    }
    for (host, target) in targets {
        let dh = DockerHost::new(&pool.get(&host));
        tokio::spawn(follow_one(dh, spec.clone(), target, opts.clone(), tx.clone(), cancel.clone()));
    }
    (rx, FollowHandle { _guard: cancel.drop_guard() })
}

#[derive(Debug, Clone)]
enum Target {
    Role(String),
    Container(String),
}

/// Finds the container to follow: (id, name, role).
async fn resolve(dh: &DockerHost, spec: &FleetSpec, target: &Target) -> Option<(String, String, String)> {
    match target {
        Target::Container(c) => {
            let i = dh.inspect(c).await.ok()?;
            let role = i.config.as_ref().and_then(|c| c.labels.as_ref()).and_then(|l| l.get("role").cloned()).unwrap_or_default();
            Some((i.id.unwrap_or_default(), i.name.unwrap_or_default().trim_start_matches('/').to_string(), role))
        }
        Target::Role(role) => super::watcher::current_container(dh, spec, role).await.map(|(id, name)| (id, name, role.clone())),
    }
}

async fn follow_one(dh: DockerHost, spec: Arc<FleetSpec>, target: Target, opts: Arc<FollowOptions>, tx: mpsc::Sender<FleetLog>, cancel: CancellationToken) {
    let host = dh.host().to_string();
    let tag_role = match &target {
        Target::Role(r) => r.clone(),
        Target::Container(_) => String::new(),
    };
    let mut dedup = LogDedup::default();
    let mut current: Option<(String, String, String)> = None;
    let mut since = opts.since;
    let mut tail = opts.tail;
    let mut interrupted = false;
    loop {
        if cancel.is_cancelled() || tx.is_closed() {
            return;
        }
        // Wait for the host, then find what to follow.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = dh.session.wait_up() => {}
        }
        let found = tokio::select! {
            _ = cancel.cancelled() => return,
            r = resolve(&dh, &spec, &target) => r,
        };
        let Some(found) = found else {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(opts.recheck) => {}
            }
            continue;
        };
        if current.as_ref().map(|c| &c.0) != Some(&found.0) {
            if current.is_some() {
                // A new container: its history since it started is new to us.
                dedup = LogDedup::default();
                since = Some(Utc::now().timestamp() - 60);
                tail = None;
                let _ = tx.send(FleetLog::Switched { host: host.clone(), role: found.2.clone(), container: found.1.clone() }).await;
            }
            current = Some(found.clone());
        }
        if interrupted {
            interrupted = false;
            let _ = tx.send(FleetLog::Resumed { host: host.clone(), role: found.2.clone() }).await;
        }
        let (id, name, role) = found;
        let lo = LogOptions { follow: true, since: dedup.since().or(since), tail: if dedup.since().is_some() { None } else { tail }, timestamps: true };
        let Some(failed) = stream_container(&dh, &spec, &target, &tag_role, (&id, &name, &role), &lo, &mut dedup, &opts, &tx, &cancel).await else {
            return;
        };
        let up = *dh.session.state().borrow() == crate::ssh::ConnState::Up;
        if failed.is_some() || !up {
            interrupted = true;
            let reason = failed.unwrap_or_else(|| "connection lost".into());
            let _ = tx.send(FleetLog::Interrupted { host: host.clone(), role: role.clone(), reason }).await;
        }
        // A stopped container ends its stream: look again shortly instead of spinning.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(if up { opts.recheck } else { Duration::from_millis(100) }) => {}
        }
    }
}

/// With Docker events of the role followed, the current container is also looked for this often.
const RECHECK_WITH_EVENTS: Duration = Duration::from_secs(30);

/// A container event that can make another container of `role` the current one.
fn switches(e: &bollard::models::EventMessage, role: &str) -> bool {
    let action = e.action.as_deref().unwrap_or_default();
    let of_role = e.actor.as_ref().and_then(|a| a.attributes.as_ref()).and_then(|a| a.get("role")).is_some_and(|r| r == role);
    of_role && matches!(action, "start" | "restart" | "die" | "stop" | "kill" | "destroy" | "rename")
}

/// Follows one container's log stream until it ends, fails (`Some(Some(error))`), or — for a
/// role — another container becomes current. `None`: cancelled, or nobody listens any more.
#[allow(clippy::too_many_arguments)]
async fn stream_container(
    dh: &DockerHost,
    spec: &FleetSpec,
    target: &Target,
    tag_role: &str,
    (id, name, role): (&str, &str, &str),
    lo: &LogOptions,
    dedup: &mut LogDedup,
    opts: &FollowOptions,
    tx: &mpsc::Sender<FleetLog>,
    cancel: &CancellationToken,
) -> Option<Option<String>> {
    let host = dh.host().to_string();
    let mut s = dh.logs(id, lo);
    let follows_role = matches!(target, Target::Role(_));
    // Another container becomes current only with a container event of the role (a deploy
    // starts one and stops the old one): look again on those, and on a slow timer besides. If
    // the events stream ends, the timer alone, at the `recheck` pace.
    let mut events = follows_role.then(|| dh.events(&spec.service));
    let mut recheck = tokio::time::interval(RECHECK_WITH_EVENTS);
    recheck.reset();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return None,
            item = s.next() => match item {
                Some(Ok(line)) => {
                    if dedup.accept(&line) {
                        let l = FleetLogLine {
                            host: host.clone(),
                            role: if role.is_empty() { tag_role.to_string() } else { role.to_string() },
                            container: name.to_string(),
                            ts: line.ts,
                            stderr: line.source == LogSource::Stderr,
                            text: line.text,
                        };
                        if tx.send(FleetLog::Line(l)).await.is_err() { return None }
                    }
                }
                Some(Err(e)) => return Some(Some(e.to_string())),
                None => return Some(None),
            },
            ev = async { events.as_mut()?.next().await }, if events.is_some() => match ev {
                Some(Ok(e)) => {
                    if switches(&e, role) && resolve(dh, spec, target).await.is_some_and(|n| n.0 != id) {
                        return Some(None);
                    }
                }
                _ => {
                    events = None;
                    recheck = tokio::time::interval(opts.recheck);
                    recheck.reset();
                }
            },
            _ = recheck.tick(), if follows_role => {
                // A deploy may have made another container current.
                if let Some(n) = resolve(dh, spec, target).await {
                    if n.0 != id { return Some(None) }
                }
            }
        }
    }
}
