//! `kdeck init`, `kdeck docs`, `kdeck version` (no config needed) and `kdeck upgrade`.

use clap::Args;

#[derive(Debug, Args, Default)]
pub struct InitArgs {
    /// Add Kamal to the Gemfile and create a bin/kamal binstub
    #[arg(long)]
    pub bundle: bool,
}

#[derive(Debug, Args, Default)]
pub struct DocsArgs {
    /// One section of deploy.yml (all sections without it)
    pub section: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct UpgradeArgs {
    /// Proceed without confirmation question
    #[arg(short = 'y', long)]
    pub confirmed: bool,
    /// Upgrade one host at a time
    #[arg(long)]
    pub rolling: bool,
}
