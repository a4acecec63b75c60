//! The protobuf request bodies kubectl's typed clients send (TokenRequest, the reviews, and the
//! objects of `kubectl create namespace|serviceaccount|secret|configmap|role|rolebinding|
//! clusterrole|clusterrolebinding`), read into their JSON form. Kubernetes wraps protobuf
//! objects in a `k8s\0` + `runtime.Unknown` envelope; everything else is answered 415.

use serde_json::{Value, json};

use super::errors::ApiError;

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// One field of a protobuf message: number and value (varint or bytes).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((number, Field::Varint(varint(buf, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len())?;
                out.push((number, Field::Bytes(&buf[pos..end])));
                pos = end;
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return None,
        }
    }
    Some(out)
}

fn string(f: &Field) -> String {
    match f {
        Field::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Field::Varint(_) => String::new(),
    }
}

fn message(buf: &[u8], number: u64) -> Option<&[u8]> {
    fields(buf)?.into_iter().find_map(|(n, f)| match f {
        Field::Bytes(b) if n == number => Some(b),
        _ => None,
    })
}

/// String fields of a message by number, as a JSON object with the given names.
fn strings(buf: &[u8], names: &[(u64, &str)]) -> Value {
    let mut obj = serde_json::Map::new();
    for (n, f) in fields(buf).unwrap_or_default() {
        if let Some((_, name)) = names.iter().find(|(num, _)| *num == n) {
            let value = string(&f);
            if !value.is_empty() {
                obj.insert((*name).to_string(), json!(value));
            }
        }
    }
    Value::Object(obj)
}

fn repeated_strings(buf: &[u8], number: u64) -> Vec<String> {
    fields(buf)
        .unwrap_or_default()
        .into_iter()
        .filter(|(n, _)| *n == number)
        .map(|(_, f)| string(&f))
        .collect()
}

fn messages(buf: &[u8], number: u64) -> Vec<&[u8]> {
    fields(buf)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(n, f)| match f {
            Field::Bytes(b) if n == number => Some(b),
            _ => None,
        })
        .collect()
}

/// A `map<string, string>` field (repeated entries of key 1, value 2).
fn string_map(buf: &[u8], number: u64, base64_values: bool) -> Option<Value> {
    let entries = messages(buf, number);
    if entries.is_empty() {
        return None;
    }
    let mut map = serde_json::Map::new();
    for e in entries {
        let key = message(e, 1)
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let raw = message(e, 2).unwrap_or_default();
        let value = if base64_values {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(raw)
        } else {
            String::from_utf8_lossy(raw).into_owned()
        };
        map.insert(key, json!(value));
    }
    Some(Value::Object(map))
}

fn object_meta(buf: &[u8]) -> Value {
    let mut meta = strings(buf, &[(1, "name"), (2, "generateName"), (3, "namespace")]);
    for (n, key) in [(11, "labels"), (12, "annotations")] {
        if let Some(m) = string_map(buf, n, false) {
            meta[key] = m;
        }
    }
    meta
}

fn policy_rules(buf: &[u8]) -> Value {
    let rules: Vec<Value> = messages(buf, 2)
        .into_iter()
        .map(|r| {
            let mut rule = json!({"verbs": repeated_strings(r, 1)});
            for (n, key) in [
                (2, "apiGroups"),
                (3, "resources"),
                (4, "resourceNames"),
                (5, "nonResourceURLs"),
            ] {
                let v = repeated_strings(r, n);
                if !v.is_empty() {
                    rule[key] = json!(v);
                }
            }
            rule
        })
        .collect();
    json!(rules)
}

fn binding(raw: &[u8]) -> Value {
    let subjects: Vec<Value> = messages(raw, 2)
        .into_iter()
        .map(|s| {
            strings(
                s,
                &[(1, "kind"), (2, "apiGroup"), (3, "name"), (4, "namespace")],
            )
        })
        .collect();
    let role_ref = message(raw, 3)
        .map(|r| strings(r, &[(1, "apiGroup"), (2, "kind"), (3, "name")]))
        .unwrap_or_default();
    json!({"subjects": subjects, "roleRef": role_ref})
}

/// The objects `kubectl create <kind>` sends as protobuf, in their JSON form.
fn decode_object(kind: &str, raw: &[u8]) -> Option<Value> {
    let meta = message(raw, 1)
        .map(object_meta)
        .unwrap_or_else(|| json!({}));
    let mut obj = match kind {
        "Namespace" | "ServiceAccount" => json!({}),
        "ConfigMap" => {
            let mut o = json!({});
            if let Some(d) = string_map(raw, 2, false) {
                o["data"] = d;
            }
            o
        }
        "Secret" => {
            let mut o = json!({"type": message(raw, 3).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default()});
            if let Some(d) = string_map(raw, 2, true) {
                o["data"] = d;
            }
            if let Some(d) = string_map(raw, 4, false) {
                o["stringData"] = d;
            }
            o
        }
        "Role" | "ClusterRole" => json!({"rules": policy_rules(raw)}),
        "RoleBinding" | "ClusterRoleBinding" => binding(raw),
        _ => return None,
    };
    obj["metadata"] = meta;
    Some(obj)
}

/// Decodes a protobuf body of `kind` into its JSON form.
pub fn decode(kind: &str, body: &[u8]) -> Result<Value, ApiError> {
    let unsupported = || ApiError::unsupported_media_type(CONTENT_TYPE);
    let inner = body.strip_prefix(b"k8s\x00").ok_or_else(unsupported)?;
    let raw = message(inner, 2).unwrap_or_default();
    let bad =
        |what: &str| ApiError::bad_request(format!("cannot decode the protobuf {kind}: {what}"));
    match kind {
        "TokenRequest" => {
            let spec = message(raw, 2).unwrap_or_default();
            let mut audiences = Vec::new();
            let mut seconds = None;
            for (n, f) in fields(spec).ok_or_else(|| bad("spec"))? {
                match (n, f) {
                    (1, f) => audiences.push(string(&f)),
                    (4, Field::Varint(v)) => seconds = Some(v as i64),
                    _ => {}
                }
            }
            let mut spec = json!({"audiences": audiences});
            if let Some(s) = seconds {
                spec["expirationSeconds"] = json!(s);
            }
            Ok(json!({"spec": spec}))
        }
        "SelfSubjectAccessReview" => {
            let spec = message(raw, 2).unwrap_or_default();
            let mut out = json!({});
            if let Some(ra) = message(spec, 1) {
                out["resourceAttributes"] = strings(
                    ra,
                    &[
                        (1, "namespace"),
                        (2, "verb"),
                        (3, "group"),
                        (4, "version"),
                        (5, "resource"),
                        (6, "subresource"),
                        (7, "name"),
                    ],
                );
            }
            if let Some(na) = message(spec, 2) {
                out["nonResourceAttributes"] = strings(na, &[(1, "path"), (2, "verb")]);
            }
            Ok(json!({"spec": out}))
        }
        "SelfSubjectRulesReview" => {
            let spec = message(raw, 2).unwrap_or_default();
            Ok(json!({"spec": strings(spec, &[(1, "namespace")])}))
        }
        "SelfSubjectReview" => Ok(json!({})),
        "TokenReview" => {
            let spec = message(raw, 2).unwrap_or_default();
            Ok(json!({"spec": strings(spec, &[(1, "token")])}))
        }
        // Typed clients (Helm's release storage) send a delete's options as protobuf.
        "DeleteOptions" => {
            let mut out = strings(raw, &[(4, "propagationPolicy")]);
            let orphan = fields(raw)
                .ok_or_else(|| bad("options"))?
                .into_iter()
                .any(|(n, f)| matches!((n, f), (3, Field::Varint(1))));
            if orphan {
                out["propagationPolicy"] = json!("Orphan");
            }
            Ok(out)
        }
        _ => decode_object(kind, raw).ok_or_else(unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_bytes(n: u64, b: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, b.len() as u8];
        out.extend_from_slice(b);
        out
    }

    #[test]
    fn decodes_an_access_review() {
        let ra = [
            field_bytes(2, b"create"),
            field_bytes(5, b"secrets"),
            field_bytes(1, b"kube-system"),
        ]
        .concat();
        let spec = field_bytes(1, &ra);
        let raw = field_bytes(2, &spec);
        let unknown = field_bytes(2, &raw);
        let body = [b"k8s\x00".as_slice(), &unknown].concat();
        let v = decode("SelfSubjectAccessReview", &body).unwrap();
        assert_eq!(v["spec"]["resourceAttributes"]["verb"], "create");
        assert_eq!(v["spec"]["resourceAttributes"]["namespace"], "kube-system");
        assert_eq!(decode("Pod", &body).unwrap_err().code, 415);
        assert_eq!(decode("TokenRequest", b"junk").unwrap_err().code, 415);
    }

    #[test]
    fn decodes_delete_options_and_their_orphan_forms() {
        let envelope = |raw: &[u8]| [b"k8s\x00".as_slice(), &field_bytes(2, raw)].concat();
        let policy = decode("DeleteOptions", &envelope(&field_bytes(4, b"Background"))).unwrap();
        assert_eq!(policy["propagationPolicy"], "Background");
        let orphan = decode("DeleteOptions", &envelope(&[3 << 3, 1])).unwrap();
        assert_eq!(orphan["propagationPolicy"], "Orphan");
        let none = decode("DeleteOptions", &envelope(&[])).unwrap();
        assert!(none.get("propagationPolicy").is_none(), "{none}");
    }
}
