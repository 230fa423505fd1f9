//! Updates from the engine, the fleet watcher, the log fan-in and the resource monitor.

use super::super::action::View;
use super::super::dispatch::Update;
use super::super::logbuf::Source;
use super::{App, Overlay};
use crate::deploy::event::{ActionKind, Event};

impl App {
    /// Whether applying `u` can change the screen: log lines are drawn only by the Logs view, so
    /// at 50 hosts their flow does not redraw the fleet many times a second.
    pub fn shows(&self, u: &Update) -> bool {
        !matches!(u, Update::Log(_)) || self.view() == View::Logs
    }

    pub fn update(&mut self, u: Update) {
        match u {
            Update::Fleet(s) => {
                self.fleet = s;
                self.fleet_loaded = true;
                let n = self.tree().len();
                if self.fleet_selected >= n {
                    self.fleet_selected = n.saturating_sub(1);
                }
            }
            Update::Engine(ev) => self.engine_event(ev),
            Update::Log(l) => {
                let src = Source { host: l.host, role: l.role, container: l.container };
                let id = self.logs.source_id(&src);
                let admitted = self.log_view.scope.admits(&src);
                self.logs.push(id, l.ts, l.stderr, l.text);
                // A paused view stays on the same lines while new ones arrive below.
                if !self.log_view.follow && admitted && self.log_view.filter.is_none() {
                    self.log_view.offset += 1;
                }
            }
            Update::Audit(lines) => {
                // Read again (`h`, the audit view): a run picked meanwhile keeps its place.
                if self.audit.as_ref() != Some(&lines) {
                    self.audit = Some(lines);
                    self.audit_scroll = 0;
                    self.audit_marked.clear();
                }
            }
            Update::Notice { error, text } => self.notice = Some((error, text)),
            Update::Preflight(r) => {
                // Secrets fixed since the start count from now on (redeploy, rollback too).
                if r.load_error.is_none() {
                    self.secret_problems.clone_from(&r.secret_problems);
                    if r.version.is_some() {
                        self.next_version.clone_from(&r.version);
                    }
                }
                self.preflight = Some(*r);
                self.preflight_pending = false;
            }
            Update::Stage(s) => self.timeline.stage = Some(s),
            Update::ActionEnded { ok, what } => self.action_ended(ok, what),
            // Only the container the overlay still waits for (a late answer is dropped).
            Update::Inspect(v) => {
                if matches!(self.overlay, Some(Overlay::Inspect { .. })) {
                    self.inspect = Some(*v);
                }
            }
            // SIGTERM/SIGHUP: the sender has already asked the engine to abort.
            Update::Terminate => {
                if self.timeline.is_running() {
                    self.quitting = true;
                } else {
                    self.quit = true;
                }
            }
            Update::Resources(r) => self.resources = Some(*r),
            Update::PrunePlans(p) => self.prune_plans = p,
            Update::Traffic(t) => {
                super::super::traffic_marks::mark(&mut self.timeline, &t, self.now);
                self.traffic = Some(*t);
            }
        }
    }

    /// An engine job ended: ring, unless the config says not to (or the terminal has the focus
    /// and the config rings only when it has not).
    fn action_ended(&mut self, ok: bool, what: Option<String>) {
        if !self.notify.rings(self.focused) {
            return;
        }
        let tl = &self.timeline;
        let ok = ok && tl.finished.as_ref().is_none_or(|f| f.ok);
        let name = what.or_else(|| tl.action.as_ref().map(super::super::ui::action_name)).unwrap_or_else(|| "action".into());
        let summary = tl.finished.as_ref().map(|f| f.summary.clone()).filter(|s| !s.is_empty());
        let body = summary.unwrap_or_else(|| format!("{} · {}", self.fleet.service, self.dest_name()));
        self.alerts.push(super::super::notify::Alert { title: format!("kdeck: {name} {}", if ok { "done" } else { "failed" }), body });
    }

    /// An engine event: into the timeline; a new rollout brings the deploy view up (showing it,
    /// not an earlier run).
    fn engine_event(&mut self, ev: Event) {
        // Lock and exec runs have their own places (header, exec view).
        let first = matches!(&ev, Event::PlanReady { action, .. }
            if !matches!(action, ActionKind::Exec { .. } | ActionKind::LockAcquire | ActionKind::LockRelease));
        if let Event::Finished { ok, summary, .. } = &ev {
            if self.quitting {
                self.exit_failed |= !ok;
                self.quit = true;
            }
            match (&self.timeline.action, ok) {
                (Some(ActionKind::LockAcquire), true) => self.info("acquired the deploy lock"),
                (Some(ActionKind::LockRelease), true) => self.info("released the deploy lock"),
                (Some(ActionKind::LockAcquire | ActionKind::LockRelease), _) => self.notice = Some((!ok, summary.clone())),
                _ => {}
            }
        }
        if let Event::Lock { held, .. } = &ev {
            self.fleet.lock = held.clone();
        }
        // A new run: the one it replaces goes into the session's history (exec runs have their
        // own view).
        // A deploy in parts keeps its stage from one part's run to the next.
        let stage = if matches!(ev, Event::PlanReady { .. }) { self.timeline.stage.clone() } else { None };
        if matches!(ev, Event::PlanReady { .. }) && self.timeline.action.is_some() && !self.timeline.is_exec() {
            self.history.push(std::mem::take(&mut self.timeline));
            if self.history.len() > HISTORY_CAP {
                self.history.remove(0);
                self.history_view = self.history_view.and_then(|i| i.checked_sub(1));
            }
            self.timeline.stage = stage;
        }
        self.timeline.apply(&ev, self.now);
        if first && !self.timeline.is_exec() {
            self.deploy_scroll = 0;
            self.deploy_host = None;
            self.history_view = None;
            self.show(View::Deploy);
        }
    }
}

/// Earlier runs kept per session.
const HISTORY_CAP: usize = 50;
