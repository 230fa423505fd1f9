//! Destination tabs: every destination of the app in one dashboard, a tab bar above the app on
//! screen saying what runs, fails, is down or locked in each; `]`/`[` switch; keys, requests
//! and updates stay with their tab; quitting waits for an action running in another tab.

use crate::support::tui_fixtures as fx;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use kdeck::tui::app::Overlay;
use kdeck::tui::dispatch::{ChannelDispatcher, Recorder, Request};
use kdeck::tui::{Deck, DeckUpdate, Screen, Tab, Update};
use tokio::sync::mpsc;

fn key(c: char) -> Event {
    let m = if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    Event::Key(KeyEvent::new(KeyCode::Char(c), m))
}

/// What reached an engine, without the re-dials a key asks for while a host is down.
fn sent(rx: &mut mpsc::UnboundedReceiver<Request>) -> Vec<Request> {
    std::iter::from_fn(|| rx.try_recv().ok()).filter(|r| *r != Request::Probe).collect()
}

fn press(deck: &mut Deck, keys: &str) {
    for c in keys.chars() {
        deck.event(key(c));
    }
}

fn production() -> kdeck::fleet::model::FleetSnapshot {
    fx::at_destination(fx::fleet_down(), "production")
}

/// production (a host down, locked) and staging (a deploy running), requests recorded per tab.
fn deck() -> (Deck, mpsc::UnboundedReceiver<Request>, mpsc::UnboundedReceiver<Request>) {
    let (ptx, prx) = mpsc::unbounded_channel();
    let (stx, srx) = mpsc::unbounded_channel();
    let mut staging = fx::app_with(fx::fleet());
    fx::feed(&mut staging, fx::deploy_running());
    // Back on the fleet (a new run brings the deploy view up).
    staging.views.truncate(1);
    let tabs = vec![
        Tab { name: "production".into(), app: fx::app_with(production()), dispatcher: Box::new(ChannelDispatcher(ptx)), shell: None },
        Tab { name: "staging".into(), app: staging, dispatcher: Box::new(ChannelDispatcher(stx)), shell: None },
    ];
    (Deck::new(tabs), prx, srx)
}

fn text(deck: &Deck, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| deck.draw(f)).unwrap();
    t.backend().to_string()
}

#[test]
fn tab_bar_shows_every_destination_and_what_needs_an_eye_there() {
    let (mut deck, _p, _s) = deck();
    insta::assert_snapshot!("destination_tabs_80x24", text(&deck, 80, 24));
    insta::assert_snapshot!("destination_tabs_160x40", text(&deck, 160, 40));
    press(&mut deck, "]");
    assert_eq!(deck.active, 1);
    insta::assert_snapshot!("destination_tabs_staging_80x24", text(&deck, 80, 24));
    insta::assert_snapshot!("destination_tabs_staging_160x40", text(&deck, 160, 40));
    let wide = text(&deck, 160, 40);
    let bar = wide.lines().next().unwrap();
    assert!(bar.contains("production ✗ 1 down locked") && bar.contains("staging ⠿ deploy"), "{bar}");
    assert!(wide.lines().nth(1).unwrap().contains("dest staging"), "the app below is staging's:\n{wide}");
}

#[test]
fn many_tabs_fit_the_width_by_dropping_states_then_cutting_names() {
    let tabs = (0..6)
        .map(|i| Tab { name: format!("destination-number-{i}"), app: fx::app_with(fx::fleet_down()), dispatcher: Box::new(Recorder::default()), shell: None })
        .collect();
    let mut deck = Deck::new(tabs);
    deck.active = 5;
    let screen = text(&deck, 80, 24);
    let bar = screen.lines().next().unwrap();
    assert_eq!(bar.matches("destinat").count(), 6, "every tab has a place: {bar}");
    assert!(!bar.contains("down"), "states go first: {bar}");
}

#[test]
fn keys_and_requests_stay_with_the_tab_on_screen() {
    let (mut deck, mut prx, mut srx) = deck();
    // production: the deploy dialog opens and asks production's engine for its pre-flight
    // (the destination's name is typed after y), Esc cancels.
    press(&mut deck, "D");
    assert!(matches!(deck.current().overlay, Some(Overlay::Deploy(_))));
    assert_eq!(sent(&mut prx), vec![Request::Preflight]);
    deck.event(Event::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    // `]` while typing into an overlay is text, not a tab switch.
    press(&mut deck, ":]");
    assert_eq!(deck.active, 0);
    deck.event(Event::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    // staging: its own lock and its own engine.
    press(&mut deck, "]");
    press(&mut deck, "Lhold");
    deck.event(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(sent(&mut srx), vec![Request::LockAcquire { message: "hold".into() }]);
    assert_eq!(sent(&mut prx), vec![], "production's engine got nothing");
    press(&mut deck, "[[");
    assert_eq!(deck.active, 1, "wraps around");
}

#[test]
fn updates_reach_their_tab_whichever_is_on_screen() {
    let (mut deck, _p, _s) = deck();
    let mut s = fx::fleet();
    s.hosts.truncate(1);
    assert!(deck.apply(DeckUpdate::Tab(1, Update::Fleet(s))), "the tab bar shows every tab's hosts");
    assert_eq!(deck.tabs[1].app.fleet.hosts.len(), 1);
    assert_eq!(deck.tabs[0].app.fleet.hosts.len(), 3);
    assert!(!deck.apply(DeckUpdate::Tab(1, Update::Notice { error: false, text: "x".into() })), "a background tab's notice is not on screen");
    assert!(!deck.apply(DeckUpdate::Tab(7, Update::Notice { error: false, text: "x".into() })), "no such tab");
}

#[test]
fn quit_goes_to_the_tab_whose_action_still_runs() {
    let (mut deck, _p, mut srx) = deck();
    press(&mut deck, "q");
    assert!(!deck.tabs[0].app.quit, "production does not leave while staging deploys");
    assert_eq!(deck.active, 1);
    assert_eq!(deck.current().overlay, Some(Overlay::Quit));
    let screen = text(&deck, 160, 40);
    assert!(screen.contains("an action runs in staging"), "{screen}");
    press(&mut deck, "y");
    assert_eq!(srx.try_recv().ok(), Some(Request::Abort), "stopped safely");
    assert!(deck.tabs[1].app.quitting && !deck.tabs[1].app.quit, "waits for the engine");
    fx::feed(&mut deck.tabs[1].app, fx::deploy_done());
    assert!(deck.tabs[1].app.quit);
    assert!(deck.outcome().quit_during_action);
}

#[test]
fn sigterm_quits_every_tab_after_the_running_action_stops() {
    let (mut deck, _p, _s) = deck();
    deck.apply(DeckUpdate::Tab(0, Update::Terminate));
    deck.apply(DeckUpdate::Tab(1, Update::Terminate));
    assert!(!deck.current().quit && deck.active == 1, "the running tab is on screen, waiting");
    assert!(deck.tabs[1].app.quitting);
}

#[test]
fn one_destination_says_so_on_the_tab_keys() {
    let mut app = fx::app_with(fx::fleet());
    let mut d = Recorder::default();
    let mut one = kdeck::tui::term::One { app: &mut app, d: &mut d, shell: None };
    one.event(key(']'));
    assert!(one.app.notice.as_ref().is_some_and(|(_, t)| t.contains("one destination is open")));
}

// ------------------------------------------------------------------ server mode

fn server_app(service: &str, destination: Option<&str>, roles: &[&str], version: &str, running: u32) -> kdeck::fleet::apps::ServerApp {
    kdeck::fleet::apps::ServerApp {
        service: service.into(),
        destination: destination.map(str::to_string),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        versions: vec![version.into()],
        running,
        stopped: 1,
    }
}

/// .11 runs both destinations of klabapp and blog (read-only); .12 staging, its db accessory
/// and shop; .13 is down.
fn servers() -> kdeck::fleet::apps::ServerSnapshot {
    use kdeck::fleet::apps::ServerHost;
    use kdeck::fleet::model::{ConnState, ProxyRoute};
    let route = |s: &str| ProxyRoute { service: s.into(), target: Some("abc:80".into()), state: "running".into() };
    let host = |h: &str, apps, routes| ServerHost { host: h.into(), conn: ConnState::Up, apps, routes, error: None, read: true };
    kdeck::fleet::apps::ServerSnapshot {
        hosts: vec![
            host(
                "10.77.4.11",
                vec![
                    server_app("blog", None, &["web"], "9e01f3b2aa01", 1),
                    server_app("klabapp", Some("production"), &["web"], fx::V1, 1),
                    server_app("klabapp", Some("staging"), &["web"], fx::V1, 1),
                ],
                vec![route("blog-web"), route("klabapp-web-production"), route("klabapp-web-staging")],
            ),
            host(
                "10.77.4.12",
                vec![server_app("klabapp-db", None, &[], "16", 1), server_app("shop", Some("production"), &["web", "worker"], "v42", 2)],
                vec![route("shop-web-production")],
            ),
            ServerHost { host: "10.77.4.13".into(), conn: ConnState::Down { reason: "no route".into() }, ..Default::default() },
        ],
    }
}

fn with_servers() -> (Deck, mpsc::UnboundedReceiver<Request>, mpsc::UnboundedReceiver<Request>) {
    let (mut deck, p, s) = deck();
    let mib = 1u64 << 20;
    let apps = vec![
        kdeck::fleet::model::AppMemory { service: "blog".into(), destination: None, running: 1, mem_bytes: 212 * mib, this: false },
        kdeck::fleet::model::AppMemory { service: "klabapp".into(), destination: Some("staging".into()), running: 1, mem_bytes: 96 * mib, this: true },
    ];
    let res = kdeck::fleet::model::HostResources {
        host: "10.77.4.11".into(),
        sampled_at: Some(fx::now()),
        mem_total: 1024 * mib,
        mem_used: 700 * mib,
        apps,
        ..Default::default()
    };
    deck.apply(DeckUpdate::Tab(1, Update::Resources(Box::new(kdeck::fleet::model::ResourceSnapshot { hosts: vec![res], ..Default::default() }))));
    assert!(deck.apply(DeckUpdate::Servers(servers())), "the servers tab appears");
    (deck, p, s)
}

#[test]
fn servers_page_lists_every_app_on_the_hosts_with_its_memory_and_tab() {
    let (mut deck, _p, _s) = with_servers();
    press(&mut deck, "]]");
    assert!(deck.on_servers, "the servers page comes after the destinations");
    let wide = text(&deck, 160, 40);
    let row = |needle: &str| wide.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle}:\n{wide}")).to_string();
    assert!(row("blog ").contains("212 MiB") && row("blog ").contains("read-only"), "{wide}");
    assert!(row("klabapp/staging").contains("96 MiB") && row("klabapp/staging").trim_end_matches(['"', '│', ' ']).ends_with("staging"), "{wide}");
    assert!(row("klabapp-db (accessory)").contains("production"), "an accessory of an open app goes with its tab:\n{wide}");
    assert!(row("shop/production").contains("web,worker") && row("shop/production").contains("read-only"), "{wide}");
    assert!(wide.lines().next().unwrap().contains("servers 5 apps"), "{wide}");
    insta::assert_snapshot!("servers_page_80x24", text(&deck, 80, 24));
    insta::assert_snapshot!("servers_page_160x40", wide);
}

#[test]
fn servers_page_opens_an_apps_tab_and_refuses_the_read_only_ones() {
    let (mut deck, mut prx, mut srx) = with_servers();
    press(&mut deck, "[");
    assert!(deck.on_servers, "[ from the first tab wraps to the servers page");
    // rows: .11, blog, klabapp/production, klabapp/staging, .12, klabapp-db, shop, .13
    press(&mut deck, "j");
    deck.event(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert!(deck.on_servers && deck.servers_notice.as_deref().is_some_and(|n| n.contains("blog: read-only")), "{:?}", deck.servers_notice);
    // Keys that change servers do nothing here.
    sent(&mut prx);
    press(&mut deck, "DLP");
    assert!(prx.try_recv().is_err() && srx.try_recv().is_err(), "the servers page sends nothing");
    press(&mut deck, "jj");
    deck.event(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert!(!deck.on_servers && deck.active == 1, "Enter on klabapp/staging opens the staging tab");
}

#[test]
fn one_app_alone_on_its_hosts_has_no_tab_bar() {
    let tabs = vec![Tab { name: "(default)".into(), app: fx::app_with(fx::fleet()), dispatcher: Box::new(Recorder::default()), shell: None }];
    let mut deck = Deck::new(tabs);
    let mut s = servers();
    s.hosts.truncate(0);
    deck.apply(DeckUpdate::Servers(s));
    assert!(!deck.servers_tab());
    assert!(text(&deck, 80, 24).lines().next().unwrap().contains("kdeck  service klabapp"), "the app's own screen");
    // Another app shows up on a host: the servers tab appears.
    deck.apply(DeckUpdate::Servers(servers()));
    assert!(deck.servers_tab());
    assert!(text(&deck, 80, 24).lines().next().unwrap().contains("servers"));
}

/// Two destinations of one app on a host: kamal-proxy has a route for each; the staging tab's
/// Proxy column reads staging's route (`<service>-<role>-staging`), not the first that starts
/// like it.
#[test]
fn each_destination_reads_its_own_route_on_a_shared_host() {
    let mut s = fx::fleet();
    for h in &mut s.hosts {
        if !h.proxy_routes.is_empty() {
            let other =
                kdeck::fleet::model::ProxyRoute { service: "klabapp-web-production".into(), target: Some("ffffffffffff:80".into()), state: "running".into() };
            h.proxy_routes.insert(0, other);
        }
    }
    let screen = fx::text(&fx::app_with(s), 160, 40);
    let row = screen.lines().find(|l| l.contains("├ 10.77.4.11")).unwrap();
    assert!(row.contains("→ 1fd263c") && !row.contains("≠"), "{screen}");
}

/// A click on a tab of the bar shows it (the servers tab too); a click elsewhere on the bar
/// does nothing, and below it the click is the app's.
#[test]
fn a_click_on_a_tab_shows_it() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let click = |column: u16, row: u16| Event::Mouse(MouseEvent { kind: MouseEventKind::Down(MouseButton::Left), column, row, modifiers: KeyModifiers::NONE });
    let (mut deck, _p, _s) = with_servers();
    let bar = text(&deck, 160, 40).lines().next().unwrap().trim_start_matches('"').to_string();
    let col = |needle: &str| bar[..bar.find(needle).unwrap()].chars().count() as u16;
    deck.event(click(col("staging") + 2, 0));
    assert_eq!((deck.active, deck.on_servers), (1, false));
    deck.event(click(col("servers"), 0));
    assert!(deck.on_servers);
    deck.event(click(150, 0));
    assert!(deck.on_servers, "the hint is not a tab");
    deck.event(click(col("production") + 1, 0));
    assert_eq!((deck.active, deck.on_servers), (0, false));
    deck.event(click(col("staging"), 5));
    assert_eq!(deck.active, 0, "below the bar the click is the app's");
}
