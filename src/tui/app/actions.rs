//! An [`Action`] (from a key or the palette) applied to the state: moving, switching views,
//! quitting, and opening the overlays of the actions that change the servers.

use super::super::action::{Action, View};
use super::super::dispatch::{Dispatcher, ManageOp, Request};
use super::super::logbuf::Scope;
use super::super::versions::{self, TreeRow};
use super::{App, Overlay};

impl App {
    /// Run an action (from a key or the palette).
    pub fn apply(&mut self, a: Action, d: &mut dyn Dispatcher) {
        if self.read_only && a.is_mutating() {
            self.error("read-only: actions that change the servers are disabled");
            return;
        }
        let page = 10;
        match a {
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-page),
            Action::PageDown => self.scroll(page),
            Action::Top => self.scroll(i64::MIN / 2),
            Action::Bottom => self.scroll(i64::MAX / 2),
            Action::NextView | Action::PrevView => self.cycle_view(a == Action::NextView, d),
            Action::Enter => self.enter(d),
            // Esc in Logs clears an active filter first (as the hint says); the next one goes back.
            Action::Back if self.view() == View::Logs && (self.log_view.filter.is_some() || self.log_view.filter_error.is_some()) => self.clear_filter(),
            Action::Back if self.view() == View::Fleet && !self.fleet_filter.text.is_empty() => self.clear_fleet_filter(),
            Action::Back => self.back(),
            Action::FleetFilter => {
                self.open_view(View::Fleet, d);
                self.open_fleet_filter();
            }
            Action::Sort => {
                self.open_view(View::Fleet, d);
                self.cycle_fleet_sort();
            }
            Action::Quit => self.quit_key(d),
            Action::Help => self.overlay = Some(Overlay::Help),
            Action::Palette => self.overlay = Some(Overlay::Palette { input: String::new(), selected: 0 }),
            Action::ShowFleet => self.views.truncate(1),
            Action::ShowLogs => {
                if self.view() != View::Logs {
                    self.log_view.scope = Scope::All;
                }
                self.open_view(View::Logs, d)
            }
            Action::ShowDeploy => self.open_view(View::Deploy, d),
            Action::ShowExec => self.open_view(View::Exec, d),
            Action::ShowAudit => self.open_view(View::Audit, d),
            Action::ShowTraffic => self.open_view(View::Traffic, d),
            Action::Filter
            | Action::NextMatch
            | Action::PrevMatch
            | Action::Wrap
            | Action::Follow
            | Action::Timestamps
            | Action::Since
            | Action::ClearLogs
            | Action::SaveLogs => self.apply_logs(a, d),
            Action::Deploy => self.open_deploy_dialog(d),
            Action::Redeploy => self.overlay = Some(Overlay::Confirm(self.redeploy_confirm())),
            Action::Rollback => {
                // The picker names the audit line that booted each version.
                if self.audit.is_none() {
                    d.dispatch(Request::LoadAudit);
                }
                let choices = versions::rollback_choices(&self.fleet);
                let selected = choices.iter().position(|c| c.selectable()).unwrap_or(0);
                self.overlay = Some(Overlay::Rollback { selected });
            }
            Action::Lock => match self.lock_release_confirm() {
                Some(c) => self.overlay = Some(Overlay::Confirm(c)),
                None => self.overlay = Some(Overlay::LockMessage { input: String::new() }),
            },
            Action::HostResources => match self.selected_host() {
                Some(host) => self.overlay = Some(Overlay::HostPage { host }),
                None => self.error("no host selected"),
            },
            Action::Prune => self.overlay = Some(Overlay::Prune),
            Action::Maintenance => {
                let op = if self.in_maintenance() { ManageOp::Live } else { ManageOp::Maintenance };
                self.overlay = Some(Overlay::Confirm(self.manage_confirm(op)));
            }
            Action::Manage(op) => self.overlay = Some(Overlay::Confirm(self.manage_confirm(op))),
            Action::Tunnel => match self.tree().get(self.fleet_selected) {
                Some(TreeRow::Host { role, host }) => d.dispatch(Request::Tunnel { name: role.clone(), host: host.clone() }),
                Some(TreeRow::Accessory { name, host }) => d.dispatch(Request::Tunnel { name: name.clone(), host: host.clone() }),
                _ => self.error("tunnel: select a host row (its role's container) or an accessory row"),
            },
            Action::TrustHostKey => match self.selected_host().and_then(|h| self.trust_confirm(&h)) {
                Some(c) => self.overlay = Some(Overlay::Confirm(c)),
                None => self.error("the selected host's key is not the problem (T trusts an unknown host key)"),
            },
            Action::History => {
                self.show(View::Deploy);
                // The hosts' audit logs, read again: the deploys anyone ran are listed too.
                d.dispatch(Request::LoadAudit);
                // The run on screen is preselected.
                let on_screen = self.history_view.map_or(super::RunEntry::Latest, super::RunEntry::Earlier);
                let selected = self.run_entries().iter().position(|e| *e == on_screen).unwrap_or(0);
                self.overlay = Some(Overlay::History { selected });
            }
            Action::Abort => self.abort(d),
            Action::NextTab | Action::PrevTab => self.switch_tab = Some(if a == Action::NextTab { 1 } else { -1 }),
            Action::RowActions | Action::Row(_) => self.row_action_key(a, d),
        }
    }

    /// The next (or previous) view of the tab order; Exec is skipped when read-only.
    fn cycle_view(&mut self, next: bool, d: &mut dyn Dispatcher) {
        let all = View::ALL;
        let i = all.iter().position(|v| *v == self.view()).unwrap_or(0);
        let n = all.len();
        let mut j = if next { (i + 1) % n } else { (i + n - 1) % n };
        if self.read_only && all[j] == View::Exec {
            j = if next { (j + 1) % n } else { (j + n - 1) % n };
        }
        let v = all[j];
        self.open_view(v, d);
    }

    /// q: quit, or ask first while an action runs; once quitting, each press escalates.
    fn quit_key(&mut self, d: &mut dyn Dispatcher) {
        if self.quitting {
            self.quit_presses = self.quit_presses.saturating_add(1);
            if self.quit_presses == 1 {
                // Second abort request = forced: running steps are cut, clean-up still runs.
                d.dispatch(Request::Abort);
            } else {
                // Leave the screen; the caller still waits for the engine to release the lock.
                self.exit_failed = true;
                self.quit = true;
            }
        } else if self.timeline.is_running() {
            self.overlay = Some(Overlay::Quit);
        } else {
            self.quit = true;
        }
    }

    /// X: stop the running action safely; a second X forces it.
    fn abort(&mut self, d: &mut dyn Dispatcher) {
        if self.timeline.is_running() {
            d.dispatch(Request::Abort);
            self.info(if self.timeline.aborting.is_some() { "abort forced" } else { "aborting: no new steps start (press X again to force)" });
        } else {
            self.info("nothing is running");
        }
    }

    /// Quit; if an action runs, abort it safely first (no new steps start, running ones finish,
    /// the lock is released) and stay until the engine reports Finished.
    pub fn quit_safely(&mut self, d: &mut dyn Dispatcher) {
        if !self.timeline.is_running() {
            self.quit = true;
            return;
        }
        // An abort already requested with X must not be escalated to a forced one here.
        if self.timeline.aborting.is_none() {
            d.dispatch(Request::Abort);
        }
        self.quitting = true;
    }

    pub(super) fn open_view(&mut self, v: View, d: &mut dyn Dispatcher) {
        if v == View::Audit && self.audit.is_none() {
            d.dispatch(Request::LoadAudit);
        }
        if v == View::Exec && self.read_only {
            return;
        }
        if v == View::Fleet {
            self.views.truncate(1);
        } else {
            self.show(v);
        }
    }

    /// Enter on a fleet row: that role's, host's or accessory's logs (the group row folds).
    fn enter(&mut self, d: &mut dyn Dispatcher) {
        if self.view() == View::Deploy {
            if self.deploy_timeline().rows.iter().any(|r| matches!(r.state, super::super::timeline::StepState::Failed { .. })) {
                self.overlay = Some(Overlay::Failure { scroll: 0 });
            } else {
                self.info("nothing has failed");
            }
            return;
        }
        if self.view() != View::Fleet {
            return;
        }
        let row = self.tree().get(self.fleet_selected).cloned();
        self.open_logs_of(row.as_ref(), d);
    }

    /// The logs of a fleet row: its role's, host's or accessory's (the group row folds).
    pub(super) fn open_logs_of(&mut self, row: Option<&TreeRow>, d: &mut dyn Dispatcher) {
        let scope = match row {
            Some(TreeRow::Role { role, .. }) => Scope::Role(role.clone()),
            Some(TreeRow::Host { host, .. }) => Scope::Host(host.clone()),
            Some(TreeRow::Accessories { .. }) => {
                self.accessories_collapsed = !self.accessories_collapsed;
                return;
            }
            Some(TreeRow::Accessory { name, host }) => {
                let Some(c) = versions::host(&self.fleet, host).and_then(|h| h.accessory(name)) else {
                    self.error(format!("accessory {name} is not booted on {host}"));
                    return;
                };
                let (host, container) = (host.clone(), c.name.clone());
                d.dispatch(Request::ContainerLogs { host: host.clone(), container: container.clone() });
                Scope::HostContainer { host, container }
            }
            None => Scope::All,
        };
        self.log_view.scope = scope;
        self.log_view.offset = 0;
        self.log_view.follow = true;
        self.open_view(View::Logs, d);
    }

    pub(super) fn scroll(&mut self, delta: i64) {
        match self.view() {
            View::Fleet => {
                let n = self.tree().len() as i64;
                self.fleet_selected = (self.fleet_selected as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
            }
            View::Logs => {
                // Up (negative) goes back in time = larger offset from the bottom.
                let max = self.logs.len() as i64;
                let off = (self.log_view.offset as i64 - delta).clamp(0, max.max(0));
                self.log_view.offset = off as usize;
                self.log_view.follow = off == 0;
            }
            View::Deploy => {
                self.deploy_scroll = (self.deploy_scroll as i64 + delta).clamp(0, 100_000) as usize;
                // The compact view moves from the host it shows, not from the top.
                let hosts = self.deploy_timeline().host_order();
                let from = self.deploy_host.unwrap_or_else(|| self.deploy_timeline().auto_host(&hosts));
                self.deploy_host = Some((from as i64 + delta).clamp(0, hosts.len().saturating_sub(1) as i64) as usize);
            }
            View::Audit => {
                let n = self.audit.as_ref().map_or(0, |a| a.len()) as i64;
                self.audit_scroll = (self.audit_scroll as i64 + delta).clamp(0, n.max(0)) as usize;
            }
            View::Traffic => self.traffic_scroll = (self.traffic_scroll as i64 + delta).clamp(0, 10_000) as usize,
            View::Exec => {}
        }
    }
}
