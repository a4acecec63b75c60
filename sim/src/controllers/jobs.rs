//! The Job controller: creates pods from the template up to parallelism until `completions`
//! succeed, counts failures against `backoffLimit`, sets Complete/Failed conditions, and deletes
//! finished Jobs after `ttlSecondsAfterFinished`.

use serde_json::{Value, json};

use super::{events, owned_pods};
use crate::resources::by_kind;
use crate::store::{Store, meta_str, now_rfc3339};
use crate::{admission, policy};

fn condition(job: &Value, kind: &str) -> Option<Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
        .cloned()
}

fn new_pod(job: &Value) -> Value {
    let template = &job["spec"]["template"];
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"].clone(), "spec": template["spec"].clone()});
    pod["metadata"]["name"] = json!(admission::generate_name(&format!(
        "{}-",
        meta_str(job, "name")
    )));
    pod["metadata"]["namespace"] = json!(meta_str(job, "namespace"));
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": meta_str(job, "name"),
        "uid": meta_str(job, "uid"), "controller": true, "blockOwnerDeletion": true}]);
    pod
}

/// After a refused pod creation the controller waits before trying again (client-go's back-off),
/// so a Job held by its quota records one `FailedCreate` every [`CREATE_BACKOFF_SECONDS`].
pub const CREATE_BACKOFF_SECONDS: i64 = 10;

pub fn run(store: &mut Store) {
    for job in store.list(by_kind("Job"), None) {
        let job = (*job).clone();
        let finished = condition(&job, "Complete").or_else(|| condition(&job, "Failed"));
        if let Some(c) = finished {
            let ttl = job["spec"]["ttlSecondsAfterFinished"].as_i64();
            let at = c["lastTransitionTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            if let (Some(ttl), Some(at)) = (ttl, at)
                && jiff::Timestamp::now() >= at + jiff::SignedDuration::from_secs(ttl)
            {
                let _ = store.delete(
                    by_kind("Job"),
                    meta_str(&job, "namespace"),
                    meta_str(&job, "name"),
                );
            }
            continue;
        }
        let pods = owned_pods(store, &job);
        let phase = |p: &Value| p["status"]["phase"].as_str().unwrap_or("").to_string();
        let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active: Vec<&Value> = pods
            .iter()
            .map(|p| &**p)
            .filter(|p| phase(p) != "Succeeded" && phase(p) != "Failed")
            .collect();
        let ready = active
            .iter()
            .filter(|p| {
                p["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count();
        let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
        let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1);
        let backoff_limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
        let now = now_rfc3339();
        let mut status = job["status"].clone();
        if status["startTime"].is_null() {
            status["startTime"] = json!(now);
        }
        let mut active_count = active.len() as i64;
        if failed > backoff_limit {
            for p in &active {
                let _ = store.delete(
                    by_kind("Pod"),
                    meta_str(p, "namespace"),
                    meta_str(p, "name"),
                );
            }
            active_count = 0;
            status["conditions"] = json!([
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now}
            ]);
            events::record(
                store,
                &job,
                "Warning",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                "job-controller",
                None,
            );
        } else if succeeded >= completions {
            status["completionTime"] = json!(now);
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now}
            ]);
            events::record(
                store,
                &job,
                "Normal",
                "Completed",
                "Job completed",
                "job-controller",
                None,
            );
        } else if job["spec"]["suspend"] != true {
            let want = parallelism.min(completions - succeeded);
            let mut missing = (want - active_count).max(0);
            if missing > 0 && events::recent(store, &job, "FailedCreate", CREATE_BACKOFF_SECONDS) {
                missing = 0;
            }
            for _ in 0..missing {
                let mut pod = new_pod(&job);
                let admitted = admission::on_create(by_kind("Pod"), &mut pod)
                    .and_then(|()| policy::admit(store, by_kind("Pod"), &mut pod));
                if let Err(e) = admitted {
                    // The Job controller's own words; the Job keeps trying on later ticks.
                    events::record(
                        store,
                        &job,
                        "Warning",
                        "FailedCreate",
                        &format!("Error creating: {}", e.message),
                        "job-controller",
                        None,
                    );
                    break;
                }
                if let Ok(created) = store.create(by_kind("Pod"), pod) {
                    events::record(
                        store,
                        &job,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {}", meta_str(&created, "name")),
                        "job-controller",
                        None,
                    );
                    active_count += 1;
                }
            }
        }
        status["active"] = json!(active_count);
        status["succeeded"] = json!(succeeded);
        status["failed"] = json!(failed);
        status["ready"] = json!(ready);
        status["terminating"] = json!(0);
        status["uncountedTerminatedPods"] = json!({});
        if status != job["status"] {
            let mut j = job.clone();
            j["status"] = status;
            let _ = store.update(by_kind("Job"), j, None);
        }
    }
}
