//! A bell and a desktop notification when an action ends: one per engine job (a row's restart
//! runs two), named after it, with its outcome; not while the terminal has the focus unless the
//! config says always; never when it says off.

use crate::support::tui_fixtures as fx;

use crossterm::event::Event as TermEvent;
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::notify::{Alert, Notify};
use kdeck::tui::Update;

#[test]
fn an_ended_deploy_rings_with_its_name_outcome_and_summary() {
    let mut app = fx::app_with(fx::fleet());
    app.notify = Notify::Always;
    fx::feed(&mut app, fx::deploy_done());
    assert!(app.alerts.is_empty(), "the engine's Finished alone does not ring: the job may go on");
    app.update(Update::ActionEnded { ok: true, what: None });
    assert_eq!(app.alerts, vec![Alert { title: "kdeck: deploy done".into(), body: format!("Deployed {} to 3 hosts", &fx::V3[..7]) }]);
    app.alerts.clear();
    fx::feed(&mut app, fx::deploy_failed());
    app.update(Update::ActionEnded { ok: false, what: None });
    assert_eq!(app.alerts[0].title, "kdeck: deploy failed");
    app.alerts.clear();
    app.update(Update::ActionEnded { ok: true, what: Some("restart on web on 10.77.4.11".into()) });
    assert!(app.alerts[0].title.starts_with("kdeck: restart on web on 10.77.4.11"), "{:?}", app.alerts);
}

#[test]
fn unfocused_rings_only_without_the_focus_and_off_never() {
    let mut app = fx::app_with(fx::fleet());
    fx::feed(&mut app, fx::deploy_done());
    app.notify = Notify::Unfocused;
    let mut d = Recorder::default();
    app.handle_event(TermEvent::FocusGained, &mut d);
    app.update(Update::ActionEnded { ok: true, what: None });
    assert!(app.alerts.is_empty(), "the operator is looking");
    app.handle_event(TermEvent::FocusLost, &mut d);
    app.update(Update::ActionEnded { ok: true, what: None });
    assert_eq!(app.alerts.len(), 1);
    app.notify = Notify::Off;
    app.update(Update::ActionEnded { ok: true, what: None });
    assert_eq!(app.alerts.len(), 1);
}

/// With destination tabs, an action that ends in a background tab rings too, named after its
/// tab, and the terminal's focus is every tab's.
#[test]
fn a_background_tab_rings_named_after_its_tab() {
    use kdeck::tui::{Deck, Screen, Tab};
    let tab = |name: &str| {
        let mut app = fx::app_with(fx::fleet());
        app.notify = Notify::Unfocused;
        Tab { name: name.into(), app, dispatcher: Box::new(Recorder::default()), shell: None }
    };
    let mut deck = Deck::new(vec![tab("production"), tab("staging")]);
    deck.event(TermEvent::FocusLost);
    fx::feed(&mut deck.tabs[1].app, fx::deploy_done());
    deck.apply(kdeck::tui::DeckUpdate::Tab(1, Update::ActionEnded { ok: true, what: None }));
    let alerts = deck.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].title, "kdeck staging: deploy done");
    assert!(deck.alerts().is_empty(), "rung once");
    deck.event(TermEvent::FocusGained);
    deck.apply(kdeck::tui::DeckUpdate::Tab(1, Update::ActionEnded { ok: true, what: None }));
    assert!(deck.alerts().is_empty(), "the terminal has the focus: every tab knows");
}
