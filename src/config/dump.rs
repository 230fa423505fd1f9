//! What `kdeck config` prints: the same data as `kamal config` (`Configuration#to_h`), and
//! with `--resolved` the full resolved model in the shape of the conformance corpus's
//! `expected/resolved*.yml`. Secret values are replaced by `[REDACTED]` unless asked for.

use super::error::{ConfigError, Result};
use super::model::{Accessory, Env, Proxy, Role, SshProxy};
use super::value::{Map, Value};
use super::Config;

const REDACTED: &str = "[REDACTED]";

fn sym(k: &str) -> Value {
    Value::Sym(k.to_string())
}

fn strs<I: IntoIterator<Item = String>>(i: I) -> Value {
    Value::Seq(i.into_iter().map(Value::Str).collect())
}

fn ssh_options(c: &Config, show_secrets: bool, symbol_keys: bool) -> Map {
    let k = |s: &str| if symbol_keys { sym(s) } else { Value::str(s) };
    let ssh = c.ssh();
    let mut m = Map::new();
    m.insert(k("user"), c.ssh().config.get("user").cloned().unwrap_or(Value::str("root")));
    m.insert(k("port"), ssh.port_value());
    match ssh.proxy() {
        Some(SshProxy::Jump(j)) => m.insert(k("proxy"), Value::Map(Map::str_map(vec![("jump_proxies", Value::Str(j))]))),
        Some(SshProxy::Command(t)) => m.insert(k("proxy"), Value::Map(Map::str_map(vec![("command_line_template", Value::Str(t))]))),
        None => {}
    }
    m.insert(k("keepalive"), Value::Bool(true));
    m.insert(k("keepalive_interval"), Value::Int(30));
    for key in ["keys_only", "keys"] {
        if let Some(v) = ssh.config.get(key).filter(|v| !v.is_nil()) {
            m.insert(k(key), v.clone());
        }
    }
    if let Some(kd) = ssh.config.get("key_data").and_then(Value::as_seq) {
        let vals: Vec<Value> = kd
            .iter()
            .map(|e| {
                let name = e.to_rstring();
                if c.secrets().has(&name) {
                    if show_secrets {
                        Value::Str(c.secrets().get(&name).unwrap_or_default())
                    } else {
                        Value::str(REDACTED)
                    }
                } else {
                    e.clone()
                }
            })
            .collect();
        m.insert(k("key_data"), Value::Seq(vals));
    }
    if let Some(v) = ssh.config.get("config").filter(|v| !v.is_nil()) {
        m.insert(k("config"), v.clone());
    }
    m.insert(k("log_level"), ssh.log_level());
    m
}

/// `kamal config`'s data (symbol keys, like Ruby's `to_yaml` of `Configuration#to_h`).
pub fn kamal_config(c: &Config) -> Result<Value> {
    kamal_config_with(c, false)
}

pub fn kamal_config_with(c: &Config, show_secrets: bool) -> Result<Value> {
    let version = c.version()?.to_string();
    let mut m = Map::new();
    m.insert(sym("roles"), strs(c.role_names().into_iter().map(String::from)));
    m.insert(sym("hosts"), strs(c.hosts()));
    if let Some(p) = c.primary_host() {
        m.insert(sym("primary_host"), Value::str(p));
    }
    m.insert(sym("version"), Value::Str(version.clone()));
    m.insert(sym("repository"), Value::Str(c.repository()));
    m.insert(sym("absolute_image"), Value::Str(format!("{}:{version}", c.repository())));
    m.insert(sym("service_with_version"), Value::Str(format!("{}-{version}", c.service())));
    m.insert(sym("volume_args"), strs(c.volume_args()));
    m.insert(sym("ssh_options"), Value::Map(ssh_options(c, show_secrets, true)));
    m.insert(sym("sshkit"), Value::Map(c.sshkit_raw()));
    m.insert(sym("builder"), Value::Map(c.builder_raw()));
    if let Some(a) = c.raw().get("accessories").filter(|v| !v.is_nil()) {
        m.insert(sym("accessories"), a.clone());
    }
    m.insert(sym("logging"), strs(c.logging_args()));
    Ok(Value::Map(m))
}

fn err_value(e: &ConfigError) -> Value {
    Value::Map(Map::str_map(vec![("__error__", Value::Str(e.kamal_message()))]))
}

fn or_err(r: Result<Value>) -> Value {
    r.unwrap_or_else(|e| err_value(&e))
}

fn opt(v: Option<String>) -> Value {
    v.map(Value::Str).unwrap_or(Value::Nil)
}

fn env_view(c: &Config, e: &Env, show: bool) -> Value {
    let secret_names: Vec<String> = e.secret_aliases().into_iter().map(|(n, _)| n).collect();
    let resolved = match e.resolved(c.secrets()) {
        Ok(p) => {
            // Clear values keep their YAML type in Kamal's to_h.
            let mut m = Map::new();
            for (k, v) in e.clear.iter() {
                m.insert(k.clone(), v.clone());
            }
            for (k, v) in p {
                if secret_names.contains(&k) {
                    m.insert(Value::Str(k), Value::Str(if show { v } else { REDACTED.into() }));
                }
            }
            Value::Map(m)
        }
        Err(err) => err_value(&err),
    };
    Value::Map(Map::str_map(vec![("clear", Value::Map(e.clear.clone())), ("secret_keys", strs(e.secret_keys.clone())), ("resolved", resolved)]))
}

fn proxy_view(c: &Config, p: Option<&Proxy>) -> Value {
    let Some(p) = p else { return Value::Nil };
    let _ = c;
    Value::Map(Map::str_map(vec![
        ("app_port", p.app_port()),
        ("ssl", p.ssl_value()),
        ("hosts", strs(p.hosts())),
        ("path_prefixes", strs(p.path_prefixes())),
        ("custom_ssl_certificate", Value::Bool(p.custom_ssl_certificate())),
        ("deploy_options", Value::Map(p.deploy_options())),
        ("run", p.run().map(|r| Value::Map(r.clone())).unwrap_or(Value::Nil)),
    ]))
}

fn builder_view(c: &Config, show: bool) -> Value {
    let b = c.builder_raw();
    let get = |k: &str| b.get(k).cloned().unwrap_or(Value::Nil);
    let arches = match b.get("arch") {
        Some(Value::Seq(s)) => Value::Seq(s.clone()),
        Some(Value::Nil) | None => Value::Seq(vec![]),
        Some(v) => Value::Seq(vec![v.clone()]),
    };
    let secrets = match b.get("secrets") {
        Some(Value::Seq(names)) => {
            let mut m = Map::new();
            let mut err = None;
            for n in names {
                match c.secrets().get(&n.to_rstring()) {
                    Ok(v) => m.insert(n.clone(), Value::Str(if show { v } else { REDACTED.into() })),
                    Err(e) => {
                        err = Some(err_value(&e));
                        break;
                    }
                }
            }
            err.unwrap_or(Value::Map(m))
        }
        _ => Value::Map(Map::new()),
    };
    Value::Map(Map::str_map(vec![
        ("arches", arches),
        ("remote", get("remote")),
        ("local_disabled", Value::Bool(b.get("local") == Some(&Value::Bool(false)))),
        ("driver", b.get("driver").cloned().unwrap_or(Value::str("docker-container"))),
        ("dockerfile", b.get("dockerfile").cloned().filter(Value::truthy).unwrap_or(Value::str("Dockerfile"))),
        ("context", b.get("context").cloned().filter(Value::truthy).unwrap_or(Value::str("."))),
        ("target", get("target")),
        ("args", b.get("args").cloned().filter(Value::truthy).unwrap_or(Value::Map(Map::new()))),
        ("secrets", secrets),
        ("cached", Value::Bool(b.get("cache").is_some_and(Value::truthy))),
        ("pack", Value::Bool(b.get("pack").is_some_and(Value::truthy))),
    ]))
}

/// The full resolved model, shaped like the corpus's `expected/resolved*.yml`.
pub fn resolved(c: &Config, show_secrets: bool) -> Value {
    let mut out = Map::new();
    out.insert(Value::str("kamal_version"), Value::str(super::model::KAMAL_VERSION));
    out.insert(Value::str("destination"), opt(c.destination().map(String::from)));
    out.insert(Value::str("raw_merged"), Value::Map(c.raw().clone()));
    out.insert(Value::str("accepted"), Value::Bool(true));
    out.insert(Value::str("secrets"), secrets_view(c, show_secrets));
    out.insert(Value::str("summary"), Value::Map(summary_view(c)));
    out.insert(Value::str("registry"), registry_view(c, show_secrets));
    out.insert(Value::str("roles"), Value::Seq(c.roles().iter().map(|r| role_view(c, r, show_secrets)).collect()));
    out.insert(Value::str("accessories"), Value::Seq(c.accessories().iter().map(|a| accessory_view(c, a, show_secrets)).collect()));
    out.insert(Value::str("aliases"), Value::Map(Map(c.aliases_raw().iter().map(|(k, v)| (Value::Str(k.clone()), v.clone())).collect())));
    out.insert(Value::str("boot"), boot_view(c));
    out.insert(Value::str("builder"), builder_view(c, show_secrets));
    out.insert(Value::str("ssh"), Value::Map(ssh_options(c, show_secrets, false)));
    out.insert(Value::str("sshkit"), Value::Map(c.sshkit_raw()));
    let env_tags = Map(c.env_tags().iter().map(|(n, e)| (Value::Str(n.clone()), env_view(c, e, show_secrets))).collect());
    out.insert(Value::str("env_tags"), Value::Map(env_tags));
    Value::Map(out)
}

/// `secrets`: the secrets files read and their values (redacted unless shown).
fn secrets_view(c: &Config, show_secrets: bool) -> Value {
    let secrets_files = strs(c.secrets().files().into_iter().map(|p| p.display().to_string()));
    let values = match c.secrets().values() {
        Ok(v) => Value::Map(Map(v.iter().map(|(k, v)| (Value::Str(k.clone()), Value::Str(if show_secrets { v.clone() } else { REDACTED.into() }))).collect())),
        Err(e) => err_value(&e),
    };
    Value::Map(Map::str_map(vec![("files", secrets_files), ("values", values)]))
}

/// `summary`: the top-level settings with Kamal's defaults applied.
fn summary_view(c: &Config) -> Map {
    let version = c.version().map(String::from);
    Map::str_map(vec![
        ("service", c.raw().get("service").cloned().unwrap_or(Value::Nil)),
        ("image", Value::Str(c.image())),
        ("repository", Value::Str(c.repository())),
        ("absolute_image", or_err(version.clone().map(|v| Value::Str(format!("{}:{v}", c.repository()))))),
        ("latest_image", Value::Str(c.latest_image())),
        ("service_and_destination", Value::Str(c.service_and_destination())),
        ("primary_role", Value::Str(c.primary_role_name())),
        ("primary_host", opt(c.primary_host().map(String::from))),
        ("all_hosts", strs(c.hosts())),
        ("app_hosts", strs(c.app_hosts())),
        ("proxy_hosts", strs(c.proxy_hosts())),
        ("proxy_roles", strs(c.roles().iter().filter(|r| r.running_proxy).map(|r| r.name.clone()))),
        ("require_destination", c.raw().get("require_destination").cloned().unwrap_or(Value::Nil)),
        ("allow_empty_roles", c.raw().get("allow_empty_roles").cloned().unwrap_or(Value::Nil)),
        ("retain_containers", c.raw().get("retain_containers").cloned().filter(Value::truthy).unwrap_or(Value::Int(5))),
        ("readiness_delay", c.raw().get("readiness_delay").cloned().filter(Value::truthy).unwrap_or(Value::Int(7))),
        ("deploy_timeout", c.raw().get("deploy_timeout").cloned().filter(Value::truthy).unwrap_or(Value::Int(30))),
        ("drain_timeout", c.raw().get("drain_timeout").cloned().filter(Value::truthy).unwrap_or(Value::Int(30))),
        ("minimum_version", c.raw().get("minimum_version").cloned().unwrap_or(Value::Nil)),
        ("hooks_path", c.raw().get("hooks_path").cloned().filter(Value::truthy).unwrap_or(Value::str(".kamal/hooks"))),
        ("secrets_path", c.raw().get("secrets_path").cloned().filter(Value::truthy).unwrap_or(Value::str(".kamal/secrets"))),
        ("asset_path", c.raw().get("asset_path").cloned().unwrap_or(Value::Nil)),
        ("error_pages_path", c.raw().get("error_pages_path").cloned().unwrap_or(Value::Nil)),
        ("labels", c.raw().get("labels").cloned().unwrap_or(Value::Nil)),
        ("volume_args", strs(c.volume_args())),
        ("logging_args", strs(c.logging_args())),
    ])
}

/// `registry`: server, credentials (the password always a secret, the username when it names one).
fn registry_view(c: &Config, show_secrets: bool) -> Value {
    let reg = c.registry();
    let redact = |r: Result<Option<String>>, is_secret: bool| -> Value {
        match r {
            Ok(Some(v)) => Value::Str(if is_secret && !show_secrets { REDACTED.into() } else { v }),
            Ok(None) => Value::Nil,
            Err(e) => err_value(&e),
        }
    };
    let user_secret = matches!(reg.config.get("username"), Some(Value::Seq(_)));
    Value::Map(Map::str_map(vec![
        ("server", reg.config.get("server").cloned().unwrap_or(Value::Nil)),
        ("username", redact(reg.username(c.secrets()), user_secret)),
        ("password", redact(reg.password(c.secrets()), true)),
        ("local", Value::Bool(reg.is_local())),
    ]))
}

/// One entry of `roles`, with its env and env tags per host.
fn role_view(c: &Config, r: &Role, show_secrets: bool) -> Value {
    let env_by_host = Map(r.hosts.iter().map(|h| (Value::Str(h.clone()), env_view(c, &r.env_for(h), show_secrets))).collect());
    let tags_by_host = Map(r.hosts.iter().map(|h| (Value::Str(h.clone()), strs(r.env_tags(h)))).collect());
    Value::Map(Map::str_map(vec![
        ("name", Value::Str(r.name.clone())),
        ("hosts", strs(r.hosts.clone())),
        ("primary", Value::Bool(r.primary)),
        ("running_proxy", Value::Bool(r.running_proxy)),
        ("cmd", r.cmd.clone().unwrap_or(Value::Nil)),
        ("option_args", strs(r.option_args.clone())),
        ("labels", Value::Map(r.labels.clone())),
        ("logging_args", strs(r.logging_args.clone())),
        ("asset_path", opt(r.asset_path.clone())),
        ("container_prefix", Value::Str(r.container_prefix.clone())),
        ("env_by_host", Value::Map(env_by_host)),
        ("env_tags_by_host", Value::Map(tags_by_host)),
        ("proxy", proxy_view(c, r.proxy())),
    ]))
}

/// One entry of `accessories`.
fn accessory_view(c: &Config, a: &Accessory, show_secrets: bool) -> Value {
    Value::Map(Map::str_map(vec![
        ("name", Value::Str(a.name.clone())),
        ("service_name", Value::Str(a.service_name.clone())),
        ("image", Value::Str(a.image.clone())),
        ("hosts", strs(a.hosts.clone())),
        ("port", opt(a.port())),
        ("cmd", a.cmd().unwrap_or(Value::Nil)),
        ("labels", Value::Map(a.labels())),
        ("option_args", strs(a.option_args())),
        ("network_args", strs(a.network_args())),
        ("env", env_view(c, &a.env, show_secrets)),
        ("running_proxy", Value::Bool(a.running_proxy())),
        ("proxy", proxy_view(c, a.proxy.as_ref())),
        ("registry_server", opt(a.registry.as_ref().and_then(|r| r.server()))),
    ]))
}

/// `boot`: limit, wait and parallel_roles.
fn boot_view(c: &Config) -> Value {
    let boot = c.boot();
    Value::Map(Map::str_map(vec![
        ("limit", boot.limit_value()),
        ("wait", boot.wait_value()),
        ("parallel_roles", boot.config.get("parallel_roles").cloned().unwrap_or(Value::Nil)),
    ]))
}
