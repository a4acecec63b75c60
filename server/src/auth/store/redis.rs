//! Sessions in Redis, shared by the dashboard's replicas (`--session-store redis://...`). The
//! records go through tower-sessions-redis-store, each sealed first ([`super::sealed`]: stored
//! under a keyed hash of the session id, its data encrypted), so Redis holds neither a token nor
//! a cookie's session id. The store's rules are kept in two sorted sets beside them, of stored
//! ids: every session by its expiry (the capacity) and each user's sessions by their creation
//! (the per-user cap). A late save of a deleted session does nothing (`SET ... XX`). Every
//! command gives up after [`COMMAND_TIMEOUT`], and the connections are retried for ever (also
//! when Redis is not there at start), so Redis down is an error to show, not a hang.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{
    ClientLike, Config, KeysInterface, Pool, ReconnectPolicy, SortedSetsInterface,
};
use fred::types::SetOptions;
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;
use tower_sessions_redis_store::RedisStore;

use super::sealed::{Sealer, SealingKey};
use super::{MAX_PER_USER, user_of};

/// How long one Redis command may take before the request that needed it is answered with an error.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections to Redis.
const POOL_SIZE: usize = 4;
/// Every session's id, scored by its expiry (Unix seconds).
const ALL_SESSIONS: &str = "gpuboard:sessions";

/// A user's session ids, scored by their creation (Unix milliseconds), under a keyed hash of
/// the username (so Redis does not tell who signed in when).
fn user_key(sealer: &Sealer, user: &str) -> String {
    format!("gpuboard:user:{}", sealer.stored_name(user))
}

/// A Redis URL refused.
#[derive(Debug, thiserror::Error)]
#[error("--session-store is not a Redis URL (redis://[:password@]host[:port][/db]): {0}")]
pub struct UrlError(String);

/// Where the shared sessions live and how they are sealed.
#[derive(Clone)]
pub struct RedisSettings {
    config: Config,
    key: SealingKey,
}

impl RedisSettings {
    /// `url` (which may hold a password) and the key the replicas share.
    pub fn new(url: &str, key: SealingKey) -> Result<Self, UrlError> {
        // rediss:// would connect without TLS (fred is built without it), sending the password
        // in the clear; clusters and sentinels are not supported.
        if !url.starts_with("redis://") {
            return Err(UrlError(
                "only redis:// is supported (no TLS to Redis: keep it on the cluster's network)"
                    .into(),
            ));
        }
        let config = Config::from_url(url).map_err(|e| UrlError(e.details().to_string()))?;
        Ok(RedisSettings { config, key })
    }
}

impl std::fmt::Debug for RedisSettings {
    /// Neither the URL (it may hold a password) nor the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisSettings(..)")
    }
}

/// The session store in Redis.
#[derive(Clone)]
pub struct RedisSessions {
    records: RedisStore<Pool>,
    pool: Pool,
    sealer: Arc<Sealer>,
    capacity: u64,
    /// How long a user's index of sessions is kept after their last sign-in.
    keep_index_for: Duration,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// A Redis failure as the session layer's error (fred's words name the command, never a value).
fn backend(e: fred::error::Error) -> session_store::Error {
    session_store::Error::Backend(format!("the session store (Redis) failed: {e}"))
}

impl RedisSessions {
    /// A store in Redis for at most `capacity` sessions, each ending within `lifetime`. It
    /// connects in the background and reconnects on its own: while Redis is away, each command
    /// fails after [`COMMAND_TIMEOUT`].
    pub fn connect(
        settings: &RedisSettings,
        capacity: u64,
        lifetime: Duration,
    ) -> Result<Self, session_store::Error> {
        let pool = fred::types::Builder::from_config(settings.config.clone())
            // Not there at start: keep trying, as after a drop (fred's default gives up).
            .with_config(|c| c.fail_fast = false)
            .with_performance_config(|c| c.default_command_timeout = COMMAND_TIMEOUT)
            .with_connection_config(|c| {
                // A connection that stops answering (Redis's node gone without closing it) is
                // closed and made again, instead of timing out every command for minutes.
                c.unresponsive = fred::types::config::UnresponsiveConfig {
                    max_timeout: Some(COMMAND_TIMEOUT * 2),
                    interval: Duration::from_millis(500),
                };
                c.connection_timeout = COMMAND_TIMEOUT;
                c.internal_command_timeout = COMMAND_TIMEOUT;
                c.max_command_attempts = 1;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build_pool(POOL_SIZE)
            .map_err(backend)?;
        // The connections' task runs on by itself; its handle is not needed.
        drop(pool.connect());
        Ok(RedisSessions {
            records: RedisStore::new(pool.clone()),
            pool,
            sealer: Arc::new(Sealer::new(&settings.key)),
            capacity,
            keep_index_for: lifetime,
        })
    }

    /// Sessions held now, after dropping the expired ones from the count.
    pub async fn held(&self) -> Result<u64, session_store::Error> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let _: u64 = self
            .pool
            .zremrangebyscore(ALL_SESSIONS, "-inf", now as f64)
            .await
            .map_err(backend)?;
        self.pool.zcard(ALL_SESSIONS).await.map_err(backend)
    }

    /// Whether no session can be added.
    pub async fn is_full(&self) -> Result<bool, session_store::Error> {
        Ok(self.held().await? >= self.capacity)
    }

    /// Notes the session stored as `stored` among every session and as its user's newest, then
    /// ends the user's sessions past [`MAX_PER_USER`], oldest first (ended ones not counted).
    async fn note(&self, record: &Record, stored: Id) -> Result<(), session_store::Error> {
        let stored = stored.to_string();
        self.note_expiry(record, &stored, None).await?;
        let Some(user) = user_of(record) else {
            return Ok(());
        };
        let key = user_key(&self.sealer, user);
        let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let _: () = self
            .pool
            .zadd(
                key.as_str(),
                None,
                None,
                false,
                false,
                (now_ms as f64, stored.as_str()),
            )
            .await
            .map_err(backend)?;
        let _: () = self
            .pool
            .expire(
                key.as_str(),
                self.keep_index_for.as_secs().max(1) as i64,
                None,
            )
            .await
            .map_err(backend)?;
        // Sessions ended meanwhile (signed out, expired) leave the count.
        let noted: Vec<String> = self
            .pool
            .zrange(key.as_str(), 0, -1, None, false, None, false)
            .await
            .map_err(backend)?;
        for id in noted {
            let held: u32 = self.pool.exists(id.as_str()).await.map_err(backend)?;
            if held == 0 {
                self.forget(&key, &id).await?;
            }
        }
        // Every id but the newest MAX_PER_USER, oldest first.
        let past: Vec<String> = self
            .pool
            .zrange(
                key.as_str(),
                0,
                -(MAX_PER_USER as i64) - 1,
                None,
                false,
                None,
                false,
            )
            .await
            .map_err(backend)?;
        for id in past {
            tracing::info!(user, "a new sign-in ends the user's oldest session");
            let _: () = self.pool.del(id.as_str()).await.map_err(backend)?;
            self.forget(&key, &id).await?;
        }
        Ok(())
    }

    /// Stores `record`'s new state if it is still held (`SET ... XX`: a session deleted meanwhile
    /// stays deleted), and its new expiry.
    async fn update(&self, record: &Record) -> session_store::Result<()> {
        let sealed = self.sealer.seal(record)?;
        self.records.save(&sealed).await?;
        self.note_expiry(record, &sealed.id.to_string(), Some(SetOptions::XX))
            .await
    }

    /// Notes when the session stored as `stored` expires, among every session; with `XX`, only
    /// if it is noted already.
    async fn note_expiry(
        &self,
        record: &Record,
        stored: &str,
        only: Option<SetOptions>,
    ) -> session_store::Result<()> {
        let expiry = record.expiry_date.unix_timestamp() as f64;
        self.pool
            .zadd(ALL_SESSIONS, only, None, false, false, (expiry, stored))
            .await
            .map_err(backend)
    }

    /// Takes the stored id `id` out of both indexes.
    async fn forget(&self, user_key: &str, id: &str) -> Result<(), session_store::Error> {
        let _: () = self.pool.zrem(ALL_SESSIONS, id).await.map_err(backend)?;
        let _: () = self.pool.zrem(user_key, id).await.map_err(backend)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if self.is_full().await? {
            return Err(super::full(self.capacity));
        }
        loop {
            let mut sealed = self.sealer.seal(record)?;
            let stored = sealed.id;
            self.records.create(&mut sealed).await?;
            if sealed.id == stored {
                let noted = self.note(record, stored).await;
                if noted.is_err() {
                    // Not counted, so not kept: a sign-in that failed leaves nothing behind.
                    let _ = self.delete(&record.id).await;
                }
                return noted;
            }
            // Its name was taken (the crate stored it under a random one instead, which no
            // lookup finds): drop that copy and draw another session id.
            self.records.delete(&sealed.id).await?;
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Only a session's own updates (its last use, its token's last check) are saved here,
        // and losing one costs little; failing would turn the request's answer into a bare 500.
        if let Err(e) = self.update(record).await {
            tracing::warn!(error = %e, "a session's update was not saved in Redis");
        }
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let stored = self.sealer.stored_id(*session_id);
        let sealed = match self.records.load(&stored).await {
            Ok(Some(sealed)) => sealed,
            Ok(None) => return Ok(None),
            // A record this version cannot read: signed out, not "Redis unreachable".
            Err(session_store::Error::Decode(e)) => {
                tracing::warn!(error = %e, "a session in Redis cannot be read: treated as signed out");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let opened = self.sealer.open(*session_id, sealed);
        if opened.is_none() {
            tracing::warn!(
                "a session in Redis does not open with this key (another key, or altered): treated as signed out"
            );
        }
        Ok(opened)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let stored = self.sealer.stored_id(*session_id);
        self.records.delete(&stored).await?;
        let _: () = self
            .pool
            .zrem(ALL_SESSIONS, stored.to_string().as_str())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
