//! kamal-proxy's own rollout, as a canary on a single web host (kdeck only: Kamal has no
//! rollout command). Two requests, with the canary's watch between them:
//!
//! - [`Request::RolloutStart`]: the image pulled, the deploy lock taken, and on the host behind
//!   kamal-proxy each proxy role's new container booted beside the live one (Kamal's own name
//!   check, env file and `docker run`), made the role's rollout target (`kamal-proxy rollout
//!   deploy`, which waits for its health) and given its share (`rollout set`). The lock is kept
//!   for the stop. Anything failing (or a stop request) after the lock sends `rollout stop`
//!   and stops the new container before the lock is released.
//! - [`Request::RolloutStop`]: `rollout stop` (every request to the live target again), the new
//!   containers stopped, and the lock the start took released — each even after Ctrl-C, so a
//!   later `kamal deploy` finds the proxy routing as it left it.
//!
//! [`Request::RolloutStart`]: super::Request::RolloutStart
//! [`Request::RolloutStop`]: super::Request::RolloutStop

use super::steps::StepFail;
use super::{exec_failure, failed, Engine, EngineError, R};
use crate::deploy::event::{Event, HealthReport, PlannedStep, StepKind};
use crate::kamal::{cmd, hooks, lock, RoleSpec};
use std::sync::atomic::Ordering;

impl Engine {
    /// The one host behind kamal-proxy in scope, or why a rollout cannot run here.
    fn rollout_host(&self) -> R<String> {
        match self.app.proxy_hosts().as_slice() {
            [h] => Ok(h.clone()),
            hs => Err(EngineError::Failed {
                host: None,
                message: format!(
                    "kamal-proxy's rollout splits requests between two targets on one host; this deploy has {} host(s) behind kamal-proxy ({})",
                    hs.len(),
                    hs.join(", ")
                ),
            }),
        }
    }

    fn rollout_roles<'a>(&'a self, h: &str) -> Vec<&'a RoleSpec> {
        self.app.roles_on(h).into_iter().filter(|r| r.proxy.is_some()).collect()
    }

    /// The steps of a rollout part, for PlanReady.
    pub(super) fn rollout_plan(&self, start: bool, build: bool) -> (Vec<Vec<String>>, Vec<PlannedStep>) {
        let Ok(h) = self.rollout_host() else { return (vec![], vec![]) };
        let mut steps = vec![];
        let mut add = |host: Option<&str>, role: Option<&str>, kind: StepKind, label: &str| {
            steps.push(PlannedStep { host: host.map(Into::into), role: role.map(Into::into), kind, group: None, label: label.into() });
        };
        let hook = |name: &str| !self.opts.skip_hooks && hooks::exists(&self.app, name);
        if start {
            if hook("pre-connect") {
                add(None, None, StepKind::Hook, "hook pre-connect");
            }
            if build {
                if hook("pre-build") {
                    add(None, None, StepKind::Hook, "hook pre-build");
                }
                add(None, None, StepKind::Build, "build and push");
            }
            add(Some(&h), None, StepKind::Other, "mkdir -p .kamal");
            add(Some(&h), None, StepKind::Pull, "pull");
            add(Some(&self.opts.lock_host), None, StepKind::Lock, "acquire deploy lock");
        }
        for role in self.rollout_roles(&h) {
            let r = Some(role.name.as_str());
            if start {
                for (kind, label) in
                    [(StepKind::Rename, "check name"), (StepKind::Boot, "boot"), (StepKind::Health, "rollout deploy"), (StepKind::Switch, "rollout set")]
                {
                    add(Some(&h), r, kind, label);
                }
            } else {
                add(Some(&h), r, StepKind::Switch, "rollout stop");
                add(Some(&h), r, StepKind::StopOld, "stop the new container");
            }
        }
        if !start {
            add(Some(&self.opts.lock_host), None, StepKind::Unlock, "release deploy lock");
        }
        (vec![vec![h]], steps)
    }

    /// The rollout's first part (see the module doc). The lock stays held when it succeeds.
    pub(super) async fn rollout_start(&self, skip_push: bool, split: &cmd::RolloutSplit) -> R<()> {
        let h = self.rollout_host()?;
        let hosts = [h.clone()];
        self.pre_connect().await?;
        if !skip_push {
            self.hook("pre-build", &hosts, false, None).await?;
            self.build_and_push().await?;
        }
        self.mkdir_kamal(&hosts).await?;
        let (pulled, locked) = tokio::join!(self.pull(&hosts), self.acquire_lock(lock::ROLLOUT_MESSAGE));
        locked?;
        pulled?;
        let version = self.opts.version.clone();
        let mut done = vec![];
        for role in self.rollout_roles(&h) {
            // Past the lock, whatever fails (or a stop request): every role touched so far gets
            // its `rollout stop` and its new container stopped before the lock is released.
            done.push(role);
            if let Err(e) = self.rollout_role(&h, role, &version, split).await {
                for d in done {
                    self.rollout_undo(&h, d, &version).await;
                }
                return Err(e);
            }
        }
        // Kept for the stop, which releases it.
        self.lock_held.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// One proxy role: the new container beside the live one, its health through kamal-proxy,
    /// its share of the requests.
    async fn rollout_role(&self, h: &str, role: &RoleSpec, version: &str, split: &cmd::RolloutSplit) -> R<()> {
        let (app, r) = (&self.app, role.name.as_str());
        let Some(p) = &role.proxy else { return Ok(()) };
        let (clash, env) = tokio::join!(self.boot_clash(h, r, version), self.write_env_file(h, role));
        clash?;
        env?;
        let (_, run_id) = self.boot_start(h, role, version).await?;
        let t0 = std::time::Instant::now();
        let deployed = self
            .step_finish(Some(h), Some(r), StepKind::Health, "kamal-proxy rollout deploy", async {
                let id = match run_id {
                    Some(id) => id,
                    None => self.sh(h, &cmd::container_id_for(app, r, version)).await?.stdout.trim().to_string(),
                };
                if id.is_empty() {
                    return Err(failed(h, format!("Failed to get endpoint for {r} on {h}, did the container boot?")).into());
                }
                self.progress(h, Some(r), StepKind::Health, t0, format!("kamal-proxy rollout deploy {} → {id}:{}", app.prefix(r), p.app_port));
                let out = self.sh(h, &cmd::proxy_rollout_deploy(app, r, &id, p)).await?;
                if !out.ok() {
                    // Kamal's diagnostics (logs, health), and the new container stopped.
                    return Err(self.health_failure(h, role, version, failed(h, exec_failure(h, &out)), None).await);
                }
                Ok(())
            })
            .await;
        deployed?;
        self.emit(Event::Health {
            host: h.into(),
            role: r.into(),
            report: HealthReport { docker: Some("healthy".into()), proxy: Some("rollout target".into()), reason: None },
        });
        self.step(Some(h), Some(r), StepKind::Switch, &format!("kamal-proxy rollout set: {}", split.describe()), async {
            self.sh_ok(h, &cmd::proxy_rollout_set(app, r, split)).await.map(|_| ()).map_err(StepFail::from)
        })
        .await
    }

    /// After a failure or a stop request past the lock: the split stopped and the new container
    /// stopped.
    async fn rollout_undo(&self, h: &str, role: &RoleSpec, version: &str) {
        let _ = self.rollout_stop_role(h, role, version).await;
    }

    async fn rollout_stop_role(&self, h: &str, role: &RoleSpec, version: &str) -> R<()> {
        let (app, r) = (&self.app, role.name.as_str());
        let stopped = self
            .step_finish(Some(h), Some(r), StepKind::Switch, "kamal-proxy rollout stop", async {
                let out = self.sh_always(h, &cmd::proxy_rollout_stop(app, r)).await?;
                if !out.ok() {
                    return Err(failed(h, exec_failure(h, &out)).into());
                }
                Ok(())
            })
            .await;
        let name = app.container_name(r, version);
        let down = self
            .step_finish(Some(h), Some(r), StepKind::StopOld, &format!("stop the new container {name}"), async {
                self.sh_always(h, &cmd::stop_version(app, role, version)).await.map(|_| ()).map_err(StepFail::from)
            })
            .await;
        stopped.and(down)
    }

    /// The rollout's end (see the module doc): runs every step even after a stop request.
    pub(super) async fn rollout_stop(&self) -> R<()> {
        let h = self.rollout_host()?;
        let version = self.opts.version.clone();
        let mut first_err = None;
        for role in self.rollout_roles(&h) {
            if let Err(e) = self.rollout_stop_role(&h, role, &version).await {
                first_err.get_or_insert(e);
            }
        }
        // The lock the start took (not one someone else holds).
        let host = self.opts.lock_host.clone();
        let details = self.sh_always(&host, &cmd::lock_status(&self.app)).await;
        if let Ok(out) = details {
            if out.ok() && lock::parse_details(&out.stdout).message == lock::ROLLOUT_MESSAGE {
                if let Err(e) = self.release_lock().await {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
