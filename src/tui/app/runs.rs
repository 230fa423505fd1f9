//! The `h` list: this session's runs and the deploys and rollbacks the hosts' audit logs
//! record (by anyone, with Kamal or kdeck), newest first; a session run already in the audit
//! log is listed once.

use super::App;
use crate::kamal::audit_runs::{self, AuditRun};
use chrono::{DateTime, TimeDelta, Utc};

#[derive(Debug, Clone, PartialEq)]
pub enum RunEntry {
    /// The latest run of the session (the deploy view's default).
    Latest,
    /// An earlier run of the session (an index into `App::history`).
    Earlier(usize),
    /// A deploy or rollback from the audit logs.
    Audit(AuditRun),
}

impl App {
    /// The deploys and rollbacks in the audit log loaded last (oldest first).
    pub fn audit_runs(&self) -> Vec<AuditRun> {
        let Some(lines) = &self.audit else { return vec![] };
        audit_runs::runs(lines.iter().map(|l| l.split_once("  ").unwrap_or(("", l.as_str()))))
    }

    /// What `h` lists: the latest run first, then the rest newest first.
    pub fn run_entries(&self) -> Vec<RunEntry> {
        let session: Vec<(DateTime<Utc>, DateTime<Utc>, Option<&str>)> = std::iter::once(&self.timeline)
            .chain(self.history.iter())
            .filter_map(|tl| Some((tl.started_at?, tl, tl.version.as_deref())))
            .map(|(s, tl, v)| {
                let end = tl.finished.as_ref().map_or(self.now, |f| s + TimeDelta::from_std(f.elapsed).unwrap_or_default());
                (s, end, v)
            })
            .collect();
        // A session run shows its own record; its audit lines are the same run.
        let slack = TimeDelta::seconds(3);
        let ours = |r: &AuditRun| session.iter().any(|(s, e, v)| *v == Some(r.version.as_str()) && r.started >= *s - slack && r.started <= *e + slack);
        let mut rest: Vec<(DateTime<Utc>, RunEntry)> =
            self.history.iter().enumerate().map(|(i, tl)| (tl.started_at.unwrap_or_default(), RunEntry::Earlier(i))).collect();
        rest.extend(self.audit_runs().into_iter().filter(|r| !ours(r)).map(|r| (r.started, RunEntry::Audit(r))));
        rest.sort_by_key(|e| std::cmp::Reverse(e.0));
        std::iter::once(RunEntry::Latest).chain(rest.into_iter().map(|(_, e)| e)).collect()
    }
}
