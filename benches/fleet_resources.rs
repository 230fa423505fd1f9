//! Cost of live resource polling (`fleet::resources::Monitor`, default options: host + containers
//! every 2 s, system df + prune preview every 60 s) on 10 lab hosts with 2 service containers
//! each.
//!
//! - operator side: CPU time of this process over wall time (one core = 100 %);
//! - host side: CPU time of every process in the host's network namespace (sshd incl. the
//!   exec'd shells it reaped, dockerd, containerd, shims) while monitored, minus the same
//!   measured over an unmonitored period of the same length.
//!
//! `cargo bench --bench fleet_resources` (root; needs the lab). `KDECK_BENCH_SECS` sets the
//! measuring period (default 30 s).

#[path = "../tests/support/lab.rs"]
mod lab;

use kdeck::fleet::resources::{Monitor, ResourceOptions};
use kdeck::fleet::FleetSpec;
use kdeck::ssh::{ClientOptions, Pool, SshOptions};
use std::time::{Duration, Instant};

const HOSTS: usize = 10;
const SVC: &str = "kbench";

fn clk_tck() -> f64 {
    std::process::Command::new("getconf").arg("CLK_TCK").output().ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

/// utime + stime + cutime + cstime of a pid, in ticks.
fn ticks(pid: &str) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    let Some(after) = s.rsplit_once(')').map(|x| x.1) else { return 0 };
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields after ")" start at index 0 = state (field 3); utime is field 14 → index 11.
    (11..15).filter_map(|i| f.get(i).and_then(|x| x.parse::<u64>().ok())).sum()
}

fn self_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    (11..13).filter_map(|i| f.get(i).and_then(|x| x.parse::<u64>().ok())).sum()
}

fn netns_ticks(netns: &str) -> u64 {
    let out = std::process::Command::new("ip").args(["netns", "pids", netns]).output().expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(ticks).sum()
}

fn hosts_ticks(l: &lab::Lab) -> Vec<u64> {
    l.hosts.iter().map(|h| netns_ticks(&h.netns)).collect()
}

fn main() {
    let Some(l) = lab::Lab::up("fleet", 5, HOSTS) else { return };
    let secs: u64 = std::env::var("KDECK_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let img = l.image(SVC, "v1", "ok");
    let repo = img.rsplit_once(':').unwrap().0.to_string();
    for h in &l.hosts {
        for role in ["web", "worker"] {
            let name = format!("{SVC}-{role}-v1");
            let _ = l.docker(&h.ip, &["rm", "-f", &name]);
            l.docker(
                &h.ip,
                &[
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--memory",
                    "64m",
                    "--label",
                    &format!("service={SVC}"),
                    "--label",
                    &format!("role={role}"),
                    "--label",
                    "destination",
                    &img,
                ],
            )
            .expect_ok("docker run");
        }
    }
    let ips = l.ips(0..HOSTS);
    let spec = FleetSpec::new(SVC, None, &repo, vec![("web".into(), ips.clone()), ("worker".into(), ips)]);
    let tck = clk_tck();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // Baseline: the hosts with nothing polling them.
    std::thread::sleep(Duration::from_secs(3));
    let b0 = hosts_ticks(&l);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let b1 = hosts_ticks(&l);
    let base_wall = t0.elapsed().as_secs_f64();

    let (samples, local_pct, host_pct) = rt.block_on(async {
        let kamal = SshOptions { keys: vec![l.ssh_key.clone()], keys_only: true, config_files: Some(vec![]), ..Default::default() };
        let client = ClientOptions { known_hosts: l.known_hosts.clone(), default_keys: vec![], use_agent: false, ..Default::default() };
        let pool = Pool::new(kamal, client).unwrap();
        let (mut rx, _h) = Monitor::spawn(pool, spec, ResourceOptions::default());
        // Warm up: connections, first df + prune preview.
        let _ = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| s.hosts.iter().all(|h| h.sampled_at.is_some()))).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let m0 = hosts_ticks(&l);
        let s0 = self_ticks();
        let t0 = Instant::now();
        let mut n = 0u64;
        let end = t0 + Duration::from_secs(secs);
        while Instant::now() < end {
            if tokio::time::timeout(end - Instant::now(), rx.changed()).await.is_ok() {
                n += 1;
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let s1 = self_ticks();
        let m1 = hosts_ticks(&l);
        let local = (s1 - s0) as f64 / tck / wall * 100.0;
        let per_host: Vec<f64> = (0..HOSTS)
            .map(|i| {
                let mon = (m1[i] - m0[i]) as f64 / tck / wall;
                let base = (b1[i] - b0[i]) as f64 / tck / base_wall;
                ((mon - base) * 100.0).max(0.0)
            })
            .collect();
        (n, local, per_host)
    });
    let avg = host_pct.iter().sum::<f64>() / host_pct.len() as f64;
    let max = host_pct.iter().cloned().fold(0.0, f64::max);
    println!("resource polling, {HOSTS} hosts × 2 containers, interval 2 s, measured {secs} s ({samples} snapshot updates)");
    println!("  operator side: {local_pct:.2} % of one core (budget < 2 %)");
    println!("  per host: avg {avg:.2} %, max {max:.2} % of one core (budget < 1 %)");
    println!("  per host detail: {}", host_pct.iter().map(|p| format!("{p:.2}")).collect::<Vec<_>>().join(" "));
    for h in &l.hosts {
        for role in ["web", "worker"] {
            let _ = l.docker(&h.ip, &["rm", "-f", &format!("{SVC}-{role}-v1")]);
        }
    }
}
