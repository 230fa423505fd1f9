//! One [`Session`] per host, created on first use and shared by every view and action.

use super::{ClientOptions, HostSpec, Session, SshError, SshOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    kamal: SshOptions,
    client: ClientOptions,
    ssh_config: Option<super::ssh_config::SshConfig>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Pool {
    /// Reads the ssh config files once; hosts are resolved and connected on first `get`.
    pub fn new(kamal: SshOptions, client: ClientOptions) -> Result<Self, SshError> {
        let ssh_config = super::load_ssh_config(&kamal)?;
        Ok(Pool { inner: Arc::new(PoolInner { kamal, client, ssh_config, sessions: Mutex::new(HashMap::new()) }) })
    }

    /// The session for `host` (deploy.yml host string); starts connecting on first call.
    pub fn get(&self, host: &str) -> Session {
        let mut map = self.inner.sessions.lock().unwrap();
        map.entry(host.to_string())
            .or_insert_with(|| Session::new(HostSpec::resolve_with(host, &self.inner.kamal, &self.inner.client, self.inner.ssh_config.as_ref())))
            .clone()
    }

    /// Registers a fully built spec (tests, or callers with their own resolution).
    pub fn get_with(&self, spec: HostSpec) -> Session {
        let mut map = self.inner.sessions.lock().unwrap();
        map.entry(spec.host.clone()).or_insert_with(|| Session::new(spec)).clone()
    }

    /// Sessions created so far.
    pub fn sessions(&self) -> Vec<Session> {
        self.inner.sessions.lock().unwrap().values().cloned().collect()
    }

    /// Drops every session (their actors disconnect once no clone is left).
    pub fn clear(&self) {
        self.inner.sessions.lock().unwrap().clear();
    }
}
