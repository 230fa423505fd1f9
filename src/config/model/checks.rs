//! Validation beyond the schemas: the proxy/registry/builder validators and the semantic
//! checks `Kamal::Configuration#initialize` runs once everything is built, in Kamal's order.

use super::{Proxy, KAMAL_VERSION};
use crate::config::error::{ConfigError, ErrorKind, Result};
use crate::config::validate::{Schema, Validator};
use crate::config::value::{Map, Value};
use crate::config::Config;

/// The checks before the role proxies are built: destination, required keys, image, servers
/// and roles, minimum version, retained containers, service name, renamed hooks.
pub(super) fn check_settings(c: &Config, raw: &Map, servers: &Value, primary_name: &str) -> Result<()> {
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
    check_servers(c, raw, servers, primary_name)?;
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
    Ok(())
}

/// Servers or accessories must be given; the primary role must exist and have hosts; other
/// roles too unless `allow_empty_roles`.
fn check_servers(c: &Config, raw: &Map, servers: &Value, primary_name: &str) -> Result<()> {
    if servers.is_nil() {
        if !raw.get("accessories").is_some_and(Value::present) {
            return Err(ConfigError::invalid("", "No servers or accessories specified"));
        }
        return Ok(());
    }
    let Some(pr) = c.role(primary_name) else {
        return Err(ConfigError::invalid("", format!("The primary_role {primary_name} isn't defined")));
    };
    if pr.hosts.is_empty() {
        return Err(ConfigError::invalid("", format!("No servers specified for the {primary_name} primary_role")));
    }
    if !c.allow_empty_roles() {
        if let Some(r) = c.roles.iter().find(|r| r.hosts.is_empty()) {
            return Err(ConfigError::invalid("", format!("No servers specified for the {} role. You can ignore this with allow_empty_roles: true", r.name)));
        }
    }
    Ok(())
}

/// The checks once the role proxies are built: SSL on one server (or custom certificates),
/// SSL hosts not shared between roles, a local registry's remote builder over SSH, one proxy
/// run configuration per host.
pub(super) fn check_proxies(c: &Config, builder_v: &Value) -> Result<()> {
    check_ssl(c)?;
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
    check_proxy_runs(c)
}

fn check_ssl(c: &Config) -> Result<()> {
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
    Ok(())
}

/// The roles and accessories on one host must agree on the proxy's `run` settings.
fn check_proxy_runs(c: &Config) -> Result<()> {
    for h in c.hosts() {
        let mut runs: Vec<&Map> = Vec::new();
        for run in c.proxy_runs(&h) {
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
        if runs.len() > 1 {
            return Err(ConfigError::invalid("", format!("Conflicting proxy run configurations for host {h}")));
        }
    }
    Ok(())
}

/// `hooks_output`: one level, or a level per hook.
pub(super) fn check_hooks_output(raw: &Map) -> Result<()> {
    match raw.get("hooks_output") {
        Some(Value::Str(s)) | Some(Value::Sym(s)) => check_hooks_level(s, None)?,
        Some(Value::Map(m)) => {
            for (k, v) in m.iter() {
                check_hooks_level(&v.to_rstring(), Some(&k.to_rstring()))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_hooks_level(level: &str, hook: Option<&str>) -> Result<()> {
    if level == "quiet" || level == "verbose" {
        return Ok(());
    }
    let ctx = hook.map(|h| format!(" for hook '{h}'")).unwrap_or_default();
    Err(ConfigError::invalid("hooks_output", format!("Invalid hooks_output '{level}'{ctx}, must be one of: quiet, verbose")))
}

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

/// Kamal's Proxy validator (schema + host/ssl rules).
pub(super) fn validate_proxy(v: &Value, ctx: &str) -> Result<()> {
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

pub(super) fn validate_registry(v: &Value, ctx: &str) -> Result<()> {
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

pub(super) fn validate_builder(v: &Value) -> Result<()> {
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
