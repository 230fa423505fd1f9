//! Keys → actions. One table per view drives key handling, the status bar, the `?` help
//! overlay and the `:` palette, so they cannot disagree.

use super::dispatch::ManageOp;
use super::rows::RowOp;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Internal actions (what a key means in the current view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextView,
    PrevView,
    Enter,
    Back,
    Quit,
    Help,
    Palette,
    ShowFleet,
    ShowLogs,
    ShowDeploy,
    ShowExec,
    ShowAudit,
    ShowTraffic,
    Filter,
    NextMatch,
    PrevMatch,
    Wrap,
    Follow,
    Timestamps,
    Since,
    ClearLogs,
    SaveLogs,
    Deploy,
    Redeploy,
    Rollback,
    Lock,
    Abort,
    HostResources,
    Prune,
    /// `M`: maintenance mode on, or (in maintenance) live again.
    Maintenance,
    /// `h` in Deploy: the runs of this session, to look at an earlier one.
    History,
    /// `T` on a host whose key is unknown: trust it (confirmed).
    TrustHostKey,
    /// `o` on a host or accessory row: a local port forwarded to its container.
    Tunnel,
    /// `/` on the fleet: only the host and accessory rows matching the words typed.
    FleetFilter,
    /// `s` on the fleet: the next order of each role's hosts.
    Sort,
    /// `]`/`[`: the next/previous destination tab.
    NextTab,
    PrevTab,
    /// A management command from the palette.
    Manage(ManageOp),
    /// `x` on a fleet row: the menu of what can be done to it.
    RowActions,
    /// One action on the selected fleet row (from the menu, a key or the palette).
    Row(RowOp),
}

impl Action {
    /// Actions that change the servers; hidden with `--read-only`.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Action::Deploy
                | Action::Redeploy
                | Action::Rollback
                | Action::Lock
                | Action::Abort
                | Action::ShowExec
                | Action::Prune
                | Action::Maintenance
                | Action::Manage(_)
        ) || matches!(self, Action::Row(op) if op.is_mutating())
    }

    /// Name in the `:` palette.
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page-up",
            Action::PageDown => "page-down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextView => "next-view",
            Action::PrevView => "previous-view",
            Action::Enter => "open",
            Action::Back => "back",
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Palette => "palette",
            Action::ShowFleet => "fleet",
            Action::ShowLogs => "logs",
            Action::ShowDeploy => "timeline",
            Action::ShowExec => "exec",
            Action::ShowAudit => "audit",
            Action::ShowTraffic => "traffic",
            Action::Filter => "filter",
            Action::NextMatch => "next-match",
            Action::PrevMatch => "previous-match",
            Action::Wrap => "wrap",
            Action::Follow => "follow",
            Action::Timestamps => "timestamps",
            Action::Since => "since",
            Action::ClearLogs => "clear-logs",
            Action::SaveLogs => "save-logs",
            Action::Deploy => "deploy",
            Action::Redeploy => "redeploy",
            Action::Rollback => "rollback",
            Action::Lock => "lock",
            Action::Abort => "abort",
            Action::HostResources => "host-resources",
            Action::Prune => "prune",
            Action::Maintenance => "maintenance",
            Action::History => "run-history",
            Action::TrustHostKey => "trust-host-key",
            Action::Tunnel => "tunnel",
            Action::FleetFilter => "filter-hosts",
            Action::Sort => "sort-hosts",
            Action::NextTab => "next-destination",
            Action::PrevTab => "previous-destination",
            Action::Manage(op) => op.name(),
            Action::RowActions => "row-actions",
            Action::Row(op) => op.name(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Fleet,
    Logs,
    Deploy,
    Exec,
    Audit,
    Traffic,
}

impl View {
    pub const ALL: [View; 6] = [View::Fleet, View::Logs, View::Deploy, View::Exec, View::Audit, View::Traffic];
    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Logs => "Logs",
            View::Deploy => "Deploy",
            View::Exec => "Exec",
            View::Audit => "Audit",
            View::Traffic => "Traffic",
        }
    }
}

pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    pub label: &'static str,
    pub desc: &'static str,
    pub action: Action,
    /// Shown in the status bar (the rest only in `?`).
    pub bar: bool,
    /// Listed in `?` (false for keys folded into another entry, e.g. `k` in `j/k`).
    pub help: bool,
}

const N: KeyModifiers = KeyModifiers::NONE;
const S: KeyModifiers = KeyModifiers::SHIFT;
const C: KeyModifiers = KeyModifiers::CONTROL;

macro_rules! h {
    ($label:expr, $desc:expr, $action:expr, [$($k:expr),+]) => {
        Binding { keys: &[$($k),+], label: $label, desc: $desc, action: $action, bar: false, help: false }
    };
}

macro_rules! b {
    ($label:expr, $desc:expr, $action:expr, $bar:expr, [$($k:expr),+]) => {
        Binding { keys: &[$($k),+], label: $label, desc: $desc, action: $action, bar: $bar, help: true }
    };
}

const MOVE: &[Binding] = &[
    b!("j/k", "move down / up", Action::Down, false, [(KeyCode::Char('j'), N), (KeyCode::Down, N)]),
    h!("k", "move up", Action::Up, [(KeyCode::Char('k'), N), (KeyCode::Up, N)]),
    b!("g/G", "top / bottom", Action::Top, false, [(KeyCode::Char('g'), N), (KeyCode::Home, N)]),
    h!("G", "bottom", Action::Bottom, [(KeyCode::Char('G'), S), (KeyCode::Char('G'), N), (KeyCode::End, N)]),
    b!("PgUp/PgDn", "page up / down", Action::PageUp, false, [(KeyCode::PageUp, N), (KeyCode::Char('u'), C)]),
    h!("PgDn", "page down", Action::PageDown, [(KeyCode::PageDown, N), (KeyCode::Char('d'), C)]),
];

const GLOBAL: &[Binding] = &[
    b!("Tab/S-Tab", "next / previous view", Action::NextView, false, [(KeyCode::Tab, N)]),
    h!("S-Tab", "previous view", Action::PrevView, [(KeyCode::BackTab, S), (KeyCode::BackTab, N)]),
    b!("1-6", "views (alt-1-6 in text)", Action::ShowFleet, false, [(KeyCode::Char('1'), N)]),
    h!("2", "logs view", Action::ShowLogs, [(KeyCode::Char('2'), N)]),
    h!("3", "deploy timeline", Action::ShowDeploy, [(KeyCode::Char('3'), N)]),
    h!("4", "exec", Action::ShowExec, [(KeyCode::Char('4'), N)]),
    h!("5", "audit log", Action::ShowAudit, [(KeyCode::Char('5'), N)]),
    h!("6", "traffic through kamal-proxy", Action::ShowTraffic, [(KeyCode::Char('6'), N)]),
    b!("Esc", "back", Action::Back, false, [(KeyCode::Esc, N)]),
    b!("]/[", "next / prev destination", Action::NextTab, false, [(KeyCode::Char(']'), N)]),
    h!("[", "previous destination tab", Action::PrevTab, [(KeyCode::Char('['), N)]),
    b!("D", "deploy", Action::Deploy, true, [(KeyCode::Char('D'), S), (KeyCode::Char('D'), N)]),
    b!("R", "redeploy", Action::Redeploy, false, [(KeyCode::Char('R'), S), (KeyCode::Char('R'), N)]),
    b!("B", "rollback", Action::Rollback, true, [(KeyCode::Char('B'), S), (KeyCode::Char('B'), N)]),
    b!("L", "lock / unlock", Action::Lock, false, [(KeyCode::Char('L'), S), (KeyCode::Char('L'), N)]),
    b!("P", "prune old versions", Action::Prune, false, [(KeyCode::Char('P'), S), (KeyCode::Char('P'), N)]),
    b!("M", "maintenance / live", Action::Maintenance, false, [(KeyCode::Char('M'), S), (KeyCode::Char('M'), N)]),
    b!("a", "audit log", Action::ShowAudit, false, [(KeyCode::Char('a'), N)]),
    b!(":", "command palette", Action::Palette, false, [(KeyCode::Char(':'), N), (KeyCode::Char(':'), S)]),
    b!("?", "help", Action::Help, true, [(KeyCode::Char('?'), N), (KeyCode::Char('?'), S)]),
    b!("q", "quit", Action::Quit, true, [(KeyCode::Char('q'), N), (KeyCode::Char('c'), C)]),
];

const FLEET: &[Binding] = &[
    b!("Enter", "logs of role/host", Action::Enter, true, [(KeyCode::Enter, N)]),
    b!("x", "actions on the row", Action::RowActions, true, [(KeyCode::Char('x'), N)]),
    b!("i", "inspect its container", Action::Row(RowOp::Inspect), false, [(KeyCode::Char('i'), N)]),
    b!("/", "filter hosts", Action::FleetFilter, false, [(KeyCode::Char('/'), N)]),
    b!("s", "sort hosts by…", Action::Sort, false, [(KeyCode::Char('s'), N)]),
    b!("l", "logs (all hosts)", Action::ShowLogs, true, [(KeyCode::Char('l'), N)]),
    b!("e", "exec", Action::ShowExec, true, [(KeyCode::Char('e'), N)]),
    b!("d", "deploy timeline", Action::ShowDeploy, false, [(KeyCode::Char('d'), N)]),
    b!("m", "resources", Action::HostResources, true, [(KeyCode::Char('m'), N)]),
    b!("t", "traffic", Action::ShowTraffic, false, [(KeyCode::Char('t'), N)]),
    b!("o", "tunnel to its container", Action::Tunnel, false, [(KeyCode::Char('o'), N)]),
    b!("T", "trust host key", Action::TrustHostKey, false, [(KeyCode::Char('T'), S), (KeyCode::Char('T'), N)]),
];

const LOGS: &[Binding] = &[
    b!("/", "filter (regex)", Action::Filter, true, [(KeyCode::Char('/'), N)]),
    b!("n/N", "next / previous match", Action::NextMatch, true, [(KeyCode::Char('n'), N)]),
    h!("N", "previous match", Action::PrevMatch, [(KeyCode::Char('N'), S), (KeyCode::Char('N'), N)]),
    b!("f", "follow / pause", Action::Follow, true, [(KeyCode::Char('f'), N)]),
    b!("w", "wrap", Action::Wrap, true, [(KeyCode::Char('w'), N)]),
    b!("t", "timestamps", Action::Timestamps, true, [(KeyCode::Char('t'), N)]),
    b!("s", "since preset", Action::Since, false, [(KeyCode::Char('s'), N)]),
    b!("c", "clear", Action::ClearLogs, false, [(KeyCode::Char('c'), N)]),
    b!("ctrl-s", "save to file", Action::SaveLogs, false, [(KeyCode::Char('s'), C)]),
    b!("e", "exec", Action::ShowExec, false, [(KeyCode::Char('e'), N)]),
];

const DEPLOY: &[Binding] = &[
    b!("Enter", "the whole failure", Action::Enter, false, [(KeyCode::Enter, N)]),
    b!("X", "abort (twice: force)", Action::Abort, true, [(KeyCode::Char('X'), S), (KeyCode::Char('X'), N)]),
    b!("l", "logs", Action::ShowLogs, true, [(KeyCode::Char('l'), N)]),
    b!("h", "runs", Action::History, true, [(KeyCode::Char('h'), N)]),
    b!("e", "exec", Action::ShowExec, false, [(KeyCode::Char('e'), N)]),
];

const AUDIT: &[Binding] =
    &[b!("l", "logs", Action::ShowLogs, false, [(KeyCode::Char('l'), N)]), b!("e", "exec", Action::ShowExec, false, [(KeyCode::Char('e'), N)])];

const TRAFFIC: &[Binding] =
    &[b!("l", "logs", Action::ShowLogs, true, [(KeyCode::Char('l'), N)]), b!("d", "deploy timeline", Action::ShowDeploy, true, [(KeyCode::Char('d'), N)])];

/// alt-1 … alt-6: the views, also while typing (in the exec prompt, a filter), where the plain
/// digits are text.
pub fn view_key(key: &KeyEvent) -> Option<View> {
    match (key.code, key.modifiers) {
        (KeyCode::Char(c @ '1'..='6'), KeyModifiers::ALT) => View::ALL.get(c as usize - '1' as usize).copied(),
        _ => None,
    }
}

// ---------------------------------------------------------------- the exec view

/// What a key does in the exec view; every other key is text for its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOp {
    Run,
    NewLine,
    /// The scope picker: all hosts, the primary, a role, a host.
    Scope,
    Reuse,
    Shell,
    HistoryBack,
    HistoryForward,
    Back,
    Quit,
    /// Only documents alt-1-6 (handled before any view's keys, see [`view_key`]).
    Views,
}

pub struct ExecBinding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    pub label: &'static str,
    pub desc: &'static str,
    pub op: ExecOp,
    /// Shown in the status bar (all are listed in `?`, except keys folded into another entry).
    pub bar: bool,
    pub help: bool,
}

macro_rules! x {
    ($label:expr, $desc:expr, $op:expr, $bar:expr, $help:expr, [$($k:expr),*]) => {
        ExecBinding { keys: &[$($k),*], label: $label, desc: $desc, op: $op, bar: $bar, help: $help }
    };
}

const A: KeyModifiers = KeyModifiers::ALT;
const EXEC: &[ExecBinding] = &[
    x!("Enter", "run", ExecOp::Run, true, true, [(KeyCode::Enter, N)]),
    x!("Tab", "where to run", ExecOp::Scope, true, true, [(KeyCode::Tab, N)]),
    x!("ctrl-r", "--reuse", ExecOp::Reuse, true, true, [(KeyCode::Char('r'), C)]),
    x!("ctrl-o", "shell on host", ExecOp::Shell, true, true, [(KeyCode::Char('o'), C)]),
    x!("alt-Enter", "new line", ExecOp::NewLine, false, true, [(KeyCode::Enter, A), (KeyCode::Enter, S)]),
    x!("↑/↓ ctrl-p/n", "history", ExecOp::HistoryBack, false, true, [(KeyCode::Up, N), (KeyCode::Char('p'), C)]),
    x!("↓", "history", ExecOp::HistoryForward, false, false, [(KeyCode::Down, N), (KeyCode::Char('n'), C)]),
    x!("alt-1-6", "views (digits are text here)", ExecOp::Views, false, true, []),
    x!("Esc", "back", ExecOp::Back, true, true, [(KeyCode::Esc, N)]),
    x!("ctrl-c", "quit", ExecOp::Quit, false, true, [(KeyCode::Char('c'), C)]),
];

/// The exec view's keys: they drive its handler, its status bar and its `?` entries.
pub fn exec_bindings() -> &'static [ExecBinding] {
    EXEC
}

/// What `key` does in the exec view (`None`: text for the prompt).
pub fn exec_op(key: &KeyEvent) -> Option<ExecOp> {
    EXEC.iter().find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == key.modifiers)).map(|b| b.op)
}

/// The servers page (every Kamal app on the hosts, read-only): the deck reads these.
const SERVERS: &[Binding] = &[
    b!("Enter", "open the app's tab", Action::Enter, true, [(KeyCode::Enter, N)]),
    b!("j/k", "move down / up", Action::Down, false, [(KeyCode::Char('j'), N), (KeyCode::Down, N)]),
    h!("k", "move up", Action::Up, [(KeyCode::Char('k'), N), (KeyCode::Up, N)]),
    b!("g/G", "top / bottom", Action::Top, false, [(KeyCode::Char('g'), N), (KeyCode::Home, N)]),
    h!("G", "bottom", Action::Bottom, [(KeyCode::Char('G'), S), (KeyCode::Char('G'), N), (KeyCode::End, N)]),
    b!("]/[", "next / prev tab", Action::NextTab, true, [(KeyCode::Char(']'), N), (KeyCode::Tab, N)]),
    h!("[", "previous tab", Action::PrevTab, [(KeyCode::Char('['), N), (KeyCode::BackTab, S), (KeyCode::BackTab, N)]),
    b!("q", "quit", Action::Quit, true, [(KeyCode::Char('q'), N), (KeyCode::Char('c'), C)]),
];

/// The servers page's keys (status bar and handling).
pub fn server_bindings() -> &'static [Binding] {
    SERVERS
}

/// What a key does on the servers page.
pub fn server_action(key: &KeyEvent) -> Option<Action> {
    SERVERS.iter().find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == key.modifiers)).map(|b| b.action)
}

/// Bindings of a view, most specific first (view keys shadow global ones).
pub fn bindings(view: View, read_only: bool) -> Vec<&'static Binding> {
    let specific: &[Binding] = match view {
        View::Fleet => FLEET,
        View::Logs => LOGS,
        View::Deploy => DEPLOY,
        View::Exec => &[],
        View::Audit => AUDIT,
        View::Traffic => TRAFFIC,
    };
    specific.iter().chain(MOVE.iter()).chain(GLOBAL.iter()).filter(|b| !(read_only && b.action.is_mutating())).collect()
}

pub fn action_for(view: View, read_only: bool, key: &KeyEvent) -> Option<Action> {
    bindings(view, read_only).into_iter().find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == key.modifiers)).map(|b| b.action)
}

/// Every action a key can be bound to (by its palette name in the config file): those of the
/// key tables and of the palette.
pub fn bindable() -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    let tables = [MOVE, GLOBAL, FLEET, LOGS, DEPLOY, AUDIT, TRAFFIC];
    for a in tables.iter().flat_map(|t| t.iter().map(|b| b.action)).chain(palette_actions(View::Fleet, false)) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

impl Action {
    /// The action with this palette name.
    pub fn from_name(name: &str) -> Option<Action> {
        bindable().into_iter().find(|a| a.name() == name)
    }
}

impl View {
    /// The view of a config file section (`[keys.fleet]`).
    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.title().eq_ignore_ascii_case(name))
    }
}

/// Every action reachable from the palette in a view.
pub fn palette_actions(view: View, read_only: bool) -> Vec<Action> {
    let mut out = Vec::new();
    let all = [
        Action::ShowFleet,
        Action::ShowLogs,
        Action::ShowDeploy,
        Action::ShowExec,
        Action::ShowAudit,
        Action::ShowTraffic,
        Action::FleetFilter,
        Action::Sort,
        Action::NextTab,
        Action::PrevTab,
        Action::RowActions,
        Action::Deploy,
        Action::Redeploy,
        Action::Rollback,
        Action::Lock,
        Action::Abort,
        Action::HostResources,
        Action::Prune,
        Action::Maintenance,
        Action::Filter,
        Action::Follow,
        Action::Wrap,
        Action::Timestamps,
        Action::Since,
        Action::ClearLogs,
        Action::SaveLogs,
        Action::Help,
        Action::Quit,
    ];
    let manage = ManageOp::ALL.into_iter().map(Action::Manage);
    let rows = RowOp::ALL.into_iter().map(Action::Row);
    for a in all.into_iter().chain(rows).chain(manage) {
        if read_only && a.is_mutating() {
            continue;
        }
        // Log-only actions jump to the logs view first, so they are valid everywhere.
        let _ = view;
        out.push(a);
    }
    out
}

// ---------------------------------------------------------------- overlays

// Each overlay's key table (in `action/overlays.rs`).
mod overlays;
pub use overlays::*;
