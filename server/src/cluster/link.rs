//! Whether the watch cache is live. The cache's watches report each failure here, and a probe
//! asks the API server for its version every [`PROBE_EVERY`] (a watch on a server that hangs
//! reports nothing for minutes). The cache is stale from the first failure until the API server
//! answers again and no watch has failed for longer than a watch waits between its retries
//! ([`watch_backoff`]), so the pages say so, and since when, within seconds either way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontend::contract::ClusterLink;
use kube::runtime::watcher::ExponentialBackoff;
use parking_lot::Mutex;

/// How often the probe asks the API server.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long the probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A failed watch waits this long before its first retry, then twice as long each time...
const RETRY_FIRST: Duration = Duration::from_millis(200);
/// ...up to this, plus as much again at random (so retries of many watches spread out).
const RETRY_MOST: Duration = Duration::from_millis(700);
/// Longer than any wait between a watch's retries: a watch that has not failed for this long
/// since the API server last answered has come back.
const QUIET: Duration = Duration::from_millis(2 * 700 + 500);
/// The longest reason kept (an error's text can quote what the server sent).
const MAX_REASON_BYTES: usize = 300;

/// The back-off of the cache's watches. kube's default waits up to 30 s between retries, so the
/// pages would stay stale for as long after the API server is back. The dashboard's six watches
/// retrying about once a second each (a failed one waits 0.7 s to 1.4 s at most) is little
/// for an API server, and brings the pages back within seconds of its return.
pub fn watch_backoff() -> ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(RETRY_FIRST)
        .with_max_delay(RETRY_MOST)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .into()
}

/// The cache's link to the API server, shared by its watches, the probe and the pages.
#[derive(Clone, Default)]
pub struct Link {
    state: Arc<Mutex<LinkState>>,
}

#[derive(Default)]
struct LinkState {
    /// The failure that began the current outage, and the latest one; None while live.
    outage: Option<Outage>,
    /// When the API server last answered the probe.
    last_answer: Option<Instant>,
}

struct Outage {
    since: jiff::Timestamp,
    began: Instant,
    last_failure: Instant,
    reason: String,
}

impl LinkState {
    /// Ends the outage when the API server has answered since its last failure and the quiet
    /// time has passed.
    fn settle(&mut self, now: Instant) {
        let Some(outage) = &self.outage else { return };
        let answered_since = self.last_answer.is_some_and(|at| at > outage.last_failure);
        if answered_since && now.duration_since(outage.last_failure) >= QUIET {
            tracing::info!(
                stale_for = ?outage.began.elapsed(),
                "the cluster's API server answers again; the cache is live"
            );
            self.outage = None;
        }
    }
}

impl Link {
    /// A watch or the probe failed: the cache is stale from now, if it was not already.
    pub fn failed(&self, reason: &str) {
        let reason = cut(reason, MAX_REASON_BYTES);
        let now = Instant::now();
        let mut state = self.state.lock();
        match &mut state.outage {
            Some(outage) => {
                outage.last_failure = now;
                outage.reason = reason;
            }
            None => {
                tracing::warn!(%reason, "the cluster's API server fails; pages show the cache as stale");
                state.outage = Some(Outage {
                    since: jiff::Timestamp::now(),
                    began: now,
                    last_failure: now,
                    reason,
                });
            }
        }
    }

    /// The API server answered the probe.
    pub fn answered(&self) {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.last_answer = Some(now);
        state.settle(now);
    }

    /// Live, or stale since when and why.
    pub fn status(&self) -> ClusterLink {
        let mut state = self.state.lock();
        state.settle(Instant::now());
        match &state.outage {
            None => ClusterLink::Live,
            Some(outage) => ClusterLink::Stale {
                since_utc: outage.since.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                for_seconds: outage.began.elapsed().as_secs() as i64,
                reason: outage.reason.clone(),
            },
        }
    }

    /// Asks the API server for its version every [`PROBE_EVERY`] with `client`, until the
    /// process ends. Any answer counts, a refusal too: the server is there.
    pub fn start_probe(&self, client: kube::Client) {
        let link = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PROBE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
                    Ok(Ok(_)) | Ok(Err(kube::Error::Api(_))) => link.answered(),
                    Ok(Err(e)) => link.failed(&format!("the API server does not answer: {e}")),
                    Err(_) => link.failed(&format!(
                        "the API server did not answer within {} s",
                        PROBE_TIMEOUT.as_secs()
                    )),
                }
            }
        });
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale_since(link: &Link) -> Option<String> {
        match link.status() {
            ClusterLink::Live => None,
            ClusterLink::Stale { since_utc, .. } => Some(since_utc),
        }
    }

    #[test]
    fn stale_from_the_first_failure_until_an_answer_after_a_quiet_time() {
        let link = Link::default();
        link.answered();
        assert_eq!(link.status(), ClusterLink::Live);
        link.failed("watching pods: connection refused");
        let since = stale_since(&link).expect("stale after a failure");
        link.failed("watching nodes: connection refused");
        assert_eq!(
            stale_since(&link),
            Some(since.clone()),
            "a later failure keeps the outage's start"
        );
        match link.status() {
            ClusterLink::Stale { reason, .. } => {
                assert_eq!(reason, "watching nodes: connection refused")
            }
            ClusterLink::Live => panic!("stale"),
        }
        // An answer right after a failure is not enough: a watch may still be waiting to retry.
        link.answered();
        assert_eq!(stale_since(&link), Some(since));
        // The quiet time has passed since the last failure, but the server has not answered since.
        {
            let mut state = link.state.lock();
            let failed_at = Instant::now()
                .checked_sub(QUIET)
                .expect("the clock is older than the quiet time");
            state.outage.as_mut().expect("an outage").last_failure = failed_at;
            state.last_answer = failed_at.checked_sub(Duration::from_millis(1));
        }
        assert!(
            stale_since(&link).is_some(),
            "no answer since the last failure"
        );
        // It answers: live.
        link.answered();
        assert_eq!(link.status(), ClusterLink::Live);
    }

    #[test]
    fn a_reason_is_kept_short_and_whole_characters() {
        let link = Link::default();
        link.failed(&"é".repeat(400));
        match link.status() {
            ClusterLink::Stale { reason, .. } => {
                assert!(reason.len() <= MAX_REASON_BYTES);
                assert!(reason.chars().all(|c| c == 'é'));
            }
            ClusterLink::Live => panic!("stale"),
        }
    }

    #[test]
    fn a_watch_retries_within_the_quiet_time() {
        let mut backoff = watch_backoff();
        for _ in 0..50 {
            let wait = backoff.next().expect("retries forever");
            assert!(wait < QUIET, "{wait:?}");
        }
    }
}
