//! The deploy dialog (`D`): which version (the picker: start version, registry tags, versions
//! on the hosts, recent commits), where (all hosts, a role, a host, one host first), how
//! (rolling, canary, or on one web host a canary through kamal-proxy's rollout), and the pre-flight that must pass before `y` — the lock, the config
//! and secrets read again, the registry answering with the credentials, room for a second copy.

use super::super::action::{overlay_op, OverlayKind, OverlayOp};
use super::super::dispatch::{DeployChoice, DeployMode, DeployScope, Dispatcher, Request};
use super::super::picker::{candidates, Candidate};
use super::super::versions::{self, looks_like_production, TreeRow};
use super::{App, Confirm, Overlay};
use crate::app::preflight::RegistryCheck;
use crate::fleet::traffic::canary::Thresholds;
use crossterm::event::KeyCode;

/// The canary windows `w` steps through (seconds); the first is the default, as headless.
pub const WINDOWS: [u32; 4] = [60, 120, 300, 30];

/// The rollout canary's shares of the `kamal-rollout` cookies `p` steps through (percent).
pub const PERCENTS: [u8; 4] = [10, 25, 50, 100];

#[derive(Debug, Clone, PartialEq)]
pub struct DeployDialog {
    /// The version picked (kept by value: the list grows when the registry answers).
    pub version: Option<String>,
    pub scopes: Vec<DeployScope>,
    pub scope: usize,
    pub canary: bool,
    /// The canary is kamal-proxy's rollout on the one web host ([`App::rollout_host`]).
    pub rollout: bool,
    pub window_s: u32,
    /// The rollout's share of the `kamal-rollout` cookie values.
    pub percent: u8,
}

impl DeployDialog {
    /// `rolling`, `canary`, `rollout canary (25 %)`: the mode in a line of text.
    pub fn how(&self) -> String {
        match (self.canary, self.rollout) {
            (false, _) => "rolling".into(),
            (true, false) => "canary".into(),
            (true, true) => format!("rollout canary ({} %)", self.percent),
        }
    }
}

/// One pre-flight line: passed (Some(true)), failed (Some(false)) or still being asked (None).
pub type Check = (Option<bool>, String);

impl App {
    /// `D`: the dialog, and the pre-flight asked for (config, secrets, registry, git).
    pub(super) fn open_deploy_dialog(&mut self, d: &mut dyn Dispatcher) {
        d.dispatch(Request::Preflight);
        self.preflight_pending = true;
        let host = self.selected_host().or_else(|| self.all_hosts().first().cloned());
        let mut scopes = vec![DeployScope::All];
        scopes.extend(self.fleet.roles.iter().filter(|(_, h)| !h.is_empty()).map(|(r, _)| DeployScope::Role(r.clone())));
        if let Some(h) = host {
            scopes.push(DeployScope::Host(h.clone()));
            if self.all_hosts().len() > 1 {
                scopes.push(DeployScope::HostFirst(h));
            }
        }
        // A role row selected: its scope comes first after "all hosts".
        if let Some(TreeRow::Role { role, .. }) = self.tree().get(self.fleet_selected) {
            if let Some(i) = scopes.iter().position(|s| *s == DeployScope::Role(role.clone())) {
                let s = scopes.remove(i);
                scopes.insert(1, s);
            }
        }
        self.overlay = Some(Overlay::Deploy(DeployDialog {
            version: self.next_version.clone(),
            scopes,
            scope: 0,
            canary: false,
            rollout: false,
            window_s: WINDOWS[0],
            percent: PERCENTS[0],
        }));
    }

    /// The picker's versions as the dialog shows them now.
    pub fn deploy_candidates(&self) -> Vec<Candidate> {
        candidates(&self.fleet, self.next_version.as_deref(), self.preflight.as_ref(), !self.skip_push)
    }

    pub(super) fn key_deploy(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let list = self.deploy_candidates();
        let can_rollout = self.rollout_host.is_some();
        let Some(Overlay::Deploy(dlg)) = &mut self.overlay else { return };
        let at = list.iter().position(|c| Some(&c.version) == dlg.version.as_ref()).unwrap_or(0);
        match overlay_op(OverlayKind::Deploy, code) {
            Some(OverlayOp::Cancel) => {
                self.overlay = None;
                self.info("cancelled");
            }
            Some(OverlayOp::Down) => dlg.version = list.get((at + 1).min(list.len().saturating_sub(1))).map(|c| c.version.clone()),
            Some(OverlayOp::Up) => dlg.version = list.get(at.saturating_sub(1)).map(|c| c.version.clone()),
            Some(OverlayOp::Scope) => dlg.scope = (dlg.scope + 1) % dlg.scopes.len().max(1),
            // rolling → canary → (one web host) rollout canary → rolling
            Some(OverlayOp::Mode) => {
                (dlg.canary, dlg.rollout) = match (dlg.canary, dlg.rollout) {
                    (false, _) => (true, false),
                    (true, false) if can_rollout => (true, true),
                    _ => (false, false),
                }
            }
            Some(OverlayOp::Percent) if dlg.rollout => {
                let i = PERCENTS.iter().position(|p| *p == dlg.percent).unwrap_or(0);
                dlg.percent = PERCENTS[(i + 1) % PERCENTS.len()];
            }
            Some(OverlayOp::Window) => {
                let i = WINDOWS.iter().position(|w| *w == dlg.window_s).unwrap_or(0);
                dlg.window_s = WINDOWS[(i + 1) % WINDOWS.len()];
            }
            Some(OverlayOp::Confirm) => {
                let dlg = dlg.clone();
                self.deploy_from_dialog(&dlg, &list, d);
            }
            _ => {}
        }
    }

    /// `y`: refused with the reason while a pre-flight check fails, else sent (production-like
    /// destinations: after typing their name).
    fn deploy_from_dialog(&mut self, dlg: &DeployDialog, list: &[Candidate], d: &mut dyn Dispatcher) {
        // Nothing picked yet (or no longer listed): the first, as drawn.
        let Some(c) = list.iter().find(|c| Some(&c.version) == dlg.version.as_ref()).or(list.first()) else {
            return self.error("no version to deploy");
        };
        if let Some(why) = self.deploy_blocker(dlg, c) {
            return self.error(why);
        }
        let scope = dlg.scopes.get(dlg.scope).cloned().unwrap_or(DeployScope::All);
        let (window_s, thresholds) = (dlg.window_s, Thresholds::default());
        let mode = match (dlg.canary, dlg.rollout) {
            (false, _) => DeployMode::Rolling,
            (true, false) => DeployMode::Canary { window_s, thresholds },
            (true, true) => DeployMode::Rollout { window_s, thresholds, percent: dlg.percent },
        };
        let req = Request::Deploy(DeployChoice { version: c.version.clone(), scope, mode });
        self.overlay = None;
        match self.fleet.destination.clone().filter(|x| looks_like_production(x)) {
            Some(dest) => {
                let lines = vec![
                    format!("version: {}", self.version_change(&c.version)),
                    format!("scope: {} · {}", dlg.scopes.get(dlg.scope).map(DeployScope::label).unwrap_or_default(), dlg.how()),
                ];
                let request = req;
                self.overlay =
                    Some(Overlay::Confirm(Confirm { title: "Deploy".into(), lines, require: Some(dest), typed: String::new(), request, room: vec![] }));
            }
            None => self.confirmed(req, d),
        }
    }

    /// Why `y` would be refused now (None: it would not).
    fn deploy_blocker(&self, dlg: &DeployDialog, c: &Candidate) -> Option<String> {
        if let Some(l) = &self.fleet.lock {
            return Some(format!("the deploy lock is held by {} — press L to release it first", l.holder));
        }
        if self.preflight_pending {
            return Some("the pre-flight is still running (config, secrets, registry) — a moment".into());
        }
        let r = self.preflight.as_ref()?;
        if let Some(e) = &r.load_error {
            return Some(format!("{} — fix it and press D again", first_line(e)));
        }
        if let Some(p) = r.secret_problems.first() {
            return Some(format!("{p} — fix the secrets and press D again (they are read when the dialog opens)"));
        }
        if let RegistryCheck::Failed(e) = &r.registry_check {
            return Some(format!("{} — fix it and press D again", first_line(e)));
        }
        if let Some(why) = c.unusable() {
            return Some(format!("{}: {why}", versions::short_version(&c.version)));
        }
        let scope = dlg.scopes.get(dlg.scope)?;
        if dlg.rollout && *scope != DeployScope::All {
            return Some("a rollout canary is followed by the deploy of every host: scope all hosts (s)".into());
        }
        if dlg.canary && matches!(scope, DeployScope::Host(_) | DeployScope::Role(_)) {
            return Some("a canary needs the rest of the fleet: scope all hosts, or one host first (s)".into());
        }
        None
    }

    /// `v1 → v2` (or just `v2` when nothing runs yet or it is the same).
    pub fn version_change(&self, to: &str) -> String {
        match versions::current_version(&self.fleet) {
            Some(now) if now != to => format!("{} → {}", versions::short_version(&now), versions::short_version(to)),
            _ => versions::short_version(to),
        }
    }

    /// The dialog's pre-flight lines, in the order they are checked at `y`.
    pub fn deploy_checks(&self) -> Vec<Check> {
        let mut out: Vec<Check> = vec![match &self.fleet.lock {
            Some(l) => (Some(false), format!("the deploy lock is held by {} ({}): release it first (L)", l.holder, l.message)),
            None => (Some(true), "the deploy lock is free".into()),
        }];
        let asking = |what: &str| (None, format!("{what}…"));
        match (&self.preflight, self.preflight_pending) {
            (_, true) | (None, _) => {
                out.push(asking("reading the config and secrets again"));
                out.push(asking("asking the registry"));
            }
            (Some(r), false) => {
                let at = versions::ago(self.now, Some(r.at));
                match (&r.load_error, r.secret_problems.first()) {
                    (Some(e), _) => out.push((Some(false), format!("config: {}", first_line(e)))),
                    (None, Some(_)) => out.extend(r.secret_problems.iter().map(|p| (Some(false), p.clone()))),
                    (None, None) => out.push((Some(true), format!("config and secrets read again {at}"))),
                }
                if r.load_error.is_none() {
                    out.push(match &r.registry_check {
                        RegistryCheck::Ok => (Some(true), format!("registry {} answers and takes the credentials ({} tags)", r.registry, r.tags.len())),
                        RegistryCheck::Failed(e) => (Some(false), first_line(e).to_string()),
                    });
                }
            }
        }
        out
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s)
}
