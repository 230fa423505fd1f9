//! The deck's servers page (server mode): every Kamal app on the hosts the open apps use, from
//! container labels and kamal-proxy's routes, with what each uses in memory per host. An app
//! that is open in a tab is one `Enter` away; the others are shown read-only (their config
//! directory is not known: add it to the workspace file to act on them).

use super::action::{server_action, Action};
use super::deck::Deck;
use crate::fleet::apps::{ServerApp, ServerHost, ServerSnapshot};
use crate::fleet::model::{AppMemory, HostResources};
use crossterm::event::{Event as TermEvent, KeyEventKind};

/// One row of the servers page.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRow<'a> {
    Host(&'a ServerHost),
    App(&'a ServerHost, &'a ServerApp),
}

impl Deck {
    /// The tab showing `app` (its service and destination; an accessory belongs to the app
    /// whose service prefixes its own, `<service>-<name>`).
    pub fn tab_of(&self, app: &ServerApp) -> Option<usize> {
        self.tabs.iter().position(|t| {
            let f = &t.app.fleet;
            let same = f.service == app.service && f.destination == app.destination;
            let accessory = app.accessory() && !f.service.is_empty() && app.service.starts_with(&format!("{}-", f.service));
            same || accessory
        })
    }

    /// The servers page has a tab: several tabs are open, or the hosts run apps none shows.
    pub fn servers_tab(&self) -> bool {
        let Some(s) = &self.servers else { return false };
        self.tabs.len() > 1 || s.hosts.iter().any(|h| h.apps.iter().any(|a| self.tab_of(a).is_none()))
    }

    /// The page's rows: each host, then its apps.
    pub fn server_rows(&self) -> Vec<ServerRow<'_>> {
        let Some(s) = &self.servers else { return vec![] };
        let mut rows = Vec::new();
        for h in &s.hosts {
            rows.push(ServerRow::Host(h));
            rows.extend(h.apps.iter().map(|a| ServerRow::App(h, a)));
        }
        rows
    }

    /// The latest resources of `host` any tab sampled (each tab's sampler reads every app there).
    pub fn host_resources(&self, host: &str) -> Option<&HostResources> {
        self.tabs.iter().filter_map(|t| t.app.resources.as_ref()?.host(host)).find(|h| h.sampled_at.is_some())
    }

    /// What `app` uses in memory on `host` (from the resources sampler), if known.
    pub fn app_memory(&self, host: &str, app: &ServerApp) -> Option<&AppMemory> {
        self.host_resources(host)?.apps.iter().find(|m| m.service == app.service && m.destination == app.destination)
    }

    pub(super) fn servers_update(&mut self, s: ServerSnapshot) -> bool {
        let had_tab = self.servers_tab();
        self.servers = Some(s);
        let n = self.server_rows().len();
        self.servers_selected = self.servers_selected.min(n.saturating_sub(1));
        // A servers tab that appears (or goes) changes the tab bar.
        self.on_servers || had_tab != self.servers_tab()
    }

    pub(super) fn servers_event(&mut self, ev: TermEvent) {
        let TermEvent::Key(k) = ev else { return };
        if k.kind == KeyEventKind::Release {
            return;
        }
        self.servers_notice = None;
        let n = self.server_rows().len();
        let last = n.saturating_sub(1);
        match server_action(&k) {
            Some(Action::Down) => self.servers_selected = (self.servers_selected + 1).min(last),
            Some(Action::Up) => self.servers_selected = self.servers_selected.saturating_sub(1),
            Some(Action::Top) => self.servers_selected = 0,
            Some(Action::Bottom) => self.servers_selected = last,
            Some(Action::NextTab) => self.switch(1),
            Some(Action::PrevTab) => self.switch(-1),
            Some(Action::Enter) => self.open_selected(),
            // The app tab before the page decides (it asks first while an action runs).
            Some(Action::Quit) => {
                self.on_servers = false;
                let tab = &mut self.tabs[self.active];
                tab.app.apply(Action::Quit, tab.dispatcher.as_mut());
            }
            _ => {}
        }
    }

    /// Enter: the selected app's tab, or why there is none.
    fn open_selected(&mut self) {
        let rows = self.server_rows();
        let Some(ServerRow::App(_, app)) = rows.get(self.servers_selected) else { return };
        match self.tab_of(app) {
            Some(i) => {
                self.active = i;
                self.on_servers = false;
            }
            None => {
                let name = app.name();
                self.servers_notice = Some(format!("{name}: read-only (its config dir is unknown: add it to workspace.toml)"));
            }
        }
    }
}
