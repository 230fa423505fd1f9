//! The image: Docker on the hosts (`setup`), the local build and push, the pull on every host (§4.2).

use super::{redact, Engine, EngineError, R};
use crate::deploy::event::StepKind;
use crate::kamal::{audit, cmd};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

impl Engine {
    /// Local `docker build` (label service, tags version + latest) then push, as Kamal's build.
    pub(super) async fn build_and_push(&self) -> R<()> {
        let app = self.app.clone();
        let v = self.opts.version.clone();
        self.step(None, None, StepKind::Build, &format!("build {}", app.image_ref(&v)), async {
            let t0 = Instant::now();
            let fail = |message: String| EngineError::Failed { host: None, message };
            let docker = |args: Vec<String>, dir: PathBuf, stdin: Option<String>, buildkit: bool| async move {
                let mut c = tokio::process::Command::new("docker");
                c.args(&args).current_dir(&dir).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                if buildkit {
                    c.env("DOCKER_BUILDKIT", "1");
                }
                let mut child = c.spawn().map_err(|e| EngineError::Failed { host: None, message: format!("Docker is not installed locally ({e})") })?;
                if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
                    use tokio::io::AsyncWriteExt;
                    let _ = w.write_all(input.as_bytes()).await;
                }
                let out = child.wait_with_output().await.map_err(|e| EngineError::Failed { host: None, message: format!("docker {}: {e}", args[0]) })?;
                if !out.status.success() {
                    let shown: Vec<String> = args.iter().map(|a| redact(a)).collect();
                    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                    let tail: Vec<&str> = text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                    return Err(EngineError::Failed { host: None, message: format!("docker {} failed:\n{}", shown.join(" "), tail.join("\n")) });
                }
                Ok::<(), EngineError>(())
            };
            if let (Some(u), false) = (&app.registry.username, app.local_registry()) {
                // The password goes on stdin: a local `ps` must not show it.
                let mut a = vec!["login".to_string()];
                if let Some(s) = &app.registry.server {
                    a.push(s.clone());
                }
                a.extend(["-u".into(), u.clone(), "--password-stdin".into()]);
                docker(a, app.root.clone(), Some(app.registry.password.clone().unwrap_or_default()), false).await?;
            }
            let secret_dir = tempfile::tempdir().map_err(|e| fail(format!("cannot create a private directory for build secrets: {e}")))?;
            let plan_app = app.clone();
            let (v2, sd, no_cache) = (v.clone(), secret_dir.path().to_path_buf(), self.opts.no_cache);
            let (plan, note) = tokio::task::spawn_blocking(move || crate::deploy::build::plan(&plan_app, &v2, &sd, no_cache))
                .await
                .map_err(|e| fail(e.to_string()))?
                .map_err(|e| fail(e.to_string()))?;
            if let Some(n) = note {
                self.progress_global(StepKind::Build, t0, n);
            }
            crate::deploy::build::write_secret_files(&plan, secret_dir.path()).map_err(|e| fail(format!("cannot write build secrets: {e}")))?;
            self.progress_global(StepKind::Build, t0, format!("docker build in {}", plan.workdir.display()));
            docker(plan.args.clone(), plan.workdir.clone(), None, !plan.secrets.is_empty()).await?;
            for tag in &plan.push {
                self.progress_global(StepKind::Build, t0, format!("push {tag}"));
                docker(vec!["push".into(), tag.clone()], plan.workdir.clone(), None, false).await?;
            }
            Ok(())
        })
        .await
    }

    pub async fn pull(&self, hosts: &[String]) -> R<()> {
        let v = self.opts.version.clone();
        let many = hosts.len() > 1;
        self.on_hosts(hosts, |h| {
            let v = v.clone();
            async move {
                self.step(Some(h), None, StepKind::Pull, &format!("pull {}", self.app.image_ref(&v)), async {
                    // Independent of each other: run together (one connection, several channels).
                    let login = self.login_once(h);
                    let mirror = async {
                        if many {
                            // rc=1 when no mirror is configured: ignored, as Kamal does.
                            self.sh(h, &cmd::registry_mirror_probe()).await?;
                        }
                        Ok::<(), EngineError>(())
                    };
                    let rm = async { self.sh(h, &cmd::image_rm_force(&self.app, &v)).await.map(|_| ()) };
                    let pulled = audit::pulled(&v);
                    let (a, b, c, d) = tokio::join!(login, mirror, self.audit(h, None, &pulled), rm);
                    a?;
                    b?;
                    c?;
                    d?;
                    self.sh_ok(h, &cmd::pull(&self.app, &v)).await?;
                    self.sh_ok(h, &cmd::ensure_service_label(&self.app, &v)).await?;
                    Ok(())
                })
                .await
            }
        })
        .await
    }
}
