//! bollard over SSH: every HTTP request gets its own `direct-streamlocal` channel to the host's
//! `/var/run/docker.sock` on the shared connection (hyper http1 on top, upgrades on for
//! exec/attach). Dropping a response (e.g. a log stream) closes its channel, so dockerd ends
//! the request too.

use crate::ssh::Session;
use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::rt::TokioIo;

pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// API version spoken by default: dockerd 20.10's (1.41), which newer engines still accept
/// up to 28.x. Use [`super::connect`] to negotiate with the host instead.
pub const DEFAULT_API: ClientVersion = ClientVersion { major_version: 1, minor_version: 41 };

fn io_err(e: impl std::fmt::Display) -> bollard::errors::Error {
    bollard::errors::Error::IOError { err: std::io::Error::other(e.to_string()) }
}

pub fn docker_over_ssh(session: Session) -> Docker {
    let transport = move |req: BollardRequest| {
        let session = session.clone();
        async move {
            let stream = session.open_docker_stream(DOCKER_SOCKET).await.map_err(io_err)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            let host = session.host().to_string();
            tokio::spawn(async move {
                if let Err(e) = conn.with_upgrades().await {
                    tracing::debug!(host = %host, "docker api connection ended: {e}");
                }
            });
            let (mut parts, body) = req.into_parts();
            // dockerd wants origin-form and a Host header (400 without it).
            let pq = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
            parts.uri = pq.parse().map_err(io_err)?;
            parts.headers.insert(hyper::header::HOST, hyper::header::HeaderValue::from_static("docker"));
            let resp = sender.send_request(hyper::Request::from_parts(parts, body)).await?;
            Ok(resp)
        }
    };
    Docker::connect_with_custom_transport(transport, Some("http://docker"), 120, &DEFAULT_API).expect("custom transport construction does not fail")
}
