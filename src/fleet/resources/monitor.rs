//! The live monitor (a sampler per host, woken by ticks and the service's Docker events) and
//! the headless one-shot reading.

use super::super::model::*;
use super::super::prune;
use super::super::spec::FleetSpec;
use super::sampler::HostSampler;
use super::ResourceOptions;
use crate::docker::DockerHost;
use crate::ssh::{Pool, Session};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

pub struct MonitorHandle {
    _guard: DropGuard,
    plans: Arc<std::sync::Mutex<HashMap<String, prune::PrunePlan>>>,
}

impl MonitorHandle {
    /// The latest prune preview per host (refreshed every `df_every`).
    pub fn prune_plans(&self) -> Vec<prune::PrunePlan> {
        let m = self.plans.lock().unwrap();
        let mut v: Vec<_> = m.values().cloned().collect();
        v.sort_by(|a, b| a.host.cmp(&b.host));
        v
    }
}

pub struct Monitor;

impl Monitor {
    /// Samples every host of `spec` every `opts.interval` (and right after an `oom`, `die` or
    /// `start` event of the service), publishing a [`ResourceSnapshot`].
    pub fn spawn(pool: Pool, spec: FleetSpec, opts: ResourceOptions) -> (watch::Receiver<ResourceSnapshot>, MonitorHandle) {
        let hosts = spec.hosts();
        let (tx, rx) = watch::channel(ResourceSnapshot {
            service: spec.service.clone(),
            thresholds: opts.thresholds,
            hosts: hosts.iter().map(|h| HostResources { host: h.clone(), ..Default::default() }).collect(),
        });
        let (htx, hrx) = mpsc::unbounded_channel::<HostResources>();
        let cancel = CancellationToken::new();
        let plans = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let spec = Arc::new(spec);
        for h in hosts {
            let session = pool.get(&h);
            tokio::spawn(monitor_host(session, spec.clone(), opts.clone(), htx.clone(), cancel.clone(), plans.clone()));
        }
        drop(htx);
        tokio::spawn(async move {
            let mut hrx = hrx;
            while let Some(h) = hrx.recv().await {
                tx.send_modify(|s| {
                    if let Some(slot) = s.hosts.iter_mut().find(|x| x.host == h.host) {
                        *slot = h;
                    }
                });
            }
        });
        (rx, MonitorHandle { _guard: cancel.drop_guard(), plans })
    }
}

async fn monitor_host(
    session: Session,
    spec: Arc<FleetSpec>,
    opts: ResourceOptions,
    tx: mpsc::UnboundedSender<HostResources>,
    cancel: CancellationToken,
    plans: Arc<std::sync::Mutex<HashMap<String, prune::PrunePlan>>>,
) {
    let host = session.host().to_string();
    let mut sampler = HostSampler::new(&host, spec.clone(), opts.clone());
    let mut state_rx = session.state();
    loop {
        let cur = state_rx.borrow_and_update().clone();
        if cur != ConnState::Up {
            let mut h = sampler.last.clone();
            h.conn = cur;
            let _ = tx.send(h);
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = state_rx.changed() => if r.is_err() { return },
            }
            continue;
        }
        let dh = DockerHost::new(&session);
        let mut events = dh.events(&spec.service);
        let mut tick = tokio::time::interval(opts.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = state_rx.changed() => {
                    if r.is_err() { return }
                    if *state_rx.borrow() != ConnState::Up { break }
                    continue;
                }
                ev = events.next() => match ev {
                    Some(Ok(e)) => {
                        let action = e.action.clone().unwrap_or_default();
                        let id = e.actor.as_ref().and_then(|a| a.id.clone()).unwrap_or_default();
                        if action == "oom" {
                            let at = e.time.and_then(|t| DateTime::from_timestamp(t, 0)).unwrap_or_else(Utc::now);
                            sampler.note_oom(&id, at);
                        }
                        sampler.note_event(&id);
                        if !matches!(action.as_str(), "oom" | "die" | "start" | "restart" | "destroy") {
                            continue;
                        }
                        // sample right away
                    }
                    Some(Err(_)) | None => {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        events = dh.events(&spec.service);
                        // Events may have been missed meanwhile.
                        sampler.note_event("");
                        continue;
                    }
                },
                _ = tick.tick() => {}
            }
            let h = tokio::select! {
                _ = cancel.cancelled() => return,
                h = tokio::time::timeout(Duration::from_secs(15), sampler.sample(&session)) => h,
            };
            let h = match h {
                Ok(h) => h,
                Err(_) => {
                    let mut h = sampler.last.clone();
                    h.error = Some("sampling timed out".into());
                    h
                }
            };
            if let Some(p) = &sampler.last_plan {
                plans.lock().unwrap().insert(host.clone(), p.clone());
            }
            let _ = tx.send(h);
        }
    }
}

/// One full reading of every host (two samples `gap` apart so CPU % is known), for the
/// headless `details --resources`. Returns the snapshot and the prune preview per host.
pub async fn sample_once(pool: &Pool, spec: &FleetSpec, opts: ResourceOptions, gap: Duration) -> (ResourceSnapshot, Vec<prune::PrunePlan>) {
    let spec = Arc::new(spec.clone());
    let futs = spec.hosts().into_iter().map(|h| {
        let session = pool.get(&h);
        let spec = spec.clone();
        let opts = opts.clone();
        async move {
            let mut s = HostSampler::new(&h, spec, ResourceOptions { stream: false, ..opts });
            if let Err(e) = session.connected().await {
                let r = HostResources { host: h.clone(), conn: session.state().borrow().clone(), error: Some(e.to_string()), ..Default::default() };
                return (r, None);
            }
            let _ = s.sample(&session).await;
            tokio::time::sleep(gap).await;
            s.opts.with_df = false;
            let r = s.sample(&session).await;
            (r, s.last_plan.clone())
        }
    });
    let res = futures::future::join_all(futs).await;
    let mut plans = Vec::new();
    let mut hosts = Vec::new();
    for (h, p) in res {
        hosts.push(h);
        plans.extend(p);
    }
    (ResourceSnapshot { service: spec.service.clone(), thresholds: opts.thresholds, hosts }, plans)
}
