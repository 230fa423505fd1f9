//! The engine half of the scale harness (`benches/scale.rs`) and of its CI smoke (`tests/lab/scale_smoke.rs`): runs one command (Kamal or kdeck) and reads what the
//! hosts did meanwhile from the lab's logs: the SSH command log (the floor) and sshd's own log
//! (handshakes).

use super::lab;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One timed command.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub wall: Duration,
    /// Union of every host's command intervals during the run.
    pub floor: Duration,
    /// Remote commands started (all hosts).
    pub commands: usize,
    /// SSH handshakes accepted (all hosts).
    pub handshakes: usize,
}

/// The lab's hosts as the harness reads them, with the kdeck binary under test.
pub struct Fleet<'a> {
    lab: &'a lab::Lab,
    kdeck: PathBuf,
}

/// Byte length of each host's (SSH command log, sshd log) before a run.
type Marks = Vec<(u64, u64)>;

fn sshd_log(h: &lab::LabHost) -> PathBuf {
    h.docker_socket.parent().map(|d| d.join("sshd.log")).unwrap_or_default()
}

/// SSH handshakes accepted so far by every host's sshd.
pub fn handshakes(lab: &lab::Lab) -> usize {
    lab.hosts().iter().map(|h| std::fs::read_to_string(sshd_log(h)).unwrap_or_default().matches("Accepted publickey").count()).sum()
}

fn len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn tail(p: &Path, from: u64) -> String {
    let bytes = std::fs::read(p).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(from as usize..).unwrap_or_default()).into_owned()
}

impl<'a> Fleet<'a> {
    pub fn new(lab: &'a lab::Lab, kdeck: PathBuf) -> Fleet<'a> {
        Fleet { lab, kdeck }
    }

    fn command(&self, tool: &str, dir: &Path, args: &[&str]) -> Command {
        let mut c = if tool == "kamal" { self.lab.kamal_command(dir) } else { self.lab.kdeck_command_at(&self.kdeck, dir) };
        c.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        c
    }

    fn marks(&self) -> Marks {
        self.lab.hosts().iter().map(|h| (len(&h.ssh_log), len(&sshd_log(h)))).collect()
    }

    /// Runs `tool args` in `dir`; panics (with its stderr) when it fails.
    pub fn run(&mut self, tool: &str, dir: &Path, args: &[&str]) -> Sample {
        let before = self.marks();
        let t0 = Instant::now();
        let out = self.command(tool, dir, args).output().expect("run");
        let wall = t0.elapsed();
        assert!(out.status.success(), "{tool} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        let mut intervals = Vec::new();
        let mut s = Sample { wall, ..Sample::default() };
        for (h, (cmd_from, sshd_from)) in self.lab.hosts().iter().zip(before) {
            let log = tail(&h.ssh_log, cmd_from);
            s.commands += log.lines().filter(|l| l.split('\t').nth(3) == Some("START")).count();
            intervals.extend(command_intervals(&log));
            s.handshakes += tail(&sshd_log(h), sshd_from).matches("Accepted publickey").count();
        }
        s.floor = union(intervals);
        s
    }

    /// A first deploy by Kamal (boots kamal-proxy, creates the network) so both tools start warm.
    pub fn warm_up(&mut self, dir: &Path, version: &str) {
        self.run("kamal", dir, &["deploy", "-P", "--version", version]);
    }

    /// The read commands, alternating Kamal and kdeck, `rounds` times each.
    pub fn reads(&mut self, dir: &Path, rounds: usize) -> Vec<(&'static str, Vec<Sample>, Vec<Sample>)> {
        let ops: [(&str, &[&str]); 4] = [
            ("app details", &["app", "details"]),
            ("app logs -n 20", &["app", "logs", "-n", "20"]),
            ("lock status", &["lock", "status"]),
            ("app version", &["app", "version"]),
        ];
        ops.iter()
            .map(|(name, args)| {
                let (mut k, mut d) = (Vec::new(), Vec::new());
                for _ in 0..rounds.max(3) {
                    k.push(self.run("kamal", dir, args));
                    d.push(self.run("kdeck", dir, args));
                }
                (*name, k, d)
            })
            .collect()
    }
}

/// `[START, END]` of every command in a slice of a host's SSH command log, by pid.
fn command_intervals(log: &str) -> Vec<(f64, f64)> {
    let mut open = std::collections::HashMap::new();
    let mut out = Vec::new();
    for l in log.lines() {
        let f: Vec<&str> = l.splitn(5, '\t').collect();
        let (Some(ts), Some(pid), Some(kind)) = (f.first().and_then(|t| t.parse::<f64>().ok()), f.get(2), f.get(3)) else { continue };
        match *kind {
            "START" => {
                open.insert(pid.to_string(), ts);
            }
            "END" => {
                if let Some(start) = open.remove(*pid) {
                    out.push((start, ts));
                }
            }
            _ => {}
        }
    }
    out
}

/// Total length covered by a set of intervals.
fn union(mut v: Vec<(f64, f64)>) -> Duration {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut total, mut cur): (f64, Option<(f64, f64)>) = (0.0, None);
    for (s, e) in v {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = cur {
        total += ce - cs;
    }
    Duration::from_secs_f64(total.max(0.0))
}

fn median_by(v: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    let mut x: Vec<f64> = v.iter().map(f).collect();
    x.sort_by(f64::total_cmp);
    x.get(x.len() / 2).copied().unwrap_or(0.0)
}

/// The deploy/redeploy/rollback table of one pass (medians over rounds).
pub fn boot_table(title: &str, samples: &[(&str, Sample, Sample)]) -> String {
    let mut out = format!("Deploys{title}, median seconds:\n\n");
    out.push_str(
        "| operation | Kamal wall | Kamal floor | Kamal overhead | kdeck wall | kdeck floor | kdeck overhead | overhead ratio | handshakes Kamal / kdeck |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for op in ["deploy", "redeploy", "rollback"] {
        let k: Vec<Sample> = samples.iter().filter(|s| s.0 == op).map(|s| s.1.clone()).collect();
        let d: Vec<Sample> = samples.iter().filter(|s| s.0 == op).map(|s| s.2.clone()).collect();
        let wall = |v: &[Sample]| median_by(v, |s| s.wall.as_secs_f64());
        let floor = |v: &[Sample]| median_by(v, |s| s.floor.as_secs_f64());
        let over = |v: &[Sample]| median_by(v, |s| (s.wall.as_secs_f64() - s.floor.as_secs_f64()).max(0.0));
        let hs = |v: &[Sample]| median_by(v, |s| s.handshakes as f64);
        out.push_str(&format!(
            "| {op} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} / {} |\n",
            wall(&k),
            floor(&k),
            over(&k),
            wall(&d),
            floor(&d),
            over(&d),
            over(&d) / over(&k).max(1e-6),
            hs(&k),
            hs(&d)
        ));
    }
    out.push('\n');
    out
}

/// The read commands' table (medians): wall time, the floor (time during which a host executed
/// a command the tool sent) and the overhead above it, for both tools.
pub fn read_table(reads: &[(&str, Vec<Sample>, Vec<Sample>)]) -> String {
    let mut out = String::from(
        "Reads, median seconds:\n\n| command | Kamal wall | Kamal floor | Kamal overhead | kdeck wall | kdeck floor | kdeck overhead | speed-up | overhead ratio | handshakes Kamal / kdeck |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, k, d) in reads {
        let wall = |v: &[Sample]| median_by(v, |s| s.wall.as_secs_f64());
        let floor = |v: &[Sample]| median_by(v, |s| s.floor.as_secs_f64());
        let over = |v: &[Sample]| median_by(v, |s| (s.wall.as_secs_f64() - s.floor.as_secs_f64()).max(0.0));
        let hs = |v: &[Sample]| median_by(v, |s| s.handshakes as f64);
        out.push_str(&format!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1}x | {:.2} | {} / {} |\n",
            wall(k),
            floor(k),
            over(k),
            wall(d),
            floor(d),
            over(d),
            wall(k) / wall(d).max(1e-6),
            over(d) / over(k).max(1e-6),
            hs(k),
            hs(d)
        ));
    }
    out.push('\n');
    out
}

/// "2 cores, 24 GiB, load 1.2" for the report's header.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map_or(0, |kib| kib / 1024 / 1024);
    let load = std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split_whitespace().next().map(str::to_string)).unwrap_or_default();
    format!("{cores} cores, {mem} GiB, load average {load} at start")
}

#[cfg(test)]
mod tests {
    #[test]
    fn union_merges_overlaps() {
        let d = super::union(vec![(0.0, 1.0), (0.5, 2.0), (3.0, 4.0)]);
        assert!((d.as_secs_f64() - 3.0).abs() < 1e-9);
    }
}
