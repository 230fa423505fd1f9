//! Local hooks (§12): `.kamal/hooks/<name>` run from the app dir with `KAMAL_*` env.

use super::app::AppSpec;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

pub const SECRET_HOOKS: &[&str] = &["pre-connect", "pre-deploy", "post-deploy"];

#[derive(Debug, Clone)]
pub struct HookContext {
    pub performer: String,
    pub version: String,
    pub hosts: Vec<String>,
    pub roles: Option<Vec<String>>,
    pub lock: bool,
    pub command: String,
    pub runtime: Option<u64>,
}

/// The env a hook sees (without the inherited process env).
pub fn env(app: &AppSpec, hook: &str, ctx: &HookContext, now: DateTime<Utc>) -> Vec<(String, String)> {
    let short: String = if ctx.version.contains('_') { ctx.version.clone() } else { ctx.version.chars().take(7).collect() };
    let mut v = vec![
        ("KAMAL_RECORDED_AT".to_string(), now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ("KAMAL_PERFORMER".into(), ctx.performer.clone()),
        ("KAMAL_VERSION".into(), ctx.version.clone()),
        ("KAMAL_SERVICE_VERSION".into(), format!("{}@{}", app.service, short)),
        ("KAMAL_SERVICE".into(), app.service.clone()),
    ];
    if let Some(d) = &app.destination {
        v.push(("KAMAL_DESTINATION".into(), d.clone()));
    }
    v.push(("KAMAL_HOSTS".into(), ctx.hosts.join(",")));
    if let Some(r) = &ctx.roles {
        v.push(("KAMAL_ROLES".into(), r.join(",")));
    }
    v.push(("KAMAL_LOCK".into(), ctx.lock.to_string()));
    v.push(("KAMAL_COMMAND".into(), ctx.command.clone()));
    if let Some(rt) = ctx.runtime {
        v.push(("KAMAL_RUNTIME".into(), rt.to_string()));
    }
    if SECRET_HOOKS.contains(&hook) {
        for (k, val) in &app.secrets {
            v.push((k.clone(), val.clone()));
        }
    }
    v
}

pub fn path(app: &AppSpec, hook: &str) -> PathBuf {
    app.root.join(&app.hooks_path).join(hook)
}

pub fn exists(app: &AppSpec, hook: &str) -> bool {
    Path::new(&path(app, hook)).is_file()
}
