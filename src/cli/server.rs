//! `kdeck server …`, `kdeck registry …` and `kdeck remove`.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Run a custom command on the server (use --help to show options)
    Exec {
        /// Run the command interactively (use for console/bash)
        #[arg(short = 'i', long)]
        interactive: bool,
        /// The command (quote it when it has options)
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Set up Docker to run Kamal apps
    Bootstrap,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Setup local registry or log in to remote registry locally and remotely
    Setup(RegistryArgs),
    /// Remove local registry or log out of remote registry locally and remotely
    Remove(RegistryArgs),
    /// Log in to remote registry locally and remotely
    Login(RegistryArgs),
    /// Log out of remote registry locally and remotely
    Logout(RegistryArgs),
}

#[derive(Debug, Args, Default)]
pub struct RegistryArgs {
    /// Skip local login
    #[arg(short = 'L', long = "skip-local", alias = "skip_local")]
    pub skip_local: bool,
    /// Skip remote login
    #[arg(short = 'R', long = "skip-remote", alias = "skip_remote")]
    pub skip_remote: bool,
}

#[derive(Debug, Args, Default)]
pub struct RemoveArgs {
    /// Proceed without confirmation question
    #[arg(short = 'y', long)]
    pub confirmed: bool,
}
