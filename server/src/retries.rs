//! Requests that may arrive twice (a retry after a lost answer, a double click, both at once):
//! the request ID a client sends with them, the digest that names one request, and the object
//! names derived from it, so that a second send meets what the first made instead of making
//! another. The digest, not the request ID, is kept on what was made.

use std::collections::BTreeMap;

use frontend::contract::{FieldError, PageError, REQUEST_ID_CHARS, Refusal};
use kube::Resource;
use kube::api::{Api, ObjectMeta, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::cluster::refusal::page_error;

/// The annotation naming the request that made an object: its [`digest`].
pub const ANNOTATION: &str = "gpuboard.io/request";

/// Refuses a request ID that is not [`REQUEST_ID_CHARS`] of letters, digits, `-`, `_` or `.`,
/// naming the field `requestId`.
pub fn check(request_id: Option<&str>) -> Result<(), FieldError> {
    let (min, max) = REQUEST_ID_CHARS;
    let plain = |id: &str| {
        (min..=max).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match request_id {
        Some(id) if !plain(id) => Err(FieldError::new(
            "requestId",
            Refusal::NotARequestId { min, max },
        )),
        _ => Ok(()),
    }
}

/// Names one request: what it does (`operation`), who sent it, its ID and what it asked for.
pub fn digest(operation: &str, username: &str, request_id: &str, asked: &impl Serialize) -> String {
    let body = serde_json::to_string(&(operation, username, request_id, asked))
        .unwrap_or_else(|e| e.to_string());
    format!("{:x}", Sha256::digest(body.as_bytes()))
}

/// `len` (at most 64) lowercase hex characters for the `attempt`th try of the request `digest`:
/// the same for every send of it, another for each attempt.
pub fn derived(digest: &str, attempt: usize, len: usize) -> String {
    let mut hash = Sha256::new();
    hash.update(digest.as_bytes());
    hash.update((attempt as u64).to_le_bytes());
    let mut hex = format!("{:x}", hash.finalize());
    hex.truncate(len);
    hex
}

/// The annotations that mark an object as made by the request `digest`.
pub fn annotations(digest: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(ANNOTATION.to_string(), digest.to_string())])
}

/// Whether the request `digest` made the object of `meta`.
pub fn made_by(meta: &ObjectMeta, digest: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .is_some_and(|made_by| made_by == digest)
}

/// What a create-once call found (this module's [`create_once`], and the submit's own).
#[derive(Debug)]
pub enum Made<K> {
    /// Made by this call.
    Now(K),
    /// Made by an earlier (or simultaneous) send of the same request.
    Before(K),
}

impl<K> Made<K> {
    pub fn object(&self) -> &K {
        match self {
            Made::Now(k) | Made::Before(k) => k,
        }
    }

    pub fn now(&self) -> bool {
        matches!(self, Made::Now(_))
    }
}

/// Why [`create_once`] made nothing.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    /// The cluster refused a call (its error as it came).
    #[error(transparent)]
    Cluster(#[from] kube::Error),
    /// Every name derived from the request is another object's.
    #[error(
        "the {0} names derived from the request are all taken by other objects; send it with another requestId (on a page: reload it and send the form again)"
    )]
    AllTaken(usize),
    /// The name is taken by an object the user may not read: it may be this request's.
    #[error(
        "{0} exists and your account may not read it, so whether this request made it cannot be told; nothing more was made. Ask an admin for get on Secrets in its namespace, so that a retry can find what it made"
    )]
    Unreadable(String),
}

impl From<OnceError> for PageError {
    fn from(e: OnceError) -> Self {
        match e {
            OnceError::Cluster(e) => page_error(e),
            OnceError::Unreadable(_) => PageError::Forbidden(e.to_string()),
            OnceError::AllTaken(_) => PageError::Refused(e.to_string()),
        }
    }
}

/// Makes the request `digest`'s object once: `names` are its derived names, in order, and
/// `object_named` the object under one of them (annotated with [`annotations`]). An earlier
/// send's object under any of the names is answered, whichever name another's object pushed it
/// to; otherwise the first free name is taken. A taken name whose object the user may not read
/// cannot be told apart from this request's: refused ([`OnceError::Unreadable`]), never made
/// twice.
pub async fn create_once<K>(
    api: &Api<K>,
    digest: &str,
    names: &[String],
    object_named: impl Fn(&str) -> K,
) -> Result<Made<K>, OnceError>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    // An earlier send's object, whichever name it took (unreadable ones are met below).
    for name in names {
        match api.get_opt(name).await {
            Ok(Some(found)) if made_by(found.meta(), digest) => return Ok(Made::Before(found)),
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 403 => break,
            Err(e) => return Err(e.into()),
        }
    }
    for name in names {
        let made = api
            .create(&PostParams::default(), &object_named(name))
            .await;
        match made {
            Ok(made) => return Ok(Made::Now(made)),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // A send at the same moment made it, or another's object has the name.
                match api.get_opt(name).await {
                    Ok(Some(found)) if made_by(found.meta(), digest) => {
                        return Ok(Made::Before(found));
                    }
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 403 => {
                        return Err(OnceError::Unreadable(name.clone()));
                    }
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(object = %name, "a name derived from the request is taken; trying the next");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(OnceError::AllTaken(names.len()))
}

/// A fresh request ID for a form (each load of its page gets one).
pub fn fresh() -> String {
    crate::hex::random::<16>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_has_one_digest_and_its_names_differ_by_attempt() {
        let first = digest("op", "alice", "0123456789abcdef", &("x", 1));
        assert_eq!(first, digest("op", "alice", "0123456789abcdef", &("x", 1)));
        for other in [
            digest("other-op", "alice", "0123456789abcdef", &("x", 1)),
            digest("op", "bob", "0123456789abcdef", &("x", 1)),
            digest("op", "alice", "0123456789abcdeF", &("x", 1)),
            digest("op", "alice", "0123456789abcdef", &("x", 2)),
        ] {
            assert_ne!(first, other);
        }
        let names: std::collections::BTreeSet<String> =
            (0..5).map(|attempt| derived(&first, attempt, 6)).collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_eq!(derived(&first, 3, 5), derived(&first, 3, 5));
        let meta = ObjectMeta {
            annotations: Some(annotations(&first)),
            ..Default::default()
        };
        assert!(made_by(&meta, &first) && !made_by(&meta, &derived(&first, 0, 64)));
        assert!(!made_by(&ObjectMeta::default(), &first));
    }

    #[test]
    fn a_request_id_is_16_to_128_plain_characters() {
        let uuid = "6f1c2b1e-4c1a-4a8e-9f55-0d2f1f6b8e21".to_string();
        for good in [
            uuid,
            "a".repeat(16),
            "A_b-c.9".repeat(19)[..128].to_string(),
            fresh(),
        ] {
            assert!(check(Some(&good)).is_ok(), "{good}");
        }
        assert!(check(None).is_ok());
        for bad in [
            "a".repeat(15),
            "a".repeat(129),
            "0123456789abcdef ".into(),
            "0123456789abcdef/".into(),
            "请求请求请求请求请求请求".into(),
        ] {
            let refused = check(Some(&bad)).unwrap_err();
            assert_eq!(refused.field, "requestId", "{bad}");
            assert!(refused.message.contains("16 to 128"), "{}", refused.message);
        }
    }
}
