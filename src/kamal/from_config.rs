//! Build the engine's [`AppSpec`] from the shared, validating `config` module. Arguments the
//! config module already renders in Kamal's format (role options, logging, kamal-proxy deploy
//! flags) are taken verbatim so both agree byte for byte.

use super::accessory::{AccessoryDir, AccessoryFile, AccessorySpec};
use super::app::{AppSpec, BootLimit, ProxySpec, Registry, RoleSpec};
use crate::config::{Config, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Resolve everything the engine needs. Secrets are resolved here but, as in Kamal (lazy), a
/// missing one is only recorded (`registry_secret_error`, `env_secret_error`; the messages name
/// the key and the secrets file) and raised by the actions that need it, so this cannot fail.
pub fn from_config(c: &Config) -> AppSpec {
    let mut app = settings(c);
    build_options(c, &mut app);
    app.roles = c.roles().iter().map(|r| role(c, r)).collect();
    app.accessories = c.accessories().iter().map(|a| accessory(c, a)).collect();
    app.proxy_runs = c.hosts().into_iter().filter_map(|h| c.proxy_run(&h).map(|r| (h, crate::config::proxy_run::render(r)))).collect();
    app
}

/// The app-wide settings: names, registry, timeouts, boot, ssh, volumes, secrets.
fn settings(c: &Config) -> AppSpec {
    let secrets = c.secrets();
    let registry = c.registry();
    let username = registry.username(secrets).map_err(|e| e.to_string());
    let password = registry.password(secrets).map_err(|e| e.to_string());
    let registry_secret_error = match (&username, &password) {
        (Err(e), _) => Some(format!("registry.username: {e}")),
        (_, Err(e)) => Some(format!("registry.password: {e}")),
        _ => None,
    };
    AppSpec {
        service: c.service().to_string(),
        destination: c.destination().map(str::to_string),
        image: c.image(),
        registry: Registry { server: registry.server(), username: username.unwrap_or(None), password: password.unwrap_or(None) },
        registry_secret_error,
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
        ssh: ssh_options(c),
        root: c.cwd().to_path_buf(),
        // `--volume x` pairs → the raw values (Kamal passes them unescaped).
        volumes: c.volume_args().chunks(2).filter_map(|p| p.get(1).cloned()).collect(),
        secrets: match secrets.values() {
            Ok(v) => v.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => vec![],
        },
        ..Default::default()
    }
}

/// `builder:` — dockerfile, context, arch, args, secrets, target.
fn build_options(c: &Config, app: &mut AppSpec) {
    let b = c.builder_raw();
    if let Some(v) = b.get("dockerfile").filter(|v| !v.is_nil()) {
        app.dockerfile = v.to_rstring();
    }
    if let Some(v) = b.get("context").filter(|v| !v.is_nil()) {
        app.context = v.to_rstring();
        app.build.context_set = true;
    }
    app.build.arch = match b.get("arch") {
        Some(Value::Seq(s)) => s.iter().map(|v| v.to_rstring()).collect(),
        Some(v) if !v.is_nil() => vec![v.to_rstring()],
        _ => vec![],
    };
    if let Some(Value::Map(m)) = b.get("args") {
        app.build.args = m.0.iter().map(|(k, v)| (k.to_rstring(), v.to_rstring())).collect();
    }
    if let Some(Value::Seq(s)) = b.get("secrets") {
        app.build.secrets = s.iter().map(|v| v.to_rstring()).collect();
    }
    app.build.target = b.get("target").filter(|v| !v.is_nil()).map(|v| v.to_rstring());
    app.build.driver = b.get("driver").filter(|v| !v.is_nil()).map(|v| v.to_rstring()).unwrap_or_else(|| "docker-container".into());
    app.build.remote = b.get("remote").filter(|v| v.present()).map(|v| v.to_rstring());
    app.build.local_disabled = b.get("local") == Some(&Value::Bool(false));
    if let Some(Value::Map(m)) = b.get("cache") {
        let s = |k: &str| m.get(k).filter(|v| !v.is_nil()).map(|v| v.to_rstring());
        app.build.cache = Some(crate::kamal::BuildCache { kind: s("type").unwrap_or_default(), image: s("image"), options: s("options") });
    }
    let shown = |k: &str| b.get(k).filter(|v| !v.is_nil()).map(|v| v.to_rstring());
    app.build.ssh = shown("ssh").filter(|s| !s.is_empty());
    app.build.provenance = shown("provenance");
    app.build.sbom = shown("sbom");
    app.build.pack = b.get("pack").is_some_and(Value::truthy);
}

/// One role: its env (with per-host env tags), labels and kamal-proxy options.
fn role(c: &Config, r: &crate::config::Role) -> RoleSpec {
    let secrets = c.secrets();
    let mut host_env = BTreeMap::new();
    let mut host_env_secret = BTreeMap::new();
    let mut env_secret_error = None;
    for h in r.hosts() {
        if !r.env_tags(h).is_empty() {
            let e = r.env_for(h);
            host_env.insert(h.clone(), e.clear_strings());
            // Env tags can add secrets for some hosts only.
            match e.resolve_secrets(secrets) {
                Ok(v) => {
                    host_env_secret.insert(h.clone(), v);
                }
                Err(e) => {
                    env_secret_error.get_or_insert(format!("servers.{}.env.secret (env tags of {h}): {e}", r.name));
                }
            }
        }
    }
    let env_secret = match r.env.resolve_secrets(secrets) {
        Ok(v) => v,
        Err(e) => {
            env_secret_error = Some(format!("servers.{}.env.secret: {e}", r.name));
            vec![]
        }
    };
    let labels = r.label_strings().into_iter().filter(|(k, _)| !matches!(k.as_str(), "service" | "role" | "destination")).collect();
    RoleSpec {
        name: r.name.clone(),
        hosts: r.hosts.clone(),
        proxy: role_proxy(r),
        cmd: r.cmd_string(),
        env_clear: r.env.clear_strings(),
        host_env,
        env_secret,
        host_env_secret,
        env_secret_error,
        labels,
        options: vec![],
        asset_path: r.asset_path.clone(),
        option_args: r.option_args.clone(),
        logging_args: Some(r.logging_args.clone()),
    }
}

fn role_proxy(r: &crate::config::Role) -> Option<ProxySpec> {
    r.proxy().filter(|_| r.running_proxy()).map(|p| {
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
    })
}

/// Split `local:remote[:options]` or read `{local, remote, mode, owner, options}`.
fn path_config(v: &Value) -> (String, String, Option<String>, Option<String>, Option<String>) {
    match v.as_map() {
        Some(m) => {
            let s = |k: &str| m.get(k).filter(|x| !x.is_nil()).map(Value::to_rstring);
            (s("local").unwrap_or_default(), s("remote").unwrap_or_default(), s("options"), s("mode"), s("owner"))
        }
        None => {
            let text = v.to_rstring();
            let mut it = text.splitn(3, ':');
            let local = it.next().unwrap_or("").to_string();
            let remote = it.next().unwrap_or("").to_string();
            (local, remote, it.next().map(str::to_string), None, None)
        }
    }
}

/// One accessory as Kamal 2.11's `Configuration::Accessory` renders it.
fn accessory(c: &Config, a: &crate::config::Accessory) -> AccessorySpec {
    let secrets = c.secrets();
    let (env_secret, env_secret_error) = match a.env.resolve_secrets(secrets) {
        Ok(v) => (v, None),
        Err(e) => (vec![], Some(format!("accessories.{}.env.secret: {e}", a.name))),
    };
    let (registry, registry_secret_error) = match &a.registry {
        None => (None, None),
        Some(r) => {
            let u = r.username(secrets);
            let p = r.password(secrets);
            let e = match (&u, &p) {
                (Err(e), _) => Some(format!("accessories.{}.registry.username: {e}", a.name)),
                (_, Err(e)) => Some(format!("accessories.{}.registry.password: {e}", a.name)),
                _ => None,
            };
            (Some(Registry { server: r.server(), username: u.unwrap_or(None), password: p.unwrap_or(None) }), e)
        }
    };
    let seq = |k: &str| a.config.get(k).and_then(Value::as_seq).cloned().unwrap_or_default();
    let files = seq("files")
        .iter()
        .map(|v| {
            let (local, remote, options, mode, owner) = path_config(v);
            let lp = std::path::Path::new(&local);
            AccessoryFile {
                local: if lp.is_absolute() { lp.to_path_buf() } else { c.cwd().join(lp) },
                host_path: format!("{}{remote}", a.service_name),
                container_path: remote,
                options,
                mode: mode.unwrap_or_else(|| "755".into()),
                owner,
            }
        })
        .collect();
    let directories = seq("directories")
        .iter()
        .map(|v| {
            let (local, remote, options, mode, owner) = path_config(v);
            let abs = local.starts_with('/');
            AccessoryDir {
                make_path: if abs { local.clone() } else { format!("$PWD/{}/{local}", a.service_name) },
                host_path: if abs { local.clone() } else { format!("{}/{local}", a.service_name) },
                container_path: remote,
                options,
                mode,
                owner,
            }
        })
        .collect();
    AccessorySpec {
        name: a.name.clone(),
        service_name: a.service_name.clone(),
        image: a.image.clone(),
        hosts: a.hosts.clone(),
        port: a.port(),
        network: a.network(),
        env_clear_args: pairs(a.env.clear_args()),
        env_clear: a.env.clear_strings(),
        env_secret,
        env_secret_error,
        volumes: seq("volumes").iter().map(Value::to_rstring).collect(),
        files,
        directories,
        label_args: pairs(crate::config::shell::argumentize("--label", &Value::Map(a.labels()))),
        option_args: a.option_args(),
        cmd: a.cmd().filter(|v| !v.is_nil()).map(|v| v.to_rstring()),
        registry,
        registry_secret_error,
        logging_args: pairs(c.logging_args()),
        proxy: a.proxy.as_ref().map(|p| {
            let mut args = p.deploy_command_args("x");
            args.retain(|x| !x.starts_with("--target="));
            (args, p.app_port().to_rstring())
        }),
        unsupported: a
            .proxy
            .as_ref()
            .filter(|p| p.custom_ssl_certificate())
            .map(|_| format!("accessories/{}/proxy/ssl: custom certificates are not supported by kdeck yet (use `kamal accessory boot {}`)", a.name, a.name)),
    }
}

/// `["--env", "K=\"v\""]` → `["--env K=\"v\""]` (flag and value joined as Kamal logs them).
fn pairs(tokens: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for t in tokens {
        match out.last_mut() {
            Some(last) if last.starts_with("--") && !last.contains(' ') && !t.starts_with("--") => {
                last.push(' ');
                last.push_str(&t);
            }
            _ => out.push(t),
        }
    }
    out
}

/// The backend's view of Kamal's `ssh:` section. Relative key and config paths are taken from
/// the app dir; `key_data` naming a missing secret is left out (the connection then fails
/// with the usual auth error instead of every command failing at load time).
fn ssh_options(c: &Config) -> crate::ssh::SshOptions {
    let ssh = c.ssh();
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_relative() {
            c.cwd().join(p)
        } else {
            p
        }
    };
    let keys: Vec<PathBuf> = ssh.keys().into_iter().map(abs).collect();
    let config_files = match ssh.config_value() {
        Some(crate::config::value::Value::Bool(false)) => Some(vec![]),
        Some(crate::config::value::Value::Seq(files)) => Some(files.iter().map(|f| abs(f.to_rstring())).collect()),
        Some(crate::config::value::Value::Str(f)) => Some(vec![abs(f)]),
        _ => None,
    };
    crate::ssh::SshOptions {
        user: Some(ssh.user()),
        port: Some(ssh.port()),
        keys_only: ssh.keys_only().unwrap_or(!keys.is_empty()),
        keys,
        key_data: crate::ssh::KeyData(ssh.key_data(c.secrets()).unwrap_or_default()),
        proxy: match ssh.proxy() {
            Some(crate::config::model::SshProxy::Jump(j)) => Some(j),
            _ => None,
        },
        proxy_command: match ssh.proxy() {
            Some(crate::config::model::SshProxy::Command(c)) => Some(c),
            _ => None,
        },
        config_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(secrets: &str) -> AppSpec {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join(".kamal")).unwrap();
        std::fs::write(
            dir.path().join("config/deploy.yml"),
            "service: app\nimage: acme/app\nservers:\n  web:\n    hosts:\n      - 10.0.0.1\n      - 10.0.0.2: [eu]\nenv:\n  secret: [APP_SECRET]\n  tags:\n    eu:\n      secret: [EU_SECRET]\nregistry:\n  username: acme\n  password: [KAMAL_REGISTRY_PASSWORD]\nbuilder:\n  arch: amd64\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(".kamal/secrets"), secrets).unwrap();
        let opts = crate::config::LoadOptions {
            config_file: dir.path().join("config/deploy.yml"),
            version: Some("v1".into()),
            cwd: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let c = Config::load(&opts).expect("config loads");
        from_config(&c)
    }

    /// Missing secrets are recorded, named with key and file, and raised only on demand.
    #[test]
    fn missing_secrets_are_lazy() {
        let app = load("KAMAL_REGISTRY_PASSWORD=pw\nEU_SECRET=eu\n");
        assert_eq!(app.secret_error(false, true), None, "registry resolved");
        let e = app.secret_error(true, false).expect("env secret missing");
        assert!(e.contains("APP_SECRET") && e.contains(".kamal/secrets") && e.contains("servers.web"), "{e}");
        assert!(!e.contains("pw") && !e.contains("=eu"), "no secret values: {e}");

        let app = load("APP_SECRET=a\nEU_SECRET=eu\n");
        let e = app.secret_error(false, true).expect("registry password missing");
        assert!(e.contains("KAMAL_REGISTRY_PASSWORD"), "{e}");
        assert_eq!(app.secret_error(true, false), None);
    }

    /// Env tags add secrets per host: the tagged host's env file has them, the other does not,
    /// and a missing tag secret is an error of the role.
    #[test]
    fn env_tag_secrets_per_host() {
        let app = load("KAMAL_REGISTRY_PASSWORD=pw\nAPP_SECRET=a\nEU_SECRET=eu\n");
        let web = app.role("web").unwrap();
        assert_eq!(web.env_secret_for("10.0.0.1"), &[("APP_SECRET".to_string(), "a".to_string())]);
        assert!(web.env_secret_for("10.0.0.2").contains(&("EU_SECRET".to_string(), "eu".to_string())), "{:?}", web.env_secret_for("10.0.0.2"));
        assert!(web.env_secret_for("10.0.0.2").contains(&("APP_SECRET".to_string(), "a".to_string())));
        let app = load("KAMAL_REGISTRY_PASSWORD=pw\nAPP_SECRET=a\n");
        let e = app.secret_error(true, false).expect("tag secret missing");
        assert!(e.contains("EU_SECRET"), "{e}");
    }

    /// `accessories:` → the specs the command builders use (Kamal's path and host rules).
    #[test]
    fn accessories_from_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join(".kamal")).unwrap();
        std::fs::write(
            dir.path().join("config/deploy.yml"),
            r#"service: app
image: acme/app
servers:
  web: [10.0.0.1, 10.0.0.2]
  jobs:
    hosts: [10.0.0.3]
registry:
  username: acme
  password: [KAMAL_REGISTRY_PASSWORD]
builder:
  arch: amd64
logging:
  options:
    max-size: 5m
accessories:
  db:
    image: mysql:8
    host: 10.0.0.9
    port: 3306
    service: mydb
    env:
      clear:
        MYSQL_DATABASE: app
      secret: [MYSQL_ROOT_PASSWORD]
    files:
      - local: config/my.cnf
        remote: /etc/mysql/my.cnf
        mode: "0644"
        owner: "999:999"
    directories:
      - /srv/mysql:/var/lib/mysql:z
      - data:/data
    options:
      memory: 1g
      privileged: true
  redis:
    image: private/redis:7
    roles: [jobs]
    registry:
      server: ghcr.io
      username: bot
      password: [GHCR_TOKEN]
"#,
        )
        .unwrap();
        std::fs::write(dir.path().join(".kamal/secrets"), "KAMAL_REGISTRY_PASSWORD=pw\nMYSQL_ROOT_PASSWORD=root\n").unwrap();
        let opts = crate::config::LoadOptions { config_file: dir.path().join("config/deploy.yml"), cwd: Some(dir.path().to_path_buf()), ..Default::default() };
        let app = from_config(&Config::load(&opts).unwrap());
        let db = app.accessory("db").unwrap();
        assert_eq!(db.service_name, "mydb");
        assert_eq!(db.hosts, vec!["10.0.0.9"]);
        assert_eq!(db.port.as_deref(), Some("3306:3306"));
        assert_eq!(db.env_secret, vec![("MYSQL_ROOT_PASSWORD".to_string(), "root".to_string())]);
        assert_eq!(db.env_clear_args, vec!["--env MYSQL_DATABASE=\"app\""]);
        assert_eq!(db.label_args, vec!["--label service=\"mydb\""]);
        assert_eq!(db.logging_args, vec!["--log-opt max-size=\"5m\""]);
        assert_eq!(db.option_args.join(" "), "--memory \"1g\" --privileged");
        assert_eq!(db.files[0].local, dir.path().join("config/my.cnf"));
        assert_eq!(
            (db.files[0].host_path.as_str(), db.files[0].mode.as_str(), db.files[0].owner.as_deref()),
            ("mydb/etc/mysql/my.cnf", "0644", Some("999:999"))
        );
        assert_eq!((db.directories[0].make_path.as_str(), db.directories[0].options.as_deref()), ("/srv/mysql", Some("z")));
        assert_eq!((db.directories[1].make_path.as_str(), db.directories[1].host_path.as_str()), ("$PWD/mydb/data", "mydb/data"));
        let redis = app.accessory("redis").unwrap();
        assert_eq!(redis.hosts, vec!["10.0.0.3"]);
        assert_eq!(redis.image, "ghcr.io/private/redis:7");
        assert_eq!(redis.service_name, "app-redis");
        // Its registry secret is missing: recorded, raised only by boot (Kamal is lazy).
        assert!(redis.registry_secret_error.as_deref().is_some_and(|e| e.contains("GHCR_TOKEN")), "{:?}", redis.registry_secret_error);
        assert_eq!(db.registry_secret_error, None);
    }
}
