//! The resolved model (roles, env, proxy, accessories, boot, registry, ssh), built and
//! validated in the order `Kamal::Configuration#initialize` does it, so the first error
//! reported is the one Kamal reports.

mod build;
mod checks;

use super::error::Result;
use super::secrets::Secrets;
use super::shell;
use super::value::{Map, Value};
use super::Config;

pub(super) use build::build;

/// The Kamal version whose behaviour kdeck reproduces (for `minimum_version`).
pub const KAMAL_VERSION: &str = "2.11.0";

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
