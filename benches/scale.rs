//! Fleet scale: kdeck and real Kamal 2.11 on one lab of N hosts, N = 3, 10, 50 (issue 15).
//!
//! Run: `scripts/scale` (or `cargo bench --bench scale`; root, needs the lab; ~25 min for all
//! three sizes). `KDECK_SCALE_HOSTS=3,10` picks the sizes, `KDECK_SCALE_ROUNDS` (default 1) the
//! rounds of each operation, `KDECK_SCALE_SKIP_TUI=1` skips the dashboard part.
//!
//! Per N, one table:
//! - deploy / redeploy / rollback (Kamal, then kdeck, alternating, each to a new version):
//!   wall time, the **floor** and the overhead above it. The floor of one run is the time
//!   during which at least one host was executing a command the tool sent (the union of every
//!   host's `START`…`END` intervals in the lab's SSH command log): what the servers themselves
//!   spend on the chain, whatever client drives them. Overhead = wall − floor: start-up,
//!   handshakes, round trips, waiting between commands. With 50 hosts the deploys run twice,
//!   with `boot.limit` 10 and 25 %.
//! - reads (`app details`, `app logs -n 20`, `lock status`, `app version`): wall time.
//! - SSH handshakes per command (sshd's `Accepted publickey` lines over all hosts).
//! - the dashboard (release build, in tmux): start to every host shown as up, CPU and RSS at
//!   rest over 30 s, then the same under load (every container logging 100 lines/s (20 at 50 hosts), the merged
//!   Logs view open, a key every 100 ms): key-to-frame and frame-draw p99 from the dashboard's
//!   own render-loop figures (its log file's `render loop stats` line).

#[path = "../tests/support/lab.rs"]
mod lab;
#[path = "../tests/support/tmux.rs"]
#[allow(dead_code)]
mod tmux;

#[path = "../tests/support/scale.rs"]
mod measure;
#[path = "scale/tui.rs"]
mod tui;

use measure::{Fleet, Sample};
use std::path::{Path, PathBuf};

/// Lab name and net of the scale harness (no test uses them).
const LAB: &str = "scale";
const NET: u8 = 20;
const SERVICE: &str = "kscale";

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// This build's kdeck, copied to a private path (a shared target dir may be rebuilt meanwhile).
fn kdeck_bin() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdeck-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("kdeck");
    if !copy.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_kdeck"), &copy).unwrap();
    }
    copy
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: only `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scale: run with `scripts/scale` or `cargo bench --bench scale`");
        return;
    }
    let sizes: Vec<usize> = std::env::var("KDECK_SCALE_HOSTS").unwrap_or_else(|_| "3,10,50".into()).split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let rounds = env_usize("KDECK_SCALE_ROUNDS", 1);
    println!("scale: {} · {} · kdeck {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"), measure::machine(), env!("CARGO_PKG_VERSION"));
    for n in sizes {
        let Some(lab) = lab::Lab::up(LAB, NET, n) else { return };
        run_size(&lab, n, rounds);
        drop(lab);
    }
    let _ = std::fs::remove_dir_all(kdeck_bin().parent().unwrap());
}

/// Web and worker hosts of an N-host fleet: a fifth are workers (at least one).
fn layout(lab: &lab::Lab, n: usize) -> (Vec<String>, Vec<String>) {
    let workers = (n / 5).max(1);
    (lab.ips(0..n - workers), lab.ips(n - workers..n))
}

fn write_app(lab: &lab::Lab, dir: &Path, n: usize, boot_limit: Option<&str>, lines_per_tick: usize) -> PathBuf {
    let (web, workers) = layout(lab, n);
    let mut spec = lab::AppSpec::new(SERVICE, &web, &workers);
    spec.deploy_timeout = 30;
    spec.drain_timeout = 2;
    // No client-side sleep: with readiness_delay 0 every second of a deploy is either a host
    // working or the client's own overhead, which is what the floor separates.
    spec.readiness_delay = 0;
    if let Some(limit) = boot_limit {
        spec.extra_yaml.push_str(&format!("boot:\n  limit: {limit}\n"));
    }
    spec.extra_env.push_str(&format!("    APP_LINES_PER_TICK: {lines_per_tick}\n"));
    lab.write_app(dir, &spec)
}

/// Prints each table as soon as it is measured (a later failure keeps the earlier figures).
fn emit(table: &str) {
    use std::io::Write as _;
    println!("\n{table}");
    let _ = std::io::stdout().flush();
}

fn run_size(lab: &lab::Lab, n: usize, rounds: usize) {
    let limits: Vec<Option<&str>> = if n >= 50 { vec![Some("10"), Some("25%")] } else { vec![None] };
    // per pass: a warm-up and 4 per round; then one for the dashboard's load phase
    let versions: Vec<String> = (0..limits.len() * (1 + 4 * rounds) + 1).map(|i| format!("s{i}")).collect();
    for v in &versions {
        lab.image(SERVICE, v, "ok");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut fleet = Fleet::new(lab, kdeck_bin());
    let (web, workers) = layout(lab, n);
    emit(&format!("## {n} hosts ({} web + {} worker), readiness_delay 0, {rounds} round(s)", web.len(), workers.len()));
    let mut vi = 0;
    let mut reads = Vec::new();
    for (pi, limit) in limits.iter().enumerate() {
        let dir = write_app(lab, &tmp.path().join(format!("app{pi}")), n, *limit, 1);
        fleet.warm_up(&dir, &versions[vi]);
        vi += 1;
        let mut samples: Vec<(&str, Sample, Sample)> = Vec::new();
        for _ in 0..rounds {
            for op in ["deploy", "redeploy"] {
                let (k, d) = (&versions[vi], &versions[vi + 1]);
                vi += 2;
                let ks = fleet.run("kamal", &dir, &[op, "-P", "--version", k]);
                let ds = fleet.run("kdeck", &dir, &[op, "-P", "--version", d]);
                samples.push((op, ks, ds));
            }
            // rollback: Kamal to the version before the current one, kdeck back to the one Kamal left.
            let ks = fleet.run("kamal", &dir, &["rollback", &versions[vi - 2]]);
            let ds = fleet.run("kdeck", &dir, &["rollback", &versions[vi - 1]]);
            samples.push(("rollback", ks, ds));
        }
        let title = limit.map_or(String::new(), |l| format!(" (boot.limit {l})"));
        emit(&measure::boot_table(&title, &samples));
        if pi == 0 {
            reads = fleet.reads(&dir, rounds);
        }
    }
    emit(&measure::read_table(&reads));
    if std::env::var("KDECK_SCALE_SKIP_TUI").map(|v| v == "1").unwrap_or(false) {
        return;
    }
    let dir = write_app(lab, &tmp.path().join("tui"), n, None, 1);
    // 100 lines/s per container up to 10 hosts; at 50 the lab's 50 dockerds on 2 cores cannot
    // write 5,000 lines/s and still answer ssh keepalives, so 20 (`KDECK_SCALE_LOAD_LINES`).
    let lines = env_usize("KDECK_SCALE_LOAD_LINES", if n > 10 { 20 } else { 100 });
    let chatty = write_app(lab, &tmp.path().join("tui-load"), n, None, lines);
    tui::measure(lab, &kdeck_bin(), &dir, &chatty, &versions[vi], n, lines, &emit);
}
