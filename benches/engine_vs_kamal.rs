//! kdeck vs real Kamal 2.11 on the same lab, alternating runs, same app and health settings:
//! `deploy -P`, `redeploy -P`, `rollback`, `app details`, `app logs`.
//!
//! Run: `cargo bench --bench engine_vs_kamal` (root; needs the lab). `KDECK_BENCH_HOSTS=10`
//! for a 10-host lab (8 web + 2 worker; take the 3-host `engine` lab down first), `KDECK_BENCH_ROUNDS` (default 3),
//! `KDECK_BENCH_READINESS` (the app's `readiness_delay`, default 1).

#[path = "../tests/support/lab.rs"]
mod lab;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// This build's kdeck, copied to a private path (a shared target dir may be rebuilt meanwhile).
fn kdeck_bin() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kdeck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("kdeck");
    if !copy.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_kdeck"), &copy).unwrap();
    }
    copy
}

fn timed(mut c: Command) -> (Duration, bool) {
    let t0 = Instant::now();
    let out = c.stdout(Stdio::null()).stderr(Stdio::piped()).stdin(Stdio::null()).output().expect("run");
    if !out.status.success() {
        eprintln!("failed: {:?}\n{}", c, String::from_utf8_lossy(&out.stderr));
    }
    (t0.elapsed(), out.status.success())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: only `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("engine_vs_kamal: run with `cargo bench --bench engine_vs_kamal`");
        return;
    }
    let hosts: usize = std::env::var("KDECK_BENCH_HOSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let rounds: usize = std::env::var("KDECK_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    kdeck_bin();
    // The engine's lab (net 3); `KDECK_BENCH_HOSTS=10` needs it down first (`lab.sh down --name engine`).
    let Some(lab) = lab::Lab::up("engine", 3, hosts) else { return };
    let svc = "ebench";
    let n_web = if hosts > 3 { hosts - 2 } else { 2 };
    let versions: Vec<String> = (1..=(4 * rounds + 2)).map(|i| format!("b{i}")).collect();
    for v in &versions {
        lab.image(svc, v, "ok");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = lab::AppSpec::new(svc, &lab.ips(0..n_web), &lab.ips(n_web..hosts));
    spec.deploy_timeout = 20;
    spec.drain_timeout = 2;
    spec.readiness_delay = std::env::var("KDECK_BENCH_READINESS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let dir = lab.write_app(tmp.path(), &spec);
    let kamal = |args: &[&str]| {
        let mut c = lab.kamal_command(&dir);
        c.args(args);
        c
    };
    let kdeck = |args: &[&str]| {
        let mut c = Command::new(kdeck_bin());
        c.current_dir(&dir).env("HOME", &lab.home).env("KDECK_KNOWN_HOSTS", &lab.known_hosts).args(args);
        c
    };
    let run = |c: Command, what: &str| {
        let (_, ok) = timed(c);
        assert!(ok, "{what} failed");
    };
    run(kamal(&["deploy", "-P", "--version", &versions[0]]), "warm-up deploy");
    let _ = Path::new(&dir);

    let ops = ["deploy -P", "redeploy -P", "rollback", "app details", "app logs"];
    let mut k: Vec<Vec<Duration>> = vec![vec![]; ops.len()];
    let mut d: Vec<Vec<Duration>> = vec![vec![]; ops.len()];
    let mut vi = 1;
    for _ in 0..rounds {
        // deploy: Kamal then kdeck, each to a new version.
        for (who, store) in [("kamal", &mut k), ("kdeck", &mut d)] {
            let v = versions[vi].clone();
            vi += 1;
            let mk = if who == "kamal" { kamal(&["deploy", "-P", "--version", &v]) } else { kdeck(&["deploy", "-P", "--version", &v]) };
            let (t, ok) = timed(mk);
            assert!(ok, "{who} deploy");
            store[0].push(t);
        }
        for (who, store) in [("kamal", &mut k), ("kdeck", &mut d)] {
            let v = versions[vi].clone();
            vi += 1;
            let mk = if who == "kamal" { kamal(&["redeploy", "-P", "--version", &v]) } else { kdeck(&["redeploy", "-P", "--version", &v]) };
            let (t, ok) = timed(mk);
            assert!(ok, "{who} redeploy");
            store[1].push(t);
        }
        // rollback: Kamal to the version before the current one, kdeck back to the one Kamal left.
        for (who, store) in [("kamal", &mut k), ("kdeck", &mut d)] {
            let v = if who == "kamal" { versions[vi - 2].clone() } else { versions[vi - 1].clone() };
            let mk = if who == "kamal" { kamal(&["rollback", &v]) } else { kdeck(&["rollback", &v]) };
            let (t, ok) = timed(mk);
            assert!(ok, "{who} rollback");
            store[2].push(t);
        }
        for (i, args) in [(3usize, vec!["app", "details"]), (4, vec!["app", "logs", "-n", "20"])] {
            let (t, ok) = timed(kamal(&args));
            assert!(ok);
            k[i].push(t);
            let (t, ok) = timed(kdeck(&args));
            assert!(ok);
            d[i].push(t);
        }
    }
    let _ = std::fs::remove_dir_all(kdeck_bin().parent().unwrap());
    println!("\n{hosts} hosts ({n_web} web + {} worker), readiness_delay {}, {rounds} rounds, median seconds", hosts - n_web, spec.readiness_delay);
    println!("| operation | Kamal 2.11 | kdeck | speed-up |");
    println!("|---|---|---|---|");
    for (i, op) in ops.iter().enumerate() {
        let (km, dm) = (median(k[i].clone()), median(d[i].clone()));
        println!("| {op} | {:.2} | {:.2} | {:.1}x |", km.as_secs_f64(), dm.as_secs_f64(), km.as_secs_f64() / dm.as_secs_f64());
    }
}
