//! What the API server does to an object on its way into storage: decoding through the k8s-openapi
//! types (unknown fields are found here), defaulting, and validation with the real field-error texts
//! (names, GPU quantities, restart policies, pod immutability).

use base64::Engine;
use k8s_openapi::api::{apps, batch, core, networking, node, rbac, scheduling};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::errors::{ApiError, FieldError};
use super::quantity;
use super::resources::ResourceDef;
use super::store::{meta_str, new_uid};

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Decodes `v` as `T` and encodes it again: the stored form is exactly what k8s-openapi puts on the wire.
fn roundtrip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

fn typed_roundtrip(kind: &str, v: &Value) -> Result<Value, String> {
    match kind {
        "Pod" => roundtrip::<core::v1::Pod>(v),
        "Node" => roundtrip::<core::v1::Node>(v),
        "Namespace" => roundtrip::<core::v1::Namespace>(v),
        "Event" => roundtrip::<core::v1::Event>(v),
        "Secret" => roundtrip::<core::v1::Secret>(v),
        "ConfigMap" => roundtrip::<core::v1::ConfigMap>(v),
        "ServiceAccount" => roundtrip::<core::v1::ServiceAccount>(v),
        "Service" => roundtrip::<core::v1::Service>(v),
        "Job" => roundtrip::<batch::v1::Job>(v),
        "Deployment" => roundtrip::<apps::v1::Deployment>(v),
        "DaemonSet" => roundtrip::<apps::v1::DaemonSet>(v),
        "ClusterRole" => roundtrip::<rbac::v1::ClusterRole>(v),
        "ClusterRoleBinding" => roundtrip::<rbac::v1::ClusterRoleBinding>(v),
        "Role" => roundtrip::<rbac::v1::Role>(v),
        "RoleBinding" => roundtrip::<rbac::v1::RoleBinding>(v),
        "RuntimeClass" => roundtrip::<node::v1::RuntimeClass>(v),
        "PersistentVolumeClaim" => roundtrip::<core::v1::PersistentVolumeClaim>(v),
        "ResourceQuota" => roundtrip::<core::v1::ResourceQuota>(v),
        "PriorityClass" => roundtrip::<scheduling::v1::PriorityClass>(v),
        "NetworkPolicy" => roundtrip::<networking::v1::NetworkPolicy>(v),
        "Ingress" => roundtrip::<networking::v1::Ingress>(v),
        _ => Ok(v.clone()),
    }
}

/// JSON numbers where Kubernetes takes a quantity (`nvidia.com/gpu: 1` in YAML) become strings, as the API server reads them.
fn quantities_as_strings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let is_quantity_map = matches!(
                    k.as_str(),
                    "limits" | "requests" | "capacity" | "allocatable" | "hard" | "used"
                );
                if is_quantity_map && let Value::Object(q) = child {
                    for qv in q.values_mut() {
                        if let Value::Number(n) = qv {
                            *qv = Value::String(n.to_string());
                        }
                    }
                }
                quantities_as_strings(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(quantities_as_strings),
        _ => {}
    }
}

/// Paths present in `given` that `decoded` dropped: the fields no type knows.
fn unknown_fields(given: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (given, decoded) {
        (Value::Object(g), Value::Object(d)) => {
            for (k, gv) in g {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match d.get(k) {
                    None if !gv.is_null() => out.push(p),
                    Some(dv) => unknown_fields(gv, dv, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(d)) => {
            for (i, (gv, dv)) in g.iter().zip(d).enumerate() {
                unknown_fields(gv, dv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// How strictly unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// Decodes the body through the resource's type. Returns the stored form and warnings for unknown fields.
pub fn decode(
    def: &ResourceDef,
    mut v: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    if let Some(kind) = v.get("kind").and_then(Value::as_str)
        && kind != def.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            def.kind
        )));
    }
    v["kind"] = json!(def.kind);
    v["apiVersion"] = json!(def.api_version());
    quantities_as_strings(&mut v);
    let decoded = typed_roundtrip(def.kind, &v).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    })?;
    let mut unknown = Vec::new();
    unknown_fields(&v, &decoded, "", &mut unknown);
    unknown.retain(|p| !p.starts_with("stringData"));
    if validation == FieldValidation::Strict && !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            list.join(", ")
        )));
    }
    let warnings = if validation == FieldValidation::Ignore {
        Vec::new()
    } else {
        unknown
            .iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect()
    };
    // stringData is write-only and not in every type's decoded form; keep it for the Secret defaulting.
    let mut stored = decoded;
    if let Some(sd) = v.get("stringData") {
        stored["stringData"] = sd.clone();
    }
    Ok((stored, warnings))
}

/// Checks the object's name for its kind.
pub fn validate_name(def: &ResourceDef, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )];
    }
    let (ok, msg) = match def.kind {
        "Namespace" | "Job" => (is_dns1123_label(name), DNS1123_LABEL_MSG),
        k if k.starts_with("Cluster") || k == "Role" || k == "RoleBinding" => (
            !name.contains('/') && !name.contains('%') && name != "." && name != "..",
            "may not contain '/' or '%'",
        ),
        _ => (is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG),
    };
    if ok {
        Vec::new()
    } else {
        vec![FieldError::invalid("metadata.name", name, msg)]
    }
}

/// Where `generateName` gets its suffix, as the API server draws it.
pub fn generate_name(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let max = 63 - 5;
    let prefix = if prefix.len() > max {
        &prefix[..max]
    } else {
        prefix
    };
    format!("{prefix}{suffix}")
}

fn obj_mut<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    v[key].as_object_mut().expect("just made an object")
}

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_string()).or_insert(value);
}

/// Defaults of a pod spec (also used for a Job's template).
fn default_pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    for key in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(key).and_then(Value::as_array_mut) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                default_container(c);
            }
        }
    }
}

fn default_container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    let tag_latest =
        !image.rsplit('/').next().unwrap_or("").contains(':') || image.ends_with(":latest");
    set_default(
        c,
        "imagePullPolicy",
        json!(if tag_latest { "Always" } else { "IfNotPresent" }),
    );
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    let resources = c.entry("resources").or_insert_with(|| json!({}));
    // Requests default to limits, resource by resource.
    if let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() {
        let requests = obj_mut(resources, "requests");
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

fn is_extended_resource(name: &str) -> bool {
    name.contains('/') && !name.starts_with("kubernetes.io/") && !name.starts_with("requests.")
}

/// Validates a pod spec; `path` is where it sits (`spec` or `spec.template.spec`).
pub fn validate_pod_spec(
    spec: &Value,
    path: &str,
    allowed_restart: &[&str],
    errs: &mut Vec<FieldError>,
) {
    let restart = spec
        .get("restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    if !allowed_restart.contains(&restart) {
        errs.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            restart,
            allowed_restart,
        ));
    }
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    let mut names = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let cpath = format!("{path}.containers[{i}]");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{cpath}.name"), ""));
        } else if !is_dns1123_label(name) {
            errs.push(FieldError::invalid(
                format!("{cpath}.name"),
                name,
                DNS1123_LABEL_MSG,
            ));
        } else if names.contains(&name) {
            errs.push(FieldError {
                field: format!("{cpath}.name"),
                reason: "FieldValueDuplicate",
                message: format!("Duplicate value: {name:?}"),
            });
        }
        names.push(name);
        if c.get("image")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .is_empty()
        {
            errs.push(FieldError::required(format!("{cpath}.image"), ""));
        }
        validate_resources(
            c.get("resources").unwrap_or(&Value::Null),
            &format!("{cpath}.resources"),
            errs,
        );
    }
}

fn validate_resources(res: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let empty = Map::new();
    let limits = res
        .get("limits")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let requests = res
        .get("requests")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (section, map) in [("limits", limits), ("requests", requests)] {
        for (name, q) in map {
            let q = q.as_str().unwrap_or("");
            let field = format!("{path}.{section}[{name}]");
            match quantity::parse(q) {
                None => errs.push(FieldError::invalid(field, q, "must be a valid quantity")),
                Some(v) if v < 0.0 => errs.push(FieldError::invalid(
                    field,
                    q,
                    "must be greater than or equal to 0",
                )),
                Some(_) if is_extended_resource(name) && !quantity::is_integer(q) => {
                    errs.push(FieldError::invalid(field, q, "must be an integer"))
                }
                Some(_) => {}
            }
        }
    }
    for (name, req) in requests {
        let req_s = req.as_str().unwrap_or("");
        let lim = limits.get(name).and_then(Value::as_str);
        if is_extended_resource(name) {
            match lim {
                None => errs.push(FieldError::required(
                    format!("{path}.limits"),
                    "Limit must be set for non overcommitable resources",
                )),
                Some(l) if quantity::parse(l) != quantity::parse(req_s) => {
                    errs.push(FieldError::invalid(
                        format!("{path}.requests"),
                        req_s,
                        &format!("must be equal to {name} limit of {l}"),
                    ))
                }
                _ => {}
            }
        } else if let Some(l) = lim
            && let (Some(r), Some(lv)) = (quantity::parse(req_s), quantity::parse(l))
            && r > lv
        {
            errs.push(FieldError::invalid(
                format!("{path}.requests"),
                req_s,
                &format!("must be less than or equal to {name} limit of {l}"),
            ));
        }
    }
}

fn qos_class(spec: &Value) -> &'static str {
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let r = c.get("resources").cloned().unwrap_or_default();
        for res in ["cpu", "memory"] {
            let l = r
                .get("limits")
                .and_then(|m| m.get(res))
                .and_then(Value::as_str);
            let q = r
                .get("requests")
                .and_then(|m| m.get(res))
                .and_then(Value::as_str);
            any |= l.is_some() || q.is_some();
            if l.is_none() || l.map(quantity::parse) != q.map(quantity::parse) {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Defaulting and validation of a new object. `obj` already has its final name and namespace.
pub fn on_create(def: &ResourceDef, obj: &mut Value) -> Result<(), ApiError> {
    let name = meta_str(obj, "name").to_string();
    let mut errs = validate_name(def, &name);
    match def.kind {
        "Pod" => {
            let spec = obj_mut(obj, "spec");
            default_pod_spec(spec);
            if !spec.contains_key("serviceAccountName") {
                spec.insert("serviceAccountName".into(), json!("default"));
            }
            set_default(spec, "enableServiceLinks", json!(true));
            set_default(spec, "priority", json!(0));
            set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
            if let Some(list) = tolerations.as_array_mut() {
                for key in [
                    "node.kubernetes.io/not-ready",
                    "node.kubernetes.io/unreachable",
                ] {
                    if !list
                        .iter()
                        .any(|t| t.get("key").and_then(Value::as_str) == Some(key))
                    {
                        list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
                    }
                }
            }
            validate_pod_spec(
                &obj["spec"],
                "spec",
                &["Always", "OnFailure", "Never"],
                &mut errs,
            );
            let qos = qos_class(&obj["spec"]);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        "Job" => {
            if meta_str(obj, "uid").is_empty() {
                obj["metadata"]["uid"] = json!(new_uid());
            }
            let uid = meta_str(obj, "uid").to_string();
            let spec = obj_mut(obj, "spec");
            set_default(spec, "parallelism", json!(1));
            set_default(spec, "completions", json!(1));
            set_default(spec, "backoffLimit", json!(6));
            set_default(spec, "completionMode", json!("NonIndexed"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            spec.insert(
                "selector".into(),
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
            );
            let template = spec.entry("template").or_insert_with(|| json!({}));
            let labels = obj_mut(obj_mut_value(template, "metadata"), "labels");
            for (k, v) in [
                ("batch.kubernetes.io/controller-uid", uid.as_str()),
                ("batch.kubernetes.io/job-name", name.as_str()),
                ("controller-uid", uid.as_str()),
                ("job-name", name.as_str()),
            ] {
                labels.insert(k.into(), json!(v));
            }
            default_pod_spec(obj_mut(template, "spec"));
            match obj["spec"]["template"].get("spec") {
                Some(tspec) => validate_pod_spec(
                    tspec,
                    "spec.template.spec",
                    &["OnFailure", "Never"],
                    &mut errs,
                ),
                None => errs.push(FieldError::required("spec.template.spec", "")),
            }
            if obj["status"].is_null() {
                obj["status"] = json!({});
            }
        }
        "Deployment" => {
            obj["metadata"]["generation"] = json!(1);
            let spec = obj_mut(obj, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            if let Some(template) = spec.get_mut("template") {
                default_pod_spec(obj_mut(template, "spec"));
            }
            match obj["spec"]["template"].get("spec") {
                Some(tspec) => {
                    validate_pod_spec(tspec, "spec.template.spec", &["Always"], &mut errs)
                }
                None => errs.push(FieldError::required("spec.template.spec", "")),
            }
            let selector = &obj["spec"]["selector"]["matchLabels"];
            let labels = &obj["spec"]["template"]["metadata"]["labels"];
            let selected = selector.as_object().is_some_and(|sel| {
                !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
            });
            if !selected {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    "",
                    "`selector` does not match template `labels`",
                ));
            }
            obj["status"] = json!({});
        }
        "PersistentVolumeClaim" => {
            let spec = obj_mut(obj, "spec");
            set_default(spec, "volumeMode", json!("Filesystem"));
            // A default storage class binds at once (the sim has no provisioner to wait for).
            let storage = obj["spec"]["resources"]["requests"]["storage"].clone();
            obj["status"] = json!({"phase": "Bound", "accessModes": obj["spec"]["accessModes"].clone(),
                                   "capacity": {"storage": storage}});
        }
        "Namespace" => {
            obj_mut(obj_mut_value(obj, "metadata"), "labels")
                .insert("kubernetes.io/metadata.name".into(), json!(name));
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        "Secret" => default_secret(obj, &mut errs),
        _ => {}
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(def, &name, errs))
    }
}

fn obj_mut_value<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    &mut v[key]
}

fn default_secret(obj: &mut Value, errs: &mut Vec<FieldError>) {
    if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
        let data = obj_mut(obj, "data");
        for (k, v) in sd {
            let text = v.as_str().unwrap_or_default().to_string();
            data.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
    if obj
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        obj["type"] = json!("Opaque");
    }
    if obj["type"] == "kubernetes.io/service-account-token"
        && obj["metadata"]["annotations"]["kubernetes.io/service-account.name"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    {
        errs.push(FieldError::required(
            "metadata.annotations[kubernetes.io/service-account.name]",
            "",
        ));
    }
}

/// Validation of an update against the stored object.
pub fn on_update(def: &ResourceDef, obj: &mut Value, old: &Value) -> Result<(), ApiError> {
    let name = meta_str(obj, "name").to_string();
    let mut errs = Vec::new();
    match def.kind {
        "Pod" => {
            let strip = |spec: &Value| {
                let mut s = spec.clone();
                for key in ["containers", "initContainers"] {
                    if let Some(list) = s.get_mut(key).and_then(Value::as_array_mut) {
                        list.iter_mut().for_each(|c| {
                            c.as_object_mut().map(|m| m.remove("image"));
                        });
                    }
                }
                for key in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "terminationGracePeriodSeconds",
                ] {
                    s.as_object_mut().map(|m| m.remove(key));
                }
                s
            };
            if strip(&obj["spec"]) != strip(&old["spec"]) {
                errs.push(FieldError::forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"));
            }
        }
        "Job" => {
            if obj["spec"]["selector"] != old["spec"]["selector"] {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    "",
                    "field is immutable",
                ));
            }
            if obj["spec"]["template"] != old["spec"]["template"] {
                errs.push(FieldError::invalid(
                    "spec.template",
                    "",
                    "field is immutable",
                ));
            }
        }
        "Secret" => default_secret(obj, &mut errs),
        _ => {}
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
    use crate::resources::by_kind;

    fn pod(resources: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
               "spec": {"containers": [{"name": "c", "image": "nvidia/cuda:12.4.1-base-ubuntu22.04", "resources": resources}]}})
    }

    fn admit(v: Value) -> Result<Value, ApiError> {
        let def = by_kind("Pod");
        let (mut obj, _) = decode(def, v, FieldValidation::Strict)?;
        on_create(def, &mut obj)?;
        Ok(obj)
    }

    #[test]
    fn gpu_limits_default_the_requests() {
        let obj = admit(pod(json!({"limits": {"nvidia.com/gpu": 1}}))).unwrap();
        assert_eq!(
            obj["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"],
            "1"
        );
        assert_eq!(obj["spec"]["restartPolicy"], "Always");
        assert_eq!(obj["status"]["phase"], "Pending");
    }

    #[test]
    fn fractional_and_unequal_gpu_requests_are_invalid() {
        let e = admit(pod(json!({"limits": {"nvidia.com/gpu": "0.5"}}))).unwrap_err();
        assert_eq!((e.code, e.reason), (422, "Invalid"));
        assert!(e.message.contains(r#"spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: "0.5": must be an integer"#), "{}", e.message);
        let e = admit(pod(
            json!({"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "2"}}),
        ))
        .unwrap_err();
        assert!(
            e.message
                .contains("must be equal to nvidia.com/gpu limit of 1"),
            "{}",
            e.message
        );
        let e = admit(pod(json!({"requests": {"nvidia.com/gpu": "1"}}))).unwrap_err();
        assert!(
            e.message
                .contains("Limit must be set for non overcommitable resources"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_names_and_unknown_fields_are_refused() {
        let mut p = pod(json!({}));
        p["metadata"]["name"] = json!("Bad_Name");
        let e = admit(p).unwrap_err();
        assert!(e.message.contains("RFC 1123 subdomain"), "{}", e.message);
        let mut p = pod(json!({}));
        p["spec"]["containers"][0]["imagePullPolicyy"] = json!("x");
        let e = admit(p).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message
                .contains(r#"unknown field "spec.containers[0].imagePullPolicyy""#),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_job_needs_a_restart_policy_that_ends() {
        let def = by_kind("Job");
        let job = json!({"metadata": {"name": "train", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
        let (mut obj, _) = decode(def, job, FieldValidation::Strict).unwrap();
        let e = on_create(def, &mut obj).unwrap_err();
        assert!(
            e.message
                .contains(r#"spec.template.spec.restartPolicy: Unsupported value: "Always""#),
            "{}",
            e.message
        );
    }
}
