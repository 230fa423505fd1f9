//! Kamal 2.11's exact on-host command strings (kamal-contract.md §4–§5). Pure: the random
//! parts (hex suffixes, timestamps) are parameters so traces can be compared.

use super::app::AppSpec;
use super::ruby::escape_shell_value;

mod boot;
pub mod builder;
mod manage;
mod proxy;
mod versions;
mod views;

pub use boot::*;
pub use manage::*;
pub use proxy::*;
pub use versions::*;
pub use views::*;

/// `--filter label=service=<svc> --filter label=destination=<dest> [--filter label=role=<role>]`
pub fn filters(app: &AppSpec, role: Option<&str>) -> String {
    let mut s = format!("--filter label=service={} --filter label=destination={}", app.service, app.destination.as_deref().unwrap_or(""));
    if let Some(r) = role {
        s.push_str(&format!(" --filter label=role={r}"));
    }
    s
}

pub fn mkdir_kamal() -> String {
    "/usr/bin/env mkdir -p .kamal".into()
}

// ---------------------------------------------------------------- registry / pull (§4.2)

pub fn docker_login(app: &AppSpec) -> Option<String> {
    if app.local_registry() {
        return None;
    }
    let r = &app.registry;
    let user = r.username.as_deref()?;
    let pass = r.password.as_deref().unwrap_or("");
    let mut s = "docker login".to_string();
    if let Some(server) = r.server.as_deref().filter(|s| !s.is_empty()) {
        s.push(' ');
        s.push_str(server);
    }
    s.push_str(&format!(" -u {} -p {}", escape_shell_value(user), escape_shell_value(pass)));
    Some(s)
}

pub fn registry_mirror_probe() -> String {
    "docker info --format '{{index .RegistryConfig.Mirrors 0}}'".into()
}

pub fn image_rm_force(app: &AppSpec, version: &str) -> String {
    format!("docker image rm --force {}", app.image_ref(version))
}

pub fn pull(app: &AppSpec, version: &str) -> String {
    format!("docker pull {}", app.image_ref(version))
}

pub fn ensure_service_label(app: &AppSpec, version: &str) -> String {
    let img = app.image_ref(version);
    format!(
        "docker inspect -f '{{{{ .Config.Labels.service }}}}' {img} | grep -x {} || (echo \"Image {img} is missing the 'service' label\" && exit 1)",
        app.service
    )
}

// ---------------------------------------------------------------- lock (§9)

pub fn lock_dir(app: &AppSpec) -> String {
    crate::kamal::lock::lock_dir(&app.service_and_destination())
}

/// `details_b64` is [`super::lock::encode_details`] output (with its trailing newline).
pub fn lock_acquire(app: &AppSpec, details_b64: &str) -> String {
    let d = lock_dir(app);
    format!("/usr/bin/env mkdir {d} && echo \"{details_b64}\" > {d}/details")
}

pub fn lock_release(app: &AppSpec) -> String {
    let d = lock_dir(app);
    format!("/usr/bin/env rm {d}/details && rm -r {d}")
}

pub fn lock_status(app: &AppSpec) -> String {
    let d = lock_dir(app);
    format!("/usr/bin/env stat {d} > /dev/null && cat {d}/details | base64 -d")
}

// ---------------------------------------------------------------- audit (§10)

pub fn audit_file(app: &AppSpec) -> String {
    format!(".kamal/{}-audit.log", app.service_and_destination())
}

pub fn audit_record(app: &AppSpec, line: &str) -> String {
    format!("/usr/bin/env mkdir -p .kamal && echo {} >> {}", escape_shell_value(line), audit_file(app))
}

pub fn audit_tail(app: &AppSpec) -> String {
    format!("/usr/bin/env tail -n 50 {}", audit_file(app))
}

// ---------------------------------------------------------------- prune (§4.7)

pub fn prune_containers(app: &AppSpec, retain: usize) -> String {
    format!(
        "docker ps -q -a --filter label=service={} --filter status=created --filter status=exited --filter status=dead | tail -n +{} | while read container_id; do docker rm $container_id; done",
        app.service,
        retain + 1
    )
}

pub fn prune_dangling_images(app: &AppSpec) -> String {
    format!("docker image prune --force --filter label=service={}", app.service)
}

pub fn prune_tagged_images(app: &AppSpec) -> String {
    let repo = app.repository();
    format!(
        "docker image ls --filter label=service={svc} --format '{{{{.ID}}}} {{{{.Repository}}}}:{{{{.Tag}}}}' | grep -v -w \"$(docker container ls -a --format '{{{{.Image}}}}\\|' --filter label=service={svc} | tr -d '\\n'){latest}\\|{repo}:<none>\" | while read image tag; do docker rmi $tag; done",
        svc = app.service,
        latest = app.latest_image(),
    )
}
