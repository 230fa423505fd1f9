//! Several destinations (or apps) in one dashboard: one [`App`] per tab, each with its own
//! dispatcher (its own engine worker, watchers and lock, on the one shared ssh pool), and a tab
//! bar above the app on screen. Keys go to the app on screen (`]`/`[` switch tabs); updates
//! carry the index of their tab. The apps know nothing of each other: a view that changes
//! works the same in one tab or in five. After the apps' tabs, the servers page
//! ([`super::servers`]) lists every Kamal app on their hosts.

use super::app::{LoopStats, Overlay};
use super::dispatch::{Dispatcher, Update};
use super::term::{Outcome, Screen, ShellCommand, ShellFuture};
use super::App;
use crossterm::event::Event as TermEvent;

/// One destination of one app.
pub struct Tab {
    /// What the tab bar shows: the destination (`staging`), `(default)` for deploy.yml alone,
    /// or `app/destination` when several apps are open.
    pub name: String,
    pub app: App,
    pub dispatcher: Box<dyn Dispatcher>,
    pub shell: Option<ShellCommand>,
}

pub struct Deck {
    pub tabs: Vec<Tab>,
    /// The app tab on screen (or, with the servers page on screen, the one before it).
    pub active: usize,
    pub stats: LoopStats,
    /// Server mode: every Kamal app on the hosts (`None` until the first poll, or unwatched).
    pub servers: Option<crate::fleet::apps::ServerSnapshot>,
    /// The servers page is on screen.
    pub on_servers: bool,
    /// The selected row of the servers page.
    pub servers_selected: usize,
    /// A message on the servers page's status line.
    pub servers_notice: Option<String>,
    /// Where the last frame drew each tab (row, x from, x to), the servers tab last: a click
    /// there switches to it.
    pub tab_hits: std::cell::RefCell<Vec<(u16, u16, u16)>>,
}

/// What flows into the deck: a tab's update, or what runs on the servers.
// A tab's update is the common one (every log line): boxing it would allocate per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum DeckUpdate {
    Tab(usize, Update),
    Servers(crate::fleet::apps::ServerSnapshot),
}

impl Deck {
    /// A deck of `tabs` (at least one), the first on screen.
    pub fn new(tabs: Vec<Tab>) -> Deck {
        assert!(!tabs.is_empty(), "a deck has at least one tab");
        Deck {
            tabs,
            active: 0,
            stats: LoopStats::default(),
            servers: None,
            on_servers: false,
            servers_selected: 0,
            servers_notice: None,
            tab_hits: Default::default(),
        }
    }

    /// The app on screen.
    pub fn current(&self) -> &App {
        &self.tabs[self.active].app
    }

    /// The next (`+1`) or previous (`-1`) tab, wrapping; the servers page is the last one when
    /// it is shown.
    pub fn switch(&mut self, delta: i8) {
        let n = self.tabs.len();
        let total = n + usize::from(self.servers_tab());
        let pos = if self.on_servers { n } else { self.active };
        let next = (pos as isize + delta as isize).rem_euclid(total as isize) as usize;
        self.on_servers = next == n;
        if !self.on_servers {
            self.active = next;
        }
    }

    /// A left click on a tab of the tab bar shows it; true when the click was the bar's.
    fn click_tab(&mut self, m: &crossterm::event::MouseEvent) -> bool {
        use crossterm::event::{MouseButton, MouseEventKind};
        if m.kind != MouseEventKind::Down(MouseButton::Left) {
            return false;
        }
        let hits = self.tab_hits.borrow().clone();
        let Some(i) = hits.iter().position(|(y, from, to)| *y == m.row && (*from..*to).contains(&m.column)) else {
            return hits.iter().any(|(y, _, _)| *y == m.row);
        };
        self.on_servers = i == self.tabs.len();
        if !self.on_servers {
            self.active = i;
        }
        true
    }

    /// The app on screen asked to quit while another tab still runs an action: that action
    /// must stop safely first (the deploy lock released), so the screen goes to it and asks
    /// there (or waits, when its abort is already under way) instead of leaving.
    fn settle_quit(&mut self) {
        if !self.tabs[self.active].app.quit {
            return;
        }
        let running = (0..self.tabs.len()).find(|&j| j != self.active && self.tabs[j].app.timeline.is_running() && !self.tabs[j].app.quit);
        let Some(j) = running else { return };
        self.tabs[self.active].app.quit = false;
        self.active = j;
        let name = self.tabs[j].name.clone();
        let app = &mut self.tabs[j].app;
        if !app.quitting {
            app.overlay = Some(Overlay::Quit);
            app.notice = Some((true, format!("an action runs in {name}: y stops it safely, then kdeck quits")));
        }
    }
}

impl Screen for Deck {
    type Msg = DeckUpdate;

    fn app(&mut self) -> &mut App {
        &mut self.tabs[self.active].app
    }

    fn event(&mut self, ev: TermEvent) {
        // The terminal's focus is every tab's (an action in a background tab rings by it).
        if let TermEvent::FocusGained | TermEvent::FocusLost = ev {
            for t in &mut self.tabs {
                t.app.focused = Some(ev == TermEvent::FocusGained);
            }
            return;
        }
        if let TermEvent::Mouse(m) = &ev {
            if self.click_tab(m) {
                return;
            }
        }
        if self.on_servers {
            self.servers_event(ev);
            return self.settle_quit();
        }
        let single = self.tabs.len() == 1 && !self.servers_tab();
        let tab = &mut self.tabs[self.active];
        tab.app.handle_event(ev, tab.dispatcher.as_mut());
        if let Some(delta) = tab.app.switch_tab.take() {
            if single {
                tab.app.notice = Some((false, "one destination is open (kdeck without -d opens every destination)".into()));
            }
            self.switch(delta);
        }
        self.settle_quit();
    }

    fn apply(&mut self, m: DeckUpdate) -> bool {
        let (i, u) = match m {
            DeckUpdate::Tab(i, u) => (i, u),
            DeckUpdate::Servers(s) => return self.servers_update(s),
        };
        let Some(tab) = self.tabs.get_mut(i) else { return false };
        // The tab bar shows each tab's action and hosts, the servers page their memory: a
        // change there is on screen too.
        let shows = if i == self.active && !self.on_servers {
            tab.app.shows(&u)
        } else {
            matches!(u, Update::Fleet(_) | Update::Engine(_)) || (self.on_servers && matches!(u, Update::Resources(_)))
        };
        tab.app.update(u);
        self.settle_quit();
        shows
    }

    fn draw(&self, f: &mut ratatui::Frame) {
        super::ui::tabs::draw_deck(self, f);
    }

    fn tick(&mut self) -> bool {
        let now = chrono::Utc::now();
        for t in &mut self.tabs {
            t.app.now = now;
        }
        let app = &mut self.tabs[self.active].app;
        let moving = app.clock_moves();
        app.expire_notice() || moving
    }

    fn closed(&mut self) {
        for t in &mut self.tabs {
            t.app.engine_gone();
        }
        self.settle_quit();
    }

    fn stats(&mut self) -> &mut LoopStats {
        &mut self.stats
    }

    fn shell(&mut self, target: &super::rows::ShellTarget) -> Option<ShellFuture> {
        self.tabs[self.active].shell.as_mut().and_then(|s| s(target))
    }

    /// Every tab's: an action that ends in a background tab rings too, named after its tab.
    fn alerts(&mut self) -> Vec<super::notify::Alert> {
        let named = self.tabs.len() > 1;
        let mut out = Vec::new();
        for t in &mut self.tabs {
            for mut a in t.app.alerts.drain(..) {
                if named {
                    a.title = a.title.replacen("kdeck:", &format!("kdeck {}:", t.name), 1);
                }
                out.push(a);
            }
        }
        out
    }

    fn outcome(&self) -> Outcome {
        Outcome { failed: self.tabs.iter().any(|t| t.app.exit_failed), quit_during_action: self.tabs.iter().any(|t| t.app.quitting) }
    }
}
