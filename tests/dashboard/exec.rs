//! The exec view: the scope is picked from every host and role (not cycled through four
//! choices), the digits are text in its prompt while alt-1-6 switch views (as `?` says), and a
//! command stays in the prompt after it ran.

use crate::support::tui_fixtures as fx;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fx::text;
use kdeck::tui::action::View;
use kdeck::tui::dispatch::{ExecScope, Recorder, Request};
use kdeck::tui::App;

fn press(app: &mut App, d: &mut Recorder, code: KeyCode, m: KeyModifiers) {
    app.handle_key(KeyEvent::new(code, m), d);
}

fn typed(app: &mut App, d: &mut Recorder, s: &str) {
    for c in s.chars() {
        press(app, d, KeyCode::Char(c), KeyModifiers::NONE);
    }
}

#[test]
fn tab_picks_the_scope_from_every_host_and_role() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    typed(&mut app, &mut d, "e");
    press(&mut app, &mut d, KeyCode::Tab, KeyModifiers::NONE);
    for (w, h) in [(80, 24), (160, 40)] {
        let s = text(&app, w, h);
        for want in [
            "▶ all hosts (3)  · now",
            "primary host (10.77.4.11)",
            "role web (10.77.4.11, 10.77.4.12)",
            "role job (10.77.4.13)",
            "host 10.77.4.11 (web)",
            "host 10.77.4.13 (job)",
        ] {
            assert!(s.contains(want), "{w}x{h}: no {want:?}:\n{s}");
        }
    }
    insta::assert_snapshot!("exec_scope_picker_80x24", text(&app, 80, 24));
    insta::assert_snapshot!("exec_scope_picker_160x40", text(&app, 160, 40));
    // The second web host: all, primary, web, job, .11, then .12.
    for _ in 0..5 {
        typed(&mut app, &mut d, "j");
    }
    press(&mut app, &mut d, KeyCode::Enter, KeyModifiers::NONE);
    assert!(app.overlay.is_none());
    assert!(text(&app, 80, 24).contains("scope host 10.77.4.12 (web)"), "{}", text(&app, 80, 24));
    typed(&mut app, &mut d, "uptime");
    press(&mut app, &mut d, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(d.0, vec![Request::Exec { cmd: "uptime".into(), scope: ExecScope::Host("10.77.4.12".into()), reuse: false }]);
    // A role: back to the top, then two down.
    press(&mut app, &mut d, KeyCode::Tab, KeyModifiers::NONE);
    assert!(text(&app, 160, 40).contains("▶ host 10.77.4.12 (web)  · now"), "the picker opens on the current scope");
    for _ in 0..5 {
        typed(&mut app, &mut d, "k");
    }
    typed(&mut app, &mut d, "jj");
    press(&mut app, &mut d, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(app.exec_scope(), ExecScope::Role("web".into()));
}

#[test]
fn digits_are_text_in_the_prompt_and_alt_digits_switch_views_as_help_says() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    // What `?` says on the fleet view.
    typed(&mut app, &mut d, "?");
    assert!(text(&app, 160, 40).contains("views (alt-1-6 in text)"), "{}", text(&app, 160, 40));
    press(&mut app, &mut d, KeyCode::Esc, KeyModifiers::NONE);
    typed(&mut app, &mut d, "e");
    typed(&mut app, &mut d, "sleep 2");
    assert_eq!(app.view(), View::Exec);
    assert_eq!(app.exec.textarea.lines(), ["sleep 2"]);
    press(&mut app, &mut d, KeyCode::Char('2'), KeyModifiers::ALT);
    assert_eq!(app.view(), View::Logs);
    press(&mut app, &mut d, KeyCode::Char('4'), KeyModifiers::ALT);
    assert_eq!(app.view(), View::Exec);
    assert_eq!(app.exec.textarea.lines(), ["sleep 2"], "the prompt keeps what was typed");
    press(&mut app, &mut d, KeyCode::Char('1'), KeyModifiers::ALT);
    assert_eq!(app.view(), View::Fleet);
    // In the logs filter prompt too.
    typed(&mut app, &mut d, "l/");
    typed(&mut app, &mut d, "5");
    press(&mut app, &mut d, KeyCode::Char('3'), KeyModifiers::ALT);
    assert_eq!(app.view(), View::Deploy);
}

#[test]
fn a_command_stays_in_the_prompt_after_it_ran() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    typed(&mut app, &mut d, "e");
    typed(&mut app, &mut d, "df -h /");
    press(&mut app, &mut d, KeyCode::Enter, KeyModifiers::NONE);
    for (w, h) in [(80, 24), (160, 40)] {
        let s = text(&app, w, h);
        assert!(s.lines().any(|l| l.contains("exec in the app container")) && s.contains("│df -h /"), "{w}x{h}: the command left the prompt:\n{s}");
    }
    // Enter runs it again; typing replaces it.
    press(&mut app, &mut d, KeyCode::Enter, KeyModifiers::NONE);
    typed(&mut app, &mut d, "free");
    press(&mut app, &mut d, KeyCode::Enter, KeyModifiers::NONE);
    let cmds: Vec<&str> = d.0.iter().filter_map(|r| if let Request::Exec { cmd, .. } = r { Some(cmd.as_str()) } else { None }).collect();
    assert_eq!(cmds, ["df -h /", "df -h /", "free"]);
}
