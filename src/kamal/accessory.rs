//! Accessories (`accessories:` in deploy.yml) as Kamal 2.11 runs them on a host: container
//! `<service>-<name>` (or the accessory's own `service:`), label `service=<that name>`, env
//! file `.kamal/apps/<svc>[-<dest>]/env/accessories/<name>.env` (0600), `directories:` made
//! under `$PWD/<service>/`, `files:` uploaded under `<service>/`. The command strings below
//! were checked against the lab's ssh log of real `kamal accessory boot/reboot/details/logs`.

use super::app::AppSpec;
pub use super::app::{AccessoryDir, AccessoryFile, AccessorySpec};
use super::ruby::escape_shell_value;

/// `.kamal/apps/<svc>[-<dest>]/env/accessories`
pub fn env_dir(app: &AppSpec) -> String {
    format!(".kamal/apps/{}/env/accessories", app.service_and_destination())
}

pub fn env_file(app: &AppSpec, a: &AccessorySpec) -> String {
    format!("{}/{}.env", env_dir(app), a.name)
}

pub fn mkdir_env_dir(app: &AppSpec) -> String {
    format!("/usr/bin/env mkdir -p {}", env_dir(app))
}

/// `docker login` with the accessory's registry, else the app's (none for a local registry or
/// without a username).
pub fn registry_login(app: &AppSpec, a: &AccessorySpec) -> Option<String> {
    match &a.registry {
        None => super::cmd::docker_login(app),
        Some(r) => {
            let tmp = AppSpec { registry: r.clone(), ..Default::default() };
            super::cmd::docker_login(&tmp)
        }
    }
}

/// `docker ps -a -q --filter label=service=<svc>`: non-empty ⇒ boot skips the host.
pub fn existing_container(a: &AccessorySpec) -> String {
    format!("docker ps -a -q --filter label=service={}", a.service_name)
}

/// `directories:`: mkdir, then chmod/chown when configured.
pub fn directory_commands(a: &AccessorySpec) -> Vec<String> {
    let mut v = vec![];
    for d in &a.directories {
        v.push(format!("/usr/bin/env mkdir -p {}", d.make_path));
        if let Some(m) = &d.mode {
            v.push(format!("/usr/bin/env chmod {m} {}", d.make_path));
        }
        if let Some(o) = &d.owner {
            v.push(format!("/usr/bin/env chown {o} {}", d.make_path));
        }
    }
    v
}

/// What a `files:` entry uploads: the file, or for `*.erb` the template rendered with `ENV` =
/// the process environment merged with the accessory's clear and secret env (as Kamal).
pub fn file_content(a: &AccessorySpec, f: &AccessoryFile, cwd: &std::path::Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read(&f.local).map_err(|_| format!("Missing file: {}", f.local.display()))?;
    if !f.local.to_string_lossy().ends_with("erb") {
        return Ok(text);
    }
    let text = String::from_utf8(text).map_err(|_| format!("{}: not UTF-8 text", f.local.display()))?;
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    env.extend(a.env_clear.iter().cloned());
    env.extend(a.env_secret.iter().cloned());
    let dir = f.local.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf());
    let mut ctx = crate::config::erb::ErbContext { env: &mut env, cwd, dir, file: f.local.clone() };
    crate::config::erb::render(&text, &mut ctx).map(String::into_bytes).map_err(|e| format!("accessories/{}/files: {e}", a.name))
}

/// `mkdir -p` of a file's parent directory (before its upload).
pub fn file_mkdir(f: &AccessoryFile) -> String {
    let parent = match f.host_path.rfind('/') {
        Some(i) => &f.host_path[..i],
        None => ".",
    };
    format!("/usr/bin/env mkdir -p {parent}")
}

/// After the upload: chmod, and chown when configured.
pub fn file_after_upload(f: &AccessoryFile) -> Vec<String> {
    let mut v = vec![format!("/usr/bin/env chmod {} {}", f.mode, f.host_path)];
    if let Some(o) = &f.owner {
        v.push(format!("/usr/bin/env chown {o} {}", f.host_path));
    }
    v
}

fn volume_arg(host_path: &str, container_path: &str, options: Option<&str>) -> String {
    let host = if host_path.starts_with('/') { host_path.to_string() } else { format!("$PWD/{host_path}") };
    match options {
        Some(o) if !o.is_empty() => format!("--volume {host}:{container_path}:{o}"),
        _ => format!("--volume {host}:{container_path}"),
    }
}

/// `volumes:` as written, then `files:`, then `directories:`.
pub fn volume_args(a: &AccessorySpec) -> Vec<String> {
    let mut v: Vec<String> = a.volumes.iter().map(|x| format!("--volume {x}")).collect();
    for f in &a.files {
        v.push(volume_arg(&f.host_path, &f.container_path, f.options.as_deref()));
    }
    for d in &a.directories {
        v.push(volume_arg(&d.host_path, &d.container_path, d.options.as_deref()));
    }
    v
}

/// `docker run` of the accessory on `host`.
pub fn run(app: &AppSpec, a: &AccessorySpec, host: &str) -> String {
    let mut v: Vec<String> = vec![format!("docker run --name {} --detach --restart unless-stopped", a.service_name), format!("--network {}", a.network)];
    v.extend(a.logging_args.iter().cloned());
    if let Some(p) = &a.port {
        v.push(format!("--publish {p}"));
    }
    v.push(format!("--env KAMAL_HOST={}", escape_shell_value(host)));
    v.extend(a.env_clear_args.iter().cloned());
    v.push(format!("--env-file {}", env_file(app, a)));
    v.extend(volume_args(a));
    v.extend(a.label_args.iter().cloned());
    v.extend(a.option_args.iter().cloned());
    v.push(a.image.clone());
    if let Some(c) = &a.cmd {
        v.push(c.clone());
    }
    v.join(" ")
}

/// The running container's id (kamal-proxy's target; Kamal's `only_running: true` lookup).
/// `accessory exec` in a new container of the accessory's image (`--rm`, its network, env,
/// volumes and options).
pub fn exec_new(app: &AppSpec, a: &AccessorySpec, mode: crate::kamal::cmd::ExecMode, cmd: &str) -> String {
    let mut v: Vec<String> = vec!["docker run".into()];
    v.extend(mode.attach_flag().map(String::from));
    v.push("--rm".into());
    v.push(format!("--network {}", a.network));
    v.extend(a.env_clear_args.iter().cloned());
    v.push(format!("--env-file {}", env_file(app, a)));
    v.extend(volume_args(a));
    v.extend(a.option_args.iter().cloned());
    v.push(a.image.clone());
    v.push(cmd.to_string());
    v.join(" ")
}

/// `accessory exec --reuse`: in the running accessory container.
pub fn exec_existing(a: &AccessorySpec, mode: crate::kamal::cmd::ExecMode, cmd: &str) -> String {
    match mode.attach_flag() {
        Some(flag) => format!("docker exec {flag} {} {cmd}", a.service_name),
        None => format!("docker exec {} {cmd}", a.service_name),
    }
}

pub fn running_container_id(a: &AccessorySpec) -> String {
    format!("docker container ls --filter 'name=^{}$' --quiet", a.service_name)
}

/// `kamal-proxy deploy` of an accessory with `proxy:` (None without).
pub fn proxy_deploy(a: &AccessorySpec, container_id: &str) -> Option<String> {
    let (args, port) = a.proxy.as_ref()?;
    let mut s = format!("docker exec kamal-proxy kamal-proxy deploy {} --target=\"{container_id}:{port}\"", a.service_name);
    for x in args {
        s.push(' ');
        s.push_str(x);
    }
    Some(s)
}

pub fn proxy_remove(a: &AccessorySpec) -> String {
    format!("docker exec kamal-proxy kamal-proxy remove {}", a.service_name)
}

pub fn pull_image(a: &AccessorySpec) -> String {
    format!("docker image pull {}", a.image)
}

pub fn start(a: &AccessorySpec) -> String {
    format!("docker container start {}", a.service_name)
}

pub fn stop(a: &AccessorySpec) -> String {
    format!("docker container stop {}", a.service_name)
}

/// `accessory details`.
pub fn info(a: &AccessorySpec) -> String {
    format!("docker ps --filter label=service={}", a.service_name)
}

pub fn remove_container(a: &AccessorySpec) -> String {
    format!("docker container prune --force --filter label=service={}", a.service_name)
}

pub fn remove_image(a: &AccessorySpec) -> String {
    format!("docker image rm --force {}", a.image)
}

pub fn remove_service_directory(a: &AccessorySpec) -> String {
    format!("/usr/bin/env rm -rf {}", a.service_name)
}

/// `accessory logs` (Kamal's spacing kept: `docker logs <svc>  --since x  --tail n`).
pub fn logs(a: &AccessorySpec, since: Option<&str>, lines: Option<u32>, grep: Option<&str>, grep_options: Option<&str>, timestamps: bool) -> String {
    let mut parts: Vec<String> = vec![format!("docker logs {}", a.service_name)];
    if let Some(s) = since {
        parts.push(format!(" --since {s}"));
    }
    if let Some(n) = lines {
        parts.push(format!(" --tail {n}"));
    }
    if timestamps {
        parts.push("--timestamps".into());
    }
    parts.push("2>&1".into());
    let mut s = parts.join(" ");
    super::cmd::push_grep(&mut s, grep, grep_options);
    s
}

/// Kamal's default line count: 100 unless `--since` or `--grep` (10 when following).
pub fn default_lines(lines: Option<u32>, since: Option<&str>, grep: Option<&str>, follow: bool) -> Option<u32> {
    lines.or(if since.is_some() || grep.is_some() {
        None
    } else if follow {
        Some(10)
    } else {
        Some(100)
    })
}

/// The follow form (Kamal runs it through a local `ssh -t` on the first host).
pub fn follow_logs(a: &AccessorySpec, lines: u32, timestamps: bool, grep: Option<&str>, grep_options: Option<&str>) -> String {
    let mut s = format!("docker logs {}{} --tail {lines} --follow 2>&1", a.service_name, if timestamps { " --timestamps" } else { "" });
    if let Some(g) = grep {
        s.push_str(&format!(" | grep \"{g}\""));
        if let Some(o) = grep_options {
            s.push_str(&format!(" {o}"));
        }
    }
    s
}

/// Audit messages, as Kamal words them.
pub mod audit_msg {
    pub fn booted(name: &str) -> String {
        format!("Booted {name} accessory")
    }
    pub fn pulled(name: &str) -> String {
        format!("Pull {name} accessory image")
    }
    pub fn stopped(name: &str) -> String {
        format!("Stopped {name} accessory")
    }
    pub fn started(name: &str) -> String {
        format!("Started {name} accessory")
    }
    pub fn removed_container(name: &str) -> String {
        format!("Remove {name} accessory container")
    }
    pub fn removed_image(name: &str) -> String {
        format!("Removed {name} accessory image")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kamal::app::Registry;

    /// The lab app of the recorded trace (`accrec`, accessory `db`).
    fn lab() -> (AppSpec, AccessorySpec) {
        let app = AppSpec {
            service: "accrec".into(),
            image: "accrec".into(),
            registry: Registry { server: Some("10.77.6.1:5000".into()), username: Some("lab".into()), password: Some("lab-registry-pass".into()) },
            ..Default::default()
        };
        let a = AccessorySpec {
            name: "db".into(),
            service_name: "accrec-db".into(),
            image: "10.77.6.1:5000/accdb:v1".into(),
            hosts: vec!["10.77.6.11".into(), "10.77.6.13".into()],
            port: Some("127.0.0.1:8080:80".into()),
            network: "kamal".into(),
            env_clear_args: vec!["--env DB_MODE=\"lab\"".into(), "--env APP_SERVICE=\"db\"".into()],
            env_secret: vec![("DB_PASSWORD".into(), "p@ss w\"ord".into())],
            volumes: vec!["/tmp/accdata:/data".into()],
            files: vec![AccessoryFile {
                local: "/app/config/db.conf".into(),
                host_path: "accrec-db/etc/db.conf".into(),
                container_path: "/etc/db.conf".into(),
                mode: "755".into(),
                ..Default::default()
            }],
            directories: vec![AccessoryDir {
                make_path: "$PWD/accrec-db/data".into(),
                host_path: "accrec-db/data".into(),
                container_path: "/var/lib/db".into(),
                ..Default::default()
            }],
            label_args: vec!["--label service=\"accrec-db\"".into(), "--label tier=\"data\"".into()],
            option_args: vec!["--memory \"64m\"".into()],
            cmd: Some("/bin/worker".into()),
            logging_args: vec!["--log-opt max-size=\"10m\"".into()],
            ..Default::default()
        };
        (app, a)
    }

    #[test]
    fn run_matches_kamal_trace() {
        let (mut app, a) = lab();
        app.accessories.push(a.clone());
        assert_eq!(
            run(&app, &a, "10.77.6.11"),
            "docker run --name accrec-db --detach --restart unless-stopped --network kamal --log-opt max-size=\"10m\" --publish 127.0.0.1:8080:80 --env KAMAL_HOST=\"10.77.6.11\" --env DB_MODE=\"lab\" --env APP_SERVICE=\"db\" --env-file .kamal/apps/accrec/env/accessories/db.env --volume /tmp/accdata:/data --volume $PWD/accrec-db/etc/db.conf:/etc/db.conf --volume $PWD/accrec-db/data:/var/lib/db --label service=\"accrec-db\" --label tier=\"data\" --memory \"64m\" 10.77.6.1:5000/accdb:v1 /bin/worker"
        );
        let bare = AccessorySpec {
            name: "cache".into(),
            service_name: "accrec-cache".into(),
            image: "10.77.6.1:5000/accdb:v1".into(),
            network: "kamal".into(),
            label_args: vec!["--label service=\"accrec-cache\"".into()],
            logging_args: vec!["--log-opt max-size=\"10m\"".into()],
            ..Default::default()
        };
        assert_eq!(
            run(&app, &bare, "10.77.6.13"),
            "docker run --name accrec-cache --detach --restart unless-stopped --network kamal --log-opt max-size=\"10m\" --env KAMAL_HOST=\"10.77.6.13\" --env-file .kamal/apps/accrec/env/accessories/cache.env --label service=\"accrec-cache\" 10.77.6.1:5000/accdb:v1"
        );
    }

    #[test]
    fn boot_preparation_matches_kamal_trace() {
        let (app, a) = lab();
        assert_eq!(registry_login(&app, &a).unwrap(), "docker login 10.77.6.1:5000 -u \"lab\" -p \"lab-registry-pass\"");
        assert_eq!(existing_container(&a), "docker ps -a -q --filter label=service=accrec-db");
        assert_eq!(directory_commands(&a), vec!["/usr/bin/env mkdir -p $PWD/accrec-db/data".to_string()]);
        assert_eq!(file_mkdir(&a.files[0]), "/usr/bin/env mkdir -p accrec-db/etc");
        assert_eq!(file_after_upload(&a.files[0]), vec!["/usr/bin/env chmod 755 accrec-db/etc/db.conf".to_string()]);
        assert_eq!(mkdir_env_dir(&app), "/usr/bin/env mkdir -p .kamal/apps/accrec/env/accessories");
        assert_eq!(env_file(&app, &a), ".kamal/apps/accrec/env/accessories/db.env");
        let staging = AppSpec { destination: Some("staging".into()), ..app.clone() };
        assert_eq!(env_file(&staging, &a), ".kamal/apps/accrec-staging/env/accessories/db.env");
        // An accessory registry of its own wins; a local registry needs no login.
        let own =
            AccessorySpec { registry: Some(Registry { server: Some("ghcr.io".into()), username: Some("u".into()), password: Some("p".into()) }), ..a.clone() };
        assert_eq!(registry_login(&app, &own).unwrap(), "docker login ghcr.io -u \"u\" -p \"p\"");
        let local =
            AccessorySpec { registry: Some(Registry { server: Some("localhost:5555".into()), username: Some("u".into()), password: None }), ..a.clone() };
        assert_eq!(registry_login(&app, &local), None);
    }

    #[test]
    fn directory_and_file_modes_and_owners() {
        let d = AccessoryDir {
            make_path: "/srv/db".into(),
            host_path: "/srv/db".into(),
            container_path: "/data".into(),
            options: Some("ro".into()),
            mode: Some("0700".into()),
            owner: Some("999:999".into()),
        };
        let a = AccessorySpec { service_name: "s-db".into(), directories: vec![d], ..Default::default() };
        assert_eq!(directory_commands(&a), vec!["/usr/bin/env mkdir -p /srv/db", "/usr/bin/env chmod 0700 /srv/db", "/usr/bin/env chown 999:999 /srv/db"]);
        assert_eq!(volume_args(&a), vec!["--volume /srv/db:/data:ro"]);
        let f = AccessoryFile {
            host_path: "s-db/my.cnf".into(),
            container_path: "/etc/my.cnf".into(),
            mode: "0644".into(),
            owner: Some("mysql".into()),
            ..Default::default()
        };
        assert_eq!(file_after_upload(&f), vec!["/usr/bin/env chmod 0644 s-db/my.cnf", "/usr/bin/env chown mysql s-db/my.cnf"]);
    }

    #[test]
    fn reboot_details_and_logs_match_kamal_trace() {
        let (_, a) = lab();
        assert_eq!(pull_image(&a), "docker image pull 10.77.6.1:5000/accdb:v1");
        assert_eq!(stop(&a), "docker container stop accrec-db");
        assert_eq!(remove_container(&a), "docker container prune --force --filter label=service=accrec-db");
        assert_eq!(info(&a), "docker ps --filter label=service=accrec-db");
        assert_eq!(logs(&a, None, Some(3), None, None, true), "docker logs accrec-db  --tail 3 --timestamps 2>&1");
        assert_eq!(logs(&a, Some("5m"), None, Some("job"), None, true), "docker logs accrec-db  --since 5m --timestamps 2>&1 | grep 'job'");
        assert_eq!(logs(&a, None, Some(100), None, None, false), "docker logs accrec-db  --tail 100 2>&1");
        assert_eq!(default_lines(None, None, None, false), Some(100));
        assert_eq!(default_lines(None, Some("1h"), None, false), None);
        assert_eq!(default_lines(None, None, None, true), Some(10));
        assert_eq!(audit_msg::booted("db"), "Booted db accessory");
    }

    #[test]
    fn erb_files_see_the_accessory_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("init.sql.erb"), "CREATE USER '<%= ENV[\"DB_USER\"] %>' IDENTIFIED BY '<%= ENV[\"DB_PASSWORD\"] %>';\n").unwrap();
        std::fs::write(dir.path().join("plain.conf"), "x=<%= 1 %>\n").unwrap();
        let a = AccessorySpec {
            name: "db".into(),
            env_clear: vec![("DB_USER".into(), "app".into())],
            env_secret: vec![("DB_PASSWORD".into(), "s3cr3t".into())],
            ..Default::default()
        };
        let f = |name: &str| AccessoryFile { local: dir.path().join(name), ..Default::default() };
        assert_eq!(file_content(&a, &f("init.sql.erb"), dir.path()).unwrap(), b"CREATE USER 'app' IDENTIFIED BY 's3cr3t';\n");
        assert_eq!(file_content(&a, &f("plain.conf"), dir.path()).unwrap(), b"x=<%= 1 %>\n", "only *.erb is rendered");
        assert_eq!(file_content(&a, &f("gone.conf"), dir.path()).unwrap_err(), format!("Missing file: {}", dir.path().join("gone.conf").display()));
    }

    #[test]
    fn proxy_commands_match_kamal_trace() {
        let a = AccessorySpec {
            service_name: "accrec-site".into(),
            proxy: Some((
                [
                    "--host=\"site.test\"",
                    "--deploy-timeout=\"10s\"",
                    "--drain-timeout=\"2s\"",
                    "--health-check-interval=\"1s\"",
                    "--health-check-path=\"/up\"",
                    "--buffer-requests",
                    "--buffer-responses",
                    "--log-request-header=\"Cache-Control\"",
                    "--log-request-header=\"Last-Modified\"",
                    "--log-request-header=\"User-Agent\"",
                ]
                .map(String::from)
                .to_vec(),
                "80".into(),
            )),
            ..Default::default()
        };
        assert_eq!(running_container_id(&a), "docker container ls --filter 'name=^accrec-site$' --quiet");
        assert_eq!(
            proxy_deploy(&a, "cff6b9d76e1c").unwrap(),
            "docker exec kamal-proxy kamal-proxy deploy accrec-site --target=\"cff6b9d76e1c:80\" --host=\"site.test\" --deploy-timeout=\"10s\" --drain-timeout=\"2s\" --health-check-interval=\"1s\" --health-check-path=\"/up\" --buffer-requests --buffer-responses --log-request-header=\"Cache-Control\" --log-request-header=\"Last-Modified\" --log-request-header=\"User-Agent\""
        );
        assert_eq!(proxy_remove(&a), "docker exec kamal-proxy kamal-proxy remove accrec-site");
        assert_eq!(proxy_deploy(&AccessorySpec::default(), "x"), None);
    }

    #[test]
    fn unknown_accessory_error_lists_options_like_kamal() {
        let (mut app, a) = lab();
        assert_eq!(app.missing_accessory_error("x"), "No accessory by the name of 'x'");
        app.accessories.push(a.clone());
        assert_eq!(app.missing_accessory_error("x"), "No accessory by the name of 'x' (options: db)");
        app.accessories.push(AccessorySpec { name: "cache".into(), ..Default::default() });
        assert_eq!(app.missing_accessory_error("x"), "No accessory by the name of 'x' (options: db and cache)");
        app.accessories.push(AccessorySpec { name: "q".into(), ..Default::default() });
        assert_eq!(app.missing_accessory_error("x"), "No accessory by the name of 'x' (options: db, cache, and q)");
        assert_eq!(app.select_accessories("all").unwrap().len(), 3);
        assert!(app.select_accessories("nope").is_err());
    }
}
