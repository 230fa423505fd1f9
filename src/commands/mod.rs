//! Headless subcommands: each consumes the engine's events or prints a view of the config.

pub mod config;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> color_eyre::Result<ExitCode> {
    match &cli.command {
        Some(Command::Config(args)) => config::run(&cli.global, args),
        None | Some(Command::Dashboard(_)) => Err(color_eyre::eyre::eyre!("the dashboard is not built yet")),
        Some(other) => Err(color_eyre::eyre::eyre!("`{}` is not implemented yet", command_name(other))),
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Config(_) => "config",
        Command::Dashboard(_) => "dashboard",
        Command::Setup(_) => "setup",
        Command::Deploy(_) => "deploy",
        Command::Redeploy(_) => "redeploy",
        Command::Rollback(_) => "rollback",
        Command::Details(_) => "details",
        Command::Audit => "audit",
        Command::App(_) => "app",
        Command::Lock(_) => "lock",
        Command::Prune(_) => "prune",
        Command::Proxy(_) => "proxy",
        Command::Accessory(_) => "accessory",
    }
}
