//! `kdeck proxy …`.

use super::LogsArgs;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Boot proxy on servers
    Boot,
    /// Reboot proxy on servers (stop container, remove container, start new container)
    Reboot {
        /// Reboot proxy on hosts in sequence, rather than in parallel
        #[arg(long)]
        rolling: bool,
        /// Proceed without confirmation question
        #[arg(short = 'y', long)]
        confirmed: bool,
    },
    /// Show details about proxy container from servers
    Details,
    /// Show log lines from proxy on servers
    Logs(LogsArgs),
}
