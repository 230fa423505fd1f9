//! `kdeck lock …` and `kdeck prune …`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Report lock status
    Status,
    /// Acquire the deploy lock
    Acquire {
        /// A lock message
        #[arg(short = 'm', long)]
        message: String,
    },
    /// Release the deploy lock
    Release,
}

#[derive(Debug, Subcommand)]
pub enum PruneCommand {
    /// Prune unused images and stopped containers
    All,
    /// Prune all stopped containers, except the last n (default 5)
    Containers {
        #[arg(long)]
        retain: Option<usize>,
    },
    /// Prune unused images
    Images,
}
