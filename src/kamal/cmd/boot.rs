//! Booting a role's new container: env file, error pages, assets, `docker run`, health, tag (§4.6).

use super::container_id_for;
use crate::kamal::app::{AppSpec, RoleSpec};
use crate::kamal::ruby::escape_shell_value;

pub fn env_dir(app: &AppSpec) -> String {
    format!(".kamal/apps/{}/env/roles", app.service_and_destination())
}

pub fn env_file(app: &AppSpec, role: &str) -> String {
    format!("{}/{role}.env", env_dir(app))
}

pub fn mkdir_env_dir(app: &AppSpec) -> String {
    format!("/usr/bin/env mkdir -p {}", env_dir(app))
}

pub fn error_pages_dir(app: &AppSpec) -> String {
    format!(".kamal/proxy/apps-config/{}/error_pages", app.service_and_destination())
}

pub fn mkdir_error_pages(app: &AppSpec) -> String {
    format!("/usr/bin/env mkdir -p {}", error_pages_dir(app))
}

pub fn clean_error_pages(app: &AppSpec, version: &str) -> String {
    format!("/usr/bin/env find {} -mindepth 1 -maxdepth 1 ! -name {version} -exec rm -rf {{}} +", error_pages_dir(app))
}

fn assets_dir(app: &AppSpec, kind: &str) -> String {
    format!(".kamal/apps/{}/assets/{kind}", app.service_and_destination())
}

pub fn extract_assets(app: &AppSpec, role: &str, version: &str, asset_path: &str) -> String {
    let ext = format!("{}/{role}-{version}", assets_dir(app, "extracted"));
    let name = format!("{}-assets", app.prefix(role));
    format!(
        "/usr/bin/env mkdir -p {ext} && docker container rm {name} 2> /dev/null || true && docker container create --name {name} {} && docker container cp -L {name}:{asset_path}/. {ext} && docker container rm {name}",
        app.image_ref(version)
    )
}

pub fn sync_asset_volumes(app: &AppSpec, role: &str, version: &str, old: Option<&str>) -> String {
    let ext = assets_dir(app, "extracted");
    let vol = assets_dir(app, "volumes");
    let mut s = format!("/usr/bin/env mkdir -p {vol}/{role}-{version} ; cp -rnT {ext}/{role}-{version} {vol}/{role}-{version}");
    if let Some(o) = old.filter(|o| !o.is_empty()) {
        s.push_str(&format!(" ; cp -rnT {ext}/{role}-{version} {vol}/{role}-{o} || true ; cp -rnT {ext}/{role}-{o} {vol}/{role}-{version} || true"));
    }
    s
}

pub fn clean_assets(app: &AppSpec, role: &str, version: &str) -> String {
    let ext = assets_dir(app, "extracted");
    let vol = assets_dir(app, "volumes");
    format!(
        "/usr/bin/env find {ext} -maxdepth 1 -name '{role}-*' ! -name {role}-{version} -exec rm -rf \"{{}}\" + ; find {vol} -maxdepth 1 -name '{role}-*' ! -name {role}-{version} -exec rm -rf \"{{}}\" +"
    )
}

/// `--hostname`: host truncated to 51 chars, trailing '.' removed, `-<hex12>`.
pub fn container_hostname(host: &str, hex12: &str) -> String {
    let t: String = host.chars().take(51).collect();
    format!("{}-{hex12}", t.strip_suffix('.').unwrap_or(&t))
}

fn labels_args(app: &AppSpec, role: &RoleSpec) -> Vec<String> {
    let mut v = vec![format!("--label service={}", escape_shell_value(&app.service)), format!("--label role={}", escape_shell_value(&role.name))];
    match &app.destination {
        Some(d) => v.push(format!("--label destination={}", escape_shell_value(d))),
        None => v.push("--label destination".into()),
    }
    for (k, val) in &role.labels {
        v.push(format!("--label {k}={}", escape_shell_value(val)));
    }
    v
}

pub(super) fn env_args(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("--env {k}={}", escape_shell_value(v))).collect()
}

pub(super) fn role_logging_args(app: &AppSpec, role: &RoleSpec) -> Vec<String> {
    match &role.logging_args {
        Some(a) => a.clone(),
        None => logging_args(app),
    }
}

fn logging_args(app: &AppSpec) -> Vec<String> {
    // Kamal's default when neither a driver nor options are configured.
    if app.log_driver.is_none() && app.log_options.is_empty() {
        return vec!["--log-opt max-size=\"10m\"".into()];
    }
    let mut v = vec![];
    if let Some(d) = &app.log_driver {
        v.push(format!("--log-driver {}", escape_shell_value(d)));
    }
    for (k, val) in &app.log_options {
        v.push(format!("--log-opt {k}={}", escape_shell_value(val)));
    }
    v
}

pub(super) fn option_args(role: &RoleSpec) -> Vec<String> {
    let mut v: Vec<String> = role
        .options
        .iter()
        .map(|(k, v)| match v {
            None => format!("--{k}"),
            Some(v) => format!("--{k} {}", escape_shell_value(v)),
        })
        .collect();
    v.extend(role.option_args.iter().cloned());
    v
}

pub(super) fn clear_env(role: &RoleSpec, host: &str) -> Vec<(String, String)> {
    role.host_env.get(host).cloned().unwrap_or_else(|| role.env_clear.clone())
}

/// §4.6 step 7: `docker run` of the new container.
pub fn app_run(app: &AppSpec, role: &RoleSpec, host: &str, version: &str, hex12: &str) -> String {
    let name = app.container_name(&role.name, version);
    let mut a: Vec<String> = vec![
        "docker run --detach --restart unless-stopped".into(),
        format!("--name {name}"),
        "--network kamal".into(),
        format!("--hostname {}", container_hostname(host, hex12)),
    ];
    let mut kenv = vec![
        ("KAMAL_CONTAINER_NAME".to_string(), name.clone()),
        ("KAMAL_VERSION".to_string(), version.to_string()),
        ("KAMAL_HOST".to_string(), host.to_string()),
    ];
    if let Some(d) = &app.destination {
        kenv.push(("KAMAL_DESTINATION".into(), d.clone()));
    }
    a.extend(env_args(&kenv));
    a.extend(env_args(&clear_env(role, host)));
    a.push(format!("--env-file {}", env_file(app, &role.name)));
    a.extend(role_logging_args(app, role));
    for v in &app.volumes {
        a.push(format!("--volume {v}"));
    }
    if let (Some(ap), Some(_)) = (&role.asset_path, &role.proxy) {
        a.push(format!("--volume $PWD/{}/{}-{version}:{ap}", assets_dir(app, "volumes"), role.name));
    }
    a.extend(labels_args(app, role));
    a.extend(option_args(role));
    a.push(app.image_ref(version));
    if let Some(c) = &role.cmd {
        a.push(c.clone());
    }
    a.join(" ")
}

/// §4.6 step 8, roles without proxy.
pub fn container_health_status(app: &AppSpec, role: &str, version: &str) -> String {
    format!(
        "{} | xargs docker inspect --format '{{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{else}}}}{{{{.State.Status}}}}{{{{end}}}}'",
        container_id_for(app, role, version)
    )
}

pub fn container_logs_dump(app: &AppSpec, role: &str, version: &str) -> String {
    format!("{} | xargs docker logs --timestamps 2>&1", container_id_for(app, role, version))
}

pub fn container_health_json(app: &AppSpec, role: &str, version: &str) -> String {
    format!("{} | xargs docker inspect --format '{{{{json .State.Health}}}}'", container_id_for(app, role, version))
}

pub fn tag_latest(app: &AppSpec, version: &str) -> String {
    format!("docker tag {} {}", app.image_ref(version), app.latest_image())
}
