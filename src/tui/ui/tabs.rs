//! The deck's tab bar: one tab per destination (or app), each with what needs the operator's
//! eye there — an action running or failed, hosts down, the deploy lock held — so a deploy in
//! the background tab is seen from the foreground one.

use super::super::deck::Deck;
use super::super::theme::Theme;
use super::super::App;
use super::{action_name, draw_in, fit};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The tab bar on the first line, the app on screen below it; a deck of one is the app alone.
pub fn draw_deck(deck: &Deck, f: &mut Frame) {
    if deck.tabs.len() == 1 && !deck.servers_tab() {
        deck.tab_hits.replace(vec![]);
        return draw_in(deck.current(), f, f.area());
    }
    let [bar, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(f.area());
    draw_bar(deck, f, bar);
    if deck.on_servers {
        super::servers::draw(deck, f, rest);
    } else {
        draw_in(deck.current(), f, rest);
    }
}

/// What a tab says besides its name (shortest first when space is short).
fn tab_state(app: &App, t: &Theme) -> Vec<(String, Style)> {
    let mut out = Vec::new();
    let tl = &app.timeline;
    if let Some(a) = &tl.action {
        let name = action_name(a);
        match &tl.finished {
            None => out.push((format!("⠿ {name}"), t.running())),
            Some(fin) if !fin.ok => out.push((format!("✗ {name}"), t.err())),
            Some(_) => {}
        }
    }
    let down = app.fleet.hosts.iter().filter(|h| !h.live()).count();
    if app.fleet_loaded && down > 0 {
        out.push((format!("✗ {down} down"), t.err()));
    }
    if app.fleet.lock.is_some() {
        out.push(("locked".into(), t.warn()));
    }
    out
}

/// A tab's name, what it says besides, and whether it is on screen.
type Named<'a> = (&'a str, Vec<(String, Style)>, bool);

fn draw_bar(deck: &Deck, f: &mut Frame, area: Rect) {
    let t = Theme::with(deck.current().color, deck.current().palette);
    let width = area.width as usize;
    let hint = " ]/[ switch";
    // Whole tabs when they fit; else names only; else names cut to share the width.
    // The app tabs, then the servers page's (with its count of apps).
    let mut named: Vec<Named> =
        deck.tabs.iter().enumerate().map(|(i, tab)| (tab.name.as_str(), tab_state(&tab.app, &t), i == deck.active && !deck.on_servers)).collect();
    if deck.servers_tab() {
        let apps =
            deck.servers.as_ref().map_or(0, |s| s.hosts.iter().flat_map(|h| h.apps.iter().map(|a| a.name())).collect::<std::collections::BTreeSet<_>>().len());
        named.push(("servers", vec![(format!("{apps} apps"), t.dim())], deck.on_servers));
    }
    let full: Vec<Vec<Span>> = named.iter().map(|(name, state, on)| tab_spans(name, state, *on, &t, None)).collect();
    let cells = |tabs: &[Vec<Span>]| 1 + tabs.iter().map(|s| s.iter().map(|x| x.width()).sum::<usize>() + 1).sum::<usize>();
    let tabs = if cells(&full) + hint.len() <= width {
        full
    } else {
        let names = named.iter().map(|(name, _, on)| tab_spans(name, &[], *on, &t, None)).collect::<Vec<_>>();
        if cells(&names) <= width {
            names
        } else {
            let each = (width.saturating_sub(1) / named.len()).saturating_sub(3).max(1);
            named.iter().map(|(name, _, on)| tab_spans(name, &[], *on, &t, Some(each))).collect()
        }
    };
    let mut spans = vec![Span::raw(" ")];
    let used = cells(&tabs);
    // Where each tab is, for a click (the deck reads it back).
    let mut x = area.x + 1;
    let mut hits = Vec::new();
    for s in tabs {
        let w = s.iter().map(|x| x.width()).sum::<usize>() as u16;
        hits.push((area.y, x, x + w));
        x += w + 1;
        spans.extend(s);
        spans.push(Span::raw(" "));
    }
    if used + hint.len() <= width {
        spans.push(Span::styled(format!("{:>w$}", hint.trim_start(), w = width - used), t.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    deck.tab_hits.replace(hits);
}

/// ` name · state ` — reversed for the tab on screen; its state keeps its colour.
fn tab_spans(name: &str, state: &[(String, Style)], active: bool, t: &Theme, cut: Option<usize>) -> Vec<Span<'static>> {
    let base = if active { t.tab_active() } else { t.dim() };
    let name = match cut {
        Some(w) => fit(name, w).trim_end().to_string(),
        None => name.to_string(),
    };
    let mut out = vec![Span::styled(format!(" {name}"), base)];
    for (s, st) in state {
        out.push(Span::styled(" ", base));
        out.push(Span::styled(s.clone(), if active { st.patch(t.tab_active()) } else { *st }));
    }
    out.push(Span::styled(" ", base));
    out
}
