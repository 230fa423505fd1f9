//! The dashboard's one state. Updates from the engine and keys from the operator both land
//! here; drawing reads it and never changes it.

use super::action::{action_for, palette_actions, Action, View};
use super::dispatch::{Dispatcher, ExecScope, Request, Since, Update};
use super::logbuf::{LogStore, Scope};
use super::timeline::Timeline;
use super::versions::{self, looks_like_production, TreeRow};
use crate::fleet::model::{FleetSnapshot, ResourceSnapshot};
use crate::fleet::prune::PrunePlan;
use crate::fleet::resources::{room_check, RoomCheck};
use chrono::{DateTime, Utc};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use regex::Regex;
use std::path::PathBuf;
use tui_textarea::TextArea;

/// Default log memory: 20k lines per source, 200k in total.
pub const PER_SOURCE_CAP: usize = 20_000;
pub const GLOBAL_CAP: usize = 200_000;
/// Lines of context around each filter match.
pub const FILTER_CONTEXT: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    /// The destination name the operator must type (production-like destinations).
    pub require: Option<String>,
    pub typed: String,
    pub request: Request,
    /// Deploy/redeploy/rollback: does each host have room for a second copy of its containers.
    pub room: Vec<RoomCheck>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    Palette {
        input: String,
        selected: usize,
    },
    Confirm(Confirm),
    Rollback {
        selected: usize,
    },
    LockMessage {
        input: String,
    },
    /// q while an action runs.
    Quit,
    /// Resources page of one host: gauges, containers, sparklines.
    HostPage {
        host: String,
    },
    /// What `kamal prune all` would remove; `y` runs it.
    Prune,
}

pub struct LogView {
    pub scope: Scope,
    pub follow: bool,
    pub wrap: bool,
    pub timestamps: bool,
    pub since: Since,
    /// Rows from the bottom (0 = newest at the bottom).
    pub offset: usize,
    pub filter: Option<Regex>,
    /// Some while typing a filter.
    pub filter_input: Option<String>,
    pub filter_error: Option<String>,
    /// Which match n/N last jumped to (0 = newest).
    pub match_cursor: Option<usize>,
}

impl Default for LogView {
    fn default() -> Self {
        LogView {
            scope: Scope::All,
            follow: true,
            wrap: false,
            timestamps: false,
            since: Since::Tail100,
            offset: 0,
            filter: None,
            filter_input: None,
            filter_error: None,
            match_cursor: None,
        }
    }
}

pub struct ExecState {
    pub textarea: TextArea<'static>,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    /// 0 all, 1 primary, 2 selected role, 3 selected host.
    pub scope_idx: usize,
    pub reuse: bool,
}

impl Default for ExecState {
    fn default() -> Self {
        let mut textarea = TextArea::default();
        textarea.set_placeholder_text("command, e.g. bin/rails runner 'puts 1'");
        textarea.set_cursor_line_style(ratatui::style::Style::default());
        ExecState { textarea, history: Vec::new(), history_pos: None, scope_idx: 0, reuse: false }
    }
}

/// What the render loop measured (for the benchmarks and the loop tests).
#[derive(Debug, Default, Clone)]
pub struct LoopStats {
    pub frames: u64,
    pub updates: u64,
    /// Time from a key's arrival to the end of the first frame drawn after it (last 1000).
    pub key_to_frame: Vec<std::time::Duration>,
}

pub struct App {
    pub stats: LoopStats,
    pub fleet: FleetSnapshot,
    pub fleet_loaded: bool,
    pub fleet_selected: usize,
    /// The fleet tree's accessories group is folded.
    pub accessories_collapsed: bool,
    pub logs: LogStore,
    pub log_view: LogView,
    pub timeline: Timeline,
    pub deploy_scroll: usize,
    pub audit: Option<Vec<String>>,
    pub audit_scroll: usize,
    pub exec: ExecState,
    /// The view stack; the last one is shown. Never empty.
    pub views: Vec<View>,
    pub overlay: Option<Overlay>,
    pub read_only: bool,
    /// Version a deploy would ship (from `--version` or the engine); shown in confirmations.
    pub next_version: Option<String>,
    pub now: DateTime<Utc>,
    pub notice: Option<(bool, String)>,
    pub color: bool,
    pub quit: bool,
    /// Quit was confirmed while an action ran: the abort is requested and the loop keeps going
    /// until the engine reports Finished (so the lock is released and old containers stopped).
    pub quitting: bool,
    /// q/ctrl-c presses since quitting began (1st forces the abort, 2nd leaves the loop; the
    /// caller still waits for the engine before the process ends).
    pub quit_presses: u8,
    /// The action that was running at quit failed or was aborted: exit non-zero.
    pub exit_failed: bool,
    /// Set by Request::Shell; the loop suspends the terminal for it.
    pub pending_shell: Option<(String, bool)>,
    pub save_dir: PathBuf,
    /// Latest live resources (None until the monitor's first snapshot).
    pub resources: Option<ResourceSnapshot>,
    pub prune_plans: Vec<PrunePlan>,
    /// `retain_containers` of the config (shown in the prune preview).
    pub retain_containers: usize,
    /// `-P`: deploys from the dashboard skip the build/push (said in the confirmation).
    pub skip_push: bool,
}

impl App {
    pub fn new(read_only: bool) -> Self {
        App {
            stats: LoopStats::default(),
            fleet: FleetSnapshot::default(),
            fleet_loaded: false,
            fleet_selected: 0,
            accessories_collapsed: false,
            logs: LogStore::new(PER_SOURCE_CAP, GLOBAL_CAP),
            log_view: LogView::default(),
            timeline: Timeline::default(),
            deploy_scroll: 0,
            audit: None,
            audit_scroll: 0,
            exec: ExecState::default(),
            views: vec![View::Fleet],
            overlay: None,
            read_only,
            next_version: None,
            now: Utc::now(),
            notice: None,
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            quit: false,
            quitting: false,
            quit_presses: 0,
            exit_failed: false,
            pending_shell: None,
            save_dir: PathBuf::from("."),
            resources: None,
            prune_plans: Vec::new(),
            retain_containers: 5,
            skip_push: false,
        }
    }

    pub fn view(&self) -> View {
        *self.views.last().expect("view stack is never empty")
    }

    fn show(&mut self, v: View) {
        if self.view() == v {
            return;
        }
        // A view already in the stack is brought back rather than pushed twice.
        self.views.retain(|x| *x != v || *x == View::Fleet);
        self.views.push(v);
    }

    fn back(&mut self) {
        if self.views.len() > 1 {
            self.views.pop();
        }
    }

    // ---------------------------------------------------------------- updates from the engine

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
            Update::Engine(ev) => {
                use crate::deploy::event::{ActionKind, Event};
                // Lock and exec runs have their own places (header, exec view).
                let first = matches!(&ev, Event::PlanReady { action, .. }
                    if !matches!(action, ActionKind::Exec { .. } | ActionKind::LockAcquire | ActionKind::LockRelease));
                if let Event::Finished { ok, summary, .. } = &ev {
                    if self.quitting {
                        self.exit_failed |= !ok;
                        self.quit = true;
                    }
                    match (&self.timeline.action, ok) {
                        (Some(ActionKind::LockAcquire), true) => self.notice = Some((false, "acquired the deploy lock".into())),
                        (Some(ActionKind::LockRelease), true) => self.notice = Some((false, "released the deploy lock".into())),
                        (Some(ActionKind::LockAcquire | ActionKind::LockRelease), _) => self.notice = Some((!ok, summary.clone())),
                        _ => {}
                    }
                }
                if let crate::deploy::event::Event::Lock { held, .. } = &ev {
                    self.fleet.lock = held.clone();
                }
                self.timeline.apply(&ev, self.now);
                if first && !self.timeline.is_exec() {
                    self.deploy_scroll = 0;
                    self.show(View::Deploy);
                }
            }
            Update::Log(l) => {
                let src = super::logbuf::Source { host: l.host, role: l.role, container: l.container };
                let id = self.logs.source_id(&src);
                let admitted = self.log_view.scope.admits(&src);
                self.logs.push(id, l.ts, l.stderr, l.text);
                // A paused view stays on the same lines while new ones arrive below.
                if !self.log_view.follow && admitted && self.log_view.filter.is_none() {
                    self.log_view.offset += 1;
                }
            }
            Update::Audit(lines) => {
                self.audit = Some(lines);
                self.audit_scroll = 0;
            }
            Update::Notice { error, text } => self.notice = Some((error, text)),
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
        }
    }

    // ---------------------------------------------------------------- input

    pub fn handle_event(&mut self, ev: TermEvent, d: &mut dyn Dispatcher) {
        match ev {
            TermEvent::Key(k) if k.kind != KeyEventKind::Release => self.handle_key(k, d),
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
        match &mut self.overlay {
            Some(Overlay::Palette { input, .. }) | Some(Overlay::LockMessage { input }) => Some(input),
            Some(Overlay::Confirm(c)) if c.require.is_some() => Some(&mut c.typed),
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
        if self.view() == View::Logs && self.log_view.filter_input.is_some() {
            return self.filter_key(key);
        }
        if self.view() == View::Exec {
            return self.exec_key(key, d);
        }
        if let Some(a) = action_for(self.view(), self.read_only, &key) {
            self.apply(a, d);
        }
    }

    /// Run an action (from a key or the palette).
    pub fn apply(&mut self, a: Action, d: &mut dyn Dispatcher) {
        if self.read_only && a.is_mutating() {
            self.notice = Some((true, "read-only: actions that change the servers are disabled".into()));
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
            Action::NextView | Action::PrevView => {
                let all = View::ALL;
                let i = all.iter().position(|v| *v == self.view()).unwrap_or(0);
                let n = all.len();
                let mut j = if a == Action::NextView { (i + 1) % n } else { (i + n - 1) % n };
                if self.read_only && all[j] == View::Exec {
                    j = if a == Action::NextView { (j + 1) % n } else { (j + n - 1) % n };
                }
                let v = all[j];
                self.open_view(v, d);
            }
            Action::Enter => self.enter(d),
            // Esc in Logs clears an active filter first (as the hint says); the next one goes back.
            Action::Back if self.view() == View::Logs && (self.log_view.filter.is_some() || self.log_view.filter_error.is_some()) => self.clear_filter(),
            Action::Back => self.back(),
            Action::Quit if self.quitting => {
                self.quit_presses = self.quit_presses.saturating_add(1);
                if self.quit_presses == 1 {
                    // Second abort request = forced: running steps are cut, clean-up still runs.
                    d.dispatch(Request::Abort);
                } else {
                    // Leave the screen; the caller still waits for the engine to release the lock.
                    self.exit_failed = true;
                    self.quit = true;
                }
            }
            Action::Quit => {
                if self.timeline.is_running() {
                    self.overlay = Some(Overlay::Quit);
                } else {
                    self.quit = true;
                }
            }
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
                self.notice = Some((false, format!("logs since {}", self.log_view.since.label())));
            }
            Action::ClearLogs => {
                self.logs.clear();
                self.log_view.offset = 0;
            }
            Action::SaveLogs => self.save_logs(),
            Action::Deploy | Action::Redeploy => {
                let redeploy = a == Action::Redeploy;
                self.overlay = Some(Overlay::Confirm(self.deploy_confirm(redeploy)));
            }
            Action::Rollback => {
                let choices = versions::rollback_choices(&self.fleet);
                let selected = choices.iter().position(|c| c.selectable()).unwrap_or(0);
                self.overlay = Some(Overlay::Rollback { selected });
            }
            Action::Lock => match &self.fleet.lock {
                Some(l) => {
                    self.overlay = Some(Overlay::Confirm(Confirm {
                        title: "Release the deploy lock".into(),
                        lines: vec![format!("held by {}", l.holder), format!("message: {}", l.message), format!("destination: {}", self.dest_name())],
                        require: None,
                        typed: String::new(),
                        request: Request::LockRelease,
                        room: vec![],
                    }))
                }
                None => self.overlay = Some(Overlay::LockMessage { input: String::new() }),
            },
            Action::HostResources => match self.selected_host() {
                Some(host) => self.overlay = Some(Overlay::HostPage { host }),
                None => self.notice = Some((true, "no host selected".into())),
            },
            Action::Prune => self.overlay = Some(Overlay::Prune),
            Action::Abort => {
                if self.timeline.is_running() {
                    d.dispatch(Request::Abort);
                    self.notice = Some((
                        false,
                        if self.timeline.aborting.is_some() { "abort forced".into() } else { "aborting: no new steps start (press X again to force)".into() },
                    ));
                } else {
                    self.notice = Some((false, "nothing is running".into()));
                }
            }
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

    fn open_view(&mut self, v: View, d: &mut dyn Dispatcher) {
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

    fn enter(&mut self, d: &mut dyn Dispatcher) {
        if self.view() != View::Fleet {
            return;
        }
        let rows = self.tree();
        let scope = match rows.get(self.fleet_selected) {
            Some(TreeRow::Role { role, .. }) => Scope::Role(role.clone()),
            Some(TreeRow::Host { host, .. }) => Scope::Host(host.clone()),
            Some(TreeRow::Accessories { .. }) => {
                self.accessories_collapsed = !self.accessories_collapsed;
                return;
            }
            Some(TreeRow::Accessory { name, host }) => {
                let Some(c) = versions::host(&self.fleet, host).and_then(|h| h.accessory(name)) else {
                    self.notice = Some((true, format!("accessory {name} is not booted on {host}")));
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

    fn scroll(&mut self, delta: i64) {
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
            }
            View::Audit => {
                let n = self.audit.as_ref().map_or(0, |a| a.len()) as i64;
                self.audit_scroll = (self.audit_scroll as i64 + delta).clamp(0, n.max(0)) as usize;
            }
            View::Exec => {}
        }
    }

    fn jump_match(&mut self, older: bool) {
        let Some(re) = self.log_view.filter.clone() else {
            self.notice = Some((false, "no filter: press / first".into()));
            return;
        };
        let _ = re;
        let rows = self.logs.filtered_rev(FILTER_CONTEXT, usize::MAX);
        let matches: Vec<usize> = rows.iter().enumerate().filter(|(_, r)| r.1).map(|(i, _)| i).collect();
        if matches.is_empty() {
            self.notice = Some((false, "no matches".into()));
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
        self.notice = Some((false, format!("match {}/{}", next + 1, matches.len())));
    }

    fn filter_key(&mut self, key: KeyEvent) {
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

    fn clear_filter(&mut self) {
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

    fn exec_key(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => self.back(),
            KeyCode::Tab => self.exec.scope_idx = (self.exec.scope_idx + 1) % 4,
            KeyCode::Char('r') if ctrl => self.exec.reuse = !self.exec.reuse,
            KeyCode::Char('c') if ctrl => self.apply(Action::Quit, d),
            KeyCode::Char('o') if ctrl => {
                let host = self.exec_host();
                match host {
                    Some(h) => {
                        self.pending_shell = Some((h.clone(), self.exec.reuse));
                        d.dispatch(Request::Shell { host: h, reuse: self.exec.reuse });
                    }
                    None => self.notice = Some((true, "no host to open a shell on".into())),
                }
            }
            KeyCode::Enter if !alt && !key.modifiers.contains(KeyModifiers::SHIFT) => {
                let cmd = self.exec.textarea.lines().join("\n").trim().to_string();
                if cmd.is_empty() {
                    return;
                }
                if self.timeline.is_running() {
                    self.notice = Some((true, "an action is running; wait for it to finish".into()));
                    return;
                }
                self.exec.history.push(cmd.clone());
                self.exec.history_pos = None;
                self.exec.textarea = ExecState::default().textarea;
                let scope = self.exec_scope();
                self.timeline.exec_output.clear();
                d.dispatch(Request::Exec { cmd, scope, reuse: self.exec.reuse });
            }
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

    /// The fleet tree as shown (the accessories group folded or not).
    pub fn tree(&self) -> Vec<TreeRow> {
        versions::tree_view(&self.fleet, self.accessories_collapsed)
    }

    fn selected_row(&self) -> Option<TreeRow> {
        self.tree().get(self.fleet_selected).cloned()
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

    fn overlay_key(&mut self, key: KeyEvent, d: &mut dyn Dispatcher) {
        let Some(ov) = self.overlay.take() else { return };
        let code = key.code;
        match ov {
            Overlay::Help => {
                if !matches!(code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter) {
                    self.overlay = Some(Overlay::Help);
                }
            }
            Overlay::Quit => match code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.quit_safely(d),
                _ => {}
            },
            Overlay::Palette { mut input, mut selected } => {
                let items = self.palette_items(&input);
                match code {
                    KeyCode::Esc => {}
                    KeyCode::Enter => {
                        if let Some(a) = items.get(selected) {
                            self.apply(*a, d);
                        }
                    }
                    KeyCode::Up => {
                        selected = selected.saturating_sub(1);
                        self.overlay = Some(Overlay::Palette { input, selected });
                    }
                    KeyCode::Down | KeyCode::Tab => {
                        selected = (selected + 1).min(items.len().saturating_sub(1));
                        self.overlay = Some(Overlay::Palette { input, selected });
                    }
                    KeyCode::Backspace => {
                        input.pop();
                        self.overlay = Some(Overlay::Palette { input, selected: 0 });
                    }
                    KeyCode::Char(c) => {
                        input.push(c);
                        self.overlay = Some(Overlay::Palette { input, selected: 0 });
                    }
                    _ => self.overlay = Some(Overlay::Palette { input, selected }),
                }
            }
            Overlay::Confirm(mut c) => {
                let typed_ok = c.require.as_ref().is_none_or(|r| *r == c.typed);
                match code {
                    KeyCode::Esc => self.notice = Some((false, "cancelled".into())),
                    KeyCode::Char('n') | KeyCode::Char('N') if c.require.is_none() => self.notice = Some((false, "cancelled".into())),
                    KeyCode::Enter if c.require.is_some() => {
                        if typed_ok {
                            self.confirmed(c.request, d);
                        } else {
                            c.typed.clear();
                            self.notice = Some((true, "the name does not match".into()));
                            self.overlay = Some(Overlay::Confirm(c));
                        }
                    }
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter if c.require.is_none() => self.confirmed(c.request, d),
                    KeyCode::Backspace => {
                        c.typed.pop();
                        self.overlay = Some(Overlay::Confirm(c));
                    }
                    KeyCode::Char(ch) if c.require.is_some() => {
                        c.typed.push(ch);
                        self.overlay = Some(Overlay::Confirm(c));
                    }
                    _ => self.overlay = Some(Overlay::Confirm(c)),
                }
            }
            Overlay::Rollback { mut selected } => {
                let choices = versions::rollback_choices(&self.fleet);
                match code {
                    KeyCode::Esc | KeyCode::Char('q') => {}
                    KeyCode::Char('j') | KeyCode::Down => {
                        selected = (selected + 1).min(choices.len().saturating_sub(1));
                        self.overlay = Some(Overlay::Rollback { selected });
                    }
                    KeyCode::Char('k') | KeyCode::Up => {
                        selected = selected.saturating_sub(1);
                        self.overlay = Some(Overlay::Rollback { selected });
                    }
                    KeyCode::Enter => match choices.get(selected) {
                        Some(ch) if ch.selectable() => {
                            let mut c = self.confirm_for_deploy(
                                format!("Roll back to {}", versions::short_version(&ch.version)),
                                Request::Rollback { version: ch.version.clone() },
                                &ch.version,
                            );
                            c.lines.push(format!("created {}", versions::ago(self.now, ch.created)));
                            self.overlay = Some(Overlay::Confirm(c));
                        }
                        Some(ch) => {
                            self.notice =
                                Some((true, if ch.current { "that is the current version".into() } else { format!("missing on {}", ch.missing.join(", ")) }));
                            self.overlay = Some(Overlay::Rollback { selected });
                        }
                        None => {}
                    },
                    _ => self.overlay = Some(Overlay::Rollback { selected }),
                }
            }
            Overlay::HostPage { host } => {
                if !matches!(code, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('m') | KeyCode::Enter) {
                    self.overlay = Some(Overlay::HostPage { host });
                }
            }
            Overlay::Prune => match code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    if self.timeline.is_running() {
                        self.notice = Some((true, "an action is already running".into()));
                    } else {
                        d.dispatch(Request::Prune);
                        self.notice = Some((false, "prune requested".into()));
                    }
                }
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q') => self.notice = Some((false, "cancelled".into())),
                _ => self.overlay = Some(Overlay::Prune),
            },
            Overlay::LockMessage { mut input } => match code {
                KeyCode::Esc => {}
                KeyCode::Enter if !input.trim().is_empty() => {
                    d.dispatch(Request::LockAcquire { message: input.trim().to_string() });
                    self.notice = Some((false, "acquiring the deploy lock…".into()));
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.overlay = Some(Overlay::LockMessage { input });
                }
                KeyCode::Char(c) => {
                    input.push(c);
                    self.overlay = Some(Overlay::LockMessage { input });
                }
                _ => self.overlay = Some(Overlay::LockMessage { input }),
            },
        }
    }

    fn confirmed(&mut self, req: Request, d: &mut dyn Dispatcher) {
        if self.timeline.is_running() && matches!(req, Request::Deploy | Request::Redeploy | Request::Rollback { .. }) {
            self.notice = Some((true, "an action is already running".into()));
            return;
        }
        let what = match &req {
            Request::Deploy => "deploy".to_string(),
            Request::Redeploy => "redeploy".into(),
            Request::Rollback { version } => format!("rollback to {}", versions::short_version(version)),
            Request::LockRelease => "lock release".into(),
            other => format!("{other:?}"),
        };
        d.dispatch(req);
        self.notice = Some((false, format!("{what} requested")));
    }

    pub fn palette_items(&self, input: &str) -> Vec<Action> {
        let q = input.trim().to_ascii_lowercase();
        palette_actions(self.view(), self.read_only).into_iter().filter(|a| q.is_empty() || a.name().contains(&q)).collect()
    }

    fn dest_name(&self) -> String {
        self.fleet.destination.clone().unwrap_or_else(|| "(default)".into())
    }

    fn all_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = Vec::new();
        for (_, hs) in &self.fleet.roles {
            for h in hs {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
        hosts
    }

    fn confirm_for(&self, title: String, request: Request, version: &str) -> Confirm {
        let dest = self.dest_name();
        let require = self.fleet.destination.clone().filter(|d| looks_like_production(d));
        Confirm {
            title,
            lines: vec![
                format!("service: {}", self.fleet.service),
                format!("destination: {dest}"),
                format!("version: {version}"),
                format!("hosts: {}", self.all_hosts().join(", ")),
            ],
            require,
            typed: String::new(),
            request,
            room: vec![],
        }
    }

    /// A confirmation for something that boots new containers: with the room check.
    fn confirm_for_deploy(&self, title: String, request: Request, version: &str) -> Confirm {
        let mut c = self.confirm_for(title, request, version);
        c.room = self.room_checks();
        if self.resources.is_none() {
            c.lines.push("room for a second copy: unknown (no resource sample yet)".into());
        }
        c
    }

    /// Room for a second copy of every role's container, per host (empty without resources).
    pub fn room_checks(&self) -> Vec<RoomCheck> {
        let Some(snap) = &self.resources else { return vec![] };
        let by_host: Vec<(String, Vec<String>)> = self
            .all_hosts()
            .into_iter()
            .map(|h| {
                let roles = self.fleet.roles.iter().filter(|(_, hs)| hs.contains(&h)).map(|(r, _)| r.clone()).collect();
                (h, roles)
            })
            .collect();
        room_check(snap, &by_host)
    }

    /// The host of the selected fleet row (a role row: its first host).
    pub fn selected_host(&self) -> Option<String> {
        let rows = self.tree();
        match rows.get(self.fleet_selected)? {
            TreeRow::Host { host, .. } | TreeRow::Accessory { host, .. } => Some(host.clone()),
            TreeRow::Accessories { .. } => self.fleet.accessories.first().and_then(|(_, h)| h.first().cloned()),
            TreeRow::Role { role, .. } => self.fleet.roles.iter().find(|(r, _)| r == role).and_then(|(_, h)| h.first().cloned()),
        }
    }

    fn deploy_confirm(&self, redeploy: bool) -> Confirm {
        let version = self.next_version.clone().unwrap_or_else(|| "built from git HEAD".into());
        let (title, req) = if redeploy { ("Redeploy", Request::Redeploy) } else { ("Deploy", Request::Deploy) };
        let mut c = self.confirm_for_deploy(title.into(), req, &version);
        if self.skip_push {
            c.lines.push("push: skipped (-P: the image must already be in the registry)".into());
        }
        c
    }

    fn save_logs(&mut self) {
        let name = format!("kdeck-logs-{}.log", self.now.format("%Y%m%d-%H%M%S"));
        let path = self.save_dir.join(name);
        let text = self.logs.dump(&self.log_view.scope, true);
        let n = text.lines().count();
        self.notice = Some(match std::fs::write(&path, text) {
            Ok(()) => (false, format!("saved {n} lines to {}", path.display())),
            Err(e) => (true, format!("cannot save {}: {e}", path.display())),
        });
    }
}
