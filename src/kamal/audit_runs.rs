//! The deploys and rollbacks in the hosts' audit logs (`.kamal/<svc>-audit.log`), as Kamal and
//! kdeck write them: a run is the `Pulled image with version V` / `Booted app version V` /
//! `Tagging <image>:V as the latest image` lines of one performer and version across the
//! hosts. Who, what, when, how long, and whether it finished (every host that booted V tagged
//! it latest, which Kamal does only after every boot group succeeded).

use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::BTreeSet;

/// One audit line: `[<UTC>] [<performer>][ [<dest>]][ [<role>]] <message>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    pub at: DateTime<Utc>,
    pub performer: &'a str,
    pub message: &'a str,
}

pub fn parse(line: &str) -> Option<Entry<'_>> {
    let rest = line.trim().strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] ")?;
    let at = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%SZ").ok()?.and_utc();
    let (performer, mut rest) = rest.strip_prefix('[')?.split_once(']')?;
    // The destination and role, when there, are more bracketed words before the message.
    while let Some(r) = rest.strip_prefix(" [").and_then(|r| r.split_once(']')).map(|(_, r)| r) {
        rest = r;
    }
    Some(Entry { at, performer, message: rest.trim_start() })
}

/// A deploy or rollback found in the audit logs.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRun {
    pub version: String,
    pub performer: String,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    /// The image was pulled: a deploy (a rollback boots an image the hosts have).
    pub pulled: bool,
    pub booted: BTreeSet<String>,
    pub tagged: BTreeSet<String>,
    /// Indices of its lines in the input.
    pub lines: Vec<usize>,
}

impl AuditRun {
    /// Every host that booted the version also tagged it latest.
    pub fn finished(&self) -> bool {
        !self.booted.is_empty() && self.booted.is_subset(&self.tagged)
    }

    pub fn kind(&self) -> &'static str {
        if self.pulled {
            "deploy"
        } else {
            "rollback"
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        (self.ended - self.started).to_std().unwrap_or_default()
    }
}

enum Step {
    Pull,
    Boot,
    Tag,
}

fn step(message: &str) -> Option<(Step, &str)> {
    if let Some(v) = message.strip_prefix("Pulled image with version ") {
        return Some((Step::Pull, v.trim()));
    }
    if let Some(v) = message.strip_prefix("Booted app version ") {
        return Some((Step::Boot, v.trim()));
    }
    let image = message.strip_prefix("Tagging ")?.strip_suffix(" as the latest image")?;
    Some((Step::Tag, image.rsplit_once(':').map_or(image, |(_, v)| v)))
}

/// Lines further apart than this are two runs.
const GAP: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// The runs in `lines` (host, audit line), oldest first. A host pulling or booting a version
/// again starts a new run of it.
pub fn runs<'a>(lines: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<AuditRun> {
    let mut parsed: Vec<(usize, &str, Entry)> = lines.into_iter().enumerate().filter_map(|(i, (h, l))| parse(l).map(|e| (i, h, e))).collect();
    parsed.sort_by_key(|(i, _, e)| (e.at, *i));
    let mut out: Vec<AuditRun> = vec![];
    let mut pulled_on: Vec<BTreeSet<String>> = vec![];
    for (i, host, e) in parsed {
        let Some((kind, version)) = step(e.message) else { continue };
        let open = out.iter().rposition(|r| r.version == version && r.performer == e.performer && e.at - r.ended <= GAP);
        let again = open.is_some_and(|k| match kind {
            Step::Pull => pulled_on[k].contains(host),
            Step::Boot => out[k].tagged.contains(host),
            Step::Tag => false,
        });
        let k = match open {
            Some(k) if !again => k,
            _ => {
                out.push(AuditRun {
                    version: version.to_string(),
                    performer: e.performer.to_string(),
                    started: e.at,
                    ended: e.at,
                    pulled: false,
                    booted: BTreeSet::new(),
                    tagged: BTreeSet::new(),
                    lines: vec![],
                });
                pulled_on.push(BTreeSet::new());
                out.len() - 1
            }
        };
        let run = &mut out[k];
        run.ended = e.at;
        run.lines.push(i);
        match kind {
            Step::Pull => {
                run.pulled = true;
                pulled_on[k].insert(host.to_string());
            }
            Step::Boot => {
                run.booted.insert(host.to_string());
            }
            Step::Tag => {
                run.tagged.insert(host.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_line_reads_with_and_without_destination_and_role() {
        let e = parse("[2026-12-03T11:37:56Z] [Demo Operator] [staging] [web] Booted app version v3").unwrap();
        assert_eq!((e.performer, e.message), ("Demo Operator", "Booted app version v3"));
        assert_eq!(e.at.to_rfc3339(), "2026-12-03T11:37:56+00:00");
        assert_eq!(parse("[2026-12-03T11:37:56Z] [ops] Pruned images").unwrap().message, "Pruned images");
        assert_eq!(parse("not an audit line"), None);
    }

    #[test]
    fn deploys_and_rollbacks_are_read_across_hosts() {
        let lines = [
            ("h1", "[2026-12-03T11:00:00Z] [alice] Pulled image with version v2"),
            ("h2", "[2026-12-03T11:00:01Z] [alice] Pulled image with version v2"),
            ("h1", "[2026-12-03T11:00:09Z] [alice] [web] Booted app version v2"),
            ("h2", "[2026-12-03T11:00:10Z] [alice] [web] Booted app version v2"),
            ("h1", "[2026-12-03T11:00:20Z] [alice] Tagging 10.0.0.1:5000/app:v2 as the latest image"),
            ("h2", "[2026-12-03T11:00:21Z] [alice] Tagging 10.0.0.1:5000/app:v2 as the latest image"),
            ("h1", "[2026-12-03T11:00:22Z] [alice] Pruned containers"),
            // bob rolls back to v1; h2 never tags it (interrupted)
            ("h1", "[2026-12-03T12:00:00Z] [bob] [web] Booted app version v1"),
            ("h2", "[2026-12-03T12:00:01Z] [bob] [web] Booted app version v1"),
            ("h1", "[2026-12-03T12:00:05Z] [bob] Tagging 10.0.0.1:5000/app:v1 as the latest image"),
            // alice deploys v2 again: a second run
            ("h1", "[2026-12-03T12:01:00Z] [alice] Pulled image with version v2"),
        ];
        let runs = runs(lines.iter().copied());
        let seen: Vec<(&str, &str, &str, bool, u64)> =
            runs.iter().map(|r| (r.kind(), r.version.as_str(), r.performer.as_str(), r.finished(), r.elapsed().as_secs())).collect();
        assert_eq!(seen, vec![("deploy", "v2", "alice", true, 21), ("rollback", "v1", "bob", false, 5), ("deploy", "v2", "alice", false, 0)]);
        assert_eq!(runs[0].lines, vec![0, 1, 2, 3, 4, 5]);
    }
}
