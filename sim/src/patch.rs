//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge patch for
//! the lists Kubernetes merges by key (containers, env, ports, volumes, conditions, ...).

use serde_json::{Map, Value};

use super::errors::ApiError;

/// The merge key of the lists strategic merge patch merges by key. `ports` is a container's
/// (keyed by containerPort) or a Service's (keyed by port): told apart by the patch's items.
fn merge_key(field: &str, patch_items: &[Value]) -> Option<&'static str> {
    match field {
        "ports" if patch_items.iter().any(|p| p.get("containerPort").is_some()) => {
            Some("containerPort")
        }
        "ports" => Some("port"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "conditions" => Some("type"),
        "addresses" => Some("type"),
        "ownerReferences" => Some("uid"),
        "tolerations" | "taints" => None,
        _ => None,
    }
}

/// Applies a PATCH body of the given content type to `current`.
pub fn apply(content_type: &str, current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let parse = || {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))
    };
    match media {
        "application/merge-patch+json" => {
            let mut doc = current.clone();
            json_patch::merge(&mut doc, &parse()?);
            Ok(doc)
        }
        "application/strategic-merge-patch+json" => Ok(strategic_merge(current, &parse()?, "")),
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is not valid: {e}")))?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!("the JSON patch could not be applied: {e}"),
                details: None,
            })?;
            Ok(doc)
        }
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Strategic merge: maps merge recursively, `null` deletes, keyed lists merge element by element,
/// other lists are replaced. Directives (`$patch`, `$setElementOrder/...`, `$retainKeys`,
/// `$deleteFromPrimitiveList/...`) are honoured where they change the result.
pub fn strategic_merge(current: &Value, patch: &Value, field: &str) -> Value {
    match (current, patch) {
        (Value::Object(cur), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut out = p.clone();
                out.remove("$patch");
                return Value::Object(out);
            }
            let mut out: Map<String, Value> = cur.clone();
            for (k, v) in p {
                if let Some(list_field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                    if let (Some(Value::Array(items)), Value::Array(remove)) =
                        (out.get_mut(list_field), v)
                    {
                        items.retain(|i| !remove.contains(i));
                    }
                    continue;
                }
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = match out.get(k) {
                        Some(c) => strategic_merge(c, v, k),
                        None => strip_directives(v),
                    };
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (Value::Array(cur), Value::Array(p)) => match merge_key(field, p) {
            Some(key) => {
                let mut out = cur.clone();
                for item in p {
                    let id = item.get(key);
                    let pos = out.iter().position(|c| id.is_some() && c.get(key) == id);
                    let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                    match (pos, delete) {
                        (Some(i), true) => {
                            out.remove(i);
                        }
                        (Some(i), false) => out[i] = strategic_merge(&out[i], item, ""),
                        (None, false) => out.push(strip_directives(item)),
                        (None, true) => {}
                    }
                }
                Value::Array(out)
            }
            None => strip_directives(patch),
        },
        _ => strip_directives(patch),
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let cur = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}, "metadata": {"labels": {"k": "v"}}});
        let p = json!({"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                       "spec": {"containers": [{"name": "b", "image": "y:2"}]}, "metadata": {"labels": {"k": null, "n": "1"}}});
        let out = strategic_merge(&cur, &p, "");
        assert_eq!(out["spec"]["containers"][0]["image"], "x:1");
        assert_eq!(out["spec"]["containers"][1]["image"], "y:2");
        assert_eq!(out["metadata"]["labels"], json!({"n": "1"}));
    }

    #[test]
    fn a_services_ports_merge_by_port_and_a_containers_by_container_port() {
        let svc = json!({"spec": {"ports": [{"name": "https", "port": 443, "nodePort": 30080}]}});
        let p = json!({"spec": {"ports": [{"$patch": "delete", "port": 443}, {"name": "http", "port": 80}]}});
        let out = strategic_merge(&svc, &p, "");
        assert_eq!(out["spec"]["ports"], json!([{"name": "http", "port": 80}]));
        let pod = json!({"ports": [{"containerPort": 80, "name": "a"}, {"containerPort": 81}]});
        let p = json!({"ports": [{"containerPort": 80, "name": "b"}]});
        let out = strategic_merge(&pod, &p, "");
        assert_eq!(
            out["ports"],
            json!([{"containerPort": 80, "name": "b"}, {"containerPort": 81}])
        );
    }

    #[test]
    fn unknown_patch_types_are_refused_and_merge_patch_replaces_lists() {
        let cur = json!({"spec": {"unschedulable": false, "taints": [{"key": "a"}]}});
        assert_eq!(
            apply("application/yaml", &cur, b"{}").unwrap_err().code,
            415
        );
        let out = apply(
            "application/merge-patch+json",
            &cur,
            br#"{"spec":{"unschedulable":true,"taints":[]}}"#,
        )
        .unwrap();
        assert_eq!(out["spec"], json!({"unschedulable": true, "taints": []}));
        let out = apply(
            "application/json-patch+json",
            &cur,
            br#"[{"op":"replace","path":"/spec/unschedulable","value":true}]"#,
        )
        .unwrap();
        assert_eq!(out["spec"]["unschedulable"], true);
    }
}
