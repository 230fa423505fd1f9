//! `upgrade` and `accessory upgrade` (Kamal 1 → 2), as Kamal 2.11 runs them: under one deploy
//! lock, per group of hosts (all at once, or one host at a time with `rolling`): Traefik and the
//! old kamal-proxy removed, kamal-proxy booted, the app booted and pruned between the
//! proxy-reboot hooks; then every accessory rebooted into the `kamal` network.

use super::{AccessoryAction, Engine, EngineError, R};
use crate::deploy::event::StepKind;
use crate::kamal::accessory::AccessorySpec;
use crate::kamal::{audit, cmd, lock, AppSpec};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `hosts` with `extra` appended, without repeats.
fn union(mut hosts: Vec<String>, extra: impl IntoIterator<Item = String>) -> Vec<String> {
    for h in extra {
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    hosts
}

/// The app narrowed to `hosts` (Kamal's `with_specific_hosts`): roles and accessories keep only
/// those hosts, roles left without one are dropped.
pub(super) fn narrowed_app(app: &AppSpec, hosts: &[String]) -> AppSpec {
    let mut a = app.clone();
    for r in &mut a.roles {
        r.hosts.retain(|h| hosts.contains(h));
    }
    a.roles.retain(|r| !r.hosts.is_empty());
    for acc in &mut a.accessories {
        acc.hosts.retain(|h| hosts.contains(h));
    }
    a
}

/// Host groups: each host alone when rolling, else all together.
fn groups(hosts: Vec<String>, rolling: bool) -> Vec<Vec<String>> {
    if rolling {
        hosts.into_iter().map(|h| vec![h]).collect()
    } else {
        vec![hosts]
    }
}

impl Engine {
    /// Kamal's `KAMAL.hosts`: the roles' hosts (primary role's first), then the accessories'.
    fn every_host(&self) -> Vec<String> {
        union(self.app.hosts_primary_first(), self.accessory_host_list())
    }

    /// Kamal's `KAMAL.accessory_hosts`: every accessory's hosts, deploy.yml order.
    fn accessory_host_list(&self) -> Vec<String> {
        union(vec![], self.app.accessories.iter().flat_map(|a| a.hosts.clone()))
    }

    /// This engine on the app narrowed to `hosts`, under the lock this one holds.
    fn on_specific_hosts(&self, hosts: &[String]) -> Engine {
        let e = Engine::new(Arc::new(narrowed_app(&self.app, hosts)), self.remotes.clone(), self.tx.clone(), self.abort.clone(), self.opts.clone());
        e.lock_held.store(self.lock_is_held(), Ordering::SeqCst);
        if let (Ok(mut mine), Ok(theirs)) = (e.current_command.lock(), self.current_command.lock()) {
            mine.clone_from(&theirs);
        }
        e
    }

    /// `f` between the pre-connect hook, the run directories and the lock, and the release.
    async fn upgrade_locked<'a, Fut>(&'a self, f: Fut) -> R<()>
    where
        Fut: std::future::Future<Output = R<()>> + 'a,
    {
        let all = self.every_host();
        self.hook("pre-connect", &all, false, None).await?;
        self.mkdir_kamal(&all).await?;
        self.acquire_lock(lock::DEFAULT_MESSAGE).await?;
        let res = f.await;
        let rel = self.release_lock().await;
        res.and(rel)
    }

    /// `kdeck upgrade [--rolling]`; the app boots `version` (`--version`, else the latest tag).
    pub(super) async fn upgrade_request(&self, rolling: bool, version: &str) -> R<()> {
        let accessories: Vec<AccessorySpec> = self.app.accessories.clone();
        self.accessory_preflight(&accessories)?;
        self.upgrade_locked(async {
            if rolling {
                let app_hosts = self.app.all_hosts();
                let acc_hosts = self.accessory_host_list();
                for h in self.every_host() {
                    let one = [h.clone()];
                    if app_hosts.contains(&h) {
                        self.proxy_upgrade(&one, version).await?;
                    }
                    if acc_hosts.contains(&h) {
                        self.accessories_reboot_on("all", &one).await?;
                    }
                }
                Ok(())
            } else {
                self.proxy_upgrade(&self.every_host(), version).await?;
                self.accessories_reboot_on("all", &self.accessory_host_list()).await
            }
        })
        .await
    }

    /// `kdeck accessory upgrade NAME|all [--rolling]`: NAME rebooted on every accessory host
    /// group.
    pub(super) async fn accessory_upgrade_request(&self, name: &str, rolling: bool) -> R<()> {
        let list: Vec<AccessorySpec> =
            self.app.select_accessories(name).map_err(|m| EngineError::Failed { host: None, message: m })?.into_iter().cloned().collect();
        self.accessory_preflight(&list)?;
        self.upgrade_locked(async {
            for hosts in groups(self.accessory_host_list(), rolling) {
                self.accessories_reboot_on(name, &hosts).await?;
            }
            Ok(())
        })
        .await
    }

    /// Kamal's `proxy upgrade` of one group of hosts, the lock held.
    async fn proxy_upgrade(&self, hosts: &[String], version: &str) -> R<()> {
        self.hook("pre-proxy-reboot", hosts, true, None).await?;
        self.on_hosts(hosts, |h| async move {
            self.step(Some(h), None, StepKind::ProxyBoot, "remove Traefik and kamal-proxy", async {
                self.audit(h, None, audit::REBOOTED_PROXY).await?;
                if let Some(login) = cmd::docker_login(&self.app) {
                    self.sh_ok(h, &login).await?;
                }
                self.sh_ok(h, &cmd::proxy_cleanup_traefik()).await?;
                // Nothing to stop is fine.
                self.sh(h, &cmd::proxy_stop()).await?;
                self.sh_ok(h, &cmd::proxy_prune_containers()).await?;
                self.sh_ok(h, &cmd::proxy_remove_image()).await?;
                Ok(())
            })
            .await
        })
        .await?;
        let sub = self.on_specific_hosts(hosts);
        sub.proxy_boot().await?;
        sub.app_boot(version).await?;
        sub.prune(true, true, None).await?;
        self.hook("post-proxy-reboot", hosts, true, None).await
    }

    /// `accessory reboot NAME|all` on these hosts only, the lock held.
    async fn accessories_reboot_on(&self, name: &str, hosts: &[String]) -> R<()> {
        let list: Vec<AccessorySpec> =
            self.app.select_accessories(name).map_err(|m| EngineError::Failed { host: None, message: m })?.into_iter().cloned().collect();
        for mut a in list {
            a.hosts.retain(|h| hosts.contains(h));
            if !a.hosts.is_empty() {
                self.accessory_one(AccessoryAction::Reboot, &a).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kamal::app::RoleSpec;

    fn app() -> AppSpec {
        let role = |name: &str, hosts: &[&str]| RoleSpec { name: name.into(), hosts: hosts.iter().map(|h| h.to_string()).collect(), ..Default::default() };
        AppSpec { roles: vec![role("web", &["h1", "h2"]), role("job", &["h3"])], ..Default::default() }
    }

    #[test]
    fn narrowing_to_a_host_keeps_only_the_roles_on_it() {
        let a = narrowed_app(&app(), &["h3".to_string()]);
        assert_eq!(a.roles.len(), 1);
        assert_eq!(a.roles[0].name, "job");
        assert_eq!(a.all_hosts(), vec!["h3".to_string()]);
    }

    #[test]
    fn rolling_groups_are_one_host_each_in_order() {
        let hosts = vec!["a".to_string(), "b".to_string()];
        assert_eq!(groups(hosts.clone(), true), vec![vec!["a".to_string()], vec!["b".to_string()]]);
        assert_eq!(groups(hosts.clone(), false), vec![hosts]);
    }
}
