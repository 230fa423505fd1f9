//! The dashboard's one state. Updates from the engine and keys from the operator both land
//! here; drawing reads it and never changes it.
//!
//! The state and its small queries live here; the handling is split by where input comes from:
//! `update` (the engine and the watchers), `keys` (terminal events), `actions` (an [`Action`]
//! from a key or the palette), `overlay` (keys while an overlay is open), `logs` (the log view's
//! filter, matches and saving), `exec` (the exec view's editor and scope) and `confirm`
//! (building and answering confirmations).

mod actions;
mod confirm;
mod deploy_dialog;
mod exec;
mod fleet_view;
mod keys;
mod logs;
mod mouse;
mod overlay;
mod rows;
mod runs;
mod update;

pub use deploy_dialog::{Check, DeployDialog, WINDOWS};
pub use fleet_view::{FleetFilter, FleetSort};
pub use mouse::Hits;
pub use runs::RunEntry;

use super::action::{Action, OverlayKind, View};
use super::dispatch::{Request, Since};
use super::logbuf::{LogStore, Scope};
use super::rows::{InspectView, RowTarget, ShellTarget};
use super::timeline::Timeline;
use super::versions::TreeRow;
use crate::fleet::model::{FleetSnapshot, ResourceSnapshot};
use crate::fleet::prune::PrunePlan;
use crate::fleet::resources::RoomCheck;
use chrono::{DateTime, Utc};
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
    /// `D`: the version picker, scope, mode and pre-flight.
    Deploy(DeployDialog),
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
    /// The last action's failures whole: every error line, health, the container's logs.
    Failure {
        scroll: u16,
    },
    /// The runs of this session (newest first, the live one on top), to look at one.
    History {
        selected: usize,
    },
    /// Tab in the exec view: where commands run.
    ExecScope {
        selected: usize,
    },
    /// `x`: the actions the row offers (`selected`: the highlighted entry).
    RowActions {
        target: RowTarget,
        selected: usize,
    },
    /// A container's inspect (in [`App::inspect`] once read).
    Inspect {
        target: RowTarget,
        scroll: u16,
    },
}

impl Overlay {
    /// Which key table the overlay reads.
    pub fn kind(&self) -> OverlayKind {
        match self {
            Overlay::Help => OverlayKind::Help,
            Overlay::Palette { .. } => OverlayKind::Palette,
            Overlay::Confirm(c) if c.require.is_some() => OverlayKind::ConfirmTyped,
            Overlay::Confirm(_) => OverlayKind::Confirm,
            Overlay::Deploy(_) => OverlayKind::Deploy,
            Overlay::Rollback { .. } => OverlayKind::Rollback,
            Overlay::LockMessage { .. } => OverlayKind::LockMessage,
            Overlay::Quit => OverlayKind::Quit,
            Overlay::HostPage { .. } => OverlayKind::HostPage,
            Overlay::Prune => OverlayKind::Prune,
            Overlay::Failure { .. } => OverlayKind::Failure,
            Overlay::History { .. } => OverlayKind::History,
            Overlay::ExecScope { .. } => OverlayKind::ExecScope,
            Overlay::RowActions { .. } => OverlayKind::RowActions,
            Overlay::Inspect { .. } => OverlayKind::Inspect,
        }
    }
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
    /// Where commands run (Tab picks it).
    pub scope: super::dispatch::ExecScope,
    pub reuse: bool,
}

impl Default for ExecState {
    fn default() -> Self {
        let mut textarea = TextArea::default();
        textarea.set_placeholder_text("command, e.g. bin/rails runner 'puts 1'");
        textarea.set_cursor_line_style(ratatui::style::Style::default());
        ExecState { textarea, history: Vec::new(), history_pos: None, scope: super::dispatch::ExecScope::All, reuse: false }
    }
}

/// What the render loop measured (for the benchmarks and the loop tests).
#[derive(Debug, Default, Clone)]
pub struct LoopStats {
    pub frames: u64,
    pub updates: u64,
    /// Time from a key's arrival to the end of the first frame drawn after it (last 1000).
    pub key_to_frame: Vec<std::time::Duration>,
    /// Time each frame took to draw: building it from the state (last 1000).
    pub draw: Vec<std::time::Duration>,
    /// The same plus the diff and the write to the terminal (last 1000).
    pub frame: Vec<std::time::Duration>,
}

impl LoopStats {
    const KEEP: usize = 1000;

    pub fn record_key(&mut self, d: std::time::Duration) {
        keep_last(&mut self.key_to_frame, d, Self::KEEP);
    }

    pub fn record_draw(&mut self, render: std::time::Duration, whole: std::time::Duration) {
        keep_last(&mut self.draw, render, Self::KEEP);
        keep_last(&mut self.frame, whole, Self::KEEP);
    }

    /// One line in the log file when the dashboard ends (read by `benches/scale.rs`).
    pub fn log_summary(&self) {
        let ms = |v: &[std::time::Duration], q: f64| percentile(v, q).as_secs_f64() * 1000.0;
        tracing::info!(
            frames = self.frames,
            updates = self.updates,
            keys = self.key_to_frame.len(),
            key_to_frame_p50_ms = format!("{:.2}", ms(&self.key_to_frame, 0.5)),
            key_to_frame_p99_ms = format!("{:.2}", ms(&self.key_to_frame, 0.99)),
            draw_p50_ms = format!("{:.3}", ms(&self.draw, 0.5)),
            draw_p99_ms = format!("{:.3}", ms(&self.draw, 0.99)),
            frame_p99_ms = format!("{:.3}", ms(&self.frame, 0.99)),
            "render loop stats"
        );
    }
}

fn keep_last(v: &mut Vec<std::time::Duration>, d: std::time::Duration, keep: usize) {
    if v.len() >= keep {
        v.remove(0);
    }
    v.push(d);
}

/// The `q` quantile (0..=1) of `v`, zero when empty.
fn percentile(v: &[std::time::Duration], q: f64) -> std::time::Duration {
    let mut s = v.to_vec();
    s.sort();
    s.get(((s.len() as f64 - 1.0) * q).round().max(0.0) as usize).copied().unwrap_or_default()
}

pub struct App {
    pub stats: LoopStats,
    pub fleet: FleetSnapshot,
    pub fleet_loaded: bool,
    pub fleet_selected: usize,
    /// The fleet tree's accessories group is folded.
    pub accessories_collapsed: bool,
    /// `/` on the fleet: only the rows matching every word.
    pub fleet_filter: FleetFilter,
    /// The prompt was just opened: the first key replaces the old filter.
    fleet_filter_fresh: bool,
    /// `s` on the fleet: each role's hosts in this order.
    pub fleet_sort: FleetSort,
    pub logs: LogStore,
    pub log_view: LogView,
    pub timeline: Timeline,
    /// Why a deploy would fail before it starts (a secret the roles' env needs that cannot be
    /// read), known when the dashboard loaded the config: the dialog says so and refuses.
    pub secret_problems: Vec<String>,
    /// The one host behind kamal-proxy, when the app has one (from the config): the deploy
    /// dialog then offers a rollout canary there.
    pub rollout_host: Option<String>,
    /// The deploy dialog's pre-flight: the last answer, and whether a new one is awaited.
    pub preflight: Option<crate::app::preflight::Report>,
    pub preflight_pending: bool,
    /// Earlier runs of this session, oldest first (a later action no longer erases a deploy).
    pub history: Vec<Timeline>,
    /// The earlier run the deploy view shows instead of the latest (an index into `history`).
    pub history_view: Option<usize>,
    pub deploy_scroll: usize,
    /// The host picked with j/k in the compact timeline (None: the one it picks itself).
    pub deploy_host: Option<usize>,
    pub audit: Option<Vec<String>>,
    pub audit_scroll: usize,
    /// The audit lines of a run picked in `h` (indices into `audit`), shown marked.
    pub audit_marked: Vec<usize>,
    /// Lines scrolled down in the Traffic view.
    pub traffic_scroll: usize,
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
    pub pending_shell: Option<ShellTarget>,
    /// `]`/`[`: the next/previous destination tab (+1/-1), taken by the deck above the app.
    pub switch_tab: Option<i8>,
    /// The container the inspect overlay shows (None while it is read).
    pub inspect: Option<InspectView>,
    /// Hosts where kamal-proxy serves the app (a role with `proxy:`): their rows offer
    /// `proxy reboot`. Empty: the hosts where kamal-proxy is seen running.
    pub proxy_hosts: Vec<String>,
    /// The dashboard's `--version` (what a row's `app boot` boots, else `latest`).
    pub version_flag: Option<String>,
    /// When an ended action rings (the config's `notify`; off unless the dashboard sets it).
    pub notify: super::notify::Notify,
    /// What the terminal last said of its focus (None: it never said).
    pub focused: Option<bool>,
    /// Keys the config file rebinds (on top of the tables in `action.rs`).
    pub keymap: super::keymap::Keymap,
    /// The config file's colours.
    pub palette: super::theme::Palette,
    /// Mouse capture on (the config's `mouse`; off lets the terminal select text).
    pub mouse: bool,
    /// Notifications for the render loop to write to the terminal.
    pub alerts: Vec<super::notify::Alert>,
    /// Where the last frame drew the tabs and the fleet rows (for the mouse; set by `draw`).
    pub hits: std::cell::Cell<Hits>,
    pub save_dir: PathBuf,
    /// The notice on screen and since when (see [`App::expire_notice`]).
    pub notice_seen: Option<(String, DateTime<Utc>)>,
    /// Latest live resources (None until the monitor's first snapshot).
    pub resources: Option<ResourceSnapshot>,
    pub prune_plans: Vec<PrunePlan>,
    /// Live traffic through kamal-proxy (`None` until the first figures arrive).
    pub traffic: Option<crate::fleet::traffic::TrafficSnapshot>,
    /// `retain_containers` of the config (shown in the prune preview).
    pub retain_containers: usize,
    /// `-P`: deploys from the dashboard skip the build/push (said in the confirmation).
    pub skip_push: bool,
}

impl App {
    /// At a clock tick (every 500 ms): does something on screen move with the clock? A running
    /// action's elapsed times do at every tick; the fleet's up-times (whole seconds) once a
    /// second, at the tick in the first half of each second.
    pub fn clock_moves(&self) -> bool {
        use chrono::Timelike;
        self.timeline.is_running() || (self.fleet_loaded && self.now.nanosecond() < 500_000_000)
    }
}

impl App {
    pub fn new(read_only: bool) -> Self {
        App {
            stats: LoopStats::default(),
            fleet: FleetSnapshot::default(),
            fleet_loaded: false,
            fleet_selected: 0,
            accessories_collapsed: false,
            fleet_filter: FleetFilter::default(),
            fleet_filter_fresh: false,
            fleet_sort: FleetSort::default(),
            logs: LogStore::new(PER_SOURCE_CAP, GLOBAL_CAP),
            log_view: LogView::default(),
            timeline: Timeline::default(),
            history: Vec::new(),
            secret_problems: Vec::new(),
            rollout_host: None,
            preflight: None,
            preflight_pending: false,
            history_view: None,
            deploy_scroll: 0,
            deploy_host: None,
            audit: None,
            audit_scroll: 0,
            audit_marked: Vec::new(),
            traffic_scroll: 0,
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
            switch_tab: None,
            inspect: None,
            proxy_hosts: Vec::new(),
            version_flag: None,
            hits: std::cell::Cell::new(Hits::default()),
            notify: super::notify::Notify::Off,
            focused: None,
            alerts: Vec::new(),
            keymap: Default::default(),
            palette: Default::default(),
            mouse: true,
            notice_seen: None,
            // ~/.local/state/kdeck/logs (XDG), not the app's directory (its git tree).
            save_dir: dirs::state_dir().or_else(|| dirs::home_dir().map(|h| h.join(".local/state"))).unwrap_or_else(std::env::temp_dir).join("kdeck/logs"),
            resources: None,
            traffic: None,
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

    /// The host of the selected fleet row (a role row: its first host).
    pub fn selected_host(&self) -> Option<String> {
        let rows = self.tree();
        match rows.get(self.fleet_selected)? {
            TreeRow::Host { host, .. } | TreeRow::Accessory { host, .. } => Some(host.clone()),
            TreeRow::Accessories { .. } => self.fleet.accessories.first().and_then(|(_, h)| h.first().cloned()),
            TreeRow::Role { role, .. } => self.fleet.roles.iter().find(|(r, _)| r == role).and_then(|(_, h)| h.first().cloned()),
        }
    }

    pub fn palette_items(&self, input: &str) -> Vec<Action> {
        let q = input.trim().to_ascii_lowercase();
        super::action::palette_actions(self.view(), self.read_only).into_iter().filter(|a| q.is_empty() || a.name().contains(&q)).collect()
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

    /// A notice in the status line.
    /// The run the deploy view shows: an earlier one picked with `h`, else the latest.
    pub fn deploy_timeline(&self) -> &Timeline {
        self.history_view.and_then(|i| self.history.get(i)).unwrap_or(&self.timeline)
    }

    /// A notice gives the status bar back to the keys after a while (info 6 s, errors 20 s; the
    /// deploy view and the failure pane keep what failed). True when it was cleared.
    pub fn expire_notice(&mut self) -> bool {
        let Some((err, text)) = &self.notice else {
            self.notice_seen = None;
            return false;
        };
        match &self.notice_seen {
            Some((seen, at)) if seen == text => {
                let keep = chrono::Duration::seconds(if *err { 20 } else { 6 });
                if self.now - *at > keep {
                    self.notice = None;
                    self.notice_seen = None;
                    return true;
                }
                false
            }
            _ => {
                self.notice_seen = Some((text.clone(), self.now));
                false
            }
        }
    }

    /// The update channel closed: nothing more can arrive, so a pending safe quit has nothing
    /// left to wait for.
    pub fn engine_gone(&mut self) {
        if self.quitting {
            self.exit_failed = true;
            self.quit = true;
        }
        self.notice = Some((true, "the engine stopped; press q to quit".into()));
    }

    /// How this app's screen ended.
    pub fn outcome(&self) -> super::term::Outcome {
        super::term::Outcome { failed: self.exit_failed, quit_during_action: self.quitting }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.notice = Some((false, text.into()));
    }

    /// An error notice in the status line.
    fn error(&mut self, text: impl Into<String>) {
        self.notice = Some((true, text.into()));
    }
}
