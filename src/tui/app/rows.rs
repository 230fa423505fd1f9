//! Actions on one fleet row: `x` opens the menu of what the selected row offers; an entry (its
//! key in the menu, a key bound to it, or its palette name) runs on that row. Those that change
//! the servers are confirmed with the headless command they are the same as.

use super::super::action::{overlay_op, OverlayKind, OverlayOp, View};
use super::super::dispatch::{Dispatcher, ExecScope, Request};
use super::super::rows::{command_line, start_version, RowOp, RowTarget, ShellTarget};
use super::super::versions::{self, TreeRow};
use super::{App, Confirm, Overlay};
use crossterm::event::KeyCode;

impl App {
    /// What a row offers, less what `--read-only` hides.
    pub fn row_ops(&self, target: &RowTarget) -> Vec<RowOp> {
        let proxy = target.host().is_some_and(|h| self.is_proxy_host(h));
        target.ops(proxy).into_iter().filter(|o| !(self.read_only && o.is_mutating())).collect()
    }

    fn is_proxy_host(&self, host: &str) -> bool {
        if self.proxy_hosts.is_empty() {
            versions::host(&self.fleet, host).is_some_and(|h| h.proxy_running == Some(true))
        } else {
            self.proxy_hosts.iter().any(|h| h == host)
        }
    }

    /// The target of the selected fleet row.
    pub fn selected_target(&self) -> Option<RowTarget> {
        self.tree().get(self.fleet_selected).and_then(RowTarget::of)
    }

    /// `x` (the menu) or a row action's own key or palette entry.
    pub(super) fn row_action_key(&mut self, a: super::super::action::Action, d: &mut dyn Dispatcher) {
        match a {
            super::super::action::Action::Row(op) => self.row_action_on_selected(op, d),
            _ => self.open_row_actions(),
        }
    }

    /// `x`: the menu of the selected row.
    fn open_row_actions(&mut self) {
        match self.selected_target() {
            Some(target) => self.overlay = Some(Overlay::RowActions { target, selected: 0 }),
            None => self.error("select a role, host or accessory row first"),
        }
    }

    /// A row action from a key or the palette: on the fleet's selected row.
    fn row_action_on_selected(&mut self, op: RowOp, d: &mut dyn Dispatcher) {
        match self.selected_target() {
            Some(target) => self.row_action(op, target, d),
            None => self.error("select a role, host or accessory row first"),
        }
    }

    /// A key in the row-action menu: an action's key runs it, j/k and Enter pick one.
    pub(super) fn key_row_actions(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::RowActions { target, selected }) = &self.overlay else { return };
        let (target, selected) = (target.clone(), *selected);
        let ops = self.row_ops(&target);
        let pick = match overlay_op(OverlayKind::RowActions, code) {
            Some(OverlayOp::Close) => {
                self.overlay = None;
                return;
            }
            Some(OverlayOp::Down | OverlayOp::Up) => {
                let down = overlay_op(OverlayKind::RowActions, code) == Some(OverlayOp::Down);
                let next = if down { (selected + 1).min(ops.len().saturating_sub(1)) } else { selected.saturating_sub(1) };
                self.overlay = Some(Overlay::RowActions { target, selected: next });
                return;
            }
            Some(OverlayOp::Choose) => ops.get(selected).copied(),
            Some(OverlayOp::Row(op)) => Some(op),
            _ => return,
        };
        let Some(op) = pick else { return };
        self.overlay = None;
        self.row_action(op, target, d);
    }

    /// Run `op` on `target`: the views and shells at once, what changes the servers once
    /// confirmed.
    pub fn row_action(&mut self, op: RowOp, target: RowTarget, d: &mut dyn Dispatcher) {
        if self.read_only && op.is_mutating() {
            self.error("read-only: actions that change the servers are disabled");
            return;
        }
        if !self.row_ops(&target).contains(&op) {
            self.error(format!("{} is not offered on {}", op.name(), target.label()));
            return;
        }
        match (op, target) {
            (RowOp::Logs, t) => {
                let row = match t {
                    RowTarget::Role { role } => TreeRow::Role { role, hosts: 0 },
                    RowTarget::Container { role, host } => TreeRow::Host { role, host },
                    RowTarget::Accessory { name, host } => TreeRow::Accessory { name, host },
                };
                self.open_logs_of(Some(&row), d);
            }
            (RowOp::Inspect, t) => self.open_inspect(t, d),
            (RowOp::Exec, t) => {
                // The exec view, scoped to the row's role or host.
                self.exec.scope = match t {
                    RowTarget::Role { role } => ExecScope::Role(role),
                    RowTarget::Container { host, .. } | RowTarget::Accessory { host, .. } => ExecScope::Host(host),
                };
                self.open_view(View::Exec, d);
            }
            (RowOp::Shell, RowTarget::Container { role, host }) => self.open_shell_in(ShellTarget::App { host, role: Some(role), reuse: true }, d),
            (RowOp::Shell, RowTarget::Accessory { name, host }) => self.open_shell_in(ShellTarget::Accessory { host, name }, d),
            (RowOp::HostShell, RowTarget::Container { host, .. } | RowTarget::Accessory { host, .. }) => self.open_shell_in(ShellTarget::Host { host }, d),
            (RowOp::Tunnel, RowTarget::Container { role: name, host } | RowTarget::Accessory { name, host }) => d.dispatch(Request::Tunnel { name, host }),
            (op, t) if op.is_engine() => match self.row_confirm(op, t) {
                Ok(c) => self.overlay = Some(Overlay::Confirm(c)),
                Err(e) => self.error(e),
            },
            (op, t) => self.error(format!("{} is not offered on {}", op.name(), t.label())),
        }
    }

    fn open_shell_in(&mut self, target: ShellTarget, d: &mut dyn Dispatcher) {
        self.pending_shell = Some(target.clone());
        d.dispatch(Request::Shell { target });
    }

    /// The inspect overlay, waiting for the container's details.
    fn open_inspect(&mut self, target: RowTarget, d: &mut dyn Dispatcher) {
        let container = match &target {
            RowTarget::Container { role, host } => versions::host(&self.fleet, host).and_then(|h| versions::role_container(h, role)).map(|c| c.name.clone()),
            RowTarget::Accessory { name, host } => versions::host(&self.fleet, host).and_then(|h| h.accessory(name)).map(|c| c.name.clone()),
            RowTarget::Role { .. } => None,
        };
        let Some(container) = container else {
            self.error(format!("no container of {} to inspect", target.label()));
            return;
        };
        self.inspect = None;
        self.overlay = Some(Overlay::Inspect { target: target.clone(), scroll: 0 });
        d.dispatch(Request::Inspect { target, container });
    }

    /// The confirmation of a row action that changes the servers: the headless command it
    /// runs, what that does, and the service's name to type before a remove.
    pub(super) fn row_confirm(&self, op: RowOp, target: RowTarget) -> Result<Confirm, String> {
        let needs_version = matches!(op, RowOp::Start | RowOp::Restart) && !matches!(target, RowTarget::Accessory { .. });
        let version =
            if needs_version { Some(start_version(&self.fleet, &target).ok_or_else(|| format!("no container of {} to start", target.label()))?) } else { None };
        let dest = self.fleet.destination.as_deref();
        let line = command_line(op, &target, dest, self.version_flag.as_deref(), version.as_deref()).unwrap_or_default();
        let verb = match op {
            RowOp::Boot => "Boot",
            RowOp::Start => "Start",
            RowOp::Stop => "Stop",
            RowOp::Restart => "Restart",
            RowOp::Remove => "Remove",
            _ => "Reboot kamal-proxy:",
        };
        let title = match (op, &target) {
            (RowOp::ProxyReboot, t) => format!("Reboot kamal-proxy on {}", t.host().unwrap_or_default()),
            (_, t) => format!("{verb} {}", t.label()),
        };
        Ok(Confirm {
            title,
            lines: vec![
                op.effect(&target),
                format!("service: {} · destination: {}", self.fleet.service, self.dest_name()),
                "runs:".into(),
                format!("  {line}"),
            ],
            require: op.typed().then(|| self.fleet.service.clone()),
            typed: String::new(),
            request: Request::Row { op, target, version },
            room: vec![],
        })
    }
}
