//! Kamal 2.11's exact on-host command strings (kamal-contract.md §4–§5). Pure: the random
//! parts (hex suffixes, timestamps) are parameters so traces can be compared.

use super::app::{AppSpec, ProxySpec, RoleSpec};
use super::ruby::escape_shell_value;

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
    format!(".kamal/lock-{}", app.service_and_destination())
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

// ---------------------------------------------------------------- proxy (§4.3, §8)

pub const PROXY_IMAGE: &str = "basecamp/kamal-proxy";
pub const PROXY_MIN_VERSION: &str = "v0.9.2";

pub fn network_create() -> String {
    "docker network create kamal".into()
}

pub fn proxy_image_version() -> String {
    "docker inspect kamal-proxy --format '{{.Config.Image}}' | awk -F: '{print $NF}'".into()
}

pub fn proxy_mkdir_apps_config() -> String {
    "/usr/bin/env mkdir -p .kamal/proxy/apps-config".into()
}

const PROXY_RUN_BASE: &str = "docker run --name kamal-proxy --network kamal --detach --restart unless-stopped --volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy --volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config";

fn proxy_run_legacy_args() -> String {
    format!(
        "echo $(cat .kamal/proxy/options 2> /dev/null || echo \"--publish 80:80 --publish 443:443 --log-opt max-size=10m\") $(cat .kamal/proxy/image 2> /dev/null || echo \"{PROXY_IMAGE}\"):$(cat .kamal/proxy/image_version 2> /dev/null || echo \"{PROXY_MIN_VERSION}\") $(cat .kamal/proxy/run_command 2> /dev/null || echo \"\") | xargs {PROXY_RUN_BASE}"
    )
}

/// Start the existing kamal-proxy or run a new one (default form, no `proxy.run`).
pub fn proxy_start_or_run() -> String {
    format!("docker container start kamal-proxy || {}", proxy_run_legacy_args())
}

/// `proxy reboot`: run without trying `start` first.
pub fn proxy_run() -> String {
    proxy_run_legacy_args()
}

pub fn proxy_stop() -> String {
    "docker container stop kamal-proxy".into()
}

pub fn proxy_prune_containers() -> String {
    "docker container prune --force --filter label=org.opencontainers.image.title=kamal-proxy".into()
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

// ---------------------------------------------------------------- versions (§4.4, §4.5)

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

// ---------------------------------------------------------------- boot (§4.6)

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

fn env_args(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("--env {k}={}", escape_shell_value(v))).collect()
}

fn role_logging_args(app: &AppSpec, role: &RoleSpec) -> Vec<String> {
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

fn option_args(role: &RoleSpec) -> Vec<String> {
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

fn clear_env(role: &RoleSpec, host: &str) -> Vec<(String, String)> {
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

// ---------------------------------------------------------------- views (§5)

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

/// `app exec` in a new container (§5).
#[allow(clippy::too_many_arguments)]
pub fn app_exec_run(app: &AppSpec, role: &RoleSpec, host: &str, version: &str, hex6: &str, extra_env: &[(String, String)], detach: bool, cmd: &str) -> String {
    let mut a: Vec<String> = vec![
        format!("docker run {}", if detach { "--detach" } else { "--rm" }),
        format!("--name {}-exec-{version}-{hex6}", app.prefix(&role.name)),
        "--network kamal".into(),
    ];
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

pub fn app_exec_reuse(app: &AppSpec, role: &str, version: &str, extra_env: &[(String, String)], cmd: &str) -> String {
    let mut s = "docker exec".to_string();
    for e in env_args(extra_env) {
        s.push(' ');
        s.push_str(&e);
    }
    format!("{s} {} {cmd}", app.container_name(role, version))
}
