//! Ctrl-C handling shared by the headless commands and the dashboard: the first request stops
//! new steps from starting (running ones finish or time out), the second aborts running steps
//! at once. Either way the runner still releases the lock.

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct AbortHandle {
    graceful: CancellationToken,
    forced: CancellationToken,
}

impl AbortHandle {
    pub fn new() -> Self {
        Self::default()
    }
    /// First call: stop starting new steps. Second call: abort running steps.
    pub fn request(&self) {
        if self.graceful.is_cancelled() {
            self.forced.cancel();
        } else {
            self.graceful.cancel();
        }
    }
    pub fn force(&self) {
        self.graceful.cancel();
        self.forced.cancel();
    }
    pub fn is_stopping(&self) -> bool {
        self.graceful.is_cancelled()
    }
    pub fn is_forced(&self) -> bool {
        self.forced.is_cancelled()
    }
    pub async fn stopping(&self) {
        self.graceful.cancelled().await
    }
    pub async fn forced(&self) {
        self.forced.cancelled().await
    }
}
