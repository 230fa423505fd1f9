//! The kamal-proxy stand-in on real lab hosts: health-gated atomic switch without failed
//! requests, unhealthy deploys time out and keep the old target, routes survive a restart,
//! stop/resume, Host routing and the flag forms Kamal sends.
use crate::support::lab;

use lab::{Lab, RequestLoop};
use std::time::{Duration, Instant};

/// Runs its own stand-in container `<name>` (volume `<name>-config`, host port `port`) and app
/// containers on `host`, so it never touches the `kamal-proxy` container Kamal uses.
struct Proxy<'a> {
    lab: &'a Lab,
    host: String,
    name: String,
    port: u16,
}

impl<'a> Proxy<'a> {
    fn start(lab: &'a Lab, host: &str, name: &str, port: u16) -> Proxy<'a> {
        let p = Proxy { lab, host: host.into(), name: name.into(), port };
        let _ = lab.docker(host, &["rm", "-f", name]);
        let _ = lab.docker(host, &["volume", "rm", &format!("{name}-config")]);
        let r = lab.docker(host, &["network", "create", "kamal"]);
        assert!(r.ok || r.stderr.contains("already exists"), "{}", r.stderr);
        lab.docker(
            host,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "kamal",
                "--restart",
                "unless-stopped",
                "-p",
                &format!("{port}:80"),
                "--volume",
                &format!("{name}-config:/home/kamal-proxy/.config/kamal-proxy"),
                "basecamp/kamal-proxy:v0.9.2",
            ],
        )
        .expect_ok("docker run stand-in");
        p.wait_ready();
        p
    }

    fn wait_ready(&self) {
        let t = Instant::now();
        loop {
            if self.cli(&["list"]).ok {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(15), "stand-in did not come up: {}", self.lab.docker(&self.host, &["logs", &self.name]).stderr);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `docker exec <proxy> kamal-proxy <args>`
    fn cli(&self, args: &[&str]) -> lab::Run {
        let mut a = vec!["exec", self.name.as_str(), "kamal-proxy"];
        a.extend_from_slice(args);
        self.lab.docker(&self.host, &a)
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.lab.host(&self.host).ip, self.port)
    }

    /// Starts an app container from `image`, returns its 12-char id (what Kamal uses as target).
    fn app(&self, cname: &str, image: &str) -> String {
        let _ = self.lab.docker(&self.host, &["rm", "-f", cname]);
        let r = self.lab.docker(&self.host, &["run", "-d", "--name", cname, "--network", "kamal", image]).expect_ok("docker run app");
        r.stdout.trim()[..12].to_string()
    }

    fn cleanup(&self, apps: &[&str]) {
        for a in apps {
            let _ = self.lab.docker(&self.host, &["rm", "-f", a]);
        }
        let _ = self.lab.docker(&self.host, &["rm", "-f", &self.name]);
        let _ = self.lab.docker(&self.host, &["volume", "rm", &format!("{}-config", self.name)]);
    }
}

fn get(addr: &str, host: &str, path: &str) -> (u16, String) {
    lab::http_get(addr, host, path).unwrap_or_else(|e| panic!("GET {host}{path} via {addr}: {e}"))
}

#[test]
fn standin_switches_to_healthy_target_without_failed_requests_and_keeps_old_on_timeout() {
    let _turn = crate::support::lab::turn();
    let Some(l) = Lab::shared("lab", 1, 3) else { return };
    let v1 = l.image("spapp", "v1", "ok");
    let v2 = l.image("spapp", "v2", "ok");
    let bad = l.image("spapp", "bad", "unhealthy");
    let p = Proxy::start(l, "klab1", "sp-proxy-a", 8081);
    let id1 = p.app("spa-v1", &v1);
    let id2 = p.app("spa-v2", &v2);
    let id_bad = p.app("spa-bad", &bad);

    // nothing deployed yet: 404
    assert_eq!(get(&p.addr(), "spapp.test", "/version").0, 404);
    // first deploy, in Kamal's exact flag forms (--flag="v" after the shell = --flag=v)
    p.cli(&[
        "deploy",
        "spapp-web",
        &format!("--target={id1}:80"),
        "--host=spapp.test",
        "--deploy-timeout=10s",
        "--drain-timeout=5s",
        "--health-check-interval=200ms",
        "--health-check-timeout=2s",
        "--health-check-path=/up",
        "--buffer-requests",
        "--buffer-responses",
        "--log-request-header=Cache-Control",
        "--log-request-header=User-Agent",
    ])
    .expect_ok("deploy v1");
    assert_eq!(get(&p.addr(), "spapp.test", "/version"), (200, "v1\n".into()));
    // Host routing: another host gets 404
    assert_eq!(get(&p.addr(), "other.test", "/version").0, 404);

    // healthy switch under a request loop, then Kamal-style stop of the old container
    let lp = RequestLoop::start(&p.addr(), "spapp.test", "/version", Duration::from_millis(5), 3000);
    std::thread::sleep(Duration::from_millis(700));
    // `--flag value` form too
    p.cli(&[
        "deploy",
        "spapp-web",
        "--target",
        &format!("{id2}:80"),
        "--host",
        "spapp.test",
        "--deploy-timeout",
        "10s",
        "--drain-timeout",
        "5s",
        "--health-check-interval",
        "200ms",
    ])
    .expect_ok("deploy v2");
    std::thread::sleep(Duration::from_millis(500));
    l.docker("klab1", &["stop", "spa-v1"]).expect_ok("stop v1");
    std::thread::sleep(Duration::from_millis(500));
    let st = lp.stop();
    assert_eq!(st.failed, 0, "failed requests during the switch: {:?}", st.errors);
    assert!(st.bodies.get("v1").copied().unwrap_or(0) > 10 && st.bodies.get("v2").copied().unwrap_or(0) > 10, "{:?}", st.bodies);
    assert_eq!(get(&p.addr(), "spapp.test", "/version"), (200, "v2\n".into()));

    // unhealthy target: probed for the whole deploy timeout, exits 1 with Kamal-visible message,
    // old target keeps serving without a failed request
    let lp = RequestLoop::start(&p.addr(), "spapp.test", "/version", Duration::from_millis(10), 2000);
    let t = Instant::now();
    let r = p.cli(&[
        "deploy",
        "spapp-web",
        &format!("--target={id_bad}:80"),
        "--host=spapp.test",
        "--deploy-timeout=3s",
        "--drain-timeout=5s",
        "--health-check-interval=500ms",
    ]);
    let took = t.elapsed();
    let st = lp.stop();
    assert!(!r.ok && r.code == Some(1), "unhealthy deploy must exit 1: {r:?}");
    assert!(r.stderr.contains("Error: target failed to become healthy within configured timeout (3s)"), "{}", r.stderr);
    assert!(took >= Duration::from_millis(2900), "gave up too early: {took:?}");
    assert_eq!(st.failed, 0, "{:?}", st.errors);
    assert_eq!(st.bodies.keys().collect::<Vec<_>>(), ["v2"], "old target must keep serving");
    let list = p.cli(&["list"]).expect_ok("list").stdout;
    assert!(list.contains(&format!("{id2}:80")), "{list}");

    // unknown flag and bad duration are errors like cobra's; nothing changes
    let r = p.cli(&["deploy", "spapp-web", &format!("--target={id1}:80"), "--no-such-flag"]);
    assert!(!r.ok && r.stderr.contains("unknown flag: --no-such-flag"), "{r:?}");
    let r = p.cli(&["deploy", "spapp-web", &format!("--target={id1}:80"), "--deploy-timeout=10"]);
    assert!(!r.ok && r.stderr.contains("missing unit"), "{r:?}");

    // every invocation is in the argv log in the state volume
    let mount = l.docker("klab1", &["volume", "inspect", "-f", "{{.Mountpoint}}", "sp-proxy-a-config"]).expect_ok("inspect").stdout;
    let argv = std::fs::read_to_string(std::path::Path::new(mount.trim()).join("argv.log")).unwrap();
    assert!(argv.lines().next().unwrap().ends_with("kamal-proxy 'run'"), "{argv}");
    assert!(argv.contains(&format!("'deploy' 'spapp-web' '--target={id_bad}:80' '--host=spapp.test' '--deploy-timeout=3s'")), "{argv}");
    p.cleanup(&["spa-v1", "spa-v2", "spa-bad"]);
}

#[test]
fn standin_routes_survive_restart_and_stop_resume_work() {
    let _turn = crate::support::lab::turn();
    let Some(l) = Lab::shared("lab", 1, 3) else { return };
    let v1 = l.image("spapp", "v1", "ok");
    let p = Proxy::start(l, "klab2", "sp-proxy-b", 8082);
    let id1 = p.app("spb-v1", &v1);
    let idw = p.app("spb-wild", &v1);

    p.cli(&["deploy", "spb-web", &format!("--target={id1}:80"), "--host=spb.test", "--health-check-interval=200ms"]).expect_ok("deploy");
    // a wildcard service (no --host) takes every other host
    p.cli(&["deploy", "spb-any", &format!("--target={idw}:80"), "--health-check-interval=200ms", "--buffer-requests=false", "--tls-redirect=false"])
        .expect_ok("deploy wildcard");
    assert_eq!(get(&p.addr(), "spb.test", "/version"), (200, "v1\n".into()));
    assert_eq!(get(&p.addr(), "whatever.test", "/up"), (200, "ok\n".into()));

    // keep-alive connection reused across requests
    let mut c = lab::HttpConn::new(&p.addr());
    for _ in 0..5 {
        assert_eq!(c.get("spb.test", "/version", true).unwrap().0, 200);
    }

    // a slow target is probed until it turns healthy, within the deploy timeout
    let _ = l.docker("klab2", &["rm", "-f", "spb-slow"]);
    let slow = l.image("spapp", "slow", "slow");
    let r = l.docker("klab2", &["run", "-d", "--name", "spb-slow", "--network", "kamal", "-e", "UP_DELAY=2", &slow]).expect_ok("run slow");
    let id_slow = r.stdout.trim()[..12].to_string();
    let t = Instant::now();
    p.cli(&["deploy", "spb-web", &format!("--target={id_slow}:80"), "--host=spb.test", "--deploy-timeout=15s", "--health-check-interval=200ms"])
        .expect_ok("deploy slow");
    assert!(t.elapsed() >= Duration::from_millis(1500), "slow target cannot be healthy yet: {:?}", t.elapsed());
    assert_eq!(get(&p.addr(), "spb.test", "/version"), (200, "slow\n".into()));
    p.cli(&["deploy", "spb-web", &format!("--target={id1}:80"), "--host=spb.test", "--health-check-interval=200ms"]).expect_ok("deploy back");

    // maintenance: stop answers 503 with the message, resume brings it back
    p.cli(&["stop", "spb-web", "--drain-timeout=1s", "--message=Back soon"]).expect_ok("stop");
    let (s, body) = get(&p.addr(), "spb.test", "/version");
    assert_eq!(s, 503);
    assert!(body.contains("Back soon"), "{body}");
    p.cli(&["resume", "spb-web"]).expect_ok("resume");
    assert_eq!(get(&p.addr(), "spb.test", "/version").0, 200);

    // pause holds requests until resume
    p.cli(&["pause", "spb-web", "--drain-timeout=1s", "--max-pause=10s"]).expect_ok("pause");
    let addr = p.addr();
    let held = std::thread::spawn(move || {
        let t = Instant::now();
        (lab::http_get(&addr, "spb.test", "/version").map(|r| r.0).unwrap_or(0), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(800));
    p.cli(&["resume", "spb-web"]).expect_ok("resume after pause");
    let (status, waited) = held.join().unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(700), "request was not held: {waited:?}");

    // routes (and the maintenance state) survive a restart of the container
    p.cli(&["stop", "spb-any", "--drain-timeout=1s"]).expect_ok("stop wildcard");
    l.docker("klab2", &["restart", "-t", "5", &p.name]).expect_ok("restart");
    p.wait_ready();
    let list = p.cli(&["list"]).expect_ok("list").stdout;
    let rows = list_rows(&list);
    assert!(rows.contains(&vec!["spb-web".to_string(), "spb.test".into(), format!("{id1}:80"), "running".into(), "no".into()]), "{list}");
    assert!(rows.iter().any(|r| r[0] == "spb-any" && r[3] == "stopped"), "{list}");
    // kdeck's dashboard reads the same table
    let routes = kdeck::fleet::watcher::parse_proxy_list(&list, "spb-");
    assert!(routes.iter().any(|r| r.service == "spb-web" && r.target.as_deref() == Some(&format!("{id1}:80")[..])), "{routes:?}");
    assert_eq!(get(&p.addr(), "spb.test", "/version"), (200, "v1\n".into()));
    assert_eq!(get(&p.addr(), "other.test", "/version").0, 503);

    // remove drops the route
    p.cli(&["remove", "spb-web"]).expect_ok("remove");
    assert_eq!(get(&p.addr(), "spb.test", "/version").0, 503, "falls through to the stopped wildcard");
    p.cli(&["remove", "spb-any"]).expect_ok("remove wildcard");
    assert_eq!(get(&p.addr(), "spb.test", "/version").0, 404);
    let r = p.cli(&["remove", "spb-any"]);
    assert!(!r.ok && r.stderr.contains("service not found"), "{r:?}");
    p.cleanup(&["spb-v1", "spb-wild", "spb-slow"]);
}

/// The stand-in's own unit tests (flag and duration parsing) run with the suite.
#[test]
fn standin_unit_tests_pass() {
    let _turn = crate::support::lab::turn();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/kamal-proxy-standin");
    let target = std::env::var("KDECK_STANDIN_TARGET").unwrap_or_else(|_| "/tmp/kdeck-lab/.cache/standin-target".into());
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("test")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo test for the stand-in");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// `kamal-proxy list` rows: [service, host (blank for none), target, state, tls]. Every cell is
/// wrapped in an ANSI style, so the cells are the odd pieces between escape sequences.
fn list_rows(out: &str) -> Vec<Vec<String>> {
    let re = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    out.lines().skip(1).map(|l| re.split(l).skip(1).step_by(2).map(|c| c.to_string()).collect()).collect()
}
