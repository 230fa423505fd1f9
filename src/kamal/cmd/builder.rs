//! `kamal build …`'s local command strings: which builder Kamal 2.11 picks (local, remote,
//! hybrid, cloud), its buildx name and docker context, and the `docker buildx` invocations
//! (as Kamal's `commands/builder/*.rb` build them, run by a local shell).

use crate::kamal::ruby::escape_shell_value;
use crate::kamal::AppSpec;

/// Which of Kamal's builders a config selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    Local,
    Remote,
    Hybrid,
    Cloud,
    Pack,
}

impl BuilderKind {
    /// The name `kamal build details` prints (`Builder: local`).
    pub fn as_str(self) -> &'static str {
        match self {
            BuilderKind::Local => "local",
            BuilderKind::Remote => "remote",
            BuilderKind::Hybrid => "hybrid",
            BuilderKind::Cloud => "cloud",
            BuilderKind::Pack => "pack",
        }
    }
}

/// The builder of an app. `docker_arch` is the local Docker's architecture (`amd64`, `arm64`, or
/// whatever `docker info` said, empty when it failed): Kamal asks it only with a remote set.
#[derive(Debug, Clone)]
pub struct Builder<'a> {
    app: &'a AppSpec,
    docker_arch: String,
}

const ENDPOINT_HOST: &str = "'{{.Endpoints.docker.Host}}'";

/// `docker info --format '{{.Architecture}}'` output → Kamal's arch name.
pub fn docker_arch_name(info: &str) -> String {
    let a = info.trim();
    if a.contains("aarch64") {
        "arm64".into()
    } else if a.contains("x86_64") {
        "amd64".into()
    } else {
        a.to_string()
    }
}

pub fn docker_arch_probe() -> String {
    "docker info --format '{{.Architecture}}'".into()
}

/// `docker --version && docker buildx version`: both the client and the buildx plugin.
pub fn ensure_local_docker_installed() -> String {
    "docker --version && docker buildx version".into()
}

/// The local registry container (`registry.server: localhost:PORT`), started or run.
pub fn local_registry_setup(app: &AppSpec) -> String {
    let port = app.registry.server.as_deref().and_then(|s| s.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok()).unwrap_or(80);
    format!("docker start kamal-docker-registry || docker run --detach -p 127.0.0.1:{port}:5000 --name kamal-docker-registry registry:3")
}

/// `ssh://[user@]host[:port]` → (user, host, port); none for other remotes (`tcp://…`).
pub fn ssh_remote(url: &str) -> Option<(Option<String>, String, Option<u16>)> {
    let rest = url.strip_prefix("ssh://")?;
    let authority = rest.split('/').next().unwrap_or("");
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, p.parse().ok()),
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (user, host.to_string(), port))
}

impl<'a> Builder<'a> {
    pub fn new(app: &'a AppSpec, docker_arch: impl Into<String>) -> Self {
        Builder { app, docker_arch: docker_arch.into() }
    }

    fn driver(&self) -> &str {
        let d = self.app.build.driver.as_str();
        if d.is_empty() {
            "docker-container"
        } else {
            d
        }
    }

    /// No cache and no `--ssh`: a classic `docker build` can stand in for this build.
    pub fn classic_compatible(&self) -> bool {
        self.app.build.cache.is_none() && self.app.build.ssh.is_none()
    }

    pub fn docker_driver(&self) -> bool {
        self.driver() == "docker"
    }

    /// `builder.arch`, or Kamal's default (none for the docker driver, else amd64 and arm64).
    pub fn arches(&self) -> Vec<String> {
        if !self.app.build.arch.is_empty() {
            return self.app.build.arch.clone();
        }
        if self.docker_driver() {
            vec![]
        } else {
            vec!["amd64".into(), "arm64".into()]
        }
    }

    pub fn local_arches(&self) -> Vec<String> {
        if self.app.build.local_disabled {
            vec![]
        } else if self.app.build.remote.is_some() {
            self.arches().into_iter().filter(|a| *a == self.docker_arch).collect()
        } else {
            self.arches()
        }
    }

    pub fn remote_arches(&self) -> Vec<String> {
        if self.app.build.remote.is_none() {
            return vec![];
        }
        let local = self.local_arches();
        self.arches().into_iter().filter(|a| !local.contains(a)).collect()
    }

    pub fn remote(&self) -> bool {
        !self.remote_arches().is_empty()
    }

    pub fn local(&self) -> bool {
        !self.app.build.local_disabled && (self.arches().is_empty() || !self.local_arches().is_empty())
    }

    pub fn kind(&self) -> BuilderKind {
        match (self.remote(), self.local()) {
            (true, true) => BuilderKind::Hybrid,
            (true, false) => BuilderKind::Remote,
            _ if self.app.build.pack => BuilderKind::Pack,
            _ if self.driver().starts_with("cloud") => BuilderKind::Cloud,
            _ => BuilderKind::Local,
        }
    }

    fn remote_url(&self) -> &str {
        self.app.build.remote.as_deref().unwrap_or("")
    }

    fn remote_suffix(&self) -> String {
        let cleaned: String =
            self.remote_url().chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' { c } else { '-' }).collect();
        format!("{cleaned}{}", if self.app.local_registry() { "-local-registry" } else { "" })
    }

    /// The buildx builder's name.
    pub fn builder_name(&self) -> String {
        match self.kind() {
            BuilderKind::Local | BuilderKind::Pack if self.app.local_registry() => format!("kamal-local-registry-{}", self.driver()),
            BuilderKind::Local | BuilderKind::Pack => format!("kamal-local-{}", self.driver()),
            BuilderKind::Remote => format!("kamal-remote-{}", self.remote_suffix()),
            BuilderKind::Hybrid => format!("kamal-hybrid-{}-{}", self.driver(), self.remote_suffix()),
            BuilderKind::Cloud => self.driver().replace([' ', '/'], "-"),
        }
    }

    /// The docker context of a remote or hybrid builder.
    pub fn remote_context_name(&self) -> String {
        format!("{}-context", self.builder_name())
    }

    fn driver_options(&self) -> &'static str {
        if self.app.local_registry() {
            " --driver-opt network=host"
        } else {
            ""
        }
    }

    fn platform(arches: &[String]) -> String {
        if arches.is_empty() {
            return String::new();
        }
        format!(" --platform {}", arches.iter().map(|a| format!("linux/{a}")).collect::<Vec<_>>().join(","))
    }

    fn create_remote_context(&self) -> String {
        format!("docker context create {} --description '{} host' --docker 'host={}'", self.remote_context_name(), self.builder_name(), self.remote_url())
    }

    /// `kamal build create` (none for the docker driver).
    pub fn create(&self) -> Option<String> {
        let (name, drv, opts) = (self.builder_name(), self.driver(), self.driver_options());
        match self.kind() {
            BuilderKind::Local | BuilderKind::Pack if self.docker_driver() => None,
            BuilderKind::Local | BuilderKind::Pack => Some(format!("docker buildx create --name {name} --driver={drv}{opts}")),
            BuilderKind::Remote => Some(format!("{} ; docker buildx create --name {name}{opts} {}", self.create_remote_context(), self.remote_context_name())),
            BuilderKind::Hybrid => Some(format!(
                "docker buildx create{} --name {name} --driver={drv}{opts} && {} && docker buildx create{} --append --name {name}{opts} {}",
                Self::platform(&self.local_arches()),
                self.create_remote_context(),
                Self::platform(&self.remote_arches()),
                self.remote_context_name()
            )),
            BuilderKind::Cloud => Some(format!("docker buildx create --driver {drv}")),
        }
    }

    /// `kamal build remove` (none for the docker driver).
    pub fn remove(&self) -> Option<String> {
        let name = self.builder_name();
        match self.kind() {
            BuilderKind::Local | BuilderKind::Pack if self.docker_driver() => None,
            BuilderKind::Remote | BuilderKind::Hybrid => Some(format!("docker context rm {} ; docker buildx rm {name}", self.remote_context_name())),
            _ => Some(format!("docker buildx rm {name}")),
        }
    }

    /// `kamal build details` (after its `Builder: <kind>` line).
    pub fn info(&self) -> String {
        match self.kind() {
            BuilderKind::Remote | BuilderKind::Hybrid => "docker context ls ; docker buildx ls".into(),
            _ => "docker context ls && docker buildx ls".into(),
        }
    }

    /// The check before a push that the builder exists (and, remote, points at the remote).
    pub fn inspect_builder(&self) -> Option<String> {
        let name = self.builder_name();
        match self.kind() {
            BuilderKind::Remote | BuilderKind::Hybrid => {
                let ctx = self.remote_context_name();
                Some(format!(
                    "docker buildx inspect {name} | grep -q Endpoint:.*{ctx} && docker context inspect {ctx} --format {ENDPOINT_HOST} | grep -xq {} || (echo no compatible builder && exit 1)",
                    self.remote_url()
                ))
            }
            _ if self.docker_driver() => None,
            _ => Some(format!("docker buildx inspect {name}")),
        }
    }

    /// Kamal logs in locally before a local or hybrid build, not before a remote one.
    pub fn login_to_registry_locally(&self) -> bool {
        !matches!(self.kind(), BuilderKind::Remote | BuilderKind::Hybrid)
    }

    /// Environment of the build command (remote builders take no client token).
    pub fn push_env(&self) -> Vec<(String, String)> {
        match self.kind() {
            BuilderKind::Remote | BuilderKind::Hybrid => vec![("BUILDKIT_NO_CLIENT_TOKEN".into(), "1".into())],
            _ => vec![],
        }
    }

    fn cache_image_ref(&self, c: &crate::kamal::BuildCache) -> String {
        let image = c.image.clone().unwrap_or_else(|| format!("{}-build-cache", self.app.image));
        match self.app.registry.server.as_deref() {
            Some(s) => format!("{s}/{image}"),
            None => image,
        }
    }

    /// `--cache-to …, --cache-from …`, both or neither.
    fn cache_options(&self) -> Option<(String, String)> {
        let c = self.app.build.cache.as_ref()?;
        match c.kind.as_str() {
            "gha" => {
                let allowed: Vec<&str> = c
                    .options
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .filter(|o| ["url=", "url_v2=", "token=", "scope=", "timeout="].iter().any(|p| o.starts_with(p)))
                    .collect();
                let from = std::iter::once("type=gha").chain(allowed).collect::<Vec<_>>().join(",");
                let to = std::iter::once("type=gha").chain(c.options.as_deref()).collect::<Vec<_>>().join(",");
                Some((to, from))
            }
            "registry" => {
                let r = format!("type=registry,ref={}", self.cache_image_ref(c));
                let to = match &c.options {
                    Some(o) => format!("{r},{o}"),
                    None => r.clone(),
                };
                Some((to, r))
            }
            _ => None,
        }
    }

    /// The build options after the tags: cache, label, args, secrets, file, target, ssh,
    /// provenance, sbom.
    fn build_options(&self) -> Vec<String> {
        let b = &self.app.build;
        let mut o = vec![];
        if let Some((to, from)) = self.cache_options() {
            o.extend(["--cache-to".into(), to, "--cache-from".into(), from]);
        }
        o.extend(["--label".into(), format!("service={}", escape_shell_value(&self.app.service))]);
        for (k, v) in &b.args {
            o.extend(["--build-arg".into(), if v.is_empty() { k.clone() } else { format!("{k}={}", escape_shell_value(v)) }]);
        }
        for s in &b.secrets {
            o.extend(["--secret".into(), format!("id={}", escape_shell_value(s))]);
        }
        o.extend(["--file".into(), self.app.dockerfile.clone()]);
        let key_only = [("--target", &b.target), ("--ssh", &b.ssh), ("--provenance", &b.provenance), ("--sbom", &b.sbom)];
        for (flag, v) in key_only {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                o.extend([flag.to_string(), v.clone()]);
            }
        }
        o
    }

    /// The image tags of a build (`-dirty` for `build dev`).
    pub fn tags(&self, version: &str, dirty: bool) -> Vec<String> {
        let suffix = if dirty { "-dirty" } else { "" };
        vec![format!("{}{suffix}", self.app.image_ref(version)), format!("{}{suffix}", self.app.latest_image())]
    }

    /// `docker buildx build --output=type=<output> …` (Kamal's `push`; `build dev` tags as dirty).
    pub fn push(&self, version: &str, output: &str, dirty: bool, no_cache: bool) -> String {
        let mut a = vec!["docker".to_string(), "buildx".into(), "build".into(), format!("--output=type={output}")];
        let arches = self.arches();
        if !arches.is_empty() {
            a.extend(["--platform".into(), arches.iter().map(|x| format!("linux/{x}")).collect::<Vec<_>>().join(",")]);
        }
        if !self.docker_driver() {
            a.extend(["--builder".into(), self.builder_name()]);
        }
        for t in self.tags(version, dirty) {
            a.extend(["-t".into(), t]);
        }
        a.extend(self.build_options());
        if no_cache {
            a.push("--no-cache".into());
        }
        a.push(self.app.context.clone());
        a.push("2>&1".into());
        a.join(" ")
    }
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
