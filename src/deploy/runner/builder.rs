//! `build push|deliver|pull|create|remove|dev` as Kamal 2.11 runs them: the local docker/buildx
//! commands (through a local shell, as Kamal's strings), then for `pull` the same commands per
//! host in the same order. Without the buildx plugin, a one-platform local build falls back to
//! `docker build` + `docker push` (what `deploy` does here) and says so.

use super::{exec_failure, failed, redact, Engine, EngineError, R};
use crate::deploy::event::StepKind;
use crate::kamal::cmd::builder::{self as bcmd, Builder, BuilderKind};
use crate::kamal::{audit, cmd};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

/// What a local command did.
pub(super) struct Local {
    ok: bool,
    text: String,
}

fn local_failed(message: impl Into<String>) -> EngineError {
    EngineError::Failed { host: None, message: message.into() }
}

/// Kamal's words when the builder is not there (`kamal build push` then creates it).
fn missing_builder(text: &str) -> bool {
    ["context not found", "no builder", "no compatible builder", "does not exist"].iter().any(|p| text.contains(p))
}

/// The command as shown: build-arg values and registry passwords hidden.
fn shown(command: &str) -> String {
    let re = regex::Regex::new(r#"--build-arg (\S+?)=("(?:[^"\\]|\\.)*"|\S+)"#).map(|re| re.replace_all(command, "--build-arg $1=[REDACTED]").into_owned());
    redact(&re.unwrap_or_else(|_| command.to_string()))
}

/// Said plainly when a `docker buildx` command fails because the plugin is not there (docker
/// then answers `unknown flag` / `unknown command`).
fn buildx_hint(command: &str, output: &str) -> &'static str {
    let missing = ["unknown flag", "unknown command: docker buildx", "is not a docker command", "unknown shorthand flag"];
    if command.contains("docker buildx") && missing.iter().any(|m| output.contains(m)) {
        " the docker buildx plugin is not installed (Kamal's builders need it: Debian's docker-buildx, or Docker's docker-buildx-plugin; a docker-container builder also pulls the moby/buildkit image)"
    } else {
        ""
    }
}

impl Engine {
    /// One local shell command, its line shown as progress of `kind`.
    pub(super) async fn local_sh(&self, kind: StepKind, t0: Instant, command: &str, dir: &Path, env: &[(String, String)]) -> R<Local> {
        self.progress_global(kind, t0, format!("Running {}", shown(command)));
        tracing::debug!(cmd = %shown(command), "local exec");
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(dir)
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| local_failed(format!("cannot run a local shell: {e}")))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok(Local { ok: out.status.success(), text })
    }

    async fn local_ok(&self, kind: StepKind, t0: Instant, command: &str, dir: &Path, env: &[(String, String)]) -> R<Local> {
        let out = self.local_sh(kind, t0, command, dir, env).await?;
        if !out.ok {
            let tail: Vec<&str> = out.text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(local_failed(format!("{} failed:{}\n{}", shown(command), buildx_hint(command, &out.text), tail.join("\n"))));
        }
        Ok(out)
    }

    /// The builder, with the local Docker's arch when a remote is configured (Kamal asks only then).
    pub(super) async fn builder(&self) -> Builder<'_> {
        let app = self.app.clone();
        let arch = tokio::task::spawn_blocking(move || crate::deploy::build::local_docker_arch(&app)).await.unwrap_or_default();
        Builder::new(&self.app, arch)
    }

    /// Kamal's local check: docker, then the buildx plugin. `Ok(false)`: docker without buildx.
    async fn local_buildx(&self, t0: Instant) -> R<bool> {
        let out = self.local_sh(StepKind::Other, t0, &bcmd::ensure_local_docker_installed(), &self.app.root, &[]).await?;
        if out.ok {
            return Ok(true);
        }
        let docker = tokio::process::Command::new("docker").arg("--version").stdin(Stdio::null()).output().await;
        if !docker.is_ok_and(|o| o.status.success()) {
            return Err(local_failed("Docker is not installed locally"));
        }
        Ok(false)
    }

    /// Can `docker build` + `docker push` do this build (no buildx here)?
    fn classic_build_fits(b: &Builder<'_>, output: &str, wanted: &str) -> bool {
        b.kind() == BuilderKind::Local && b.arches().len() <= 1 && b.classic_compatible() && output == wanted
    }

    /// `build push`: pre-connect hook, docker check, local login, pre-build hook, clone, the
    /// builder (created when missing), the build.
    pub(super) async fn build_push(&self, output: &str, no_cache: bool) -> R<()> {
        let all = self.app.all_hosts();
        self.hook("pre-connect", &all, false, None).await?;
        let b = self.builder().await;
        if b.kind() == BuilderKind::Pack {
            return Err(local_failed("kdeck does not build with buildpacks (builder.pack): use `kamal build push`"));
        }
        let t0 = Instant::now();
        let buildx = self.step(None, None, StepKind::Other, "docker --version && docker buildx version", async { Ok(self.local_buildx(t0).await?) }).await?;
        if !buildx {
            if !Self::classic_build_fits(&b, output, "registry") {
                return Err(local_failed(format!(
                    "Docker buildx plugin is not installed locally (the {} builder{} needs it)",
                    b.kind().as_str(),
                    if b.arches().len() > 1 { " for several platforms" } else { "" }
                )));
            }
            self.progress_global(
                StepKind::Other,
                t0,
                "Docker buildx plugin is not installed locally: building with docker build and docker push instead".into(),
            );
            self.hook("pre-build", &all, false, None).await?;
            return self.build_and_push().await;
        }
        if b.login_to_registry_locally() {
            self.step(None, None, StepKind::Other, "registry login (local)", async { Ok(self.local_login(t0).await?) }).await?;
        }
        self.hook("pre-build", &all, false, None).await?;
        let label = format!("build {}", self.app.image_ref(&self.opts.version));
        self.step(None, None, StepKind::Build, &label, async {
            let t0 = Instant::now();
            let app = self.app.clone();
            let (dir, note) = tokio::task::spawn_blocking(move || crate::deploy::build::prepare_workdir(&app))
                .await
                .map_err(|e| local_failed(e.to_string()))?
                .map_err(|e| local_failed(e.to_string()))?;
            if let Some(n) = note {
                self.progress_global(StepKind::Build, t0, n);
            }
            self.ensure_builder(&b, t0).await?;
            self.buildx_build(&b, t0, &dir, output, false, no_cache).await?;
            Ok(())
        })
        .await
    }

    /// `build deliver`: `build push` (Kamal's default options), then `build pull`.
    pub(super) async fn build_deliver(&self) -> R<()> {
        self.build_push("registry", false).await?;
        self.build_pull().await
    }

    /// `docker login` on this machine (the password on stdin), or the local registry started.
    pub(super) async fn local_login(&self, t0: Instant) -> R<()> {
        if self.app.local_registry() {
            self.local_ok(StepKind::Other, t0, &bcmd::local_registry_setup(&self.app), &self.app.root, &[]).await?;
            return Ok(());
        }
        let Some(user) = self.app.registry.username.as_deref() else { return Ok(()) };
        let server = self.app.registry.server.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
        let command = format!("docker login{server} -u {} --password-stdin", crate::kamal::ruby::escape_shell_value(user));
        self.progress_global(StepKind::Other, t0, format!("Running {command}"));
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(&self.app.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| local_failed(format!("cannot run a local shell: {e}")))?;
        if let Some(mut w) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            let _ = w.write_all(self.app.registry.password.clone().unwrap_or_default().as_bytes()).await;
        }
        let out = child.wait_with_output().await.map_err(|e| local_failed(format!("docker login: {e}")))?;
        if !out.status.success() {
            return Err(local_failed(format!("{command} failed:\n{}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }

    /// The builder is there (Kamal's inspect), or is removed and created anew.
    async fn ensure_builder(&self, b: &Builder<'_>, t0: Instant) -> R<()> {
        let Some(inspect) = b.inspect_builder() else { return Ok(()) };
        let out = self.local_sh(StepKind::Build, t0, &inspect, &self.app.root, &[]).await?;
        if out.ok {
            return Ok(());
        }
        if !missing_builder(&out.text) {
            return Err(local_failed(format!("{} failed:\n{}", shown(&inspect), out.text.trim())));
        }
        self.progress_global(StepKind::Build, t0, "Missing compatible builder, so creating a new one first".into());
        if let Some(rm) = b.remove() {
            let r = self.local_sh(StepKind::Build, t0, &rm, &self.app.root, &[]).await?;
            let narrower = ["context not found", "no builder", "does not exist"].iter().any(|p| out.text.contains(p));
            if !r.ok && !narrower {
                return Err(local_failed(format!("{rm} failed:\n{}", r.text.trim())));
            }
        }
        self.build_create_on(b, t0, true).await
    }

    /// The build itself, with the builder secrets in its environment (never on its command line).
    async fn buildx_build(&self, b: &Builder<'_>, t0: Instant, dir: &Path, output: &str, dirty: bool, no_cache: bool) -> R<()> {
        if !self.app.root.join(&self.app.dockerfile).exists() {
            return Err(local_failed(format!("Missing {}", self.app.dockerfile)));
        }
        let mut env = b.push_env();
        for k in &self.app.build.secrets {
            let v = self
                .app
                .secrets
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| local_failed(format!("Secret '{k}' not found (builder/secrets)")))?;
            env.push((k.clone(), v));
        }
        let command = b.push(&self.opts.version, output, dirty, no_cache);
        match self.local_ok(StepKind::Build, t0, &command, dir, &env).await {
            Err(EngineError::Failed { message, .. }) if !b.docker_driver() && message.contains("moby/buildkit") => Err(local_failed(format!(
                "{message}\nThe {} driver runs the moby/buildkit image, which must be pulled from Docker Hub; where it cannot be, set builder.driver: docker to build with the local daemon's BuildKit",
                self.app.build.driver
            ))),
            r => r.map(|_| ()),
        }
    }

    /// `build create`: the remote build host reached over SSH first (when `ssh://`), then the
    /// builder created locally. `connected`: the pre-connect hook already ran.
    pub(super) async fn build_create(&self) -> R<()> {
        let b = self.builder().await;
        self.build_create_on(&b, Instant::now(), false).await
    }

    async fn build_create_on(&self, b: &Builder<'_>, t0: Instant, connected: bool) -> R<()> {
        if let Some((_, host, _)) = self.app.build.remote.as_deref().and_then(bcmd::ssh_remote) {
            if !connected {
                self.hook("pre-connect", &self.app.all_hosts(), false, None).await?;
            }
            self.step(Some(&host), None, StepKind::Other, "connect to the remote builder", async {
                let out = self.sh(&host, "/usr/bin/env true").await?;
                if !out.ok() {
                    return Err(failed(&host, exec_failure(&host, &out)).into());
                }
                Ok(())
            })
            .await?;
        }
        let Some(create) = b.create() else { return Ok(()) };
        self.step(None, None, StepKind::Other, &format!("create builder {}", b.builder_name()), async {
            self.local_ok(StepKind::Other, t0, &create, &self.app.root, &[]).await?;
            Ok(())
        })
        .await
    }

    /// `build remove`.
    pub(super) async fn build_remove(&self) -> R<()> {
        let b = self.builder().await;
        let Some(rm) = b.remove() else { return Ok(()) };
        self.step(None, None, StepKind::Other, &format!("remove builder {}", b.builder_name()), async {
            self.local_ok(StepKind::Other, Instant::now(), &rm, &self.app.root, &[]).await?;
            Ok(())
        })
        .await
    }

    /// `build dev`: the working directory as it is, tagged `-dirty`, to the local image store.
    pub(super) async fn build_dev(&self, output: &str, no_cache: bool) -> R<()> {
        let b = self.builder().await;
        let t0 = Instant::now();
        let buildx = self.step(None, None, StepKind::Other, "docker --version && docker buildx version", async { Ok(self.local_buildx(t0).await?) }).await?;
        let label = format!("build {}", b.tags(&self.opts.version, true)[0]);
        self.step(None, None, StepKind::Build, &label, async {
            let t0 = Instant::now();
            for w in crate::deploy::build::dev_warnings(&self.app) {
                self.progress_global(StepKind::Build, t0, w);
            }
            if buildx {
                self.buildx_build(&b, t0, &self.app.root, output, true, no_cache).await?;
                return Ok(());
            }
            if !Self::classic_build_fits(&b, output, "docker") {
                return Err(local_failed("Docker buildx plugin is not installed locally").into());
            }
            self.progress_global(StepKind::Build, t0, "Docker buildx plugin is not installed locally: building with docker build instead".into());
            let args = crate::deploy::build::dev_classic_args(&self.app, &b.tags(&self.opts.version, true), no_cache);
            let command =
                std::iter::once("docker".to_string()).chain(args.iter().map(|a| crate::kamal::ruby::escape_shell_value(a))).collect::<Vec<_>>().join(" ");
            self.local_ok(StepKind::Build, t0, &command, &self.app.root, &[]).await?;
            Ok(())
        })
        .await
    }

    /// `build pull`: login on every host, then (several hosts) each host's first registry
    /// mirror, a first host per mirror pulled before the others; per host the audit line, the
    /// forced image removal, the pull and the service-label check.
    pub(super) async fn build_pull(&self) -> R<()> {
        let hosts = self.app.all_hosts();
        self.hook("pre-connect", &hosts, false, None).await?;
        if let Some(login) = cmd::docker_login(&self.app) {
            let login = &login;
            self.on_hosts(&hosts, |h| async move {
                self.step(Some(h), None, StepKind::Other, "docker login", async { Ok(self.sh_ok(h, login).await.map(|_| ())?) }).await
            })
            .await?;
        }
        let mut seeds: Vec<(String, String)> = vec![];
        if hosts.len() > 1 {
            let found = std::sync::Mutex::new(vec![]);
            self.on_hosts(&hosts, |h| {
                let found = &found;
                async move {
                    let out = self.sh(h, &cmd::registry_mirror_probe()).await?;
                    if out.ok() {
                        found.lock().map_err(|_| EngineError::Aborted)?.push((h.to_string(), out.stdout.trim().to_string()));
                    } else if !out.stderr.contains("slice index out of range") {
                        return Err(failed(h, exec_failure(h, &out)));
                    }
                    Ok(())
                }
            })
            .await?;
            let found = found.into_inner().unwrap_or_default();
            for h in &hosts {
                if let Some((_, m)) = found.iter().find(|(x, m)| x == h && !m.is_empty()) {
                    if !seeds.iter().any(|(_, sm)| sm == m) {
                        seeds.push((h.clone(), m.clone()));
                    }
                }
            }
        }
        let first: Vec<String> = seeds.into_iter().map(|(h, _)| h).collect();
        if !first.is_empty() {
            self.pull_on(&first).await?;
        }
        let rest: Vec<String> = hosts.into_iter().filter(|h| !first.contains(h)).collect();
        self.pull_on(&rest).await
    }

    async fn pull_on(&self, hosts: &[String]) -> R<()> {
        let v = &self.opts.version;
        self.on_hosts(hosts, |h| async move {
            self.step(Some(h), None, StepKind::Pull, &format!("pull {}", self.app.image_ref(v)), async {
                self.audit(h, None, &audit::pulled(v)).await?;
                self.sh(h, &cmd::image_rm_force(&self.app, v)).await?;
                self.sh_ok(h, &cmd::pull(&self.app, v)).await?;
                self.sh_ok(h, &cmd::ensure_service_label(&self.app, v)).await?;
                Ok(())
            })
            .await
        })
        .await
    }
}

#[cfg(test)]
mod buildx_hint_tests {
    #[test]
    fn a_missing_buildx_plugin_is_named() {
        let out = "unknown flag: --name\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]";
        assert!(super::buildx_hint("docker buildx create --name kamal-local-docker-container --driver=docker-container", out)
            .contains("buildx plugin is not installed"));
        assert_eq!(super::buildx_hint("docker build .", out), "");
        assert_eq!(super::buildx_hint("docker buildx inspect x", "ERROR: no builder \"x\" found"), "");
    }
}
