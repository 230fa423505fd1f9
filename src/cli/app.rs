//! `kdeck app …`: the app containers, and the log options shared with proxy and accessories.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Boot app on servers (or reboot app if already running)
    Boot,
    /// Start existing app container on servers
    Start,
    /// Stop app container on servers
    Stop,
    /// Show details about app containers
    Details,
    /// Show app containers on servers
    Containers,
    /// Show app images on servers
    Images,
    /// Show app version currently running on servers
    Version,
    /// Show log lines from app on servers (use -f to follow all hosts)
    Logs(LogsArgs),
    /// Execute a custom command on servers within the app container
    Exec(ExecArgs),
    /// Detect app stale containers
    // Kamal's spelling first; Thor accepts the dashed form too.
    #[command(name = "stale_containers", alias = "stale-containers")]
    StaleContainers(StaleArgs),
    /// Set the app to maintenance mode
    Maintenance {
        /// How long to allow in-flight requests to complete (defaults to drain_timeout from config)
        #[arg(long = "drain-timeout", alias = "drain_timeout", value_name = "SECONDS")]
        drain_timeout: Option<u64>,
        /// Message to display to clients while stopped
        #[arg(long)]
        message: Option<String>,
    },
    /// Set the app to live mode
    Live,
    /// Remove app containers and images from servers
    Remove,
}

#[derive(Debug, Args, Default)]
pub struct LogsArgs {
    /// Show lines from this timestamp or duration (e.g. 2013-01-02T13:23:37Z, 42m)
    #[arg(short = 's', long)]
    pub since: Option<String>,
    /// Show this many lines from the end of the logs
    #[arg(short = 'n', long)]
    pub lines: Option<u32>,
    /// Show lines with grep match only
    #[arg(short = 'g', long)]
    pub grep: Option<String>,
    /// Additional options supplied to grep
    #[arg(long = "grep-options", alias = "grep_options")]
    pub grep_options: Option<String>,
    /// Follow log on all hosts and roles, merged
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Skip appending timestamps to logging output
    #[arg(short = 'T', long = "skip-timestamps", alias = "skip_timestamps")]
    pub skip_timestamps: bool,
    /// Docker container ID to fetch logs
    #[arg(long = "container-id", alias = "container_id")]
    pub container_id: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct ExecArgs {
    /// Execute command over ssh for an interactive shell (use for console/bash)
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Reuse currently running container instead of starting a new one
    #[arg(long)]
    pub reuse: bool,
    /// Set environment variables for the command (KEY=VALUE)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Run the command in a detached container
    #[arg(long)]
    pub detach: bool,
    /// The command (quote it when it has options)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct StaleArgs {
    /// Stop the stale containers found
    #[arg(short = 's', long)]
    pub stop: bool,
}
