//! Admission that reads the cluster, as the API server's plugins do: a pod's PriorityClass
//! (`Priority`), ResourceQuota on `requests.*` with the real `exceeded quota` refusal
//! (`ResourceQuota`), and the ClusterIP and NodePort a Service gets. The API's create and the
//! controllers that create pods both call [`admit`], so a Job's pods meet the same quota.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::controllers::scheduler::{effective_requests, is_terminated};
use crate::errors::{ApiError, FieldError};
use crate::quantity;
use crate::resources::{ResourceDef, by_kind};
use crate::store::{Store, meta_str};

/// The range NodePorts are drawn from (the API server's `--service-node-port-range` default).
pub const NODE_PORTS: std::ops::RangeInclusive<u64> = 30000..=32767;

/// Checks and completes a new object against what the store holds; `obj` has its final name.
pub fn admit(store: &Store, def: &ResourceDef, obj: &mut Value) -> Result<(), ApiError> {
    match def.kind {
        "Pod" => {
            priority(store, obj)?;
            quota(store, obj)
        }
        "Service" => allocate_service(store, def, obj),
        _ => Ok(()),
    }
}

/// Resolves `priorityClassName` (or the global default class) into `spec.priority`.
fn priority(store: &Store, pod: &mut Value) -> Result<(), ApiError> {
    let classes = store.list(by_kind("PriorityClass"), None);
    let wanted = pod["spec"]["priorityClassName"].as_str().unwrap_or("");
    let class = if wanted.is_empty() {
        classes.iter().find(|c| c["globalDefault"] == true)
    } else {
        let found = classes.iter().find(|c| meta_str(c, "name") == wanted);
        if found.is_none() {
            return Err(ApiError::forbidden_message(format!(
                "pods {:?} is forbidden: no PriorityClass with name {wanted} was found",
                meta_str(pod, "name")
            )));
        }
        found
    };
    if let Some(class) = class {
        pod["spec"]["priorityClassName"] = json!(meta_str(class, "name"));
        pod["spec"]["priority"] = class["value"].clone();
        if let Some(policy) = class["preemptionPolicy"].as_str() {
            pod["spec"]["preemptionPolicy"] = json!(policy);
        }
    }
    Ok(())
}

/// The quantity the quota key `requests.<resource>` (or `<resource>` for cpu and memory)
/// counts of one pod.
fn counted(requests: &BTreeMap<String, f64>, key: &str) -> Option<f64> {
    let resource = key.strip_prefix("requests.").unwrap_or(key);
    match resource {
        "cpu" | "memory" => Some(requests.get(resource).copied().unwrap_or(0.0)),
        _ if key.starts_with("requests.") => Some(requests.get(resource).copied().unwrap_or(0.0)),
        "pods" => Some(1.0),
        _ => None,
    }
}

/// What the active pods of `namespace` use of each key of `hard`.
pub fn used(
    store: &Store,
    namespace: &str,
    hard: &serde_json::Map<String, Value>,
) -> Vec<(String, f64)> {
    let pods = store.list(by_kind("Pod"), Some(namespace));
    let requests: Vec<BTreeMap<String, f64>> = pods
        .iter()
        .filter(|p| !is_terminated(p))
        .map(|p| effective_requests(p))
        .collect();
    hard.keys()
        .filter_map(|key| {
            let sum = requests
                .iter()
                .map(|r| counted(r, key))
                .sum::<Option<f64>>()?;
            Some((key.clone(), sum))
        })
        .collect()
}

/// A quantity as the quota plugin prints it: whole numbers bare, the rest in milli-units.
pub fn print(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value}")
    } else {
        format!("{}m", (value * 1000.0).round())
    }
}

/// One quota key a pod would take past its limit.
struct Exceeded {
    key: String,
    want: f64,
    in_use: f64,
    limit: f64,
}

/// Refuses a pod that would take a namespace past one of its quotas, with the plugin's message.
fn quota(store: &Store, pod: &Value) -> Result<(), ApiError> {
    let namespace = meta_str(pod, "namespace");
    let asked = effective_requests(pod);
    let forbidden = |detail: String| {
        ApiError::forbidden_message(format!(
            "pods {:?} is forbidden: {detail}",
            meta_str(pod, "name")
        ))
    };
    for q in store.list(by_kind("ResourceQuota"), Some(namespace)) {
        let Some(hard) = q["spec"]["hard"].as_object() else {
            continue;
        };
        let name = meta_str(&q, "name");
        for resource in ["cpu", "memory"] {
            let covered =
                hard.contains_key(resource) || hard.contains_key(&format!("requests.{resource}"));
            let missing: Vec<&str> = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["resources"]["requests"][resource].is_null())
                .map(|c| c["name"].as_str().unwrap_or(""))
                .collect();
            if covered && !missing.is_empty() {
                return Err(forbidden(format!(
                    "failed quota: {name}: must specify {resource} for: {}",
                    missing.join(",")
                )));
            }
        }
        let mut exceeded: Vec<Exceeded> = Vec::new();
        for (key, in_use) in used(store, namespace, hard) {
            let limit = hard[&key].as_str().and_then(quantity::parse).unwrap_or(0.0);
            let want = counted(&asked, &key).unwrap_or(0.0);
            if want > 0.0 && in_use + want > limit {
                exceeded.push(Exceeded {
                    key,
                    want,
                    in_use,
                    limit,
                });
            }
        }
        if !exceeded.is_empty() {
            exceeded.sort_by(|a, b| a.key.cmp(&b.key));
            let list = |f: fn(&Exceeded) -> f64| {
                exceeded
                    .iter()
                    .map(|e| format!("{}={}", e.key, print(f(e))))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(forbidden(format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                list(|e| e.want),
                list(|e| e.in_use),
                list(|e| e.limit)
            )));
        }
    }
    Ok(())
}

/// Gives a new Service its ClusterIP and, for NodePort and LoadBalancer types, a node port per
/// port that has none; a node port already taken or out of range is refused as the API server does.
fn allocate_service(store: &Store, def: &ResourceDef, svc: &mut Value) -> Result<(), ApiError> {
    let services = store.list(by_kind("Service"), None);
    let taken: HashSet<u64> = services
        .iter()
        .flat_map(|s| s["spec"]["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["nodePort"].as_u64())
        .collect();
    let kind = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    svc["spec"]["type"] = json!(kind);
    if svc["spec"]["clusterIP"].is_null() {
        // The first address of 10.96.0.0/16 no live Service holds (shown, never connected to).
        let used: HashSet<&str> = services
            .iter()
            .filter_map(|s| s["spec"]["clusterIP"].as_str())
            .collect();
        let ip = (10..65_000u32)
            .map(|n| format!("10.96.{}.{}", n / 254, n % 254 + 1))
            .find(|ip| !used.contains(ip.as_str()))
            .ok_or_else(|| {
                ApiError::forbidden_message("range is full: no cluster IP left to allocate".into())
            })?;
        svc["spec"]["clusterIP"] = json!(ip);
        svc["spec"]["clusterIPs"] = json!([ip]);
    }
    let node_ports = kind == "NodePort" || kind == "LoadBalancer";
    let mut defaults = vec![
        ("sessionAffinity", json!("None")),
        ("ipFamilies", json!(["IPv4"])),
        ("ipFamilyPolicy", json!("SingleStack")),
        ("internalTrafficPolicy", json!("Cluster")),
    ];
    if node_ports {
        defaults.push(("externalTrafficPolicy", json!("Cluster")));
    }
    for (field, value) in defaults {
        if svc["spec"][field].is_null() {
            svc["spec"][field] = value;
        }
    }
    let mut errs = Vec::new();
    let mut mine = HashSet::new();
    let mut next = *NODE_PORTS.start();
    let name = meta_str(svc, "name").to_string();
    for (i, port) in svc["spec"]["ports"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if port["protocol"].is_null() {
            port["protocol"] = json!("TCP");
        }
        if port["targetPort"].is_null() {
            port["targetPort"] = port["port"].clone();
        }
        if !node_ports {
            continue;
        }
        // 0 (kubectl create service writes it) asks for one to be allocated, as absent does.
        match port["nodePort"].as_u64().filter(|&p| p != 0) {
            Some(p) if !NODE_PORTS.contains(&p) => errs.push(FieldError::invalid(
                format!("spec.ports[{i}].nodePort"),
                &p.to_string(),
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            )),
            Some(p) if taken.contains(&p) || !mine.insert(p) => errs.push(FieldError::invalid(
                format!("spec.ports[{i}].nodePort"),
                &p.to_string(),
                "provided port is already allocated",
            )),
            Some(_) => {}
            None => {
                while taken.contains(&next) || mine.contains(&next) {
                    next += 1;
                }
                if !NODE_PORTS.contains(&next) {
                    return Err(ApiError::forbidden_message(
                        "range is full: no node port left to allocate".into(),
                    ));
                }
                port["nodePort"] = json!(next);
                mine.insert(next);
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(def, &name, errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(objects: Vec<(&str, Value)>) -> Store {
        let mut store = Store::new(100);
        for (kind, obj) in objects {
            store.create(by_kind(kind), obj).expect("stored");
        }
        store
    }

    fn gpu_pod(name: &str, gpus: u32) -> Value {
        json!({"metadata": {"name": name, "namespace": "ai"},
               "spec": {"containers": [{"name": "main", "resources": {
                   "limits": {"nvidia.com/gpu": gpus.to_string()},
                   "requests": {"nvidia.com/gpu": gpus.to_string()}}}]},
               "status": {"phase": "Running"}})
    }

    #[test]
    fn a_pod_past_the_gpu_quota_is_refused_in_the_plugins_words() {
        let store = store_with(vec![
            (
                "ResourceQuota",
                json!({"metadata": {"name": "gpu-quota", "namespace": "ai"},
                                     "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}}),
            ),
            ("Pod", gpu_pod("a", 3)),
        ]);
        let mut pod = gpu_pod("train-x7k2p", 2);
        let e = admit(&store, by_kind("Pod"), &mut pod).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "pods \"train-x7k2p\" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=3, limited: requests.nvidia.com/gpu=4"
        );
        let mut fits = gpu_pod("b", 1);
        assert!(admit(&store, by_kind("Pod"), &mut fits).is_ok());
    }

    #[test]
    fn priority_classes_set_the_priority_and_a_missing_one_is_refused() {
        let store = store_with(vec![(
            "PriorityClass",
            json!({"metadata": {"name": "high"}, "value": 1000}),
        )]);
        let mut pod = gpu_pod("p", 0);
        pod["spec"]["priorityClassName"] = json!("high");
        admit(&store, by_kind("Pod"), &mut pod).unwrap();
        assert_eq!(pod["spec"]["priority"], 1000);
        pod["spec"]["priorityClassName"] = json!("nope");
        let e = admit(&store, by_kind("Pod"), &mut pod).unwrap_err();
        assert_eq!(
            e.message,
            "pods \"p\" is forbidden: no PriorityClass with name nope was found"
        );
    }

    #[test]
    fn node_ports_are_allocated_once_and_conflicts_refused() {
        let store = store_with(vec![(
            "Service",
            json!({"metadata": {"name": "a", "namespace": "ai"},
                   "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30000}]}}),
        )]);
        let mut svc = json!({"metadata": {"name": "b", "namespace": "ai"},
            "spec": {"type": "NodePort", "ports": [{"port": 8888}, {"port": 22}]}});
        admit(&store, by_kind("Service"), &mut svc).unwrap();
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30001);
        assert_eq!(svc["spec"]["ports"][1]["nodePort"], 30002);
        let mut clash = json!({"metadata": {"name": "c", "namespace": "ai"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30000}]}});
        let e = admit(&store, by_kind("Service"), &mut clash).unwrap_err();
        assert!(
            e.message.contains("provided port is already allocated"),
            "{}",
            e.message
        );
    }
}
