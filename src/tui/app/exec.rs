//! The exec view: its command editor and history, the scope it runs on, and the shell key.

use super::super::action::Action;
use super::super::dispatch::{Dispatcher, ExecScope, Request};
use super::super::versions::TreeRow;
use super::{App, ExecState};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl App {
    /// A key in the exec view (it has its own keys: the editor takes the rest).
    pub(super) fn exec_key(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => self.back(),
            KeyCode::Tab => self.exec.scope_idx = (self.exec.scope_idx + 1) % 4,
            KeyCode::Char('r') if ctrl => self.exec.reuse = !self.exec.reuse,
            KeyCode::Char('c') if ctrl => self.apply(Action::Quit, d),
            KeyCode::Char('o') if ctrl => self.open_shell(d),
            KeyCode::Enter if !alt && !key.modifiers.contains(KeyModifiers::SHIFT) => self.run_exec(d),
            KeyCode::Enter => {
                self.exec.textarea.insert_newline();
            }
            KeyCode::Up | KeyCode::Char('p') if key.code == KeyCode::Up && self.exec.textarea.lines().len() <= 1 || ctrl && key.code == KeyCode::Char('p') => {
                self.history_step(true)
            }
            KeyCode::Down | KeyCode::Char('n')
                if key.code == KeyCode::Down && self.exec.textarea.lines().len() <= 1 || ctrl && key.code == KeyCode::Char('n') =>
            {
                self.history_step(false)
            }
            _ => {
                self.exec.textarea.input(key);
            }
        }
    }

    /// ctrl-o: a shell on the scope's host (the render loop suspends the terminal for it).
    fn open_shell(&mut self, d: &mut dyn Dispatcher) {
        match self.exec_host() {
            Some(h) => {
                self.pending_shell = Some((h.clone(), self.exec.reuse));
                d.dispatch(Request::Shell { host: h, reuse: self.exec.reuse });
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
        self.exec.textarea = ExecState::default().textarea;
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

    pub fn exec_scope(&self) -> ExecScope {
        let row = self.selected_row();
        match self.exec.scope_idx {
            1 => ExecScope::Primary,
            2 => match row {
                Some(TreeRow::Role { role, .. }) | Some(TreeRow::Host { role, .. }) => ExecScope::Role(role),
                // exec runs in the app's image: accessory rows name no role.
                Some(TreeRow::Accessories { .. }) | Some(TreeRow::Accessory { .. }) | None => ExecScope::All,
            },
            3 => match row {
                Some(TreeRow::Host { host, .. }) => ExecScope::Host(host),
                Some(TreeRow::Role { role, .. }) => self
                    .tree()
                    .into_iter()
                    .find_map(|r| match r {
                        TreeRow::Host { role: r2, host } if r2 == role => Some(ExecScope::Host(host)),
                        _ => None,
                    })
                    .unwrap_or(ExecScope::All),
                Some(TreeRow::Accessory { host, .. }) if self.fleet.roles.iter().any(|(_, hs)| hs.contains(&host)) => ExecScope::Host(host),
                Some(TreeRow::Accessories { .. }) | Some(TreeRow::Accessory { .. }) | None => ExecScope::All,
            },
            _ => ExecScope::All,
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
