//! `kdeck build …`: Kamal 2.11's build subcommands, names and options.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// Build and push app image to registry
    Push(BuildArgs),
    /// Build app and push app image to registry then pull image on servers
    Deliver,
    /// Pull app image from registry onto servers
    Pull,
    /// Create a build setup
    Create,
    /// Remove build setup
    Remove,
    /// Show build setup
    Details,
    /// Build using the working directory, tag it as dirty, and push to local image store.
    Dev(DevArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Exported type for the build result, and may be any exported type supported by 'buildx --output'.
    #[arg(long, value_name = "export_type", default_value = "registry")]
    pub output: String,
    /// Build without using Docker's build cache
    #[arg(long = "no-cache", alias = "no_cache")]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Exported type for the build result, and may be any exported type supported by 'buildx --output'.
    #[arg(long, value_name = "export_type", default_value = "docker")]
    pub output: String,
    /// Build without using Docker's build cache
    #[arg(long = "no-cache", alias = "no_cache")]
    pub no_cache: bool,
}
