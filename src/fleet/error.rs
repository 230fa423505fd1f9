//! What can go wrong reading a host for the live picture (the raw Docker API and host execs).

/// A read from one host's engine or shell failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The connection, or a channel on it.
    #[error(transparent)]
    Ssh(#[from] crate::ssh::SshError),
    /// The HTTP exchange with dockerd over the forwarded socket.
    #[error("{0}")]
    Http(String),
    /// dockerd answered with an error status.
    #[error("GET {path}: {status}: {body}")]
    Status { path: String, status: String, body: String },
    /// dockerd's answer was not the JSON it documents.
    #[error("GET {path}: bad JSON: {source}")]
    Json { path: String, source: serde_json::Error },
}
