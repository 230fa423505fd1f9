//! kamal-proxy: the network on every host, boot or reboot of the proxy on proxy hosts (§4.3).

use super::{exec_failure, failed, Engine, EngineError, R};
use crate::deploy::event::StepKind;
use crate::kamal::{audit, cmd};

impl Engine {
    /// `proxy boot`: the network on every host, kamal-proxy started (or run) on proxy hosts.
    pub async fn proxy_boot(&self) -> R<()> {
        self.proxy_boot_on(false, &self.app.all_hosts()).await
    }

    /// `proxy reboot` of these proxy hosts: stop, remove, run anew.
    pub async fn proxy_reboot(&self, hosts: &[String]) -> R<()> {
        self.proxy_boot_on(true, hosts).await
    }

    async fn proxy_boot_on(&self, reboot: bool, all: &[String]) -> R<()> {
        let all = all.to_vec();
        let proxy_hosts = self.app.proxy_hosts();
        let ph = &proxy_hosts;
        // Per host: the network (all hosts) and the proxy's checks run together, then start/run.
        self.on_hosts(&all, |h| async move {
            let is_proxy = ph.iter().any(|p| p == h);
            let label = match (is_proxy, reboot) {
                (false, _) => "docker network create kamal",
                (true, false) => "boot kamal-proxy",
                (true, true) => "reboot kamal-proxy",
            };
            if reboot && !is_proxy {
                return Ok(());
            }
            self.step(Some(h), None, StepKind::ProxyBoot, label, async {
                let network = async {
                    if reboot {
                        return Ok::<(), EngineError>(());
                    }
                    let out = self.sh(h, &cmd::network_create()).await?;
                    if !out.ok() && !out.stderr.contains("already exists") {
                        return Err(failed(h, exec_failure(h, &out)));
                    }
                    Ok(())
                };
                let checks = async {
                    if !is_proxy {
                        return Ok::<(), EngineError>(());
                    }
                    let login = self.login_once(h);
                    let prep = async {
                        if reboot {
                            self.audit(h, None, audit::REBOOTED_PROXY).await?;
                            self.sh(h, &cmd::proxy_stop()).await?;
                            self.sh_ok(h, &cmd::proxy_prune_containers()).await?;
                        } else {
                            let tag = self.sh(h, &cmd::proxy_image_version()).await?.stdout.trim().to_string();
                            if !tag.is_empty() && version_lt(tag.trim_start_matches('v'), cmd::PROXY_MIN_VERSION.trim_start_matches('v')) {
                                return Err(failed(
                                    h,
                                    format!(
                                        "kamal-proxy version {tag} is too old, run `kamal proxy reboot` in order to update to at least {}",
                                        cmd::PROXY_MIN_VERSION
                                    ),
                                ));
                            }
                        }
                        Ok(())
                    };
                    let mkdir = async { self.sh_ok(h, &cmd::proxy_mkdir_apps_config()).await.map(|_| ()) };
                    let (a, b, c) = tokio::join!(login, prep, mkdir);
                    a.and(b).and(c)
                };
                let (n, c) = tokio::join!(network, checks);
                n?;
                c?;
                if is_proxy {
                    let run = if reboot { cmd::proxy_reboot_run(&self.app, h) } else { cmd::proxy_start_or_run(&self.app, h) };
                    self.sh_ok(h, &run).await?;
                }
                Ok(())
            })
            .await
        })
        .await
    }
}

/// Gem::Version-style comparison of dotted numeric versions (non-numeric parts compare as 0).
fn version_lt(a: &str, b: &str) -> bool {
    let p = |s: &str| s.split('.').map(|x| x.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    p(a) < p(b)
}
