//! Headless commands through the real binary that need no lab: usage errors, exit codes, Kamal's spellings.

#[path = "../support/mod.rs"]
mod support;

mod build;
mod commands_table;
mod dashboard_settings;
mod flags;
mod local;
mod secrets;
mod usage;
mod workspace;
