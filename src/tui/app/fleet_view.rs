//! The fleet tree as the operator narrows and orders it: `/` keeps the host and accessory rows
//! whose text matches every word typed, `s` orders each role's hosts by a column. Both only
//! change what is shown; the selection stays on the row it was on when that row is still there.

use super::super::versions::{self, TreeRow};
use super::App;
use crate::fleet::model::{ConnState, HostStatus};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::cmp::Ordering;

/// How each role's hosts are ordered in the fleet tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FleetSort {
    /// As `servers:` lists them.
    #[default]
    Config,
    /// By name, numbers compared as numbers (`10.0.0.9` before `10.0.0.10`).
    Host,
    /// Down, Docker unreachable, no container or not running, unhealthy, other version, fine.
    Problems,
    Version,
    /// Busiest first (once the resource monitor reports).
    Cpu,
    /// Most requests per second first (once kamal-proxy's log is read).
    Traffic,
}

impl FleetSort {
    const ALL: [FleetSort; 6] = [FleetSort::Config, FleetSort::Host, FleetSort::Problems, FleetSort::Version, FleetSort::Cpu, FleetSort::Traffic];

    pub fn label(self) -> &'static str {
        match self {
            FleetSort::Config => "config order",
            FleetSort::Host => "host",
            FleetSort::Problems => "problems first",
            FleetSort::Version => "version",
            FleetSort::Cpu => "CPU",
            FleetSort::Traffic => "requests/s",
        }
    }

    fn next(self) -> FleetSort {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// The fleet filter: the words typed (`typing` while the prompt is open).
#[derive(Debug, Default, Clone)]
pub struct FleetFilter {
    pub text: String,
    pub typing: bool,
}

impl FleetFilter {
    fn words(&self) -> Vec<String> {
        self.text.split_whitespace().map(str::to_lowercase).collect()
    }
}

/// `a10` < `a9`? No: digit runs compare as numbers.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let key = |s: &str| -> Vec<(u8, u64, String)> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut digits = false;
        for c in s.chars() {
            if c.is_ascii_digit() != digits && !cur.is_empty() {
                out.push(if digits { (0, cur.parse().unwrap_or(u64::MAX), String::new()) } else { (1, 0, std::mem::take(&mut cur)) });
                cur.clear();
            }
            digits = c.is_ascii_digit();
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(if digits { (0, cur.parse().unwrap_or(u64::MAX), String::new()) } else { (1, 0, cur) });
        }
        out
    };
    key(a).cmp(&key(b))
}

impl App {
    /// The fleet tree as shown: the accessories group folded or not, filtered, sorted.
    pub fn tree(&self) -> Vec<TreeRow> {
        let base = versions::tree_view(&self.fleet, self.accessories_collapsed);
        let words = self.fleet_filter.words();
        if words.is_empty() && self.fleet_sort == FleetSort::Config {
            return base;
        }
        let mut out = Vec::with_capacity(base.len());
        let mut i = 0;
        while i < base.len() {
            match &base[i] {
                TreeRow::Role { role, .. } => {
                    let mut hosts: Vec<String> = Vec::new();
                    i += 1;
                    while let Some(TreeRow::Host { host, .. }) = base.get(i) {
                        hosts.push(host.clone());
                        i += 1;
                    }
                    let role_matches = !words.is_empty() && words.iter().all(|w| role.to_lowercase().contains(w.as_str()));
                    hosts.retain(|h| role_matches || self.host_matches(role, h, &words));
                    self.sort_hosts(role, &mut hosts);
                    if !hosts.is_empty() {
                        out.push(TreeRow::Role { role: role.clone(), hosts: hosts.len() });
                        out.extend(hosts.into_iter().map(|host| TreeRow::Host { role: role.clone(), host }));
                    }
                }
                TreeRow::Accessories { count, collapsed } => {
                    let rows: Vec<TreeRow> = base[i + 1..].iter().filter(|r| self.accessory_matches(r, &words)).cloned().collect();
                    if words.is_empty() || !rows.is_empty() || (*collapsed && self.any_accessory_matches(&words)) {
                        out.push(TreeRow::Accessories { count: *count, collapsed: *collapsed });
                        out.extend(rows);
                    }
                    break;
                }
                _ => i += 1,
            }
        }
        out
    }

    /// A host is down for a reason that time may mend (not an unknown host key, which waits for
    /// `T`): activity should dial it again.
    pub fn has_host_to_probe(&self) -> bool {
        self.fleet.hosts.iter().any(|h| matches!(h.conn, ConnState::Down { .. }) && h.unknown_host_key.is_none())
    }

    /// Hosts shown and in the fleet (for the title), when a filter is active.
    pub fn fleet_filter_counts(&self) -> Option<(usize, usize)> {
        if self.fleet_filter.words().is_empty() {
            return None;
        }
        let shown = self.tree().iter().filter(|r| matches!(r, TreeRow::Host { .. })).count();
        let all = self.fleet.roles.iter().map(|(_, h)| h.len()).sum();
        Some((shown, all))
    }

    /// What a host row can be found by: host, role, version, container state and health, and
    /// the connection's word (`up`, `down`, `docker`, `connecting`).
    fn host_text(&self, role: &str, host: &str) -> String {
        let hs = versions::host(&self.fleet, host);
        let c = hs.and_then(|h| versions::role_container(h, role));
        let conn = match hs.map(|h| &h.conn) {
            Some(ConnState::Up) if hs.is_some_and(|h| h.docker_error.is_some()) => "docker unreachable",
            Some(ConnState::Up) => "up",
            Some(ConnState::Down { .. }) => "down",
            _ => "connecting",
        };
        let ver = hs.and_then(|h| versions::role_version(h, role)).unwrap_or_default();
        let (state, health) = c.map_or(("no container", ""), |c| (c.state.as_str(), c.health.as_deref().unwrap_or("")));
        format!("{host} {role} {ver} {state} {health} {conn}").to_lowercase()
    }

    fn host_matches(&self, role: &str, host: &str, words: &[String]) -> bool {
        let text = self.host_text(role, host);
        words.iter().all(|w| text.contains(w.as_str()))
    }

    fn accessory_matches(&self, row: &TreeRow, words: &[String]) -> bool {
        match row {
            TreeRow::Accessory { name, host } => {
                let text = format!("{name} {host} accessory").to_lowercase();
                words.iter().all(|w| text.contains(w.as_str()))
            }
            _ => false,
        }
    }

    fn any_accessory_matches(&self, words: &[String]) -> bool {
        self.fleet
            .accessories
            .iter()
            .any(|(name, hosts)| hosts.iter().any(|h| self.accessory_matches(&TreeRow::Accessory { name: name.clone(), host: h.clone() }, words)))
    }

    /// 0 = worst: down, Docker unreachable, no container / not running, unhealthy, another
    /// version than most of the role, fine.
    fn problem_rank(&self, role: &str, host: &str, majority: Option<&str>) -> u8 {
        let Some(hs) = versions::host(&self.fleet, host) else { return 0 };
        if matches!(hs.conn, ConnState::Down { .. }) {
            return 0;
        }
        if hs.docker_error.is_some() || !HostStatus::live(hs) {
            return 1;
        }
        match versions::role_container(hs, role) {
            None => 2,
            Some(c) if c.state != "running" => 2,
            Some(c) if c.health.as_deref().is_some_and(|h| h != "healthy") => 3,
            Some(c) if majority.is_some_and(|m| m != c.version) => 4,
            Some(_) => 5,
        }
    }

    fn sort_hosts(&self, role: &str, hosts: &mut [String]) {
        match self.fleet_sort {
            FleetSort::Config => {}
            FleetSort::Host => hosts.sort_by(|a, b| natural_cmp(a, b)),
            FleetSort::Problems => {
                let maj = versions::role_majority(&self.fleet, role);
                hosts.sort_by_key(|h| self.problem_rank(role, h, maj.as_deref()));
            }
            FleetSort::Version => {
                let ver = |h: &str| versions::host(&self.fleet, h).and_then(|s| versions::role_version(s, role)).unwrap_or_default();
                hosts.sort_by(|a, b| natural_cmp(&ver(a), &ver(b)));
            }
            FleetSort::Cpu => {
                let cpu = |h: &str| self.resources.as_ref().and_then(|r| r.host(h)).and_then(|r| r.cpu_pct).unwrap_or(-1.0);
                hosts.sort_by(|a, b| cpu(b).total_cmp(&cpu(a)));
            }
            FleetSort::Traffic => {
                let rate = |h: &str| self.traffic.as_ref().and_then(|t| t.host_total(h, Some(role), 10)).map_or(-1.0, |s| s.rate);
                hosts.sort_by(|a, b| rate(b).total_cmp(&rate(a)));
            }
        }
    }

    /// After the tree changed shape: the selection goes back to the row it was on, if shown.
    fn reselect(&mut self, was: Option<TreeRow>) {
        let rows = self.tree();
        self.fleet_selected = was.and_then(|w| rows.iter().position(|r| *r == w)).unwrap_or(0).min(rows.len().saturating_sub(1));
    }

    /// `s`: the next sort order.
    pub(super) fn cycle_fleet_sort(&mut self) {
        let was = self.tree().get(self.fleet_selected).cloned();
        self.fleet_sort = self.fleet_sort.next();
        self.reselect(was);
        self.info(format!("hosts sorted by {}", self.fleet_sort.label()));
    }

    /// `/`: a fresh filter prompt (the old filter stays until the first key).
    pub(super) fn open_fleet_filter(&mut self) {
        self.fleet_filter.typing = true;
        self.fleet_filter_fresh = true;
    }

    /// Esc on the fleet with a filter: every row again.
    pub(super) fn clear_fleet_filter(&mut self) {
        let was = self.tree().get(self.fleet_selected).cloned();
        self.fleet_filter = FleetFilter::default();
        self.reselect(was);
    }

    /// A key while the fleet filter prompt is open.
    pub(super) fn fleet_filter_key(&mut self, key: KeyEvent) {
        let was = self.tree().get(self.fleet_selected).cloned();
        match key.code {
            KeyCode::Esc => return self.clear_fleet_filter(),
            KeyCode::Enter => self.fleet_filter.typing = false,
            KeyCode::Backspace => {
                self.fleet_filter_fresh = false;
                self.fleet_filter.text.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if std::mem::take(&mut self.fleet_filter_fresh) {
                    self.fleet_filter.text.clear();
                }
                self.fleet_filter.text.push(c);
            }
            _ => {}
        }
        self.reselect(was);
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering;

    #[test]
    fn host_names_compare_numbers_as_numbers() {
        assert_eq!(natural_cmp("10.0.0.9", "10.0.0.10"), Ordering::Less);
        assert_eq!(natural_cmp("web-2", "web-10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a"), Ordering::Greater);
        assert_eq!(natural_cmp("10.0.0.9", "10.0.0.9"), Ordering::Equal);
    }
}
