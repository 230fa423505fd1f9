//! Plain JSON GETs to the host's Docker API over the shared connection. Used where bollard's
//! models (generated for API 1.53) do not match what dockerd 20.10 (API 1.41) sends, e.g.
//! `/system/df`, and where a few fields of big listings are all we need.

use super::FleetError;
use crate::ssh::Session;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// `GET <path>` (path and query, e.g. `/v1.41/system/df`) → parsed JSON.
pub async fn get_json(session: &Session, path: &str) -> Result<serde_json::Value, FleetError> {
    let http = |e: &dyn std::fmt::Display| FleetError::Http(e.to_string());
    let stream = session.open_unix_stream(crate::docker::transport::DOCKER_SOCKET).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await.map_err(|e| http(&e))?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::get(path).header(hyper::header::HOST, "docker").body(Empty::<Bytes>::new()).map_err(|e| http(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| http(&e))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| http(&e))?.to_bytes();
    task.abort();
    if !status.is_success() {
        return Err(FleetError::Status { path: path.into(), status: status.to_string(), body: String::from_utf8_lossy(&body).trim().to_string() });
    }
    serde_json::from_slice(&body).map_err(|source| FleetError::Json { path: path.into(), source })
}

/// Percent-encodes a query value (filters JSON).
pub fn enc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => o.push(b as char),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// `?filters=` value for label filters.
pub fn label_filters(labels: &[&str]) -> String {
    enc(&serde_json::json!({ "label": labels }).to_string())
}

pub fn u64_of(v: &serde_json::Value, k: &str) -> u64 {
    v.get(k).and_then(|x| x.as_i64()).filter(|x| *x > 0).unwrap_or(0) as u64
}

pub fn str_of(v: &serde_json::Value, k: &str) -> String {
    v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string()
}

pub fn strs_of(v: &serde_json::Value, k: &str) -> Vec<String> {
    v.get(k).and_then(|x| x.as_array()).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}
