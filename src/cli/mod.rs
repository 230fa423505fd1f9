//! Command line: Kamal's global options (same names and meanings) and subcommands.
//!
//! `-h` means `--hosts` as in Kamal, so clap's short help flag is disabled (`--help` works),
//! and `--version` is Kamal's "version to deploy", not "print kdeck's version".

mod accessory;
mod app;
mod build;
mod local;
mod lock;
pub mod proxy;
mod secrets;
mod server;

pub use accessory::AccessoryCommand;
pub use app::{AppCommand, ExecArgs, LogsArgs, StaleArgs};
pub use build::{BuildArgs, BuildCommand, DevArgs};
pub use local::{DocsArgs, InitArgs, UpgradeArgs};
pub use lock::{LockCommand, PruneCommand};
pub use proxy::{BootConfigArgs, ProxyCommand};
pub use secrets::{ExtractArgs, FetchArgs, SecretsCommand};
pub use server::{RegistryArgs, RegistryCommand, RemoveArgs, ServerCommand};

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "kdeck", about = "A terminal cockpit for Kamal 2 deployments", disable_help_flag = true, disable_version_flag = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct Global {
    /// Print help
    #[arg(long, global = true, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Detailed logging (and error backtraces)
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
    /// Minimal logging
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Run commands against a specific app version
    #[arg(long = "version", global = true, value_name = "VERSION")]
    pub version: Option<String>,
    /// Run commands on primary host instead of all
    #[arg(short = 'p', long, global = true)]
    pub primary: bool,
    /// Run commands on these hosts instead of all (separate by comma, supports wildcards with *)
    #[arg(short = 'h', long, global = true, value_name = "HOSTS")]
    pub hosts: Option<String>,
    /// Run commands on these roles instead of all (separate by comma, supports wildcards with *)
    #[arg(short = 'r', long, global = true, value_name = "ROLES")]
    pub roles: Option<String>,
    /// Path to config file
    #[arg(short = 'c', long = "config-file", alias = "config_file", global = true, default_value = "config/deploy.yml")]
    pub config_file: PathBuf,
    /// Specify destination to be used for config file (staging -> deploy.staging.yml)
    #[arg(short = 'd', long, global = true)]
    pub destination: Option<String>,
    /// Don't run hooks
    #[arg(short = 'H', long = "skip-hooks", alias = "skip_hooks", global = true)]
    pub skip_hooks: bool,
    /// Print the event stream as JSON lines (headless commands)
    #[arg(long, global = true)]
    pub json: bool,
    /// Where tracing goes (default: the user's state dir)
    #[arg(long = "log-file", global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Trust and record host keys of hosts not yet in known_hosts
    #[arg(long = "accept-new-host-keys", global = true)]
    pub accept_new_host_keys: bool,
    /// Wait for the deploy lock if it's already held instead of failing immediately
    #[arg(long = "lock-wait", alias = "lock_wait", global = true)]
    pub lock_wait: bool,
    /// Maximum seconds to wait for the deploy lock when --lock-wait is set
    #[arg(long = "lock-wait-timeout", alias = "lock_wait_timeout", global = true, default_value_t = 900, value_name = "SECONDS")]
    pub lock_wait_timeout: u64,
    /// Seconds between deploy lock polls when --lock-wait is set
    #[arg(long = "lock-wait-interval", alias = "lock_wait_interval", global = true, default_value_t = 15, value_name = "SECONDS")]
    pub lock_wait_interval: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show combined config (including secrets only with --show-secrets)
    Config(ConfigArgs),
    /// Open the dashboard (the default without a subcommand)
    Dashboard(DashboardArgs),
    /// Open the dashboard on every app of the workspace file (~/.config/kdeck/workspace.toml)
    Workspace(WorkspaceArgs),
    /// Set up the servers (checks Docker on each host), then deploy
    Setup(DeployArgs),
    /// Deploy app to servers
    Deploy(DeployArgs),
    /// Deploy app to servers without bootstrapping servers, starting kamal-proxy and pruning
    Redeploy(DeployArgs),
    /// Rollback app to VERSION
    Rollback(RollbackArgs),
    /// Show details about all containers
    Details(DetailsArgs),
    /// Show audit log from servers
    Audit,
    /// Manage application
    #[command(subcommand)]
    App(AppCommand),
    /// Manage the deploy lock
    #[command(subcommand)]
    Lock(LockCommand),
    /// Prune old application images and containers
    #[command(subcommand)]
    Prune(PruneCommand),
    /// Manage kamal-proxy
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// Manage accessories (db/redis/search)
    #[command(subcommand)]
    Accessory(AccessoryCommand),
    /// Login and -out of the image registry
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Bootstrap servers with curl and Docker
    #[command(subcommand)]
    Server(ServerCommand),
    /// Remove kamal-proxy, app, accessories, and registry session from servers
    Remove(RemoveArgs),
    /// Build application image
    #[command(subcommand)]
    Build(BuildCommand),
    /// Helpers for .kamal/secrets: read a password manager, pick one secret, print them all
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Create config stub in config/deploy.yml, secrets stub and sample hooks in .kamal
    Init(InitArgs),
    /// Show the reference of deploy.yml's sections and keys
    Docs(DocsArgs),
    /// Show kdeck's version and the Kamal version it follows
    Version,
    /// Upgrade from Kamal 1.x to 2.0 (Traefik to kamal-proxy, accessories into the kamal network)
    Upgrade(UpgradeArgs),
    /// Forward a local port to an accessory's or a role's container over the ssh connection (kdeck only)
    Tunnel(TunnelArgs),
}

/// `kdeck tunnel NAME [LOCAL:]PORT`.
#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// Accessory or role name
    pub name: String,
    /// The container's PORT, served on LOCAL here (LOCAL defaults to PORT; 0 picks a free one)
    #[arg(value_name = "[LOCAL:]PORT")]
    pub ports: String,
    /// Address to listen on here
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
}

#[derive(Debug, Args, Default)]
pub struct ConfigArgs {
    /// Dump the full resolved model (roles, env, proxy options, boot, ssh, accessories)
    #[arg(long)]
    pub resolved: bool,
    /// Include secret values in the output
    #[arg(long = "show-secrets")]
    pub show_secrets: bool,
}

#[derive(Debug, Args, Default)]
pub struct DashboardArgs {
    /// Hide every mutating action
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Deploys from the dashboard skip image build and push (as `kdeck deploy -P`)
    #[arg(short = 'P', long = "skip-push", alias = "skip_push")]
    pub skip_push: bool,
}

#[derive(Debug, Args, Default)]
pub struct WorkspaceArgs {
    /// The workspace file (default: $XDG_CONFIG_HOME/kdeck/workspace.toml, else ~/.config/kdeck/workspace.toml)
    #[arg(long = "file", short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub dashboard: DashboardArgs,
}

#[derive(Debug, Args, Default)]
pub struct DeployArgs {
    /// Skip image build and push
    #[arg(short = 'P', long = "skip-push", alias = "skip_push")]
    pub skip_push: bool,
    /// Build without using Docker's build cache
    #[arg(long = "no-cache", alias = "no_cache")]
    pub no_cache: bool,
    /// deploy only: the first boot group first, its traffic watched against the other hosts',
    /// then the rest — or the group rolled back when a threshold is crossed (kdeck only)
    #[arg(long)]
    pub canary: bool,
    /// Seconds of canary traffic to judge (5–600)
    #[arg(long = "canary-window", default_value_t = 60, value_parser = clap::value_parser!(u32).range(5..=600))]
    pub canary_window: u32,
    /// Stop the canary above this 5xx share of its requests (percent)
    #[arg(long = "canary-max-5xx", default_value_t = 1.0)]
    pub canary_max_5xx: f64,
    /// Stop the canary when its p95 exceeds this multiple of the other hosts' (+20 ms)
    #[arg(long = "canary-max-p95", default_value_t = 2.0)]
    pub canary_max_p95: f64,
    /// Fewer canary requests than this in the window: stop without a verdict (the canary stays)
    #[arg(long = "canary-min-requests", default_value_t = 20)]
    pub canary_min_requests: u64,
    /// With --canary on an app with one web host: kamal-proxy's own rollout there — the new
    /// version beside the live one, PERCENT % of the kamal-rollout cookie values sent to it
    /// (requests without that cookie stay on the live version), judged against the live one,
    /// then the rollout stopped and, when it passed, the usual deploy (kdeck only)
    #[arg(long = "canary-rollout", value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100), requires = "canary")]
    pub canary_rollout: Option<u8>,
    /// With --canary: kamal-rollout cookie values always sent to the new version
    /// (comma-separated; alone, a rollout canary of only these)
    #[arg(long = "canary-rollout-list", value_name = "VALUES", value_delimiter = ',', requires = "canary")]
    pub canary_rollout_list: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The version to roll back to; without it, pick from the versions every host still has
    // Not named `version`: that is the global `--version` option's id.
    #[arg(value_name = "VERSION")]
    pub target: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct DetailsArgs {
    /// Include host and container resources (memory, CPU, disk)
    #[arg(long)]
    pub resources: bool,
}
