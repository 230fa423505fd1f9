//! kamal-proxy's own rollout as the canary of an app with one web host, on its own one-host lab
//! (net 17): `kdeck deploy --canary --canary-rollout` of a version answering 500 is stopped
//! (only requests whose `kamal-rollout` cookie falls in the split ever reach it), the same
//! choice in the dashboard's deploy dialog promotes a healthy version, and real Kamal deploys
//! normally after both.

use crate::deploy_dialog::{backend, send, stage_done, until};
use crate::support::engine::{fresh, kdeck, kdeck_bin, ok};
use crate::support::lab::{self, AppSpec, Lab};
use kdeck::tui::dispatch::{DeployChoice, DeployMode, DeployScope, Request, Stage, Update};
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// kamal-proxy's split (its `RolloutController`): Go's 32-bit FNV-1a of the cookie value, as a
/// float, at most `0xFFFFFFFF × percent / 100`.
fn in_rollout(value: &str, percent: u32) -> bool {
    let mut h: u32 = 0x811c9dc5;
    for b in value.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    f64::from(h) <= f64::from(u32::MAX) * (f64::from(percent) / 100.0)
}

/// Cookie values spread over the hash range.
fn visitors() -> Vec<String> {
    (0..40u32).map(|i| format!("visitor-{:08x}", i.wrapping_mul(2_654_435_761))).collect()
}

/// One GET through the proxy, with an optional `kamal-rollout` cookie: (status, body).
fn get(host: &str, hh: &str, path: &str, cookie: Option<&str>) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect_timeout(&format!("{host}:80").parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let c = cookie.map(|v| format!("Cookie: theme=dark; kamal-rollout={v}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {hh}\r\n{c}Connection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, out.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string()))
}

fn version_for(host: &str, hh: &str, cookie: Option<&str>) -> Option<String> {
    get(host, hh, "/version", cookie).filter(|(s, _)| *s == 200).map(|(_, b)| b)
}

/// Requests for `/` through the host's proxy, every fifth without a cookie, the rest with the
/// visitors' cookies in turn: (cookie, status) of each.
struct CookieLoad {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Option<String>, u16)>>,
}

impl CookieLoad {
    fn start(host: &str, hh: &str) -> CookieLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let (st, host, hh) = (stop.clone(), host.to_string(), hh.to_string());
        let thread = std::thread::spawn(move || {
            let (vs, mut seen, t) = (visitors(), vec![], Instant::now());
            let mut i = 0usize;
            while !st.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(90) {
                let cookie = (i % 5 != 0).then(|| vs[i % vs.len()].clone());
                let status = get(&host, &hh, "/", cookie.as_deref()).map_or(0, |(s, _)| s);
                seen.push((cookie, status));
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        });
        CookieLoad { stop, thread }
    }

    fn finish(self) -> Vec<(Option<String>, u16)> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

fn lock_is_free(lab: &Lab, dir: &std::path::Path) -> bool {
    ok(kdeck(lab, dir, &["lock", "status"]), "lock status").stdout.contains("There is no deploy lock")
}

/// Containers of the service running on a host (names).
fn running_names(lab: &Lab, host: &str, svc: &str) -> Vec<String> {
    let out = lab.docker(host, &["ps", "--filter", &format!("label=service={svc}"), "--format", "{{.Names}}"]).stdout;
    out.lines().map(str::to_string).collect()
}

/// Every request, cookie or not, answered by `v`.
fn all_on(web: &str, hh: &str, v: &str, inside: &str, outside: &str) {
    for c in [None, Some(inside), Some(outside)] {
        assert_eq!(version_for(web, hh, c).as_deref(), Some(v), "cookie {c:?}");
    }
}

/// A version answering 500 as the rollout target of half the cookies: only those requests see
/// it, the canary fails on them, `rollout stop` is sent, every request is on the live version
/// again, the new container stopped and the lock free. Then the dialog's rollout canary of a
/// healthy version passes and is promoted (the usual deploy), and real Kamal deploys after it.
#[test]
fn a_rollout_canary_answering_500_is_stopped_a_healthy_one_promoted_and_kamal_deploys_after() {
    let _turn = lab::turn();
    kdeck_bin();
    let Some(lab) = Lab::up("rollout", 17, 1) else { return };
    let svc = "rollout";
    fresh(&lab, svc);
    for (v, variant) in [("v1", "ok"), ("v2", "errors"), ("v3", "ok"), ("v4", "ok")] {
        lab.image(svc, v, variant);
    }
    let tmp = tempfile::tempdir().unwrap();
    let web = lab.ips(0..1)[0].clone();
    let mut spec = AppSpec::new(svc, std::slice::from_ref(&web), &[]);
    (spec.deploy_timeout, spec.drain_timeout) = (10, 1);
    let dir = lab.write_app(tmp.path(), &spec);
    let hh = format!("{svc}.test");
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    let (inside, outside): (Vec<String>, Vec<String>) = visitors().into_iter().partition(|v| in_rollout(v, 50));
    assert!(inside.len() >= 10 && outside.len() >= 10, "the visitors split {} / {}", inside.len(), outside.len());
    all_on(&web, &hh, "v1", &inside[0], &outside[0]);

    // The headless rollout canary of v2 (500 on every request for /).
    let seen_before = lab.proxy_argv_log(&web).lines().count();
    let load = CookieLoad::start(&web, &hh);
    let r = kdeck(&lab, &dir, &["deploy", "-P", "--version", "v2", "--canary", "--canary-rollout", "50", "--canary-window", "5", "--json"]);
    let seen = load.finish();
    assert_eq!(r.code, Some(1), "a failed canary exits 1: {r:?}");
    assert!(r.stdout.contains("Canary failed: ") && r.stdout.contains("answered 5xx"), "{}", r.stdout);
    assert!(r.stdout.contains("Canary: nothing was deployed"), "{}", r.stdout);
    let json: Value = r.stdout.lines().find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v.get("canary").is_some())).expect("the --json verdict");
    assert_eq!(json["result"]["verdict"], "fail", "{json:#}");
    assert_eq!(json["canary"]["rollout"]["percent"], 50, "{json:#}");
    assert!(json["canary"]["traffic"]["s5xx"].as_u64().unwrap() > 10, "{json:#}");
    assert_eq!((&json["others"]["version"], &json["others"]["traffic"]["s5xx"]), (&Value::from("v1"), &Value::from(0)), "{json:#}");
    // Only the cookies in the split reached v2; cookieless requests and the others never did.
    let fives = |pick: &dyn Fn(&Option<String>) -> bool| seen.iter().filter(|(c, s)| pick(c) && *s >= 500).count();
    assert_eq!(fives(&|c| c.is_none()), 0, "a request without the cookie reached v2");
    assert_eq!(fives(&|c| c.as_ref().is_some_and(|v| outside.contains(v))), 0, "a cookie outside the split reached v2");
    assert!(fives(&|c| c.as_ref().is_some_and(|v| inside.contains(v))) > 10, "the split's cookies never reached v2");
    assert!(seen.iter().all(|(_, s)| *s != 0), "a request failed outright");
    // Stopped: every request on v1 again, v2 stopped, the lock free, the stop in the trace.
    all_on(&web, &hh, "v1", &inside[0], &outside[0]);
    assert!(running_names(&lab, &web, svc).iter().all(|n| !n.ends_with("-v2")), "{:?}", running_names(&lab, &web, svc));
    assert!(lock_is_free(&lab, &dir));
    let argv = lab.proxy_argv_log(&web);
    let rollout: Vec<&str> = argv.lines().skip(seen_before).filter(|l| l.contains("'rollout'") && l.contains(&format!("'{svc}-web'"))).collect();
    let subs: Vec<&str> = ["'deploy'", "'set'", "'stop'"].into_iter().filter(|s| rollout.iter().any(|l| l.contains(s))).collect();
    assert_eq!(subs, ["'deploy'", "'set'", "'stop'"], "{argv}");
    assert!(rollout.last().is_some_and(|l| l.contains("'stop'")), "the last rollout command is its stop:\n{argv}");
    assert!(ok(lab.kamal(&dir, &["audit"]), "kamal audit").stdout.contains("Canary v2 failed: "));

    // The dialog's rollout canary of v3: it passes on the dashboard's own figures, the rollout
    // is stopped, then the usual deploy puts v3 behind every request.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stops = argv_stops(&lab, &web, svc);
    let mut b = backend(&rt, &lab, &dir);
    let load = CookieLoad::start(&web, &hh);
    let mode = DeployMode::Rollout { window_s: 5, thresholds: Default::default(), percent: 50 };
    send(&mut b, Request::Deploy(DeployChoice { version: "v3".into(), scope: DeployScope::All, mode }));
    let mut states = vec![];
    let stage = until(&rt, &mut b, 90, |u| {
        if let Update::Stage(Stage { state, .. }) = u {
            let name = format!("{state:?}").split([' ', '{']).next().unwrap_or_default().to_string();
            if states.last() != Some(&name) {
                states.push(name);
            }
        }
        stage_done(u)
    });
    let seen = load.finish();
    drop(b);
    assert!(stage.verdict.as_ref().is_some_and(|(ok, why)| *ok && why.contains("rollout target")), "{stage:?}");
    assert_eq!(states, ["First", "Watching", "Stopping", "Rest", "Done"], "{stage:?}");
    assert!(seen.iter().all(|(_, s)| (1..500).contains(s)), "a request failed or answered 5xx");
    all_on(&web, &hh, "v3", &inside[0], &outside[0]);
    assert!(lock_is_free(&lab, &dir));
    assert_eq!(argv_stops(&lab, &web, svc), stops + 1, "{}", lab.proxy_argv_log(&web));

    // Real Kamal next: its deploy works and its version serves every request, cookie or not.
    ok(lab.kamal(&dir, &["deploy", "-P", "--version", "v4"]), "kamal deploy v4 after the rollout canaries");
    all_on(&web, &hh, "v4", &inside[0], &outside[0]);
    assert_eq!(running_names(&lab, &web, svc), [format!("{svc}-web-v4")]);
}

/// `rollout stop` commands the host's kamal-proxy received for the service's web role.
fn argv_stops(lab: &Lab, web: &str, svc: &str) -> usize {
    lab.proxy_argv_log(web).lines().filter(|l| l.contains("'rollout'") && l.contains("'stop'") && l.contains(&format!("'{svc}-web'"))).count()
}
