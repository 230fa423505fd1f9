//! The dashboard: one [`App`] state, a pure [`draw`], keys mapped to [`Action`]s, requests to
//! the engine through a [`Dispatcher`], and a render loop that coalesces redraws.

pub mod action;
pub mod app;
pub mod dispatch;
pub mod feed;
pub mod live;
pub mod logbuf;
pub mod resources;
pub mod term;
pub mod theme;
pub mod timeline;
pub mod traffic_marks;
pub mod ui;
pub mod versions;

pub use action::{Action, View};
pub use app::App;
pub use dispatch::{Dispatcher, ExecScope, LogLine, Request, Since, Update};
pub use term::{run, run_loop, LoopExit};
pub use ui::draw;
