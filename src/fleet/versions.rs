//! The version facts of a [`FleetSnapshot`]: the version a host runs for a role, where the hosts
//! of a role disagree, the fleet's current version, and the versions Kamal can roll back to
//! (the dashboard's picker and `kdeck rollback` without VERSION read the same list).

use super::model::{ContainerInfo, FleetSnapshot, HostStatus};
use chrono::{DateTime, Utc};

/// Kamal's `abbreviated_version`: first 7 chars unless the version contains `_`.
pub fn short_version(v: &str) -> String {
    if v.contains('_') || v.chars().count() <= 7 {
        v.to_string()
    } else {
        v.chars().take(7).collect()
    }
}

pub fn host<'a>(s: &'a FleetSnapshot, name: &str) -> Option<&'a HostStatus> {
    s.hosts.iter().find(|h| h.host == name)
}

/// The version a host runs for a role: Kamal's current-version answer, else the newest
/// running container of the role.
pub fn role_version(h: &HostStatus, role: &str) -> Option<String> {
    if let Some((_, v)) = h.current.iter().find(|(r, _)| r == role) {
        if !v.is_empty() {
            return Some(v.clone());
        }
    }
    role_container(h, role).filter(|c| c.state == "running").map(|c| c.version.clone())
}

/// The version kamal-proxy sends a route's traffic to on this host: its target (`<container
/// id or name>:<port>`, as Kamal deploys it) matched to one of the host's app containers.
pub fn route_version(h: &HostStatus, route: &crate::fleet::model::ProxyRoute) -> Option<String> {
    let target = route.target.as_deref()?;
    let who = target.rsplit_once(':').map_or(target, |(w, _)| w);
    if who.is_empty() {
        return None;
    }
    h.containers.iter().find(|c| c.name == who || (who.len() >= 12 && c.id.starts_with(who))).map(|c| c.version.clone())
}

/// Some host runs another version of its role than the rest (e.g. after an aborted deploy the
/// worker still runs the old one): the header's single "version" would hide it.
pub fn fleet_mixed(s: &FleetSnapshot) -> bool {
    let mut seen: Option<String> = None;
    for h in &s.hosts {
        for r in &h.roles {
            if let Some(v) = role_version(h, r) {
                match &seen {
                    None => seen = Some(v),
                    Some(x) if *x != v => return true,
                    _ => {}
                }
            }
        }
    }
    false
}

/// A role's containers on a host that are up (running or restarting). More than one is the
/// state an interrupted deploy leaves behind (new and old both up); the views must say so.
pub fn live_containers<'a>(h: &'a HostStatus, role: &str) -> Vec<&'a ContainerInfo> {
    h.containers.iter().filter(|c| c.role == role && matches!(c.state.as_str(), "running" | "restarting")).collect()
}

/// The container that represents a role on a host: the current version's, else the newest.
pub fn role_container<'a>(h: &'a HostStatus, role: &str) -> Option<&'a ContainerInfo> {
    let cur = h.current.iter().find(|(r, _)| r == role).map(|(_, v)| v.as_str());
    let mine = || h.containers.iter().filter(move |c| c.role == role);
    if let Some(cur) = cur {
        if let Some(c) = mine().find(|c| c.version == cur) {
            return Some(c);
        }
    }
    mine().filter(|c| c.state == "running").max_by_key(|c| c.created).or_else(|| mine().max_by_key(|c| c.created))
}

/// The most common version among the hosts of a role (ties: the first seen).
pub fn role_majority(s: &FleetSnapshot, role: &str) -> Option<String> {
    let hosts = s.roles.iter().find(|(r, _)| r == role).map(|(_, h)| h.clone()).unwrap_or_default();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for h in hosts.iter().filter_map(|h| host(s, h)) {
        if let Some(v) = role_version(h, role) {
            match counts.iter_mut().find(|(x, _)| *x == v) {
                Some(c) => c.1 += 1,
                None => counts.push((v, 1)),
            }
        }
    }
    let max = counts.iter().map(|c| c.1).max()?;
    counts.into_iter().find(|c| c.1 == max).map(|c| c.0)
}

/// True when the hosts of a role report more than one version.
pub fn role_disagrees(s: &FleetSnapshot, role: &str) -> bool {
    let hosts = s.roles.iter().find(|(r, _)| r == role).map(|(_, h)| h.clone()).unwrap_or_default();
    let mut seen: Option<String> = None;
    for h in hosts.iter().filter_map(|h| host(s, h)) {
        if let Some(v) = role_version(h, role) {
            match &seen {
                None => seen = Some(v),
                Some(x) if *x != v => return true,
                _ => {}
            }
        }
    }
    false
}

/// The fleet's current version: the primary role's majority.
pub fn current_version(s: &FleetSnapshot) -> Option<String> {
    role_majority(s, &s.primary_role).or_else(|| s.roles.iter().find_map(|(r, _)| role_majority(s, r)))
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionChoice {
    pub version: String,
    pub created: Option<DateTime<Utc>>,
    pub current: bool,
    /// `host (role)` pairs that lack a container of this version.
    pub missing: Vec<String>,
}

impl VersionChoice {
    pub fn selectable(&self) -> bool {
        self.missing.is_empty() && !self.current
    }
}

/// Versions with a container on every host of every role, newest first; the others are listed
/// with where they are missing. Displaced (`_replaced_`) containers do not count.
pub fn rollback_choices(s: &FleetSnapshot) -> Vec<VersionChoice> {
    let current = current_version(s);
    let mut versions: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
    for h in &s.hosts {
        for c in &h.containers {
            if c.version.contains("_replaced_") || c.version.is_empty() {
                continue;
            }
            match versions.iter_mut().find(|(v, _)| *v == c.version) {
                Some(e) => e.1 = e.1.max(c.created),
                None => versions.push((c.version.clone(), c.created)),
            }
        }
    }
    let mut out: Vec<VersionChoice> = versions
        .into_iter()
        .map(|(v, created)| {
            let mut missing = Vec::new();
            for (role, hosts) in &s.roles {
                for hn in hosts {
                    let has = host(s, hn).is_some_and(|h| h.containers.iter().any(|c| &c.role == role && c.version == v));
                    if !has {
                        missing.push(format!("{hn} ({role})"));
                    }
                }
            }
            VersionChoice { current: current.as_deref() == Some(v.as_str()), version: v, created, missing }
        })
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.version.cmp(&b.version)));
    out
}

/// "2 h ago" style ages.
pub fn ago(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    match t {
        None => "?".into(),
        Some(t) => format!("{} ago", span((now - t).num_seconds().max(0) as u64)),
    }
}

/// Compact duration: 45 s, 3 min, 2 h, 5 d.
pub fn span(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

/// Who booted `version` last and when, from the audit lines: `booted [time] [performer] …`.
pub fn booted_line<'a>(audit: impl DoubleEndedIterator<Item = &'a str>, version: &str) -> Option<String> {
    let needle = format!("Booted app version {version}");
    audit.rev().find_map(|l| l.trim_end().strip_suffix(&needle)).map(|who| format!("booted {}", who.trim()))
}
