//! The fleet → screen adapters: forwards fleet snapshots and log lines as [`Update`]s. Both
//! tasks end when either side goes away.

use super::{LogLine, Update};
use crate::fleet::logs::{FleetLog, FleetLogLine};
use crate::fleet::model::FleetSnapshot;
use crate::fleet::traffic::{TrafficHandle, TrafficSnapshot};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Sends the current snapshot, then every change (intermediate states may be skipped: the
/// dashboard only needs the latest).
pub fn forward_fleet(mut rx: watch::Receiver<FleetSnapshot>, tx: mpsc::Sender<Update>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let snap = rx.borrow_and_update().clone();
            if tx.send(Update::Fleet(snap)).await.is_err() {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
}

/// Resolves once every host of the snapshot has been read once or is known to be down, or
/// after `wait`, whichever comes first.
pub async fn first_look(mut rx: watch::Receiver<FleetSnapshot>, wait: std::time::Duration) {
    let all_seen = async move {
        loop {
            let done = rx.borrow_and_update().hosts.iter().all(|h| h.last_seen.is_some() || matches!(h.conn, crate::fleet::model::ConnState::Down { .. }));
            if done || rx.changed().await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(wait, all_seen).await;
}

/// Sends each traffic snapshot to the screen and into `share` (what the canary reads); the task
/// owns the follow (dropping it stops the streams).
pub fn forward_traffic(
    mut rx: watch::Receiver<TrafficSnapshot>,
    handle: TrafficHandle,
    tx: mpsc::Sender<Update>,
    share: watch::Sender<TrafficSnapshot>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _handle = handle;
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            share.send_replace(snap.clone());
            if tx.send(Update::Traffic(Box::new(snap))).await.is_err() {
                return;
            }
        }
    })
}

/// Log lines become `Update::Log`; interruptions and switches become status notices.
pub fn forward_logs(mut rx: mpsc::Receiver<FleetLog>, tx: mpsc::Sender<Update>) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let u = match ev {
                FleetLog::Line(l) => Update::Log(l.into()),
                FleetLog::Interrupted { host, role, reason } => {
                    Update::Notice { error: true, text: format!("logs {host} {role}: interrupted ({reason}); resuming when the host is back") }
                }
                FleetLog::Resumed { host, role } => Update::Notice { error: false, text: format!("logs {host} {role}: resumed") },
                FleetLog::Switched { host, role, container } => Update::Notice { error: false, text: format!("logs {host} {role}: now following {container}") },
            };
            if tx.send(u).await.is_err() {
                return;
            }
        }
    })
}

impl From<FleetLogLine> for LogLine {
    fn from(l: FleetLogLine) -> Self {
        LogLine { host: l.host, role: l.role, container: Some(l.container), ts: l.ts, stderr: l.stderr, text: l.text }
    }
}
