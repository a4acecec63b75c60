//! Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for, with the columns
//! kubectl users know (`-o wide` shows the priority-1 columns).

use serde_json::{Value, json};

use super::resources::ResourceDef;
use super::store::meta_str;

/// `n` and a unit, then `rest` of a smaller unit unless it is 0: `2m`, `2m5s`.
fn two_units(n: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{n}{unit}")
    } else {
        format!("{n}{unit}{rest}{rest_unit}")
    }
}

/// `5s`, `2m5s`, `3h`, `4d`: the API server's AGE column (apimachinery's `HumanDuration`).
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (minutes, hours, days) = (s / 60, s / 3600, s / 86_400);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => two_units(minutes, "m", s % 60, "s"),
        s if s < 3 * 3600 => format!("{minutes}m"),
        s if s < 8 * 3600 => two_units(hours, "h", minutes % 60, "m"),
        s if s < 48 * 3600 => format!("{hours}h"),
        s if s < 8 * 86_400 => two_units(days, "d", hours % 24, "h"),
        s if s < 2 * 365 * 86_400 => format!("{days}d"),
        s if s < 8 * 365 * 86_400 => two_units(days / 365, "y", days % 365, "d"),
        _ => format!("{}y", days / 365),
    }
}

fn age(ts: Option<&str>) -> String {
    match ts.and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
        Some(t) => human_duration((jiff::Timestamp::now() - t).get_seconds()),
        None => "<unknown>".into(),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |o, k| o.get(*k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn col(name: &str, ty: &str, priority: i32) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
}

fn node_row(n: &Value) -> Vec<Value> {
    let conds = n["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = conds
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| c["status"] == "True");
    let mut status = match ready {
        Some(true) => "Ready".to_string(),
        Some(false) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if n["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = n["metadata"]["labels"]
        .as_object()
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let addr = |t: &str| {
        n["status"]["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == t))
            .and_then(|x| x["address"].as_str())
            .unwrap_or("<none>")
            .to_string()
    };
    let info = &n["status"]["nodeInfo"];
    vec![
        json!(meta_str(n, "name")),
        json!(status),
        json!(if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        }),
        json!(age(n["metadata"]["creationTimestamp"].as_str())),
        json!(str_at(info, &["kubeletVersion"])),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(str_at(info, &["osImage"])),
        json!(str_at(info, &["kernelVersion"])),
        json!(str_at(info, &["containerRuntimeVersion"])),
    ]
}

/// The STATUS column of `kubectl get pods`: the waiting/terminated reason when there is one.
pub fn pod_status_reason(p: &Value) -> String {
    let mut reason = p["status"]["reason"]
        .as_str()
        .unwrap_or(p["status"]["phase"].as_str().unwrap_or("Unknown"))
        .to_string();
    for cs in p["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if let Some(r) = cs["state"]["waiting"]["reason"].as_str() {
            reason = r.to_string();
        } else if let Some(r) = cs["state"]["terminated"]["reason"].as_str() {
            reason = r.to_string();
        }
    }
    if p["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|d| !d.is_null())
    {
        reason = "Terminating".into();
    }
    reason
}

fn pod_row(p: &Value) -> Vec<Value> {
    let statuses = p["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = p["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        json!(meta_str(p, "name")),
        json!(format!("{ready}/{total}")),
        json!(pod_status_reason(p)),
        json!(restarts),
        json!(age(p["metadata"]["creationTimestamp"].as_str())),
        json!(none(str_at(p, &["status", "podIP"]))),
        json!(none(str_at(p, &["spec", "nodeName"]))),
        json!("<none>"),
        json!("<none>"),
    ]
}

fn job_row(j: &Value) -> Vec<Value> {
    let conds = j["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |t: &str| {
        conds
            .iter()
            .any(|c| c["type"] == t && c["status"] == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else {
        "Running"
    };
    let completions = j["spec"]["completions"].as_i64().unwrap_or(1);
    let succeeded = j["status"]["succeeded"].as_i64().unwrap_or(0);
    let duration = match (
        j["status"]["startTime"].as_str(),
        j["status"]["completionTime"].as_str(),
    ) {
        (Some(s), Some(e)) => match (s.parse::<jiff::Timestamp>(), e.parse::<jiff::Timestamp>()) {
            (Ok(s), Ok(e)) => human_duration((e - s).get_seconds()),
            _ => String::new(),
        },
        (Some(_), None) => age(j["status"]["startTime"].as_str()),
        _ => String::new(),
    };
    let containers = j["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    vec![
        json!(meta_str(j, "name")),
        json!(status),
        json!(format!("{succeeded}/{completions}")),
        json!(duration),
        json!(age(j["metadata"]["creationTimestamp"].as_str())),
        json!(names.join(",")),
        json!(images.join(",")),
        json!(format!(
            "batch.kubernetes.io/controller-uid={}",
            meta_str(j, "uid")
        )),
    ]
}

fn event_row(e: &Value) -> Vec<Value> {
    let last = e["lastTimestamp"]
        .as_str()
        .or(e["eventTime"].as_str())
        .or(e["metadata"]["creationTimestamp"].as_str());
    let obj = &e["involvedObject"];
    vec![
        json!(meta_str(e, "name")),
        json!(age(last)),
        json!(e["type"].as_str().unwrap_or("")),
        json!(e["reason"].as_str().unwrap_or("")),
        json!(format!(
            "{}/{}",
            obj["kind"].as_str().unwrap_or("").to_lowercase(),
            obj["name"].as_str().unwrap_or("")
        )),
        json!(e["message"].as_str().unwrap_or("")),
    ]
}

/// Makes the cells of one row from an object.
type RowFn = fn(&Value) -> Vec<Value>;

fn columns_and_row(def: &ResourceDef) -> (Vec<Value>, RowFn) {
    match def.kind {
        "Node" => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
                col("Internal-IP", "string", 1),
                col("External-IP", "string", 1),
                col("OS-Image", "string", 1),
                col("Kernel-Version", "string", 1),
                col("Container-Runtime", "string", 1),
            ],
            node_row,
        ),
        "Pod" => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "integer", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
                col("Nominated Node", "string", 1),
                col("Readiness Gates", "string", 1),
            ],
            pod_row,
        ),
        "Job" => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Completions", "string", 0),
                col("Duration", "string", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            job_row,
        ),
        "Event" => (
            vec![
                col("Name", "string", 1),
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Message", "string", 0),
            ],
            event_row,
        ),
        "Secret" => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Data", "integer", 0),
                col("Age", "string", 0),
            ],
            |s| {
                vec![
                    json!(meta_str(s, "name")),
                    json!(s["type"].as_str().unwrap_or("Opaque")),
                    json!(s["data"].as_object().map_or(0, |d| d.len())),
                    json!(age(s["metadata"]["creationTimestamp"].as_str())),
                ]
            },
        ),
        "Namespace" => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ],
            |n| {
                vec![
                    json!(meta_str(n, "name")),
                    json!(n["status"]["phase"].as_str().unwrap_or("Active")),
                    json!(age(n["metadata"]["creationTimestamp"].as_str())),
                ]
            },
        ),
        _ => (
            vec![col("Name", "string", 0), col("Age", "string", 0)],
            |o| {
                vec![
                    json!(meta_str(o, "name")),
                    json!(age(o["metadata"]["creationTimestamp"].as_str())),
                ]
            },
        ),
    }
}

/// A Table of `objects`. `include_object` is the `includeObject` parameter (None, Metadata, Object).
pub fn table(
    def: &ResourceDef,
    objects: &[&Value],
    resource_version: u64,
    include_object: &str,
    continue_token: Option<String>,
) -> Value {
    let (columns, row) = columns_and_row(def);
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let object = match include_object {
                "None" => Value::Null,
                "Object" => (*o).clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
            };
            json!({"cells": row(o), "object": object})
        })
        .collect();
    let mut meta = json!({"resourceVersion": resource_version.to_string()});
    if let Some(c) = continue_token {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(130), "2m10s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(5 * 3600 + 60), "5h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
        assert_eq!(human_duration(120), "2m");
        assert_eq!(human_duration(30 * 86400), "30d");
    }

    #[test]
    fn crash_looping_pod_shows_its_waiting_reason() {
        let p = json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status_reason(&p), "CrashLoopBackOff");
    }
}
