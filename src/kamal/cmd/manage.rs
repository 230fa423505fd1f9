//! Commands of the management actions outside a deploy (Kamal 2.11): maintenance and live mode,
//! removing the app or the proxy, proxy start/stop, registry logout, server exec and bootstrap.

use crate::kamal::app::AppSpec;
use crate::kamal::ruby::escape_shell_value;

// ---------------------------------------------------------------- maintenance / live

/// `app maintenance`: kamal-proxy stops the role's service (503 with the message).
pub fn proxy_maintenance(app: &AppSpec, role: &str, drain_timeout: u64, message: Option<&str>) -> String {
    let mut s = format!("docker exec kamal-proxy kamal-proxy stop {} --drain-timeout={}", app.prefix(role), escape_shell_value(&format!("{drain_timeout}s")));
    if let Some(m) = message {
        s.push_str(&format!(" --message={}", escape_shell_value(m)));
    }
    s
}

/// `app live`: kamal-proxy resumes the role's service.
pub fn proxy_live(app: &AppSpec, role: &str) -> String {
    format!("docker exec kamal-proxy kamal-proxy resume {}", app.prefix(role))
}

// ---------------------------------------------------------------- app remove

/// Every container of the role, stopped or not.
pub fn app_remove_containers(app: &AppSpec, role: &str) -> String {
    format!("docker container prune --force {}", super::filters(app, Some(role)))
}

/// Every image of the service (all destinations: Kamal filters on the service only).
pub fn app_remove_images(app: &AppSpec) -> String {
    format!("docker image prune --all --force --filter label=service={}", app.service)
}

/// `.kamal/apps/<service>[-<destination>]`: env files, assets.
pub fn app_directory(app: &AppSpec) -> String {
    format!(".kamal/apps/{}", app.service_and_destination())
}

pub fn remove_app_directory(app: &AppSpec) -> String {
    format!("/usr/bin/env rm -r {}", app_directory(app))
}

/// The app's directory in kamal-proxy's config volume (error pages).
pub fn remove_proxy_app_directory(app: &AppSpec) -> String {
    format!("/usr/bin/env rm -r .kamal/proxy/apps-config/{}", app.service_and_destination())
}

/// How many apps (any service) still have a directory on the host.
pub fn app_directory_count() -> String {
    "/usr/bin/env ls .kamal/apps | wc -l".into()
}

// ---------------------------------------------------------------- proxy start / stop / remove

pub fn proxy_start() -> String {
    "docker container start kamal-proxy".into()
}

pub fn proxy_remove_image() -> String {
    "docker image prune --all --force --filter label=org.opencontainers.image.title=kamal-proxy".into()
}

pub fn remove_proxy_directory() -> String {
    "/usr/bin/env rm -r .kamal/proxy".into()
}

// ---------------------------------------------------------------- registry

/// `docker logout [server]`.
pub fn docker_logout(app: &AppSpec) -> String {
    match app.registry.server.as_deref().filter(|s| !s.is_empty()) {
        Some(server) => format!("docker logout {server}"),
        None => "docker logout".into(),
    }
}

/// The local registry's container removed (`registry remove`; set up by
/// [`super::builder::local_registry_setup`]).
pub fn local_registry_remove() -> String {
    "docker stop kamal-docker-registry && docker rm kamal-docker-registry".into()
}

// ---------------------------------------------------------------- server exec / bootstrap

/// A command given on the command line as SSHKit sends it: a bare word through `/usr/bin/env`,
/// anything with a space as it is.
pub fn server_command(cmd: &str) -> String {
    if cmd.chars().any(char::is_whitespace) {
        cmd.to_string()
    } else {
        format!("/usr/bin/env {cmd}")
    }
}

/// Docker's client answers (is Docker installed?).
pub fn docker_installed() -> String {
    "docker -v".into()
}

/// Root, or sudo allowed to run usermod without a password.
pub fn superuser() -> String {
    "[ \"${EUID:-$(id -u)}\" -eq 0 ] || sudo -nl usermod >/dev/null".into()
}

/// Docker's convenience script, from curl or wget.
pub fn docker_install() -> String {
    "/usr/bin/env sh -c 'curl -fsSL https://get.docker.com || wget -O - https://get.docker.com || echo \"exit 1\"' | sh".into()
}

pub fn root() -> String {
    "[ \"${EUID:-$(id -u)}\" -eq 0 ]".into()
}

pub fn in_docker_group() -> String {
    "id -nG \"${USER:-$(id -un)}\" | grep -qw docker".into()
}

pub fn add_to_docker_group() -> String {
    "sudo -n usermod -aG docker \"${USER:-$(id -un)}\"".into()
}

pub fn refresh_session() -> String {
    "kill -HUP $PPID".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(dest: Option<&str>) -> AppSpec {
        AppSpec { service: "klabapp".into(), destination: dest.map(Into::into), ..Default::default() }
    }

    #[test]
    fn maintenance_sends_drain_timeout_and_message_as_kamal() {
        assert_eq!(
            proxy_maintenance(&app(None), "web", 10, Some("Back soon")),
            "docker exec kamal-proxy kamal-proxy stop klabapp-web --drain-timeout=\"10s\" --message=\"Back soon\""
        );
        assert_eq!(proxy_maintenance(&app(None), "web", 30, None), "docker exec kamal-proxy kamal-proxy stop klabapp-web --drain-timeout=\"30s\"");
        assert_eq!(proxy_live(&app(Some("staging")), "web"), "docker exec kamal-proxy kamal-proxy resume klabapp-web-staging");
    }

    #[test]
    fn app_remove_commands_match_kamals_trace() {
        let a = app(Some("staging"));
        assert_eq!(
            app_remove_containers(&a, "web"),
            "docker container prune --force --filter label=service=klabapp --filter label=destination=staging --filter label=role=web"
        );
        assert_eq!(app_remove_images(&a), "docker image prune --all --force --filter label=service=klabapp");
        assert_eq!(remove_app_directory(&a), "/usr/bin/env rm -r .kamal/apps/klabapp-staging");
        assert_eq!(remove_proxy_app_directory(&a), "/usr/bin/env rm -r .kamal/proxy/apps-config/klabapp-staging");
    }

    #[test]
    fn server_command_maps_a_bare_word_through_env() {
        assert_eq!(server_command("uptime"), "/usr/bin/env uptime");
        assert_eq!(server_command("ls -la /"), "ls -la /");
    }
}
