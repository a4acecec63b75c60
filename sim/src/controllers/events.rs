//! The event recorder controllers share: core/v1 Events about an object, aggregated the way
//! client-go's recorder does (the same reason and message bump `count` and `lastTimestamp`).

use serde_json::{Value, json};

use crate::resources::by_kind;
use crate::store::{Indexer, Store, meta_str, now_rfc3339};

/// Events filed by their involved object's uid: recording one looks up that object's events, not
/// the namespace's.
pub static BY_INVOLVED_UID: Indexer = Indexer {
    plural: "events",
    key_of: |event| {
        event["involvedObject"]["uid"]
            .as_str()
            .filter(|uid| !uid.is_empty())
            .map(String::from)
    },
};

/// Records (or bumps) an event about `involved`. Cluster-scoped objects' events go to `default`.
pub fn record(
    store: &mut Store,
    involved: &Value,
    event_type: &str,
    reason: &str,
    message: &str,
    component: &str,
    host: Option<&str>,
) {
    let def = by_kind("Event");
    let obj_ns = meta_str(involved, "namespace");
    let ns = if obj_ns.is_empty() { "default" } else { obj_ns }.to_string();
    let uid = meta_str(involved, "uid").to_string();
    let now = now_rfc3339();
    let existing = store
        .list_indexed(&BY_INVOLVED_UID, &uid)
        .into_iter()
        .find(|e| {
            meta_str(e, "namespace") == ns
                && e["reason"] == reason
                && e["message"] == message
                && e["source"]["component"] == component
        });
    if let Some(e) = existing {
        let mut e = (*e).clone();
        e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
        e["lastTimestamp"] = json!(now);
        let _ = store.update(def, e, None);
        return;
    }
    let name = format!(
        "{}.{:x}",
        meta_str(involved, "name"),
        jiff::Timestamp::now().as_nanosecond()
    );
    let mut source = json!({"component": component});
    if let Some(h) = host {
        source["host"] = json!(h);
    }
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {
            "kind": involved["kind"], "namespace": obj_ns, "name": meta_str(involved, "name"), "uid": uid,
            "apiVersion": involved["apiVersion"], "resourceVersion": meta_str(involved, "resourceVersion"),
        },
        "reason": reason, "message": message, "source": source, "type": event_type,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "reportingComponent": component, "reportingInstance": host.unwrap_or(""),
    });
    let _ = store.create(def, event);
}

/// Whether `involved` had a `reason` event within the last `seconds` (a controller's back-off
/// after a refused create).
pub fn recent(store: &Store, involved: &Value, reason: &str, seconds: i64) -> bool {
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds);
    let obj_ns = meta_str(involved, "namespace");
    let ns = if obj_ns.is_empty() { "default" } else { obj_ns };
    let uid = meta_str(involved, "uid");
    store.list_indexed(&BY_INVOLVED_UID, uid).iter().any(|e| {
        meta_str(e, "namespace") == ns
            && e["reason"] == reason
            && e["lastTimestamp"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t > since)
    })
}

/// Deletes events last seen more than `ttl_seconds` ago (the API server's event TTL).
pub fn expire(store: &mut Store, ttl_seconds: i64) {
    let def = by_kind("Event");
    let cutoff = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(ttl_seconds);
    for e in store.list(def, None) {
        let last = e["lastTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if last.is_some_and(|t| t < cutoff) {
            let _ = store.delete(def, meta_str(&e, "namespace"), meta_str(&e, "name"));
        }
    }
}
