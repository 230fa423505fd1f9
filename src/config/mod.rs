//! config: Kamal configuration read exactly as Kamal 2.11 reads it.
//!
//! # API (stable; later changes are additive)
//!
//! ```no_run
//! use kdeck::config::{Config, LoadOptions};
//! let cfg = Config::load(&LoadOptions {
//!     config_file: "config/deploy.yml".into(),   // `-c`; relative to `cwd`
//!     destination: Some("staging".into()),        // `-d`
//!     version: None,                              // `--version` > $VERSION > git rev-parse HEAD
//!     cwd: None,                                  // None = the process's current dir
//!     env: None,                                  // None = the process env (ERB ENV, $VAR, commands)
//! })?;
//! for role in cfg.roles() {                      // sorted by name, like Kamal
//!     for host in role.hosts() {                 // Kamal's order
//!         let env = role.env_for(host);          // clear + secret keys (per-host tags applied)
//!         let clear = env.clear_strings();       // Vec<(String, String)>
//!         let secret = env.resolve_secrets(cfg.secrets())?; // values, resolved lazily
//!     }
//!     if let Some(p) = role.proxy() { let _args = p.deploy_command_args("web-abc"); }
//! }
//! let _ = (cfg.service(), cfg.hosts(), cfg.primary_host(), cfg.repository(), cfg.latest_tag());
//! let _ = cfg.registry().password(cfg.secrets())?;    // resolved lazily
//! # Ok::<(), kdeck::config::ConfigError>(())
//! ```
//!
//! Loading: ERB (the subset in [`erb`]) → YAML as Psych reads it ([`yaml`]) → top-level keys
//! symbolized → destination overlay deep-merged → validated like Kamal (errors name file and
//! key path) → derived values. Secrets ([`secrets`]) are only read when asked for.
//! Nothing here prints; nothing here touches the terminal. `Config` is `Clone + Send + Sync`
//! (secrets are shared and resolved once). Resolving secrets may run local commands
//! (`$(…)` in `.kamal/secrets`): from async code call it inside `spawn_blocking`.
//! Per-host env: `role.env_for(host)` (root env < role env < the host's env tags); its
//! `secret_aliases()` / `resolve_secrets()` cover secrets added by tags too.

pub mod backtick;
pub mod dump;
pub mod erb;
pub mod error;
pub mod model;
mod names;
pub mod proxy_run;
pub mod schema;
pub mod secrets;
pub mod shell;
pub mod validate;
pub mod value;
pub mod yaml;

pub use error::{ConfigError, ErrorKind, Result};
pub use model::{Accessory, Boot, Env, Proxy, Registry, Role, Ssh, SshProxy};
use names::primary_role_name;
pub use names::{filter_specific, latest_tag};
pub use secrets::Secrets;
pub use value::{Map, Value};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How to load a configuration. `cwd`/`env` make loading independent of the process state
/// (tests run corpus cases in parallel this way).
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub config_file: PathBuf,
    pub destination: Option<String>,
    pub version: Option<String>,
    pub cwd: Option<PathBuf>,
    pub env: Option<BTreeMap<String, String>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { config_file: PathBuf::from("config/deploy.yml"), destination: None, version: None, cwd: None, env: None }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The merged raw config (after ERB, YAML, deep merge), top-level keys as strings.
    raw: Map,
    destination: Option<String>,
    version: std::result::Result<String, ConfigError>,
    cwd: PathBuf,
    config_file: PathBuf,
    files: Vec<PathBuf>,
    env: BTreeMap<String, String>,
    secrets: Secrets,
    roles: Vec<Role>,
    accessories: Vec<Accessory>,
    aliases: Vec<(String, Value)>,
    boot: Boot,
    registry: Registry,
    ssh: Ssh,
    root_proxy: Option<Proxy>,
    root_env: Env,
    env_tags: Vec<(String, Env)>,
}

/// Kamal's `Pathname#sub_ext(".<dest>.yml")`.
pub fn destination_file(config_file: &Path, dest: &str) -> PathBuf {
    let name = config_file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let stem = match name.rfind('.') {
        Some(i) if i > 0 => name[..i].to_string(),
        _ => name.clone(),
    };
    config_file.with_file_name(format!("{stem}.{dest}.yml"))
}

/// Load one file: ERB → YAML → top-level keys symbolized (here: made strings).
fn load_file(path: &Path, shown: &Path, cwd: &Path, env: &mut BTreeMap<String, String>) -> Result<Map> {
    if !path.exists() {
        return Err(ConfigError::new(ErrorKind::MissingFile, format!("Configuration file not found in {}", path.display())).with_file(shown));
    }
    let bytes = std::fs::read(path).map_err(|e| ConfigError::new(ErrorKind::Io, format!("cannot read configuration file: {e}")).with_file(shown))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| ConfigError::new(ErrorKind::Yaml, format!("not valid UTF-8 text (byte {})", e.utf8_error().valid_up_to())).with_file(shown))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf());
    let mut ctx = erb::ErbContext { env, cwd, dir, file: shown.to_path_buf() };
    let rendered = erb::render(&text, &mut ctx).map_err(|e| e.with_file(shown))?;
    let had_erb = text.contains("<%");
    let v = yaml::parse(&rendered).map_err(|e| {
        let note = if had_erb && rendered.lines().count() != text.lines().count() { " of the ERB-rendered text" } else { "" };
        let err = ConfigError::new(ErrorKind::Yaml, format!("YAML syntax error: {} at line {} column {}{note}", e.message, e.line, e.col)).with_file(shown);
        if note.is_empty() {
            err.with_line(e.line)
        } else {
            err
        }
    })?;
    match v {
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.0 {
                let k = match k {
                    Value::Sym(s) => Value::Str(s),
                    other => other,
                };
                out.insert(k, v);
            }
            Ok(out)
        }
        other => Err(ConfigError::new(
            ErrorKind::Yaml,
            format!("the file must hold a YAML hash of settings, found {} (undefined method `symbolize_keys' for {})", describe_top(&other), other.inspect()),
        )
        .with_file(shown)),
    }
}

fn describe_top(v: &Value) -> &'static str {
    match v {
        Value::Bool(false) => "an empty document",
        Value::Nil => "nothing",
        Value::Seq(_) => "a list",
        _ => "a single value",
    }
}

impl Config {
    /// Load, merge, validate and resolve, like `Kamal::Configuration.create_from`.
    pub fn load(opts: &LoadOptions) -> Result<Config> {
        let cwd = match &opts.cwd {
            Some(c) => c.clone(),
            None => std::env::current_dir().map_err(|e| ConfigError::new(ErrorKind::Io, format!("no current directory: {e}")))?,
        };
        let mut env: BTreeMap<String, String> = match &opts.env {
            Some(e) => e.clone(),
            None => std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect(),
        };
        match &opts.destination {
            Some(d) => env.insert("KAMAL_DESTINATION".into(), d.clone()),
            None => env.remove("KAMAL_DESTINATION"),
        };
        let raw = Self::load_raw_with(&opts.config_file, opts.destination.as_deref(), &cwd, &mut env)?;
        let mut files = vec![opts.config_file.clone()];
        if let Some(d) = &opts.destination {
            files.push(destination_file(&opts.config_file, d));
        }
        // Kamal builds from a git clone unless builder.context is set; only then does a dirty
        // tree add `_uncommitted_<hex>` to the version.
        let context_set = raw.get("builder").and_then(Value::as_map).and_then(|b| b.get("context")).is_some_and(|c| !c.is_nil());
        let version = resolve_version(opts.version.as_deref(), &env, &cwd, context_set);
        let shown = opts.config_file.clone();
        model::build(raw, opts.destination.clone(), version, cwd, shown, files, env).map_err(|e| {
            let f = e.file.clone();
            if f.is_none() {
                e.with_file(opts.config_file.clone())
            } else {
                e
            }
        })
    }

    /// Only the merged raw config (ERB + YAML + overlay), before validation — Kamal's
    /// `load_raw_config`.
    pub fn load_raw(opts: &LoadOptions) -> Result<Map> {
        let cwd = opts.cwd.clone().unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
        let mut env: BTreeMap<String, String> =
            opts.env.clone().unwrap_or_else(|| std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect());
        match &opts.destination {
            Some(d) => env.insert("KAMAL_DESTINATION".into(), d.clone()),
            None => env.remove("KAMAL_DESTINATION"),
        };
        Self::load_raw_with(&opts.config_file, opts.destination.as_deref(), &cwd, &mut env)
    }

    fn load_raw_with(config_file: &Path, destination: Option<&str>, cwd: &Path, env: &mut BTreeMap<String, String>) -> Result<Map> {
        let abs = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
        let mut raw = load_file(&abs(config_file), config_file, cwd, env)?;
        if let Some(d) = destination {
            let f = destination_file(config_file, d);
            let overlay = load_file(&abs(&f), &f, cwd, env)?;
            raw = raw.deep_merge(&overlay);
        }
        Ok(raw)
    }

    // ------------------------------------------------------------------ accessors

    /// The merged raw configuration (top-level keys as strings).
    pub fn raw(&self) -> &Map {
        &self.raw
    }
    pub fn raw_get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key)
    }
    pub fn service(&self) -> &str {
        self.raw.get("service").and_then(Value::as_str).unwrap_or("")
    }
    /// The image name (`image`, or `service` with a localhost registry).
    pub fn image(&self) -> String {
        match self.raw.get("image") {
            Some(v) if v.present() => v.to_rstring(),
            _ if self.registry.is_local() => self.service().to_string(),
            _ => String::new(),
        }
    }
    pub fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }
    /// The version to deploy: `--version` > `$VERSION` > `git rev-parse HEAD`
    /// (with `_uncommitted_<hex>` when the tree is dirty and `builder.context` is set).
    pub fn version(&self) -> Result<&str> {
        self.version.as_ref().map(String::as_str).map_err(Clone::clone)
    }
    /// Override the version (Kamal's `config.version=`).
    pub fn set_version(&mut self, v: impl Into<String>) {
        self.version = Ok(v.into());
    }
    pub fn abbreviated_version(&self) -> Option<String> {
        let v = self.version.as_ref().ok()?;
        Some(if v.contains('_') { v.clone() } else { v.chars().take(7).collect() })
    }
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }
    /// The config files read (base, then overlay).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
    /// The environment ERB and secrets see (process env or the explicit one, + Dotenv.load).
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }
    /// Role names, sorted (with `servers:` as a list: `["web"]`).
    pub fn role_names(&self) -> Vec<&str> {
        self.roles.iter().map(|r| r.name.as_str()).collect()
    }
    pub fn accessories(&self) -> &[Accessory] {
        &self.accessories
    }
    pub fn accessory(&self, name: &str) -> Option<&Accessory> {
        self.accessories.iter().find(|a| a.name == name)
    }
    /// Every host: roles in sorted order, then accessories, duplicates removed.
    pub fn hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for h in self.roles.iter().flat_map(|r| r.hosts.iter()).chain(self.accessories.iter().flat_map(|a| a.hosts.iter())) {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
        out
    }
    /// Hosts of app roles only.
    pub fn app_hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for h in self.roles.iter().flat_map(|r| r.hosts.iter()) {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
        out
    }
    /// Hosts running kamal-proxy (proxy roles, then proxy accessories).
    pub fn proxy_hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let hosts = self
            .roles
            .iter()
            .filter(|r| r.running_proxy)
            .flat_map(|r| r.hosts.iter())
            .chain(self.accessories.iter().filter(|a| a.running_proxy()).flat_map(|a| a.hosts.iter()));
        for h in hosts {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
        out
    }
    pub fn host_roles(&self, host: &str) -> Vec<&Role> {
        self.roles.iter().filter(|r| r.hosts.iter().any(|h| h == host)).collect()
    }
    pub fn primary_role_name(&self) -> String {
        primary_role_name(&self.raw)
    }
    pub fn primary_role(&self) -> Option<&Role> {
        self.role(&self.primary_role_name())
    }
    pub fn primary_host(&self) -> Option<&str> {
        self.primary_role().and_then(|r| r.hosts.first()).map(String::as_str)
    }
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    /// `[registry.server/]image`
    pub fn repository(&self) -> String {
        match self.registry.server() {
            Some(s) => format!("{s}/{}", self.image()),
            None => self.image(),
        }
    }
    pub fn absolute_image(&self) -> Result<String> {
        Ok(format!("{}:{}", self.repository(), self.version()?))
    }
    /// `latest` or `latest-<destination>`.
    pub fn latest_tag(&self) -> String {
        latest_tag(self.destination.as_deref())
    }
    pub fn latest_image(&self) -> String {
        format!("{}:{}", self.repository(), self.latest_tag())
    }
    pub fn service_with_version(&self) -> Result<String> {
        Ok(format!("{}-{}", self.service(), self.version()?))
    }
    /// `service` or `service-destination`.
    pub fn service_and_destination(&self) -> String {
        match &self.destination {
            Some(d) => format!("{}-{d}", self.service()),
            None => self.service().to_string(),
        }
    }
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }
    pub fn secrets_path(&self) -> String {
        self.raw_str("secrets_path").unwrap_or_else(|| ".kamal/secrets".into())
    }
    pub fn hooks_path(&self) -> String {
        self.raw_str("hooks_path").unwrap_or_else(|| ".kamal/hooks".into())
    }
    pub fn asset_path(&self) -> Option<String> {
        self.raw_str("asset_path")
    }
    pub fn error_pages_path(&self) -> Option<String> {
        self.raw_str("error_pages_path")
    }
    fn raw_str(&self, k: &str) -> Option<String> {
        self.raw.get(k).filter(|v| !v.is_nil()).map(Value::to_rstring)
    }
    fn raw_int(&self, k: &str, default: i64) -> i64 {
        match self.raw.get(k) {
            Some(Value::Int(i)) => *i,
            _ => default,
        }
    }
    pub fn require_destination(&self) -> bool {
        self.raw.get("require_destination").is_some_and(Value::truthy)
    }
    pub fn allow_empty_roles(&self) -> bool {
        self.raw.get("allow_empty_roles").is_some_and(Value::truthy)
    }
    pub fn retain_containers(&self) -> i64 {
        self.raw_int("retain_containers", 5)
    }
    pub fn readiness_delay(&self) -> i64 {
        self.raw_int("readiness_delay", 7)
    }
    pub fn deploy_timeout(&self) -> i64 {
        self.raw_int("deploy_timeout", 30)
    }
    pub fn drain_timeout(&self) -> i64 {
        self.raw_int("drain_timeout", 30)
    }
    pub fn minimum_version(&self) -> Option<String> {
        self.raw_str("minimum_version")
    }
    /// Where Kamal keeps its files on hosts (always `.kamal` in 2.11).
    pub fn run_directory(&self) -> &'static str {
        ".kamal"
    }
    /// `.kamal/apps/<service[-destination]>`
    pub fn app_directory(&self) -> String {
        format!(".kamal/apps/{}", self.service_and_destination())
    }
    pub fn env_directory(&self) -> String {
        format!("{}/env", self.app_directory())
    }
    pub fn boot(&self) -> &Boot {
        &self.boot
    }
    pub fn ssh(&self) -> &Ssh {
        &self.ssh
    }
    /// `aliases` as (name, command).
    pub fn aliases(&self) -> Vec<(String, String)> {
        self.aliases.iter().map(|(k, v)| (k.clone(), v.to_rstring())).collect()
    }
    /// `aliases` with the commands as written (a number stays a number).
    pub fn aliases_raw(&self) -> &[(String, Value)] {
        &self.aliases
    }
    /// Top-level `labels` (raw values as strings).
    pub fn labels(&self) -> Vec<(String, String)> {
        match self.raw.get("labels") {
            Some(Value::Map(m)) => m.iter().map(|(k, v)| (k.to_rstring(), v.to_rstring())).collect(),
            _ => vec![],
        }
    }
    pub fn volume_args(&self) -> Vec<String> {
        match self.raw.get("volumes") {
            Some(v) if v.present() => shell::argumentize("--volume", v),
            _ => vec![],
        }
    }
    pub fn logging_args(&self) -> Vec<String> {
        model::logging_args(self.raw.get("logging"))
    }
    /// The root `proxy` section (what roles merge their own settings over).
    pub fn root_proxy(&self) -> Option<&Proxy> {
        self.root_proxy.as_ref()
    }
    pub fn root_env(&self) -> &Env {
        &self.root_env
    }
    /// `env.tags` in config order.
    pub fn env_tags(&self) -> &[(String, Env)] {
        &self.env_tags
    }
    /// The raw `builder` section (what `kamal config` prints).
    pub fn builder_raw(&self) -> Map {
        self.raw.get("builder").and_then(Value::as_map).cloned().unwrap_or_default()
    }
    pub fn sshkit_raw(&self) -> Map {
        self.raw.get("sshkit").and_then(Value::as_map).cloned().unwrap_or_default()
    }
    /// Resolve every secret the configuration refers to (registry credentials, env secrets
    /// of every role/host and accessory, builder secrets, custom SSL certificates) and report
    /// the first problem naming the key that needs it and the secrets file. Kamal only
    /// finds these at deploy time; kdeck checks before acting.
    pub fn check_secrets(&self) -> Result<()> {
        let s = &self.secrets;
        let keyed = |r: Result<String>, key: String| {
            r.map(|_| ()).map_err(|mut e| {
                if e.key.is_none() {
                    e.key = Some(key);
                }
                e
            })
        };
        s.values().map(|_| ())?;
        for k in ["username", "password"] {
            if let Some(Value::Seq(v)) = self.registry.config.get(k) {
                let name = v.first().map(Value::to_rstring).unwrap_or_default();
                keyed(s.get(&name), format!("registry/{k}"))?;
            }
        }
        for r in &self.roles {
            for h in &r.hosts {
                for (alias, src) in r.env_for(h).secret_aliases() {
                    keyed(s.get(&src), format!("servers/{}/env/secret/{alias} (host {h})", r.name))?;
                }
            }
            if let Some((cert, key)) = r.proxy().filter(|p| p.custom_ssl_certificate()).and_then(Proxy::custom_ssl_secret_names) {
                keyed(s.get(&cert), "proxy/ssl/certificate_pem".into())?;
                keyed(s.get(&key), "proxy/ssl/private_key_pem".into())?;
            }
        }
        for a in &self.accessories {
            for (alias, src) in a.env.secret_aliases() {
                keyed(s.get(&src), format!("accessories/{}/env/secret/{alias}", a.name))?;
            }
        }
        if let Some(Value::Seq(b)) = self.builder_raw().get("secrets") {
            for n in b {
                keyed(s.get(&n.to_rstring()), "builder/secrets".into())?;
            }
        }
        Ok(())
    }

    /// `kamal config` output as a value tree (what `kdeck config` prints).
    pub fn kamal_config_value(&self) -> Result<Value> {
        dump::kamal_config(self)
    }
}

/// `--version` > `$VERSION` > `git rev-parse HEAD` (+ `_uncommitted_<hex>` when dirty and
/// not building from a git clone).
fn resolve_version(declared: Option<&str>, env: &BTreeMap<String, String>, cwd: &Path, builder_context_set: bool) -> std::result::Result<String, ConfigError> {
    if let Some(v) = declared.filter(|v| !v.trim().is_empty()) {
        return Ok(v.to_string());
    }
    if let Some(v) = env.get("VERSION") {
        return Ok(v.clone());
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .envs(env)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
    };
    let used = git(&["rev-parse"]).is_some_and(|o| o.status.success());
    if !used {
        return Err(ConfigError::new(
            ErrorKind::Version,
            format!("Can't use commit hash as version, no git repository found in {} (pass --version or set $VERSION)", cwd.display()),
        ));
    }
    let rev = git(&["rev-parse", "HEAD"]).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let dirty = builder_context_set && git(&["status", "--porcelain"]).is_some_and(|o| !String::from_utf8_lossy(&o.stdout).trim().is_empty());
    if dirty {
        use rand::Rng;
        let hex: String = (0..8).map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>())).collect();
        Ok(format!("{rev}_uncommitted_{hex}"))
    } else {
        Ok(rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_shareable_across_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Config>();
        assert_send_sync::<Secrets>();
    }

    #[test]
    fn destination_file_names() {
        assert_eq!(destination_file(Path::new("config/deploy.yml"), "staging"), PathBuf::from("config/deploy.staging.yml"));
        assert_eq!(destination_file(Path::new("config/deploy.ws-echo.yml"), "eu"), PathBuf::from("config/deploy.ws-echo.eu.yml"));
    }
}
