//! The resolved model (roles, env, proxy, accessories, boot, registry, ssh), built and
//! validated in the order `Kamal::Configuration#initialize` does it, so the first error
//! reported is the one Kamal reports.

use super::error::{ConfigError, ErrorKind, Result};
use super::secrets::Secrets;
use super::shell;
use super::validate::{Schema, Validator};
use super::value::{Map, Value};
use super::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;

// ------------------------------------------------------------------------------ Env

/// An env block: clear values (raw YAML values, keys as written) + secret keys
/// (`NAME` or `NAME:SECRET_NAME`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    pub clear: Map,
    pub secret_keys: Vec<String>,
}

impl Env {
    /// Kamal's `Env.new(config:)` (no validation here).
    pub fn from_config(v: &Value) -> Env {
        let Some(m) = v.as_map() else { return Env::default() };
        let clear = match m.get("clear") {
            Some(Value::Map(c)) => c.clone(),
            Some(_) => Map::new(),
            None if m.contains("secret") || m.contains("tags") => Map::new(),
            None => m.clone(),
        };
        let secret_keys = match m.get("secret") {
            Some(Value::Seq(s)) => s.iter().map(Value::to_rstring).collect(),
            _ => vec![],
        };
        Env { clear, secret_keys }
    }
    /// `clear.merge(other.clear)`, `secret_keys | other.secret_keys`.
    pub fn merge(&self, other: &Env) -> Env {
        let mut clear = self.clear.clone();
        clear.merge_from(&other.clear);
        // Ruby's `a | b` also drops duplicates within `a`.
        let mut secret_keys: Vec<String> = Vec::new();
        for k in self.secret_keys.iter().chain(other.secret_keys.iter()) {
            if !secret_keys.contains(k) {
                secret_keys.push(k.clone());
            }
        }
        Env { clear, secret_keys }
    }
    /// Clear values as strings (Ruby `to_s`).
    pub fn clear_strings(&self) -> Vec<(String, String)> {
        self.clear.iter().map(|(k, v)| (k.to_rstring(), v.to_rstring())).collect()
    }
    /// `--env KEY="value"` arguments, as Kamal passes them to `docker run`.
    pub fn clear_args(&self) -> Vec<String> {
        shell::argumentize("--env", &Value::Map(self.clear.clone()))
    }
    /// (env name, secret name) pairs: `DB_PASSWORD:MAIN_DB_PASSWORD` → (DB_PASSWORD, MAIN_DB_PASSWORD).
    pub fn secret_aliases(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for k in &self.secret_keys {
            let (name, src) = match k.split_once(':') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (k.clone(), k.clone()),
            };
            if let Some(slot) = out.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = src;
            } else {
                out.push((name, src));
            }
        }
        out
    }
    /// The secret env values (env name → value); errors name the missing secret.
    pub fn resolve_secrets(&self, secrets: &Secrets) -> Result<Vec<(String, String)>> {
        self.secret_aliases().into_iter().map(|(n, s)| Ok((n, secrets.get(&s)?))).collect()
    }
    /// Kamal's `env.to_h`: clear values then secrets (strings).
    pub fn resolved(&self, secrets: &Secrets) -> Result<Vec<(String, String)>> {
        let mut m = Map::new();
        for (k, v) in self.clear.iter() {
            m.insert(k.clone(), v.clone());
        }
        for (k, v) in self.resolve_secrets(secrets)? {
            m.insert(Value::Str(k), Value::Str(v));
        }
        Ok(m.iter().map(|(k, v)| (k.to_rstring(), v.to_rstring())).collect())
    }
}

// ------------------------------------------------------------------------------ Proxy

/// A role's (or accessory's) kamal-proxy settings.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// The effective proxy config (root deep-merged with the role's own settings).
    pub config: Map,
    pub role_name: Option<String>,
    deploy_timeout: i64,
    drain_timeout: i64,
    error_pages: Option<String>,
    app_container_directory: String,
}

impl Proxy {
    fn new(c: &Config, config: Map, role_name: Option<String>) -> Proxy {
        let app_container_directory = format!("/home/kamal-proxy/.apps-config/{}", c.service_and_destination());
        let error_pages = c.error_pages_path().map(|_| format!("{app_container_directory}/error_pages/{}", c.version().unwrap_or("")));
        Proxy { config, role_name, deploy_timeout: c.deploy_timeout(), drain_timeout: c.drain_timeout(), error_pages, app_container_directory }
    }
    /// `app_port` (default 80), as written.
    pub fn app_port(&self) -> Value {
        self.config.get("app_port").cloned().unwrap_or(Value::Int(80))
    }
    /// Kamal's `ssl?` (the raw value: `true`, `false` or the ssl hash).
    pub fn ssl_value(&self) -> Value {
        self.config.get("ssl").cloned().unwrap_or(Value::Bool(false))
    }
    pub fn ssl(&self) -> bool {
        self.ssl_value().truthy()
    }
    pub fn hosts(&self) -> Vec<String> {
        match (self.config.get("hosts"), self.config.get("host")) {
            (Some(h), _) if h.truthy() => h.as_seq().map(|s| s.iter().map(host_name).collect()).unwrap_or_default(),
            (_, Some(Value::Str(h))) => h.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect(),
            _ => vec![],
        }
    }
    pub fn path_prefixes(&self) -> Vec<String> {
        match (self.config.get("path_prefixes"), self.config.get("path_prefix")) {
            (Some(Value::Seq(s)), _) => s.iter().map(Value::to_rstring).collect(),
            (_, Some(Value::Str(p))) => p.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect(),
            (_, Some(v)) if !v.is_nil() => vec![v.to_rstring()],
            _ => vec![],
        }
    }
    pub fn custom_ssl_certificate(&self) -> bool {
        match self.config.get("ssl") {
            Some(Value::Map(s)) => s.get("certificate_pem").is_some_and(Value::present) && s.get("private_key_pem").is_some_and(Value::present),
            _ => false,
        }
    }
    /// Secret names of a custom certificate (certificate_pem, private_key_pem).
    pub fn custom_ssl_secret_names(&self) -> Option<(String, String)> {
        let s = self.config.get("ssl")?.as_map()?;
        Some((s.get("certificate_pem")?.to_rstring(), s.get("private_key_pem")?.to_rstring()))
    }
    fn tls_container_path(&self, file: &str) -> Option<String> {
        if !self.custom_ssl_certificate() {
            return None;
        }
        let mut p = format!("{}/tls", self.app_container_directory);
        if let Some(r) = &self.role_name {
            p.push('/');
            p.push_str(r);
        }
        Some(format!("{p}/{file}"))
    }
    fn dig(&self, a: &str, b: &str) -> Value {
        self.config.get(a).and_then(Value::as_map).and_then(|m| m.get(b)).cloned().unwrap_or(Value::Nil)
    }
    fn secs(v: Value) -> Value {
        if v.truthy() {
            Value::Str(format!("{}s", v.to_rstring()))
        } else {
            Value::Nil
        }
    }
    /// kamal-proxy deploy options in Kamal's order (nil values dropped).
    pub fn deploy_options(&self) -> Map {
        let buffering = self.config.get("buffering");
        let buf = |k: &str| match buffering {
            Some(Value::Map(m)) => m.get(k).cloned().unwrap_or(Value::Bool(true)),
            Some(_) => Value::Bool(true),
            None => Value::Bool(true),
        };
        let log_req = match self.dig("logging", "request_headers") {
            v if v.truthy() => v,
            _ => Value::Seq(["Cache-Control", "Last-Modified", "User-Agent"].iter().map(|s| Value::str(*s)).collect()),
        };
        let get = |k: &str| self.config.get(k).cloned().unwrap_or(Value::Nil);
        let pairs: Vec<(&str, Value)> = vec![
            ("host", Value::Seq(self.hosts().into_iter().map(Value::Str).collect())),
            ("tls", if self.ssl() { Value::Bool(true) } else { Value::Nil }),
            ("tls-certificate-path", self.tls_container_path("cert.pem").map(Value::Str).unwrap_or(Value::Nil)),
            ("tls-private-key-path", self.tls_container_path("key.pem").map(Value::Str).unwrap_or(Value::Nil)),
            ("deploy-timeout", Value::Str(format!("{}s", self.deploy_timeout))),
            ("drain-timeout", Value::Str(format!("{}s", self.drain_timeout))),
            ("health-check-interval", Self::secs(self.dig("healthcheck", "interval"))),
            ("health-check-timeout", Self::secs(self.dig("healthcheck", "timeout"))),
            ("health-check-path", self.dig("healthcheck", "path")),
            ("target-timeout", Self::secs(get("response_timeout"))),
            ("buffer-requests", buf("requests")),
            ("buffer-responses", buf("responses")),
            ("buffer-memory", self.dig("buffering", "memory")),
            ("max-request-body", self.dig("buffering", "max_request_body")),
            ("max-response-body", self.dig("buffering", "max_response_body")),
            ("path-prefix", Value::Seq(self.path_prefixes().into_iter().map(Value::Str).collect())),
            ("strip-path-prefix", get("strip_path_prefix")),
            ("forward-headers", get("forward_headers")),
            ("tls-redirect", get("ssl_redirect")),
            ("log-request-header", log_req),
            ("log-response-header", self.dig("logging", "response_headers")),
            ("error-pages", self.error_pages.clone().map(Value::Str).unwrap_or(Value::Nil)),
        ];
        Map(pairs.into_iter().filter(|(_, v)| !v.is_nil()).map(|(k, v)| (Value::str(k), v)).collect())
    }
    /// `kamal-proxy deploy` arguments: `--target=<container>:<app_port>` then the options.
    pub fn deploy_command_args(&self, target: &str) -> Vec<String> {
        let mut m = Map::new();
        m.insert(Value::str("target"), Value::Str(format!("{target}:{}", self.app_port().to_rstring())));
        m.merge_from(&self.deploy_options());
        shell::optionize_with_eq(&m)
    }
    /// `proxy.run` (kamal-proxy boot settings), raw.
    pub fn run(&self) -> Option<&Map> {
        self.config.get("run").and_then(Value::as_map).filter(|m| !m.is_empty())
    }
}

fn host_name(v: &Value) -> String {
    match v {
        Value::Map(m) => m.keys().next().map(Value::to_rstring).unwrap_or_default(),
        other => other.to_rstring(),
    }
}

// ------------------------------------------------------------------------------ Role

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    /// Hosts in config order (duplicates collapsed like Ruby hash keys).
    pub hosts: Vec<String>,
    /// Each host's tags, as written.
    pub host_tags: Vec<(String, Vec<String>)>,
    pub primary: bool,
    pub running_proxy: bool,
    /// `cmd` as written (a string in practice).
    pub cmd: Option<Value>,
    /// Docker `options` as `--key value` args.
    pub option_args: Vec<String>,
    /// service/role/destination labels then custom labels (raw values).
    pub labels: Map,
    pub logging_args: Vec<String>,
    pub asset_path: Option<String>,
    pub container_prefix: String,
    /// Root env merged with the role's env (before host tags).
    pub env: Env,
    proxy: Option<Proxy>,
    tag_envs: Vec<(String, Env)>,
}

impl Role {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
    pub fn primary_host(&self) -> Option<&str> {
        self.hosts.first().map(String::as_str)
    }
    pub fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }
    pub fn running_proxy(&self) -> bool {
        self.running_proxy
    }
    pub fn ssl(&self) -> bool {
        self.proxy.as_ref().is_some_and(Proxy::ssl)
    }
    pub fn cmd_string(&self) -> Option<String> {
        self.cmd.as_ref().filter(|c| !c.is_nil()).map(Value::to_rstring)
    }
    /// Labels as strings (nil destination dropped, like `--label destination` would be empty).
    pub fn label_strings(&self) -> Vec<(String, String)> {
        self.labels.iter().map(|(k, v)| (k.to_rstring(), v.to_rstring())).collect()
    }
    /// `--label key="value"` args as Kamal builds them.
    pub fn label_args(&self) -> Vec<String> {
        shell::argumentize("--label", &Value::Map(self.labels.clone()))
    }
    /// The tags of `host` that name an env tag, in the host's order.
    pub fn env_tags(&self, host: &str) -> Vec<String> {
        let tags = self.host_tags.iter().find(|(h, _)| h == host).map(|(_, t)| t.clone()).unwrap_or_default();
        tags.into_iter().filter(|t| self.tag_envs.iter().any(|(n, _)| n == t)).collect()
    }
    /// The env of this role on `host`: root env < role env < host tag envs (in tag order).
    pub fn env_for(&self, host: &str) -> Env {
        let mut e = self.env.clone();
        for t in self.env_tags(host) {
            if let Some((_, te)) = self.tag_envs.iter().find(|(n, _)| *n == t) {
                e = e.merge(te);
            }
        }
        e
    }
    /// `<service>-<role>[-<destination>]-<version>`
    pub fn container_name(&self, version: &str) -> String {
        format!("{}-{version}", self.container_prefix)
    }
    /// Seconds `docker stop -t` waits (None when kamal-proxy drains instead).
    pub fn stop_timeout(&self, c: &Config) -> Option<i64> {
        if self.running_proxy {
            None
        } else {
            Some(c.drain_timeout())
        }
    }
}

// ------------------------------------------------------------------------------ Accessory

#[derive(Debug, Clone)]
pub struct Accessory {
    pub name: String,
    pub config: Map,
    pub service_name: String,
    pub image: String,
    pub hosts: Vec<String>,
    pub env: Env,
    pub proxy: Option<Proxy>,
    pub registry: Option<Registry>,
}

impl Accessory {
    pub fn running_proxy(&self) -> bool {
        self.config.get("proxy").is_some_and(Value::present)
    }
    /// `port` as `host:container` (`3306` → `3306:3306`).
    pub fn port(&self) -> Option<String> {
        let p = self.config.get("port").filter(|v| !v.is_nil())?.to_rstring();
        Some(if p.contains(':') { p } else { format!("{p}:{p}") })
    }
    pub fn cmd(&self) -> Option<Value> {
        self.config.get("cmd").cloned()
    }
    pub fn labels(&self) -> Map {
        let mut m = Map::str_map(vec![("service", Value::Str(self.service_name.clone()))]);
        if let Some(Value::Map(l)) = self.config.get("labels") {
            m.merge_from(l);
        }
        m
    }
    pub fn option_args(&self) -> Vec<String> {
        match self.config.get("options") {
            Some(Value::Map(o)) => shell::optionize(o),
            _ => vec![],
        }
    }
    pub fn network(&self) -> String {
        self.config.get("network").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| "kamal".into())
    }
    pub fn network_args(&self) -> Vec<String> {
        vec!["--network".into(), self.network()]
    }
}

// ------------------------------------------------------------------------------ Registry

#[derive(Debug, Clone)]
pub struct Registry {
    pub config: Map,
}

impl Registry {
    pub fn server(&self) -> Option<String> {
        self.config.get("server").filter(|v| !v.is_nil()).map(Value::to_rstring)
    }
    /// `localhost:PORT` registries (Kamal runs one per host and tunnels to it).
    pub fn is_local(&self) -> bool {
        self.server().is_some_and(|s| s.lines().any(|l| l.starts_with("localhost:") || l.starts_with("localhost$")))
    }
    fn lookup(&self, k: &str, secrets: &Secrets) -> Result<Option<String>> {
        match self.config.get(k) {
            Some(Value::Seq(s)) => Ok(Some(secrets.get(&s.first().map(Value::to_rstring).unwrap_or_default())?)),
            Some(Value::Nil) | None => Ok(None),
            Some(v) => Ok(Some(v.to_rstring())),
        }
    }
    pub fn username(&self, secrets: &Secrets) -> Result<Option<String>> {
        self.lookup("username", secrets)
    }
    pub fn password(&self, secrets: &Secrets) -> Result<Option<String>> {
        self.lookup("password", secrets)
    }
}

// ------------------------------------------------------------------------------ Boot

#[derive(Debug, Clone)]
pub struct Boot {
    pub config: Map,
    host_count: usize,
}

impl Boot {
    /// Kamal's `boot.limit`: `N%` of all hosts (at least 1), or the value as written.
    pub fn limit_value(&self) -> Value {
        let l = self.config.get("limit").cloned().unwrap_or(Value::Nil);
        let s = l.to_rstring();
        if s.ends_with('%') {
            let pct: i64 = s.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect::<String>().parse().unwrap_or(0);
            Value::Int((self.host_count as i64).saturating_mul(pct).div_euclid(100).max(1))
        } else {
            l
        }
    }
    /// The limit as a host count, if any.
    pub fn limit(&self) -> Option<usize> {
        match self.limit_value() {
            Value::Int(i) if i > 0 => Some(i as usize),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    pub fn wait_value(&self) -> Value {
        self.config.get("wait").cloned().unwrap_or(Value::Nil)
    }
    /// Seconds to wait between batches.
    pub fn wait(&self) -> Option<u64> {
        match self.wait_value() {
            Value::Int(i) if i >= 0 => Some(i as u64),
            _ => None,
        }
    }
    pub fn parallel_roles(&self) -> bool {
        self.config.get("parallel_roles").is_some_and(Value::truthy)
    }
}

// ------------------------------------------------------------------------------ SSH

#[derive(Debug, Clone, PartialEq)]
pub enum SshProxy {
    /// `ssh.proxy` (ProxyJump), `user@host` (root@ added when no user is given).
    Jump(String),
    /// `ssh.proxy_command`.
    Command(String),
}

#[derive(Debug, Clone)]
pub struct Ssh {
    pub config: Map,
}

impl Ssh {
    pub fn user(&self) -> String {
        self.config.get("user").map(Value::to_rstring).unwrap_or_else(|| "root".into())
    }
    pub fn port_value(&self) -> Value {
        self.config.get("port").cloned().unwrap_or(Value::Int(22))
    }
    pub fn port(&self) -> u16 {
        self.port_value().to_rstring().trim().parse().unwrap_or(22)
    }
    pub fn proxy(&self) -> Option<SshProxy> {
        if let Some(p) = self.config.get("proxy").filter(|v| v.truthy()) {
            let p = p.to_rstring();
            return Some(SshProxy::Jump(if p.contains('@') { p } else { format!("root@{p}") }));
        }
        self.config.get("proxy_command").filter(|v| v.truthy()).map(|c| SshProxy::Command(c.to_rstring()))
    }
    pub fn keys_only(&self) -> Option<bool> {
        match self.config.get("keys_only") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn keys(&self) -> Vec<String> {
        self.config.get("keys").and_then(Value::as_seq).map(|s| s.iter().map(Value::to_rstring).collect()).unwrap_or_default()
    }
    /// `key_data`: entries naming a secret are replaced by its value (others used inline).
    pub fn key_data(&self, secrets: &Secrets) -> Option<Vec<String>> {
        let kd = self.config.get("key_data")?.as_seq()?;
        Some(
            kd.iter()
                .map(|k| {
                    let k = k.to_rstring();
                    if secrets.has(&k) {
                        secrets.get(&k).unwrap_or(k)
                    } else {
                        k
                    }
                })
                .collect(),
        )
    }
    /// `config`: true/false or ssh config file(s).
    pub fn config_value(&self) -> Option<Value> {
        self.config.get("config").cloned()
    }
    pub fn log_level(&self) -> Value {
        self.config.get("log_level").cloned().unwrap_or(Value::Sym("fatal".into()))
    }
}

pub fn logging_args(logging: Option<&Value>) -> Vec<String> {
    let m = logging.and_then(Value::as_map).cloned().unwrap_or_default();
    let driver = m.get("driver").cloned().unwrap_or(Value::Nil);
    let options = m.get("options").cloned().unwrap_or(Value::Map(Map::new()));
    if driver.present() || options.present() {
        let mut d = Map::new();
        if !driver.is_nil() {
            d.insert(Value::str("log-driver"), driver);
        }
        let mut out = shell::optionize(&d);
        out.extend(shell::argumentize("--log-opt", &options));
        out
    } else {
        vec!["--log-opt".into(), "max-size=\"10m\"".into()]
    }
}

// ------------------------------------------------------------------------------ build

fn get<'a>(m: &'a Map, k: &str) -> Option<&'a Value> {
    m.get(k)
}

fn tagged_hosts(entries: &[Value]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for e in entries {
        let (host, tags) = match e {
            Value::Map(m) => match m.iter().next() {
                Some((h, t)) => (
                    h.to_rstring(),
                    match t {
                        Value::Seq(s) => s.iter().map(Value::to_rstring).collect(),
                        Value::Nil => vec![],
                        other => vec![other.to_rstring()],
                    },
                ),
                None => continue,
            },
            Value::Str(s) => (s.clone(), vec![]),
            _ => continue,
        };
        if let Some(slot) = out.iter_mut().find(|(h, _)| *h == host) {
            slot.1 = tags;
        } else {
            out.push((host, tags));
        }
    }
    out
}

pub(super) fn build(
    raw: Map,
    destination: Option<String>,
    version: std::result::Result<String, ConfigError>,
    cwd: PathBuf,
    config_file: PathBuf,
    files: Vec<PathBuf>,
    env: BTreeMap<String, String>,
) -> Result<Config> {
    let root = Value::Map(raw.clone());
    Validator::new("").validate_schema(&root, Schema::Configuration)?;

    let secrets_path = raw.get("secrets_path").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| ".kamal/secrets".into());
    let secrets = Secrets::new(&secrets_path, destination.as_deref(), &cwd, env.clone());

    let mut c = Config {
        raw: raw.clone(),
        destination: destination.clone(),
        version,
        cwd,
        config_file,
        files,
        env,
        secrets,
        roles: vec![],
        accessories: vec![],
        aliases: vec![],
        boot: Boot { config: Map::new(), host_count: 0 },
        registry: Registry { config: Map::new() },
        ssh: Ssh { config: Map::new() },
        root_proxy: None,
        root_env: Env::default(),
        env_tags: vec![],
    };

    // Root env and its tags are needed by roles; Kamal validates the root env later, so
    // only build them here.
    let root_env_v = get(&raw, "env").cloned().unwrap_or(Value::Map(Map::new()));
    c.root_env = Env::from_config(&root_env_v);
    if let Some(Value::Map(tags)) = root_env_v.as_map().and_then(|m| m.get("tags")) {
        c.env_tags = tags.iter().filter_map(|(k, v)| Some((k.as_str()?.to_string(), Env::from_config(v)))).collect();
    }

    // Servers
    let servers = get(&raw, "servers").cloned().unwrap_or(Value::Nil);
    {
        let mut v = Validator::new("servers");
        match &servers {
            Value::Seq(_) => v.servers(&servers)?,
            Value::Map(_) | Value::Nil => {}
            _ => return Err(v.error("should be an array or a hash or a nilclass")),
        }
    }
    let role_names: Vec<(String, Value)> = match &servers {
        Value::Seq(_) => vec![("web".into(), Value::Map(Map::new()))],
        Value::Map(m) => {
            let mut names: Vec<(String, Value)> = m.iter().map(|(k, v)| (k.to_rstring(), v.clone())).collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            names
        }
        _ => vec![],
    };
    let primary_name = raw.get("primary_role").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| "web".into());
    let service = raw.get("service").map(Value::to_rstring).unwrap_or_default();
    let mut pending_proxies: Vec<(usize, Map)> = Vec::new();
    for (name, role_cfg) in &role_names {
        let ctx = format!("servers/{name}");
        let mut v = Validator::new(&ctx);
        v.role(role_cfg)?;
        let specs = role_cfg.as_map().cloned().unwrap_or_default();
        let env_v = specs.get("env").cloned().unwrap_or(Value::Map(Map::new()));
        Validator::new(&format!("{ctx}/env")).env(&env_v)?;
        let logging_v = specs.get("logging").cloned().unwrap_or(Value::Map(Map::new()));
        let mut lv = Validator::new(&format!("{ctx}/logging"));
        lv.validate_schema(&logging_v, Schema::Logging)?;
        let proxy_spec = specs.get("proxy").cloned();
        let primary = *name == primary_name;
        let running_proxy = if primary { proxy_spec != Some(Value::Bool(false)) } else { proxy_spec.as_ref().is_some_and(Value::truthy) };
        if running_proxy {
            let pc = match &proxy_spec {
                None | Some(Value::Bool(true)) | Some(Value::Nil) => Map::new(),
                Some(Value::Map(m)) => m.clone(),
                Some(other) => {
                    return Err(ConfigError::invalid(format!("{ctx}/proxy"), format!("should be a hash (found {})", other.class_name())));
                }
            };
            validate_proxy(&Value::Map(pc.clone()), &format!("{ctx}/proxy"))?;
            pending_proxies.push((c.roles.len(), pc));
        }
        let entries: Vec<Value> = match (&servers, role_cfg) {
            (Value::Seq(s), _) => s.clone(),
            (_, Value::Seq(s)) => s.clone(),
            (_, Value::Map(m)) => match m.get("hosts") {
                Some(Value::Seq(s)) => s.clone(),
                Some(Value::Nil) | None => vec![],
                Some(other) => vec![other.clone()],
            },
            _ => vec![],
        };
        let host_tags = tagged_hosts(&entries);
        let hosts = host_tags.iter().map(|(h, _)| h.clone()).collect();
        let mut labels = Map::str_map(vec![
            ("service", raw.get("service").cloned().unwrap_or(Value::Nil)),
            ("role", Value::Str(name.clone())),
            ("destination", destination.clone().map(Value::Str).unwrap_or(Value::Nil)),
        ]);
        if let Some(Value::Map(l)) = raw.get("labels") {
            labels.merge_from(l);
        }
        if let Some(Value::Map(l)) = specs.get("labels") {
            labels.merge_from(l);
        }
        let root_logging = raw.get("logging").and_then(Value::as_map).cloned().unwrap_or_default();
        let merged_logging = root_logging.deep_merge(&logging_v.as_map().cloned().unwrap_or_default());
        let asset_path = specs.get("asset_path").or(raw.get("asset_path")).filter(|v| v.present()).map(|v| {
            let s = v.to_rstring();
            s.split(':').next().unwrap_or("").to_string()
        });
        let option_args = match specs.get("options") {
            Some(Value::Map(o)) => shell::optionize(o),
            _ => vec![],
        };
        let container_prefix = match &destination {
            Some(d) => format!("{service}-{name}-{d}"),
            None => format!("{service}-{name}"),
        };
        c.roles.push(Role {
            name: name.clone(),
            hosts,
            host_tags,
            primary,
            running_proxy,
            cmd: specs.get("cmd").cloned(),
            option_args,
            labels,
            logging_args: logging_args(Some(&Value::Map(merged_logging))),
            asset_path,
            container_prefix,
            env: c.root_env.merge(&Env::from_config(&env_v)),
            proxy: None,
            tag_envs: c.env_tags.clone(),
        });
    }

    // Registry
    let reg_v = get(&raw, "registry").cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()));
    validate_registry(&reg_v, "registry")?;
    c.registry = Registry { config: reg_v.as_map().cloned().unwrap_or_default() };

    // Accessories
    if let Some(Value::Map(accs)) = raw.get("accessories") {
        for (k, acc_v) in accs.iter() {
            let name = k.to_rstring();
            let ctx = format!("accessories/{name}");
            Validator::new(&ctx).accessory(acc_v)?;
            let am = acc_v.as_map().cloned().unwrap_or_default();
            let role_names_only: Vec<&str> = c.roles.iter().map(|r| r.name.as_str()).collect();
            if let Some(Value::Seq(rs)) = am.get("roles") {
                let missing: Vec<String> = rs.iter().map(Value::to_rstring).filter(|r| !role_names_only.contains(&r.as_str())).collect();
                if !missing.is_empty() {
                    return Err(ConfigError::invalid(ctx, format!("unknown roles {}", missing.join(", "))));
                }
            } else if let Some(r) = am.get("role").filter(|v| v.truthy()) {
                if !role_names_only.contains(&r.to_rstring().as_str()) {
                    return Err(ConfigError::invalid(ctx, format!("unknown role {}", r.to_rstring())));
                }
            }
            let env_v = am.get("env").cloned().unwrap_or(Value::Map(Map::new()));
            Validator::new(&format!("{ctx}/env")).env(&env_v)?;
            let proxy = if am.get("proxy").is_some_and(Value::present) {
                let pv = am.get("proxy").cloned().unwrap_or(Value::Nil);
                validate_proxy(&pv, &format!("{ctx}/proxy"))?;
                Some(Proxy::new(&c, pv.as_map().cloned().unwrap_or_default(), None))
            } else {
                None
            };
            let registry = if am.get("registry").is_some_and(Value::present) {
                let rv = am.get("registry").cloned().unwrap_or(Value::Nil);
                validate_registry(&rv, &format!("{ctx}/registry"))?;
                Some(Registry { config: rv.as_map().cloned().unwrap_or_default() })
            } else {
                None
            };
            let hosts = accessory_hosts(&am, &c.roles, &servers).map_err(|m| ConfigError::invalid(ctx.clone(), m))?;
            let service_name = am.get("service").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| format!("{service}-{name}"));
            let image_part = am.get("image").map(Value::to_rstring).unwrap_or_default();
            let image = match registry.as_ref().and_then(Registry::server) {
                Some(s) => format!("{s}/{image_part}"),
                None => image_part,
            };
            c.accessories.push(Accessory { name, config: am.clone(), service_name, image, hosts, env: Env::from_config(&env_v), proxy, registry });
        }
    }

    // Aliases
    if let Some(Value::Map(al)) = raw.get("aliases") {
        for (k, cmd) in al.iter() {
            let name = k.to_rstring();
            let v = Validator::new(&format!("aliases/{name}"));
            v.must_be_string(cmd)?;
            let ok = !name.is_empty() && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
            if !ok {
                return Err(v.error(format!("Invalid alias name: '{name}'. Must only contain lowercase letters, alphanumeric, hyphens and underscores.")));
            }
            if BUILTIN_COMMANDS.contains(&name.as_str()) {
                return Err(v.error(format!("Alias '{name}' conflicts with a built-in command.")));
            }
            c.aliases.push((name, cmd.clone()));
        }
    }

    // Boot
    let boot_v = get(&raw, "boot").cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()));
    Validator::new("boot").validate_schema(&boot_v, Schema::Boot)?;
    c.boot = Boot { config: boot_v.as_map().cloned().unwrap_or_default(), host_count: c.hosts().len() };

    // Builder
    let builder_v = get(&raw, "builder").cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()));
    validate_builder(&builder_v)?;

    // Root env, logging, proxy
    Validator::new("env").env(&root_env_v)?;
    let logging_v = get(&raw, "logging").cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()));
    Validator::new("logging").validate_schema(&logging_v, Schema::Logging)?;
    let root_proxy_v = get(&raw, "proxy").cloned().unwrap_or(Value::Nil);
    let root_proxy_map = match &root_proxy_v {
        Value::Nil => Map::new(),
        other => {
            validate_proxy(other, "proxy")?;
            other.as_map().cloned().unwrap_or_default()
        }
    };
    c.root_proxy = Some(Proxy::new(&c, root_proxy_map.clone(), None));

    // SSH, SSHKit
    let ssh_v = get(&raw, "ssh").cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()));
    Validator::new("ssh").validate_schema(&ssh_v, Schema::Ssh)?;
    c.ssh = Ssh { config: ssh_v.as_map().cloned().unwrap_or_default() };
    let sshkit_v = get(&raw, "sshkit").cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()));
    Validator::new("sshkit").validate_schema(&sshkit_v, Schema::Sshkit)?;

    // The semantic checks, in Kamal's order.
    if c.require_destination() && c.destination.is_none() {
        return Err(ConfigError::new(
            ErrorKind::DestinationRequired,
            "You must specify a destination (this configuration sets require_destination: true; pass -d DESTINATION)",
        ));
    }
    for key in ["service", "registry"] {
        if !raw.get(key).is_some_and(Value::present) {
            return Err(ConfigError::invalid("", format!("Missing required configuration for {key}")));
        }
    }
    if c.image().trim().is_empty() {
        return Err(ConfigError::invalid("", "Missing required configuration for image"));
    }
    if servers.is_nil() {
        if !raw.get("accessories").is_some_and(Value::present) {
            return Err(ConfigError::invalid("", "No servers or accessories specified"));
        }
    } else {
        let Some(pr) = c.role(&primary_name) else {
            return Err(ConfigError::invalid("", format!("The primary_role {primary_name} isn't defined")));
        };
        if pr.hosts.is_empty() {
            return Err(ConfigError::invalid("", format!("No servers specified for the {primary_name} primary_role")));
        }
        if !c.allow_empty_roles() {
            if let Some(r) = c.roles.iter().find(|r| r.hosts.is_empty()) {
                return Err(ConfigError::invalid(
                    "",
                    format!("No servers specified for the {} role. You can ignore this with allow_empty_roles: true", r.name),
                ));
            }
        }
    }
    if let Some(mv) = c.minimum_version() {
        if version_gt(&mv, KAMAL_VERSION) {
            return Err(ConfigError::invalid("", format!("Current version is {KAMAL_VERSION}, minimum required is {mv}")));
        }
    }
    if c.retain_containers() < 1 {
        return Err(ConfigError::invalid("", "Must retain at least 1 container"));
    }
    match raw.get("service") {
        Some(Value::Str(s))
            if !s.is_empty() && s.lines().any(|l| !l.is_empty() && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')) => {}
        _ => return Err(ConfigError::invalid("", "Service name can only include alphanumeric characters, hyphens, and underscores")),
    }
    let hooks = c.cwd.join(c.hooks_path());
    let found: Vec<&str> = ["pre-traefik-reboot", "post-traefik-reboot"].into_iter().filter(|h| hooks.join(h).exists()).collect();
    if !found.is_empty() {
        return Err(ConfigError::invalid("", format!("Found {}, these should be renamed to (pre|post)-proxy-reboot", found.join(", "))));
    }
    // Role proxies: root deep-merged with the role's settings, validated as `proxy`.
    for (i, pc) in pending_proxies {
        let merged = root_proxy_map.deep_merge(&pc);
        validate_proxy(&Value::Map(merged.clone()), "proxy")?;
        let name = c.roles[i].name.clone();
        c.roles[i].proxy = Some(Proxy::new(&c, merged, Some(name)));
    }
    for r in &c.roles {
        if let Some(p) = &r.proxy {
            if p.ssl() && r.hosts.len() > 1 && !p.custom_ssl_certificate() {
                return Err(ConfigError::invalid(
                    "",
                    format!(
                        "SSL is only supported on a single server unless you provide custom certificates, found {} servers for role {}",
                        r.hosts.len(),
                        r.name
                    ),
                ));
            }
        }
    }
    let mut ssl_hosts: Vec<String> = Vec::new();
    for r in c.roles.iter().filter(|r| r.ssl()) {
        ssl_hosts.extend(r.proxy.as_ref().map(Proxy::hosts).unwrap_or_default());
    }
    let mut dups: Vec<String> = Vec::new();
    for h in &ssl_hosts {
        if ssl_hosts.iter().filter(|x| *x == h).count() > 1 && !dups.contains(h) {
            dups.push(h.clone());
        }
    }
    if !dups.is_empty() {
        return Err(ConfigError::invalid("", format!("Different roles can't share the same host for SSL: {}", dups.join(", "))));
    }
    if c.registry.is_local() {
        if let Some(remote) = builder_v.as_map().and_then(|b| b.get("remote")).filter(|v| v.truthy()) {
            let arches = match builder_v.as_map().and_then(|b| b.get("arch")) {
                Some(Value::Seq(s)) => s.iter().map(Value::to_rstring).collect::<Vec<_>>(),
                Some(v) => vec![v.to_rstring()],
                None => vec![],
            };
            // Only when some arch is actually built remotely (not the local docker arch).
            let local_arch = local_docker_arch();
            if arches.iter().any(|a| Some(a.as_str()) != local_arch.as_deref()) && !remote.to_rstring().starts_with("ssh://") {
                return Err(ConfigError::invalid("", "Local registry with remote builder requires an SSH URL (e.g., ssh://user@host)"));
            }
        }
    }
    for h in c.hosts() {
        let mut runs: Vec<Map> = Vec::new();
        for r in c.roles.iter().filter(|r| r.hosts.contains(&h)) {
            if let Some(run) = r.proxy.as_ref().and_then(Proxy::run) {
                if !runs.contains(run) {
                    runs.push(run.clone());
                }
            }
        }
        for a in c.accessories.iter().filter(|a| a.hosts.contains(&h)) {
            if let Some(run) = a.proxy.as_ref().and_then(Proxy::run) {
                if !runs.contains(run) {
                    runs.push(run.clone());
                }
            }
        }
        if runs.len() > 1 {
            return Err(ConfigError::invalid("", format!("Conflicting proxy run configurations for host {h}")));
        }
    }
    match raw.get("hooks_output") {
        Some(Value::Str(s)) | Some(Value::Sym(s)) => check_hooks_level(s, None)?,
        Some(Value::Map(m)) => {
            for (k, v) in m.iter() {
                check_hooks_level(&v.to_rstring(), Some(&k.to_rstring()))?;
            }
        }
        _ => {}
    }
    Ok(c)
}

fn check_hooks_level(level: &str, hook: Option<&str>) -> Result<()> {
    if level == "quiet" || level == "verbose" {
        return Ok(());
    }
    let ctx = hook.map(|h| format!(" for hook '{h}'")).unwrap_or_default();
    Err(ConfigError::invalid("hooks_output", format!("Invalid hooks_output '{level}'{ctx}, must be one of: quiet, verbose")))
}

/// The Kamal version whose behaviour kdeck reproduces (for `minimum_version`).
pub const KAMAL_VERSION: &str = "2.11.0";

/// `Gem::Version.new(a) > Gem::Version.new(b)` for plain dotted versions.
fn version_gt(a: &str, b: &str) -> bool {
    let parse =
        |s: &str| -> Vec<i64> { s.trim().split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)).collect() };
    let (mut x, mut y) = (parse(a), parse(b));
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    x > y
}

fn local_docker_arch() -> Option<String> {
    match std::env::consts::ARCH {
        "x86_64" => Some("amd64".into()),
        "aarch64" => Some("arm64".into()),
        _ => None,
    }
}

/// The subcommands of `kamal` (aliases may not shadow them).
const BUILTIN_COMMANDS: &[&str] = &[
    "accessory",
    "app",
    "audit",
    "build",
    "config",
    "deploy",
    "details",
    "docs",
    "help",
    "init",
    "lock",
    "proxy",
    "prune",
    "redeploy",
    "registry",
    "remove",
    "rollback",
    "secrets",
    "server",
    "setup",
    "upgrade",
    "version",
];

fn accessory_hosts(am: &Map, roles: &[Role], servers: &Value) -> std::result::Result<Vec<String>, String> {
    if let Some(h) = am.get("host") {
        return Ok(vec![h.to_rstring()]);
    }
    if let Some(h) = am.get("hosts") {
        return Ok(h.as_seq().map(|s| s.iter().map(host_name).collect()).unwrap_or_default());
    }
    let role_hosts = |n: &str| roles.iter().find(|r| r.name == n).map(|r| r.hosts.clone()).unwrap_or_default();
    if let Some(r) = am.get("role") {
        return Ok(role_hosts(&r.to_rstring()));
    }
    if let Some(Value::Seq(rs)) = am.get("roles") {
        return Ok(rs.iter().flat_map(|r| role_hosts(&r.to_rstring())).collect());
    }
    let tags: Vec<String> = match (am.get("tag"), am.get("tags")) {
        (Some(t), _) => vec![t.to_rstring()],
        (_, Some(Value::Seq(ts))) => ts.iter().map(Value::to_rstring).collect(),
        _ => return Ok(vec![]),
    };
    // Kamal only finds tagged hosts in roles given as plain host lists; with `servers` as a
    // plain list it finds no host at all (nil, which fails later), so that is refused here.
    let Value::Map(sm) = servers else {
        return Err("`tag`/`tags` select hosts by the tags of role host lists, but `servers` is not a hash of roles (Kamal finds no host)".into());
    };
    let mut out = Vec::new();
    for t in &tags {
        for (_, role) in sm.iter() {
            if let Value::Seq(entries) = role {
                for e in entries {
                    if let Value::Map(hm) = e {
                        if let Some((h, tv)) = hm.iter().next() {
                            let has = match tv {
                                Value::Seq(s) => s.iter().any(|x| x.to_rstring() == *t),
                                Value::Str(s) => s.contains(t.as_str()),
                                Value::Nil => return Err(format!("host {} has an empty tag list", h.to_rstring())),
                                _ => false,
                            };
                            if has {
                                out.push(h.to_rstring());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Kamal's Proxy validator (schema + host/ssl rules).
fn validate_proxy(v: &Value, ctx: &str) -> Result<()> {
    if v.is_nil() {
        return Ok(());
    }
    let mut val = Validator::new(ctx);
    val.validate_schema(v, Schema::Proxy)?;
    let m = v.as_map().expect("validated hash");
    let blank = |k: &str| !m.get(k).is_some_and(Value::present);
    if blank("host") && blank("hosts") && m.get("ssl").is_some_and(Value::truthy) {
        return Err(val.error("Must set a host to enable automatic SSL"));
    }
    if m.contains("host") && m.contains("hosts") {
        return Err(val.error("Specify one of 'host' or 'hosts', not both"));
    }
    if let Some(Value::Map(ssl)) = m.get("ssl") {
        let p = |k: &str| ssl.get(k).is_some_and(Value::present);
        if p("certificate_pem") && !p("private_key_pem") {
            return Err(val.error("Missing private_key_pem setting (required when certificate_pem is present)"));
        }
        if p("private_key_pem") && !p("certificate_pem") {
            return Err(val.error("Missing certificate_pem setting (required when private_key_pem is present)"));
        }
    }
    if let Some(Value::Map(run)) = m.get("run") {
        if run.get("bind_ips").is_some_and(Value::present) {
            // Kamal checks `config["bind_ips"]` (not run's), which is never set: no check.
        }
        if run.get("publish") == Some(&Value::Bool(false)) && ["bind_ips", "http_port", "https_port"].iter().any(|k| run.get(k).is_some_and(Value::present)) {
            return Err(val.error("Cannot set http_port, https_port or bind_ips when publish is false"));
        }
    }
    Ok(())
}

fn validate_registry(v: &Value, ctx: &str) -> Result<()> {
    let mut val = Validator::new(ctx);
    val.must_be_hash(v)?;
    let m = v.as_map().expect("hash");
    let mut rest = m.clone();
    rest.remove("username");
    rest.remove("password");
    val.validate_schema(&Value::Map(rest), Schema::Registry)?;
    let local = m.get("server").is_some_and(|s| matches!(s, Value::Str(x) if x.lines().any(|l| l.starts_with("localhost:") || l.starts_with("localhost$"))));
    if !local {
        for k in ["username", "password"] {
            val.with(k, |val| {
                let x = m.get(k).cloned().unwrap_or(Value::Nil);
                if !x.present() {
                    return Err(val.error("is required"));
                }
                let ok = matches!(&x, Value::Str(_)) || matches!(&x, Value::Seq(s) if s.len() == 1 && matches!(s[0], Value::Str(_)));
                if !ok {
                    return Err(val.error("should be a string or an array with one string (for secret lookup)"));
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn validate_builder(v: &Value) -> Result<()> {
    let mut val = Validator::new("builder");
    val.validate_schema(v, Schema::Builder)?;
    let m = v.as_map().expect("hash");
    if let Some(Value::Map(cache)) = m.get("cache") {
        if let Some(t) = cache.get("type").filter(|t| t.truthy()) {
            let ts = t.to_rstring();
            if ts != "gha" && ts != "registry" {
                return Err(val.error(format!("Invalid cache type: {ts}")));
            }
        }
    }
    if !m.get("arch").is_some_and(Value::present) {
        return Err(val.error("Builder arch not set"));
    }
    if m.get("pack").is_some_and(Value::truthy) && matches!(m.get("arch"), Some(Value::Seq(s)) if s.len() > 1) {
        return Err(val.error("buildpacks only support building for one arch"));
    }
    if m.get("local") == Some(&Value::Bool(false)) && !m.get("remote").is_some_and(Value::present) {
        return Err(val.error("Cannot disable local builds, no remote is set"));
    }
    Ok(())
}
