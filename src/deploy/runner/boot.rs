//! App boot (§4.6): error pages and assets, the boot groups one after the other (each host's
//! roles behind the barrier), then the latest tag.

use super::{failed, Engine, EngineError, R};
use crate::deploy::event::{Event, HealthReport, StepKind};
use crate::kamal::{self, audit, cmd, envfile, RoleSpec};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The "barrier": non-primary roles wait until the first primary container is healthy.
#[derive(Clone)]
pub(super) struct Barrier {
    /// None until the first primary container is healthy (Ok) or cannot be (Err: why).
    tx: Arc<watch::Sender<Option<Result<(), String>>>>,
    rx: watch::Receiver<Option<Result<(), String>>>,
}

impl Barrier {
    fn new() -> Self {
        let (tx, rx) = watch::channel(None);
        Barrier { tx: Arc::new(tx), rx }
    }
    /// The first value wins (as Kamal's barrier: opened or closed once).
    fn set(&self, value: Result<(), String>) {
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(value);
                true
            } else {
                false
            }
        });
    }
    fn open(&self) {
        self.set(Ok(()));
    }
    /// Closed: the other roles are not booted, and `why` says what happened to the first one.
    pub(super) fn close(&self, why: String) {
        self.set(Err(why));
    }
    async fn wait(&self) -> Result<(), String> {
        let mut rx = self.rx.clone();
        loop {
            if let Some(v) = rx.borrow().clone() {
                return v;
            }
            if rx.changed().await.is_err() {
                return Err("the deploy stopped".into());
            }
        }
    }
}

impl Engine {
    pub(super) fn error_pages(&self) -> Vec<(String, Vec<u8>)> {
        let Some(dir) = &self.app.error_pages_path else { return vec![] };
        let mut files = vec![];
        if let Ok(rd) = std::fs::read_dir(self.app.root.join(dir)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let b = name.as_bytes();
                // Kamal uploads 4??.html and 5??.html only.
                if b.len() == 8 && (b[0] == b'4' || b[0] == b'5') && name.ends_with(".html") {
                    if let Ok(data) = std::fs::read(e.path()) {
                        files.push((name, data));
                    }
                }
            }
        }
        files.sort();
        files
    }

    /// Phase A: error pages on every app host, assets for proxy roles.
    pub(super) async fn boot_prepare(&self, hosts: &[String], version: &str) -> R<()> {
        let pages = self.error_pages();
        self.on_hosts(hosts, |h| {
            let pages = pages.clone();
            async move {
                self.step(Some(h), None, StepKind::Other, "prepare (error pages, assets)", async {
                    if self.app.error_pages_path.is_some() {
                        self.sh_ok(h, &cmd::mkdir_error_pages(&self.app)).await?;
                        let dir = cmd::error_pages_dir(&self.app);
                        let stream = crate::deploy::remote::scp_dir_stream(version, &pages);
                        let r = self.remote(h)?;
                        let out = r.exec_input(&format!("scp -t -r {dir}"), stream).await.map_err(|e| failed(h, e.to_string()))?;
                        if !out.ok() {
                            return Err(failed(h, format!("upload of error pages failed: {}", out.combined())).into());
                        }
                    }
                    for role in self.app.roles_on(h) {
                        if let (Some(ap), Some(_)) = (&role.asset_path, &role.proxy) {
                            self.sh_ok(h, &cmd::extract_assets(&self.app, &role.name, version, ap)).await?;
                            let old = self.sh(h, &cmd::current_running_version(&self.app, &role.name)).await?.stdout.trim().to_string();
                            self.sh_ok(h, &cmd::sync_asset_volumes(&self.app, &role.name, version, Some(&old))).await?;
                        }
                    }
                    Ok(())
                })
                .await
            }
        })
        .await
    }

    /// The full `app boot --version V`: prepare, groups, then tag latest.
    pub async fn app_boot(&self, version: &str) -> R<()> {
        let hosts = self.app.hosts_primary_first();
        self.boot_prepare(&hosts, version).await?;
        let groups = self.app.boot_groups(&hosts);
        let barrier = self.app.role(&self.app.primary_role).map(|_| Barrier::new());
        let n = groups.len();
        for (i, group) in groups.iter().enumerate() {
            if self.abort.is_stopping() {
                return Err(EngineError::Aborted);
            }
            self.emit(Event::GroupStarted { index: i, hosts: group.clone() });
            self.hook("pre-app-boot", group, true, None).await?;
            let res = self
                .on_hosts(group, |h| {
                    let barrier = barrier.clone();
                    async move {
                        for role in self.app.roles_on(h) {
                            self.boot_role(h, role, version, barrier.as_ref()).await?;
                        }
                        Ok(())
                    }
                })
                .await;
            if let Err(e) = res {
                if let Some(b) = &barrier {
                    b.close(format!("a {} host failed: {}", self.app.primary_role, super::super::event::verdict(&e.to_string())));
                }
                return Err(e);
            }
            self.hook("post-app-boot", group, true, None).await?;
            if let Some(w) = self.app.boot_wait {
                if i + 1 < n {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(w)) => {},
                        _ = self.abort.stopping() => return Err(EngineError::Aborted),
                    }
                }
            }
        }
        // Phase C: only after every group succeeded.
        self.on_hosts(&hosts, |h| async move {
            self.step(Some(h), None, StepKind::Tag, &format!("tag {} as {}", version, self.app.latest_tag()), async {
                let (msg, tag) = (audit::tagging(&self.app.image_ref(version)), cmd::tag_latest(&self.app, version));
                let (a, b) = tokio::join!(self.audit(h, None, &msg), self.sh_ok(h, &tag));
                a?;
                b?;
                Ok(())
            })
            .await
        })
        .await
    }

    /// One role on one host: rename a clash and find the old version (the env file meanwhile),
    /// wait at the barrier, start the new container, wait for its health, stop the old one.
    async fn boot_role(&self, h: &str, role: &RoleSpec, version: &str, barrier: Option<&Barrier>) -> R<()> {
        let r = role.name.as_str();
        let primary = r == self.app.primary_role;
        // The first primary container's health opens (or closes) the barrier for the others.
        let opens = barrier.filter(|_| primary);
        // 1–2: rename a clash, find the old version. 5–6 meanwhile: the env file depends on
        // neither (Kamal rewrites it on every boot) nor on the barrier.
        let (old, env) = tokio::join!(self.boot_clash(h, r, version), self.write_env_file(h, role));
        let old = old?;
        env?;
        // 3: barrier
        if let (Some(b), false) = (barrier, primary) {
            self.pass_barrier(h, r, b).await?;
        }
        // 4–7: audit, env file, docker run.
        let (started, run_id) = self.boot_start(h, role, version).await.inspect_err(|e| {
            if let Some(b) = opens {
                b.close(format!("the first {r} container did not start on {h}: {}", super::super::event::verdict(&e.to_string())));
            }
        })?;
        // 8: readiness.
        self.boot_health(h, role, version, started, run_id, barrier).await?;
        self.emit(Event::Health {
            host: h.into(),
            role: r.into(),
            report: HealthReport { docker: Some("healthy".into()), proxy: role.proxy.as_ref().map(|_| "deployed".into()), reason: None },
        });
        if let Some(b) = opens {
            b.open();
        }
        // 10: stop old, clean up (a step either way: the plan has it).
        match old {
            Some(old) => self.stop_old(h, role, version, &old).await,
            None => self.step_finish(Some(h), Some(r), StepKind::StopOld, "no old container to stop", async { Ok::<(), super::steps::StepFail>(()) }).await,
        }
    }

    /// Steps 1–2: a container of `version` already there is renamed away; the version running
    /// now (None: none), as Kamal asks for it after the rename.
    pub(super) async fn boot_clash(&self, h: &str, r: &str, version: &str) -> R<Option<String>> {
        let app = &self.app;
        self.step(Some(h), Some(r), StepKind::Rename, "check name clash / current version", async {
            let (c1, c2) = (cmd::container_id_for(app, r, version), cmd::current_running_version(app, r));
            let known = self.known_ids.lock().unwrap().remove(&(h.to_string(), r.to_string(), version.to_string()));
            let (id, old) = match known {
                Some(id) => (id, self.sh(h, &c2).await?.stdout),
                None => {
                    let (id, old) = tokio::join!(self.sh(h, &c1), self.sh(h, &c2));
                    (id?.stdout, old?.stdout)
                }
            };
            let mut old = old.trim().to_string();
            if !id.trim().is_empty() {
                let replaced = cmd::replaced_version(version, &kamal::random_hex(16));
                let (msg, ren) = (audit::renaming(version, &replaced), cmd::rename(app, r, version, &replaced));
                let (a, b) = tokio::join!(self.audit(h, Some(r), &msg), self.sh_ok(h, &ren));
                a?;
                b?;
                // Kamal asks for the current version again after the rename; the answer only
                // changes when the renamed container was the current one.
                if old == version {
                    old = replaced;
                }
            }
            Ok(if old.is_empty() { None } else { Some(old) })
        })
        .await
    }

    /// Steps 5–6: the role's env file (secrets included), mode 600.
    pub(super) async fn write_env_file(&self, h: &str, role: &RoleSpec) -> R<()> {
        self.sh_ok(h, &cmd::mkdir_env_dir(&self.app)).await?;
        self.upload(h, &cmd::env_file(&self.app, &role.name), envfile::encode(role.env_secret_for(h)).as_bytes(), 0o600).await
    }

    /// Step 3: a non-primary role waits until the first primary container is healthy; it fails
    /// when that one is not.
    async fn pass_barrier(&self, h: &str, r: &str, b: &Barrier) -> R<()> {
        let t0 = Instant::now();
        self.progress(h, Some(r), StepKind::Boot, t0, format!("waiting for the first {} container to be healthy", self.app.primary_role));
        if let Err(why) = b.wait().await {
            let e = failed(h, format!("Halted at barrier: {why}"));
            self.emit(Event::StepFailed {
                host: Some(h.into()),
                role: Some(r.into()),
                kind: StepKind::Boot,
                elapsed: t0.elapsed(),
                error: e.to_string(),
                last_logs: vec![],
                health: None,
            });
            return Err(e);
        }
        Ok(())
    }

    /// Steps 4 and 7: the audit line and `docker run`; when it returned and the short id it
    /// printed.
    pub(super) async fn boot_start(&self, h: &str, role: &RoleSpec, version: &str) -> R<(Instant, Option<String>)> {
        let (app, r) = (&self.app, role.name.as_str());
        self.step(Some(h), Some(r), StepKind::Boot, &format!("start {}", app.container_name(r, version)), async {
            let run = cmd::app_run(app, role, h, version, &kamal::random_hex(12));
            let msg = audit::booted(version);
            let (a, b) = tokio::join!(self.audit(h, Some(r), &msg), self.sh_ok(h, &run));
            a?;
            Ok((Instant::now(), short_container_id(&b?.stdout)))
        })
        .await
    }

    /// Step 10: stop the old version, clean its assets and error pages (even after a stop request).
    async fn stop_old(&self, h: &str, role: &RoleSpec, version: &str, old: &str) -> R<()> {
        let (app, r) = (&self.app, role.name.as_str());
        self.step_finish(Some(h), Some(r), StepKind::StopOld, &format!("stop {}", app.container_name(r, old)), async {
            self.sh_always(h, &cmd::stop_version(app, role, old)).await?;
            if role.asset_path.is_some() && role.proxy.is_some() {
                self.sh_always(h, &cmd::clean_assets(app, r, version)).await?;
            }
            if app.error_pages_path.is_some() {
                self.sh_always(h, &cmd::clean_error_pages(app, version)).await?;
            }
            Ok(())
        })
        .await
    }
}

/// The short (12-character) container id from `docker run --detach` output: its last line,
/// when that is a full 64-hex-digit id.
fn short_container_id(stdout: &str) -> Option<String> {
    let last = stdout.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    (last.len() == 64 && last.bytes().all(|b| b.is_ascii_hexdigit())).then(|| last[..12].to_string())
}

#[cfg(test)]
mod tests {
    use super::short_container_id;

    #[test]
    fn short_id_from_docker_run_output() {
        let id = "c055c1a0c56c9f2d3c4b5a69788766554433221100ffeeddccbbaa9988776655";
        assert_eq!(short_container_id(&format!("{id}\n")).as_deref(), Some("c055c1a0c56c"));
        // docker run pulling first prints progress on stdout before the id
        assert_eq!(short_container_id(&format!("Status: Downloaded\n{id}\n\n")).as_deref(), Some("c055c1a0c56c"));
        assert_eq!(short_container_id(""), None);
        assert_eq!(short_container_id("not-an-id\n"), None);
        assert_eq!(short_container_id(&id[..12]), None);
    }
}
