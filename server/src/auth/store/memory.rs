//! Sessions in this process's memory (the default): each until its expiry (moka), with the
//! store's rules (see [`super`]). They end with the process.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use parking_lot::Mutex;
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::{MAX_PER_USER, user_of};

/// The session store in memory.
#[derive(Clone)]
pub struct MemorySessions {
    records: Cache<Id, Record>,
    /// Each user's session ids, oldest first.
    by_user: Arc<Mutex<HashMap<String, VecDeque<Id>>>>,
    capacity: u64,
}

impl MemorySessions {
    /// A store for at most `capacity` sessions.
    pub fn new(capacity: u64) -> Self {
        MemorySessions {
            records: Cache::builder()
                // A backstop only: `create` refuses past `capacity` first.
                .max_capacity(capacity.saturating_mul(2))
                .expire_after(UntilExpiry)
                .build(),
            by_user: Arc::default(),
            capacity,
        }
    }

    /// Whether no session can be added (after dropping the expired ones; the count is exact
    /// only once the cache's pending work has run).
    pub async fn is_full(&self) -> bool {
        self.records.run_pending_tasks().await;
        self.records.entry_count() >= self.capacity
    }

    /// Sessions held now (expired ones may be counted until the store's next housekeeping).
    pub fn len(&self) -> u64 {
        self.records.entry_count()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes a session under the entry's lock, as `save` updates it: a save cannot slip in
    /// between and put it back.
    async fn remove(&self, id: Id) {
        self.records
            .entry(id)
            .and_compute_with(|_| async { moka::ops::compute::Op::Remove })
            .await;
    }

    /// Notes `id` as `user`'s newest session; returns the sessions past the user's cap.
    fn note(&self, user: &str, id: Id) -> Vec<Id> {
        let mut by_user = self.by_user.lock();
        by_user.retain(|_, ids| {
            ids.retain(|id| self.records.contains_key(id));
            !ids.is_empty()
        });
        let ids = by_user.entry(user.to_string()).or_default();
        ids.push_back(id);
        let past = ids.len().saturating_sub(MAX_PER_USER);
        ids.drain(..past).collect()
    }
}

impl std::fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessions")
            .field("held", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if self.is_full().await {
            return Err(super::full(self.capacity));
        }
        while self.records.contains_key(&record.id) {
            record.id = Id::default();
        }
        self.records.insert(record.id, record.clone()).await;
        if let Some(user) = user_of(record) {
            for oldest in self.note(user, record.id) {
                tracing::info!(user, "a new sign-in ends the user's oldest session");
                self.remove(oldest).await;
            }
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Only sessions still held are updated: one deleted meanwhile stays deleted.
        self.records
            .entry(record.id)
            .and_compute_with(|held| async move {
                match held {
                    Some(_) => moka::ops::compute::Op::Put(record.clone()),
                    None => moka::ops::compute::Op::Nop,
                }
            })
            .await;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.records.get(session_id).await)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.remove(*session_id).await;
        Ok(())
    }
}

/// Each record lives until its expiry date.
struct UntilExpiry;

fn time_left(record: &Record) -> Duration {
    (record.expiry_date - OffsetDateTime::now_utc())
        .try_into()
        .unwrap_or(Duration::ZERO)
}

impl Expiry<Id, Record> for UntilExpiry {
    fn expire_after_create(&self, _: &Id, record: &Record, _: Instant) -> Option<Duration> {
        Some(time_left(record))
    }

    fn expire_after_update(
        &self,
        _: &Id,
        record: &Record,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(time_left(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(user: &str) -> Record {
        let mut data = HashMap::new();
        data.insert(
            crate::auth::SESSION_KEY.to_string(),
            serde_json::json!({"username": user}),
        );
        Record {
            id: Id::default(),
            data,
            expiry_date: OffsetDateTime::now_utc()
                + tower_sessions::cookie::time::Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn one_user_holds_at_most_their_share_the_oldest_goes() {
        let sessions = MemorySessions::new(1_000);
        let mut ids = Vec::new();
        for _ in 0..MAX_PER_USER + 2 {
            let mut r = record("alice");
            sessions.create(&mut r).await.unwrap();
            ids.push(r.id);
        }
        let mut bob = record("bob");
        sessions.create(&mut bob).await.unwrap();
        for (i, id) in ids.iter().enumerate() {
            let held = sessions.load(id).await.unwrap().is_some();
            assert_eq!(held, i >= 2, "alice's session {i}");
        }
        assert!(sessions.load(&bob.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_full_store_refuses_a_new_session_and_keeps_the_others() {
        let sessions = MemorySessions::new(3);
        for user in ["a", "b", "c"] {
            sessions.create(&mut record(user)).await.unwrap();
        }
        assert!(sessions.is_full().await);
        let refused = sessions.create(&mut record("d")).await.unwrap_err();
        assert!(refused.to_string().contains("3 sessions"), "{refused}");
        assert_eq!(sessions.len(), 3);
        assert_eq!(
            format!("{sessions:?}"),
            "MemorySessions { held: 3, capacity: 3, .. }",
            "printing the store shows no record"
        );
    }

    #[tokio::test]
    async fn a_deleted_session_is_not_brought_back_by_a_late_save() {
        let sessions = MemorySessions::new(10);
        let mut r = record("alice");
        sessions.create(&mut r).await.unwrap();
        let mut touched = r.clone();
        touched.data.insert("seen".into(), serde_json::json!(1));
        sessions.save(&touched).await.unwrap();
        assert_eq!(sessions.load(&r.id).await.unwrap(), Some(touched.clone()));
        sessions.delete(&r.id).await.unwrap();
        sessions.save(&touched).await.unwrap();
        assert_eq!(sessions.load(&r.id).await.unwrap(), None);
    }
}
