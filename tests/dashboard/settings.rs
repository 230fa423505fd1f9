//! The config file's keys and colours on screen: a rebound action answers its new key (and no
//! longer its old one), the status bar and `?` show the new key, a row action bound in the
//! fleet view runs on the selected row, the theme's colours reach the cells.

use crate::support::tui_fixtures as fx;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fx::{render, text};
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::rows::RowOp;
use kdeck::tui::settings::parse;
use kdeck::tui::App;
use ratatui::style::Color;
use std::path::Path;

const CONFIG: &str = r#"
[keys]
deploy = "ctrl-d"
[keys.fleet]
row-actions = ["x", "a"]
row-inspect = "I"
down = "n"
[theme]
key = "magenta"
"#;

fn configured() -> App {
    let s = parse(Path::new("config.toml"), CONFIG).unwrap();
    let mut app = fx::app_with(fx::fleet());
    app.keymap = s.keymap;
    app.palette = s.palette;
    app
}

fn key(app: &mut App, d: &mut Recorder, code: KeyCode, m: KeyModifiers) {
    app.handle_key(KeyEvent::new(code, m), d);
}

#[test]
fn rebound_keys_act_and_the_old_ones_do_not() {
    let mut app = configured();
    let mut d = Recorder::default();
    key(&mut app, &mut d, KeyCode::Char('D'), KeyModifiers::SHIFT);
    assert!(app.overlay.is_none(), "D no longer deploys");
    key(&mut app, &mut d, KeyCode::Char('d'), KeyModifiers::CONTROL);
    assert!(text(&app, 160, 40).contains("Deploy?"), "ctrl-d deploys");
    key(&mut app, &mut d, KeyCode::Esc, KeyModifiers::NONE);
    key(&mut app, &mut d, KeyCode::Char('n'), KeyModifiers::NONE);
    assert_eq!(app.fleet_selected, 1, "n moves down in the fleet");
    key(&mut app, &mut d, KeyCode::Char('j'), KeyModifiers::NONE);
    assert_eq!(app.fleet_selected, 1, "j no longer does there");
    key(&mut app, &mut d, KeyCode::Char('a'), KeyModifiers::NONE);
    assert!(matches!(app.overlay, Some(kdeck::tui::app::Overlay::RowActions { .. })), "a opens the row menu (instead of the audit log)");
    key(&mut app, &mut d, KeyCode::Esc, KeyModifiers::NONE);
    key(&mut app, &mut d, KeyCode::Char('I'), KeyModifiers::SHIFT);
    assert!(matches!(d.0.last(), Some(kdeck::tui::dispatch::Request::Inspect { .. })), "I inspects: {:?}", d.0);
    assert!(app.row_ops(&app.selected_target().unwrap()).contains(&RowOp::Inspect));
}

#[test]
fn status_bar_and_help_show_the_rebound_keys() {
    let mut app = configured();
    let bar = text(&app, 160, 40).lines().last().unwrap().to_string();
    assert!(bar.contains("x/a actions on the row") && bar.contains("ctrl-d deploy") && !bar.contains(" D deploy"), "{bar}");
    key(&mut app, &mut Recorder::default(), KeyCode::Char('?'), KeyModifiers::NONE);
    insta::assert_snapshot!("help_rebound_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("help_rebound_160x40", text(&app, 160, 40));
    let s = text(&app, 160, 40);
    for entry in ["ctrl-d", "I           inspect its container", "n           down", "k           up"] {
        assert!(s.contains(entry), "{entry} missing from the help:\n{s}");
    }
}

#[test]
fn theme_colours_reach_the_cells() {
    let app = configured();
    let t = render(&app, 160, 40);
    let buf = t.backend().buffer();
    let y = buf.area.height - 1;
    // The status bar's first key ("Enter") in the theme's key colour.
    let x = (0..buf.area.width).find(|x| buf[(*x, y)].symbol() == "E").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Magenta);
}
