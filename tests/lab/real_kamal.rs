//! Real Kamal 2.11 against the lab and the kamal-proxy stand-in: the app dir written by
//! `Lab::write_app` deploys end to end (2 web + 1 worker), redeploys without failed requests,
//! and a failing health check is reported the way Kamal reports the real kamal-proxy's.
use crate::support::lab;

use lab::{AppSpec, Lab, RequestLoop};
use std::time::Duration;

fn kamal_available() -> bool {
    std::process::Command::new("kamal").arg("version").output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn real_kamal_deploys_to_three_lab_hosts_with_the_standin() {
    let _turn = crate::support::lab::turn();
    if !kamal_available() {
        if std::env::var("KDECK_LAB_REQUIRED").as_deref() == Ok("1") {
            panic!("kamal is not installed (scripts/install-deps)");
        }
        println!("SKIP: kamal is not installed");
        return;
    }
    let Some(l) = Lab::up("lab", 1, 3) else { return };
    for v in ["v1", "v2"] {
        l.image("labkamal", v, "ok");
    }
    l.image("labkamal", "v3", "unhealthy");
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = AppSpec::new("labkamal", &l.ips(0..2), &l.ips(2..3));
    spec.deploy_timeout = 5;
    let app = l.write_app(tmp.path(), &spec);
    l.clear_ssh_logs();

    let r = l.kamal(&app, &["deploy", "-P", "--version", "v1"]);
    assert!(r.ok, "kamal deploy v1 failed:\n{}\n{}", r.stdout, r.stderr);

    // web on klab1+2 behind the stand-in, worker on klab3
    for h in ["klab1", "klab2"] {
        let ps = l.docker(h, &["ps", "--format", "{{.Names}}"]).expect_ok("ps").stdout;
        assert!(ps.lines().any(|n| n == "labkamal-web-v1"), "{h}: {ps}");
        assert!(ps.lines().any(|n| n == "kamal-proxy"), "{h}: {ps}");
        let ip = &l.host(h).ip;
        assert_eq!(lab::http_get(&format!("{ip}:80"), "labkamal.test", "/version").unwrap(), (200, "v1\n".into()));
        // secrets went into the per-host env file
        let env = std::fs::read_to_string(l.host(h).root.join(".kamal/apps/labkamal/env/roles/web.env")).unwrap();
        assert!(env.contains("APP_SECRET=lab-app-secret"), "{env}");
    }
    let ps = l.docker("klab3", &["ps", "--format", "{{.Names}}"]).expect_ok("ps").stdout;
    assert!(ps.lines().any(|n| n == "labkamal-worker-v1"), "{ps}");
    assert!(!ps.contains("kamal-proxy"), "worker host needs no proxy: {ps}");
    std::thread::sleep(Duration::from_millis(1500));
    let logs = l.docker("klab3", &["logs", "labkamal-worker-v1"]).stdout;
    assert!(logs.contains("worker labkamal v1 job"), "{logs}");

    // the trace hooks saw exactly what Kamal sent: SSH command strings and proxy argv
    let cmds = l.ssh_commands("klab1");
    assert!(cmds.iter().any(|c| c == "docker login 10.77.1.1:5000 -u \"lab\" -p \"lab-registry-pass\""), "{cmds:#?}");
    assert!(cmds.iter().any(|c| c.starts_with("docker exec kamal-proxy kamal-proxy deploy labkamal-web --target=\"")), "{cmds:#?}");
    let argv = l.proxy_argv_log("klab1");
    assert!(argv.contains("'deploy' 'labkamal-web'") && argv.contains("'--host=labkamal.test'") && argv.contains("'--deploy-timeout=5s'"), "{argv}");

    // redeploy under traffic: no failed request, ends on v2
    let lp = RequestLoop::start(&format!("{}:80", l.hosts()[0].ip), "labkamal.test", "/version", Duration::from_millis(10), 5000);
    let r = l.kamal(&app, &["deploy", "-P", "--version", "v2"]);
    std::thread::sleep(Duration::from_millis(300));
    let st = lp.stop();
    assert!(r.ok, "kamal deploy v2 failed:\n{}\n{}", r.stdout, r.stderr);
    assert_eq!(st.failed, 0, "failed requests during kamal deploy: {:?}", st.errors);
    assert!(st.bodies.contains_key("v2"), "{:?}", st.bodies);
    assert_eq!(lab::http_get(&format!("{}:80", l.hosts()[1].ip), "labkamal.test", "/version").unwrap().1, "v2\n");

    // unhealthy version: Kamal fails with the stand-in's message, v2 keeps serving
    let r = l.kamal(&app, &["deploy", "-P", "--version", "v3"]);
    assert!(!r.ok, "deploy of an unhealthy version must fail");
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("target failed to become healthy within configured timeout (5s)"), "{out}");
    assert_eq!(lab::http_get(&format!("{}:80", l.hosts()[0].ip), "labkamal.test", "/version").unwrap().1, "v2\n");

    // lock and read-only commands
    l.kamal(&app, &["lock", "acquire", "-m", "lab test"]).expect_ok("lock acquire");
    let st = l.kamal(&app, &["lock", "status"]).expect_ok("lock status");
    assert!(st.stdout.contains("Locked by: Lab Tester") && st.stdout.contains("lab test"), "{}", st.stdout);
    assert!(l.hosts()[0].root.join(".kamal/lock-labkamal/details").exists());
    l.kamal(&app, &["lock", "release"]).expect_ok("lock release");
    let d = l.kamal(&app, &["app", "details"]).expect_ok("app details");
    assert!(d.stdout.contains("labkamal-web-v2") && d.stdout.contains("labkamal-worker-v2"), "{}", d.stdout);

    l.kamal(&app, &["remove", "-y"]).expect_ok("kamal remove");
}
