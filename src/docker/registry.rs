//! The registry's HTTP API v2 (the Docker distribution API), asked from here as `docker login`
//! and `docker push` ask it: is the registry reachable, does it accept the credentials, which
//! tags does the app's image have, and when was each one built (the `created` of its image
//! config). HTTPS with the system's roots first (`SSL_CERT_FILE` honoured); a registry that
//! does not speak TLS is asked over plain HTTP, as Docker does for an insecure registry, but
//! credentials go over plain HTTP only to a loopback address. Basic and Bearer token
//! challenges are answered as Docker answers them. Passwords and tokens are never part of an
//! error or a log line.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach the registry {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("the registry {server} did not answer within {secs} s")]
    Timeout { server: String, secs: u64 },
    #[error("the registry {server} refused the credentials of {user} (HTTP {status})")]
    Refused { server: String, user: String, status: u16 },
    #[error("the registry {server} asks for credentials and none are configured (registry.username, registry.password)")]
    NoCredentials { server: String },
    #[error("the registry {server} speaks plain HTTP and asks for credentials: kdeck does not send them unencrypted")]
    PlainHttpCredentials { server: String },
    #[error("the registry {server} answered {what} with HTTP {status}")]
    Status { server: String, what: String, status: u16 },
    #[error("the registry {server} answered {what} with something unreadable: {reason}")]
    Unreadable { server: String, what: String, reason: String },
}

/// Where and as whom: `registry.server` (None: Docker Hub) and the resolved credentials.
#[derive(Clone, Default)]
pub struct RegistryAuth {
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A tag of the image and when its image was built (None: the registry did not say).
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub name: String,
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scheme {
    Https,
    Http,
}

/// One registry, asked over one connection per request (a handful of requests per dialog).
pub struct Registry {
    /// `host[:port]` as it is dialled (Docker Hub: `registry-1.docker.io`).
    host: String,
    /// As the operator wrote it (errors name it).
    shown: String,
    auth: RegistryAuth,
    timeout: Duration,
    scheme: Mutex<Option<Scheme>>,
    /// The `Authorization` value that worked last (Basic or a Bearer token).
    authorization: Mutex<Option<String>>,
}

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Registry {
    pub fn new(auth: RegistryAuth, timeout: Duration) -> Registry {
        let shown = auth.server.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "docker.io".into());
        let host = match shown.as_str() {
            "docker.io" | "index.docker.io" | "registry.hub.docker.com" => "registry-1.docker.io".to_string(),
            s => s.trim_end_matches('/').to_string(),
        };
        Registry { host, shown, auth, timeout, scheme: Mutex::new(None), authorization: Mutex::new(None) }
    }

    /// The repository name inside the registry for an image (`user/app`; Docker Hub's
    /// one-word images live under `library/`).
    pub fn repository_name(&self, image: &str) -> String {
        if self.host == "registry-1.docker.io" && !image.contains('/') {
            format!("library/{image}")
        } else {
            image.to_string()
        }
    }

    /// `GET /v2/`: the registry answers and takes the credentials.
    pub async fn check(&self) -> Result<(), RegistryError> {
        self.get("/v2/", "the API check", &[]).await.map(|_| ())
    }

    /// The image's tags (`/v2/<name>/tags/list`), up to `max`.
    pub async fn tags(&self, name: &str, max: usize) -> Result<Vec<String>, RegistryError> {
        let what = "the tag list";
        let a = self.get(&format!("/v2/{name}/tags/list?n={max}"), what, &[]).await?;
        #[derive(serde::Deserialize)]
        struct List {
            tags: Option<Vec<String>>,
        }
        let l: List = serde_json::from_slice(&a.body).map_err(|e| self.unreadable(what, e))?;
        Ok(l.tags.unwrap_or_default().into_iter().take(max).collect())
    }

    /// When the image behind `tag` was built: its manifest (the first of a list), then the
    /// `created` of its config blob.
    pub async fn created(&self, name: &str, tag: &str) -> Result<Option<DateTime<Utc>>, RegistryError> {
        const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json";
        let what = "a manifest";
        let mut manifest: serde_json::Value = {
            let a = self.get(&format!("/v2/{name}/manifests/{tag}"), what, &[("accept", ACCEPT)]).await?;
            serde_json::from_slice(&a.body).map_err(|e| self.unreadable(what, e))?
        };
        if let Some(first) = manifest.get("manifests").and_then(|m| m.get(0)).and_then(|m| m.get("digest")).and_then(|d| d.as_str()) {
            let a = self.get(&format!("/v2/{name}/manifests/{first}"), what, &[("accept", ACCEPT)]).await?;
            manifest = serde_json::from_slice(&a.body).map_err(|e| self.unreadable(what, e))?;
        }
        let Some(config) = manifest.get("config").and_then(|c| c.get("digest")).and_then(|d| d.as_str()) else { return Ok(None) };
        let a = self.get(&format!("/v2/{name}/blobs/{config}"), "an image config", &[]).await?;
        let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| self.unreadable("an image config", e))?;
        Ok(v.get("created").and_then(|c| c.as_str()).and_then(|c| DateTime::parse_from_rfc3339(c).ok()).map(|c| c.with_timezone(&Utc)))
    }

    /// The tags with their ages, newest first (ages asked for at most `aged` tags, the last
    /// ones of the registry's list).
    pub async fn tags_with_age(&self, name: &str, max: usize, aged: usize) -> Result<Vec<Tag>, RegistryError> {
        let names = self.tags(name, max).await?;
        let skip = names.len().saturating_sub(aged);
        let ages = futures::future::join_all(names.iter().skip(skip).map(|t| self.created(name, t))).await;
        let mut out: Vec<Tag> = names.iter().take(skip).map(|t| Tag { name: t.clone(), created: None }).collect();
        out.extend(names.iter().skip(skip).zip(ages).map(|(t, c)| Tag { name: t.clone(), created: c.ok().flatten() }));
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    fn unreadable(&self, what: &str, e: impl std::fmt::Display) -> RegistryError {
        RegistryError::Unreadable { server: self.shown.clone(), what: what.into(), reason: e.to_string() }
    }

    /// A GET that answers the registry's challenge once (Basic, or a Bearer token from its
    /// realm) and follows one redirect (blobs may live elsewhere).
    async fn get(&self, path: &str, what: &str, headers: &[(&str, &str)]) -> Result<Answer, RegistryError> {
        let scheme = self.scheme().await?;
        let known = self.authorization.lock().map(|a| a.clone()).unwrap_or(None);
        let mut a = self.send(scheme, &self.host, path, headers, known.as_deref()).await?;
        if a.status == 401 {
            let auth = self.answer_challenge(scheme, &a).await?;
            a = self.send(scheme, &self.host, path, headers, Some(&auth)).await?;
            if a.status == 401 || a.status == 403 {
                return Err(self.refused(a.status));
            }
            if let Ok(mut k) = self.authorization.lock() {
                *k = Some(auth);
            }
        }
        if matches!(a.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(loc) = a.headers.get("location").and_then(|l| l.to_str().ok()).map(str::to_string) {
                a = self.redirected(&loc, what).await?;
            }
        }
        match a.status {
            200..=299 => Ok(a),
            401 | 403 => Err(self.refused(a.status)),
            s => Err(RegistryError::Status { server: self.shown.clone(), what: what.into(), status: s }),
        }
    }

    fn refused(&self, status: u16) -> RegistryError {
        match &self.auth.username {
            Some(u) => RegistryError::Refused { server: self.shown.clone(), user: u.clone(), status },
            None => RegistryError::NoCredentials { server: self.shown.clone() },
        }
    }

    /// A redirect to a blob store: no credentials go there (it signs its own URL).
    async fn redirected(&self, location: &str, what: &str) -> Result<Answer, RegistryError> {
        let (scheme, rest) = match location.split_once("://") {
            Some(("http", r)) => (Scheme::Http, r),
            Some((_, r)) => (Scheme::Https, r),
            None => return self.send(self.scheme().await?, &self.host, location, &[], None).await,
        };
        let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let a = self.send(scheme, host, &path, &[], None).await?;
        if !(200..300).contains(&a.status) {
            return Err(RegistryError::Status { server: self.shown.clone(), what: what.into(), status: a.status });
        }
        Ok(a)
    }

    /// The `Authorization` value for a 401's `WWW-Authenticate` challenge.
    async fn answer_challenge(&self, scheme: Scheme, a: &Answer) -> Result<String, RegistryError> {
        let challenge = a.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (kind, params) = parse_challenge(&challenge);
        let basic = match (&self.auth.username, &self.auth.password) {
            (Some(u), Some(p)) => Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))),
            _ => None,
        };
        if kind.eq_ignore_ascii_case("bearer") {
            let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.clone()).unwrap_or_default();
            let mut query: Vec<String> = params.iter().filter(|(k, _)| k == "service" || k == "scope").map(|(k, v)| format!("{k}={}", encode(v))).collect();
            query.sort();
            let url = if query.is_empty() { realm.clone() } else { format!("{realm}{}{}", if realm.contains('?') { '&' } else { '?' }, query.join("&")) };
            if url.starts_with("http://") && basic.is_some() && !loopback(&url) {
                return Err(RegistryError::PlainHttpCredentials { server: self.shown.clone() });
            }
            return self.token(&url, basic.as_deref()).await.map(|t| format!("Bearer {t}"));
        }
        let Some(basic) = basic else { return Err(RegistryError::NoCredentials { server: self.shown.clone() }) };
        if scheme == Scheme::Http && !loopback(&self.host) {
            return Err(RegistryError::PlainHttpCredentials { server: self.shown.clone() });
        }
        Ok(basic)
    }

    /// A token from the realm (`{"token": …}` or `{"access_token": …}`).
    async fn token(&self, url: &str, basic: Option<&str>) -> Result<String, RegistryError> {
        let (scheme, rest) = match url.split_once("://") {
            Some(("http", r)) => (Scheme::Http, r),
            Some((_, r)) => (Scheme::Https, r),
            None => (Scheme::Https, url),
        };
        let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let a = self.send(scheme, host, &path, &[], basic).await?;
        if a.status == 401 || a.status == 403 {
            return Err(self.refused(a.status));
        }
        if !(200..300).contains(&a.status) {
            return Err(RegistryError::Status { server: self.shown.clone(), what: "a token".into(), status: a.status });
        }
        let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| self.unreadable("a token", e))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| self.unreadable("a token", "no token in the answer"))
    }

    /// HTTPS unless the registry does not speak TLS (then plain HTTP, as for Docker's insecure
    /// registries); decided once.
    async fn scheme(&self) -> Result<Scheme, RegistryError> {
        if let Some(s) = self.scheme.lock().ok().and_then(|s| *s) {
            return Ok(s);
        }
        let s = match self.send(Scheme::Https, &self.host, "/v2/", &[], None).await {
            Ok(_) => Scheme::Https,
            // The peer answered the TLS hello with something else: a plain HTTP registry.
            Err(RegistryError::Unreachable { reason, .. })
                if reason.starts_with("TLS") && (reason.contains("InvalidContentType") || reason.contains("corrupt message")) =>
            {
                Scheme::Http
            }
            Err(e) => return Err(e),
        };
        if let Ok(mut k) = self.scheme.lock() {
            *k = Some(s);
        }
        Ok(s)
    }

    async fn send(&self, scheme: Scheme, host: &str, path: &str, headers: &[(&str, &str)], authorization: Option<&str>) -> Result<Answer, RegistryError> {
        let secs = self.timeout.as_secs().max(1);
        match tokio::time::timeout(self.timeout, self.send_inner(scheme, host, path, headers, authorization)).await {
            Ok(r) => r,
            Err(_) => Err(RegistryError::Timeout { server: self.shown.clone(), secs }),
        }
    }

    async fn send_inner(&self, scheme: Scheme, host: &str, path: &str, headers: &[(&str, &str)], authorization: Option<&str>) -> Result<Answer, RegistryError> {
        let unreachable = |reason: String| RegistryError::Unreachable { server: self.shown.clone(), reason };
        let port = if scheme == Scheme::Https { 443 } else { 80 };
        // `host:port`, `[v6]:port`, or a name without a port.
        let with_port = host.rsplit_once(':').filter(|(h, p)| p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']')));
        let (name, addr) = match with_port {
            Some((h, _)) => (h.trim_matches(['[', ']']).to_string(), host.to_string()),
            None => (host.trim_matches(['[', ']']).to_string(), format!("{host}:{port}")),
        };
        let tcp = tokio::net::TcpStream::connect(&addr).await.map_err(|e| unreachable(e.to_string()))?;
        let mut req = hyper::Request::get(path).header("host", host).header("user-agent", concat!("kdeck/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(|e| unreachable(e.to_string()))?;
        let resp = if scheme == Scheme::Https {
            let server_name = rustls::pki_types::ServerName::try_from(name).map_err(|e| unreachable(format!("TLS: {e}")))?;
            let tls =
                tls_connector().map_err(|e| unreachable(format!("TLS: {e}")))?.connect(server_name, tcp).await.map_err(|e| unreachable(format!("TLS: {e}")))?;
            exchange(TokioIo::new(tls), req).await
        } else {
            exchange(TokioIo::new(tcp), req).await
        };
        resp.map_err(unreachable)
    }
}

async fn exchange<T>(io: T, req: hyper::Request<Empty<Bytes>>) -> Result<Answer, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    driver.abort();
    Ok(Answer { status, headers, body })
}

/// TLS with the system's roots (read once).
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
        Ok(Arc::new(config.with_root_certificates(roots).with_no_client_auth()))
    });
    config.clone().map(tokio_rustls::TlsConnector::from)
}

/// `Bearer realm="…",service="…",scope="…"` → ("Bearer", [(realm, …), …]).
fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let (kind, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else { break };
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((k.trim().to_ascii_lowercase(), v));
        rest = next.trim_start_matches([',', ' ']);
    }
    (kind.to_string(), params)
}

/// Percent-encoding for a query value (scopes hold `:` and `/`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A URL or `host[:port]` on this machine (plain HTTP credentials stay local).
fn loopback(s: &str) -> bool {
    let host = s.split_once("://").map_or(s, |(_, r)| r).split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    let host = host.trim_matches(['[', ']']);
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_docker_reads_them() {
        let (k, p) = parse_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/x:pull""#);
        assert_eq!(k, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.docker.io/token".into()),
                ("service".into(), "registry.docker.io".into()),
                ("scope".into(), "repository:library/x:pull".into())
            ]
        );
        assert_eq!(parse_challenge(r#"Basic realm="Registry Realm""#), ("Basic".into(), vec![("realm".into(), "Registry Realm".into())]));
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }

    #[test]
    fn plain_http_credentials_only_to_loopback_and_hub_names() {
        assert!(loopback("127.0.0.1:5000") && loopback("http://localhost:5000/token") && loopback("[::1]:5000"));
        assert!(!loopback("10.77.3.1:5000") && !loopback("http://registry.example:80/t"));
        let r = Registry::new(RegistryAuth::default(), Duration::from_secs(1));
        assert_eq!((r.host.as_str(), r.repository_name("nginx")), ("registry-1.docker.io", "library/nginx".to_string()));
        let r = Registry::new(RegistryAuth { server: Some("ghcr.io".into()), ..Default::default() }, Duration::from_secs(1));
        assert_eq!(r.repository_name("me/app"), "me/app");
    }

    #[test]
    fn credentials_never_show() {
        let a = RegistryAuth { server: None, username: Some("u".into()), password: Some("hunter2".into()) };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
