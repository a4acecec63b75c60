//! The small controllers of the control plane: the namespace controller (each namespace gets its
//! `default` service account and `kube-root-ca.crt`), node lifecycle (a NotReady node is tainted
//! `node.kubernetes.io/not-ready`), the garbage collector (pods of deleted Jobs go), the bootstrap
//! signer (`jws-kubeconfig-<id>` in cluster-info), the token cleaner (expired bootstrap tokens go)
//! and the kubelets' heartbeats (each Ready node renews its Lease, by its own clock).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{PODS_BY_CONTROLLER, controller_of};
use crate::auth::{bootstrap_token_expired, secret_value};
use crate::pki::{ClusterCa, detached_jws};
use crate::resources::by_kind;
use crate::store::{Store, meta_str};

pub fn namespaces(store: &mut Store, ca: &ClusterCa) {
    for ns in store.list(by_kind("Namespace"), None) {
        let name = meta_str(&ns, "name").to_string();
        if !store.exists(by_kind("ServiceAccount"), &name, "default") {
            let _ = store.create(by_kind("ServiceAccount"), json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}));
        }
        if !store.exists(by_kind("ConfigMap"), &name, "kube-root-ca.crt") {
            let _ = store.create(
                by_kind("ConfigMap"),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                       "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                       "data": {"ca.crt": ca.cert_pem}}),
            );
        }
    }
}

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

pub fn node_lifecycle(store: &mut Store) {
    for node in store.list(by_kind("Node"), None) {
        let ready = node["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        let taints: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has = taints.iter().any(|t| t["key"] == NOT_READY_TAINT);
        if ready == has {
            let mut n = (*node).clone();
            let mut new: Vec<Value> = taints
                .into_iter()
                .filter(|t| t["key"] != NOT_READY_TAINT)
                .collect();
            if !ready {
                new.push(json!({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": crate::store::now_rfc3339()}));
            }
            n["spec"]["taints"] = json!(new);
            if new.is_empty()
                && let Some(spec) = n["spec"].as_object_mut()
            {
                spec.remove("taints");
            }
            let _ = store.update(by_kind("Node"), n, None);
        }
    }
}

/// How often a kubelet renews its Lease, and for how long a renewal holds.
const LEASE_RENEW_SECONDS: i64 = 10;
const LEASE_DURATION_SECONDS: i64 = 40;

/// A Lease's renewTime: RFC 3339 with microseconds (`MicroTime`).
fn micro_time(at: jiff::Timestamp) -> String {
    format!(
        "{}.{:06}Z",
        at.strftime("%Y-%m-%dT%H:%M:%S"),
        at.subsec_microsecond()
    )
}

/// Each Ready node's kubelet renews `kube-node-lease/<node>` every 10 s, stamped by the node's
/// clock (which may run ahead of the API server's: `clock_offset_seconds`).
pub fn node_leases(store: &mut Store, hardware: &[crate::seed::NodeHardware]) {
    let now = jiff::Timestamp::now();
    for hw in hardware {
        let ready = store.get(by_kind("Node"), "", &hw.name).is_some_and(|n| {
            n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        if !ready {
            continue;
        }
        let node_clock = now
            .checked_add(jiff::SignedDuration::from_secs(hw.clock_offset_seconds))
            .unwrap_or(now);
        let lease = store.get(by_kind("Lease"), "kube-node-lease", &hw.name);
        let due = lease.as_ref().is_none_or(|l| {
            l["spec"]["renewTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_none_or(|t| node_clock.as_second() - t.as_second() >= LEASE_RENEW_SECONDS)
        });
        if !due {
            continue;
        }
        let spec = json!({"holderIdentity": hw.name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": micro_time(node_clock)});
        match lease {
            Some(existing) => {
                let mut l = (*existing).clone();
                l["spec"] = spec;
                let _ = store.update(by_kind("Lease"), l, None);
            }
            None => {
                let _ = store.create(
                    by_kind("Lease"),
                    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                           "metadata": {"name": hw.name, "namespace": "kube-node-lease"}, "spec": spec}),
                );
            }
        }
    }
}

/// Deletes the pods whose controlling Job or Deployment is gone (looked up by the pods' index,
/// so a tick costs the number of owners, not of pods).
pub fn garbage_collect(store: &mut Store) {
    let owners: std::collections::HashSet<String> = ["Job", "Deployment"]
        .iter()
        .flat_map(|kind| store.list(by_kind(kind), None))
        .map(|o| meta_str(&o, "uid").to_string())
        .collect();
    let orphaned: Vec<std::sync::Arc<Value>> = store
        .indexed_keys(&PODS_BY_CONTROLLER)
        .into_iter()
        .filter(|uid| !owners.contains(uid))
        .flat_map(|uid| store.list_indexed(&PODS_BY_CONTROLLER, &uid))
        .filter(|pod| {
            controller_of(pod).is_some_and(|r| r["kind"] == "Job" || r["kind"] == "Deployment")
        })
        .collect();
    for pod in orphaned {
        let _ = store.delete(
            by_kind("Pod"),
            meta_str(&pod, "namespace"),
            meta_str(&pod, "name"),
        );
    }
}

fn bootstrap_secrets(store: &Store) -> Vec<(String, Value)> {
    store
        .list(by_kind("Secret"), Some("kube-system"))
        .into_iter()
        .filter(|s| s["type"] == "bootstrap.kubernetes.io/token")
        .filter_map(|s| {
            let id = meta_str(&s, "name")
                .strip_prefix("bootstrap-token-")?
                .to_string();
            let valid = id.len() == 6
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            valid.then(|| (id, (*s).clone()))
        })
        .collect()
}

pub fn bootstrap_signer(store: &mut Store) {
    let Some(cm) = store.get(by_kind("ConfigMap"), "kube-public", "cluster-info") else {
        return;
    };
    let Some(kubeconfig) = cm["data"]["kubeconfig"].as_str().map(String::from) else {
        return;
    };
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (id, s) in bootstrap_secrets(store) {
        let secret = secret_value(&s, "token-secret").unwrap_or_default();
        let ok = secret_value(&s, "token-id").as_deref() == Some(id.as_str())
            && !secret.is_empty()
            && !bootstrap_token_expired(secret_value(&s, "expiration").as_deref())
            && secret_value(&s, "usage-bootstrap-signing").as_deref() == Some("true");
        if ok {
            wanted.insert(
                format!("jws-kubeconfig-{id}"),
                detached_jws(&kubeconfig, &id, &secret),
            );
        }
    }
    let mut data: serde_json::Map<String, Value> =
        cm["data"].as_object().cloned().unwrap_or_default();
    data.retain(|k, _| !k.starts_with("jws-kubeconfig-"));
    for (k, v) in wanted {
        data.insert(k, json!(v));
    }
    if Value::Object(data.clone()) != cm["data"] {
        let mut c = (*cm).clone();
        c["data"] = Value::Object(data);
        let _ = store.update(by_kind("ConfigMap"), c, None);
    }
}

pub fn token_cleaner(store: &mut Store) {
    for (_, s) in bootstrap_secrets(store) {
        if secret_value(&s, "expiration").is_some()
            && bootstrap_token_expired(secret_value(&s, "expiration").as_deref())
        {
            let _ = store.delete(by_kind("Secret"), "kube-system", meta_str(&s, "name"));
        }
    }
}
