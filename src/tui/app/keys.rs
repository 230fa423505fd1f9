//! Terminal events: a key goes to the open overlay, a filter prompt, the exec editor or the
//! view's key map, in that order; a paste goes to whichever text input is active.

use super::super::action::{view_key, View};
use super::super::dispatch::{Dispatcher, Request};
use super::{App, Overlay};
use crossterm::event::{Event as TermEvent, KeyEvent, KeyEventKind};

impl App {
    pub fn handle_event(&mut self, ev: TermEvent, d: &mut dyn Dispatcher) {
        // The operator is here: a host shown down is dialled again now, not at the end of its
        // reconnect backoff.
        if matches!(ev, TermEvent::Key(_) | TermEvent::Mouse(_) | TermEvent::Paste(_)) && self.has_host_to_probe() {
            d.dispatch(Request::Probe);
        }
        match ev {
            TermEvent::Key(k) if k.kind != KeyEventKind::Release => self.handle_key(k, d),
            TermEvent::FocusGained => self.focused = Some(true),
            TermEvent::FocusLost => self.focused = Some(false),
            TermEvent::Mouse(m) => {
                self.handle_mouse(m, d);
                self.sync_filter();
            }
            TermEvent::Paste(s) => {
                if self.view() == View::Exec && self.overlay.is_none() {
                    self.exec.textarea.insert_str(s);
                } else if let Some(input) = self.text_input_mut() {
                    input.push_str(&s.replace('\n', " "));
                }
            }
            _ => {}
        }
    }

    fn text_input_mut(&mut self) -> Option<&mut String> {
        let fleet_typing = self.view() == View::Fleet && self.fleet_filter.typing;
        match &mut self.overlay {
            Some(Overlay::Palette { input, .. }) | Some(Overlay::LockMessage { input }) => Some(input),
            Some(Overlay::Confirm(c)) if c.require.is_some() => Some(&mut c.typed),
            None if fleet_typing => Some(&mut self.fleet_filter.text),
            None if self.log_view.filter_input.is_some() => self.log_view.filter_input.as_mut(),
            _ => None,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        self.handle_key_inner(key, d);
        self.sync_filter();
    }

    /// Keep the log store's filter index in step with the view's filter and scope.
    pub fn sync_filter(&mut self) {
        let lv = &self.log_view;
        self.logs.set_filter(lv.filter.as_ref().map(|r| (r, &lv.scope)));
    }

    fn handle_key_inner(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        self.notice = None;
        if self.overlay.is_some() {
            return self.overlay_key(key, d);
        }
        // alt-1-6 switch views everywhere, also while typing (where the digits are text).
        if let Some(v) = view_key(&key) {
            return self.open_view(v, d);
        }
        if self.view() == View::Logs && self.log_view.filter_input.is_some() {
            return self.filter_key(key);
        }
        if self.view() == View::Fleet && self.fleet_filter.typing {
            return self.fleet_filter_key(key);
        }
        if self.view() == View::Exec {
            return self.exec_key(key, d);
        }
        if let Some(a) = self.keymap.action_for(self.view(), self.read_only, &key) {
            self.apply(a, d);
        }
    }
}
