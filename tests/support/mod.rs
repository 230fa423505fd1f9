//! The one support module of the test harnesses (`tests/<harness>/main.rs` include it):
//! the lab handle, the engine-on-lab helpers, the dashboard fixtures, the config comparison.
#![allow(dead_code, unused_imports)]

pub mod config;
pub mod engine;
pub mod lab;
pub mod scale;
pub mod tmux;
pub mod tui_fixtures;
pub mod vendors;
