//! Building the model from the merged raw config, one step per section of deploy.yml, in the
//! order `Kamal::Configuration#initialize` builds (and validates) them.

use super::checks::{self, validate_builder, validate_proxy, validate_registry};
use super::{host_name, logging_args, Accessory, Boot, Env, Proxy, Registry, Role, Ssh};
use crate::config::error::{ConfigError, Result};
use crate::config::secrets::Secrets;
use crate::config::shell;
use crate::config::validate::{Schema, Validator};
use crate::config::value::{Map, Value};
use crate::config::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn get<'a>(m: &'a Map, k: &str) -> Option<&'a Value> {
    m.get(k)
}

/// `raw[k]` when truthy, else an empty hash.
fn section(raw: &Map, k: &str) -> Value {
    get(raw, k).cloned().filter(|v| v.truthy()).unwrap_or(Value::Map(Map::new()))
}

pub(in crate::config) fn build(
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
    let mut c = empty_config(&raw, destination, version, cwd, config_file, files, env);
    let root_env_v = build_root_env(&mut c, &raw);
    let servers = get(&raw, "servers").cloned().unwrap_or(Value::Nil);
    validate_servers(&servers)?;
    let primary_name = crate::config::primary_role_name(&raw);
    let pending_proxies = build_roles(&mut c, &raw, &servers, &primary_name)?;
    build_registry(&mut c, &raw)?;
    build_accessories(&mut c, &raw, &servers)?;
    build_aliases(&mut c, &raw)?;
    build_boot(&mut c, &raw)?;
    let builder_v = section(&raw, "builder");
    validate_builder(&builder_v)?;
    let root_proxy_map = build_root_proxy(&mut c, &raw, &root_env_v)?;
    build_ssh(&mut c, &raw)?;
    // The semantic checks, in Kamal's order (role proxies are built among them).
    checks::check_settings(&c, &raw, &servers, &primary_name)?;
    build_role_proxies(&mut c, &root_proxy_map, pending_proxies)?;
    checks::check_proxies(&c, &builder_v)?;
    checks::check_hooks_output(&raw)?;
    Ok(c)
}

/// The config with its secrets and nothing built yet.
fn empty_config(
    raw: &Map,
    destination: Option<String>,
    version: std::result::Result<String, ConfigError>,
    cwd: PathBuf,
    config_file: PathBuf,
    files: Vec<PathBuf>,
    env: BTreeMap<String, String>,
) -> Config {
    let secrets_path = raw.get("secrets_path").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| ".kamal/secrets".into());
    let secrets = Secrets::new(&secrets_path, destination.as_deref(), &cwd, env.clone());
    Config {
        raw: raw.clone(),
        destination,
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
    }
}

/// Root env and its tags, needed by roles; Kamal validates the root env later, so they are
/// only built here. Returns the raw root env for that later validation.
fn build_root_env(c: &mut Config, raw: &Map) -> Value {
    let root_env_v = get(raw, "env").cloned().unwrap_or(Value::Map(Map::new()));
    c.root_env = Env::from_config(&root_env_v);
    if let Some(Value::Map(tags)) = root_env_v.as_map().and_then(|m| m.get("tags")) {
        c.env_tags = tags.iter().filter_map(|(k, v)| Some((k.as_str()?.to_string(), Env::from_config(v)))).collect();
    }
    root_env_v
}

/// `servers`: a host list, a hash of roles, or nothing.
fn validate_servers(servers: &Value) -> Result<()> {
    let mut v = Validator::new("servers");
    match servers {
        Value::Seq(_) => v.servers(servers)?,
        Value::Map(_) | Value::Nil => {}
        _ => return Err(v.error("should be an array or a hash or a nilclass")),
    }
    Ok(())
}

/// The roles (a host list is the single role `web`; a hash gives its roles sorted by name).
/// Returns the roles running a proxy with their own proxy settings (by index), merged with
/// the root proxy later, as Kamal does.
fn build_roles(c: &mut Config, raw: &Map, servers: &Value, primary_name: &str) -> Result<Vec<(usize, Map)>> {
    let role_names: Vec<(String, Value)> = match servers {
        Value::Seq(_) => vec![("web".into(), Value::Map(Map::new()))],
        Value::Map(m) => {
            let mut names: Vec<(String, Value)> = m.iter().map(|(k, v)| (k.to_rstring(), v.clone())).collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            names
        }
        _ => vec![],
    };
    let mut pending_proxies: Vec<(usize, Map)> = Vec::new();
    for (name, role_cfg) in &role_names {
        let (role, proxy) = build_role(c, raw, servers, name, role_cfg, *name == primary_name)?;
        if let Some(pc) = proxy {
            pending_proxies.push((c.roles.len(), pc));
        }
        c.roles.push(role);
    }
    Ok(pending_proxies)
}

/// One role (`servers/<name>`), and its own proxy settings when it runs a proxy.
fn build_role(c: &Config, raw: &Map, servers: &Value, name: &str, role_cfg: &Value, primary: bool) -> Result<(Role, Option<Map>)> {
    let ctx = format!("servers/{name}");
    let mut v = Validator::new(&ctx);
    v.role(role_cfg)?;
    let specs = role_cfg.as_map().cloned().unwrap_or_default();
    let env_v = specs.get("env").cloned().unwrap_or(Value::Map(Map::new()));
    Validator::new(&format!("{ctx}/env")).env(&env_v)?;
    let logging_v = specs.get("logging").cloned().unwrap_or(Value::Map(Map::new()));
    let mut lv = Validator::new(&format!("{ctx}/logging"));
    lv.validate_schema(&logging_v, Schema::Logging)?;
    let proxy = role_proxy_settings(&specs, primary, &ctx)?;
    let host_tags = tagged_hosts(&role_host_entries(servers, role_cfg));
    let hosts = host_tags.iter().map(|(h, _)| h.clone()).collect();
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
    let service = raw.get("service").map(Value::to_rstring).unwrap_or_default();
    let container_prefix = match &c.destination {
        Some(d) => format!("{service}-{name}-{d}"),
        None => format!("{service}-{name}"),
    };
    let role = Role {
        name: name.to_string(),
        hosts,
        host_tags,
        primary,
        running_proxy: proxy.is_some(),
        cmd: specs.get("cmd").cloned(),
        option_args,
        labels: role_labels(raw, &specs, name, c.destination.as_deref()),
        logging_args: logging_args(Some(&Value::Map(merged_logging))),
        asset_path,
        container_prefix,
        env: c.root_env.merge(&Env::from_config(&env_v)),
        proxy: None,
        tag_envs: c.env_tags.clone(),
    };
    Ok((role, proxy))
}

/// Whether a role runs a proxy (the primary role unless `proxy: false`, others only with a
/// truthy `proxy`), and then its own (validated) proxy settings.
fn role_proxy_settings(specs: &Map, primary: bool, ctx: &str) -> Result<Option<Map>> {
    let proxy_spec = specs.get("proxy").cloned();
    let running_proxy = if primary { proxy_spec != Some(Value::Bool(false)) } else { proxy_spec.as_ref().is_some_and(Value::truthy) };
    if !running_proxy {
        return Ok(None);
    }
    let pc = match &proxy_spec {
        None | Some(Value::Bool(true)) | Some(Value::Nil) => Map::new(),
        Some(Value::Map(m)) => m.clone(),
        Some(other) => {
            return Err(ConfigError::invalid(format!("{ctx}/proxy"), format!("should be a hash (found {})", other.class_name())));
        }
    };
    validate_proxy(&Value::Map(pc.clone()), &format!("{ctx}/proxy"))?;
    Ok(Some(pc))
}

/// A role's host entries: the `servers` list, the role's list, or its `hosts`.
fn role_host_entries(servers: &Value, role_cfg: &Value) -> Vec<Value> {
    match (servers, role_cfg) {
        (Value::Seq(s), _) => s.clone(),
        (_, Value::Seq(s)) => s.clone(),
        (_, Value::Map(m)) => match m.get("hosts") {
            Some(Value::Seq(s)) => s.clone(),
            Some(Value::Nil) | None => vec![],
            Some(other) => vec![other.clone()],
        },
        _ => vec![],
    }
}

/// Host entries (`host` or `{host: [tags]}`) as hosts with their tags, a repeated host keeping
/// its first place and its last tags.
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

/// A role's labels: service, role, destination, then the root and the role's `labels`.
fn role_labels(raw: &Map, specs: &Map, name: &str, destination: Option<&str>) -> Map {
    let mut labels = Map::str_map(vec![
        ("service", raw.get("service").cloned().unwrap_or(Value::Nil)),
        ("role", Value::Str(name.to_string())),
        ("destination", destination.map(Value::str).unwrap_or(Value::Nil)),
    ]);
    if let Some(Value::Map(l)) = raw.get("labels") {
        labels.merge_from(l);
    }
    if let Some(Value::Map(l)) = specs.get("labels") {
        labels.merge_from(l);
    }
    labels
}

/// `registry`.
fn build_registry(c: &mut Config, raw: &Map) -> Result<()> {
    let reg_v = section(raw, "registry");
    validate_registry(&reg_v, "registry")?;
    c.registry = Registry { config: reg_v.as_map().cloned().unwrap_or_default() };
    Ok(())
}

/// `accessories`.
fn build_accessories(c: &mut Config, raw: &Map, servers: &Value) -> Result<()> {
    if let Some(Value::Map(accs)) = raw.get("accessories") {
        for (k, acc_v) in accs.iter() {
            let a = build_accessory(c, raw, servers, k.to_rstring(), acc_v)?;
            c.accessories.push(a);
        }
    }
    Ok(())
}

/// One accessory (`accessories/<name>`).
fn build_accessory(c: &Config, raw: &Map, servers: &Value, name: String, acc_v: &Value) -> Result<Accessory> {
    let ctx = format!("accessories/{name}");
    Validator::new(&ctx).accessory(acc_v)?;
    let am = acc_v.as_map().cloned().unwrap_or_default();
    check_accessory_roles(&am, &c.roles, &ctx)?;
    let env_v = am.get("env").cloned().unwrap_or(Value::Map(Map::new()));
    Validator::new(&format!("{ctx}/env")).env(&env_v)?;
    let proxy = if am.get("proxy").is_some_and(Value::present) {
        let pv = am.get("proxy").cloned().unwrap_or(Value::Nil);
        validate_proxy(&pv, &format!("{ctx}/proxy"))?;
        Some(Proxy::new(c, pv.as_map().cloned().unwrap_or_default(), None))
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
    let hosts = accessory_hosts(&am, &c.roles, servers).map_err(|m| ConfigError::invalid(ctx.clone(), m))?;
    let service = raw.get("service").map(Value::to_rstring).unwrap_or_default();
    let service_name = am.get("service").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| format!("{service}-{name}"));
    let image_part = am.get("image").map(Value::to_rstring).unwrap_or_default();
    let image = match registry.as_ref().and_then(Registry::server) {
        Some(s) => format!("{s}/{image_part}"),
        None => image_part,
    };
    Ok(Accessory { name, config: am.clone(), service_name, image, hosts, env: Env::from_config(&env_v), proxy, registry })
}

/// An accessory's `roles`/`role` must name defined roles.
fn check_accessory_roles(am: &Map, roles: &[Role], ctx: &str) -> Result<()> {
    let role_names_only: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
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
    Ok(())
}

/// `aliases`: names of lowercase letters, digits, `-` and `_`, not shadowing a command.
fn build_aliases(c: &mut Config, raw: &Map) -> Result<()> {
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
    Ok(())
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

/// `boot`.
fn build_boot(c: &mut Config, raw: &Map) -> Result<()> {
    let boot_v = section(raw, "boot");
    Validator::new("boot").validate_schema(&boot_v, Schema::Boot)?;
    c.boot = Boot { config: boot_v.as_map().cloned().unwrap_or_default(), host_count: c.hosts().len() };
    Ok(())
}

/// Validates the root env and `logging`, then builds the root `proxy`; returns its settings
/// (the base the role proxies are merged onto).
fn build_root_proxy(c: &mut Config, raw: &Map, root_env_v: &Value) -> Result<Map> {
    Validator::new("env").env(root_env_v)?;
    let logging_v = section(raw, "logging");
    Validator::new("logging").validate_schema(&logging_v, Schema::Logging)?;
    let root_proxy_v = get(raw, "proxy").cloned().unwrap_or(Value::Nil);
    let root_proxy_map = match &root_proxy_v {
        Value::Nil => Map::new(),
        other => {
            validate_proxy(other, "proxy")?;
            other.as_map().cloned().unwrap_or_default()
        }
    };
    c.root_proxy = Some(Proxy::new(c, root_proxy_map.clone(), None));
    Ok(root_proxy_map)
}

/// `ssh` (and `sshkit`, only validated).
fn build_ssh(c: &mut Config, raw: &Map) -> Result<()> {
    let ssh_v = section(raw, "ssh");
    Validator::new("ssh").validate_schema(&ssh_v, Schema::Ssh)?;
    c.ssh = Ssh { config: ssh_v.as_map().cloned().unwrap_or_default() };
    let sshkit_v = section(raw, "sshkit");
    Validator::new("sshkit").validate_schema(&sshkit_v, Schema::Sshkit)?;
    Ok(())
}

/// Role proxies: root deep-merged with the role's settings, validated as `proxy`.
fn build_role_proxies(c: &mut Config, root_proxy_map: &Map, pending_proxies: Vec<(usize, Map)>) -> Result<()> {
    for (i, pc) in pending_proxies {
        let merged = root_proxy_map.deep_merge(&pc);
        validate_proxy(&Value::Map(merged.clone()), "proxy")?;
        let name = c.roles[i].name.clone();
        c.roles[i].proxy = Some(Proxy::new(c, merged, Some(name)));
    }
    Ok(())
}

/// An accessory's hosts: `host`, `hosts`, the hosts of its `role`/`roles`, or those tagged
/// with its `tag`/`tags`.
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
