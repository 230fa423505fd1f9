//! docker: typed operations on one host's engine, over the host's shared SSH connection
//! (bollard over a forwarded `/var/run/docker.sock`; see [`transport`]). Filters and names
//! mirror what Kamal runs (its `lib/kamal/commands/app.rb`), so both tools see the same containers.
//! [`cli`] is the fallback that drives the docker CLI over exec.

pub mod cli;
pub mod logs;
pub mod registry;
pub mod transport;

pub use logs::{LogDedup, LogLine, LogSource};

use crate::ssh::{ExecOutput, Session};
use bollard::models::{ContainerInspectResponse, ContainerSummary, EventMessage, ImageSummary};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::pin::Pin;

/// One container Kamal would recognise as ours (labels service/role/destination).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Version parsed from the name (`<prefix>-<version>`, may carry `_replaced_…`).
    pub version: String,
    pub image: String,
    /// Docker state: running, exited, restarting, created, dead, paused.
    pub state: String,
    /// `.State.Health.Status` when the image has a HEALTHCHECK.
    pub health: Option<String>,
    /// Last failing health-check output, if any.
    pub health_failure: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
}

pub type Error = bollard::errors::Error;
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// Kamal's label filter: `label=service=<svc>`, `label=destination=<dest-or-empty>`,
/// optionally `label=role=<role>`.
#[derive(Debug, Clone, Default)]
pub struct LabelFilter {
    pub service: String,
    pub role: Option<String>,
    /// Kamal semantics: `None` filters `destination=` (only containers without destination).
    pub destination: Option<String>,
    /// Skip the destination filter entirely (every destination).
    pub any_destination: bool,
}

impl LabelFilter {
    pub fn service(service: &str) -> Self {
        LabelFilter { service: service.into(), ..Default::default() }
    }

    pub fn labels(&self) -> Vec<String> {
        let mut v = vec![format!("service={}", self.service)];
        if !self.any_destination {
            v.push(format!("destination={}", self.destination.clone().unwrap_or_default()));
        }
        if let Some(r) = &self.role {
            v.push(format!("role={r}"));
        }
        v
    }

    /// The same filter as docker CLI arguments.
    pub fn cli_args(&self) -> String {
        self.labels().iter().map(|l| format!("--filter label={l}")).collect::<Vec<_>>().join(" ")
    }
}

/// What `.State.Health` says, with the last check's output.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct HealthInfo {
    /// none/starting/healthy/unhealthy; `None` when the image has no HEALTHCHECK.
    pub status: Option<String>,
    pub failing_streak: i64,
    pub last_exit_code: Option<i64>,
    pub last_output: Option<String>,
}

/// How to read logs.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// Unix seconds.
    pub since: Option<i64>,
    /// Number of lines at the end; `None` = all.
    pub tail: Option<u64>,
    pub timestamps: bool,
}

/// One event of a resumable log follow.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvent {
    Line(LogLine),
    /// The stream broke (connection down); it resumes when the host is back.
    Interrupted(String),
    Resumed,
}

/// Docker operations on one host.
#[derive(Clone)]
pub struct DockerHost {
    pub session: Session,
    pub api: Docker,
}

fn api_err(e: impl std::fmt::Display) -> Error {
    Error::IOError { err: std::io::Error::other(e.to_string()) }
}

impl DockerHost {
    pub fn new(session: &Session) -> Self {
        DockerHost { session: session.clone(), api: transport::docker_over_ssh(session.clone()) }
    }

    /// Like `new`, then agrees on the API version with the host's dockerd.
    pub async fn connect(session: &Session) -> Result<Self, Error> {
        let api = transport::docker_over_ssh(session.clone()).negotiate_version().await?;
        Ok(DockerHost { session: session.clone(), api })
    }

    pub fn host(&self) -> &str {
        self.session.host()
    }

    /// `docker ps --all` with Kamal's label filter.
    pub async fn containers(&self, f: &LabelFilter) -> Result<Vec<ContainerSummary>, Error> {
        let filters = HashMap::from([("label".to_string(), f.labels())]);
        let opts = bollard::query_parameters::ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        self.api.list_containers(Some(opts)).await
    }

    /// `docker ps --all --filter label=service`: the containers of every Kamal app and
    /// accessory on the host.
    pub async fn kamal_containers(&self) -> Result<Vec<ContainerSummary>, Error> {
        let filters = HashMap::from([("label".to_string(), vec!["service".to_string()])]);
        let opts = bollard::query_parameters::ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        self.api.list_containers(Some(opts)).await
    }

    pub async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, Error> {
        self.api.inspect_container(id, None).await
    }

    pub async fn health(&self, id: &str) -> Result<HealthInfo, Error> {
        Ok(health_of(&self.inspect(id).await?))
    }

    /// Containers with inspect details, in the fleet model's shape.
    pub async fn container_infos(&self, f: &LabelFilter) -> Result<Vec<ContainerInfo>, Error> {
        let list = self.containers(f).await?;
        let mut out = Vec::with_capacity(list.len());
        for c in list {
            let id = c.id.clone().unwrap_or_default();
            let inspect = self.inspect(&id).await.ok();
            out.push(container_info(&c, inspect.as_ref(), &f.service));
        }
        Ok(out)
    }

    /// Raw log stream (lines split per source). Dropping it ends the request on the host.
    pub fn logs(&self, id: &str, o: &LogOptions) -> BoxStream<Result<LogLine, Error>> {
        let opts = bollard::query_parameters::LogsOptions {
            follow: o.follow,
            stdout: true,
            stderr: true,
            since: o.since.unwrap_or(0) as i32,
            until: 0,
            timestamps: o.timestamps,
            tail: o.tail.map(|t| t.to_string()).unwrap_or_else(|| "all".into()),
        };
        let with_ts = o.timestamps;
        let raw = self.api.logs(id, Some(opts));
        let mut split = logs::LineSplitter::default();
        let s = raw.map(Some).chain(futures::stream::iter([None])).flat_map(move |item| {
            let v: Vec<Result<LogLine, Error>> = match item {
                Some(Ok(chunk)) => {
                    let (src, bytes) = match chunk {
                        bollard::container::LogOutput::StdErr { message } => (LogSource::Stderr, message),
                        bollard::container::LogOutput::StdOut { message }
                        | bollard::container::LogOutput::Console { message }
                        | bollard::container::LogOutput::StdIn { message } => (LogSource::Stdout, message),
                    };
                    split.push(src, &bytes).into_iter().map(|l| Ok(LogLine::parse(&l, src, with_ts))).collect()
                }
                Some(Err(e)) => vec![Err(e)],
                None => split.flush().into_iter().map(|(s, l)| Ok(LogLine::parse(&l, s, with_ts))).collect(),
            };
            futures::stream::iter(v)
        });
        Box::pin(s)
    }

    /// Follows a container's logs across disconnects: when the connection drops it reports
    /// `Interrupted`, waits for the host to come back, re-subscribes with `since` and skips
    /// lines already delivered. Ends when the container's log stream ends normally.
    pub fn follow_logs(&self, id: &str, tail: Option<u64>) -> BoxStream<LogEvent> {
        let this = self.clone();
        let id = id.to_string();
        let (tx, rx) = tokio::sync::mpsc::channel::<LogEvent>(1024);
        tokio::spawn(async move {
            let mut dedup = LogDedup::default();
            let mut first = true;
            loop {
                let opts =
                    LogOptions { follow: true, since: if first { None } else { dedup.since() }, tail: if first { tail } else { None }, timestamps: true };
                let mut s = this.logs(&id, &opts);
                let mut failed: Option<String> = None;
                loop {
                    tokio::select! {
                        _ = tx.closed() => return,
                        item = s.next() => match item {
                            Some(Ok(line)) => {
                                if dedup.accept(&line) && tx.send(LogEvent::Line(line)).await.is_err() {
                                    return;
                                }
                            }
                            Some(Err(e)) => { failed = Some(e.to_string()); break; }
                            None => break,
                        }
                    }
                }
                drop(s);
                // A clean end while the host is still up means the container stopped logging.
                let down = failed.is_some() || *this.session.state().borrow() != crate::ssh::ConnState::Up;
                if !down {
                    // Give the actor a moment to notice a dead connection that ended the body cleanly.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    if *this.session.state().borrow() == crate::ssh::ConnState::Up {
                        return;
                    }
                }
                let reason = failed.unwrap_or_else(|| "connection lost".into());
                if tx.send(LogEvent::Interrupted(reason)).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = this.session.wait_up() => {}
                }
                first = false;
                if tx.send(LogEvent::Resumed).await.is_err() {
                    return;
                }
            }
        });
        Box::pin(tokio_stream_from(rx))
    }

    /// Docker events for the service's containers (`label=service=<svc>`) from the moment of
    /// this call (the request itself is only sent when the stream is first polled).
    pub fn events(&self, service: &str) -> BoxStream<Result<EventMessage, Error>> {
        self.events_since(service, chrono::Utc::now().timestamp())
    }

    /// Same, from `since` (unix seconds), e.g. to resume after a reconnect.
    pub fn events_since(&self, service: &str, since: i64) -> BoxStream<Result<EventMessage, Error>> {
        let filters = HashMap::from([("label".to_string(), vec![format!("service={service}")]), ("type".to_string(), vec!["container".to_string()])]);
        let opts = bollard::query_parameters::EventsOptions { since: Some(since.to_string()), until: None, filters: Some(filters) };
        Box::pin(self.api.events(Some(opts)))
    }

    /// `docker image ls` (optionally `reference=<repo>`).
    pub async fn images(&self, reference: Option<&str>) -> Result<Vec<ImageSummary>, Error> {
        let filters = reference.map(|r| HashMap::from([("reference".to_string(), vec![r.to_string()])]));
        let opts = bollard::query_parameters::ListImagesOptions { all: false, filters, ..Default::default() };
        self.api.list_images(Some(opts)).await
    }

    /// `docker pull image:tag`; progress lines as they come, error on failure.
    pub async fn pull(&self, image: &str, mut progress: impl FnMut(String)) -> Result<(), Error> {
        let (repo, tag) = split_image(image);
        let opts = bollard::query_parameters::CreateImageOptions { from_image: Some(repo.to_string()), tag: Some(tag.to_string()), ..Default::default() };
        let mut s = self.api.create_image(Some(opts), None, None);
        while let Some(item) = s.next().await {
            let info = item?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(api_err(format!("pull {image}: {err}")));
            }
            if let Some(st) = info.status {
                progress(match info.id {
                    Some(id) => format!("{id}: {st}"),
                    None => st,
                });
            }
        }
        Ok(())
    }

    /// `docker tag source repo:tag`.
    pub async fn tag(&self, source: &str, target: &str) -> Result<(), Error> {
        let (repo, tag) = split_image(target);
        let opts = bollard::query_parameters::TagImageOptions { repo: Some(repo.into()), tag: Some(tag.into()) };
        self.api.tag_image(source, Some(opts)).await
    }

    /// `docker stop [-t secs] id`.
    pub async fn stop(&self, id: &str, timeout_secs: Option<i32>) -> Result<(), Error> {
        let opts = bollard::query_parameters::StopContainerOptions { t: timeout_secs, signal: None };
        self.api.stop_container(id, Some(opts)).await
    }

    /// `docker create --name name …` from a full API body; returns the id.
    pub async fn create(&self, name: &str, body: bollard::models::ContainerCreateBody) -> Result<String, Error> {
        let opts = bollard::query_parameters::CreateContainerOptions { name: Some(name.into()), platform: String::new() };
        Ok(self.api.create_container(Some(opts), body).await?.id)
    }

    /// `docker run -d`: create + start; returns the id.
    pub async fn run(&self, name: &str, body: bollard::models::ContainerCreateBody) -> Result<String, Error> {
        let id = self.create(name, body).await?;
        self.start(&id).await?;
        Ok(id)
    }

    /// `docker rm [-f] id`.
    pub async fn remove(&self, id: &str, force: bool) -> Result<(), Error> {
        let opts = bollard::query_parameters::RemoveContainerOptions { force, ..Default::default() };
        self.api.remove_container(id, Some(opts)).await
    }

    pub async fn start(&self, id: &str) -> Result<(), Error> {
        self.api.start_container(id, None::<bollard::query_parameters::StartContainerOptions>).await
    }

    pub async fn rename(&self, id: &str, new_name: &str) -> Result<(), Error> {
        let opts = bollard::query_parameters::RenameContainerOptions { name: new_name.into() };
        self.api.rename_container(id, opts).await
    }

    /// `docker exec container cmd…` (no tty), whole output and exit code.
    pub async fn exec(&self, container: &str, cmd: &[&str]) -> Result<ExecOutput, Error> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let created = self
            .api
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<String>>()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached { mut output, .. } = self.api.start_exec(&created.id, None).await? {
            while let Some(chunk) = output.next().await {
                match chunk? {
                    bollard::container::LogOutput::StdErr { message } => err.extend_from_slice(&message),
                    other => out.extend_from_slice(other.as_ref()),
                }
            }
        }
        let status = self.api.inspect_exec(&created.id).await?.exit_code.unwrap_or(-1) as i32;
        Ok(ExecOutput { stdout: String::from_utf8_lossy(&out).into_owned(), stderr: String::from_utf8_lossy(&err).into_owned(), status })
    }

    /// `docker network create name`; an existing network is fine (Kamal ignores that error).
    pub async fn network_create(&self, name: &str) -> Result<(), Error> {
        let req = bollard::models::NetworkCreateRequest { name: name.into(), ..Default::default() };
        match self.api.create_network(req).await {
            Ok(_) => Ok(()),
            Err(Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(Error::DockerResponseServerError { message, .. }) if message.contains("already exists") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `repo:tag` → (repo, tag); a registry port is not a tag; no tag means `latest`.
pub fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

pub fn health_of(i: &ContainerInspectResponse) -> HealthInfo {
    let Some(h) = i.state.as_ref().and_then(|s| s.health.as_ref()) else {
        return HealthInfo::default();
    };
    let last = h.log.as_ref().and_then(|l| l.last());
    HealthInfo {
        status: h.status.map(|s| s.to_string()).filter(|s| !s.is_empty()),
        failing_streak: h.failing_streak.unwrap_or(0),
        last_exit_code: last.and_then(|l| l.exit_code),
        last_output: last.and_then(|l| l.output.clone()).map(|o| o.trim().to_string()),
    }
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc)).filter(|t| t.timestamp() > 0)
}

/// Maps a listed (+ inspected) container to the fleet model. The version is the part of the
/// name after `<service>-<role>-` (Kamal's naming), `_replaced_…` suffix kept.
pub fn container_info(c: &ContainerSummary, inspect: Option<&ContainerInspectResponse>, service: &str) -> ContainerInfo {
    let labels = c.labels.clone().unwrap_or_default();
    let role = labels.get("role").cloned().unwrap_or_default();
    let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
    let dest = labels.get("destination").filter(|d| !d.is_empty());
    let prefix = match dest {
        Some(d) => format!("{service}-{role}-{d}-"),
        None => format!("{service}-{role}-"),
    };
    let version = name.strip_prefix(&prefix).unwrap_or("").to_string();
    let health = inspect.map(health_of).unwrap_or_default();
    let state = inspect.and_then(|i| i.state.as_ref());
    ContainerInfo {
        id: c.id.clone().unwrap_or_default(),
        name,
        role,
        version,
        image: c.image.clone().unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        health: health.status.clone(),
        health_failure: if health.status.as_deref() == Some("unhealthy") || health.failing_streak > 0 { health.last_output.clone() } else { None },
        created: c.created.and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        started: state.and_then(|s| s.started_at.as_deref()).and_then(parse_time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamal_filters() {
        let mut f = LabelFilter::service("app");
        assert_eq!(f.labels(), vec!["service=app", "destination="]);
        f.role = Some("web".into());
        f.destination = Some("staging".into());
        assert_eq!(f.cli_args(), "--filter label=service=app --filter label=destination=staging --filter label=role=web");
        f.any_destination = true;
        assert_eq!(f.labels(), vec!["service=app", "role=web"]);
    }

    #[test]
    fn image_split() {
        assert_eq!(split_image("10.77.2.1:5000/app:v1"), ("10.77.2.1:5000/app", "v1"));
        assert_eq!(split_image("10.77.2.1:5000/app"), ("10.77.2.1:5000/app", "latest"));
        assert_eq!(split_image("app"), ("app", "latest"));
    }
}
