#![allow(clippy::type_complexity)]
//! Interim loader: `config/deploy.yml` (+ `deploy.<dest>.yml` overlay, `.kamal/secrets*`) into an
//! [`AppSpec`]. It covers the Kamal subset the engine needs; the shared `config` module is the
//! full, validating reader and replaces this once it lands (see `commands::load_app`).

use super::app::{AppSpec, BootLimit, ProxySpec, Registry, RoleSpec};
use serde_yaml::{Mapping, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct LoadError {
    pub file: String,
    pub key: String,
    pub message: String,
}

fn err(file: &Path, key: &str, message: impl Into<String>) -> LoadError {
    LoadError { file: file.display().to_string(), key: key.into(), message: message.into() }
}

fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => deep_merge(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn read_yaml(path: &Path) -> Result<Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(path, "-", e.to_string()))?;
    let mut v: Value = serde_yaml::from_str(&text).map_err(|e| err(path, "-", e.to_string()))?;
    v.apply_merge().map_err(|e| err(path, "<<", e.to_string()))?;
    Ok(v)
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'a>(m: &'a Value, k: &str) -> Option<&'a Value> {
    m.as_mapping().and_then(|m| m.get(k))
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(seq)) => seq.iter().filter_map(s).collect(),
        Some(v) => s(v).into_iter().collect(),
        None => vec![],
    }
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(|v| v.as_mapping())
        .map(|m| m.iter().filter_map(|(k, v)| Some((s(k)?, s(v).unwrap_or_default()))).collect())
        .unwrap_or_default()
}

fn seconds(v: Option<&Value>) -> Option<u64> {
    v.and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim_end_matches('s').parse().ok())))
}

/// Parse dotenv text, running `$(cmd)` and expanding `$VAR` through `sh` like Kamal's dotenv.
pub fn parse_secrets(text: &str, cwd: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        let Some((k, v)) = l.split_once('=') else { continue };
        let k = k.trim().to_string();
        let mut v = v.trim().to_string();
        let single = v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'');
        if single || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"')) {
            v = v[1..v.len() - 1].to_string();
        }
        if !single && v.contains('$') {
            let mut c = std::process::Command::new("sh");
            c.arg("-c").arg(format!("printf %s \"{}\"", v.replace('"', "\\\""))).current_dir(cwd);
            for (pk, pv) in &out {
                c.env(pk, pv);
            }
            if let Ok(o) = c.output() {
                v = String::from_utf8_lossy(&o.stdout).to_string();
            }
        }
        out.retain(|(ek, _)| ek != &k);
        out.push((k, v));
    }
    out
}

fn load_secrets(root: &Path, dest: Option<&str>) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = vec![];
    let files = [".kamal/secrets-common".to_string(), match dest { Some(d) => format!(".kamal/secrets.{d}"), None => ".kamal/secrets".into() }];
    for f in files {
        if let Ok(text) = std::fs::read_to_string(root.join(&f)) {
            for (k, v) in parse_secrets(&text, root) {
                all.retain(|(ek, _)| ek != &k);
                all.push((k, v));
            }
        }
    }
    all
}

fn secret(secrets: &[(String, String)], name: &str) -> Option<String> {
    secrets.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn proxy_spec(v: &Value) -> ProxySpec {
    let mut p = ProxySpec::default();
    let mut hosts = str_list(get(v, "hosts"));
    if let Some(h) = get(v, "host").and_then(s) {
        hosts.extend(h.split(',').map(|x| x.trim().to_string()));
    }
    p.hosts = hosts;
    if let Some(port) = get(v, "app_port").and_then(|x| x.as_u64()) {
        p.app_port = port as u16;
    }
    p.ssl = get(v, "ssl").is_some_and(|x| x.as_bool().unwrap_or(true));
    if let Some(hc) = get(v, "healthcheck") {
        p.healthcheck_interval = seconds(get(hc, "interval"));
        p.healthcheck_timeout = seconds(get(hc, "timeout"));
        p.healthcheck_path = get(hc, "path").and_then(s);
    }
    p.response_timeout = seconds(get(v, "response_timeout"));
    if let Some(b) = get(v, "buffering") {
        p.buffer_requests = get(b, "requests").and_then(|x| x.as_bool()).unwrap_or(true);
        p.buffer_responses = get(b, "responses").and_then(|x| x.as_bool()).unwrap_or(true);
        p.buffer_memory = get(b, "memory").and_then(s);
        p.max_request_body = get(b, "max_request_body").and_then(s);
        p.max_response_body = get(b, "max_response_body").and_then(s);
    }
    p.path_prefix = str_list(get(v, "path_prefix"));
    p.strip_path_prefix = get(v, "strip_path_prefix").and_then(|x| x.as_bool());
    p.forward_headers = get(v, "forward_headers").and_then(|x| x.as_bool());
    p.ssl_redirect = get(v, "ssl_redirect").and_then(|x| x.as_bool());
    if let Some(l) = get(v, "logging") {
        if get(l, "request_headers").is_some() {
            p.log_request_headers = Some(str_list(get(l, "request_headers")));
        }
        p.log_response_headers = str_list(get(l, "response_headers"));
    }
    p
}

/// Load `config_file` (default `config/deploy.yml`) with the destination overlay.
pub fn load(config_file: &Path, destination: Option<&str>) -> Result<AppSpec, LoadError> {
    let mut doc = read_yaml(config_file)?;
    if let Some(d) = destination {
        let stem = config_file.file_stem().and_then(|x| x.to_str()).unwrap_or("deploy");
        let overlay = config_file.with_file_name(format!("{stem}.{d}.yml"));
        let o = read_yaml(&overlay)?;
        deep_merge(&mut doc, o);
    }
    // The app dir is the parent of `config/`.
    let root: PathBuf = config_file
        .parent()
        .and_then(|p| if p.file_name().is_some_and(|n| n == "config") { p.parent() } else { Some(p) })
        .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() })
        .unwrap_or_else(|| PathBuf::from("."));
    let f = config_file;
    let secrets = load_secrets(&root, destination);
    let service = get(&doc, "service").and_then(s).ok_or_else(|| err(f, "service", "is required"))?;
    let image = get(&doc, "image").and_then(s).ok_or_else(|| err(f, "image", "is required"))?;
    let mut app = AppSpec { service, image, destination: destination.map(Into::into), root: root.clone(), ..Default::default() };
    app.secrets = secrets.clone();

    if let Some(r) = get(&doc, "registry") {
        let cred = |key: &str| -> Result<Option<String>, LoadError> {
            match get(r, key) {
                Some(Value::Sequence(seq)) => {
                    let name = seq.first().and_then(s).unwrap_or_default();
                    secret(&secrets, &name).map(Some).ok_or_else(|| err(f, &format!("registry.{key}"), format!("Secret '{name}' not found in .kamal/secrets")))
                }
                Some(v) => Ok(s(v)),
                None => Ok(None),
            }
        };
        app.registry = Registry { server: get(r, "server").and_then(s), username: cred("username")?, password: cred("password")? };
    }

    // env: {clear, secret} or a flat map of clear vars.
    let env_of = |v: Option<&Value>, key: &str| -> Result<(Vec<(String, String)>, Vec<(String, String)>), LoadError> {
        let Some(v) = v else { return Ok((vec![], vec![])) };
        let has_split = get(v, "clear").is_some() || get(v, "secret").is_some();
        let clear = if has_split { pairs(get(v, "clear")) } else { pairs(Some(v)) };
        let mut sec = vec![];
        for name in str_list(get(v, "secret")) {
            let (alias, src) = name.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())).unwrap_or((name.clone(), name.clone()));
            let val = secret(&secrets, &src).ok_or_else(|| err(f, &format!("{key}.secret"), format!("Secret '{src}' not found in .kamal/secrets")))?;
            sec.push((alias, val));
        }
        Ok((clear, sec))
    };
    let (g_clear, g_secret) = env_of(get(&doc, "env"), "env")?;
    app.volumes = str_list(get(&doc, "volumes"));
    if let Some(l) = get(&doc, "logging") {
        app.log_driver = get(l, "driver").and_then(s);
        app.log_options = pairs(get(l, "options"));
    }
    let g_labels = pairs(get(&doc, "labels"));
    let g_asset = get(&doc, "asset_path").and_then(s);
    app.error_pages_path = get(&doc, "error_pages_path").and_then(s);
    if let Some(x) = get(&doc, "deploy_timeout").and_then(|x| x.as_u64()) {
        app.deploy_timeout = x;
    }
    if let Some(x) = get(&doc, "drain_timeout").and_then(|x| x.as_u64()) {
        app.drain_timeout = x;
    }
    if let Some(x) = get(&doc, "readiness_delay").and_then(|x| x.as_u64()) {
        app.readiness_delay = x;
    }
    if let Some(x) = get(&doc, "retain_containers").and_then(|x| x.as_u64()) {
        app.retain_containers = x as usize;
    }
    if let Some(b) = get(&doc, "boot") {
        app.boot_limit = match get(b, "limit") {
            Some(Value::String(p)) if p.ends_with('%') => p.trim_end_matches('%').parse().ok().map(BootLimit::Percent),
            Some(v) => s(v).and_then(|x| x.parse().ok()).map(BootLimit::Count),
            None => None,
        };
        app.boot_wait = seconds(get(b, "wait"));
    }
    if let Some(h) = get(&doc, "hooks_path").and_then(s) {
        app.hooks_path = PathBuf::from(h);
    }
    if let Some(sh) = get(&doc, "ssh") {
        if let Some(u) = get(sh, "user").and_then(s) {
            app.ssh_user = u;
        }
        if let Some(p) = get(sh, "port").and_then(|x| x.as_u64()) {
            app.ssh_port = p as u16;
        }
        app.ssh_keys = str_list(get(sh, "keys")).into_iter().map(PathBuf::from).collect();
    }
    if let Some(b) = get(&doc, "builder") {
        if let Some(x) = get(b, "dockerfile").and_then(s) {
            app.dockerfile = x;
        }
        if let Some(x) = get(b, "context").and_then(s) {
            app.context = x;
        }
    }
    if let Some(p) = get(&doc, "primary_role").and_then(s) {
        app.primary_role = p;
    }
    let global_proxy = get(&doc, "proxy");

    let servers = get(&doc, "servers").ok_or_else(|| err(f, "servers", "is required"))?;
    let role_entries: Vec<(String, Value)> = match servers {
        Value::Sequence(_) => vec![("web".into(), servers.clone())],
        Value::Mapping(m) => m.iter().filter_map(|(k, v)| Some((s(k)?, v.clone()))).collect(),
        _ => return Err(err(f, "servers", "must be a list of hosts or a map of roles")),
    };
    for (name, v) in role_entries {
        let (hosts_v, spec): (Option<&Value>, Option<&Value>) = match &v {
            Value::Sequence(_) => (Some(&v), None),
            Value::Mapping(_) => (get(&v, "hosts"), Some(&v)),
            _ => return Err(err(f, &format!("servers.{name}"), "must be a list of hosts or a map")),
        };
        let hosts: Vec<String> = match hosts_v {
            Some(Value::Sequence(seq)) => seq
                .iter()
                .filter_map(|h| match h {
                    Value::Mapping(m) => m.keys().next().and_then(s),
                    other => s(other),
                })
                .collect(),
            _ => vec![],
        };
        let mut role = RoleSpec { name: name.clone(), hosts, ..Default::default() };
        let (r_clear, r_secret) = env_of(spec.and_then(|x| get(x, "env")), &format!("servers.{name}.env"))?;
        role.env_clear = g_clear.clone();
        for (k, v) in r_clear {
            role.env_clear.retain(|(ek, _)| ek != &k);
            role.env_clear.push((k, v));
        }
        role.env_secret = g_secret.clone();
        for (k, v) in r_secret {
            role.env_secret.retain(|(ek, _)| ek != &k);
            role.env_secret.push((k, v));
        }
        role.labels = g_labels.clone();
        for (k, v) in pairs(spec.and_then(|x| get(x, "labels"))) {
            role.labels.retain(|(ek, _)| ek != &k);
            role.labels.push((k, v));
        }
        role.cmd = spec.and_then(|x| get(x, "cmd")).and_then(s);
        role.options = spec
            .and_then(|x| get(x, "options"))
            .and_then(|o| o.as_mapping())
            .map(|m: &Mapping| m.iter().filter_map(|(k, v)| Some((s(k)?, if v.as_bool() == Some(true) { None } else { s(v) }))).collect())
            .unwrap_or_default();
        role.asset_path = spec.and_then(|x| get(x, "asset_path")).and_then(s).or_else(|| g_asset.clone());
        let role_proxy = spec.and_then(|x| get(x, "proxy"));
        role.proxy = match role_proxy {
            Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(global_proxy.map(proxy_spec).unwrap_or_default()),
            Some(p @ Value::Mapping(_)) => {
                let mut merged = global_proxy.cloned().unwrap_or(Value::Mapping(Mapping::new()));
                deep_merge(&mut merged, p.clone());
                Some(proxy_spec(&merged))
            }
            _ if name == app.primary_role => Some(global_proxy.map(proxy_spec).unwrap_or_default()),
            _ => None,
        };
        app.roles.push(role);
    }
    if app.roles.iter().all(|r| r.hosts.is_empty()) {
        return Err(err(f, "servers", "no hosts configured"));
    }
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_two_role_app() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join(".kamal")).unwrap();
        std::fs::write(dir.path().join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=pw\nSECRET_KEY_BASE=$(echo abc)\n").unwrap();
        std::fs::write(
            dir.path().join("config/deploy.yml"),
            "service: app\nimage: me/app\nservers:\n  web:\n    - 10.0.0.1\n  worker:\n    hosts: [10.0.0.2]\n    cmd: sleep 1000\nproxy:\n  host: app.test\n  healthcheck:\n    path: /up\n    interval: 2\nregistry:\n  server: r:5000\n  username: me\n  password: [KAMAL_REGISTRY_PASSWORD]\nenv:\n  clear:\n    A: b\n  secret: [SECRET_KEY_BASE]\nboot:\n  limit: 1\n  wait: 2\n",
        )
        .unwrap();
        let app = load(&dir.path().join("config/deploy.yml"), None).unwrap();
        assert_eq!(app.registry.password.as_deref(), Some("pw"));
        assert_eq!(app.roles.len(), 2);
        assert!(app.roles[0].proxy.is_some() && app.roles[1].proxy.is_none());
        assert_eq!(app.roles[0].env_secret, vec![("SECRET_KEY_BASE".to_string(), "abc".to_string())]);
        assert_eq!(app.boot_limit, Some(BootLimit::Count(1)));
        assert_eq!(app.roles[0].proxy.as_ref().unwrap().hosts, vec!["app.test"]);
        let e = load(&dir.path().join("config/nope.yml"), None).unwrap_err();
        assert!(e.to_string().contains("nope.yml"));
    }
}
