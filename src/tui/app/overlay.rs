//! Keys while an overlay is open: one handler per overlay kind, reading what a key does from
//! the overlay's table in `action.rs` (which also makes its status bar). Each edits its overlay
//! in place and closes it (`self.overlay = None`) before acting on what it asked, so that an
//! action may open the next overlay.

use super::super::action::{overlay_op, OverlayKind, OverlayOp};
use super::super::dispatch::{Dispatcher, Request};
use super::super::versions;
use super::{App, Overlay, RunEntry};
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
            Some(Overlay::Deploy(_)) => self.key_deploy(code, d),
            Some(Overlay::Rollback { .. }) => self.key_rollback(code),
            Some(Overlay::HostPage { .. }) => self.key_host_page(code),
            Some(Overlay::Prune) => self.key_prune(code, d),
            Some(Overlay::LockMessage { .. }) => self.key_lock_message(code, d),
            Some(Overlay::Failure { .. }) => self.key_failure(code),
            Some(Overlay::History { .. }) => self.key_history(code),
            Some(Overlay::ExecScope { .. }) => self.key_exec_scope(code),
            Some(Overlay::RowActions { .. }) => self.key_row_actions(code, d),
            Some(Overlay::Inspect { .. }) => self.key_inspect(code),
        }
    }

    fn key_help(&mut self, code: KeyCode) {
        if overlay_op(OverlayKind::Help, code) == Some(OverlayOp::Close) {
            self.overlay = None;
        }
    }

    /// The quit question: y quits safely, any other key stays.
    fn key_quit(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        self.overlay = None;
        if overlay_op(OverlayKind::Quit, code) == Some(OverlayOp::Confirm) {
            self.quit_safely(d);
        }
    }

    fn key_palette(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::Palette { input, selected }) = &self.overlay else { return };
        let items = self.palette_items(input);
        let chosen = items.get(*selected).copied();
        let Some(Overlay::Palette { input, selected }) = &mut self.overlay else { return };
        match (overlay_op(OverlayKind::Palette, code), code) {
            (Some(OverlayOp::Close), _) => self.overlay = None,
            (Some(OverlayOp::Choose), _) => {
                self.overlay = None;
                if let Some(a) = chosen {
                    self.apply(a, d);
                }
            }
            (Some(OverlayOp::Up), _) => *selected = selected.saturating_sub(1),
            (Some(OverlayOp::Down), _) => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
            (_, KeyCode::Backspace) => {
                input.pop();
                *selected = 0;
            }
            (_, KeyCode::Char(c)) => {
                input.push(c);
                *selected = 0;
            }
            _ => {}
        }
    }

    /// A confirmation: y/Enter (or the typed destination name) confirms, n/Esc cancels.
    fn key_confirm(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::Confirm(c)) = &mut self.overlay else { return };
        let typed = c.require.is_some();
        let kind = if typed { OverlayKind::ConfirmTyped } else { OverlayKind::Confirm };
        let typed_ok = c.require.as_ref().is_none_or(|r| *r == c.typed);
        match (overlay_op(kind, code), code) {
            (Some(OverlayOp::Cancel), _) => self.cancelled(),
            (Some(OverlayOp::Confirm), _) if !typed_ok => {
                c.typed.clear();
                self.error("the name does not match");
            }
            (Some(OverlayOp::Confirm), _) => self.confirm_overlay(d),
            (_, KeyCode::Backspace) => {
                c.typed.pop();
            }
            (_, KeyCode::Char(ch)) if typed => c.typed.push(ch),
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
        match overlay_op(OverlayKind::Rollback, code) {
            Some(OverlayOp::Close) => self.overlay = None,
            Some(OverlayOp::Down) => *selected = (*selected + 1).min(choices.len().saturating_sub(1)),
            Some(OverlayOp::Up) => *selected = selected.saturating_sub(1),
            Some(OverlayOp::Choose) => match choices.get(*selected) {
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

    /// The whole failure: j/k scroll, Esc/q/Enter close.
    fn key_failure(&mut self, code: KeyCode) {
        let Some(Overlay::Failure { scroll }) = &mut self.overlay else { return };
        match overlay_op(OverlayKind::Failure, code) {
            Some(OverlayOp::Close) => self.overlay = None,
            Some(OverlayOp::Down) => *scroll = scroll.saturating_add(1),
            Some(OverlayOp::Up) => *scroll = scroll.saturating_sub(1),
            _ => {}
        }
    }

    /// The run history: j/k move, Enter shows the run in the deploy view, Esc closes.
    fn key_history(&mut self, code: KeyCode) {
        let entries = self.run_entries();
        let Some(Overlay::History { selected }) = &mut self.overlay else { return };
        match overlay_op(OverlayKind::History, code) {
            Some(OverlayOp::Close) => self.overlay = None,
            Some(OverlayOp::Down) => *selected = (*selected + 1).min(entries.len().saturating_sub(1)),
            Some(OverlayOp::Up) => *selected = selected.saturating_sub(1),
            Some(OverlayOp::Choose) => {
                let pick = entries.get(*selected).cloned();
                self.overlay = None;
                match pick {
                    Some(RunEntry::Audit(run)) => self.show_audit_run(&run),
                    other => {
                        self.history_view = match other {
                            Some(RunEntry::Earlier(i)) => Some(i),
                            _ => None,
                        };
                        self.deploy_scroll = 0;
                        self.deploy_host = None;
                    }
                }
            }
            _ => {}
        }
    }

    /// A run from the audit logs: the audit view, scrolled to its lines, which are marked.
    fn show_audit_run(&mut self, run: &crate::kamal::audit_runs::AuditRun) {
        let n = self.audit.as_ref().map_or(0, Vec::len);
        let last = run.lines.iter().max().copied().unwrap_or(0);
        self.audit_scroll = n.saturating_sub(last + 1);
        self.audit_marked = run.lines.clone();
        self.show(super::super::action::View::Audit);
    }

    /// The inspect overlay: j/k scroll, Esc/q/i close.
    fn key_inspect(&mut self, code: KeyCode) {
        let Some(Overlay::Inspect { scroll, .. }) = &mut self.overlay else { return };
        match overlay_op(OverlayKind::Inspect, code) {
            Some(OverlayOp::Close) => {
                self.overlay = None;
                self.inspect = None;
            }
            Some(OverlayOp::Down) => *scroll = scroll.saturating_add(1),
            Some(OverlayOp::Up) => *scroll = scroll.saturating_sub(1),
            _ => {}
        }
    }

    fn key_host_page(&mut self, code: KeyCode) {
        if overlay_op(OverlayKind::HostPage, code) == Some(OverlayOp::Close) {
            self.overlay = None;
        }
    }

    /// The prune preview: y runs `kamal prune all`, n/Esc/q cancel.
    fn key_prune(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        match overlay_op(OverlayKind::Prune, code) {
            Some(OverlayOp::Confirm) => {
                self.overlay = None;
                if self.timeline.is_running() {
                    self.error("an action is already running");
                } else {
                    d.dispatch(Request::Prune);
                    self.info("prune requested");
                }
            }
            Some(OverlayOp::Cancel) => self.cancelled(),
            _ => {}
        }
    }

    /// The lock message prompt: Enter acquires the lock with it.
    fn key_lock_message(&mut self, code: KeyCode, d: &mut dyn Dispatcher) {
        let Some(Overlay::LockMessage { input }) = &mut self.overlay else { return };
        match (overlay_op(OverlayKind::LockMessage, code), code) {
            (Some(OverlayOp::Cancel), _) => self.overlay = None,
            (Some(OverlayOp::Confirm), _) if !input.trim().is_empty() => {
                let message = input.trim().to_string();
                self.overlay = None;
                d.dispatch(Request::LockAcquire { message });
                self.info("acquiring the deploy lock…");
            }
            (_, KeyCode::Backspace) => {
                input.pop();
            }
            (_, KeyCode::Char(c)) => input.push(c),
            _ => {}
        }
    }
}
