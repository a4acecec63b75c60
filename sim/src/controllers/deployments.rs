//! The Deployment controller, reduced to what one-replica workspaces need: keeps `replicas` live
//! pods from the template (labelled with `pod-template-hash`, created through the same admission
//! and quota as any pod), records `FailedCreate` when a pod is refused, and writes the status
//! `kubectl rollout status` reads. The sim has no ReplicaSets: pods are owned by the Deployment.

use serde_json::{Value, json};

use std::sync::Arc;

use super::scheduler::is_terminated;
use super::{events, owned_pods};
use crate::resources::by_kind;
use crate::store::{Store, meta_str, now_rfc3339};
use crate::{admission, policy};

/// The template's hash as the `pod-template-hash` label carries it.
fn template_hash(deployment: &Value) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(deployment["spec"]["template"].to_string().as_bytes());
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

fn new_pod(deployment: &Value, hash: &str) -> Value {
    let name = meta_str(deployment, "name");
    let template = &deployment["spec"]["template"];
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"].clone(),
                         "spec": template["spec"].clone()});
    pod["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    pod["metadata"]["name"] = json!(admission::generate_name(&format!("{name}-{hash}-")));
    pod["metadata"]["namespace"] = json!(meta_str(deployment, "namespace"));
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
        "name": name, "uid": meta_str(deployment, "uid"), "controller": true, "blockOwnerDeletion": true}]);
    pod
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

pub fn run(store: &mut Store) {
    for deployment in store.list(by_kind("Deployment"), None) {
        let deployment = (*deployment).clone();
        let hash = template_hash(&deployment);
        let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
        let live: Vec<Arc<Value>> = owned_pods(store, &deployment)
            .into_iter()
            .filter(|p| !is_terminated(p))
            .collect();
        let mut count = live.len() as i64;
        // After a refused create, wait as the Job controller does.
        let backing_off = count < replicas
            && events::recent(
                store,
                &deployment,
                "FailedCreate",
                super::jobs::CREATE_BACKOFF_SECONDS,
            );
        while count < replicas && !backing_off {
            let mut pod = new_pod(&deployment, &hash);
            let admitted = admission::on_create(by_kind("Pod"), &mut pod)
                .and_then(|()| policy::admit(store, by_kind("Pod"), &mut pod));
            match admitted {
                Ok(()) => {
                    if store.create(by_kind("Pod"), pod).is_err() {
                        break;
                    }
                    count += 1;
                }
                Err(e) => {
                    events::record(
                        store,
                        &deployment,
                        "Warning",
                        "FailedCreate",
                        &format!("Error creating: {}", e.message),
                        "deployment-controller",
                        None,
                    );
                    break;
                }
            }
        }
        for extra in live.iter().skip(replicas as usize) {
            let _ = store.delete(
                by_kind("Pod"),
                meta_str(extra, "namespace"),
                meta_str(extra, "name"),
            );
        }
        let ready = live.iter().filter(|p| is_ready(p)).count() as i64;
        let available = ready >= replicas;
        let now = now_rfc3339();
        let old = &deployment["status"];
        let keep_time = |kind: &str, status: &str| {
            old["conditions"]
                .as_array()
                .and_then(|c| {
                    c.iter()
                        .find(|c| c["type"] == kind && c["status"] == status)
                })
                .map(|c| c["lastTransitionTime"].clone())
                .unwrap_or_else(|| json!(now))
        };
        let (available_status, available_reason, available_message) = if available {
            (
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        } else {
            (
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        };
        let status = json!({
            "observedGeneration": deployment["metadata"]["generation"].as_i64().unwrap_or(1),
            "replicas": count.min(replicas),
            "updatedReplicas": count.min(replicas),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": (replicas - ready).max(0),
            "conditions": [
                {"type": "Available", "status": available_status, "reason": available_reason,
                 "message": available_message, "lastTransitionTime": keep_time("Available", available_status),
                 "lastUpdateTime": keep_time("Available", available_status)},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{}-{hash}\" has successfully progressed.", meta_str(&deployment, "name")),
                 "lastTransitionTime": keep_time("Progressing", "True"), "lastUpdateTime": keep_time("Progressing", "True")}
            ]
        });
        if status != deployment["status"] {
            let mut d = deployment.clone();
            d["status"] = status;
            let _ = store.update(by_kind("Deployment"), d, None);
        }
    }
}
