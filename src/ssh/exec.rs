//! Exec channels: each drained by its own task (an unread russh channel stalls the whole
//! connection), output handed over through an unbounded queue that the consumer splits into lines.

use russh::client::Msg;
use russh::{Channel, ChannelMsg};
use std::collections::VecDeque;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// Full result of a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    /// Exit status; 255 when the connection dropped before the command reported one
    /// (what OpenSSH's client returns then), 128+n for a signal.
    pub status: i32,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// One line of output (without the newline) or the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Stdout(String),
    Stderr(String),
    Exit(i32),
}

#[derive(Debug)]
pub(crate) enum Raw {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Exit(i32),
}

/// Spawns the drain task for an exec channel. The permit (exec semaphore) is held until the
/// channel closes.
pub(crate) fn drain(mut ch: Channel<Msg>, permit: Option<OwnedSemaphorePermit>) -> mpsc::UnboundedReceiver<Raw> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _permit = permit;
        let mut status: Option<i32> = None;
        let mut consumer_gone = false;
        while let Some(msg) = ch.wait().await {
            let sent = match msg {
                ChannelMsg::Data { data } => tx.send(Raw::Out(data.to_vec())),
                ChannelMsg::ExtendedData { data, .. } => tx.send(Raw::Err(data.to_vec())),
                ChannelMsg::ExitStatus { exit_status } => {
                    status = Some(exit_status as i32);
                    Ok(())
                }
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    status.get_or_insert(128 + signal_number(&signal_name));
                    Ok(())
                }
                ChannelMsg::Close => break,
                _ => Ok(()),
            };
            if sent.is_err() && !consumer_gone {
                // Nobody reads any more: close, but keep draining until the server confirms.
                consumer_gone = true;
                let _ = ch.close().await;
            }
        }
        let _ = tx.send(Raw::Exit(status.unwrap_or(255)));
    });
    rx
}

pub(crate) fn signal_number(name: &russh::Sig) -> i32 {
    use russh::Sig::*;
    match name {
        HUP => 1,
        INT => 2,
        QUIT => 3,
        ILL => 4,
        ABRT => 6,
        FPE => 8,
        KILL => 9,
        SEGV => 11,
        PIPE => 13,
        ALRM => 14,
        TERM => 15,
        USR1 => 10,
        _ => 0,
    }
}

/// Streamed output of a running command. Dropping it closes the channel (the remote command
/// may keep running: sshd does not signal it, so prefer API streams for endless output).
pub struct ExecStream {
    rx: mpsc::UnboundedReceiver<Raw>,
    out: Vec<u8>,
    err: Vec<u8>,
    pending: VecDeque<ExecEvent>,
    done: bool,
}

impl ExecStream {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Raw>) -> Self {
        ExecStream { rx, out: vec![], err: vec![], pending: VecDeque::new(), done: false }
    }

    /// Next line or the exit status; `None` after `Exit`.
    pub async fn next(&mut self) -> Option<ExecEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            match self.rx.recv().await {
                Some(Raw::Out(b)) => split_lines(&mut self.out, &b, &mut self.pending, ExecEvent::Stdout),
                Some(Raw::Err(b)) => split_lines(&mut self.err, &b, &mut self.pending, ExecEvent::Stderr),
                Some(Raw::Exit(s)) => {
                    self.finish();
                    self.pending.push_back(ExecEvent::Exit(s));
                }
                None => {
                    self.finish();
                    self.pending.push_back(ExecEvent::Exit(255));
                }
            }
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if !self.out.is_empty() {
            let l = String::from_utf8_lossy(&std::mem::take(&mut self.out)).into_owned();
            self.pending.push_back(ExecEvent::Stdout(l));
        }
        if !self.err.is_empty() {
            let l = String::from_utf8_lossy(&std::mem::take(&mut self.err)).into_owned();
            self.pending.push_back(ExecEvent::Stderr(l));
        }
    }

    /// As a `futures::Stream` of events.
    pub fn into_stream(self) -> impl futures::Stream<Item = ExecEvent> + Send {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|e| (e, s)) })
    }
}

fn split_lines(buf: &mut Vec<u8>, data: &[u8], out: &mut VecDeque<ExecEvent>, mk: fn(String) -> ExecEvent) {
    buf.extend_from_slice(data);
    while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
        let mut line: Vec<u8> = buf.drain(..=pos).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        out.push_back(mk(String::from_utf8_lossy(&line).into_owned()));
    }
}

/// Collects everything until the exit status.
pub(crate) async fn collect(mut rx: mpsc::UnboundedReceiver<Raw>) -> ExecOutput {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut status = 255;
    while let Some(r) = rx.recv().await {
        match r {
            Raw::Out(b) => out.extend_from_slice(&b),
            Raw::Err(b) => err.extend_from_slice(&b),
            Raw::Exit(s) => {
                status = s;
                break;
            }
        }
    }
    ExecOutput { stdout: String::from_utf8_lossy(&out).into_owned(), stderr: String::from_utf8_lossy(&err).into_owned(), status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_split_across_chunks_and_flushed_at_exit() {
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(Raw::Out(b"a\nb".to_vec())).unwrap();
        tx.send(Raw::Err(b"e1\r\n".to_vec())).unwrap();
        tx.send(Raw::Out(b"c\nlast".to_vec())).unwrap();
        tx.send(Raw::Exit(3)).unwrap();
        let mut s = ExecStream::new(rx);
        let mut got = vec![];
        while let Some(e) = s.next().await {
            got.push(e);
        }
        use ExecEvent::*;
        assert_eq!(got, vec![Stdout("a".into()), Stderr("e1".into()), Stdout("bc".into()), Stdout("last".into()), Exit(3)]);
    }
}
