//! The live-update channel, `GET /events`: a server-sent event after every telemetry cycle tells
//! open pages to fetch fresh numbers. Channels are bounded: [`MAX_CHANNELS`] in all and
//! [`MAX_PER_USER`] per user (one user's tabs cannot take everyone's), each ended after
//! [`MAX_CHANNEL_AGE`] so the browser reconnects through the guard: a channel does not outlive
//! its session's sign-out, expiry or revocation by more than that.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use frontend::backend::SignedInUser;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::AppState;

/// Open channels at most; more are answered 503 and those pages work on without live updates.
pub const MAX_CHANNELS: usize = 1_000;
/// Open channels one user holds at most (tabs, windows).
pub const MAX_PER_USER: usize = 16;
/// A channel ends after this; the browser opens it again (through the guard) within a second.
pub const MAX_CHANNEL_AGE: Duration = Duration::from_secs(5 * 60);
/// How long the browser waits before opening an ended channel again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The channels open now, in all and per user.
#[derive(Clone)]
pub struct PushChannels {
    all: Arc<Semaphore>,
    per_user: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for PushChannels {
    fn default() -> Self {
        PushChannels {
            all: Arc::new(Semaphore::new(MAX_CHANNELS)),
            per_user: Arc::default(),
        }
    }
}

/// Why a channel was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    AllTaken,
    UserHasMost,
}

/// One open channel's place; freed when the channel ends.
struct Place {
    _all: OwnedSemaphorePermit,
    user: String,
    per_user: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut per_user = self.per_user.lock();
        if let Some(open) = per_user.get_mut(&self.user) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

impl PushChannels {
    /// Channels open now.
    pub fn open(&self) -> usize {
        MAX_CHANNELS - self.all.available_permits()
    }

    fn take(&self, user: &str) -> Result<Place, Refused> {
        let mut per_user = self.per_user.lock();
        let open = per_user.get(user).copied().unwrap_or(0);
        if open >= MAX_PER_USER {
            return Err(Refused::UserHasMost);
        }
        let all = self
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::AllTaken)?;
        per_user.insert(user.to_string(), open + 1);
        Ok(Place {
            _all: all,
            user: user.to_string(),
            per_user: self.per_user.clone(),
        })
    }
}

/// `GET /events`: the push channel (a comment every 15 s keeps proxies from closing it).
pub async fn updates(State(state): State<AppState>, user: SignedInUser) -> Response {
    let place = match state.push.take(&user.username) {
        Ok(place) => place,
        Err(refused) => {
            tracing::warn!(user = %user.username, ?refused, "refused a push channel");
            let text = match refused {
                Refused::AllTaken => {
                    "too many live pages are open; this one will not update by itself until reloaded\n"
                }
                Refused::UserHasMost => {
                    "you have too many live pages open; this one will not update by itself until reloaded\n"
                }
            };
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "60")],
                text,
            )
                .into_response();
        }
    };
    let receiver = state.telemetry.subscribe();
    let first = Event::default().retry(RECONNECT_AFTER).comment("live");
    let cycles = futures::stream::unfold((receiver, place), |(mut receiver, place)| async move {
        receiver.changed().await.ok()?;
        let cycle = *receiver.borrow_and_update();
        Some((Event::default().data(cycle.to_string()), (receiver, place)))
    });
    let stream = futures::stream::once(async { first })
        .chain(cycles)
        .take_until(tokio::time::sleep(MAX_CHANNEL_AGE))
        .map(Ok::<_, std::convert::Infallible>);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_cannot_take_every_channel_and_places_come_back() {
        let channels = PushChannels::default();
        let alice: Vec<Place> = (0..MAX_PER_USER)
            .map(|_| channels.take("alice").expect("a place"))
            .collect();
        assert_eq!(channels.take("alice").err(), Some(Refused::UserHasMost));
        let bob = channels
            .take("bob")
            .expect("bob is not refused for alice's tabs");
        assert_eq!(channels.open(), MAX_PER_USER + 1);
        drop(alice);
        drop(bob);
        assert_eq!(channels.open(), 0);
        assert!(
            channels.per_user.lock().is_empty(),
            "no user is remembered with no channel"
        );
        channels.take("alice").expect("alice's places came back");
    }
}
