//! App containers outside a boot: stale containers (§4.5), prune (§4.7), start and stop.

use super::{Engine, R};
use crate::deploy::event::StepKind;
use crate::kamal::{audit, cmd};
use std::time::Instant;

impl Engine {
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
}
