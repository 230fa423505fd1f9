//! Accessory actions (`kdeck accessory boot|reboot|start|stop|restart|remove`), run as Kamal
//! 2.11 runs them: under the deploy lock, one accessory after the other (`all` = deploy.yml
//! order), each step in parallel on the accessory's hosts. A child of `runner` so it uses the
//! engine's private step/exec primitives.

use super::{failed, Engine, EngineError, PlannedStep, StepKind, R};
use crate::kamal::accessory::{self as acc, audit_msg, AccessorySpec};
use crate::kamal::{envfile, lock};
use serde::Serialize;

/// What to do with an accessory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessoryAction {
    Boot,
    Reboot,
    Start,
    Stop,
    Restart,
    Remove,
}

impl AccessoryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessoryAction::Boot => "boot",
            AccessoryAction::Reboot => "reboot",
            AccessoryAction::Start => "start",
            AccessoryAction::Stop => "stop",
            AccessoryAction::Restart => "restart",
            AccessoryAction::Remove => "remove",
        }
    }
}

impl Engine {
    /// The accessory's hosts (already narrowed by `-h`/`-p` in the app in scope; Kamal ignores
    /// `-r` for accessories).
    fn accessory_hosts(&self, a: &AccessorySpec) -> Vec<String> {
        a.hosts.clone()
    }

    /// The steps of an accessory action, per accessory (deploy.yml order) and host, with the
    /// labels the steps are emitted with (for the PlanReady event and the timeline).
    pub(super) fn accessory_plan(&self, action: AccessoryAction, name: &str) -> Vec<PlannedStep> {
        use StepKind::*;
        const BOOT: [(StepKind, &str); 4] = [(Other, "check existing"), (Other, "directories"), (Other, "upload files"), (Boot, "boot")];
        let prepare = (Other, "docker login + network");
        let kinds: Vec<(StepKind, &str)> = match action {
            AccessoryAction::Boot => std::iter::once(prepare).chain(BOOT).collect(),
            AccessoryAction::Reboot => [prepare, (Pull, "pull"), (StopOld, "stop"), (Other, "remove container")].into_iter().chain(BOOT).collect(),
            AccessoryAction::Start => vec![(Boot, "start")],
            AccessoryAction::Stop => vec![(StopOld, "stop")],
            AccessoryAction::Restart => vec![(StopOld, "stop"), (Boot, "start")],
            AccessoryAction::Remove => vec![(StopOld, "stop"), (Other, "remove container"), (Other, "remove image"), (Other, "remove service directory")],
        };
        let mut v = vec![];
        for a in self.app.select_accessories(name).unwrap_or_default() {
            for (kind, what) in &kinds {
                for h in &a.hosts {
                    v.push(PlannedStep {
                        host: Some(h.clone()),
                        role: Some(format!("accessory {}", a.name)),
                        kind: *kind,
                        group: None,
                        label: format!("{what} {}", a.service_name),
                    });
                }
            }
        }
        v
    }

    /// A whole `accessory <action> NAME|all` request, lock included.
    pub(super) async fn accessory_request(&self, action: AccessoryAction, name: &str) -> R<()> {
        let list: Vec<AccessorySpec> =
            self.app.select_accessories(name).map_err(|m| EngineError::Failed { host: None, message: m })?.into_iter().cloned().collect();
        if matches!(action, AccessoryAction::Boot | AccessoryAction::Reboot) {
            self.accessory_preflight(&list)?;
        }
        // Kamal's lock step: `mkdir -p .kamal` on the app's hosts, the lock on the lock host.
        let all = self.app.all_hosts();
        self.mkdir_kamal(&all).await?;
        self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
        let res = async {
            for a in &list {
                self.accessory_one(action, a).await?;
            }
            Ok(())
        }
        .await;
        let rel = self.release_lock().await;
        res.and(rel)
    }

    /// `setup`: boot every accessory while the caller holds the lock.
    pub(super) async fn accessories_boot_all(&self) -> R<()> {
        let list = self.app.accessories.clone();
        self.accessory_preflight(&list)?;
        for a in &list {
            self.accessory_boot(a, true).await?;
        }
        Ok(())
    }

    /// `remove` (and `accessory remove all`) while the caller holds the lock.
    pub(super) async fn accessories_remove_all(&self) -> R<()> {
        let list = self.app.accessories.clone();
        for a in &list {
            self.accessory_one(AccessoryAction::Remove, a).await?;
        }
        Ok(())
    }

    pub(super) fn accessory_preflight(&self, list: &[AccessorySpec]) -> R<()> {
        // Lazy secrets, as Kamal: only what writes env files or logs in needs them.
        for a in list {
            // Checked before the lock, so a reboot never stops what it cannot boot again.
            if let Some(m) = &a.unsupported {
                return Err(EngineError::Failed { host: None, message: m.clone() });
            }
            if let Some(e) = a.env_secret_error.clone().or_else(|| a.registry_secret_error.clone()) {
                return Err(EngineError::Failed { host: None, message: e });
            }
            if a.registry.is_none() {
                if let Some(e) = self.app.secret_error(false, true) {
                    return Err(EngineError::Failed { host: None, message: e });
                }
            }
        }
        Ok(())
    }

    pub(super) async fn accessory_one(&self, action: AccessoryAction, a: &AccessorySpec) -> R<()> {
        match action {
            AccessoryAction::Boot => self.accessory_boot(a, true).await,
            AccessoryAction::Reboot => {
                self.accessory_prepare(a).await?;
                self.accessory_pull(a).await?;
                self.accessory_stop(a).await?;
                self.accessory_remove_container(a).await?;
                self.accessory_boot(a, false).await
            }
            AccessoryAction::Start => self.accessory_start(a).await,
            AccessoryAction::Stop => self.accessory_stop(a).await,
            AccessoryAction::Restart => {
                self.accessory_stop(a).await?;
                self.accessory_start(a).await
            }
            AccessoryAction::Remove => {
                self.accessory_stop(a).await?;
                self.accessory_remove_container(a).await?;
                self.accessory_each(a, StepKind::Other, "remove image", |h| async move {
                    self.audit(h, None, &audit_msg::removed_image(&a.name)).await?;
                    self.sh_ok(h, &acc::remove_image(a)).await.map(|_| ())
                })
                .await?;
                self.accessory_each(a, StepKind::Other, "remove service directory", |h| async move {
                    self.sh_ok(h, &acc::remove_service_directory(a)).await.map(|_| ())
                })
                .await
            }
        }
    }

    /// One visible step per host of the accessory, in parallel; the first error (host order) wins.
    async fn accessory_each<'a, F, Fut>(&'a self, a: &'a AccessorySpec, kind: StepKind, what: &'a str, f: F) -> R<()>
    where
        F: Fn(&'a str) -> Fut,
        Fut: std::future::Future<Output = R<()>> + 'a,
    {
        let role = format!("accessory {}", a.name);
        let label = format!("{what} {}", a.service_name);
        let results = futures::future::join_all(
            a.hosts.iter().map(|h| self.step(Some(h.as_str()), Some(role.as_str()), kind, &label, async { f(h.as_str()).await.map_err(Into::into) })),
        )
        .await;
        let errs: Vec<EngineError> = results.into_iter().filter_map(Result::err).collect();
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.into_iter().next().unwrap_or(EngineError::Aborted)),
            n => {
                let lines: Vec<String> = errs.iter().filter(|e| !matches!(e, EngineError::Aborted)).map(|e| e.to_string()).collect();
                if lines.is_empty() {
                    return Err(EngineError::Aborted);
                }
                Err(EngineError::Failed { host: None, message: format!("Exceptions on {n} hosts:\n{}", lines.join("\n")) })
            }
        }
    }

    /// Registry login and the network (an existing network is fine).
    async fn accessory_prepare(&self, a: &AccessorySpec) -> R<()> {
        self.accessory_each(a, StepKind::Other, "docker login + network", |h| async move {
            if let Some(login) = acc::registry_login(&self.app, a) {
                self.sh_ok(h, &login).await?;
            }
            let out = self.sh(h, &crate::kamal::cmd::network_create()).await?;
            if !out.ok() && !out.stderr.contains("already exists") {
                return Err(failed(h, super::exec_failure(h, &out)));
            }
            Ok(())
        })
        .await
    }

    async fn accessory_boot(&self, a: &AccessorySpec, prepare: bool) -> R<()> {
        if let Some(m) = &a.unsupported {
            return Err(EngineError::Failed { host: None, message: m.clone() });
        }
        if prepare {
            self.accessory_prepare(a).await?;
        }
        // Hosts that already have the container are skipped (Kamal's yellow notice).
        let skipped = std::sync::Mutex::new(Vec::<String>::new());
        self.accessory_each(a, StepKind::Other, "check existing", |h| {
            let skipped = &skipped;
            async move {
                let out = self.sh_ok(h, &acc::existing_container(a)).await?;
                if !out.stdout.trim().is_empty() {
                    if let Ok(mut s) = skipped.lock() {
                        s.push(h.to_string());
                    }
                }
                Ok(())
            }
        })
        .await?;
        let mut skipped = skipped.into_inner().unwrap_or_default();
        skipped.sort();
        // Kamal: "Skipping booting `db` on h1, h2, a container already exists" (one line).
        for h in &skipped {
            self.emit(super::Event::Output {
                host: Some(h.clone()),
                role: Some(format!("accessory {}", a.name)),
                stream: super::super::event::Stream::Stdout,
                line: format!("Skipping booting `{}` on {h}, a container already exists", a.name),
            });
        }
        let a2 = AccessorySpec { hosts: a.hosts.iter().filter(|h| !skipped.contains(h)).cloned().collect(), ..a.clone() };
        let a = &a2;
        if self.accessory_hosts(a).is_empty() {
            return Ok(());
        }
        // Kamal: directories, then files, then per host the env file and the container.
        self.accessory_each(a, StepKind::Other, "directories", |h| async move {
            for c in acc::directory_commands(a) {
                self.sh_ok(h, &c).await?;
            }
            Ok(())
        })
        .await?;
        let mut files = vec![];
        for f in &a.files {
            let data = acc::file_content(a, f, &self.app.root).map_err(|m| EngineError::Failed { host: None, message: m })?;
            files.push((f, data));
        }
        let files = &files;
        self.accessory_each(a, StepKind::Other, "upload files", |h| async move {
            for (f, data) in files {
                self.sh_ok(h, &acc::file_mkdir(f)).await?;
                // The mode is set by chmod right after (Kamal uploads with the default mode).
                self.upload(h, &f.host_path, data, 0o644).await?;
                for c in acc::file_after_upload(f) {
                    self.sh_ok(h, &c).await?;
                }
            }
            Ok(())
        })
        .await?;
        let env = envfile::encode(&a.env_secret);
        let env = &env;
        self.accessory_each(a, StepKind::Boot, "boot", |h| async move {
            self.audit(h, None, &audit_msg::booted(&a.name)).await?;
            self.sh_ok(h, &acc::mkdir_env_dir(&self.app)).await?;
            self.upload(h, &acc::env_file(&self.app, a), env.as_bytes(), 0o600).await?;
            self.sh_ok(h, &acc::run(&self.app, a, h)).await?;
            self.accessory_proxy_deploy(h, a).await
        })
        .await
    }

    async fn accessory_pull(&self, a: &AccessorySpec) -> R<()> {
        self.accessory_each(a, StepKind::Pull, "pull", |h| async move {
            self.audit(h, None, &audit_msg::pulled(&a.name)).await?;
            self.sh_ok(h, &acc::pull_image(a)).await.map(|_| ())
        })
        .await
    }

    async fn accessory_stop(&self, a: &AccessorySpec) -> R<()> {
        self.accessory_each(a, StepKind::StopOld, "stop", |h| async move {
            self.audit(h, None, &audit_msg::stopped(&a.name)).await?;
            // Errors ignored, as Kamal (`raise_on_non_zero_exit: false`).
            self.sh(h, &acc::stop(a)).await?;
            if a.proxy.is_some() {
                // Kamal looks the container up and removes the route whatever it finds.
                self.sh_ok(h, &acc::running_container_id(a)).await?;
                self.sh_ok(h, &acc::proxy_remove(a)).await?;
            }
            Ok(())
        })
        .await
    }

    async fn accessory_start(&self, a: &AccessorySpec) -> R<()> {
        self.accessory_each(a, StepKind::Boot, "start", |h| async move {
            self.audit(h, None, &audit_msg::started(&a.name)).await?;
            self.sh_ok(h, &acc::start(a)).await?;
            self.accessory_proxy_deploy(h, a).await
        })
        .await
    }

    /// `proxy:` accessories: point kamal-proxy at the running container.
    async fn accessory_proxy_deploy(&self, h: &str, a: &AccessorySpec) -> R<()> {
        if a.proxy.is_none() {
            return Ok(());
        }
        let id = self.sh_ok(h, &acc::running_container_id(a)).await?.stdout.trim().to_string();
        if let Some(c) = acc::proxy_deploy(a, &id) {
            self.sh_ok(h, &c).await?;
        }
        Ok(())
    }

    async fn accessory_remove_container(&self, a: &AccessorySpec) -> R<()> {
        self.accessory_each(a, StepKind::Other, "remove container", |h| async move {
            self.audit(h, None, &audit_msg::removed_container(&a.name)).await?;
            self.sh_ok(h, &acc::remove_container(a)).await.map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AbortHandle, Request, RunOptions};
    use super::*;
    use crate::kamal::{AppSpec, RoleSpec};
    use std::sync::Arc;

    fn engine() -> Engine {
        let app = AppSpec {
            service: "s".into(),
            roles: vec![RoleSpec { name: "web".into(), hosts: vec!["h1".into()], ..Default::default() }],
            accessories: vec![
                AccessorySpec { name: "db".into(), service_name: "s-db".into(), hosts: vec!["h1".into(), "h2".into()], ..Default::default() },
                AccessorySpec { name: "cache".into(), service_name: "s-cache".into(), hosts: vec!["h2".into()], ..Default::default() },
            ],
            ..Default::default()
        };
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = RunOptions {
            version: "v1".into(),
            performer: "me".into(),
            lock_user: "Me".into(),
            skip_hooks: true,
            lock_host: "h1".into(),
            roles_filter: None,
            no_cache: false,
            lock_wait: None,
            partial_hosts: vec![],
        };
        Engine::new(Arc::new(app), Default::default(), tx, AbortHandle::new(), opts)
    }

    #[test]
    fn plan_lists_every_accessory_step_between_lock_and_unlock() {
        let e = engine();
        let (_, steps) = e.plan(&Request::Accessory { action: AccessoryAction::Reboot, name: "db".into() });
        let labels: Vec<String> = steps.iter().map(|s| format!("{} {}", s.host.as_deref().unwrap_or("-"), s.label)).collect();
        assert_eq!(labels.first().map(String::as_str), Some("h1 acquire deploy lock"));
        assert_eq!(labels.last().map(String::as_str), Some("h1 release deploy lock"));
        assert_eq!(steps.len(), 2 + 8 * 2, "{labels:#?}");
        assert!(labels.contains(&"h2 pull s-db".to_string()) && labels.contains(&"h1 boot s-db".to_string()), "{labels:#?}");
        let (_, all) = e.plan(&Request::Accessory { action: AccessoryAction::Boot, name: "all".into() });
        assert_eq!(all.iter().filter(|s| s.kind == StepKind::Boot).count(), 3, "db on 2 hosts, cache on 1");
        let (_, unknown) = e.plan(&Request::Accessory { action: AccessoryAction::Boot, name: "nope".into() });
        assert_eq!(unknown.len(), 2);
    }

    #[tokio::test]
    async fn unknown_accessory_fails_before_the_lock() {
        let e = engine();
        // No remotes at all: touching a host would fail with "no connection", not this message.
        let r = e.run(Request::Accessory { action: AccessoryAction::Boot, name: "nope".into() }).await;
        match r {
            Err(EngineError::Failed { host: None, message }) => assert_eq!(message, "No accessory by the name of 'nope' (options: db and cache)"),
            other => panic!("{other:?}"),
        }
    }
}
