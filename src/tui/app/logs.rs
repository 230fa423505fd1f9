//! The log view's actions: the filter prompt, jumping between matches, follow/wrap/timestamps,
//! the time window, clearing and saving.

use super::super::action::{Action, View};
use super::super::dispatch::{Dispatcher, Request, Since};
use super::{App, FILTER_CONTEXT};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use regex::Regex;

impl App {
    /// The log actions of [`App::apply`]; any other action is not one of them and does nothing.
    pub(super) fn apply_logs(&mut self, a: Action, d: &mut dyn Dispatcher) {
        match a {
            Action::Filter => {
                self.open_view(View::Logs, d);
                // A fresh pattern: typing must not append to the old one (which stays active
                // until the first key of the new one, or after Enter on an empty prompt).
                self.log_view.filter_input = Some(String::new());
            }
            Action::NextMatch | Action::PrevMatch => self.jump_match(a == Action::NextMatch),
            Action::Wrap => self.log_view.wrap = !self.log_view.wrap,
            Action::Follow => {
                self.log_view.follow = !self.log_view.follow;
                if self.log_view.follow {
                    self.log_view.offset = 0;
                    self.log_view.match_cursor = None;
                }
            }
            Action::Timestamps => self.log_view.timestamps = !self.log_view.timestamps,
            Action::Since => {
                let i = Since::ALL.iter().position(|s| *s == self.log_view.since).unwrap_or(0);
                self.log_view.since = Since::ALL[(i + 1) % Since::ALL.len()];
                self.logs.clear();
                self.log_view.offset = 0;
                d.dispatch(Request::Logs { since: self.log_view.since });
                self.info(format!("logs since {}", self.log_view.since.label()));
            }
            Action::ClearLogs => {
                self.logs.clear();
                self.log_view.offset = 0;
            }
            Action::SaveLogs => self.save_logs(),
            _ => {}
        }
    }

    fn jump_match(&mut self, older: bool) {
        if self.log_view.filter.is_none() {
            self.info("no filter: press / first");
            return;
        }
        let rows = self.logs.filtered_rev(FILTER_CONTEXT, usize::MAX);
        let matches: Vec<usize> = rows.iter().enumerate().filter(|(_, r)| r.1).map(|(i, _)| i).collect();
        if matches.is_empty() {
            self.info("no matches");
            return;
        }
        let cur = self.log_view.match_cursor;
        let next = match (cur, older) {
            (None, _) => 0,
            (Some(c), true) => (c + 1).min(matches.len() - 1),
            (Some(c), false) => c.saturating_sub(1),
        };
        self.log_view.match_cursor = Some(next);
        // Put the match a couple of rows above the bottom so its after-context shows.
        self.log_view.offset = matches[next].saturating_sub(FILTER_CONTEXT);
        self.log_view.follow = false;
        self.info(format!("match {}/{}", next + 1, matches.len()));
    }

    /// A key while the filter prompt is open.
    pub(super) fn filter_key(&mut self, key: KeyEvent) {
        let input = self.log_view.filter_input.as_mut().expect("checked");
        match key.code {
            KeyCode::Esc => self.clear_filter(),
            KeyCode::Enter => {
                self.log_view.filter_input = None;
            }
            KeyCode::Backspace => {
                input.pop();
                self.refresh_filter();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                input.push(c);
                self.refresh_filter();
            }
            _ => {}
        }
    }

    pub(super) fn clear_filter(&mut self) {
        self.log_view.filter_input = None;
        self.log_view.filter = None;
        self.log_view.filter_error = None;
        self.log_view.match_cursor = None;
        self.log_view.offset = 0;
        self.log_view.follow = true;
    }

    fn refresh_filter(&mut self) {
        let text = self.log_view.filter_input.clone().unwrap_or_default();
        self.log_view.match_cursor = None;
        self.log_view.offset = 0;
        if text.is_empty() {
            self.log_view.filter = None;
            self.log_view.filter_error = None;
            return;
        }
        match Regex::new(&text) {
            Ok(re) => {
                self.log_view.filter = Some(re);
                self.log_view.filter_error = None;
            }
            // Keep the previous filter while the regex is incomplete.
            Err(_) => self.log_view.filter_error = Some("invalid regex".into()),
        }
    }

    /// `ctrl-s`: what the view shows (the filter's matches with context, else the scope) into
    /// kdeck's state directory, never the app's own tree.
    fn save_logs(&mut self) {
        let name = format!("kdeck-logs-{}.log", self.now.format("%Y%m%d-%H%M%S"));
        let path = self.save_dir.join(name);
        let text = match self.log_view.filter {
            Some(_) => self.logs.dump_filtered(super::FILTER_CONTEXT, true),
            None => self.logs.dump(&self.log_view.scope, true),
        };
        let n = text.lines().filter(|l| *l != "--").count();
        match std::fs::create_dir_all(&self.save_dir).and_then(|()| std::fs::write(&path, text)) {
            Ok(()) => self.info(format!("saved {n} lines to {}", path.display())),
            Err(e) => self.error(format!("cannot save {}: {e}", path.display())),
        }
    }
}
