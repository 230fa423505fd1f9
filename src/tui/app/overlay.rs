//! Keys while an overlay is open: one handler per overlay kind. Each edits its overlay in place
//! and closes it (`self.overlay = None`) before acting on what it asked, so that an action may
//! open the next overlay.

use super::super::dispatch::{Dispatcher, Request};
use super::super::versions;
use super::{App, Overlay};
use crossterm::event::{KeyCode, KeyEvent};

impl App {
    pub(super) fn overlay_key(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        let code = key.code;
        match &self.overlay {
            None => {}
            Some(Overlay::Help) => self.key_help(code),
            Some(Overlay::Quit) => self.key_quit(code, d),
            Some(Overlay::Palette { .. }) => self.key_palette(code, d),
            Some(Overlay::Confirm(_)) => self.key_confirm(code, d),
            Some(Overlay::Rollback { .. }) => self.key_rollback(code),
            Some(Overlay::HostPage { .. }) => self.key_host_page(code),
            Some(Overlay::Prune) => self.key_prune(code, d),
            Some(Overlay::LockMessage { .. }) => self.key_lock_message(code, d),
        }
    }

    fn key_help(&mut self, code: KeyCode) {
        if matches!(code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter) {
            self.overlay = None;
        }
    }

    /// The quit question: y quits safely, any other key stays.
    fn key_quit(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        self.overlay = None;
        if matches!(code, KeyCode::Char('y') | KeyCode::Char('Y')) {
            self.quit_safely(d);
        }
    }

    fn key_palette(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::Palette { input, selected }) = &self.overlay else { return };
        let items = self.palette_items(input);
        let chosen = items.get(*selected).copied();
        let Some(Overlay::Palette { input, selected }) = &mut self.overlay else { return };
        match code {
            KeyCode::Esc => self.overlay = None,
            KeyCode::Enter => {
                self.overlay = None;
                if let Some(a) = chosen {
                    self.apply(a, d);
                }
            }
            KeyCode::Up => *selected = selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
            KeyCode::Backspace => {
                input.pop();
                *selected = 0;
            }
            KeyCode::Char(c) => {
                input.push(c);
                *selected = 0;
            }
            _ => {}
        }
    }

    /// A confirmation: y/Enter (or the typed destination name) confirms, n/Esc cancels.
    fn key_confirm(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::Confirm(c)) = &mut self.overlay else { return };
        let typed_ok = c.require.as_ref().is_none_or(|r| *r == c.typed);
        match code {
            KeyCode::Esc => self.cancelled(),
            KeyCode::Char('n') | KeyCode::Char('N') if c.require.is_none() => self.cancelled(),
            KeyCode::Enter if c.require.is_some() && !typed_ok => {
                c.typed.clear();
                self.error("the name does not match");
            }
            KeyCode::Enter if c.require.is_some() => self.confirm_overlay(d),
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter if c.require.is_none() => self.confirm_overlay(d),
            KeyCode::Backspace => {
                c.typed.pop();
            }
            KeyCode::Char(ch) if c.require.is_some() => c.typed.push(ch),
            _ => {}
        }
    }

    /// Close the confirmation and send what it asked.
    fn confirm_overlay(&mut self, d: &mut dyn Dispatcher) {
        if let Some(Overlay::Confirm(c)) = self.overlay.take() {
            self.confirmed(c.request, d);
        }
    }

    fn cancelled(&mut self) {
        self.overlay = None;
        self.info("cancelled");
    }

    /// The rollback picker: j/k move, Enter asks to confirm the chosen version.
    fn key_rollback(&mut self, code: KeyCode) {
        let Some(Overlay::Rollback { selected }) = &mut self.overlay else { return };
        let choices = versions::rollback_choices(&self.fleet);
        match code {
            KeyCode::Esc | KeyCode::Char('q') => self.overlay = None,
            KeyCode::Char('j') | KeyCode::Down => *selected = (*selected + 1).min(choices.len().saturating_sub(1)),
            KeyCode::Char('k') | KeyCode::Up => *selected = selected.saturating_sub(1),
            KeyCode::Enter => match choices.get(*selected) {
                Some(ch) if ch.selectable() => {
                    let mut c = self.confirm_for_deploy(
                        format!("Roll back to {}", versions::short_version(&ch.version)),
                        Request::Rollback { version: ch.version.clone() },
                        &ch.version,
                    );
                    c.lines.push(format!("created {}", versions::ago(self.now, ch.created)));
                    self.overlay = Some(Overlay::Confirm(c));
                }
                Some(ch) => self.error(if ch.current { "that is the current version".into() } else { format!("missing on {}", ch.missing.join(", ")) }),
                None => self.overlay = None,
            },
            _ => {}
        }
    }

    fn key_host_page(&mut self, code: KeyCode) {
        if matches!(code, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('m') | KeyCode::Enter) {
            self.overlay = None;
        }
    }

    /// The prune preview: y runs `kamal prune all`, n/Esc/q cancel.
    fn key_prune(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        match code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                self.overlay = None;
                if self.timeline.is_running() {
                    self.error("an action is already running");
                } else {
                    d.dispatch(Request::Prune);
                    self.info("prune requested");
                }
            }
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q') => self.cancelled(),
            _ => {}
        }
    }

    /// The lock message prompt: Enter acquires the lock with it.
    fn key_lock_message(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::LockMessage { input }) = &mut self.overlay else { return };
        match code {
            KeyCode::Esc => self.overlay = None,
            KeyCode::Enter if !input.trim().is_empty() => {
                let message = input.trim().to_string();
                self.overlay = None;
                d.dispatch(Request::LockAcquire { message });
                self.info("acquiring the deploy lock…");
            }
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char(c) => input.push(c),
            _ => {}
        }
    }
}
