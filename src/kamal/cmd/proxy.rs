//! kamal-proxy: the network, the proxy container, deploy/remove of a role's target (§4.3, §8).

use crate::kamal::app::{AppSpec, ProxySpec};
use crate::kamal::ruby::escape_shell_value;

pub const PROXY_IMAGE: &str = crate::config::proxy_run::DEFAULT_REPOSITORY;
pub const PROXY_MIN_VERSION: &str = crate::config::proxy_run::MINIMUM_VERSION;

pub fn network_create() -> String {
    "docker network create kamal".into()
}

pub fn proxy_image_version() -> String {
    "docker inspect kamal-proxy --format '{{.Config.Image}}' | awk -F: '{print $NF}'".into()
}

pub fn proxy_mkdir_apps_config() -> String {
    "/usr/bin/env mkdir -p .kamal/proxy/apps-config".into()
}

/// Kamal's fixed `docker run` options for kamal-proxy, either way it is booted.
const PROXY_RUN_HEAD: &str =
    "docker run --name kamal-proxy --network kamal --detach --restart unless-stopped --volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy";

/// From the host's `.kamal/proxy/*` boot files (their defaults when absent), through xargs.
fn proxy_run_legacy_args() -> String {
    let apps_volume = crate::config::proxy_run::APPS_VOLUME;
    format!("{} | xargs {PROXY_RUN_HEAD} --volume {apps_volume}", proxy_boot_config_echo())
}

/// `proxy boot_config get` (SSHKit maps the bare `echo` through `/usr/bin/env`).
pub fn proxy_boot_config() -> String {
    format!("/usr/bin/env {}", proxy_boot_config_echo())
}

/// The host's boot config, from its `.kamal/proxy/*` files (Kamal's defaults when absent), as
/// one line: options, image:version, run command.
fn proxy_boot_config_echo() -> String {
    let options = crate::config::proxy_run::default_boot_options().join(" ");
    format!(
        "echo $(cat .kamal/proxy/options 2> /dev/null || echo \"{options}\") $(cat .kamal/proxy/image 2> /dev/null || echo \"{PROXY_IMAGE}\"):$(cat .kamal/proxy/image_version 2> /dev/null || echo \"{PROXY_MIN_VERSION}\") $(cat .kamal/proxy/run_command 2> /dev/null || echo \"\")"
    )
}

/// The boot config files `proxy boot_config` writes or resets.
pub const PROXY_BOOT_FILES: [&str; 4] = ["options", "image", "image_version", "run_command"];

pub fn proxy_boot_file(name: &str) -> String {
    format!(".kamal/proxy/{name}")
}

pub fn proxy_ensure_directory() -> String {
    "/usr/bin/env mkdir -p .kamal/proxy".into()
}

pub fn proxy_reset_boot_file(name: &str) -> String {
    format!("/usr/bin/env rm {}", proxy_boot_file(name))
}

/// Start the existing kamal-proxy or run a new one (`proxy boot`, `deploy`).
pub fn proxy_start_or_run(app: &AppSpec, host: &str) -> String {
    format!("docker container start kamal-proxy || {}", proxy_run(app, host))
}

/// Run a new kamal-proxy (`proxy reboot`): from the host's `proxy: run:` when the config has
/// one, else from the host's `.kamal/proxy/*` boot files.
pub fn proxy_run(app: &AppSpec, host: &str) -> String {
    match app.proxy_runs.get(host) {
        Some(r) => format!("{PROXY_RUN_HEAD} {} {} {}", r.docker_options.join(" "), r.image, r.run_command),
        None => proxy_run_legacy_args(),
    }
}

/// The command `proxy reboot` runs kamal-proxy with: as [`proxy_run`]; sent alone, the boot
/// files' `echo … | xargs docker run …` goes through `/usr/bin/env` as Kamal's SSHKit sends it.
pub fn proxy_reboot_run(app: &AppSpec, host: &str) -> String {
    match app.proxy_runs.get(host) {
        Some(_) => proxy_run(app, host),
        None => format!("/usr/bin/env {}", proxy_run_legacy_args()),
    }
}

pub fn proxy_stop() -> String {
    "docker container stop kamal-proxy".into()
}

pub fn proxy_prune_containers() -> String {
    "docker container prune --force --filter label=org.opencontainers.image.title=kamal-proxy".into()
}

/// `upgrade` (Kamal 1 → 2): stop Traefik, then remove its containers and images.
pub fn proxy_cleanup_traefik() -> String {
    "docker container stop traefik ; docker container prune --force --filter label=org.opencontainers.image.title=Traefik && docker image prune --all --force --filter label=org.opencontainers.image.title=Traefik".into()
}

pub fn proxy_details() -> String {
    "docker ps --filter 'name=^kamal-proxy$'".into()
}

pub fn proxy_logs(since: Option<&str>, lines: Option<u32>, grep: Option<&str>, timestamps: bool) -> String {
    let mut s = "docker logs kamal-proxy".to_string();
    if let Some(x) = since {
        s.push_str(&format!(" --since {x}"));
    }
    if let Some(n) = lines {
        s.push_str(&format!(" --tail {n}"));
    }
    if timestamps {
        s.push_str(" --timestamps");
    }
    s.push_str(" 2>&1");
    if let Some(g) = grep {
        s.push_str(&format!(" | grep '{g}'"));
    }
    s
}

/// Kamal's `optionize(with: "=")`: true → `--k`, false → `--k="false"`, value → `--k="v"`.
enum Opt {
    Flag(bool),
    Val(String),
}

/// `kamal-proxy deploy` flags in Kamal's order (§8).
pub fn proxy_deploy_flags(app: &AppSpec, role: &str, version: &str, p: &ProxySpec) -> Vec<String> {
    if let Some(r) = &p.rendered {
        let mut v = r.clone();
        if app.error_pages_path.is_some() {
            v.push(format!("--error-pages=\"/home/kamal-proxy/.apps-config/{}/error_pages/{}\"", app.service_and_destination(), version));
        }
        return v;
    }
    let mut opts: Vec<(&str, Opt)> = vec![];
    for h in &p.hosts {
        opts.push(("host", Opt::Val(h.clone())));
    }
    if p.ssl {
        opts.push(("tls", Opt::Flag(true)));
    }
    opts.push(("deploy-timeout", Opt::Val(format!("{}s", app.deploy_timeout))));
    opts.push(("drain-timeout", Opt::Val(format!("{}s", app.drain_timeout))));
    if let Some(i) = p.healthcheck_interval {
        opts.push(("health-check-interval", Opt::Val(format!("{i}s"))));
    }
    if let Some(t) = p.healthcheck_timeout {
        opts.push(("health-check-timeout", Opt::Val(format!("{t}s"))));
    }
    if let Some(path) = &p.healthcheck_path {
        opts.push(("health-check-path", Opt::Val(path.clone())));
    }
    if let Some(t) = p.response_timeout {
        opts.push(("target-timeout", Opt::Val(format!("{t}s"))));
    }
    opts.push(("buffer-requests", Opt::Flag(p.buffer_requests)));
    opts.push(("buffer-responses", Opt::Flag(p.buffer_responses)));
    if let Some(v) = &p.buffer_memory {
        opts.push(("buffer-memory", Opt::Val(v.clone())));
    }
    if let Some(v) = &p.max_request_body {
        opts.push(("max-request-body", Opt::Val(v.clone())));
    }
    if let Some(v) = &p.max_response_body {
        opts.push(("max-response-body", Opt::Val(v.clone())));
    }
    for v in &p.path_prefix {
        opts.push(("path-prefix", Opt::Val(v.clone())));
    }
    if let Some(b) = p.strip_path_prefix {
        opts.push(("strip-path-prefix", Opt::Flag(b)));
    }
    if let Some(b) = p.forward_headers {
        opts.push(("forward-headers", Opt::Flag(b)));
    }
    if let Some(b) = p.ssl_redirect {
        opts.push(("tls-redirect", Opt::Flag(b)));
    }
    let default_headers = vec!["Cache-Control".to_string(), "Last-Modified".into(), "User-Agent".into()];
    for h in p.log_request_headers.as_ref().unwrap_or(&default_headers) {
        opts.push(("log-request-header", Opt::Val(h.clone())));
    }
    for h in &p.log_response_headers {
        opts.push(("log-response-header", Opt::Val(h.clone())));
    }
    if app.error_pages_path.is_some() {
        opts.push(("error-pages", Opt::Val(format!("/home/kamal-proxy/.apps-config/{}/error_pages/{}", app.service_and_destination(), version))));
    }
    let _ = role;
    opts.into_iter()
        .map(|(k, v)| match v {
            Opt::Flag(true) => format!("--{k}"),
            Opt::Flag(false) => format!("--{k}=\"false\""),
            Opt::Val(v) => format!("--{k}={}", escape_shell_value(&v)),
        })
        .collect()
}

pub fn proxy_deploy(app: &AppSpec, role: &str, version: &str, container_id: &str, p: &ProxySpec) -> String {
    let mut s = format!("docker exec kamal-proxy kamal-proxy deploy {} --target=\"{}:{}\"", app.prefix(role), container_id, p.app_port);
    for f in proxy_deploy_flags(app, role, version, p) {
        s.push(' ');
        s.push_str(&f);
    }
    s
}

pub fn proxy_remove(app: &AppSpec, role: &str) -> String {
    format!("docker exec kamal-proxy kamal-proxy remove {}", app.prefix(role))
}

/// How kamal-proxy's `rollout set` splits a service's requests between its live target and its
/// rollout target: by the `kamal-rollout` cookie only (no cookie: the live target).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RolloutSplit {
    /// `--percent`: cookie values whose FNV-1a hash falls in the first `percent` % of the range.
    pub percent: Option<u8>,
    /// `--list`: cookie values that always go to the rollout target.
    pub list: Vec<String>,
}

impl RolloutSplit {
    /// `25 % of kamal-rollout cookies`, `cookies alice, bob`, or both.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(p) = self.percent {
            parts.push(format!("{p} % of kamal-rollout cookies"));
        }
        if !self.list.is_empty() {
            parts.push(format!("kamal-rollout cookies {}", self.list.join(", ")));
        }
        if parts.is_empty() {
            "no kamal-rollout cookie".into()
        } else {
            parts.join(" and ")
        }
    }
}

/// The kamal-rollout cookie value a list may carry (what Go's HTTP server accepts in a cookie
/// value, without the comma kamal-proxy's `--list` splits on): None when `v` is one.
pub fn rollout_value_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return Some("an empty value".into());
    }
    v.bytes()
        .find(|b| !(0x21..0x7f).contains(b) || matches!(b, b'"' | b';' | b'\\' | b','))
        .map(|b| format!("{v:?} has {:?}, which a cookie value cannot carry", b as char))
}

/// `kamal-proxy rollout deploy`: the new container becomes the role's rollout target once
/// healthy (kamal-proxy checks it with the role's health-check settings of its last deploy).
pub fn proxy_rollout_deploy(app: &AppSpec, role: &str, container_id: &str, p: &ProxySpec) -> String {
    format!(
        "docker exec kamal-proxy kamal-proxy rollout deploy {} --target=\"{}:{}\" --deploy-timeout=\"{}s\" --drain-timeout=\"{}s\"",
        app.prefix(role),
        container_id,
        p.app_port,
        app.deploy_timeout,
        app.drain_timeout
    )
}

/// `kamal-proxy rollout set`: which requests the rollout target gets.
pub fn proxy_rollout_set(app: &AppSpec, role: &str, split: &RolloutSplit) -> String {
    let mut s = format!("docker exec kamal-proxy kamal-proxy rollout set {}", app.prefix(role));
    if let Some(p) = split.percent {
        s.push_str(&format!(" --percent={p}"));
    }
    if !split.list.is_empty() {
        s.push_str(&format!(" --list={}", escape_shell_value(&split.list.join(","))));
    }
    s
}

/// `kamal-proxy rollout stop`: every request goes to the live target again.
pub fn proxy_rollout_stop(app: &AppSpec, role: &str) -> String {
    format!("docker exec kamal-proxy kamal-proxy rollout stop {}", app.prefix(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_commands_carry_kamal_proxys_flags() {
        let app = AppSpec { service: "klabapp".into(), destination: Some("staging".into()), deploy_timeout: 30, drain_timeout: 5, ..Default::default() };
        let p = ProxySpec { app_port: 3000, ..Default::default() };
        assert_eq!(
            proxy_rollout_deploy(&app, "web", "0123456789ab", &p),
            "docker exec kamal-proxy kamal-proxy rollout deploy klabapp-web-staging --target=\"0123456789ab:3000\" --deploy-timeout=\"30s\" --drain-timeout=\"5s\""
        );
        let split = RolloutSplit { percent: Some(25), list: vec!["alice".into(), "bob".into()] };
        assert_eq!(
            proxy_rollout_set(&app, "web", &split),
            "docker exec kamal-proxy kamal-proxy rollout set klabapp-web-staging --percent=25 --list=\"alice,bob\""
        );
        assert_eq!(split.describe(), "25 % of kamal-rollout cookies and kamal-rollout cookies alice, bob");
        assert_eq!(proxy_rollout_stop(&app, "web"), "docker exec kamal-proxy kamal-proxy rollout stop klabapp-web-staging");
    }

    #[test]
    fn a_rollout_list_value_must_be_a_cookie_value() {
        assert_eq!(rollout_value_problem("user-42"), None);
        assert!(rollout_value_problem("").is_some());
        for bad in ["a,b", "a b", "a;b", "a\"b"] {
            assert!(rollout_value_problem(bad).is_some_and(|p| p.contains("cannot carry")), "{bad}");
        }
    }
}
