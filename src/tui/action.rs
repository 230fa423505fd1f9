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

/// What a key does in an overlay; the overlay's handler gives it its meaning there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayOp {
    Close,
    Confirm,
    Cancel,
    Up,
    Down,
    Choose,
    /// The deploy dialog's scope, mode (rolling / canary) and canary window.
    Scope,
    Mode,
    Window,
    /// An entry of the row-action menu.
    Row(RowOp),
}

/// The overlays, each with its key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayKind {
    Help,
    Quit,
    Palette,
    Confirm,
    /// A confirmation that asks for the destination's name.
    ConfirmTyped,
    /// The deploy dialog: version, scope, mode, pre-flight.
    Deploy,
    Rollback,
    HostPage,
    Prune,
    LockMessage,
    Failure,
    History,
    ExecScope,
    /// `x`: what can be done to the selected fleet row.
    RowActions,
    /// A container's env (secrets masked), labels, mounts, ports and health log.
    Inspect,
}

/// One overlay key: `keys` do `op`; an entry without keys only describes typing (`type`).
pub struct OverlayBinding {
    pub keys: &'static [KeyCode],
    pub label: &'static str,
    pub desc: &'static str,
    pub op: Option<OverlayOp>,
    /// Shown in the status bar (false for keys folded into another entry, e.g. `k` in `j/k`).
    pub bar: bool,
}

macro_rules! o {
    ($label:expr, $desc:expr, $op:expr, [$($k:expr),*]) => {
        OverlayBinding { keys: &[$($k),*], label: $label, desc: $desc, op: $op, bar: true }
    };
    (hidden $label:expr, $desc:expr, $op:expr, [$($k:expr),*]) => {
        OverlayBinding { keys: &[$($k),*], label: $label, desc: $desc, op: $op, bar: false }
    };
}

use KeyCode::{Char, Down as KDown, Enter as KEnter, Esc as KEsc, Tab as KTab, Up as KUp};
use OverlayOp::{Cancel, Choose, Close, Confirm, Down as ODown, Mode, Row, Scope, Up as OUp, Window};

const O_HELP: &[OverlayBinding] = &[o!("Esc/q", "close", Some(Close), [KEsc, Char('q'), Char('?'), KEnter])];
const O_QUIT: &[OverlayBinding] = &[o!("y", "quit and abort", Some(Confirm), [Char('y'), Char('Y')]), o!("any", "stay", None, [])];
const O_PALETTE: &[OverlayBinding] = &[
    o!("type", "filter", None, []),
    o!("↑/↓", "select", Some(OUp), [KUp]),
    o!(hidden "↓", "select", Some(ODown), [KDown, KTab]),
    o!("Enter", "run", Some(Choose), [KEnter]),
    o!("Esc", "close", Some(Close), [KEsc]),
];
const O_CONFIRM: &[OverlayBinding] =
    &[o!("y", "confirm", Some(Confirm), [Char('y'), Char('Y'), KEnter]), o!("n/Esc", "cancel", Some(Cancel), [Char('n'), Char('N'), KEsc])];
const O_CONFIRM_TYPED: &[OverlayBinding] =
    &[o!("type name", "confirm", None, []), o!("Enter", "ok", Some(Confirm), [KEnter]), o!("Esc", "cancel", Some(Cancel), [KEsc])];
const O_DEPLOY: &[OverlayBinding] = &[
    o!("j/k", "version", Some(ODown), [Char('j'), KDown]),
    o!(hidden "k", "version up", Some(OUp), [Char('k'), KUp]),
    o!("s", "scope", Some(Scope), [Char('s')]),
    o!("c", "canary", Some(Mode), [Char('c')]),
    o!("w", "window", Some(Window), [Char('w')]),
    o!("y", "deploy", Some(Confirm), [Char('y'), Char('Y'), KEnter]),
    o!("n/Esc", "cancel", Some(Cancel), [Char('n'), Char('N'), KEsc, Char('q')]),
];
const O_ROLLBACK: &[OverlayBinding] = &[
    o!("j/k", "move", Some(ODown), [Char('j'), KDown]),
    o!(hidden "k", "move up", Some(OUp), [Char('k'), KUp]),
    o!("Enter", "roll back", Some(Choose), [KEnter]),
    o!("Esc/q", "close", Some(Close), [KEsc, Char('q')]),
];
const O_HOST_PAGE: &[OverlayBinding] = &[o!("Esc/m/q", "close", Some(Close), [KEsc, Char('m'), Char('q'), KEnter])];
const O_PRUNE: &[OverlayBinding] =
    &[o!("y", "prune", Some(Confirm), [Char('y'), Char('Y')]), o!("n/Esc/q", "cancel", Some(Cancel), [KEsc, Char('n'), Char('N'), Char('q')])];
const O_LOCK_MESSAGE: &[OverlayBinding] =
    &[o!("type", "message", None, []), o!("Enter", "lock", Some(Confirm), [KEnter]), o!("Esc", "cancel", Some(Cancel), [KEsc])];

const O_FAILURE: &[OverlayBinding] = &[
    o!("j/k", "scroll", Some(ODown), [Char('j'), KDown]),
    o!(hidden "k", "scroll up", Some(OUp), [Char('k'), KUp]),
    o!("Esc/q", "close", Some(Close), [KEsc, Char('q'), KEnter]),
];

const O_HISTORY: &[OverlayBinding] = &[
    o!("j/k", "move", Some(ODown), [Char('j'), KDown]),
    o!(hidden "k", "move up", Some(OUp), [Char('k'), KUp]),
    o!("Enter", "show", Some(Choose), [KEnter]),
    o!("Esc/q", "close", Some(Close), [KEsc, Char('q'), Char('h')]),
];

const O_EXEC_SCOPE: &[OverlayBinding] = &[
    o!("j/k", "move", Some(ODown), [Char('j'), KDown, KTab]),
    o!(hidden "k", "move up", Some(OUp), [Char('k'), KUp]),
    o!("Enter", "pick", Some(Choose), [KEnter]),
    o!("Esc/q", "close", Some(Close), [KEsc, Char('q')]),
];

/// The row-action menu: one key per action (capitals for the ones that stop or remove
/// something); the menu lists those its row offers.
pub const O_ROW_ACTIONS: &[OverlayBinding] = &[
    o!(hidden "b", "boot", Some(Row(RowOp::Boot)), [Char('b')]),
    o!(hidden "s", "start", Some(Row(RowOp::Start)), [Char('s')]),
    o!(hidden "S", "stop", Some(Row(RowOp::Stop)), [Char('S')]),
    o!(hidden "R", "restart", Some(Row(RowOp::Restart)), [Char('R')]),
    o!(hidden "X", "remove", Some(Row(RowOp::Remove)), [Char('X')]),
    o!(hidden "l", "logs", Some(Row(RowOp::Logs)), [Char('l')]),
    o!(hidden "i", "inspect", Some(Row(RowOp::Inspect)), [Char('i')]),
    o!(hidden "e", "exec", Some(Row(RowOp::Exec)), [Char('e')]),
    o!(hidden "c", "shell in the container", Some(Row(RowOp::Shell)), [Char('c')]),
    o!(hidden "h", "shell on the host", Some(Row(RowOp::HostShell)), [Char('h')]),
    o!(hidden "o", "tunnel to the container", Some(Row(RowOp::Tunnel)), [Char('o')]),
    o!(hidden "P", "proxy reboot on the host", Some(Row(RowOp::ProxyReboot)), [Char('P')]),
    o!("j/k", "move", Some(ODown), [Char('j'), KDown]),
    o!(hidden "k", "move up", Some(OUp), [Char('k'), KUp]),
    o!("Enter", "run", Some(Choose), [KEnter]),
    o!("key", "run that action", None, []),
    o!("Esc/q", "close", Some(Close), [KEsc, Char('q'), Char('x')]),
];

const O_INSPECT: &[OverlayBinding] = &[
    o!("j/k", "scroll", Some(ODown), [Char('j'), KDown]),
    o!(hidden "k", "scroll up", Some(OUp), [Char('k'), KUp]),
    o!("Esc/q", "close", Some(Close), [KEsc, Char('q'), Char('i'), KEnter]),
];

/// The key of a row action in the menu (its label) and what the menu calls it.
pub fn row_op_key(op: RowOp) -> (&'static str, &'static str) {
    O_ROW_ACTIONS.iter().find(|b| b.op == Some(OverlayOp::Row(op))).map_or(("", ""), |b| (b.label, b.desc))
}

/// An overlay's keys: they drive its handler and its status bar.
pub fn overlay_bindings(kind: OverlayKind) -> &'static [OverlayBinding] {
    match kind {
        OverlayKind::Help => O_HELP,
        OverlayKind::Quit => O_QUIT,
        OverlayKind::Palette => O_PALETTE,
        OverlayKind::Confirm => O_CONFIRM,
        OverlayKind::ConfirmTyped => O_CONFIRM_TYPED,
        OverlayKind::Deploy => O_DEPLOY,
        OverlayKind::Rollback => O_ROLLBACK,
        OverlayKind::HostPage => O_HOST_PAGE,
        OverlayKind::Prune => O_PRUNE,
        OverlayKind::LockMessage => O_LOCK_MESSAGE,
        OverlayKind::Failure => O_FAILURE,
        OverlayKind::History => O_HISTORY,
        OverlayKind::ExecScope => O_EXEC_SCOPE,
        OverlayKind::RowActions => O_ROW_ACTIONS,
        OverlayKind::Inspect => O_INSPECT,
    }
}

/// What `code` does in an overlay (`None`: typed text, or nothing).
pub fn overlay_op(kind: OverlayKind, code: KeyCode) -> Option<OverlayOp> {
    overlay_bindings(kind).iter().find(|b| b.keys.contains(&code)).and_then(|b| b.op)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key means one thing per overlay, and the status bar names every overlay's way out.
    #[test]
    fn overlay_tables_bind_each_key_once_and_show_a_way_out() {
        use OverlayKind::*;
        for kind in
            [Help, Quit, Palette, Confirm, ConfirmTyped, Deploy, Rollback, HostPage, Prune, LockMessage, Failure, History, ExecScope, RowActions, Inspect]
        {
            let keys: Vec<KeyCode> = overlay_bindings(kind).iter().flat_map(|b| b.keys.iter().copied()).collect();
            let unique: std::collections::HashSet<KeyCode> = keys.iter().copied().collect();
            assert_eq!(keys.len(), unique.len(), "{kind:?} binds a key twice");
            let out = overlay_bindings(kind).iter().any(|b| b.bar && matches!(b.op, Some(OverlayOp::Close | OverlayOp::Cancel) | None));
            assert!(out, "{kind:?}: the status bar shows no way out");
            assert_eq!(overlay_op(kind, KeyCode::F(12)), None);
        }
        assert_eq!(overlay_op(HostPage, KeyCode::Char('q')), Some(OverlayOp::Close));
        assert_eq!(overlay_op(ConfirmTyped, KeyCode::Char('n')), None, "typed into the name");
        for op in RowOp::ALL {
            assert!(!row_op_key(op).0.is_empty(), "{op:?} has no key in the row-action menu");
        }
    }
}
