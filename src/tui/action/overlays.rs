//! The overlays' key tables (part of the one key table, `action.rs`): what a key does while
//! each overlay is open; the overlay's handler gives it its meaning, the status bar its label.

use super::super::rows::RowOp;
use crossterm::event::KeyCode;

/// What a key does in an overlay; the overlay's handler gives it its meaning there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayOp {
    Close,
    Confirm,
    Cancel,
    Up,
    Down,
    Choose,
    /// The deploy dialog's scope, mode (rolling / canary / rollout canary), canary window and
    /// the rollout's share.
    Scope,
    Mode,
    Window,
    Percent,
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
use OverlayOp::{Cancel, Choose, Close, Confirm, Down as ODown, Mode, Percent, Row, Scope, Up as OUp, Window};

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
    o!(hidden "p", "rollout canary: share of kamal-rollout cookies", Some(Percent), [Char('p')]),
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
