//! `kdeck secrets fetch|extract|print`: Kamal's helpers for `.kamal/secrets` files.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Read secrets from a password manager and print them as JSON
    Fetch(FetchArgs),
    /// Print one secret out of the JSON `fetch` printed
    Extract(ExtractArgs),
    /// Print every secret of the app (and destination) as KEY=VALUE, values included
    Print,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The password manager: 1password, bitwarden, bitwarden-sm, lastpass, aws_secrets_manager, gcp_secret_manager, doppler, enpass, passbolt (or test)
    #[arg(short = 'a', long, value_name = "ADAPTER")]
    pub adapter: String,
    /// The account (user, profile) to read with, for the adapters that use one
    #[arg(long)]
    pub account: Option<String>,
    /// Prefix of every secret name: a vault, folder, project/config, …
    #[arg(long)]
    pub from: Option<String>,
    /// Used inside secrets files (the result is not printed)
    #[arg(long)]
    pub inline: bool,
    /// The secrets to read, as the adapter names them
    #[arg(value_name = "SECRETS")]
    pub secrets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The secret's name (or the last part of its path)
    pub name: String,
    /// The JSON `kdeck secrets fetch` printed
    pub secrets: String,
    /// Used inside secrets files (the result is not printed)
    #[arg(long)]
    pub inline: bool,
}
