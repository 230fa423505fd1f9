//! The exec view: its command editor and history, the scope it runs on (picked from the hosts
//! and roles), and the shell key.

use super::super::action::{exec_op, overlay_op, Action, ExecOp, OverlayKind, OverlayOp};
use super::super::dispatch::{Dispatcher, ExecScope, Request, ShellTarget};
use super::{App, ExecState, Overlay};
use crossterm::event::{KeyCode, KeyEvent};

impl App {
    /// A key in the exec view: its table in `action.rs` first; the prompt takes the rest.
    pub(super) fn exec_key(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        let single_line = self.exec.textarea.lines().len() <= 1;
        match exec_op(&key) {
            Some(ExecOp::Back) => self.back(),
            Some(ExecOp::Scope) => {
                let selected = self.exec_scope_choices().iter().position(|c| *c == self.exec.scope).unwrap_or(0);
                self.overlay = Some(Overlay::ExecScope { selected });
            }
            Some(ExecOp::Reuse) => self.exec.reuse = !self.exec.reuse,
            Some(ExecOp::Quit) => self.apply(Action::Quit, d),
            Some(ExecOp::Shell) => self.open_shell(d),
            Some(ExecOp::Run) => self.run_exec(d),
            Some(ExecOp::NewLine) => self.exec.textarea.insert_newline(),
            // The arrows move between lines of a multi-line command.
            Some(ExecOp::HistoryBack) if single_line || key.code != KeyCode::Up => self.history_step(true),
            Some(ExecOp::HistoryForward) if single_line || key.code != KeyCode::Down => self.history_step(false),
            _ => {
                self.exec.textarea.input(key);
            }
        }
    }

    /// What Tab offers: every host, the primary host, each role, each host.
    pub fn exec_scope_choices(&self) -> Vec<ExecScope> {
        let mut v = vec![ExecScope::All, ExecScope::Primary];
        v.extend(self.fleet.roles.iter().map(|(r, _)| ExecScope::Role(r.clone())));
        v.extend(self.all_hosts().into_iter().map(ExecScope::Host));
        v
    }

    /// The scope picker: j/k move, Enter picks.
    pub(super) fn key_exec_scope(&mut self, code: KeyCode) {
        let n = self.exec_scope_choices().len();
        let Some(Overlay::ExecScope { selected }) = &mut self.overlay else { return };
        match overlay_op(OverlayKind::ExecScope, code) {
            Some(OverlayOp::Close) => self.overlay = None,
            Some(OverlayOp::Down) => *selected = (*selected + 1).min(n.saturating_sub(1)),
            Some(OverlayOp::Up) => *selected = selected.saturating_sub(1),
            Some(OverlayOp::Choose) => {
                let i = *selected;
                self.overlay = None;
                if let Some(c) = self.exec_scope_choices().get(i) {
                    self.exec.scope = c.clone();
                }
            }
            _ => {}
        }
    }

    /// ctrl-o: a shell on the scope's host (the render loop suspends the terminal for it).
    fn open_shell(&mut self, d: &mut dyn Dispatcher) {
        match self.exec_host() {
            Some(h) => {
                let target = ShellTarget::App { host: h, role: None, reuse: self.exec.reuse };
                self.pending_shell = Some(target.clone());
                d.dispatch(Request::Shell { target });
            }
            None => self.error("no host to open a shell on"),
        }
    }

    /// Enter: run the editor's command on the scope, into the history.
    fn run_exec(&mut self, d: &mut dyn Dispatcher) {
        let cmd = self.exec.textarea.lines().join("\n").trim().to_string();
        if cmd.is_empty() {
            return;
        }
        if self.timeline.is_running() {
            self.error("an action is running; wait for it to finish");
            return;
        }
        self.exec.history.push(cmd.clone());
        self.exec.history_pos = None;
        // The command stays in the prompt, selected: Enter runs it again, typing replaces it.
        self.exec.textarea.select_all();
        let scope = self.exec_scope();
        self.timeline.exec_output.clear();
        d.dispatch(Request::Exec { cmd, scope, reuse: self.exec.reuse });
    }

    fn history_step(&mut self, back: bool) {
        let n = self.exec.history.len();
        if n == 0 {
            return;
        }
        let pos = match (self.exec.history_pos, back) {
            (None, true) => Some(n - 1),
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p + 1 < n => Some(p + 1),
            (Some(_), false) => None,
        };
        self.exec.history_pos = pos;
        let text = pos.map(|p| self.exec.history[p].clone()).unwrap_or_default();
        let mut ta = ExecState::default().textarea;
        ta.insert_str(text);
        self.exec.textarea = ta;
    }

    /// Where the next command runs (a host or role that left the fleet: every host).
    pub fn exec_scope(&self) -> ExecScope {
        if self.exec_scope_choices().contains(&self.exec.scope) {
            self.exec.scope.clone()
        } else {
            ExecScope::All
        }
    }

    fn exec_host(&self) -> Option<String> {
        match self.exec_scope() {
            ExecScope::Host(h) => Some(h),
            _ => {
                let primary = &self.fleet.primary_role;
                self.fleet.roles.iter().find(|(r, _)| r == primary).and_then(|(_, h)| h.first().cloned())
            }
        }
    }
}
