//! Which versions of a role run on a host, and stopping or renaming one (§4.4, §4.5).

use super::filters;
use crate::kamal::app::{AppSpec, RoleSpec};

fn ps_latest(app: &AppSpec, role: &str, fmt: &str) -> String {
    let f = filters(app, Some(role));
    format!(
        "docker ps --latest {fmt} {f} --filter status=running --filter status=restarting --filter ancestor=$(docker image ls --filter reference={} --format '\\''{{{{.ID}}}}'\\'') ; docker ps --latest {fmt} {f} --filter status=running --filter status=restarting",
        app.latest_image()
    )
}

/// §4.4: the current running version of a role on a host.
pub fn current_running_version(app: &AppSpec, role: &str) -> String {
    format!(
        "/usr/bin/env sh -c '{}' | head -1 | while read line; do echo ${{line#{}-}}; done",
        ps_latest(app, role, "--format '\\''{{.Names}}'\\''"),
        app.prefix(role)
    )
}

/// §4.4 with `--quiet`: the current container id.
pub fn current_running_container_id(app: &AppSpec, role: &str) -> String {
    format!("/usr/bin/env sh -c '{}' | head -1", ps_latest(app, role, "--quiet"))
}

/// §4.5 step 1: running versions of a role.
pub fn list_running_versions(app: &AppSpec, role: &str) -> String {
    format!("docker ps {} --format \"{{{{.Names}}}}\" | while read line; do echo ${{line#{}-}}; done", filters(app, Some(role)), app.prefix(role))
}

/// `docker container ls --all --filter 'name=^<prefix>-<ver>$' --quiet`
pub fn container_id_for(app: &AppSpec, role: &str, version: &str) -> String {
    format!("docker container ls --all --filter 'name=^{}$' --quiet", app.container_name(role, version))
}

/// Stop a role version; `-t` only for roles without proxy.
pub fn stop_version(app: &AppSpec, role: &RoleSpec, version: &str) -> String {
    let mut s = format!("{} | xargs docker stop", container_id_for(app, &role.name, version));
    if role.proxy.is_none() {
        s.push_str(&format!(" -t {}", app.drain_timeout));
    }
    s
}

pub fn rename(app: &AppSpec, role: &str, version: &str, new_version: &str) -> String {
    format!("docker rename {} {}", app.container_name(role, version), app.container_name(role, new_version))
}

/// `<ver>_replaced_<hex16>`
pub fn replaced_version(version: &str, hex16: &str) -> String {
    format!("{version}_replaced_{hex16}")
}

/// Every container of a role (any state) as `name<TAB>state<TAB>created`, for the versions a
/// rollback can choose.
pub fn role_containers_table(app: &AppSpec, role: &str) -> String {
    format!("docker container ls --all {} --format '{{{{.Names}}}}\t{{{{.State}}}}\t{{{{.CreatedAt}}}}'", super::filters(app, Some(role)))
}
