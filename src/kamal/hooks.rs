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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Trace 01-setup hooks.log: the env Kamal gave `pre-connect` and `docker-setup`.
    #[test]
    fn env_matches_trace() {
        let app = AppSpec {
            service: "klabapp".into(),
            secrets: vec![("KAMAL_REGISTRY_PASSWORD".into(), "x".into()), ("SECRET_KEY_BASE".into(), "y".into())],
            ..Default::default()
        };
        let ctx = HookContext {
            performer: "klab@example.test".into(),
            version: "1fd263c8cf1d0f2cdbfddf053de9b4f3c31fdf08".into(),
            hosts: vec!["10.77.0.11".into(), "10.77.0.12".into(), "10.77.0.13".into()],
            roles: None,
            lock: false,
            command: "setup".into(),
            runtime: None,
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 14, 7, 32).unwrap();
        let e = env(&app, "pre-connect", &ctx, at);
        let get = |k: &str| e.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("KAMAL_COMMAND"), Some("setup"));
        assert_eq!(get("KAMAL_HOSTS"), Some("10.77.0.11,10.77.0.12,10.77.0.13"));
        assert_eq!(get("KAMAL_LOCK"), Some("false"));
        assert_eq!(get("KAMAL_RECORDED_AT"), Some("2026-11-22T14:07:32Z"));
        assert_eq!(get("KAMAL_SERVICE_VERSION"), Some("klabapp@1fd263c"));
        assert_eq!(get("KAMAL_DESTINATION"), None);
        assert_eq!(get("SECRET_KEY_BASE"), Some("y"));
        // Secrets only for pre-connect, pre-deploy, post-deploy.
        let e = env(&app, "docker-setup", &HookContext { lock: true, ..ctx }, at);
        assert!(!e.iter().any(|(k, _)| k == "SECRET_KEY_BASE"));
        assert!(e.iter().any(|(k, v)| k == "KAMAL_LOCK" && v == "true"));
    }
}
