//! kamal-deck: a terminal cockpit for Kamal 2 deployments.
//!
//! One engine, many views: `config` resolves the app's Kamal configuration, `ssh` and
//! `docker` are the shared per-host backend, `kamal` holds Kamal's on-host semantics,
//! `deploy` plans and runs actions, `fleet` watches the servers, and `tui` draws it all.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod docker;
pub mod fleet;
pub mod kamal;
pub mod logging;
pub mod pattern;
pub mod ssh;
pub mod tui;
