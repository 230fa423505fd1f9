//! The dashboard: one [`App`] state, a pure [`draw`], keys mapped to [`Action`]s, requests to
//! the engine through a [`Dispatcher`], and a render loop that coalesces redraws.

pub mod action;
pub mod app;
pub mod deck;
pub mod dispatch;
pub mod feed;
pub mod inspect;
pub mod keymap;
pub mod live;
pub mod logbuf;
pub mod notify;
pub mod picker;
pub mod resources;
pub mod row_jobs;
pub mod rows;
pub mod servers;
pub mod settings;
pub mod staged;
pub mod term;
pub mod theme;
pub mod timeline;
pub mod traffic_marks;
pub mod ui;
pub mod versions;
mod worker;

pub use action::{Action, View};
pub use app::App;
pub use deck::{Deck, DeckUpdate, Tab};
pub use dispatch::{Dispatcher, ExecScope, LogLine, Request, Since, Update};
pub use term::{run, run_loop, run_screen, LoopExit, Screen};
pub use ui::{draw, draw_in};
