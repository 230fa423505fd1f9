//! Readiness of a new container (§4.6 step 8) and what is reported when it is not ready.

use super::boot::Barrier;
use super::steps::StepFail;
use super::{exec_failure, failed, Engine, EngineError, R};
use crate::deploy::event::{Event, HealthReport, StepKind};
use crate::kamal::{cmd, RoleSpec};
use std::time::{Duration, Instant};

impl Engine {
    /// Proxy roles: kamal-proxy deploy (blocks until healthy). Others: Docker state polling.
    /// `started`: when `docker run` returned; `run_id`: the short id it printed, if any.
    pub(super) async fn wait_ready(&self, h: &str, role: &RoleSpec, version: &str, started: Instant, run_id: Option<String>) -> R<()> {
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

    /// Step 8 as a visible step (even after a stop request): readiness, or what failed.
    pub(super) async fn boot_health(
        &self,
        h: &str,
        role: &RoleSpec,
        version: &str,
        started: Instant,
        run_id: Option<String>,
        barrier: Option<&Barrier>,
    ) -> R<()> {
        self.step_finish(Some(h), Some(&role.name), StepKind::Health, "wait for health", async {
            match self.wait_ready(h, role, version, started, run_id).await {
                Ok(()) => Ok(()),
                Err(e) => Err(self.health_failure(h, role, version, e, barrier).await),
            }
        })
        .await
    }

    /// A new container that did not become ready: the barrier closes (first primary), then a
    /// lost connection is reported as such (state unknown); otherwise Kamal's diagnostics and
    /// only the new container is stopped.
    pub(super) async fn health_failure(&self, h: &str, role: &RoleSpec, version: &str, e: EngineError, barrier: Option<&Barrier>) -> StepFail {
        let (app, r) = (&self.app, role.name.as_str());
        let primary = r == app.primary_role;
        // A dropped connection is not an unhealthy container: say so, state unknown.
        let lost = match self.sh_always(h, "echo kdeck-alive").await {
            Ok(o) => o.status == 255,
            Err(_) => true,
        };
        if let (true, Some(b)) = (primary, barrier) {
            b.close(if lost {
                format!("the connection to {h} was lost before the first {r} container was healthy")
            } else {
                format!("the first {r} container is unhealthy on {h}")
            });
        }
        if lost {
            let name = app.container_name(r, version);
            let mut msg = format!(
                "connection to {h} lost while waiting for health ({}); state unknown: {name} may still be running next to the old container. Re-run the deploy or a rollback once {h} is reachable",
                e.to_string().lines().next().unwrap_or("")
            );
            if primary && barrier.is_some() {
                msg = format!("{msg}\nNot booting any other roles (first {r} container not confirmed healthy)");
            }
            return StepFail {
                err: failed(h, msg),
                last_logs: vec![],
                health: Some(HealthReport { docker: None, proxy: None, reason: Some(format!("host unreachable ({h})")) }),
            };
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
        StepFail {
            err: failed(h, msg.clone()),
            last_logs: lines,
            health: Some(HealthReport {
                docker: status,
                proxy: role.proxy.as_ref().map(|_| e.to_string()),
                reason: Some(if hjson.is_empty() || hjson == "null" { e.to_string() } else { hjson }),
            }),
        }
    }
}
