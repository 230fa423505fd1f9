//! The fleet at many hosts: `/` keeps the rows matching every word typed, `s` orders each role's
//! hosts (config order → host → problems first → version → CPU → requests/s), and the selection
//! stays on its host while the tree changes shape.

use crate::support::tui_fixtures as fx;

use fx::text;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::fleet::model::{ConnState, FleetSnapshot};
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::versions::TreeRow;
use kdeck::tui::App;

macro_rules! snap {
    ($name:expr, $app:expr) => {
        insta::assert_snapshot!(concat!($name, "_80x24"), text(&$app, 80, 24));
        insta::assert_snapshot!(concat!($name, "_160x40"), text(&$app, 160, 40));
    };
}

/// 12 hosts: web on .21–.29 (listed out of name order: .29 first), job on .31–.33. .24 is
/// down, .26's new V3 container is unhealthy, .32 runs V3.
fn fleet12() -> FleetSnapshot {
    let mut s = fx::fleet();
    let web_tpl = s.hosts[0].clone();
    let job_tpl = s.hosts[2].clone();
    s.hosts.clear();
    let web: Vec<String> = [29, 21, 22, 23, 24, 25, 26, 27, 28].iter().map(|n| format!("10.77.4.{n}")).collect();
    let job: Vec<String> = [31, 32, 33].iter().map(|n| format!("10.77.4.{n}")).collect();
    for h in &web {
        let mut x = web_tpl.clone();
        x.host = h.clone();
        s.hosts.push(x);
    }
    for h in &job {
        let mut x = job_tpl.clone();
        x.host = h.clone();
        s.hosts.push(x);
    }
    let find = |s: &mut FleetSnapshot, h: &str| s.hosts.iter().position(|x| x.host == h).unwrap();
    let i = find(&mut s, "10.77.4.24");
    s.hosts[i].conn = ConnState::Down { reason: "connection refused (port 22)".into() };
    s.hosts[i].last_seen = Some(fx::now() - chrono::Duration::seconds(30));
    let i = find(&mut s, "10.77.4.26");
    let mut c = fx::container("klabapp", "web", fx::V3, "running", 3);
    c.health = Some("unhealthy".into());
    s.hosts[i].containers.insert(0, c);
    s.hosts[i].current = vec![("web".into(), fx::V3.into())];
    let i = find(&mut s, "10.77.4.32");
    s.hosts[i].containers.insert(0, fx::container("klabapp", "job", fx::V3, "running", 3));
    s.hosts[i].current = vec![("job".into(), fx::V3.into())];
    s.roles = vec![("web".into(), web), ("job".into(), job)];
    s
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE), &mut Recorder::default());
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The host rows as shown, in order.
fn hosts(app: &App) -> Vec<String> {
    app.tree()
        .into_iter()
        .filter_map(|r| match r {
            TreeRow::Host { host, .. } => Some(host),
            _ => None,
        })
        .collect()
}

fn selected_host(app: &App) -> Option<String> {
    match app.tree().get(app.fleet_selected) {
        Some(TreeRow::Host { host, .. }) => Some(host.clone()),
        _ => None,
    }
}

#[test]
fn slash_keeps_only_the_hosts_matching_every_word_and_names_the_count() {
    let mut app = fx::app_with(fleet12());
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "down");
    assert_eq!(hosts(&app), vec!["10.77.4.24"]);
    assert!(text(&app, 160, 40).contains("/down▏ 1/12 hosts"), "{}", text(&app, 160, 40));
    press(&mut app, KeyCode::Enter);
    snap!("fleet_filter_down", app);
    // every word must match: the role and the version's prefix
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "job 9e01");
    assert_eq!(hosts(&app), vec!["10.77.4.32"]);
    // a role's name keeps all of its hosts
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "job");
    assert_eq!(hosts(&app), vec!["10.77.4.31", "10.77.4.32", "10.77.4.33"]);
    press(&mut app, KeyCode::Char('x'));
    assert!(hosts(&app).is_empty());
    assert!(text(&app, 80, 24).contains("0/12 hosts"));
}

#[test]
fn esc_clears_the_filter_and_every_row_comes_back() {
    let mut app = fx::app_with(fleet12());
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "unhealthy");
    assert_eq!(hosts(&app), vec!["10.77.4.26"]);
    press(&mut app, KeyCode::Enter);
    // filter kept: keys move in the filtered tree and Esc (not typing) clears it
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(selected_host(&app).as_deref(), Some("10.77.4.26"));
    press(&mut app, KeyCode::Esc);
    assert_eq!(hosts(&app).len(), 12);
    assert_eq!(selected_host(&app).as_deref(), Some("10.77.4.26"), "the selection stays on its host");
    assert!(!text(&app, 160, 40).contains("/unhealthy"));
}

#[test]
fn s_cycles_the_order_and_problems_first_puts_the_down_host_on_top() {
    let mut app = fx::app_with(fleet12());
    assert_eq!(hosts(&app)[0], "10.77.4.29", "config order first");
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(&hosts(&app)[..3], ["10.77.4.21", "10.77.4.22", "10.77.4.23"]);
    assert_eq!(hosts(&app)[8], "10.77.4.29", "numbers compare as numbers");
    press(&mut app, KeyCode::Char('s'));
    let h = hosts(&app);
    assert_eq!(&h[..2], ["10.77.4.24", "10.77.4.26"], "down, then unhealthy: {h:?}");
    assert_eq!(h[9], "10.77.4.32", "job: the host on another version first: {h:?}");
    snap!("fleet_sorted_problems_first", app);
    for _ in 0..4 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(hosts(&app)[0], "10.77.4.29", "back to config order after a full cycle");
    assert!(!text(&app, 160, 40).contains("· by "));
}

#[test]
fn sorting_keeps_the_selection_on_its_host() {
    let mut app = fx::app_with(fleet12());
    for _ in 0..5 {
        press(&mut app, KeyCode::Char('j'));
    }
    let before = selected_host(&app).unwrap();
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(selected_host(&app).unwrap(), before);
}

#[test]
fn filter_and_sort_are_in_help_and_the_palette() {
    let mut app = fx::app_with(fleet12());
    press(&mut app, KeyCode::Char('?'));
    let help = text(&app, 160, 40);
    assert!(help.contains("filter hosts") && help.contains("sort hosts by"), "{help}");
    assert!(app.palette_items("hosts").iter().any(|a| a.name() == "filter-hosts"));
    assert!(app.palette_items("hosts").iter().any(|a| a.name() == "sort-hosts"));
}
