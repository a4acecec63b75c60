//! Whether the watch cache is live. Each of the cache's watches reports here what it last did
//! ([`WatchLink`]), and a probe asks the API server for its version every [`PROBE_EVERY`] (a
//! watch on a server that hangs reports nothing for minutes). The cache is stale from the first
//! failure until every watch is live again and the probe answers; the pages say so, since when
//! and why ([`StaleReason`]), within seconds either way.
//!
//! A watch that must list again (its first list failed, or it was told `410 Gone`) is live
//! once that list is in. One that only resumes yields nothing when it succeeds (kube resumes
//! from its last resourceVersion silently), so it counts as live once the API server has
//! answered since its last failure and it has not failed for longer than it waits between
//! retries ([`QUIET`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontend::contract::{ClusterLink, StaleReason};
use kube::runtime::watcher::{self, ExponentialBackoff};
use parking_lot::Mutex;

/// How often the probe asks the API server.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long the probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A failed watch waits this long before its first retry, then twice as long each time...
const RETRY_FIRST: Duration = Duration::from_millis(200);
/// ...up to this, plus as much again at random (so retries of many watches spread out).
const RETRY_MOST: Duration = Duration::from_millis(700);
/// Longer than a watch ever waits between retries (`RETRY_MOST` and its jitter, 1.4 s): a
/// resuming watch that has not failed for this long, with the API server answering since its
/// last failure, has resumed.
const QUIET: Duration = RETRY_MOST
    .saturating_mul(2)
    .saturating_add(Duration::from_millis(500));

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
    /// What each watch last did, by [`WatchLink::slot`].
    watches: Vec<WatchState>,
    /// Whether the probe's last question went unanswered.
    probe_failing: bool,
    /// When the API server last answered the probe.
    last_answer: Option<Instant>,
    /// Since when something has been failing; None while live.
    outage: Option<Outage>,
}

#[derive(Clone)]
enum WatchState {
    Live,
    Failing {
        at: Instant,
        reason: StaleReason,
        /// It lists again before it is live (it says so with `InitDone`).
        must_list: bool,
    },
}

struct Outage {
    since: jiff::Timestamp,
    began: Instant,
}

impl LinkState {
    /// Marks live the resumed watches the API server has answered after, once quiet; ends the
    /// outage when nothing fails any more.
    fn settle(&mut self, now: Instant) {
        let last_answer = self.last_answer;
        for watch in &mut self.watches {
            if let WatchState::Failing {
                at,
                must_list: false,
                ..
            } = *watch
                && last_answer.is_some_and(|answer| answer > at)
                && now.duration_since(at) >= QUIET
            {
                *watch = WatchState::Live;
            }
        }
        if let Some(outage) = &self.outage
            && self.reason().is_none()
        {
            tracing::info!(stale_for = ?outage.began.elapsed(), "the cluster's API server answers again; the cache is live");
            self.outage = None;
        }
    }

    /// The most serious reason anything fails now.
    fn reason(&self) -> Option<StaleReason> {
        let watches = self.watches.iter().filter_map(|w| match w {
            WatchState::Failing { reason, .. } => Some(reason),
            WatchState::Live => None,
        });
        let probe = self.probe_failing.then_some(&StaleReason::Unreachable);
        watches.chain(probe).min().cloned()
    }

    /// Something failed: the outage begins now, unless it already has.
    fn failed(&mut self, now: Instant) {
        if self.outage.is_none() {
            self.outage = Some(Outage {
                since: jiff::Timestamp::now(),
                began: now,
            });
        }
    }
}

impl Link {
    /// A slot for the watch of `resource` (a plural, as `pods`), live until it says otherwise.
    pub fn watch(&self, resource: &'static str) -> WatchLink {
        let mut state = self.state.lock();
        state.watches.push(WatchState::Live);
        WatchLink {
            link: self.clone(),
            slot: state.watches.len() - 1,
            resource,
        }
    }

    /// The API server answered the probe (a refusal too: it is there).
    pub fn answered(&self) {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.last_answer = Some(now);
        state.probe_failing = false;
        state.settle(now);
    }

    /// The probe got no answer.
    pub fn unanswered(&self) {
        let mut state = self.state.lock();
        state.probe_failing = true;
        state.failed(Instant::now());
    }

    /// Live, or stale since when and why.
    pub fn status(&self) -> ClusterLink {
        let mut state = self.state.lock();
        state.settle(Instant::now());
        match (&state.outage, state.reason()) {
            (Some(outage), Some(reason)) => ClusterLink::Stale {
                since_utc: outage.since.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                for_seconds: outage.began.elapsed().as_secs() as i64,
                reason,
            },
            _ => ClusterLink::Live,
        }
    }

    /// Asks the API server for its version every [`PROBE_EVERY`] with `client`, until the
    /// process ends.
    pub fn start_probe(&self, client: kube::Client) {
        let link = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PROBE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
                    Ok(Ok(_)) | Ok(Err(kube::Error::Api(_))) => link.answered(),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "the API server does not answer");
                        link.unanswered();
                    }
                    Err(_) => link.unanswered(),
                }
            }
        });
    }
}

/// One watch's place in the [`Link`].
pub struct WatchLink {
    link: Link,
    slot: usize,
    resource: &'static str,
}

impl WatchLink {
    /// The watch yielded an event; `listed` when it is the end of a (re)list (`InitDone`).
    /// Called for every event, so a live watch costs one lock and a look at its slot.
    pub fn saw(&self, listed: bool) {
        let mut state = self.link.state.lock();
        let Some(WatchState::Failing { must_list, .. }) = state.watches.get(self.slot) else {
            return;
        };
        if listed || !must_list {
            state.watches[self.slot] = WatchState::Live;
            state.settle(Instant::now());
        }
    }

    /// The watch failed with `error` (its text goes to the log, not to the pages).
    pub fn failed(&self, error: &watcher::Error) {
        let (reason, must_list) = classify(self.resource, error);
        let now = Instant::now();
        let mut state = self.link.state.lock();
        if let Some(watch) = state.watches.get_mut(self.slot) {
            *watch = WatchState::Failing {
                at: now,
                reason,
                must_list,
            };
        }
        state.failed(now);
    }
}

/// Why a watch failed, and whether kube lists again before it watches (as its state machine
/// does after a failed list or a `410 Gone`; after a failed watch it resumes).
fn classify(resource: &str, error: &watcher::Error) -> (StaleReason, bool) {
    let resource = resource.to_string();
    let answered = |code: u16| answered_with(resource.clone(), code);
    match error {
        watcher::Error::WatchError(status) if status.code == 410 => {
            (StaleReason::Relisting { resource }, true)
        }
        watcher::Error::NoResourceVersion => (StaleReason::Relisting { resource }, true),
        watcher::Error::WatchError(status) => (answered(status.code), false),
        watcher::Error::InitialListFailed(kube::Error::Api(status)) => {
            (answered(status.code), true)
        }
        watcher::Error::InitialListFailed(_) => (StaleReason::Unreachable, true),
        watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => (answered(status.code), false),
        watcher::Error::WatchStartFailed(_) | watcher::Error::WatchFailed(_) => {
            (StaleReason::Unreachable, false)
        }
    }
}

/// The API server answered a watch of `resource` with HTTP `code`: 429 and 5xx pass by
/// themselves, other codes are refusals.
fn answered_with(resource: String, code: u16) -> StaleReason {
    if code == 429 || code >= 500 {
        StaleReason::Failing { resource, code }
    } else {
        StaleReason::Refused { resource, code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone() -> watcher::Error {
        watcher::Error::WatchError(Box::new(
            kube::core::Status::failure("too old", "Expired").with_code(410),
        ))
    }

    fn refused() -> watcher::Error {
        watcher::Error::WatchStartFailed(kube::Error::Api(Box::new(
            kube::core::Status::failure("forbidden", "Forbidden").with_code(403),
        )))
    }

    #[test]
    fn refusals_last_and_server_errors_pass_by_themselves() {
        let api = |code: u16| {
            watcher::Error::WatchFailed(kube::Error::Api(Box::new(
                kube::core::Status::failure("no", "No").with_code(code),
            )))
        };
        let nodes = "nodes".to_string();
        for code in [401, 403, 404] {
            let refused = StaleReason::Refused {
                resource: nodes.clone(),
                code,
            };
            assert_eq!(classify("nodes", &api(code)), (refused, false));
        }
        for code in [429, 500, 503] {
            let failing = StaleReason::Failing {
                resource: nodes.clone(),
                code,
            };
            assert_eq!(classify("nodes", &api(code)), (failing, false));
        }
        assert_eq!(
            classify("nodes", &gone()),
            (StaleReason::Relisting { resource: nodes }, true)
        );
    }

    fn since(link: &Link) -> Option<(String, StaleReason)> {
        match link.status() {
            ClusterLink::Live => None,
            ClusterLink::Stale {
                since_utc, reason, ..
            } => Some((since_utc, reason)),
        }
    }

    /// Moves a failing watch's last failure back by the quiet time, as if it had passed.
    fn age(link: &Link, slot: usize) {
        let mut state = link.state.lock();
        if let WatchState::Failing { at, .. } = &mut state.watches[slot] {
            *at = at.checked_sub(QUIET).expect("the clock is older than that");
        }
    }

    #[test]
    fn a_resumed_watch_is_live_after_an_answer_and_a_quiet_time_and_the_outage_keeps_its_start() {
        let link = Link::default();
        let (pods, nodes) = (link.watch("pods"), link.watch("nodes"));
        assert_eq!(link.status(), ClusterLink::Live);
        link.unanswered();
        let (start, reason) = since(&link).expect("stale");
        assert_eq!(reason, StaleReason::Unreachable);
        pods.failed(&refused());
        nodes.failed(&refused());
        assert_eq!(since(&link).map(|s| s.0), Some(start.clone()), "one outage");
        // The server answers; the watches have not failed since, but may still be waiting.
        link.answered();
        let (_, reason) = since(&link).expect("still stale");
        assert_eq!(
            reason,
            StaleReason::Refused {
                resource: "nodes".into(),
                code: 403
            }
        );
        // Quiet for long enough, but the answer came before the last failure: still stale.
        age(&link, 0);
        age(&link, 1);
        link.state.lock().last_answer = Some(Instant::now() - QUIET * 2);
        assert!(since(&link).is_some());
        link.answered();
        assert_eq!(link.status(), ClusterLink::Live);
    }

    #[test]
    fn a_watch_that_must_list_again_is_stale_until_its_list_is_in() {
        let link = Link::default();
        let pods = link.watch("pods");
        pods.failed(&gone());
        let (_, reason) = since(&link).expect("stale");
        assert_eq!(
            reason,
            StaleReason::Relisting {
                resource: "pods".into()
            }
        );
        link.answered();
        age(&link, 0);
        link.answered();
        pods.saw(false);
        assert!(
            since(&link).is_some(),
            "quiet time and events mid-list are not enough"
        );
        pods.saw(true);
        assert_eq!(link.status(), ClusterLink::Live);
    }

    #[test]
    fn an_event_after_a_failed_resume_is_live_at_once() {
        let link = Link::default();
        let pods = link.watch("pods");
        pods.failed(&watcher::Error::WatchFailed(
            kube::Error::LinesCodecMaxLineLengthExceeded,
        ));
        assert_eq!(since(&link).map(|s| s.1), Some(StaleReason::Unreachable));
        pods.saw(false);
        assert_eq!(link.status(), ClusterLink::Live);
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
