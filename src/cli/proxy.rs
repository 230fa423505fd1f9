//! `kdeck proxy …`.

use super::LogsArgs;
use clap::{Args, Subcommand};

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
    /// Requests per host and app version, read live from kamal-proxy's request log (kdeck only)
    Traffic(TrafficArgs),
    /// Start existing proxy container on servers
    Start,
    /// Stop existing proxy container on servers
    Stop,
    /// Restart existing proxy container on servers
    Restart,
    /// Remove proxy container and image from servers
    Remove {
        /// Force removing proxy when apps are still installed
        #[arg(long)]
        force: bool,
    },
    /// Manage kamal-proxy boot configuration (deprecated in Kamal: set `proxy: run:` instead)
    #[command(name = "boot_config", alias = "boot-config")]
    BootConfig(BootConfigArgs),
}

/// `proxy traffic`: figures over the last 10 s, minute and 10 minutes per host × service × target.
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Keep following: print the figures again every --interval (Ctrl-C stops)
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print JSON: one object (with -f, one object per line)
    #[arg(long)]
    pub json: bool,
    /// History to read first, e.g. 30s, 5m, 10m (longer than 10m reads more but shows 10m at most)
    #[arg(long, default_value = "10m", value_parser = parse_span)]
    pub since: i64,
    /// Seconds between two prints with -f
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
}

/// `30s`, `5m`, `2h` or plain seconds → seconds.
fn parse_span(s: &str) -> Result<i64, String> {
    let (num, unit) = s.trim().split_at(s.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(s.trim().len()));
    let n: i64 = num.parse().map_err(|_| format!("`{s}` is not a duration (use e.g. 30s, 5m, 1h)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use s, m or h)")),
    };
    Ok(n * mult)
}

/// `proxy boot_config <set|get|reset>` and the options of `set`.
#[derive(Debug, Args)]
pub struct BootConfigArgs {
    /// set, get or reset
    #[arg(value_parser = ["set", "get", "reset"])]
    pub subcommand: String,
    /// Publish the proxy ports on the host (--no-publish: don't)
    #[arg(long, overrides_with = "no_publish")]
    pub publish: bool,
    #[arg(long = "no-publish", alias = "no_publish", hide = true)]
    pub no_publish: bool,
    /// Host IP address to bind HTTP/HTTPS traffic to. Defaults to all interfaces
    #[arg(long = "publish-host-ip", alias = "publish_host_ip")]
    pub publish_host_ip: Vec<String>,
    /// HTTP port to publish on the host
    #[arg(long = "http-port", alias = "http_port", default_value_t = 80)]
    pub http_port: u16,
    /// HTTPS port to publish on the host
    #[arg(long = "https-port", alias = "https_port", default_value_t = 443)]
    pub https_port: u16,
    /// Max size of proxy logs
    #[arg(long = "log-max-size", alias = "log_max_size", default_value = "10m")]
    pub log_max_size: String,
    /// Registry to use for the proxy image
    #[arg(long)]
    pub registry: Option<String>,
    /// Repository for the proxy image
    #[arg(long)]
    pub repository: Option<String>,
    /// Version of the proxy to run
    #[arg(long = "image-version", alias = "image_version")]
    pub image_version: Option<String>,
    /// Port to report prometheus metrics on
    #[arg(long = "metrics-port", alias = "metrics_port")]
    pub metrics_port: Option<u16>,
    /// Whether to run the proxy in debug mode
    #[arg(long)]
    pub debug: bool,
    /// Docker options to pass to the proxy container (option=value option2=value2)
    #[arg(long = "docker-options", alias = "docker_options", num_args = 1..)]
    pub docker_options: Vec<String>,
}
