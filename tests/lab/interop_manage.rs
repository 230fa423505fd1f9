//! The management commands send the same commands to each host as Kamal 2.11 (modulo random
//! parts): `app maintenance`/`live` (503 with the message through the proxy, then 200),
//! `proxy stop|start|restart`, `server exec` and `bootstrap`, `registry login|logout` with
//! `-L`/`-R`, `proxy boot_config set|get|reset` and `remove -y`. Each test is alone on the lab:
//! the trace is every command the hosts saw.

use crate::support::engine as engine_support;
use engine_support::*;

/// Kamal's run, then kdeck's, of the same command line: both traces compared.
fn both(lab: &Lab, dir: &std::path::Path, args: &[&str]) -> (Run, Run) {
    lab.clear_ssh_logs();
    let k = ok(lab.kamal(dir, args), &format!("kamal {}", args.join(" ")));
    let kt = trace(lab, "v1", "v0");
    lab.clear_ssh_logs();
    let d = ok(kdeck(lab, dir, args), &format!("kdeck {}", args.join(" ")));
    let dt = trace(lab, "v1", "v0");
    compare_traces(&args.join(" "), &kt, &dt);
    (k, d)
}

fn deployed(lab: &Lab, svc: &str, tmp: &std::path::Path) -> std::path::PathBuf {
    fresh(lab, svc);
    lab.image(svc, "v1", "ok");
    let dir = app(lab, tmp, svc, |_| {});
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1");
    dir
}

#[test]
fn app_maintenance_and_live_match_kamal_and_the_proxy_answers_503_then_200() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etmaint";
    let tmp = tempfile::tempdir().unwrap();
    let dir = deployed(&lab, svc, tmp.path());
    let web = format!("{}:80", lab.hosts()[0].ip);
    let get = || lab::http_get(&web, &format!("{svc}.test"), "/version").unwrap_or((0, String::new()));
    assert_eq!(get().0, 200);
    let maintenance = ["app", "maintenance", "--message", "Back soon", "--drain-timeout", "3"];
    lab.clear_ssh_logs();
    ok(lab.kamal(&dir, &maintenance), "kamal app maintenance");
    let k = trace(&lab, "v1", "v0");
    assert_eq!(get().0, 503, "kamal's maintenance");
    ok(lab.kamal(&dir, &["app", "live"]), "kamal app live");
    lab.clear_ssh_logs();
    ok(kdeck(&lab, &dir, &maintenance), "kdeck app maintenance");
    let d = trace(&lab, "v1", "v0");
    compare_traces("app maintenance", &k, &d);
    assert!(d[0].iter().any(|c| c.contains("kamal-proxy stop etmaint-web --drain-timeout=\"3s\" --message=\"Back soon\"")), "{:?}", d[0]);
    assert!(d[2].iter().all(|c| !c.contains("kamal-proxy")), "the worker host runs no proxy: {:?}", d[2]);
    let (status, body) = get();
    assert_eq!(status, 503, "kdeck's maintenance: {body}");
    assert!(body.contains("Back soon"), "the maintenance page shows the message: {body}");
    ok(lab.kamal(&dir, &["app", "live"]), "kamal app live");
    assert_eq!(get().0, 200, "kamal's live after kdeck's maintenance");
    ok(lab.kamal(&dir, &maintenance), "kamal app maintenance");
    both(&lab, &dir, &["app", "live"]);
    assert_eq!(get(), (200, "v1\n".to_string()), "live again after kdeck's app live");
}

#[test]
fn proxy_stop_start_restart_match_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = deployed(&lab, "etpxss", tmp.path());
    let ip = lab.hosts()[0].ip.clone();
    let running = || lab.docker(&ip, &["inspect", "-f", "{{.State.Running}}", "kamal-proxy"]).stdout.trim().to_string();
    both(&lab, &dir, &["proxy", "stop"]);
    assert_eq!(running(), "false");
    both(&lab, &dir, &["proxy", "start"]);
    assert_eq!(running(), "true");
    let (_, d) = both(&lab, &dir, &["proxy", "restart"]);
    assert_eq!(running(), "true", "{}", d.stdout);
    assert!(wait_serving(&lab.ips(0..2), "etpxss.test", std::time::Duration::from_secs(20)), "the app is served again after the restart");
}

#[test]
fn server_exec_and_bootstrap_match_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etsrv";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let (k, d) = both(&lab, &dir, &["server", "exec", "hostname"]);
    let (k, d) = (blocks(&k.stdout), blocks(&d.stdout));
    assert_eq!(k.len(), 3, "one block per host: {k:?}");
    assert_eq!(k, d, "the same blocks as Kamal");
    both(&lab, &dir, &["server", "exec", "echo", "two words"]);
    // (Thor reads a leading `-h` as help: the host filter goes after the command for Kamal.)
    both(&lab, &dir, &["server", "exec", "-h", &lab.hosts()[1].ip, "true"]);
    both(&lab, &dir, &["server", "bootstrap"]);
    // -i: the primary host, the remote exit status.
    let r = kdeck(&lab, &dir, &["server", "exec", "-i", "echo interactive-probe; exit 3"]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("interactive-probe"), "{r:?}");
    let r = kdeck(&lab, &dir, &["server", "exec"]);
    assert_eq!(r.code, Some(1), "a missing command is a usage error: {r:?}");
}

#[test]
fn registry_login_and_logout_match_kamal_on_hosts_with_skip_local_and_skip_remote() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etreg";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    // Kamal's local login also wants `docker buildx` here, which this machine lacks: the local
    // side is kdeck's alone (below), the hosts' side is compared.
    let (_, d) = both(&lab, &dir, &["registry", "login", "-L"]);
    assert!(d.stdout.lines().filter(|l| l.contains("docker login")).count() == 3, "one login per host: {}", d.stdout);
    assert!(!d.stdout.contains("secret") && !d.stderr.contains("secret"), "no password shown: {d:?}");
    both(&lab, &dir, &["registry", "logout", "-L"]);
    both(&lab, &dir, &["registry", "setup", "-L"]);
    both(&lab, &dir, &["registry", "remove", "-L"]);
    both(&lab, &dir, &["registry", "logout", "-R"]);
    both(&lab, &dir, &["registry", "logout"]);
    // -R: this machine only (the lab's control dockerd, which trusts the lab registry), no host
    // touched; the login lands in the local docker config.
    let docker_host = lab.build_context(svc, "v1", &tmp.path().join("ctx"));
    let local = |args: &[&str]| {
        let out = kdeck_command(&lab, &dir).env("DOCKER_HOST", &docker_host).args(args).output().expect("run kdeck");
        assert!(out.status.success(), "kdeck {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    lab.clear_ssh_logs();
    local(&["registry", "login", "-R"]);
    assert!(trace(&lab, "v1", "v0").iter().all(|h| h.is_empty()), "-R touched a host");
    let cfg = std::fs::read_to_string(lab.home.join(".docker/config.json")).unwrap_or_default();
    assert!(cfg.contains(&lab.registry.clone()), "not logged in locally: {cfg}");
    local(&["registry", "logout", "-R"]);
    let cfg = std::fs::read_to_string(lab.home.join(".docker/config.json")).unwrap_or_default();
    assert!(!cfg.contains(&lab.registry.clone()), "still logged in locally: {cfg}");
}

#[test]
fn proxy_boot_config_set_get_reset_match_kamal() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etbcfg";
    fresh(&lab, svc);
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let opts = lab.hosts()[0].root.join(".kamal/proxy/options");
    let before = std::fs::read_to_string(&opts).ok();
    let set = ["proxy", "boot_config", "set", "--http-port", "8080", "--metrics-port", "9090", "--debug", "--image-version", "v0.9.3"];
    let r = std::panic::catch_unwind(|| {
        both(&lab, &dir, &set);
        let (k, d) = both(&lab, &dir, &["proxy", "boot_config", "get"]);
        // Kamal prints the hosts as they answer; kdeck in the config's order.
        let hosts = |s: &str| {
            let mut v = s.lines().filter(|l| l.starts_with("Host ")).map(String::from).collect::<Vec<_>>();
            v.sort();
            v
        };
        assert_eq!(hosts(&k.stdout), hosts(&d.stdout), "the same boot config read back");
        assert!(hosts(&d.stdout)[0].contains("--publish 8080:80") && d.stdout.contains(":v0.9.3 kamal-proxy run --debug"), "{}", d.stdout);
        both(&lab, &dir, &["proxy", "boot_config", "reset"]);
    });
    // The lab's own boot options, whatever happened above.
    for h in lab.hosts().iter().take(2) {
        let o = h.root.join(".kamal/proxy/options");
        match &before {
            Some(b) => std::fs::write(&o, b).unwrap(),
            None => drop(std::fs::remove_file(&o)),
        }
        for f in ["image", "image_version", "run_command"] {
            let _ = std::fs::remove_file(h.root.join(".kamal/proxy").join(f));
        }
    }
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn remove_matches_kamal_and_leaves_nothing_of_the_app() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etrm";
    let tmp = tempfile::tempdir().unwrap();
    // Another app's directory on every host: the proxy stays (other apps are installed).
    for h in lab.hosts() {
        std::fs::create_dir_all(h.root.join(".kamal/apps/etrm-neighbour")).unwrap();
    }
    let dir = deployed(&lab, svc, tmp.path());
    lab.clear_ssh_logs();
    let k = ok(lab.kamal(&dir, &["remove", "-y"]), "kamal remove -y");
    let kt = trace(&lab, "v1", "v0");
    for h in lab.hosts() {
        assert!(all_containers(&lab, &h.ip, svc).is_empty(), "kamal left containers on {}", h.ip);
    }
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v1"]), "kamal deploy v1 again");
    lab.clear_ssh_logs();
    let d = ok(kdeck(&lab, &dir, &["remove", "-y"]), "kdeck remove -y");
    let dt = trace(&lab, "v1", "v0");
    compare_traces("remove -y", &kt, &dt);
    for h in lab.hosts() {
        assert!(all_containers(&lab, &h.ip, svc).is_empty(), "kdeck left containers on {}", h.ip);
        assert!(!h.root.join(format!(".kamal/apps/{svc}")).exists(), "kdeck left the app directory on {}", h.ip);
    }
    assert!(k.stdout.contains("Not removing the proxy") && d.stdout.contains("Not removing the proxy"), "{}\n{}", k.stdout, d.stdout);
    let running = lab.docker(&lab.hosts()[0].ip, &["inspect", "-f", "{{.State.Running}}", "kamal-proxy"]);
    assert_eq!(running.stdout.trim(), "true", "the proxy stays for the other apps");
    // Without -y and without a terminal: nothing happens (Kamal's question, answered no).
    lab.clear_ssh_logs();
    let r = kdeck(&lab, &dir, &["remove"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("Aborted"), "{r:?}");
    assert!(trace(&lab, "v1", "v0").iter().all(|h| h.is_empty()), "remove without -y touched a host");
    for h in lab.hosts() {
        let _ = std::fs::remove_dir_all(h.root.join(".kamal/apps/etrm-neighbour"));
    }
}

/// `rollback` without VERSION: without a terminal the versions every host still has are listed
/// (with who booted them) and the command asks for VERSION; on a terminal they are picked with
/// the keyboard and the rollback runs.
#[test]
fn rollback_without_version_lists_or_picks_the_versions_every_host_has() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab_exclusive() else { return };
    let svc = "etpick";
    let tmp = tempfile::tempdir().unwrap();
    let dir = deployed(&lab, svc, tmp.path());
    lab.image(svc, "v2", "ok");
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v2"]), "kdeck deploy v2");
    let r = kdeck(&lab, &dir, &["rollback"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let listed: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(listed.len(), 1, "only v1 can be chosen (v2 is current): {}", r.stdout);
    assert!(listed[0].trim_start().starts_with("v1 ") && listed[0].contains("booted ["), "{}", r.stdout);
    assert!(r.stderr.contains("kdeck rollback VERSION"), "{}", r.stderr);
    let script = tmp.path().join("pick.sh");
    let text = format!(
        "env HOME={} KDECK_KNOWN_HOSTS={} {} rollback\necho \"KDECK-EXIT=$?\"\nsleep 600\n",
        lab.home.display(),
        lab.known_hosts.display(),
        kdeck_bin().display()
    );
    std::fs::write(&script, text).unwrap();
    let t = crate::support::tmux::Tmux::start(&format!("kdeck-pick-{}", std::process::id()), &dir, &format!("sh {}", script.display()), 120, 30);
    t.wait("the picker", 60, |s| s.contains("Roll back to") && s.lines().any(|l| l.contains("▶ v1")) && s.contains("v2") && s.contains("current"));
    t.keys(&["Down", "Enter"]);
    let s = t.wait("the rollback to finish", 120, |s| s.contains("KDECK-EXIT="));
    assert!(s.contains("KDECK-EXIT=0") && s.contains("tag v1 as latest"), "{s}");
    for h in lab.ips(0..2) {
        assert_eq!(running(&lab, &h, svc, "web"), vec![format!("{svc}-web-v1")], "{h} after the picked rollback");
    }
}
