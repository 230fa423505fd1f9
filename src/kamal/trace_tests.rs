//! Compare generated command strings with what real Kamal 2.11 sent (recorded traces).

use super::*;
use regex::Regex;
use std::collections::BTreeMap;

/// Kamal 2.11's recorded host commands: `$KDECK_TRACES`, else `../shared/kamal-traces` beside
/// the checkout.
fn traces() -> std::path::PathBuf {
    match std::env::var_os("KDECK_TRACES") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/kamal-traces"),
    }
}

/// The lab app the traces were recorded with (see 00-config and the docker run lines).
pub fn klabapp() -> AppSpec {
    let web_proxy = ProxySpec {
        hosts: vec!["klabapp.test".into()],
        app_port: 80,
        healthcheck_interval: Some(2),
        healthcheck_timeout: Some(3),
        healthcheck_path: Some("/up".into()),
        ..Default::default()
    };
    let env = vec![("APP_ENV".to_string(), "production".to_string()), ("GREETING".into(), "hello from kamal".into())];
    let labels = vec![("klab.test".to_string(), "yes".to_string())];
    let mut worker_env = env.clone();
    worker_env.push(("WORKER_QUEUES".into(), "default,mailers".into()));
    AppSpec {
        service: "klabapp".into(),
        image: "klab/klabapp".into(),
        registry: Registry { server: Some("10.77.0.1:5000".into()), username: Some("klab".into()), password: Some("klab-registry-pass".into()) },
        roles: vec![
            RoleSpec {
                name: "web".into(),
                hosts: vec!["10.77.0.11".into(), "10.77.0.12".into()],
                proxy: Some(web_proxy),
                env_clear: env.clone(),
                labels: labels.clone(),
                asset_path: Some("/www/assets".into()),
                ..Default::default()
            },
            RoleSpec {
                name: "worker".into(),
                hosts: vec!["10.77.0.13".into()],
                cmd: Some("sh -c 'while true; do echo \"worker tick $(date)\"; sleep 5; done'".into()),
                env_clear: worker_env,
                labels,
                ..Default::default()
            },
        ],
        volumes: vec!["klabapp_data:/data".into()],
        log_options: vec![("max-size".into(), "10m".into())],
        error_pages_path: Some("public".into()),
        drain_timeout: 10,
        readiness_delay: 3,
        retain_containers: 3,
        boot_limit: Some(BootLimit::Count(1)),
        boot_wait: Some(2),
        ..Default::default()
    }
}

/// Replace random parts so generated and recorded strings compare equal.
pub fn normalize(s: &str) -> String {
    let rules: [(&str, &str); 5] = [
        (r"_replaced_[0-9a-f]{16}", "_replaced_HEX16"),
        (r"(--hostname \S+)-[0-9a-f]{12}", "$1-HEX12"),
        (r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]", "[TIME]"),
        (r#"--target="[0-9a-f]{12}:"#, "--target=\"ID:"),
        (r#"echo "[A-Za-z0-9+/=\n]+" > \.kamal/lock"#, "echo \"B64\" > .kamal/lock"),
    ];
    let mut out = s.replace("\\n", "\n");
    for (re, rep) in rules {
        out = Regex::new(re).unwrap().replace_all(&out, rep).into_owned();
    }
    out
}

/// Commands of one host in a trace, in order.
pub fn trace_commands(dir: &str, host: &str) -> Vec<String> {
    let text = std::fs::read_to_string(traces().join(dir).join(format!("{host}.ssh.log"))).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(5, '\t');
            let (_, _, _, kind, cmd) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
            (kind == "START").then(|| normalize(cmd))
        })
        .collect()
}

/// Whether the traces are here; in CI (`CI` or `KDECK_LAB_REQUIRED` set) their absence fails.
fn have_traces() -> bool {
    let here = traces().join("03-deploy-v2").is_dir();
    let required = std::env::var_os("CI").is_some() || std::env::var("KDECK_LAB_REQUIRED").is_ok_and(|v| v == "1");
    assert!(here || !required, "Kamal traces not found at {} (set KDECK_TRACES)", traces().display());
    here
}

const V1: &str = "1fd263c8cf1d0f2cdbfddf053de9b4f3c31fdf08";
const V2: &str = "900ee7979f10680541cad0fcc045fc29641cd653";

fn assert_in(trace: &[String], cmd: &str) {
    let n = normalize(cmd);
    assert!(trace.contains(&n), "generated command not in trace:\n{n}\n--- trace:\n{}", trace.join("\n"));
}

#[test]
fn deploy_v2_commands_match_trace() {
    if !have_traces() {
        eprintln!("skip: no traces at {}", traces().display());
        return;
    }
    let app = klabapp();
    let web = app.role("web").unwrap();
    let worker = app.role("worker").unwrap();
    let t1 = trace_commands("03-deploy-v2", "klab1");
    let t3 = trace_commands("03-deploy-v2", "klab3");
    for (t, role) in [(&t1, web), (&t3, worker)] {
        assert_in(t, &cmd::docker_login(&app).unwrap());
        assert_in(t, &cmd::registry_mirror_probe());
        assert_in(t, &cmd::audit_record(&app, &audit::line(chrono::Utc::now(), "klab@example.test", None, None, &audit::pulled(V2))));
        assert_in(t, &cmd::image_rm_force(&app, V2));
        assert_in(t, &cmd::pull(&app, V2));
        assert_in(t, &cmd::ensure_service_label(&app, V2));
        assert_in(t, &cmd::mkdir_kamal());
        assert_in(t, &cmd::network_create());
        assert_in(t, &cmd::list_running_versions(&app, &role.name));
        assert_in(t, &cmd::current_running_version(&app, &role.name));
        assert_in(t, &cmd::mkdir_error_pages(&app));
        assert_in(t, &cmd::container_id_for(&app, &role.name, V2));
        assert_in(t, &cmd::audit_record(&app, &audit::line(chrono::Utc::now(), "klab@example.test", None, Some(&role.name), &audit::booted(V2))));
        assert_in(t, &cmd::mkdir_env_dir(&app));
        assert_in(t, &format!("scp -t {}", cmd::env_file(&app, &role.name)));
        assert_in(t, &cmd::app_run(&app, role, &role.hosts[0], V2, "0123456789ab"));
        assert_in(t, &cmd::stop_version(&app, role, V1));
        assert_in(t, &cmd::clean_error_pages(&app, V2));
        assert_in(t, &cmd::audit_record(&app, &audit::line(chrono::Utc::now(), "klab@example.test", None, None, &audit::tagging(&app.image_ref(V2)))));
        assert_in(t, &cmd::tag_latest(&app, V2));
        assert_in(t, &cmd::prune_containers(&app, app.retain_containers));
        assert_in(t, &cmd::prune_dangling_images(&app));
        assert_in(t, &cmd::prune_tagged_images(&app));
    }
    // Web only: lock, proxy, assets, kamal-proxy deploy.
    let at = chrono::Utc::now();
    assert_in(&t1, &cmd::lock_acquire(&app, &lock::encode_details("Klab Tester", at, V2, lock::DEFAULT_MESSAGE)));
    assert_in(&t1, &cmd::lock_release(&app));
    assert_in(&t1, &cmd::proxy_image_version());
    assert_in(&t1, &cmd::proxy_mkdir_apps_config());
    assert_in(&t1, &cmd::proxy_start_or_run(&app, "10.77.4.11"));
    assert_in(&t1, &cmd::extract_assets(&app, "web", V2, "/www/assets"));
    assert_in(&t1, &cmd::sync_asset_volumes(&app, "web", V2, Some(V1)));
    assert_in(&t1, &cmd::clean_assets(&app, "web", V2));
    assert_in(&t1, &cmd::proxy_deploy(&app, "web", V2, "e41acc474a07", web.proxy.as_ref().unwrap()));
    assert_in(&t3, &cmd::container_health_status(&app, "worker", V2));
}

#[test]
fn every_trace_command_of_deploy_is_generated() {
    // The reverse direction: each distinct command Kamal sent in 03 is one we can produce.
    if !have_traces() {
        return;
    }
    let app = klabapp();
    let at = chrono::Utc::now();
    let mut ours: Vec<String> = vec![];
    for role in &app.roles {
        let r = &role.name;
        for h in &role.hosts {
            ours.push(cmd::app_run(&app, role, h, V2, "0123456789ab"));
        }
        ours.extend([
            cmd::docker_login(&app).unwrap(),
            cmd::registry_mirror_probe(),
            cmd::audit_record(&app, &audit::line(at, "klab@example.test", None, None, &audit::pulled(V2))),
            cmd::image_rm_force(&app, V2),
            cmd::pull(&app, V2),
            cmd::ensure_service_label(&app, V2),
            cmd::mkdir_kamal(),
            cmd::lock_acquire(&app, "x"),
            cmd::lock_release(&app),
            cmd::network_create(),
            cmd::proxy_image_version(),
            cmd::proxy_mkdir_apps_config(),
            cmd::proxy_start_or_run(&app, "10.77.4.11"),
            cmd::list_running_versions(&app, r),
            cmd::current_running_version(&app, r),
            cmd::mkdir_error_pages(&app),
            format!("scp -t -r {}", cmd::error_pages_dir(&app)),
            cmd::extract_assets(&app, r, V2, "/www/assets"),
            cmd::sync_asset_volumes(&app, r, V2, Some(V1)),
            cmd::container_id_for(&app, r, V2),
            cmd::audit_record(&app, &audit::line(at, "klab@example.test", None, Some(r), &audit::booted(V2))),
            cmd::mkdir_env_dir(&app),
            format!("scp -t {}", cmd::env_file(&app, r)),
            cmd::proxy_deploy(
                &app,
                r,
                V2,
                "e41acc474a07",
                &ProxySpec {
                    hosts: vec!["klabapp.test".into()],
                    healthcheck_interval: Some(2),
                    healthcheck_timeout: Some(3),
                    healthcheck_path: Some("/up".into()),
                    ..Default::default()
                },
            ),
            cmd::container_health_status(&app, r, V2),
            cmd::stop_version(&app, role, V1),
            cmd::clean_assets(&app, r, V2),
            cmd::clean_error_pages(&app, V2),
            cmd::audit_record(&app, &audit::line(at, "klab@example.test", None, None, &audit::tagging(&app.image_ref(V2)))),
            cmd::tag_latest(&app, V2),
            cmd::audit_record(&app, &audit::line(at, "klab@example.test", None, None, audit::PRUNED_CONTAINERS)),
            cmd::prune_containers(&app, 3),
            cmd::audit_record(&app, &audit::line(at, "klab@example.test", None, None, audit::PRUNED_IMAGES)),
            cmd::prune_dangling_images(&app),
            cmd::prune_tagged_images(&app),
        ]);
    }
    let ours: Vec<String> = ours.iter().map(|c| normalize(c)).collect();
    let mut missing = BTreeMap::new();
    for host in ["klab1", "klab2", "klab3"] {
        for c in trace_commands("03-deploy-v2", host) {
            if !ours.contains(&c) {
                missing.insert(c, host);
            }
        }
    }
    assert!(missing.is_empty(), "Kamal commands we cannot produce: {missing:#?}");
}

#[test]
fn rollback_rename_and_views_match_trace() {
    if !have_traces() {
        return;
    }
    let app = klabapp();
    let t = trace_commands("05-rollback-v1", "klab1");
    assert_in(&t, &cmd::rename(&app, "web", V1, &cmd::replaced_version(V1, "aaa94c3ca0dba2d9")));
    assert_in(
        &t,
        &cmd::audit_record(
            &app,
            &audit::line(chrono::Utc::now(), "klab@example.test", None, Some("web"), &audit::renaming(V1, &cmd::replaced_version(V1, "aaa94c3ca0dba2d9"))),
        ),
    );
    assert_in(&trace_commands("16-lock-status-held", "klab1"), &cmd::lock_status(&app));
    assert_in(&trace_commands("11-app-details", "klab1"), &cmd::app_details(&app, "web"));
    assert_in(&trace_commands("12-app-containers", "klab1"), &cmd::app_containers(&app));
    assert_in(&trace_commands("13-app-images", "klab1"), &cmd::app_images(&app));
    assert_in(&trace_commands("14-app-version", "klab1"), &cmd::current_running_version(&app, "web"));
    assert_in(&trace_commands("21-audit", "klab1"), &cmd::audit_tail(&app));
    assert_in(&trace_commands("22-proxy-details", "klab1"), &cmd::proxy_details());
    assert_in(&trace_commands("09-app-logs", "klab1"), &cmd::app_logs(&app, "web", None, Some(5), None, None, true, None));
    assert_in(&trace_commands("36-app-stop", "klab1"), &cmd::app_stop_current(&app, app.role("web").unwrap()));
    assert_in(&trace_commands("36-app-stop", "klab1"), &cmd::proxy_remove(&app, "web"));
    assert_in(&trace_commands("31-deploy-worker-unhealthy", "klab3"), &cmd::container_logs_dump(&app, "worker", "ae5c4f7d37da52e08e0695f2c334115cca9640fb"));
}

#[test]
fn hostname_and_names() {
    assert_eq!(cmd::container_hostname("10.77.0.11", "67c14ca3303e"), "10.77.0.11-67c14ca3303e");
    assert_eq!(cmd::container_hostname("a.example.", "x"), "a.example-x");
    let long = "a".repeat(60);
    assert_eq!(cmd::container_hostname(&long, "x").len(), 53);
    let mut app = klabapp();
    assert_eq!(version_from_name(&app.prefix("web"), "klabapp-web-abc_replaced_1"), "abc_replaced_1");
    app.destination = Some("staging".into());
    assert_eq!(app.prefix("web"), "klabapp-web-staging");
    assert_eq!(app.latest_image(), "10.77.0.1:5000/klab/klabapp:latest-staging");
    assert!(cmd::app_run(&app, app.role("web").unwrap(), "h", "v", "x").contains("--env KAMAL_DESTINATION=\"staging\""));
    assert!(cmd::app_run(&app, app.role("web").unwrap(), "h", "v", "x").contains("--label destination=\"staging\""));
    assert_eq!(random_hex(16).len(), 16);
}

#[test]
fn boot_groups() {
    let mut app = klabapp();
    let hosts = app.hosts_primary_first();
    assert_eq!(hosts, vec!["10.77.0.11", "10.77.0.12", "10.77.0.13"]);
    assert_eq!(app.boot_groups(&hosts).len(), 3);
    app.boot_limit = Some(BootLimit::Percent(50));
    assert_eq!(app.boot_groups(&hosts), vec![vec!["10.77.0.11".to_string()], vec!["10.77.0.12".into()], vec!["10.77.0.13".into()]]);
    app.boot_limit = None;
    assert_eq!(app.boot_groups(&hosts).len(), 1);
}

/// The same app through the shared config module (deploy.yml as the traces were recorded with).
#[test]
fn config_module_app_matches_trace() {
    if !have_traces() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::create_dir_all(dir.path().join(".kamal")).unwrap();
    std::fs::write(
        dir.path().join(".kamal/secrets"),
        "KAMAL_REGISTRY_PASSWORD=klab-registry-pass\nSECRET_KEY_BASE=s3cr3t-key-base-0123456789\nDB_PASSWORD=db-pass-from-command\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config/deploy.yml"),
        r#"service: klabapp
image: klab/klabapp
servers:
  web:
    hosts: [10.77.0.11, 10.77.0.12]
  worker:
    hosts: [10.77.0.13]
    cmd: sh -c 'while true; do echo "worker tick $(date)"; sleep 5; done'
    env:
      clear:
        WORKER_QUEUES: default,mailers
proxy:
  host: klabapp.test
  app_port: 80
  healthcheck:
    path: /up
    interval: 2
    timeout: 3
registry:
  server: 10.77.0.1:5000
  username: klab
  password: [KAMAL_REGISTRY_PASSWORD]
env:
  clear:
    APP_ENV: production
    GREETING: hello from kamal
  secret: [SECRET_KEY_BASE, DB_PASSWORD]
volumes:
  - klabapp_data:/data
labels:
  klab.test: "yes"
logging:
  options:
    max-size: 10m
asset_path: /www/assets
error_pages_path: public
drain_timeout: 10
readiness_delay: 3
retain_containers: 3
boot:
  limit: 1
  wait: 2
builder:
  arch: amd64
"#,
    )
    .unwrap();
    let opts = crate::config::LoadOptions {
        config_file: dir.path().join("config/deploy.yml"),
        version: Some(V2.into()),
        cwd: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let c = crate::config::Config::load(&opts).expect("config loads");
    let app = from_config::from_config(&c);
    let t1 = trace_commands("03-deploy-v2", "klab1");
    let t3 = trace_commands("03-deploy-v2", "klab3");
    let web = app.role("web").unwrap();
    let worker = app.role("worker").unwrap();
    assert_in(&t1, &cmd::app_run(&app, web, "10.77.0.11", V2, "0123456789ab"));
    assert_in(&t3, &cmd::app_run(&app, worker, "10.77.0.13", V2, "0123456789ab"));
    assert_in(&t1, &cmd::proxy_deploy(&app, "web", V2, "e41acc474a07", web.proxy.as_ref().unwrap()));
    assert_in(&t1, &cmd::docker_login(&app).unwrap());
    assert_in(&t3, &cmd::stop_version(&app, worker, V1));
    assert_eq!(app.boot_limit, Some(BootLimit::Count(1)));
    assert_eq!(envfile::encode(&web.env_secret), "SECRET_KEY_BASE=s3cr3t-key-base-0123456789\nDB_PASSWORD=db-pass-from-command\n");
}

/// `proxy reboot` with the boot files (no `proxy: run:`): the run command as Kamal sent it.
#[test]
fn proxy_reboot_default_matches_trace() {
    if !have_traces() {
        return;
    }
    let app = klabapp();
    let trace = trace_commands("44-proxy-reboot-default", "klab1");
    assert_in(&trace, &cmd::proxy_reboot_run(&app, "10.77.0.11"));
    assert!(cmd::proxy_start_or_run(&app, "10.77.0.11").starts_with("docker container start kamal-proxy || echo $(cat"), "mid-command: no env prefix");
}
