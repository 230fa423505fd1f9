//! `proxy: run:` — how kamal-proxy is booted on a host when the config says so, rendered as
//! Kamal 2.11's `Kamal::Configuration::Proxy::Run` renders it (`docker run` options, image,
//! `kamal-proxy run` command). Without it, Kamal boots from the host's `.kamal/proxy/*` files.

use super::shell::{argumentize, escape_shell_value, optionize};
use super::{Config, Map, Proxy, Value};

/// kamal-proxy's image repository when `run.repository` is not set.
pub const DEFAULT_REPOSITORY: &str = "basecamp/kamal-proxy";
/// The oldest kamal-proxy Kamal 2.11 accepts (and boots when `run.version` is not set).
pub const MINIMUM_VERSION: &str = "v0.9.2";
/// kamal-proxy's apps-config volume (`--volume` value), whichever way it is booted.
pub const APPS_VOLUME: &str = "$PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config";

/// A host's kamal-proxy boot, rendered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProxyRun {
    /// After Kamal's fixed `docker run --name kamal-proxy …` options: the apps-config volume,
    /// published ports, logging, the metrics port, `run.options`.
    pub docker_options: Vec<String>,
    /// `[registry/]repository:version`.
    pub image: String,
    /// `kamal-proxy run [--debug] [--metrics-port "N"]`.
    pub run_command: String,
}

impl Config {
    /// The `proxy.run` that applies to `host`: the first of its roles' (config order), then of
    /// its accessories' (the config check refuses hosts where they differ).
    pub fn proxy_run(&self, host: &str) -> Option<&Map> {
        self.proxy_runs(host).into_iter().next()
    }

    /// Every `proxy.run` on `host`: its roles' (config order), then its accessories'
    /// (Kamal's `proxy_runs(host)`).
    pub(crate) fn proxy_runs(&self, host: &str) -> Vec<&Map> {
        let roles = self.roles.iter().filter(|r| r.hosts.iter().any(|h| h == host)).filter_map(|r| r.proxy());
        let accessories = self.accessories.iter().filter(|a| a.hosts.iter().any(|h| h == host)).filter_map(|a| a.proxy.as_ref());
        roles.chain(accessories).filter_map(Proxy::run).collect()
    }
}

/// `run_config.fetch(key, default)`: the value when the key is there (even `nil`).
fn fetch(run: &Map, key: &str, default: Value) -> Value {
    run.get(key).cloned().unwrap_or(default)
}

/// Render a `proxy.run` section.
pub fn render(run: &Map) -> ProxyRun {
    let metrics_port = run.get("metrics_port").filter(|v| v.present()).cloned();
    let mut docker_options = vec!["--volume".to_string(), APPS_VOLUME.to_string()];
    docker_options.extend(publish_args(run));
    let log_max_size = fetch(run, "log_max_size", Value::str("10m"));
    if log_max_size.present() {
        docker_options.extend(argumentize("--log-opt", &Value::Str(format!("max-size={}", log_max_size.to_rstring()))));
    }
    if let Some(p) = &metrics_port {
        docker_options.push(format!("--expose={}", p.to_rstring()));
    }
    if let Some(Value::Map(options)) = run.get("options") {
        docker_options.extend(optionize(options));
    }
    let repository = fetch(run, "repository", Value::str(DEFAULT_REPOSITORY));
    let registry = fetch(run, "registry", Value::Nil);
    let version = fetch(run, "version", Value::str(MINIMUM_VERSION));
    let repo = [&registry, &repository].into_iter().filter(|v| !v.is_nil()).map(Value::to_rstring).collect::<Vec<_>>().join("/");
    let image = format!("{repo}:{}", version.to_rstring());
    let mut run_command = "kamal-proxy run".to_string();
    if fetch(run, "debug", Value::Nil).truthy() {
        run_command.push_str(" --debug");
    }
    if let Some(p) = metrics_port {
        run_command.push_str(&format!(" --metrics-port {}", escape_shell_value(&p)));
    }
    ProxyRun { docker_options, image, run_command }
}

/// `--publish [ip:]http:80 --publish [ip:]https:443` per bind IP, unless `publish: false`.
fn publish_args(run: &Map) -> Vec<String> {
    if !fetch(run, "publish", Value::Bool(true)).truthy() {
        return vec![];
    }
    let http = fetch(run, "http_port", Value::Int(80)).to_rstring();
    let https = fetch(run, "https_port", Value::Int(443)).to_rstring();
    let ips: Vec<Option<String>> = match run.get("bind_ips") {
        Some(Value::Seq(ips)) => ips.iter().map(|ip| Some(bracket_ipv6(&ip.to_rstring()))).collect(),
        _ => vec![None],
    };
    let mut out = Vec::new();
    for ip in ips {
        let prefix = ip.map(|ip| format!("{ip}:")).unwrap_or_default();
        out.extend(["--publish".to_string(), format!("{prefix}{http}:80"), "--publish".to_string(), format!("{prefix}{https}:443")]);
    }
    out
}

/// The options `proxy boot_config set` writes to the host's `.kamal/proxy/options`: publish
/// args (unless `publish` is off, per bind IP), the log size, the metrics port's `--expose`
/// and each docker option as `--option`.
pub fn boot_options(
    publish: bool,
    bind_ips: &[String],
    http: u16,
    https: u16,
    log_max_size: &str,
    metrics_port: Option<u16>,
    docker_options: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    if publish {
        let ips: Vec<Option<String>> = if bind_ips.is_empty() { vec![None] } else { bind_ips.iter().map(|ip| Some(bracket_ipv6(ip))).collect() };
        for ip in ips {
            let prefix = ip.map(|ip| format!("{ip}:")).unwrap_or_default();
            out.extend(["--publish".to_string(), format!("{prefix}{http}:80"), "--publish".to_string(), format!("{prefix}{https}:443")]);
        }
    }
    if !log_max_size.is_empty() {
        out.extend(["--log-opt".to_string(), format!("max-size={log_max_size}")]);
    }
    if let Some(p) = metrics_port {
        out.push(format!("--expose={p}"));
    }
    out.extend(docker_options.iter().map(|o| format!("--{o}")));
    out
}

/// Kamal's boot options when none are set.
pub fn default_boot_options() -> Vec<String> {
    boot_options(true, &[], 80, 443, "10m", None, &[])
}

/// An IPv6 address inside square brackets (`[::1]`), as Docker's `--publish` wants it.
fn bracket_ipv6(ip: &str) -> String {
    if ip.contains(':') && !(ip.starts_with('[') && ip.ends_with(']')) {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> ProxyRun {
        let v = crate::config::yaml::parse(yaml).unwrap();
        render(v.as_map().unwrap())
    }

    #[test]
    fn defaults_are_kamals_boot_options() {
        let r = run("debug: false\n");
        assert_eq!(
            r.docker_options.join(" "),
            "--volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config --publish 80:80 --publish 443:443 --log-opt max-size=10m"
        );
        assert_eq!(r.image, "basecamp/kamal-proxy:v0.9.2");
        assert_eq!(r.run_command, "kamal-proxy run");
    }

    #[test]
    fn ports_metrics_options_and_image_are_rendered() {
        let r = run(
            "http_port: 8080\nhttps_port: 8443\nmetrics_port: 9090\ndebug: true\nlog_max_size: 50m\nregistry: registry.example.com\nrepository: ops/kamal-proxy\nversion: v0.9.4\noptions:\n  sysctl: net.core.somaxconn=1024\nbind_ips:\n  - 10.0.0.1\n  - \"::1\"\n",
        );
        assert_eq!(
            r.docker_options.join(" "),
            "--volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config --publish 10.0.0.1:8080:80 --publish 10.0.0.1:8443:443 --publish [::1]:8080:80 --publish [::1]:8443:443 --log-opt max-size=50m --expose=9090 --sysctl \"net.core.somaxconn=1024\""
        );
        assert_eq!(r.image, "registry.example.com/ops/kamal-proxy:v0.9.4");
        assert_eq!(r.run_command, "kamal-proxy run --debug --metrics-port \"9090\"");
    }

    #[test]
    fn publish_false_publishes_nothing() {
        assert!(!run("publish: false\n").docker_options.iter().any(|a| a == "--publish"));
    }
}
