//! The resolved slice of an app's Kamal configuration the engine needs. Built from the shared
//! `config` module (see `from_config`) or, for tests and until it lands, by hand.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// `builder:` beyond dockerfile/context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildOptions {
    /// `builder.arch` (one or more of amd64, arm64).
    pub arch: Vec<String>,
    /// `builder.args`, as `--build-arg K=V`.
    pub args: Vec<(String, String)>,
    /// `builder.secrets`: secret names passed to the build.
    pub secrets: Vec<String>,
    pub target: Option<String>,
    /// `builder.context` was set: build the app dir as it is instead of a clean git clone.
    pub context_set: bool,
    /// `builder.driver` (Kamal's default: `docker-container`).
    pub driver: String,
    /// `builder.remote`: the build host (`ssh://user@host:port` or a docker host URL).
    pub remote: Option<String>,
    /// `builder.local: false`: every arch builds on the remote.
    pub local_disabled: bool,
    /// `builder.cache`.
    pub cache: Option<BuildCache>,
    /// `builder.ssh`, `builder.provenance`, `builder.sbom` as Kamal prints them.
    pub ssh: Option<String>,
    pub provenance: Option<String>,
    pub sbom: Option<String>,
    /// `builder.pack` (buildpacks) is set.
    pub pack: bool,
}

/// `builder.cache`: `type` (gha or registry), `image`, `options`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildCache {
    pub kind: String,
    pub image: Option<String>,
    pub options: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// `registry.server`; `None` means Docker Hub.
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProxySpec {
    /// `proxy.hosts` / comma-split `proxy.host`.
    pub hosts: Vec<String>,
    pub app_port: u16,
    pub ssl: bool,
    pub healthcheck_interval: Option<u64>,
    pub healthcheck_timeout: Option<u64>,
    pub healthcheck_path: Option<String>,
    pub response_timeout: Option<u64>,
    pub buffer_requests: bool,
    pub buffer_responses: bool,
    pub buffer_memory: Option<String>,
    pub max_request_body: Option<String>,
    pub max_response_body: Option<String>,
    pub path_prefix: Vec<String>,
    pub strip_path_prefix: Option<bool>,
    pub forward_headers: Option<bool>,
    pub ssl_redirect: Option<bool>,
    /// `None` → Kamal's default list.
    pub log_request_headers: Option<Vec<String>>,
    pub log_response_headers: Vec<String>,
    /// Deploy flags already rendered by the config module (Kamal's order and escaping),
    /// without `--target` and `--error-pages` (both depend on the boot). Wins over the fields.
    pub rendered: Option<Vec<String>>,
}

impl Default for ProxySpec {
    fn default() -> Self {
        ProxySpec {
            hosts: vec![],
            app_port: 80,
            ssl: false,
            healthcheck_interval: None,
            healthcheck_timeout: None,
            healthcheck_path: None,
            response_timeout: None,
            buffer_requests: true,
            buffer_responses: true,
            buffer_memory: None,
            max_request_body: None,
            max_response_body: None,
            path_prefix: vec![],
            strip_path_prefix: None,
            forward_headers: None,
            ssl_redirect: None,
            log_request_headers: None,
            log_response_headers: vec![],
            rendered: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RoleSpec {
    pub name: String,
    /// Hosts exactly as written in deploy.yml.
    pub hosts: Vec<String>,
    pub proxy: Option<ProxySpec>,
    /// `cmd`, appended raw to `docker run`.
    pub cmd: Option<String>,
    /// Clear env, merged global → role (→ env tags per host, see `host_env`).
    pub env_clear: Vec<(String, String)>,
    /// Full clear env of a host when env tags change it (replaces `env_clear` there).
    pub host_env: BTreeMap<String, Vec<(String, String)>>,
    /// Secret env (name, value) written to the role's env file.
    pub env_secret: Vec<(String, String)>,
    /// Secret env of a host whose env tags add or change secrets (replaces `env_secret` there).
    pub host_env_secret: BTreeMap<String, Vec<(String, String)>>,
    /// A secret of this role (or of one of its hosts' env tags) could not be resolved. Kamal
    /// resolves secrets lazily, so only what writes the env file fails on it (naming the key
    /// and the secrets file); read-only commands keep working.
    pub env_secret_error: Option<String>,
    /// Global labels then role labels (later wins; kept in order).
    pub labels: Vec<(String, String)>,
    /// Role `options:` as `--k "v"` (value `None` = bare flag).
    pub options: Vec<(String, Option<String>)>,
    pub asset_path: Option<String>,
    /// Docker options already rendered by the config module (used after `options`).
    pub option_args: Vec<String>,
    /// Logging args already rendered by the config module (root merged with role); wins over
    /// the app-level logging.
    pub logging_args: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootLimit {
    Count(usize),
    Percent(usize),
}

#[derive(Debug, Clone)]
pub struct AppSpec {
    pub service: String,
    pub destination: Option<String>,
    /// `image` (without registry).
    pub image: String,
    pub registry: Registry,
    /// Roles in deploy.yml order.
    pub roles: Vec<RoleSpec>,
    pub primary_role: String,
    pub volumes: Vec<String>,
    pub log_driver: Option<String>,
    pub log_options: Vec<(String, String)>,
    pub error_pages_path: Option<String>,
    pub deploy_timeout: u64,
    pub drain_timeout: u64,
    pub readiness_delay: u64,
    pub retain_containers: usize,
    pub boot_limit: Option<BootLimit>,
    pub boot_wait: Option<u64>,
    /// Directory holding hooks (`.kamal/hooks` unless `hooks_path`), relative to the app dir.
    pub hooks_path: PathBuf,
    /// All secrets from the secrets files (exported to pre-connect/pre-deploy/post-deploy hooks).
    pub secrets: Vec<(String, String)>,
    /// The registry username/password secret could not be resolved (raised at login only).
    pub registry_secret_error: Option<String>,
    pub ssh_user: String,
    pub ssh_port: u16,
    pub ssh_keys: Vec<PathBuf>,
    /// Kamal's whole `ssh:` section for kdeck's own connections (proxy jump, keys_only,
    /// key_data, config files); `ssh_user`/`ssh_port`/`ssh_keys` above are its plain parts.
    pub ssh: crate::ssh::SshOptions,
    /// Build: Dockerfile and context (relative to the app dir).
    pub dockerfile: String,
    pub context: String,
    pub build: BuildOptions,
    /// App dir (where deploy.yml's `config/` lives); hooks and builds run here.
    pub root: PathBuf,
    /// `accessories:`, deploy.yml order (hosts not narrowed by `-r`; `-h` narrows them).
    pub accessories: Vec<AccessorySpec>,
    /// Hosts whose kamal-proxy boots from `proxy: run:` (the others from `.kamal/proxy/*`).
    pub proxy_runs: std::collections::BTreeMap<String, crate::config::proxy_run::ProxyRun>,
}

impl Default for AppSpec {
    fn default() -> Self {
        AppSpec {
            service: String::new(),
            destination: None,
            image: String::new(),
            registry: Registry::default(),
            roles: vec![],
            primary_role: "web".into(),
            volumes: vec![],
            log_driver: None,
            log_options: vec![],
            error_pages_path: None,
            deploy_timeout: 30,
            drain_timeout: 30,
            readiness_delay: 7,
            retain_containers: 5,
            boot_limit: None,
            boot_wait: None,
            hooks_path: PathBuf::from(".kamal/hooks"),
            secrets: vec![],
            registry_secret_error: None,
            ssh_user: "root".into(),
            ssh_port: 22,
            ssh_keys: vec![],
            ssh: Default::default(),
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            build: BuildOptions::default(),
            root: PathBuf::from("."),
            accessories: vec![],
            proxy_runs: Default::default(),
        }
    }
}

impl RoleSpec {
    /// The secret env written to this host's env file.
    pub fn env_secret_for(&self, host: &str) -> &[(String, String)] {
        self.host_env_secret.get(host).map(Vec::as_slice).unwrap_or(&self.env_secret)
    }
}

impl AppSpec {
    /// The first unresolved secret among what an action needs: the env files of the roles in
    /// scope (`env`) and/or the registry login (`registry`).
    pub fn secret_error(&self, env: bool, registry: bool) -> Option<String> {
        if registry && !self.local_registry() {
            if let Some(e) = &self.registry_secret_error {
                return Some(e.clone());
            }
        }
        if env {
            return self.roles.iter().find_map(|r| r.env_secret_error.clone());
        }
        None
    }

    /// `<svc>` or `<svc>-<dest>`.
    pub fn service_and_destination(&self) -> String {
        service_and_destination(&self.service, self.destination.as_deref())
    }

    /// `<registry.server>/<image>` (server omitted when unset).
    pub fn repository(&self) -> String {
        match &self.registry.server {
            Some(s) if !s.is_empty() => format!("{}/{}", s, self.image),
            _ => self.image.clone(),
        }
    }

    /// `latest[-<destination>]` (the rule lives with the config, as in Kamal).
    pub fn latest_tag(&self) -> String {
        crate::config::latest_tag(self.destination.as_deref())
    }

    pub fn image_ref(&self, version: &str) -> String {
        format!("{}:{}", self.repository(), version)
    }

    pub fn latest_image(&self) -> String {
        self.image_ref(&self.latest_tag())
    }

    pub fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// `<svc>-<role>[-<dest>]`.
    pub fn prefix(&self, role: &str) -> String {
        match &self.destination {
            Some(d) => format!("{}-{}-{}", self.service, role, d),
            None => format!("{}-{}", self.service, role),
        }
    }

    pub fn container_name(&self, role: &str, version: &str) -> String {
        format!("{}-{}", self.prefix(role), version)
    }

    /// All hosts, deploy.yml order, deduplicated.
    pub fn all_hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![];
        for r in &self.roles {
            for h in &r.hosts {
                if !v.contains(h) {
                    v.push(h.clone());
                }
            }
        }
        v
    }

    /// Primary-role hosts first, then the rest (Kamal's boot order).
    pub fn hosts_primary_first(&self) -> Vec<String> {
        let mut v: Vec<String> = self.role(&self.primary_role).map(|r| r.hosts.clone()).unwrap_or_default();
        for h in self.all_hosts() {
            if !v.contains(&h) {
                v.push(h);
            }
        }
        v
    }

    pub fn primary_host(&self) -> Option<String> {
        self.role(&self.primary_role).and_then(|r| r.hosts.first().cloned()).or_else(|| self.all_hosts().into_iter().next())
    }

    /// Roles on a host, primary role first then deploy.yml order.
    pub fn roles_on(&self, host: &str) -> Vec<&RoleSpec> {
        let mut v: Vec<&RoleSpec> = self.roles.iter().filter(|r| r.hosts.iter().any(|h| h == host)).collect();
        v.sort_by_key(|r| if r.name == self.primary_role { 0 } else { 1 });
        v
    }

    /// Every (host, role) pair: hosts in config order, each host's roles primary first (what
    /// `app exec` runs on).
    pub fn host_roles(&self) -> Vec<(String, RoleSpec)> {
        self.all_hosts().into_iter().flat_map(|h| self.roles_on(&h).into_iter().map(|r| (h.clone(), r.clone())).collect::<Vec<_>>()).collect()
    }

    pub fn proxy_hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![];
        for r in self.roles.iter().filter(|r| r.proxy.is_some()) {
            for h in &r.hosts {
                if !v.contains(h) {
                    v.push(h.clone());
                }
            }
        }
        v
    }

    /// Split hosts into sequential boot groups per `boot.limit`.
    pub fn boot_groups(&self, hosts: &[String]) -> Vec<Vec<String>> {
        let n = match self.boot_limit {
            None => hosts.len().max(1),
            Some(BootLimit::Count(n)) => n.max(1),
            Some(BootLimit::Percent(p)) => ((hosts.len() * p) / 100).max(1),
        };
        hosts.chunks(n).map(|c| c.to_vec()).collect()
    }

    /// Is the registry a local `localhost:PORT` one (Kamal skips `docker login` for it)?
    pub fn local_registry(&self) -> bool {
        self.registry.server.as_deref().is_some_and(|s| s.starts_with("localhost:") || s.starts_with("127.0.0.1:"))
    }
}

// ---------------------------------------------------------------- accessories

/// A `files:` entry: uploaded to `host_path` (relative to the ssh user's home), mounted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessoryFile {
    /// Absolute local path (`File.expand_path` against the app dir).
    pub local: std::path::PathBuf,
    /// `<service>/<remote>` (Kamal: `service_name + remote`).
    pub host_path: String,
    pub container_path: String,
    pub options: Option<String>,
    /// Octal mode as written (default `755`).
    pub mode: String,
    pub owner: Option<String>,
}

/// A `directories:` entry: created on the host, mounted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessoryDir {
    /// What `mkdir -p` gets: absolute as written, else `$PWD/<service>/<path>`.
    pub make_path: String,
    /// The volume's host side: absolute as written, else `<service>/<path>`.
    pub host_path: String,
    pub container_path: String,
    pub options: Option<String>,
    pub mode: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AccessorySpec {
    /// The key under `accessories:`.
    pub name: String,
    /// `service:` or `<app service>-<name>`: container name and `service` label.
    pub service_name: String,
    /// `[registry.server/]image`.
    pub image: String,
    /// `host`, `hosts` or the hosts of `role`/`roles`/`tag(s)`, deploy.yml order.
    pub hosts: Vec<String>,
    /// `port:` as `docker run --publish` takes it.
    pub port: Option<String>,
    pub network: String,
    /// `--env K="v"` arguments already rendered (Kamal's escaping), without `KAMAL_HOST`.
    pub env_clear_args: Vec<String>,
    /// The clear env as values (what `*.erb` files see in `ENV`, with the secrets).
    pub env_clear: Vec<(String, String)>,
    /// Secret env (name, value) written to the env file.
    pub env_secret: Vec<(String, String)>,
    /// A secret could not be resolved (raised only by actions that write the env file).
    pub env_secret_error: Option<String>,
    /// `volumes:` as written.
    pub volumes: Vec<String>,
    pub files: Vec<AccessoryFile>,
    pub directories: Vec<AccessoryDir>,
    /// `--label k="v"` arguments already rendered (`service` first).
    pub label_args: Vec<String>,
    /// `options:` rendered as Kamal's `optionize`.
    pub option_args: Vec<String>,
    pub cmd: Option<String>,
    /// The accessory's own `registry:` (else the app's registry is used for login).
    pub registry: Option<Registry>,
    pub registry_secret_error: Option<String>,
    /// The app's logging arguments (Kamal uses `config.logging_args` for accessories).
    pub logging_args: Vec<String>,
    /// `proxy:`: kamal-proxy deploy flags as the config module renders them (without
    /// `--target`), and the app port the target points at.
    pub proxy: Option<(Vec<String>, String)>,
    /// A setting kdeck cannot carry out yet (boot refuses the accessory with this message).
    pub unsupported: Option<String>,
}

impl AppSpec {
    pub fn accessory(&self, name: &str) -> Option<&AccessorySpec> {
        self.accessories.iter().find(|a| a.name == name)
    }

    /// Kamal's error for a name that is not under `accessories:`.
    pub fn missing_accessory_error(&self, name: &str) -> String {
        let names: Vec<&str> = self.accessories.iter().map(|a| a.name.as_str()).collect();
        let options = match names.len() {
            0 => String::new(),
            1 => format!(" (options: {})", names[0]),
            2 => format!(" (options: {} and {})", names[0], names[1]),
            n => format!(" (options: {}, and {})", names[..n - 1].join(", "), names[n - 1]),
        };
        format!("No accessory by the name of '{name}'{options}")
    }

    /// `NAME` or `all` → the accessories, deploy.yml order.
    pub fn select_accessories(&self, name: &str) -> Result<Vec<&AccessorySpec>, String> {
        if name == "all" {
            return Ok(self.accessories.iter().collect());
        }
        self.accessory(name).map(|a| vec![a]).ok_or_else(|| self.missing_accessory_error(name))
    }
}

/// `<service>` or `<service>-<destination>`: Kamal's name for the app's files and lock.
pub fn service_and_destination(service: &str, destination: Option<&str>) -> String {
    match destination {
        Some(d) => format!("{service}-{d}"),
        None => service.to_string(),
    }
}
