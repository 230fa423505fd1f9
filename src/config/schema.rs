//! The one table of deploy.yml's known keys: what the validator checks ([`super::validate`]
//! parses each section's text; every value stands for its type) and what `kdeck docs` prints
//! (the text after `#` on a key's line is that key's description). One text serves both, so
//! the reference cannot drift from what is accepted; `tests` below hold the two readings of
//! the text (the YAML parser's and the line scanner's) to the same key paths.
//!
//! Value legend: `s` a string, `1` an integer, `true` a boolean, `[s]` a list of strings,
//! `"..."` a hash checked by its own section, `{k: s}` a free-form hash of strings.

use super::value::Value;

/// One section of deploy.yml.
pub struct Section {
    /// `kdeck docs NAME`.
    pub name: &'static str,
    /// Where the section sits in deploy.yml and what it is for.
    pub summary: &'static str,
    /// The keys, as the validator reads them.
    pub text: &'static str,
}

/// Every section, in the order `kdeck docs` prints them.
pub const SECTIONS: &[Section] = &[
    Section { name: "configuration", summary: "The top level of config/deploy.yml (and config/deploy.DESTINATION.yml, merged over it). Keys starting with `x-` are ignored here, for YAML anchors.", text: CONFIGURATION },
    Section { name: "role", summary: "One role under `servers:` (`servers/<role>`): either a list of hosts, or a hash with these keys.", text: ROLE },
    Section { name: "accessory", summary: "One service under `accessories:` (`accessories/<name>`), run beside the app and not replaced by deploys. Exactly one of host, hosts, role, roles, tag, tags places it.", text: ACCESSORY },
    Section { name: "env", summary: "`env:` at the top level, in a role, or in an accessory: either a hash of NAME: value (all clear), or a hash with these keys.", text: ENV },
    Section { name: "proxy", summary: "`proxy:` at the top level (every role running the proxy) or in a role/accessory: how kamal-proxy routes to the app. A role may set `proxy: false`.", text: PROXY },
    Section { name: "builder", summary: "`builder:`: how the image is built (docker buildx), locally and/or on a remote builder.", text: BUILDER },
    Section { name: "registry", summary: "`registry:` (or an accessory's): where images are pushed and pulled. username and password are required unless the server is localhost:PORT; each is a string or a one-item list naming a secret.", text: REGISTRY },
    Section { name: "ssh", summary: "`ssh:`: how hosts are reached.", text: SSH },
    Section { name: "sshkit", summary: "`sshkit:`: connection pool tuning.", text: SSHKIT },
    Section { name: "boot", summary: "`boot:`: how many hosts boot the new version at once.", text: BOOT },
    Section { name: "logging", summary: "`logging:` at the top level or in a role: the Docker log driver of the containers.", text: LOGGING },
];

/// The section called `name`.
pub fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// Hash-valued keys whose own keys are free (never an unknown key).
pub fn free_form(key: &str) -> bool {
    matches!(key, "options" | "args" | "labels" | "clear")
}

const CONFIGURATION: &str = r#"
service: s  # Name of the app; containers are named <service>-<role>-<version>
image: s  # Image name, without the registry server (that comes from registry/server)
labels: {k: s}  # Extra Docker labels on every app container (destination, role, service are reserved)
volumes: [s]  # Volumes mounted into every app container, as docker --volume takes them
registry: "..."  # Image registry (see `kdeck docs registry`)
servers: "..."  # A list of hosts (all in role web), or a hash of roles (see `kdeck docs role`)
env: "..."  # Environment of every app container (see `kdeck docs env`)
asset_path: s  # Path inside the image whose files are kept across versions during a deploy
hooks_path: s  # Directory of the hook scripts (default .kamal/hooks)
hooks_output: s  # Show hook output: a level for all hooks, or a hash of hook name to level
secrets_path: s  # File of secrets (default .kamal/secrets, destination variant beside it)
error_pages_path: s  # Directory of HTML error pages handed to kamal-proxy
require_destination: true  # Refuse to run without -d DESTINATION
primary_role: s  # Role whose first host is the primary host (default web)
allow_empty_roles: true  # Accept roles without hosts
retain_containers: 1  # Old containers and images kept by prune (default 5)
minimum_version: s  # Oldest Kamal version this config accepts
readiness_delay: 1  # Seconds to wait before a container without proxy counts as up
deploy_timeout: 1  # Seconds a new container has to become healthy
drain_timeout: 1  # Seconds an old container has to finish requests when stopped
run_directory: s  # Directory on the hosts for Kamal's files (default .kamal)
ssh: "..."  # How hosts are reached (see `kdeck docs ssh`)
builder: "..."  # How the image is built (see `kdeck docs builder`)
accessories: "..."  # Hash of accessory name to settings (see `kdeck docs accessory`)
proxy: "..."  # Proxy settings of the roles that run the proxy (see `kdeck docs proxy`)
sshkit: "..."  # Connection tuning (see `kdeck docs sshkit`)
boot: "..."  # Boot batches (see `kdeck docs boot`)
logging: "..."  # Container logging (see `kdeck docs logging`)
aliases: "..."  # Hash of alias name to a command line, run as `kdeck NAME`
"#;

const ROLE: &str = r#"
hosts: [s]  # The role's hosts: each a host, or a hash of host to tag(s) (see env tags)
cmd: s  # Command the role's containers run instead of the image's
options: {k: s}  # Extra docker run options (restart cannot be set)
logging: "..."  # The role's container logging (see `kdeck docs logging`)
proxy: "..."  # Proxy settings for this role, or true/false to run it or not
labels: {k: s}  # Extra Docker labels on the role's containers
env: "..."  # Environment of the role's containers, merged over the top-level env
asset_path: s  # As the top-level asset_path, for this role
"#;

const ACCESSORY: &str = r#"
service: s  # Container name (default <app service>-<accessory name>)
image: s  # Image, with its registry when not Docker Hub
registry: "..."  # Registry to log in to for this image (see `kdeck docs registry`)
host: s  # The one host it runs on
hosts: [s]  # The hosts it runs on
role: s  # Runs on every host of this role
roles: [s]  # Runs on every host of these roles
tag: s  # Runs on every host with this tag
tags: [s]  # Runs on every host with one of these tags
cmd: s  # Command instead of the image's
port: s  # Published port, as docker --publish takes it
labels: {k: s}  # Extra Docker labels
options: {k: s}  # Extra docker run options (restart cannot be set)
env: "..."  # Environment of the container (see `kdeck docs env`)
files: [s]  # Local files uploaded and mounted: local:remote[:mode], or a hash local/remote/mode/owner/options
directories: [s]  # Host directories created and mounted: host:container, or a hash local/remote/mode/owner/options
volumes: [s]  # Volumes, as docker --volume takes them
network: s  # Docker network (default kamal)
proxy: "..."  # Route traffic to it through kamal-proxy (see `kdeck docs proxy`)
"#;

const ENV: &str = r#"
clear: {k: s}  # Variables written in the clear
secret: [s]  # Names of secrets (from the secrets file) passed as variables; NAME:SECRET renames
tags: "..."  # Top-level env only: hash of host tag to an env (clear/secret) for hosts with that tag
"#;

const BOOT: &str = r#"
limit: s  # Hosts booting at once: a number or a percentage like 25%
wait: 1  # Seconds between batches
parallel_roles: true  # Boot the roles of one host at the same time
"#;

const BUILDER: &str = r#"
arch: [s]  # Required: architecture(s) to build, amd64 and/or arm64 (one, or a list)
remote: s  # Builder host for the architectures not built locally, e.g. ssh://user@host
local: true  # Build locally (false needs a remote)
pack:  # Build with Cloud Native Buildpacks instead of a Dockerfile
  builder: s  # Buildpack builder image
  buildpacks: [s]  # Buildpacks to apply
cache:  # Build cache
  type: s  # gha or registry
  options: s  # Extra cache options, as buildx takes them
  image: s  # Cache image (registry type)
context: s  # Build context (default the git clone of HEAD; "." for the working tree)
dockerfile: s  # Dockerfile path (default Dockerfile)
target: s  # Build stage to stop at
args: {k: s}  # Build arguments
secrets: [s]  # Names of secrets passed to the build as build secrets
ssh: s  # SSH agent socket or keys forwarded to the build
driver: s  # buildx driver (default docker-container)
provenance: s  # Provenance attestation setting, as buildx takes it
sbom: true  # Attach a software bill of materials
"#;

const LOGGING: &str = r#"
driver: s  # Docker log driver
options: {k: s}  # Log driver options, e.g. max-size
"#;

const PROXY: &str = r#"
host: s  # Host name routed to the app
hosts: [s]  # Host names routed to the app (not with host)
app_port: 1  # Port the app listens on in its container (default 80)
ssl: true  # Let's Encrypt certificates (true), or a hash certificate_pem/private_key_pem naming secrets
ssl_redirect: true  # Redirect HTTP to HTTPS when ssl is on
forward_headers: true  # Pass X-Forwarded-* headers through
response_timeout: 1  # Seconds a request may take
path_prefix: s  # Route only requests under this path
path_prefixes: [s]  # Route only requests under these paths
strip_path_prefix: true  # Remove the prefix before the request reaches the app
healthcheck:  # How the proxy checks a new container before sending it traffic
  interval: 1  # Seconds between checks
  path: s  # Path checked (default /up)
  timeout: 1  # Seconds a check may take
buffering:  # Request and response buffering
  requests: true  # Buffer request bodies
  responses: true  # Buffer response bodies
  max_request_body: 1  # Largest request body in bytes
  max_response_body: 1  # Largest response body in bytes
  memory: 1  # Bytes buffered in memory before spilling to disk
logging:  # Headers written to the proxy's request log
  request_headers: [s]  # Request headers logged
  response_headers: [s]  # Response headers logged
run:  # How kamal-proxy itself runs on the host (one setting per host)
  http_port: 1  # Published HTTP port (default 80)
  https_port: 1  # Published HTTPS port (default 443)
  metrics_port: 1  # Port of the metrics endpoint
  debug: true  # Debug logging
  log_max_size: s  # Largest proxy log file, e.g. 10m
  publish: true  # Publish the ports (false: reachable only on the Docker network)
  bind_ips: [s]  # Addresses the ports are published on
  registry: s  # Registry of the proxy image
  repository: s  # Repository of the proxy image
  version: s  # Version of the proxy image
  options: {k: s}  # Extra docker run options of the proxy container
"#;

const REGISTRY: &str = r#"
server: s  # Registry host (default Docker Hub); localhost:PORT runs a local registry
username: s  # User name, or a one-item list naming a secret
password: s  # Password, or a one-item list naming a secret
"#;

const SSH: &str = r#"
user: s  # Login user (default root)
port: s  # Port (default 22)
proxy: s  # Jump host, user@host or host
proxy_command: s  # Command used to reach the host, as ssh's ProxyCommand
log_level: s  # SSH library log level
keys_only: true  # Use only the keys given here
keys: [s]  # Private key files
key_data: [s]  # Private keys given inline (usually from secrets)
config: [s]  # OpenSSH config files to read (true: the defaults, false: none)
"#;

const SSHKIT: &str = r#"
max_concurrent_starts: 1  # Connections opened at the same time
pool_idle_timeout: 1  # Seconds an idle connection is kept
dns_retries: 1  # Retries of a failed host name lookup
"#;

/// The key paths of a section as the validator reads its text (`run/http_port`): nested hashes
/// are walked, free-form ones are not.
pub fn key_paths(s: &Section) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        let Value::Map(m) = v else { return };
        for (k, val) in m.iter() {
            let k = k.to_rstring();
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}/{k}") };
            out.push(path.clone());
            if !free_form(&k) {
                walk(val, &path, out);
            }
        }
    }
    let mut out = vec![];
    if let Ok(v) = super::yaml::parse(s.text) {
        walk(&v, "", &mut out);
    }
    out
}

/// One documented key, as the line scanner reads the text.
pub struct KeyDoc {
    pub path: String,
    pub depth: usize,
    pub example: String,
    pub doc: String,
}

/// The keys of a section with their descriptions, in text order.
pub fn key_docs(s: &Section) -> Vec<KeyDoc> {
    let mut stack: Vec<String> = vec![];
    let mut out = vec![];
    for line in s.text.lines().filter(|l| !l.trim().is_empty()) {
        let depth = (line.len() - line.trim_start().len()) / 2;
        let (entry, doc) = line.trim().split_once("  # ").map(|(a, b)| (a, b.trim())).unwrap_or((line.trim(), ""));
        let Some((key, example)) = entry.split_once(':') else { continue };
        stack.truncate(depth);
        stack.push(key.to_string());
        out.push(KeyDoc { path: stack.join("/"), depth, example: example.trim().to_string(), doc: doc.to_string() });
    }
    out
}

/// What a key accepts, in words, from its example value.
fn type_words(key: &str, example: &str) -> &'static str {
    match (key, example) {
        ("ssl", _) => "boolean or hash",
        ("hooks_output", _) => "string or hash",
        ("servers", _) => "list or hash",
        ("proxy", _) => "hash or boolean",
        ("hosts", _) => "list of hosts",
        ("arch", _) | ("config", _) => "string or list",
        ("files" | "directories", _) => "list",
        (_, "s") => "string",
        (_, "1") => "integer",
        (_, "true") => "boolean",
        (_, "[s]") => "list of strings",
        (_, "{k: s}") => "hash of strings",
        _ => "hash",
    }
}

/// `kdeck docs SECTION`: the section's summary and each key with its type and description.
pub fn render(s: &Section) -> String {
    let docs = key_docs(s);
    let width = docs.iter().map(|d| d.depth * 2 + d.path.rsplit('/').next().unwrap_or("").len()).max().unwrap_or(0);
    let mut out = format!("{}\n\n{}\n\n", s.name, s.summary);
    for d in &docs {
        let key = d.path.rsplit('/').next().unwrap_or("");
        let name = format!("{}{key}", "  ".repeat(d.depth));
        out.push_str(&format!("  {name:<width$}  {:<16} {}\n", type_words(key, &d.example), d.doc));
    }
    out
}

/// `kdeck docs`: every section.
pub fn render_all() -> String {
    SECTIONS.iter().map(render).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_validator_reads_is_documented_and_every_documented_key_is_read() {
        for s in SECTIONS {
            let read = key_paths(s);
            let documented: Vec<String> = key_docs(s).into_iter().map(|d| d.path).collect();
            assert_eq!(read, documented, "section {}", s.name);
            assert!(!read.is_empty(), "section {} has keys", s.name);
        }
    }

    #[test]
    fn every_documented_key_has_a_description() {
        for s in SECTIONS {
            for d in key_docs(s) {
                assert!(!d.doc.is_empty(), "{}: {} has no description", s.name, d.path);
            }
        }
    }

    #[test]
    fn rendered_docs_name_every_key_with_its_type() {
        let proxy = render(section("proxy").expect("proxy"));
        assert!(proxy.contains("    interval"), "{proxy}");
        assert!(proxy.contains("boolean or hash"), "{proxy}");
        assert!(render_all().contains("\nsshkit\n"));
    }
}
