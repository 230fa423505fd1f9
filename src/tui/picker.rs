//! The deploy dialog's versions: the one kdeck started with (`--version` or the git HEAD), the
//! registry's tags of the app image, the versions whose containers are on the hosts (the
//! rollback picker's data) and the app dir's recent commits — merged by version, each with
//! where it comes from and its age, and whether a deploy can use it.

use crate::app::preflight::Report;
use crate::fleet::model::FleetSnapshot;
use crate::fleet::versions::{current_version, rollback_choices};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub version: String,
    /// The version a plain deploy builds (or, with `-P`, pulls): kdeck's start version.
    pub start: bool,
    /// A deploy of it builds the image here and pushes it first (the start version without `-P`).
    pub built_here: bool,
    /// What the fleet runs now.
    pub current: bool,
    /// A tag of the image in the registry (None: the registry's list is not known).
    pub in_registry: Option<bool>,
    /// Host × role pairs with a container of it, of how many.
    pub on_hosts: (usize, usize),
    /// A commit of the app dir (HEAD: the first).
    pub commit: Option<(bool, String)>,
    /// Newest known: the image's build, else its containers', else the commit's.
    pub created: Option<DateTime<Utc>>,
}

impl Candidate {
    /// Where it comes from, for the picker's column: `start · registry · hosts 3/3 · git HEAD`.
    pub fn sources(&self) -> String {
        let mut s: Vec<String> = vec![];
        if self.start {
            s.push("start".into());
        }
        if self.in_registry == Some(true) {
            s.push("registry".into());
        }
        if self.on_hosts.0 > 0 {
            s.push(format!("hosts {}/{}", self.on_hosts.0, self.on_hosts.1));
        }
        match &self.commit {
            Some((true, _)) => s.push("git HEAD".into()),
            Some((false, _)) => s.push("git".into()),
            None => {}
        }
        s.join(" · ")
    }

    /// Why a deploy cannot use it (None: it can). A deploy pulls the image from the registry
    /// on every host, so a version must be there — unless it is the start version, which a
    /// deploy builds and pushes (without `-P`).
    pub fn unusable(&self) -> Option<&'static str> {
        match self.in_registry {
            Some(false) if self.built_here => None,
            Some(false) if self.start => Some("not in the registry (-P: nothing is built)"),
            Some(false) if self.on_hosts.0 > 0 => Some("not in the registry (on hosts only: B rolls back to it)"),
            Some(false) => Some("not in the registry (never built)"),
            _ => None,
        }
    }
}

/// Every version the dialog offers, the start version first, then newest first. `builds`: a
/// deploy of the start version builds and pushes it (no `-P`).
pub fn candidates(fleet: &FleetSnapshot, start: Option<&str>, report: Option<&Report>, builds: bool) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let total: usize = fleet.roles.iter().map(|(_, h)| h.len()).sum();
    let registry_known = report.is_some_and(|r| matches!(r.registry_check, crate::app::preflight::RegistryCheck::Ok));
    let current = current_version(fleet);
    let entry = |out: &mut Vec<Candidate>, v: &str| -> usize {
        if let Some(i) = out.iter().position(|c| c.version == v) {
            return i;
        }
        out.push(Candidate {
            version: v.to_string(),
            start: false,
            built_here: false,
            current: current.as_deref() == Some(v),
            in_registry: registry_known.then_some(false),
            on_hosts: (0, total),
            commit: None,
            created: None,
        });
        out.len() - 1
    };
    if let Some(s) = start {
        let i = entry(&mut out, s);
        out[i].start = true;
        out[i].built_here = builds;
    }
    if let Some(r) = report {
        for t in &r.tags {
            let i = entry(&mut out, &t.name);
            out[i].in_registry = Some(true);
            out[i].created = out[i].created.max(t.created);
        }
    }
    for choice in rollback_choices(fleet) {
        let i = entry(&mut out, &choice.version);
        out[i].on_hosts = (total.saturating_sub(choice.missing.len()), total);
        if out[i].created.is_none() {
            out[i].created = choice.created;
        }
    }
    if let Some(r) = report {
        for (n, c) in r.commits.iter().enumerate() {
            let i = entry(&mut out, &c.sha);
            out[i].commit = Some((n == 0, c.subject.clone()));
            if out[i].created.is_none() {
                out[i].created = c.time;
            }
        }
    }
    // The latest tag (`latest`, `latest-<dest>`) names another version: not a choice.
    out.retain(|c| c.start || !(c.version == "latest" || c.version.starts_with("latest-")));
    out.sort_by(|a, b| b.start.cmp(&a.start).then(b.created.cmp(&a.created)).then(a.version.cmp(&b.version)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::preflight::{Commit, RegistryCheck};
    use crate::docker::registry::Tag;

    fn at(s: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_800_000_000 + s, 0)
    }

    #[test]
    fn versions_from_registry_hosts_and_git_merge_with_their_sources() {
        let report = Report {
            at: Utc::now(),
            version: Some("c2".into()),
            load_error: None,
            secret_problems: vec![],
            registry: "r".into(),
            registry_check: RegistryCheck::Ok,
            tags: vec![
                Tag { name: "c1".into(), created: at(100) },
                Tag { name: "v9".into(), created: at(50) },
                Tag { name: "latest".into(), created: at(100) },
            ],
            commits: vec![Commit { sha: "c2".into(), time: at(200), subject: "two".into() }, Commit { sha: "c1".into(), time: at(90), subject: "one".into() }],
        };
        let c = candidates(&FleetSnapshot::default(), Some("c2"), Some(&report), true);
        let got: Vec<(String, String, Option<&str>)> = c.iter().map(|c| (c.version.clone(), c.sources(), c.unusable())).collect();
        assert_eq!(
            got,
            vec![("c2".into(), "start · git HEAD".into(), None), ("c1".into(), "registry · git".into(), None), ("v9".into(), "registry".into(), None),]
        );
        // A commit never built is listed but cannot be deployed.
        let mut r2 = report.clone();
        r2.commits.push(Commit { sha: "c0".into(), time: at(10), subject: "zero".into() });
        let c = candidates(&FleetSnapshot::default(), Some("c2"), Some(&r2), true);
        assert_eq!(c.last().map(|c| (c.version.as_str(), c.unusable())), Some(("c0", Some("not in the registry (never built)"))));
        // Without the registry's answer nothing is refused for it.
        let c = candidates(&FleetSnapshot::default(), Some("c2"), None, true);
        assert_eq!(c.len(), 1);
        // With -P nothing is built: a start version the registry lacks cannot be deployed.
        let c = candidates(&FleetSnapshot::default(), Some("c2"), Some(&report), false);
        assert_eq!(c[0].unusable(), Some("not in the registry (-P: nothing is built)"));
    }
}
