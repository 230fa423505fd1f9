//! Live traffic read from kamal-proxy's request log (`kdeck proxy traffic`), on the engine lab:
//! load through each web host's proxy while a rolling deploy switches it from v1 to v2.

use crate::support::engine as engine_support;
use engine_support::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `kdeck proxy traffic -f --json` in the background, keeping its latest snapshot.
struct Follower {
    child: std::process::Child,
    latest: Arc<Mutex<Option<Value>>>,
}

impl Follower {
    fn start(lab: &Lab, dir: &std::path::Path) -> Follower {
        let mut child = kdeck_command(lab, dir)
            .args(["proxy", "traffic", "-f", "--json", "--since", "0s", "--interval", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kdeck proxy traffic -f");
        let latest = Arc::new(Mutex::new(None));
        let out = child.stdout.take().unwrap();
        let l = latest.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("proxy traffic -f printed non-JSON {line:?}: {e}"));
                *l.lock().unwrap() = Some(v);
            }
        });
        Follower { child, latest }
    }

    /// The next snapshot printed after now.
    fn next(&self) -> Value {
        let before = self.latest.lock().unwrap().clone();
        let t = Instant::now();
        loop {
            let now = self.latest.lock().unwrap().clone();
            if let Some(v) = now.filter(|v| Some(v) != before.as_ref()) {
                return v;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "proxy traffic -f printed nothing for 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (host, version) → the row of the snapshot.
fn rows(snap: &Value) -> Vec<(String, String, Value)> {
    snap["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["host"].as_str().unwrap_or("").to_string(), r["version"].as_str().unwrap_or("?").to_string(), r.clone()))
        .collect()
}

fn total(snap: &Value, host: &str, version: &str) -> u64 {
    rows(snap).iter().filter(|(h, v, _)| h == host && v == version).map(|(_, _, r)| r["total"].as_u64().unwrap_or(0)).sum()
}

fn last_seconds(snap: &Value, host: &str, version: &str, n: usize) -> u64 {
    rows(snap)
        .iter()
        .filter(|(h, v, _)| h == host && v == version)
        .map(|(_, _, r)| r["per_second"].as_array().unwrap().iter().rev().take(n).map(|x| x.as_u64().unwrap()).sum::<u64>())
        .sum()
}

/// Under load during `deploy v1 → v2`, each web host's old target falls to 0 and the new one
/// rises, and the per-host, per-version counts are within 5 % of what the load generator got.
#[test]
fn proxy_traffic_follows_each_host_from_old_to_new_version_during_a_deploy() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "etraffic";
    fresh(&lab, svc);
    for v in ["v1", "v2"] {
        lab.image(svc, v, "ok");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let hh = format!("{svc}.test");
    let web = lab.ips(0..2);
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    assert!(wait_serving(&web, &hh, Duration::from_secs(10)), "v1 not served");
    // The readiness probes above belong to earlier seconds than the follow reads.
    std::thread::sleep(Duration::from_millis(1500));
    let f = Follower::start(&lab, &dir);
    f.next();

    let load = Traffic::start(&web, &hh);
    let counted = load.per_host.clone();
    std::thread::sleep(Duration::from_secs(2));
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v2"]), "kdeck deploy v2");
    std::thread::sleep(Duration::from_secs(3));
    let during = f.next();
    let (n_ok, n_failed) = load.finish();
    assert_eq!(n_failed, 0, "failed requests during the deploy");
    assert!(n_ok > 100, "too few requests: {n_ok}");
    // Two more prints: every request has been logged and read.
    std::thread::sleep(Duration::from_millis(1500));
    f.next();
    let after = f.next();

    let counted = counted.lock().unwrap().clone();
    for h in &web {
        // Old target at 0 over the last 2 s while the load went on; the new one serving.
        assert_eq!(last_seconds(&during, h, "v1", 2), 0, "{h}: v1 still served at the end: {during:#}");
        assert!(last_seconds(&during, h, "v2", 2) > 0, "{h}: v2 not serving at the end: {during:#}");
        for v in ["v1", "v2"] {
            let want = *counted.get(&(h.clone(), v.to_string())).unwrap_or(&0);
            let got = total(&after, h, v);
            assert!(want > 10, "{h} {v}: the load generator counted only {want}");
            let off = (got as f64 - want as f64).abs() / want as f64;
            assert!(off <= 0.05, "{h} {v}: kdeck counted {got}, the load generator {want} ({:.1} % off)", off * 100.0);
        }
        // Every row of this app names its role and the container behind the target.
        for (rh, v, r) in rows(&after) {
            if &rh == h {
                assert_eq!(r["role"], "web", "{r:#}");
                assert_eq!(r["container"].as_str(), Some(format!("{svc}-web-{v}").as_str()), "{r:#}");
                assert_eq!(r["last_1m"]["s5xx"], 0, "{r:#}");
            }
        }
    }

    // Without -f: the same history read once, as a table.
    let table = ok(kdeck(&lab, &dir, &["proxy", "traffic", "--since", "1m"]), "kdeck proxy traffic").stdout;
    for h in &web {
        for v in ["v1", "v2"] {
            assert!(table.lines().any(|l| l.starts_with(h.as_str()) && l.contains(" web ") && l.contains(&format!(" {v} "))), "{h} {v} missing:\n{table}");
        }
    }
}

/// Requests for `/` on each web host until stopped: each host's statuses (also the
/// dashboard canary's load in `deploy_dialog.rs`).
pub(crate) struct RootLoad {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<u16>>>,
}

impl RootLoad {
    pub(crate) fn start(hosts: &[String], host_header: &str) -> RootLoad {
        use std::io::{Read, Write};
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = hosts
            .iter()
            .map(|h| {
                let (addr, hh, stop) = (format!("{h}:80"), host_header.to_string(), stop.clone());
                std::thread::spawn(move || {
                    let mut statuses = vec![];
                    let t = Instant::now();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) && t.elapsed() < Duration::from_secs(300) {
                        let status = std::net::TcpStream::connect(&addr).ok().and_then(|mut s| {
                            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                            write!(s, "GET / HTTP/1.1\r\nHost: {hh}\r\nConnection: close\r\n\r\n").ok()?;
                            let mut out = String::new();
                            s.read_to_string(&mut out).ok()?;
                            out.split_whitespace().nth(1)?.parse::<u16>().ok()
                        });
                        statuses.push(status.unwrap_or(0));
                        std::thread::sleep(Duration::from_millis(40));
                    }
                    statuses
                })
            })
            .collect();
        RootLoad { stop, threads }
    }

    pub(crate) fn finish(self) -> Vec<Vec<u16>> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.threads.into_iter().map(|t| t.join().unwrap()).collect()
    }
}

fn running(lab: &Lab, host: &str, svc: &str) -> Vec<String> {
    let out = lab.docker(host, &["ps", "--filter", &format!("label=service={svc}"), "--format", "{{.Names}}"]).stdout;
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `deploy --canary`: a version answering 500 is stopped after the canary host (the primary
/// role's first: no `boot.limit`), rolled back there, never reaches the other hosts, and the
/// lock is free; a healthy version passes its window and reaches every host.
#[test]
fn canary_stops_a_version_answering_500_and_lets_a_healthy_one_through() {
    let _turn = crate::support::lab::turn();
    let Some(lab) = lab() else { return };
    let svc = "ecanary";
    fresh(&lab, svc);
    lab.image(svc, "v1", "ok");
    lab.image(svc, "v2", "errors");
    lab.image(svc, "v3", "ok");
    let tmp = tempfile::tempdir().unwrap();
    let dir = app(&lab, tmp.path(), svc, |_| {});
    let hh = format!("{svc}.test");
    let web = lab.ips(0..2);
    let worker = lab.ips(2..3)[0].clone();
    ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v1"]), "kdeck deploy v1");
    assert!(wait_serving(&web, &hh, Duration::from_secs(10)), "v1 not served");

    let load = RootLoad::start(&web, &hh);
    let r = kdeck(&lab, &dir, &["deploy", "-P", "--version", "v2", "--canary", "--canary-window", "6", "--json"]);
    let statuses = load.finish();
    assert_eq!(r.code, Some(1), "a failed canary exits 1: {r:?}");
    assert!(r.stdout.contains("Canary failed: ") && r.stdout.contains("answered 5xx"), "{}", r.stdout);
    let json: Value = r.stdout.lines().find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v.get("canary").is_some())).expect("the --json verdict");
    assert_eq!(json["result"]["verdict"], "fail", "{json:#}");
    assert_eq!(json["canary"]["hosts"][0], web[0].as_str(), "{json:#}");
    assert!(json["canary"]["traffic"]["s5xx"].as_u64().unwrap() > 20, "{json:#}");
    // The other hosts never saw v2: no container of it, and their answers were never 5xx.
    for h in [&web[1], &worker] {
        assert!(running(&lab, h, svc).iter().all(|n| !n.ends_with("-v2")), "{h}: {:?}", running(&lab, h, svc));
    }
    assert!(statuses[1].iter().all(|s| *s < 500), "host 2 answered 5xx: {:?}", statuses[1]);
    assert!(statuses[0].iter().any(|s| *s >= 500), "the canary's 500s went through the proxy");
    // The canary is back on v1, the lock is free, and the audit log has the verdict.
    assert_eq!(version_via_proxy(&web[0], &hh).as_deref(), Some("v1"));
    assert!(ok(kdeck(&lab, &dir, &["lock", "status"]), "lock status").stdout.contains("There is no deploy lock"));
    let audit = ok(lab.kamal(&dir, &["audit"]), "kamal audit").stdout;
    assert!(audit.contains("Canary v2 failed: "), "{audit}");

    // A healthy version passes and reaches every host.
    let load = RootLoad::start(&web, &hh);
    let r = ok(kdeck(&lab, &dir, &["deploy", "-P", "--version", "v3", "--canary", "--canary-window", "5"]), "canary v3");
    load.finish();
    assert!(r.stdout.contains("Canary passed: deploying v3 to "), "{}", r.stdout);
    for h in &web {
        assert_eq!(version_via_proxy(h, &hh).as_deref(), Some("v3"), "{h}");
    }
    assert!(running(&lab, &worker, svc).iter().any(|n| n.ends_with("-worker-v3")), "{:?}", running(&lab, &worker, svc));
}
