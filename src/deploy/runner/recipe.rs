//! What a request plans and runs: one recipe per request kind, read by both [`Engine::plan`]
//! (the PlanReady rows) and [`Engine::run`], so the two cannot disagree.

use super::{AccessoryAction, Engine, EngineError, Request, R};
use crate::deploy::event::{PlannedStep, StepKind};
use crate::kamal::{cmd, hooks, lock};
use futures::future::{BoxFuture, FutureExt};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

/// The planned phases of a request. Every request plans "acquire deploy lock" (after the pull)
/// and "release deploy lock" (last).
#[derive(Default)]
pub(super) struct Phases<'r> {
    /// The local build and push.
    build: bool,
    /// The image pull on every host.
    pull: bool,
    /// The boot groups (boot, health, stop old per host × role), then the latest tag.
    boot: bool,
    /// The steps of an accessory action (name or `all`), after the boots.
    accessories: Option<(AccessoryAction, &'r str)>,
    /// No deploy lock (the `build` commands, as Kamal's, take none).
    unlocked: bool,
    /// What a boot or deploy does besides: `.kamal` made on every host before the lock, the
    /// hooks that exist, kamal-proxy booted (full deploy), stale containers stopped, the
    /// boot's preparation and name check, the prune (full deploy). With these the plan knows
    /// every step the run takes, so the dashboard's totals never grow mid-run.
    around: Around,
    /// A rollout part instead (start?, build?): its own steps (see `rollout.rs`).
    rollout: Option<(bool, bool)>,
}

#[derive(Default, Clone, Copy)]
struct Around {
    mkdir: bool,
    hooks: bool,
    proxy: bool,
    stale: bool,
    prune: bool,
}

/// A boot under the lock (`app boot`, `rollback`).
const BOOT_AROUND: Around = Around { mkdir: true, hooks: true, proxy: false, stale: false, prune: false };

/// The secrets a request reads. Secrets are lazy (as in Kamal): only actions writing env files
/// or logging in to the registry need them, and they fail before touching a host.
#[derive(Clone, Copy)]
struct Secrets {
    env: bool,
    registry: bool,
}

const NO_SECRETS: Secrets = Secrets { env: false, registry: false };
const ENV: Secrets = Secrets { env: true, registry: false };
const REGISTRY: Secrets = Secrets { env: false, registry: true };
const ENV_AND_REGISTRY: Secrets = Secrets { env: true, registry: true };

/// How a request is planned and run.
pub(super) struct Recipe<'a> {
    pub(super) phases: Phases<'a>,
    secrets: Secrets,
    /// The run itself (not started until awaited).
    run: BoxFuture<'a, R<()>>,
}

impl<'a> Recipe<'a> {
    /// A run that plans only the lock and unlock and reads no secret.
    fn new(run: BoxFuture<'a, R<()>>) -> Self {
        Recipe { phases: Phases::default(), secrets: NO_SECRETS, run }
    }
    fn plans(self, phases: Phases<'a>) -> Self {
        Recipe { phases, ..self }
    }
    fn reads(self, secrets: Secrets) -> Self {
        Recipe { secrets, ..self }
    }
}

/// Which of the deploy-like requests: `setup` also installs (lock first, docker check, every
/// accessory); `redeploy` skips the proxy and the prune.
#[derive(Clone, Copy)]
struct DeployFlow {
    setup: bool,
    full: bool,
    skip_push: bool,
}

impl Engine {
    /// The recipe of each request kind.
    pub(super) fn recipe<'a>(&'a self, req: &'a Request) -> Recipe<'a> {
        let deploy = |skip_push: bool, full: bool| Phases {
            build: !skip_push,
            pull: true,
            boot: true,
            accessories: None,
            unlocked: false,
            around: Around { mkdir: true, hooks: true, proxy: full, stale: true, prune: full },
            rollout: None,
        };
        let boot = Phases { boot: true, around: BOOT_AROUND, ..Default::default() };
        let build = |build: bool, pull: bool| Phases { build, pull, unlocked: true, ..Default::default() };
        match req {
            Request::Setup { skip_push } => Recipe::new(self.deploy(DeployFlow { setup: true, full: true, skip_push: *skip_push }).boxed())
                .plans(Phases { accessories: Some((AccessoryAction::Boot, "all")), ..deploy(*skip_push, true) })
                .reads(ENV_AND_REGISTRY),
            Request::Deploy { skip_push } => Recipe::new(self.deploy(DeployFlow { setup: false, full: true, skip_push: *skip_push }).boxed())
                .plans(deploy(*skip_push, true))
                .reads(ENV_AND_REGISTRY),
            Request::Redeploy { skip_push } => Recipe::new(self.deploy(DeployFlow { setup: false, full: false, skip_push: *skip_push }).boxed())
                .plans(deploy(*skip_push, false))
                .reads(ENV_AND_REGISTRY),
            Request::Rollback { version } => Recipe::new(self.rollback(version).boxed()).plans(boot).reads(ENV),
            Request::RolloutStart { skip_push, split } => Recipe::new(self.rollout_start(*skip_push, split).boxed())
                .plans(Phases { rollout: Some((true, !skip_push)), ..Default::default() })
                .reads(ENV_AND_REGISTRY),
            Request::RolloutStop => Recipe::new(self.rollout_stop().boxed()).plans(Phases { rollout: Some((false, false)), ..Default::default() }),
            Request::AppBoot => Recipe::new(self.app_boot_request().boxed()).plans(boot).reads(ENV_AND_REGISTRY),
            Request::AppStart => Recipe::new(self.locked(|| self.app_start(&self.opts.version)).boxed()),
            Request::AppStop => Recipe::new(self.locked(|| self.app_stop()).boxed()),
            Request::StaleStop => Recipe::new(self.locked(|| async { self.stale_containers(true).await.map(|_| ()) }).boxed()),
            Request::Prune { containers, images, retain } => Recipe::new(self.locked(|| self.prune(*containers, *images, *retain)).boxed()),
            Request::LockAcquire { message } => Recipe::new(self.lock_acquire_request(message).boxed()),
            Request::LockRelease => Recipe::new(self.lock_release_request().boxed()),
            Request::ProxyBoot => Recipe::new(self.locked(|| self.proxy_boot()).boxed()).reads(REGISTRY),
            Request::ProxyReboot { rolling } => Recipe::new(self.proxy_reboot_request(*rolling).boxed()).reads(REGISTRY),
            Request::BuildPush { output, no_cache } => Recipe::new(self.build_push(output, *no_cache).boxed()).plans(build(true, false)).reads(REGISTRY),
            Request::BuildDeliver => Recipe::new(self.build_deliver().boxed()).plans(build(true, true)).reads(REGISTRY),
            Request::BuildPull => Recipe::new(self.build_pull().boxed()).plans(build(false, true)).reads(REGISTRY),
            Request::BuildCreate => Recipe::new(self.build_create().boxed()).plans(build(false, false)),
            Request::BuildRemove => Recipe::new(self.build_remove().boxed()).plans(build(false, false)),
            Request::BuildDev { output, no_cache } => Recipe::new(self.build_dev(output, *no_cache).boxed()).plans(build(true, false)),
            Request::Upgrade { rolling, version } => Recipe::new(self.upgrade_request(*rolling, version).boxed()).reads(ENV_AND_REGISTRY),
            Request::AccessoryUpgrade { name, rolling } => Recipe::new(self.accessory_upgrade_request(name, *rolling).boxed())
                .plans(Phases { accessories: Some((AccessoryAction::Reboot, name)), ..Default::default() }),
            // The accessory run takes the lock itself (after checking the names).
            Request::Accessory { action, name } => {
                Recipe::new(self.accessory_request(*action, name).boxed()).plans(Phases { accessories: Some((*action, name)), ..Default::default() })
            }
            Request::AppMaintenance { drain_timeout, message } => Recipe::new(self.locked(|| self.app_maintenance(*drain_timeout, message.as_deref())).boxed()),
            Request::AppLive => Recipe::new(self.locked(|| self.app_live()).boxed()),
            Request::AppRemove => Recipe::new(self.locked(|| self.app_remove()).boxed()),
            Request::ProxyStart => Recipe::new(self.locked(|| self.proxy_start()).boxed()),
            Request::ProxyStop => Recipe::new(self.locked(|| self.proxy_stop_all()).boxed()),
            Request::ProxyRestart => Recipe::new(
                self.locked(|| async {
                    self.proxy_stop_all().await?;
                    self.proxy_start().await
                })
                .boxed(),
            ),
            Request::ProxyRemove { force } => Recipe::new(self.locked(|| async { self.proxy_remove_all(*force).await.map(|_| ()) }).boxed()),
            Request::Remove => Recipe::new(self.locked(|| self.remove_everything()).boxed()),
            Request::Registry { action, local, remote } => Recipe::new(self.registry(*action, *local, *remote).boxed()).reads(match action {
                super::RegistryAction::Login | super::RegistryAction::Setup => REGISTRY,
                _ => NO_SECRETS,
            }),
            Request::ServerBootstrap => Recipe::new(self.locked(|| self.server_bootstrap()).boxed()),
        }
    }

    /// The PlanReady rows of a recipe's phases, in this order: hooks where they run, build,
    /// `.kamal`, pull, lock, proxy, stale containers, the boot's preparation, boot groups (name
    /// check, boot, health, stop old per host and role), tag, accessories, prune, unlock.
    pub(super) fn plan_phases(&self, p: &Phases) -> (Vec<Vec<String>>, Vec<PlannedStep>) {
        if let Some((start, build)) = p.rollout {
            return self.rollout_plan(start, build);
        }
        let hosts = self.app.hosts_primary_first();
        let all = self.app.all_hosts();
        let groups = self.app.boot_groups(&hosts);
        let a = p.around;
        let mut steps = vec![];
        let mut add = |host: Option<&str>, role: Option<&str>, kind: StepKind, group: Option<usize>, label: &str| {
            steps.push(PlannedStep { host: host.map(Into::into), role: role.map(Into::into), kind, group, label: label.into() });
        };
        // A hook is a step only where it exists (and hooks are not skipped), as it runs.
        let hook = |name: &str| a.hooks && !self.opts.skip_hooks && hooks::exists(&self.app, name);
        if hook("pre-connect") {
            add(None, None, StepKind::Hook, None, "hook pre-connect");
        }
        if p.build {
            if hook("pre-build") {
                add(None, None, StepKind::Hook, None, "hook pre-build");
            }
            add(None, None, StepKind::Build, None, "build and push");
        }
        if a.mkdir {
            for h in &all {
                add(Some(h), None, StepKind::Other, None, "mkdir -p .kamal");
            }
        }
        if p.pull {
            for h in &hosts {
                add(Some(h), None, StepKind::Pull, None, "pull");
            }
        }
        if !p.unlocked {
            add(Some(&self.opts.lock_host), None, StepKind::Lock, None, "acquire deploy lock");
        }
        if hook("pre-deploy") {
            add(None, None, StepKind::Hook, None, "hook pre-deploy");
        }
        if a.proxy {
            for h in &all {
                add(Some(h), None, StepKind::ProxyBoot, None, "boot kamal-proxy");
            }
        }
        if a.stale {
            for (h, role) in self.app.host_roles() {
                add(Some(&h), Some(&role.name), StepKind::StaleStop, None, "stale containers");
            }
        }
        if p.boot {
            for h in &hosts {
                add(Some(h), None, StepKind::Other, None, "prepare (error pages, assets)");
            }
            for (gi, g) in groups.iter().enumerate() {
                if hook("pre-app-boot") {
                    add(None, None, StepKind::Hook, None, "hook pre-app-boot");
                }
                for h in g {
                    for role in self.app.roles_on(h) {
                        for (kind, label) in
                            [(StepKind::Rename, "check name"), (StepKind::Boot, "boot"), (StepKind::Health, "health"), (StepKind::StopOld, "stop old")]
                        {
                            add(Some(h), Some(&role.name), kind, Some(gi), label);
                        }
                    }
                }
                if hook("post-app-boot") {
                    add(None, None, StepKind::Hook, None, "hook post-app-boot");
                }
            }
            for h in &hosts {
                add(Some(h), None, StepKind::Tag, None, "tag latest");
            }
        }
        if let Some((action, name)) = p.accessories {
            self.accessory_plan(action, name).into_iter().for_each(|s| add(s.host.as_deref(), s.role.as_deref(), s.kind, None, &s.label));
        }
        if a.prune {
            for h in &all {
                add(Some(h), None, StepKind::Prune, None, "prune");
            }
        }
        if !p.unlocked {
            add(Some(&self.opts.lock_host), None, StepKind::Unlock, None, "release deploy lock");
        }
        if hook("post-deploy") {
            add(None, None, StepKind::Hook, None, "hook post-deploy");
        }
        (groups, steps)
    }

    /// A recipe's run, once its secrets are known to be there.
    pub(super) async fn run_recipe(&self, recipe: Recipe<'_>) -> R<()> {
        if let Some(e) = self.app.secret_error(recipe.secrets.env, recipe.secrets.registry) {
            return Err(EngineError::Failed { host: None, message: e });
        }
        recipe.run.await
    }

    /// `f` holding the lock, the `.kamal` directory made on every host first.
    async fn locked<F, Fut>(&self, f: F) -> R<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R<()>>,
    {
        let all = self.app.all_hosts();
        self.with_lock(&all, f).await
    }

    // ------------------------------------------------------------------ the longer runs

    /// `setup`, `deploy`, `redeploy`.
    async fn deploy(&self, d: DeployFlow) -> R<()> {
        let all = self.app.all_hosts();
        self.pre_connect().await?;
        if d.setup {
            self.mkdir_kamal(&all).await?;
            self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
            // Kamal's `server bootstrap`: Docker installed where missing, the docker-setup hook.
            self.server_bootstrap().await?;
        }
        if !d.skip_push {
            self.hook("pre-build", &all, self.lock_is_held(), None).await?;
            self.build_and_push().await?;
        }
        // Lock, proxy and stale containers do not depend on the pull. Kamal runs them
        // after it; when no pre-deploy hook could observe the order, kdeck takes the lock
        // while pulling (holding it longer is only safer) and runs them meanwhile.
        let hook_sees_order = !self.opts.skip_hooks && hooks::exists(&self.app, "pre-deploy");
        let locked_work = self.deploy_locked_work(&all, d);
        if hook_sees_order {
            self.pull(&all).await?;
            locked_work.await?;
        } else {
            let (p, l) = tokio::join!(self.pull(&all), locked_work);
            // A held lock is the more useful error to report.
            if let Err(e @ EngineError::Locked(_)) = l {
                return Err(e);
            }
            p?;
            l?;
        }
        self.app_boot(&self.opts.version).await?;
        if d.full {
            self.prune(true, true, None).await?;
        }
        self.release_lock().await?;
        self.hook("post-deploy", &all, false, Some(self.started.elapsed().as_secs())).await?;
        Ok(())
    }

    /// The part of a deploy under the lock that does not need the image: the pre-deploy hook,
    /// then the proxy (and, for `setup`, every accessory) next to the stale containers.
    async fn deploy_locked_work(&self, all: &[String], d: DeployFlow) -> R<()> {
        if !self.lock_is_held() {
            self.mkdir_kamal(all).await?;
            self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
        }
        self.hook("pre-deploy", all, true, None).await?;
        // Independent: the proxy and stale app containers.
        let proxy = async {
            if d.full {
                self.proxy_boot().await?;
            }
            // `setup`: every accessory after the proxy (existing ones are skipped).
            if d.setup {
                self.accessories_boot_all().await?;
            }
            Ok::<(), EngineError>(())
        };
        let (p, st) = tokio::join!(proxy, self.stale_containers(true));
        p?;
        st.map(|_| ())
    }

    /// `rollback VERSION`: under the lock, only when VERSION is a container of every role on
    /// every host.
    async fn rollback(&self, target: &str) -> R<()> {
        let all = self.app.all_hosts();
        self.pre_connect().await?;
        self.mkdir_kamal(&all).await?;
        self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
        if self.version_missing(&all, target).await? {
            self.release_lock().await?;
            return Err(EngineError::VersionUnavailable(target.to_string()));
        }
        self.hook("pre-deploy", &all, true, None).await?;
        self.app_boot(target).await?;
        self.release_lock().await?;
        self.hook("post-deploy", &all, false, Some(self.started.elapsed().as_secs())).await?;
        Ok(())
    }

    /// Whether some role on some host has no container of `version`. The ids found are kept
    /// for the boot.
    async fn version_missing(&self, all: &[String], version: &str) -> R<bool> {
        let missing = AtomicBool::new(false);
        self.on_hosts(all, |h| {
            let missing = &missing;
            async move {
                for role in self.app.roles_on(h) {
                    let id = self.sh(h, &cmd::container_id_for(&self.app, &role.name, version)).await?.stdout;
                    if id.trim().is_empty() {
                        missing.store(true, Ordering::SeqCst);
                    }
                    self.known_ids.lock().unwrap().insert((h.to_string(), role.name.clone(), version.to_string()), id);
                }
                Ok(())
            }
        })
        .await?;
        Ok(missing.load(Ordering::SeqCst))
    }

    /// `app boot`.
    async fn app_boot_request(&self) -> R<()> {
        let all = self.app.all_hosts();
        self.pre_connect().await?;
        self.with_lock(&all, || self.app_boot(&self.opts.version)).await
    }

    /// `lock acquire -m MESSAGE`.
    async fn lock_acquire_request(&self, message: &str) -> R<()> {
        let all = self.app.all_hosts();
        self.mkdir_kamal(&all).await?;
        self.acquire_lock(message).await?;
        // The lock stays: this is the point of `lock acquire`.
        self.lock_held.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// `lock release`.
    async fn lock_release_request(&self) -> R<()> {
        match self.lock_status().await? {
            Some(_) => self.release_lock().await,
            None => Err(EngineError::Failed { host: None, message: "There is no deploy lock".into() }),
        }
    }

    /// `proxy reboot`, between its hooks.
    /// `proxy reboot`: every proxy host at once, or with `rolling` one after the other; the
    /// pre/post-proxy-reboot hooks around each group, as Kamal.
    async fn proxy_reboot_request(&self, rolling: bool) -> R<()> {
        let ph = self.app.proxy_hosts();
        let groups: Vec<Vec<String>> = if rolling { ph.iter().map(|h| vec![h.clone()]).collect() } else { vec![ph] };
        self.locked(|| async {
            for hosts in &groups {
                self.hook("pre-proxy-reboot", hosts, true, None).await?;
                self.proxy_reboot(hosts).await?;
                self.hook("post-proxy-reboot", hosts, true, None).await?;
            }
            Ok(())
        })
        .await
    }
}
