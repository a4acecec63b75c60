//! Where sessions live: in this process's memory ([`memory`], the default), or in Redis
//! ([`redis`], `--session-store redis://...`) so that replicas share them and a restart loses
//! none. Both keep the same three rules, which the generic stores lack. A user holds at most
//! [`MAX_PER_USER`] sessions (a new sign-in past it ends that user's oldest), so one token signed
//! in over and over cannot fill the store. A full store refuses a new session (the sign-in page
//! says so) instead of dropping it unseen. And only a sign-in creates a session: saving one that
//! sign-out or revocation deleted meanwhile does nothing, so a request in flight cannot bring it
//! back. Their `Debug` prints counts only: records hold tokens.

pub mod memory;
pub mod redis;
pub mod sealed;

use std::time::Duration;

use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::SESSION_KEY;
pub use memory::MemorySessions;
pub use redis::{RedisSessions, RedisSettings};
pub use sealed::SealingKey;

/// Sessions one user holds at most (browsers, machines, scripts).
pub const MAX_PER_USER: usize = 20;

/// Which store holds the sessions.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// This process's memory: sessions end with it.
    Memory,
    /// A Redis server the replicas share.
    Redis(RedisSettings),
}

/// The dashboard's session store.
#[derive(Debug, Clone)]
pub enum Sessions {
    Memory(MemorySessions),
    Redis(RedisSessions),
}

impl Sessions {
    /// The store `backend` names, for at most `capacity` sessions, each ending within `lifetime`.
    pub fn new(
        backend: &SessionBackend,
        capacity: u64,
        lifetime: Duration,
    ) -> Result<Self, session_store::Error> {
        Ok(match backend {
            SessionBackend::Memory => Sessions::Memory(MemorySessions::new(capacity)),
            SessionBackend::Redis(settings) => {
                Sessions::Redis(RedisSessions::connect(settings, capacity, lifetime)?)
            }
        })
    }

    /// Whether no session can be added; Err when the store cannot be asked.
    pub async fn is_full(&self) -> Result<bool, session_store::Error> {
        match self {
            Sessions::Memory(s) => Ok(s.is_full().await),
            Sessions::Redis(s) => s.is_full().await,
        }
    }

    /// Sessions held now; Err when the store cannot be asked.
    pub async fn held(&self) -> Result<u64, session_store::Error> {
        match self {
            Sessions::Memory(s) => Ok(s.len()),
            Sessions::Redis(s) => s.held().await,
        }
    }
}

/// A full store's refusal of a new session.
fn full(capacity: u64) -> session_store::Error {
    session_store::Error::Backend(format!(
        "the session store holds its most, {capacity} sessions"
    ))
}

/// The username of a record's signed-in user, if it has one.
fn user_of(record: &Record) -> Option<&str> {
    record.data.get(SESSION_KEY)?.get("username")?.as_str()
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Memory(s) => s.create(record).await,
            Sessions::Redis(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Memory(s) => s.save(record).await,
            Sessions::Redis(s) => s.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Memory(s) => s.load(session_id).await,
            Sessions::Redis(s) => s.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Memory(s) => s.delete(session_id).await,
            Sessions::Redis(s) => s.delete(session_id).await,
        }
    }
}
