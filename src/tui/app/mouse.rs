//! The mouse: a click on a tab shows that view, a click on a fleet row selects it, the wheel
//! scrolls the current list (or moves in an open overlay). Where things are on screen is what
//! the last frame drew ([`Hits`]): the screen and the mouse never disagree.

use super::super::action::{overlay_bindings, OverlayOp, View};
use super::super::dispatch::Dispatcher;
use super::App;
use crossterm::event::{KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

/// Where the last frame put what the mouse can hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    /// The tab bar's row and each view's tab (`x` from, to; empty when not shown), in
    /// [`View::ALL`] order.
    pub tabs_y: u16,
    pub tabs: [(u16, u16); 6],
    /// The fleet table's first row on screen (below its header), how many rows it shows, and
    /// which tree row is the first shown.
    pub fleet_rows: Rect,
    pub fleet_offset: usize,
}

/// Lines one wheel notch scrolls.
const WHEEL: i64 = 3;

impl App {
    pub(super) fn handle_mouse(&mut self, m: MouseEvent, d: &mut dyn Dispatcher) {
        match m.kind {
            MouseEventKind::ScrollUp => self.wheel(-WHEEL, d),
            MouseEventKind::ScrollDown => self.wheel(WHEEL, d),
            MouseEventKind::Down(MouseButton::Left) => self.click(m.column, m.row, d),
            _ => {}
        }
    }

    fn wheel(&mut self, delta: i64, d: &mut dyn Dispatcher) {
        let Some(o) = &self.overlay else {
            self.scroll(delta);
            return;
        };
        // In an overlay: its own up/down keys, once per line.
        let op = if delta < 0 { OverlayOp::Up } else { OverlayOp::Down };
        let Some(code) = overlay_bindings(o.kind()).iter().find(|b| b.op == Some(op)).and_then(|b| b.keys.first().copied()) else { return };
        for _ in 0..delta.unsigned_abs() {
            self.overlay_key(KeyEvent::new(code, KeyModifiers::NONE), d);
        }
    }

    fn click(&mut self, x: u16, y: u16, d: &mut dyn Dispatcher) {
        // Overlays keep their own keys; a click does not reach what is under them.
        if self.overlay.is_some() {
            return;
        }
        let hits = self.hits.get();
        if y == hits.tabs_y {
            if let Some(i) = hits.tabs.iter().position(|(from, to)| from < to && (*from..*to).contains(&x)) {
                self.notice = None;
                self.open_view(View::ALL[i], d);
            }
            return;
        }
        let r = hits.fleet_rows;
        if self.view() == View::Fleet && !self.fleet_filter.typing && r.contains((x, y).into()) {
            let idx = hits.fleet_offset + (y - r.y) as usize;
            if idx < self.tree().len() {
                self.fleet_selected = idx;
            }
        }
    }
}
