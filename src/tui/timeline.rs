//! The deploy timeline: the engine's [`Event`]s folded into one row per (host, role, step).

use crate::deploy::event::{ActionKind, Event, HealthReport, StepKind};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum StepState {
    Pending,
    Running { since: DateTime<Utc> },
    Done { elapsed: Duration },
    Failed { elapsed: Duration, error: String, last_logs: Vec<String>, health: Option<HealthReport> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub host: Option<String>,
    pub role: Option<String>,
    pub kind: StepKind,
    pub group: Option<usize>,
    pub label: String,
    pub state: StepState,
    /// Latest progress message (e.g. "waiting for health: starting").
    pub progress: Option<String>,
    pub progress_elapsed: Option<Duration>,
    /// The proxy's/Docker's verdict seen while this step ran.
    pub health: Option<HealthReport>,
    /// A row of the plan (the totals count these; a step the plan lacked is shown, not counted).
    pub planned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub ok: bool,
    pub elapsed: Duration,
    pub summary: String,
}

/// A host's first traffic problem of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficMark {
    /// `5xx began (3 in 2 s)` or `p95 4.1ms → 180ms`.
    pub what: String,
    /// Index into the timeline's rows of the step the host was in.
    pub step: Option<usize>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub action: Option<ActionKind>,
    pub version: Option<String>,
    pub hosts: Vec<String>,
    pub groups: Vec<Vec<String>>,
    pub current_group: Option<usize>,
    pub rows: Vec<StepRow>,
    pub started_at: Option<DateTime<Utc>>,
    pub aborting: Option<bool>,
    pub finished: Option<Finished>,
    /// Recent command output lines (host-prefixed), bounded.
    pub output: VecDeque<(Option<String>, String)>,
    /// Exec output per host, for the exec panes.
    pub exec_output: BTreeMap<String, Vec<String>>,
    /// Per host, where its traffic through kamal-proxy first went wrong in this run.
    pub traffic_marks: BTreeMap<String, TrafficMark>,
    /// Hosts that already answered 5xx when the run began (set at the first traffic figures).
    pub traffic_baseline: Option<std::collections::BTreeSet<String>>,
    /// A deploy in parts (canary, one host first): kept across its parts' runs.
    pub stage: Option<crate::tui::dispatch::Stage>,
}

impl StepRow {
    fn new(host: &Option<String>, role: &Option<String>, kind: StepKind, group: Option<usize>, label: String, state: StepState) -> Self {
        StepRow { host: host.clone(), role: role.clone(), kind, group, label, state, progress: None, progress_elapsed: None, health: None, planned: false }
    }
}

/// A step kind as its JSON name (`stop_old`), for a row the plan did not have.
fn kind_name(kind: StepKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default()
}

const OUTPUT_CAP: usize = 500;
const EXEC_CAP: usize = 2000;

impl Timeline {
    /// An action runs: a run without its end, or a deploy in parts between its runs.
    pub fn is_running(&self) -> bool {
        let staged = self.stage.as_ref().is_some_and(|s| !matches!(s.state, crate::tui::dispatch::StageState::Done { .. }));
        (self.action.is_some() && self.finished.is_none()) || staged
    }

    pub fn is_exec(&self) -> bool {
        matches!(self.action, Some(ActionKind::Exec { .. }))
    }

    fn row_mut(&mut self, host: &Option<String>, role: &Option<String>, kind: StepKind) -> Option<&mut StepRow> {
        // A step kind may repeat on a host (hooks, `.kamal` then the boot's preparation): the
        // running row with that key, else the newest.
        let key = |r: &StepRow| &r.host == host && &r.role == role && r.kind == kind;
        let at = self.rows.iter().rposition(|r| key(r) && matches!(r.state, StepState::Running { .. })).or_else(|| self.rows.iter().rposition(key))?;
        self.rows.get_mut(at)
    }

    pub fn apply(&mut self, ev: &Event, now: DateTime<Utc>) {
        match ev {
            Event::PlanReady { action, version, hosts, groups, steps } => {
                // The parts of one staged deploy share its stage; a new action starts without.
                let stage = self.stage.take().filter(|s| !matches!(s.state, crate::tui::dispatch::StageState::Done { .. }));
                *self = Timeline {
                    stage,
                    action: Some(action.clone()),
                    version: version.clone(),
                    hosts: hosts.clone(),
                    groups: groups.clone(),
                    started_at: Some(now),
                    ..Default::default()
                };
                self.rows = steps
                    .iter()
                    .map(|s| StepRow { planned: true, ..StepRow::new(&s.host, &s.role, s.kind, s.group, s.label.clone(), StepState::Pending) })
                    .collect();
            }
            Event::StepStarted { host, role, kind, label, at } => self.step_started(host, role, *kind, label, *at),
            Event::StepProgress { host, role, kind, message, elapsed } => {
                if let Some(r) = self.row_mut(host, role, *kind) {
                    r.progress = Some(message.clone());
                    r.progress_elapsed = Some(*elapsed);
                }
            }
            Event::StepFinished { host, role, kind, elapsed } => {
                if let Some(r) = self.row_mut(host, role, *kind) {
                    r.state = StepState::Done { elapsed: *elapsed };
                }
            }
            Event::StepFailed { host, role, kind, elapsed, error, last_logs, health } => {
                let failed = StepState::Failed { elapsed: *elapsed, error: error.clone(), last_logs: last_logs.clone(), health: health.clone() };
                match self.row_mut(host, role, *kind) {
                    Some(r) => r.state = failed,
                    None => self.rows.push(StepRow::new(host, role, *kind, None, kind_name(*kind), failed)),
                }
            }
            Event::Output { host, line, .. } => self.output_line(host, line),
            Event::Health { host, role, report } => {
                let (h, r) = (Some(host.clone()), Some(role.clone()));
                if let Some(row) = self.row_mut(&h, &r, StepKind::Health) {
                    row.health = Some(report.clone());
                }
            }
            Event::GroupStarted { index, .. } => self.current_group = Some(*index),
            Event::Lock { .. } => {}
            Event::Aborting { forced } => self.aborting = Some(*forced),
            Event::Finished { ok, elapsed, summary } => {
                // Steps still running when the action ended did not finish.
                for r in &mut self.rows {
                    if let StepState::Running { since } = r.state {
                        let el = (now - since).to_std().unwrap_or_default();
                        r.state = if *ok {
                            StepState::Done { elapsed: el }
                        } else {
                            StepState::Failed { elapsed: el, error: "interrupted".into(), last_logs: vec![], health: None }
                        };
                    }
                }
                self.finished = Some(Finished { ok: *ok, elapsed: *elapsed, summary: summary.clone() });
            }
        }
    }

    fn step_started(&mut self, host: &Option<String>, role: &Option<String>, kind: StepKind, label: &str, at: DateTime<Utc>) {
        // Prefer the first pending row with that key; add one if the plan lacked it.
        let pos = self.rows.iter().position(|r| &r.host == host && &r.role == role && r.kind == kind && r.state == StepState::Pending);
        match pos {
            Some(i) => {
                self.rows[i].state = StepState::Running { since: at };
                // The run knows better than the plan what the step does on this host
                // (e.g. only `docker network create` on a host without the proxy).
                if !label.is_empty() {
                    self.rows[i].label = label.to_string();
                }
            }
            // Unplanned steps go where they ran: before the host's first pending step.
            None => self.rows.insert(self.insert_at(host), StepRow::new(host, role, kind, None, label.to_string(), StepState::Running { since: at })),
        }
    }

    /// A command's output line: into the bounded recent output and, for exec, its host's pane.
    fn output_line(&mut self, host: &Option<String>, line: &str) {
        if self.is_exec() {
            let key = host.clone().unwrap_or_else(|| "local".into());
            let v = self.exec_output.entry(key).or_default();
            v.push(line.to_string());
            if v.len() > EXEC_CAP {
                v.remove(0);
            }
        }
        self.output.push_back((host.clone(), line.to_string()));
        if self.output.len() > OUTPUT_CAP {
            self.output.pop_front();
        }
    }

    fn insert_at(&self, host: &Option<String>) -> usize {
        self.rows.iter().position(|r| &r.host == host && r.state == StepState::Pending).unwrap_or(self.rows.len())
    }

    /// Hosts in plan order, then any host that appeared only in events.
    pub fn host_order(&self) -> Vec<Option<String>> {
        let mut out: Vec<Option<String>> = Vec::new();
        for r in &self.rows {
            if r.host.is_none() && !out.contains(&None) {
                out.insert(0, None);
            }
        }
        for h in &self.hosts {
            out.push(Some(h.clone()));
        }
        for r in &self.rows {
            if r.host.is_some() && !out.contains(&r.host) {
                out.push(r.host.clone());
            }
        }
        out
    }

    /// (done, total) steps of a host, and whether any failed. The totals are the plan's: a step
    /// the plan lacked does not make them grow mid-run (a host without planned steps counts all).
    pub fn host_progress(&self, host: &Option<String>) -> (usize, usize, bool) {
        let all: Vec<_> = self.rows.iter().filter(|r| &r.host == host).collect();
        let failed = all.iter().any(|r| matches!(r.state, StepState::Failed { .. }));
        let rows: Vec<_> = if all.iter().any(|r| r.planned) { all.into_iter().filter(|r| r.planned).collect() } else { all };
        let done = rows.iter().filter(|r| matches!(r.state, StepState::Done { .. })).count();
        (done, rows.len(), failed)
    }

    /// The host a compact view shows until the operator picks one: the first failed, else the
    /// first running, else the first (an index into [`Timeline::host_order`]).
    pub fn auto_host(&self, hosts: &[Option<String>]) -> usize {
        let has = |h: &Option<String>, f: fn(&StepState) -> bool| self.rows.iter().any(|r| &r.host == h && f(&r.state));
        hosts
            .iter()
            .position(|h| has(h, |s| matches!(s, StepState::Failed { .. })))
            .or_else(|| hosts.iter().position(|h| has(h, |s| matches!(s, StepState::Running { .. }))))
            .unwrap_or(0)
    }

    pub fn group_of(&self, host: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.iter().any(|h| h == host))
    }
}
