//! Management actions outside a deploy, as Kamal 2.11 runs them (`lib/kamal/cli/{app,proxy,
//! main,registry,server}.rb`): maintenance and live mode, `app remove`, proxy start / stop /
//! restart / remove, the whole `remove`, the registry login and logout on the hosts, and
//! `server bootstrap`. Each runs per host in Kamal's order; the caller holds the lock where
//! Kamal takes it.

use super::{exec_failure, failed, Engine, EngineError, R};
use crate::deploy::event::{Event, StepKind, Stream};
use crate::kamal::{audit, cmd};

/// What `proxy remove` found on the proxy hosts.
const OTHER_APPS: &str = "Not removing the proxy, as other apps are installed, ignore this check with kdeck proxy remove --force";
const FORCING: &str = "Forcing, so removing the proxy, even though other apps are installed";

impl Engine {
    /// A line for the operator (Kamal's `say`), outside any step.
    fn say(&self, line: &str) {
        self.emit(Event::Output { host: None, role: None, stream: Stream::Stdout, line: line.to_string() });
    }

    /// `app maintenance`: kamal-proxy answers 503 (with `message`) for every proxied role.
    pub async fn app_maintenance(&self, drain_timeout: Option<u64>, message: Option<&str>) -> R<()> {
        let drain = drain_timeout.unwrap_or(self.app.drain_timeout);
        self.on_proxied_roles(&self.app.proxy_hosts(), "maintenance", |h, r| async move {
            self.sh_ok(h, &cmd::proxy_maintenance(&self.app, r, drain, message)).await.map(|_| ())
        })
        .await
    }

    /// `app live`: kamal-proxy serves every proxied role again.
    pub async fn app_live(&self) -> R<()> {
        self.on_proxied_roles(&self.app.proxy_hosts(), "live", |h, r| async move { self.sh_ok(h, &cmd::proxy_live(&self.app, r)).await.map(|_| ()) }).await
    }

    /// `f(host, role)` for each role that runs behind kamal-proxy, on the proxy hosts.
    async fn on_proxied_roles<'a, F, Fut>(&'a self, hosts: &'a [String], label: &'a str, f: F) -> R<()>
    where
        F: Fn(&'a str, &'a str) -> Fut + Copy + 'a,
        Fut: std::future::Future<Output = R<()>> + 'a,
    {
        self.on_hosts(hosts, |h| async move {
            for role in self.app.roles_on(h).into_iter().filter(|r| r.proxy.is_some()) {
                let r = role.name.as_str();
                self.task(Some(h), Some(r), StepKind::Other, label, f(h, r)).await?;
            }
            Ok(())
        })
        .await
    }

    /// `app remove`: stop, then every container, the images (on hosts where every role of the
    /// host is in scope) and the app's directories.
    pub async fn app_remove(&self) -> R<()> {
        self.app_stop().await?;
        let hosts = self.app.all_hosts();
        self.on_hosts(&hosts, |h| async move {
            for role in self.app.roles_on(h) {
                let r = role.name.as_str();
                self.task(Some(h), Some(r), StepKind::Other, "remove containers", async {
                    self.audit(h, Some(r), audit::REMOVED_APP_CONTAINERS).await?;
                    self.sh_ok(h, &cmd::app_remove_containers(&self.app, r)).await.map(|_| ())
                })
                .await?;
            }
            Ok(())
        })
        .await?;
        let whole: Vec<String> = hosts.iter().filter(|h| !self.opts.partial_hosts.contains(h)).cloned().collect();
        self.on_hosts(&whole, |h| async move {
            self.task(Some(h), None, StepKind::Other, "remove images", async {
                self.audit(h, None, audit::REMOVED_APP_IMAGES).await?;
                self.sh_ok(h, &cmd::app_remove_images(&self.app)).await.map(|_| ())
            })
            .await
        })
        .await?;
        self.on_hosts(&whole, |h| async move {
            self.task(Some(h), None, StepKind::Other, "remove app directories", async {
                self.sh(h, &cmd::remove_app_directory(&self.app)).await?;
                self.audit(h, None, &audit::removed(&cmd::app_directory(&self.app))).await?;
                self.sh(h, &cmd::remove_proxy_app_directory(&self.app)).await.map(|_| ())
            })
            .await
        })
        .await
    }

    /// `proxy start`.
    pub async fn proxy_start(&self) -> R<()> {
        let ph = self.app.proxy_hosts();
        self.on_proxy_hosts(&ph, "start kamal-proxy", |h| async move {
            self.audit(h, None, audit::STARTED_PROXY).await?;
            self.sh_ok(h, &cmd::proxy_start()).await.map(|_| ())
        })
        .await
    }

    /// `proxy stop` (a proxy that is not running is not an error).
    pub async fn proxy_stop_all(&self) -> R<()> {
        let ph = self.app.proxy_hosts();
        self.on_proxy_hosts(&ph, "stop kamal-proxy", |h| async move {
            self.audit(h, None, audit::STOPPED_PROXY).await?;
            self.sh(h, &cmd::proxy_stop()).await.map(|_| ())
        })
        .await
    }

    /// `proxy remove`: only when no other app has a directory on any proxy host (or `force`).
    /// Returns whether it removed.
    pub async fn proxy_remove_all(&self, force: bool) -> R<bool> {
        if !self.proxy_removal_allowed(force).await? {
            return Ok(false);
        }
        self.proxy_stop_all().await?;
        let ph = self.app.proxy_hosts();
        self.on_proxy_hosts(&ph, "remove kamal-proxy container", |h| async move {
            self.audit(h, None, audit::REMOVED_PROXY_CONTAINER).await?;
            self.sh_ok(h, &cmd::proxy_prune_containers()).await.map(|_| ())
        })
        .await?;
        self.on_proxy_hosts(&ph, "remove kamal-proxy image", |h| async move {
            self.audit(h, None, audit::REMOVED_PROXY_IMAGE).await?;
            self.sh_ok(h, &cmd::proxy_remove_image()).await.map(|_| ())
        })
        .await?;
        self.on_proxy_hosts(&ph, "remove .kamal/proxy", |h| async move { self.sh(h, &cmd::remove_proxy_directory()).await.map(|_| ()) }).await?;
        Ok(true)
    }

    async fn proxy_removal_allowed(&self, force: bool) -> R<bool> {
        let hosts = self.app.proxy_hosts();
        let counts = futures::future::join_all(hosts.iter().map(|h| async move { (h, self.sh_ok(h, &cmd::app_directory_count()).await) })).await;
        for (_, out) in counts {
            if out?.stdout.trim().parse::<u64>().unwrap_or(0) > 0 {
                self.say(if force { FORCING } else { OTHER_APPS });
                return Ok(force);
            }
        }
        Ok(true)
    }

    async fn on_proxy_hosts<'a, F, Fut>(&'a self, hosts: &'a [String], label: &'a str, f: F) -> R<()>
    where
        F: Fn(&'a str) -> Fut + Copy + 'a,
        Fut: std::future::Future<Output = R<()>> + 'a,
    {
        self.on_hosts(hosts, |h| async move { self.task(Some(h), None, StepKind::ProxyBoot, label, f(h)).await }).await
    }

    /// `docker logout` on every host (`registry logout -L`, the end of `remove`).
    pub async fn registry_logout_hosts(&self) -> R<()> {
        let hosts = self.app.all_hosts();
        self.on_hosts(&hosts, |h| async move {
            self.task(Some(h), None, StepKind::Other, "docker logout", async { self.sh_ok(h, &cmd::docker_logout(&self.app)).await.map(|_| ()) }).await
        })
        .await
    }

    /// `docker login` on every host.
    pub async fn registry_login_hosts(&self) -> R<()> {
        let hosts = self.app.all_hosts();
        self.on_hosts(&hosts, |h| async move { self.task(Some(h), None, StepKind::Other, "docker login", self.login_once(h)).await }).await
    }

    /// `server bootstrap`: Docker checked on every host and installed where it is missing and
    /// the user may (root or passwordless sudo), then the docker-setup hook.
    pub async fn server_bootstrap(&self) -> R<()> {
        let hosts = self.app.all_hosts();
        let missing = std::sync::Mutex::new(vec![]);
        self.on_hosts(&hosts, |h| {
            let missing = &missing;
            async move {
                self.task(Some(h), None, StepKind::Other, "docker installed", async {
                    if self.sh(h, &cmd::docker_installed()).await?.ok() {
                        return Ok(());
                    }
                    if !self.sh(h, &cmd::superuser()).await?.ok() {
                        missing.lock().map_err(|_| EngineError::Aborted)?.push(h.to_string());
                        return Ok(());
                    }
                    self.progress(h, None, StepKind::Other, self.started, format!("Missing Docker on {h}. Installing…"));
                    self.sh_ok(h, &cmd::docker_install()).await?;
                    self.join_docker_group(h).await
                })
                .await
            }
        })
        .await?;
        let missing = missing.into_inner().unwrap_or_default();
        if !missing.is_empty() {
            return Err(EngineError::Failed {
                host: None,
                message: format!(
                    "Docker is not installed on {} and can't be automatically installed without having root access and either `wget` or `curl`. Install Docker manually: https://docs.docker.com/engine/install/",
                    missing.join(", ")
                ),
            });
        }
        self.hook("docker-setup", &hosts, true, None).await
    }

    /// After installing Docker as a non-root user: into the docker group, session refreshed.
    async fn join_docker_group(&self, h: &str) -> R<()> {
        if self.sh(h, &cmd::root()).await?.ok() || self.sh(h, &cmd::in_docker_group()).await?.ok() {
            return Ok(());
        }
        let out = self.sh(h, &cmd::add_to_docker_group()).await?;
        if !out.ok() {
            return Err(failed(h, exec_failure(h, &out)));
        }
        // The session ends here (SIGHUP to the shell): the next command reconnects.
        let _ = self.sh(h, &cmd::refresh_session()).await;
        Ok(())
    }
}

impl Engine {
    /// `remove` under the caller's lock: the app, the proxy (unless other apps remain), every
    /// accessory, then `docker logout` on the hosts (this machine keeps its login).
    pub(super) async fn remove_everything(&self) -> R<()> {
        self.app_remove().await?;
        self.proxy_remove_all(false).await?;
        self.accessories_remove_all().await?;
        self.registry_logout_hosts().await
    }
}
