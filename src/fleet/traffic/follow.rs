//! Following every host's kamal-proxy request log and publishing the figures: one log stream
//! per host over its shared connection (resumed after reconnects without repeats, as
//! [`crate::fleet::logs::follow`] does), a [`TrafficBook`] fed line by line, and a snapshot
//! on a `watch` channel every `publish_every`. Targets are named once each (one `inspect`
//! of the container id in the target) so rows carry the app version.

use super::{TargetInfo, TrafficBook, TrafficSnapshot};
use crate::docker::DockerHost;
use crate::fleet::logs::{self, FleetLog, FollowOptions, LogScope};
use crate::fleet::FleetSpec;
use crate::kamal::proxy_log::ProxyRequest;
use crate::ssh::Pool;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

/// What to follow and how often to publish.
#[derive(Debug, Clone)]
pub struct TrafficOptions {
    /// Seconds of history to read first (`None`: only requests from now on).
    pub history_s: Option<i64>,
    pub publish_every: Duration,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        TrafficOptions { history_s: None, publish_every: Duration::from_secs(1) }
    }
}

/// Stops the follow when dropped.
pub struct TrafficHandle {
    _guard: DropGuard,
}

/// Follows the proxy on `hosts` (usually every host of a role with the proxy).
pub fn follow(pool: &Pool, spec: &FleetSpec, hosts: &[String], opts: TrafficOptions) -> (watch::Receiver<TrafficSnapshot>, TrafficHandle) {
    let (tx, rx) = watch::channel(TrafficSnapshot::default());
    let cancel = CancellationToken::new();
    let since = opts.history_s.map(|s| Utc::now().timestamp() - s);
    let fo = FollowOptions { since, tail: if since.is_some() { None } else { Some(0) }, capacity: 8192, ..Default::default() };
    let (ltx, lrx) = mpsc::channel::<FleetLog>(8192);
    let mut docker = HashMap::new();
    for h in hosts {
        let (mut srx, handle) = logs::follow(pool, spec, LogScope::Container { host: h.clone(), container: "kamal-proxy".into() }, fo.clone());
        docker.insert(h.clone(), DockerHost::new(&pool.get(h)));
        let ltx = ltx.clone();
        let c = cancel.clone();
        tokio::spawn(async move {
            let _handle = handle;
            loop {
                tokio::select! {
                    _ = c.cancelled() => return,
                    e = srx.recv() => match e {
                        Some(e) => if ltx.send(e).await.is_err() { return },
                        None => return,
                    },
                }
            }
        });
    }
    drop(ltx);
    let spec = Arc::new(spec.clone());
    tokio::spawn(aggregate(lrx, docker, spec, opts.publish_every, tx, cancel.clone()));
    (rx, TrafficHandle { _guard: cancel.drop_guard() })
}

/// The app role whose kamal-proxy service this is (`<service>-<role>[-<destination>]`).
pub fn role_of(spec: &FleetSpec, service: &str) -> Option<String> {
    spec.roles.iter().map(|(r, _)| r).find(|r| spec.prefix(r) == service).cloned()
}

async fn aggregate(
    mut lines: mpsc::Receiver<FleetLog>,
    docker: HashMap<String, DockerHost>,
    spec: Arc<FleetSpec>,
    every: Duration,
    tx: watch::Sender<TrafficSnapshot>,
    cancel: CancellationToken,
) {
    let mut book = TrafficBook::default();
    let (ntx, mut names) = mpsc::unbounded_channel::<(String, String, TargetInfo)>();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let role = |s: &str| role_of(&spec, s);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            l = lines.recv() => match l {
                Some(FleetLog::Line(l)) => {
                    let Some(req) = ProxyRequest::parse(&l.text) else { continue };
                    let fallback = l.ts.map(|t| t.timestamp()).unwrap_or_else(|| Utc::now().timestamp());
                    if !req.target.is_empty() && !book.knows_target(&l.host, &req.target) {
                        book.set_target(&l.host, &req.target, TargetInfo::default());
                        if let Some(dh) = docker.get(&l.host) {
                            let (dh, spec, target, ntx) = (dh.clone(), spec.clone(), req.target.clone(), ntx.clone());
                            tokio::spawn(async move {
                                if let Some(info) = target_info(&dh, &spec, &target).await {
                                    let _ = ntx.send((dh.host().to_string(), target, info));
                                }
                            });
                        }
                    }
                    book.record(&l.host, &req, fallback);
                }
                Some(_) => {}
                None => return,
            },
            Some((host, target, info)) = names.recv() => book.set_target(&host, &target, info),
            _ = tick.tick() => {
                let now = Utc::now().timestamp();
                book.forget_idle(now);
                if tx.send(book.snapshot(now, &role)).is_err() { return }
            }
        }
    }
}

/// Names the container behind a target (`<id>:<port>`, the id as Kamal passes it).
async fn target_info(dh: &DockerHost, spec: &FleetSpec, target: &str) -> Option<TargetInfo> {
    let id = target.rsplit_once(':').map(|(id, _)| id).unwrap_or(target);
    let i = tokio::time::timeout(Duration::from_secs(5), dh.inspect(id)).await.ok()?.ok()?;
    let name = i.name.unwrap_or_default().trim_start_matches('/').to_string();
    let role = i.config.as_ref().and_then(|c| c.labels.as_ref()).and_then(|l| l.get("role").cloned());
    let version = role.map(|r| crate::kamal::version_from_name(&spec.prefix(&r), &name).to_string());
    Some(TargetInfo { container: Some(name), version })
}

/// The figures of the last `seconds` from each host's proxy log, read once (no follow): the
/// lines are streamed into the book, never held. Hosts that cannot be read are skipped and
/// named in the second value with the reason.
pub async fn read_history(pool: &Pool, spec: &FleetSpec, hosts: &[String], seconds: i64) -> (TrafficSnapshot, Vec<(String, String)>) {
    use futures::StreamExt;
    let now = Utc::now().timestamp();
    let lo = crate::docker::LogOptions { follow: false, since: Some(now - seconds), tail: None, timestamps: true };
    let reads = hosts.iter().map(|h| {
        let dh = DockerHost::new(&pool.get(h));
        let lo = lo.clone();
        async move {
            let mut book = TrafficBook::default();
            let mut s = dh.logs("kamal-proxy", &lo);
            while let Some(item) = s.next().await {
                match item {
                    Ok(l) => {
                        if let Some(req) = ProxyRequest::parse(&l.text) {
                            book.record(dh.host(), &req, l.ts.map(|t| t.timestamp()).unwrap_or(now));
                        }
                    }
                    Err(e) => return (dh, book, Some(e.to_string())),
                }
            }
            (dh, book, None)
        }
    });
    let mut all = TrafficBook::default();
    let mut failed = vec![];
    for (dh, book, err) in futures::future::join_all(reads).await {
        if let Some(e) = err {
            failed.push((dh.host().to_string(), e));
        }
        all.absorb(book);
        for target in all.unnamed_targets(dh.host()) {
            let info = target_info(&dh, spec, &target).await.unwrap_or_default();
            all.set_target(dh.host(), &target, info);
        }
    }
    let snap = all.snapshot(Utc::now().timestamp(), &|s| role_of(spec, s));
    (snap, failed)
}
