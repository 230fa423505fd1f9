//! `kdeck accessory …`.

use super::LogsArgs;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AccessoryCommand {
    /// Boot new accessory service on host (use NAME=all to boot all accessories)
    Boot { name: String },
    /// Reboot existing accessory on host (stop container, remove container, start new container)
    Reboot { name: String },
    /// Show details about accessory on host (use NAME=all to show all accessories)
    Details { name: String },
    /// Show log lines from accessory on host
    Logs {
        name: String,
        #[command(flatten)]
        args: LogsArgs,
    },
    /// Start existing accessory container on host
    Start { name: String },
    /// Stop existing accessory container on host
    Stop { name: String },
    /// Restart existing accessory container on host
    Restart { name: String },
    /// Execute a custom command on servers within the accessory container (use --help to show options)
    Exec {
        name: String,
        /// Execute command over ssh for an interactive shell (use for console/bash)
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Reuse currently running container instead of starting a new one
        #[arg(long)]
        reuse: bool,
        /// The command (quote it when it has options)
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Remove accessory container, image and data directory from host (use NAME=all to remove all accessories)
    Remove {
        name: String,
        /// Proceed without confirmation question
        #[arg(short = 'y', long)]
        confirmed: bool,
    },
    /// Upgrade accessories from Kamal 1.x to 2.0 (restart them in 'kamal' network)
    Upgrade {
        name: String,
        /// Upgrade one host at a time
        #[arg(long)]
        rolling: bool,
        /// Proceed without confirmation question
        #[arg(short = 'y', long)]
        confirmed: bool,
    },
}
