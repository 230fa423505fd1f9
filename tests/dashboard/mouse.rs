//! The mouse, on what the last frame drew: a click on a tab shows that view, a click on a
//! fleet row selects it, the wheel scrolls the current view or moves in an overlay.

use crate::support::tui_fixtures as fx;

use crossterm::event::{Event, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use fx::text;
use kdeck::tui::action::View;
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::versions::TreeRow;
use kdeck::tui::App;

fn mouse(app: &mut App, kind: MouseEventKind, column: u16, row: u16) {
    app.handle_event(Event::Mouse(MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE }), &mut Recorder::default());
}

fn click(app: &mut App, column: u16, row: u16) {
    mouse(app, MouseEventKind::Down(MouseButton::Left), column, row);
}

/// Column and row of the first cell of `needle` on screen.
fn at(screen: &str, needle: &str) -> (u16, u16) {
    for (y, l) in screen.lines().enumerate() {
        if let Some(i) = l.find(needle) {
            // Snapshot lines are quoted: drop the leading `"`.
            return (l[..i].chars().count() as u16 - 1, y as u16);
        }
    }
    panic!("{needle} not on screen:\n{screen}");
}

#[test]
fn a_click_on_a_tab_shows_its_view_at_any_size() {
    for (w, h) in [(80, 24), (160, 40)] {
        let mut app = fx::app_with(fx::fleet());
        let s = text(&app, w, h);
        let (x, y) = at(&s, "6 Traffic");
        click(&mut app, x + 2, y);
        assert_eq!(app.view(), View::Traffic, "{w}x{h}");
        let s = text(&app, w, h);
        let (x, y) = at(&s, "2 Logs");
        click(&mut app, x, y);
        assert_eq!(app.view(), View::Logs);
        let s = text(&app, w, h);
        let (x, y) = at(&s, "1 Fleet");
        click(&mut app, x + 1, y);
        assert_eq!(app.view(), View::Fleet);
        assert_eq!(app.views.len(), 1, "the fleet is the bottom of the stack");
    }
}

#[test]
fn read_only_has_no_exec_tab_to_click() {
    let mut app = fx::app_with(fx::fleet());
    app.read_only = true;
    let s = text(&app, 160, 40);
    let (x, y) = at(&s, "5 Audit");
    click(&mut app, x + 1, y);
    assert_eq!(app.view(), View::Audit, "tabs after the hidden one are where they are drawn");
}

#[test]
fn a_click_on_a_fleet_row_selects_it_even_when_the_table_scrolled() {
    let mut app = fx::app_with(fx::fleet());
    let s = text(&app, 80, 24);
    let (x, y) = at(&s, "10.77.4.13");
    click(&mut app, x, y);
    assert_eq!(app.tree()[app.fleet_selected], TreeRow::Host { role: "job".into(), host: "10.77.4.13".into() });
    // Fifty hosts on a small screen: the table scrolls to the selection; a click still lands
    // on the row under the pointer.
    let mut s = fx::fleet();
    let hosts: Vec<String> = (1..=50).map(|i| format!("10.77.9.{i}")).collect();
    s.roles = vec![("web".into(), hosts)];
    let mut app = fx::app_with(s);
    app.fleet_selected = 40;
    let screen = text(&app, 80, 24);
    let (x, y) = at(&screen, "10.77.9.38 ");
    click(&mut app, x, y);
    assert_eq!(app.tree()[app.fleet_selected], TreeRow::Host { role: "web".into(), host: "10.77.9.38".into() });
    // Outside the rows (the border, the detail pane): nothing changes.
    click(&mut app, 0, 23);
    assert_eq!(app.tree()[app.fleet_selected], TreeRow::Host { role: "web".into(), host: "10.77.9.38".into() });
}

#[test]
fn the_wheel_scrolls_the_view_and_moves_in_an_overlay() {
    let mut app = fx::app_with(fx::fleet());
    text(&app, 160, 40);
    mouse(&mut app, MouseEventKind::ScrollDown, 10, 10);
    assert_eq!(app.fleet_selected, 3, "three rows a notch");
    mouse(&mut app, MouseEventKind::ScrollUp, 10, 10);
    assert_eq!(app.fleet_selected, 0);
    fx::log_lines(&mut app, 200);
    app.views.push(View::Logs);
    mouse(&mut app, MouseEventKind::ScrollUp, 10, 10);
    assert_eq!((app.log_view.offset, app.log_view.follow), (3, false), "up goes back in time and pauses");
    // An overlay gets its own up/down: the row-action menu's highlight moves.
    app.views.truncate(1);
    app.fleet_selected = 1;
    app.handle_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('x'), KeyModifiers::NONE), &mut Recorder::default());
    mouse(&mut app, MouseEventKind::ScrollDown, 10, 10);
    assert!(matches!(app.overlay, Some(kdeck::tui::app::Overlay::RowActions { selected: 3, .. })), "{:?}", app.overlay);
    // A click does not reach what is under an overlay.
    let s = text(&app, 160, 40);
    let (x, y) = at(&s, "2 Logs");
    click(&mut app, x, y);
    assert_eq!(app.view(), View::Fleet);
}
