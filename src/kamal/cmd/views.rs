//! Read-only views and ad-hoc app commands: details, containers, images, logs, start/stop, exec (§5).

use super::boot::{clear_env, env_args, option_args, role_logging_args};
use super::{current_running_container_id, env_file, filters};
use crate::kamal::app::{AppSpec, RoleSpec};

pub fn app_details(app: &AppSpec, role: &str) -> String {
    format!("docker ps {}", filters(app, Some(role)))
}

pub fn app_containers(app: &AppSpec) -> String {
    format!("docker container ls --all {}", filters(app, None))
}

pub fn app_images(app: &AppSpec) -> String {
    format!("docker image ls {}", app.repository())
}

#[allow(clippy::too_many_arguments)]
pub fn app_logs(
    app: &AppSpec,
    role: &str,
    since: Option<&str>,
    lines: Option<u32>,
    grep: Option<&str>,
    grep_options: Option<&str>,
    timestamps: bool,
    container_id: Option<&str>,
) -> String {
    let src = match container_id {
        Some(id) => format!("echo {id}"),
        None => current_running_container_id(app, role),
    };
    let mut s = format!("{src} | xargs docker logs");
    if timestamps {
        s.push_str(" --timestamps");
    }
    if let Some(x) = since {
        s.push_str(&format!(" --since {x}"));
    }
    let lines = lines.or(if since.is_none() && grep.is_none() { Some(100) } else { None });
    if let Some(n) = lines {
        s.push_str(&format!(" --tail {n}"));
    }
    s.push_str(" 2>&1");
    push_grep(&mut s, grep, grep_options);
    s
}

/// Kamal's `--grep` filter on a logs command: ` | grep '<re>'` and its `--grep-options`.
pub fn push_grep(s: &mut String, grep: Option<&str>, grep_options: Option<&str>) {
    if let Some(g) = grep {
        s.push_str(&format!(" | grep '{g}'"));
        if let Some(o) = grep_options {
            s.push_str(&format!(" {o}"));
        }
    }
}

/// Follow form (Kamal runs it through a local `ssh -t`; kdeck runs it on every host).
pub fn app_logs_follow(app: &AppSpec, role: &str, lines: u32, timestamps: bool) -> String {
    format!("{} | xargs docker logs{} --tail {lines} --follow 2>&1", current_running_container_id(app, role), if timestamps { " --timestamps" } else { "" })
}

pub fn docker_version_check() -> String {
    "docker -v".into()
}

pub fn app_start(app: &AppSpec, role: &str, version: &str) -> String {
    format!("docker start {}", app.container_name(role, version))
}

pub fn app_stop_current(app: &AppSpec, role: &RoleSpec) -> String {
    let mut s = format!("{} | xargs docker stop", current_running_container_id(app, &role.name));
    if role.proxy.is_none() {
        s.push_str(&format!(" -t {}", app.drain_timeout));
    }
    s
}

/// How `app exec` attaches to its command, as Kamal's `execute_in_new_container` /
/// `execute_in_existing_container` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecMode {
    /// Output captured (`docker run --rm …` / `docker exec …`).
    Captured,
    /// `--detach`: a new container left running (new containers only).
    Detached,
    /// `-i`: stdin attached; `tty` adds `-t` (stdin is a terminal).
    Interactive { tty: bool },
}

impl ExecMode {
    /// The `-it` / `-i` flag, or nothing.
    pub fn attach_flag(self) -> Option<&'static str> {
        match self {
            ExecMode::Interactive { tty: true } => Some("-it"),
            ExecMode::Interactive { tty: false } => Some("-i"),
            ExecMode::Captured | ExecMode::Detached => None,
        }
    }
}

/// `app exec` in a new container.
#[allow(clippy::too_many_arguments)]
pub fn app_exec_run(
    app: &AppSpec,
    role: &RoleSpec,
    host: &str,
    version: &str,
    hex6: &str,
    extra_env: &[(String, String)],
    mode: ExecMode,
    cmd: &str,
) -> String {
    let head = match (mode, mode.attach_flag()) {
        (ExecMode::Detached, _) => "docker run --detach".to_string(),
        (_, Some(flag)) => format!("docker run {flag} --rm"),
        (_, None) => "docker run --rm".to_string(),
    };
    let mut a: Vec<String> = vec![head, format!("--name {}-exec-{version}-{hex6}", app.prefix(&role.name)), "--network kamal".into()];
    a.extend(env_args(&clear_env(role, host)));
    a.push(format!("--env-file {}", env_file(app, &role.name)));
    a.extend(env_args(extra_env));
    a.extend(role_logging_args(app, role));
    for v in &app.volumes {
        a.push(format!("--volume {v}"));
    }
    a.extend(option_args(role));
    a.push(app.image_ref(version));
    a.push(cmd.to_string());
    a.join(" ")
}

/// `app exec --reuse`: in the role's running container of `version` (never detached).
pub fn app_exec_reuse(app: &AppSpec, role: &str, version: &str, extra_env: &[(String, String)], mode: ExecMode, cmd: &str) -> String {
    let mut s = "docker exec".to_string();
    if let Some(flag) = mode.attach_flag() {
        s.push(' ');
        s.push_str(flag);
    }
    for e in env_args(extra_env) {
        s.push(' ');
        s.push_str(&e);
    }
    format!("{s} {} {cmd}", app.container_name(role, version))
}
