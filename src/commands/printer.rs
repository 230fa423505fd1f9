//! Headless consumer of engine events: one line per finished step per host with elapsed time,
//! or the raw event stream as JSON lines (`--json`).

use crate::deploy::event::{verdict, HealthReport, LockInfo};
use crate::deploy::{ActionKind, Event, StepKind};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

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

/// Human title of a plan; none for actions that are not a rollout (lock, prune, stop …).
pub fn header(action: &ActionKind, version: Option<&str>, hosts: usize, groups: usize) -> Option<String> {
    let v = version.unwrap_or("");
    let what = match action {
        ActionKind::Setup => format!("Setting up and deploying {v}"),
        ActionKind::Deploy => format!("Deploying {v}"),
        ActionKind::Redeploy => format!("Redeploying {v}"),
        ActionKind::Rollback { version } => format!("Rolling back to {version}"),
        ActionKind::AppBoot => format!("Booting {v}"),
        _ => return None,
    };
    let groups = if groups > 1 { format!(" in {groups} boot groups") } else { String::new() };
    Some(format!("{what} on {hosts} host(s){groups}"))
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
        self.print_human(e, out);
        let _ = out.flush();
    }

    /// One event as the human lines (nothing for those only the TUI shows).
    fn print_human(&mut self, e: &Event, out: &mut impl Write) {
        match e {
            Event::PlanReady { action, version, hosts, groups, .. } => {
                if let (false, Some(h)) = (self.quiet, header(action, version.as_deref(), hosts.len(), groups.len())) {
                    let _ = writeln!(out, "{h}");
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
                    // One line per step: a multi-line message (the list of uncommitted changes a
                    // build leaves out) goes below it, indented like a failure's details.
                    let mut lines = message.lines();
                    let first = lines.next().unwrap_or_default();
                    let _ = writeln!(out, "  … {:<24} {} ({:.1}s)", who(host, role), first, elapsed.as_secs_f64());
                    for l in lines {
                        let _ = writeln!(out, "      {l}");
                    }
                }
            }
            Event::StepFinished { host, role, kind, elapsed } => {
                if !self.quiet {
                    let label = self.labels.get(&(host.clone(), role.clone(), *kind)).cloned().unwrap_or_default();
                    let _ = writeln!(out, "  ✓ {:<24} {} ({:.1}s)", who(host, role), label, elapsed.as_secs_f64());
                }
            }
            Event::StepFailed { host, role, kind, elapsed, error, last_logs, health } => {
                self.print_failed(out, (host, role, *kind), *elapsed, error, last_logs, health.as_ref());
            }
            Event::Output { host, role, line, .. } => {
                let _ = writeln!(out, "{}: {line}", who(host, role));
            }
            Event::Health { .. } => {}
            Event::Lock { host, held } => self.print_lock(out, host, held.as_ref()),
            Event::Aborting { forced } => {
                let _ = writeln!(
                    out,
                    "{}",
                    if *forced {
                        "Aborting running steps (the lock is still released)…"
                    } else {
                        "Stopping: no new steps start; Ctrl-C again to abort running ones…"
                    }
                );
            }
            Event::Finished { ok, elapsed, .. } => {
                // The error itself is printed once, by the command (`ERROR: …`).
                if self.quiet {
                } else if *ok {
                    let _ = writeln!(out, "Finished all in {:.1} seconds", elapsed.as_secs_f64());
                } else {
                    let _ = writeln!(out, "Failed after {:.1} seconds", elapsed.as_secs_f64());
                }
            }
        }
    }

    /// A failed step: its line, the error, the health verdict and the container's last logs.
    fn print_failed(
        &self,
        out: &mut impl Write,
        (host, role, kind): (&Option<String>, &Option<String>, StepKind),
        elapsed: Duration,
        error: &str,
        last_logs: &[String],
        health: Option<&HealthReport>,
    ) {
        // A step that never started (halted before it) has no label yet: name its kind.
        let label =
            self.labels.get(&(host.clone(), role.clone(), kind)).cloned().unwrap_or_else(|| {
                format!("{} (not started)", serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
            });
        let _ = writeln!(out, "  ✗ {:<24} {} ({:.1}s)", who(host, role), label, elapsed.as_secs_f64());
        for l in error.lines() {
            let _ = writeln!(out, "      {l}");
        }
        if let Some(h) = health {
            let _ = writeln!(
                out,
                "      health: docker={} {}",
                h.docker.clone().unwrap_or_else(|| "-".into()),
                h.reason.as_deref().map(|r| format!("reason={}", verdict(r))).unwrap_or_default()
            );
        }
        if !last_logs.is_empty() {
            let _ = writeln!(out, "      last log lines:");
            for l in last_logs {
                let _ = writeln!(out, "        {l}");
            }
        }
    }

    /// Who holds the deploy lock now (or that it was released).
    fn print_lock(&self, out: &mut impl Write, host: &str, held: Option<&LockInfo>) {
        match held {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn no_internal_plan_header_for_lock_requests() {
        assert_eq!(header(&ActionKind::LockAcquire, Some("a090d88a712f869700a4d5cc0ac08ca53befddba"), 3, 1), None);
        assert_eq!(header(&ActionKind::LockRelease, Some("abc"), 3, 1), None);
        assert_eq!(header(&ActionKind::Deploy, Some("v2"), 3, 1).unwrap(), "Deploying v2 on 3 host(s)");
        assert_eq!(header(&ActionKind::Deploy, Some("v2"), 3, 3).unwrap(), "Deploying v2 on 3 host(s) in 3 boot groups");
    }

    /// QA (qa2): the build's note printed `?? Dockerfile.unc (0.4s)` as if it were a step line.
    #[test]
    fn multi_line_progress_keeps_the_step_line_whole() {
        let mut p = Printer::new(false, false);
        let mut out = Vec::new();
        let message = "Building from a local git clone, so ignoring these uncommitted changes:\n?? Dockerfile.unc\n M config/deploy.yml".to_string();
        p.print(&Event::StepProgress { host: None, role: None, kind: StepKind::Build, message, elapsed: Duration::from_millis(400) }, &mut out);
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3, "{s}");
        assert!(lines[0].starts_with("  … ") && lines[0].ends_with("uncommitted changes: (0.4s)"), "{s}");
        assert_eq!(lines[1], "      ?? Dockerfile.unc");
        assert_eq!(lines[2], "       M config/deploy.yml");
    }

    #[test]
    fn failed_step_without_start_is_labelled_and_error_not_repeated() {
        let mut p = Printer::new(false, false);
        let mut out = Vec::new();
        p.print(
            &Event::StepFailed {
                host: Some("h3".into()),
                role: Some("worker".into()),
                kind: StepKind::Boot,
                elapsed: Duration::from_secs(1),
                error: "Halted at barrier".into(),
                last_logs: vec![],
                health: None,
            },
            &mut out,
        );
        p.print(&Event::Finished { ok: false, elapsed: Duration::from_secs(2), summary: "Exceptions on 3 hosts: boom".into() }, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("h3 [worker]") && s.contains("boot (not started)"), "{s}");
        assert!(!s.contains("boom"), "summary is printed by the command once: {s}");
    }
}
