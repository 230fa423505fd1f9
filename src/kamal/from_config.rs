//! Build the engine's [`AppSpec`] from the shared, validating `config` module. Arguments the
//! config module already renders in Kamal's format (role options, logging, kamal-proxy deploy
//! flags) are taken verbatim so both agree byte for byte.

use super::app::{AppSpec, BootLimit, ProxySpec, Registry, RoleSpec};
use crate::config::{Config, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn err(c: &Config, e: impl std::fmt::Display) -> String {
    let _ = c;
    e.to_string()
}

/// Resolve everything the engine needs, including secrets (errors name the file and key).
pub fn from_config(c: &Config) -> Result<AppSpec, String> {
    let secrets = c.secrets();
    let registry = c.registry();
    let mut app = AppSpec {
        service: c.service().to_string(),
        destination: c.destination().map(str::to_string),
        image: c.image(),
        registry: Registry {
            server: registry.server(),
            username: registry.username(secrets).map_err(|e| err(c, e))?,
            password: registry.password(secrets).map_err(|e| err(c, e))?,
        },
        primary_role: c.primary_role_name(),
        error_pages_path: c.error_pages_path(),
        deploy_timeout: c.deploy_timeout().max(0) as u64,
        drain_timeout: c.drain_timeout().max(0) as u64,
        readiness_delay: c.readiness_delay().max(0) as u64,
        retain_containers: c.retain_containers().max(0) as usize,
        boot_limit: c.boot().limit().map(BootLimit::Count),
        boot_wait: c.boot().wait(),
        hooks_path: PathBuf::from(c.hooks_path()),
        ssh_user: c.ssh().user(),
        ssh_port: c.ssh().port(),
        ssh_keys: c.ssh().keys().into_iter().map(PathBuf::from).collect(),
        root: c.cwd().to_path_buf(),
        ..Default::default()
    };
    // `--volume x` pairs → the raw values (Kamal passes them unescaped).
    app.volumes = c.volume_args().chunks(2).filter_map(|p| p.get(1).cloned()).collect();
    app.secrets = match secrets.values() {
        Ok(v) => v.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Err(_) => vec![],
    };
    let b = c.builder_raw();
    if let Some(v) = b.get("dockerfile").filter(|v| !v.is_nil()) {
        app.dockerfile = v.to_rstring();
    }
    if let Some(v) = b.get("context").filter(|v| !v.is_nil()) {
        app.context = v.to_rstring();
    }
    for r in c.roles() {
        let mut host_env = BTreeMap::new();
        for h in r.hosts() {
            if !r.env_tags(h).is_empty() {
                host_env.insert(h.clone(), r.env_for(h).clear_strings());
            }
        }
        let env_secret = r.env.resolve_secrets(secrets).map_err(|e| format!("servers.{}.env.secret: {e}", r.name))?;
        let labels = r
            .label_strings()
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "service" | "role" | "destination"))
            .collect();
        let proxy = r.proxy().filter(|_| r.running_proxy()).map(|p| {
            let mut rendered = p.deploy_command_args("x");
            // Drop `--target` (first) and `--error-pages` (per booted version): the engine adds them.
            rendered.retain(|a| !a.starts_with("--target=") && !a.starts_with("--error-pages="));
            ProxySpec {
                hosts: p.hosts(),
                app_port: match p.app_port() {
                    Value::Int(i) => i as u16,
                    v => v.to_rstring().parse().unwrap_or(80),
                },
                ssl: p.ssl(),
                rendered: Some(rendered),
                ..Default::default()
            }
        });
        app.roles.push(RoleSpec {
            name: r.name.clone(),
            hosts: r.hosts.clone(),
            proxy,
            cmd: r.cmd_string(),
            env_clear: r.env.clear_strings(),
            host_env,
            env_secret,
            labels,
            options: vec![],
            asset_path: r.asset_path.clone(),
            option_args: r.option_args.clone(),
            logging_args: Some(r.logging_args.clone()),
        });
    }
    Ok(app)
}
