//! `registry login|logout|setup|remove` as Kamal 2.11 runs them (`lib/kamal/cli/registry.rb`):
//! on this machine unless `-L`, then on every host unless `-R`. A local registry
//! (`localhost:PORT`) is a container on this machine: `setup` starts it, `remove` removes it,
//! and login/logout refuse it.

use super::{Engine, EngineError, RegistryAction, R};
use crate::deploy::event::StepKind;
use crate::kamal::cmd;
use std::process::Stdio;

fn fail(message: String) -> EngineError {
    EngineError::Failed { host: None, message }
}

impl Engine {
    pub(super) async fn registry(&self, action: RegistryAction, local: bool, remote: bool) -> R<()> {
        let is_local = self.app.local_registry();
        match action {
            RegistryAction::Login if is_local => Err(fail("Cannot use login command with a local registry. Use `kdeck registry setup` instead.".into())),
            RegistryAction::Logout if is_local => Err(fail("Cannot use logout command with a local registry. Use `kdeck registry remove` instead.".into())),
            RegistryAction::Login | RegistryAction::Setup => {
                if local {
                    self.local_docker_check().await?;
                    let label = if is_local { "local registry" } else { "registry login (local)" };
                    self.task(None, None, StepKind::Other, label, self.local_login(std::time::Instant::now())).await?;
                }
                if remote && !is_local {
                    self.pre_connect().await?;
                    self.registry_login_hosts().await?;
                }
                Ok(())
            }
            RegistryAction::Logout | RegistryAction::Remove => {
                if local {
                    if is_local {
                        // Kamal ignores a failure here (nothing to remove).
                        let _ = self.local_registry_remove().await;
                    } else {
                        self.local_docker("docker logout", logout_args(&self.app.registry.server), None).await?;
                    }
                }
                if remote && !is_local {
                    self.pre_connect().await?;
                    self.registry_logout_hosts().await?;
                }
                Ok(())
            }
        }
    }

    /// Docker on this machine answers (Kamal checks it before a local login).
    async fn local_docker_check(&self) -> R<()> {
        self.local_docker("docker --version", vec!["--version".into()], None).await.map_err(|_| fail("Docker is not installed locally".into()))
    }

    /// The local registry's container stopped and removed.
    async fn local_registry_remove(&self) -> R<()> {
        let script = cmd::local_registry_remove();
        self.task(None, None, StepKind::Other, "remove local registry", async {
            let out =
                tokio::process::Command::new("sh").arg("-c").arg(&script).stdin(Stdio::null()).output().await.map_err(|e| fail(format!("{script}: {e}")))?;
            if !out.status.success() {
                return Err(fail(format!("{script} failed:\n{}", String::from_utf8_lossy(&out.stderr).trim())));
            }
            Ok(())
        })
        .await
    }

    /// One local docker command as a visible step; fails with its stderr.
    async fn local_docker(&self, label: &str, args: Vec<String>, stdin: Option<String>) -> R<()> {
        self.task(None, None, StepKind::Other, label, async {
            let mut c = tokio::process::Command::new("docker");
            c.args(&args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = c.spawn().map_err(|e| fail(format!("Docker is not installed locally ({e})")))?;
            if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
                use tokio::io::AsyncWriteExt;
                let _ = w.write_all(input.as_bytes()).await;
            }
            let out = child.wait_with_output().await.map_err(|e| fail(format!("{label}: {e}")))?;
            if !out.status.success() {
                return Err(fail(format!("{label} failed:\n{}", String::from_utf8_lossy(&out.stderr).trim())));
            }
            Ok(())
        })
        .await
    }
}

fn logout_args(server: &Option<String>) -> Vec<String> {
    let mut a = vec!["logout".to_string()];
    a.extend(server.clone().filter(|s| !s.is_empty()));
    a
}
