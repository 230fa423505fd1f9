//! Headless consumer of engine events: one line per finished step per host with elapsed time,
//! or the raw event stream as JSON lines (`--json`).

use crate::deploy::{Event, StepKind};
use std::collections::HashMap;
use std::io::Write;

#[derive(Default)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    labels: HashMap<(Option<String>, Option<String>, StepKind), String>,
}

fn who(host: &Option<String>, role: &Option<String>) -> String {
    match (host, role) {
        (Some(h), Some(r)) => format!("{h} [{r}]"),
        (Some(h), None) => h.clone(),
        (None, _) => "local".into(),
    }
}

impl Printer {
    pub fn new(json: bool, quiet: bool) -> Self {
        Printer { json, quiet, labels: HashMap::new() }
    }

    /// Render one event to `out` (stdout) — errors go to stdout too, so the order is kept.
    pub fn print(&mut self, e: &Event, out: &mut impl Write) {
        if self.json {
            if let Ok(s) = serde_json::to_string(e) {
                let _ = writeln!(out, "{s}");
            }
            return;
        }
        match e {
            Event::PlanReady { action, version, hosts, groups, .. } => {
                if !self.quiet {
                    let a = serde_json::to_value(action).ok().map(|v| match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
                        _ => String::new(),
                    });
                    let _ = writeln!(
                        out,
                        "{} {} on {} host(s) in {} boot group(s)",
                        a.unwrap_or_default(),
                        version.clone().unwrap_or_default(),
                        hosts.len(),
                        groups.len()
                    );
                }
            }
            Event::GroupStarted { index, hosts } => {
                if !self.quiet {
                    let _ = writeln!(out, "Boot group {}: {}", index + 1, hosts.join(", "));
                }
            }
            Event::StepStarted { host, role, kind, label, .. } => {
                self.labels.insert((host.clone(), role.clone(), *kind), label.clone());
            }
            Event::StepProgress { host, role, message, elapsed, .. } => {
                if !self.quiet {
                    let _ = writeln!(out, "  … {:<24} {} ({:.1}s)", who(host, role), message, elapsed.as_secs_f64());
                }
            }
            Event::StepFinished { host, role, kind, elapsed } => {
                if !self.quiet {
                    let label = self.labels.get(&(host.clone(), role.clone(), *kind)).cloned().unwrap_or_default();
                    let _ = writeln!(out, "  ✓ {:<24} {} ({:.1}s)", who(host, role), label, elapsed.as_secs_f64());
                }
            }
            Event::StepFailed { host, role, kind, elapsed, error, last_logs, health } => {
                let label = self.labels.get(&(host.clone(), role.clone(), *kind)).cloned().unwrap_or_default();
                let _ = writeln!(out, "  ✗ {:<24} {} ({:.1}s)", who(host, role), label, elapsed.as_secs_f64());
                for l in error.lines() {
                    let _ = writeln!(out, "      {l}");
                }
                if let Some(h) = health {
                    let _ = writeln!(
                        out,
                        "      health: docker={} {}",
                        h.docker.clone().unwrap_or_else(|| "-".into()),
                        h.reason.clone().map(|r| format!("reason={}", r.lines().next().unwrap_or(""))).unwrap_or_default()
                    );
                }
                if !last_logs.is_empty() {
                    let _ = writeln!(out, "      last log lines:");
                    for l in last_logs {
                        let _ = writeln!(out, "        {l}");
                    }
                }
            }
            Event::Output { host, role, line, .. } => {
                let _ = writeln!(out, "{}: {line}", who(host, role));
            }
            Event::Health { .. } => {}
            Event::Lock { host, held } => match held {
                Some(info) if !self.quiet => {
                    let _ = writeln!(
                        out,
                        "  lock on {host}: {} at {} ({})",
                        info.holder,
                        info.at.map(|a| a.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default(),
                        info.message
                    );
                }
                None if !self.quiet => {
                    let _ = writeln!(out, "  lock on {host} released");
                }
                _ => {}
            },
            Event::Aborting { forced } => {
                let _ = writeln!(
                    out,
                    "{}",
                    if *forced { "Aborting running steps (the lock is still released)…" } else { "Stopping: no new steps start; Ctrl-C again to abort running ones…" }
                );
            }
            Event::Finished { ok, elapsed, summary } => {
                if *ok {
                    let _ = writeln!(out, "Finished all in {:.1} seconds", elapsed.as_secs_f64());
                } else {
                    let _ = writeln!(out, "Failed after {:.1} seconds: {}", elapsed.as_secs_f64(), summary.lines().next().unwrap_or(""));
                }
            }
        }
        let _ = out.flush();
    }
}
