//! The submit form's rules, checked before anything reaches the cluster: each refusal names the
//! field as the JSON does (`env[2].name`) and says why. What passes is a [`Valid`] request.

use frontend::contract::workloads::{MAX_ENTRIES, MAX_GPUS, MAX_TEXT, NewWorkload, WorkloadKind};
use frontend::contract::{FieldError, PageError, Refusal};

use crate::cluster::names::{is_dns_label, is_dns_subdomain};

/// Workspace ports at most.
const MAX_PORTS: usize = 16;
/// A Job's retries at most.
const MAX_BACKOFF: u64 = 100;
/// A year: the longest deadline or clean-up delay accepted.
const MAX_SECONDS: u64 = 365 * 24 * 3600;
/// The largest CPU request accepted, in cores.
const MAX_CPU_CORES: f64 = 1024.0;
/// The largest memory request accepted, in bytes (16 TiB).
const MAX_MEMORY_BYTES: f64 = 16.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0;

/// A request that passed every rule; `gpus` is a whole count and `large_shm` is decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid {
    pub request: NewWorkload,
    pub gpus: u32,
    pub large_shm: bool,
}

fn refuse(field: impl Into<String>, refusal: Refusal) -> PageError {
    PageError::Invalid(FieldError::new(&field.into(), refusal))
}

/// Checks every field; `largest_node_gpus` (when known) bounds the GPU count.
pub fn validate(request: &NewWorkload, largest_node_gpus: Option<u64>) -> Result<Valid, PageError> {
    check_name(request)?;
    if request.namespace.is_empty() {
        return Err(refuse("namespace", Refusal::Required));
    }
    if !is_dns_label(&request.namespace) {
        return Err(refuse("namespace", Refusal::NotALabel));
    }
    check_image(&request.image)?;
    check_words("command", &request.command)?;
    check_words("args", &request.args)?;
    let gpus = check_gpus(request.gpus, largest_node_gpus)?;
    if !request.gpu_model.is_empty() && !is_label_value(&request.gpu_model) {
        return Err(refuse("gpuModel", Refusal::NotALabelValue));
    }
    check_quantity("cpu", &request.cpu, MAX_CPU_CORES)?;
    check_quantity("memory", &request.memory, MAX_MEMORY_BYTES)?;
    let large_shm = request.large_shm_or_default();
    check_env(request)?;
    check_volumes(request, large_shm)?;
    check_ports(request)?;
    check_lifecycle(request)?;
    if !request.priority_class.is_empty() && !is_dns_subdomain(&request.priority_class) {
        return Err(refuse("priorityClass", Refusal::NotASubdomain));
    }
    Ok(Valid {
        request: request.clone(),
        gpus,
        large_shm,
    })
}

/// A Job's name labels its pods (`job-name`), so it must be a label; a workspace's names its
/// Service too, which must start with a letter (DNS-1035).
fn check_name(request: &NewWorkload) -> Result<(), PageError> {
    let name = &request.name;
    if name.is_empty() {
        return Err(refuse("name", Refusal::Required));
    }
    let service_name_ok = request.kind == WorkloadKind::Job
        || name.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if !is_dns_label(name) || !service_name_ok {
        return Err(refuse("name", Refusal::NotALabel));
    }
    Ok(())
}

/// `[a-z0-9]+(?:[._-][a-z0-9]+)*`: one path component of a repository.
fn is_path_component(s: &str) -> bool {
    !s.is_empty()
        && s.split(['.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A registry host: `host[:port]` with a dot or port, or `localhost`.
fn is_registry(s: &str) -> bool {
    let (host, port) = s.split_once(':').unwrap_or((s, ""));
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let port_ok = port.is_empty() || port.parse::<u16>().is_ok();
    host_ok && port_ok && (host.contains('.') || !port.is_empty() || host == "localhost")
}

/// The distribution reference grammar, as container runtimes parse it.
fn is_image_reference(image: &str) -> bool {
    let (rest, digest_ok) = match image.split_once('@') {
        Some((rest, digest)) => {
            let ok = digest
                .strip_prefix("sha256:")
                .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
            (rest, ok)
        }
        None => (image, true),
    };
    // A tag follows the last ':' after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    let tag_ok = tag.is_none_or(|t| {
        (1..=128).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
            && !t.starts_with(['.', '-'])
    });
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && is_registry(parts[0]) {
        parts.remove(0);
    }
    digest_ok && tag_ok && !parts.is_empty() && parts.iter().all(|p| is_path_component(p))
}

fn check_image(image: &str) -> Result<(), PageError> {
    if image.is_empty() {
        return Err(refuse("image", Refusal::Required));
    }
    if image.len() > MAX_TEXT {
        return Err(refuse("image", Refusal::TooLong { max: MAX_TEXT }));
    }
    if !is_image_reference(image) {
        return Err(refuse("image", Refusal::NotAnImage));
    }
    Ok(())
}

fn check_words(field: &str, words: &[String]) -> Result<(), PageError> {
    if words.len() > MAX_ENTRIES {
        return Err(refuse(field, Refusal::TooMany { max: MAX_ENTRIES }));
    }
    for (i, word) in words.iter().enumerate() {
        if word.len() > MAX_TEXT {
            return Err(refuse(
                format!("{field}[{i}]"),
                Refusal::TooLong { max: MAX_TEXT },
            ));
        }
    }
    Ok(())
}

fn check_gpus(gpus: f64, largest: Option<u64>) -> Result<u32, PageError> {
    if !gpus.is_finite() || gpus < 0.0 || gpus.fract() != 0.0 {
        return Err(refuse("gpus", Refusal::NotWholeGpus));
    }
    if gpus > MAX_GPUS as f64 {
        return Err(refuse("gpus", Refusal::TooLarge { max: MAX_GPUS }));
    }
    let whole = gpus as u64;
    if let Some(largest) = largest
        && whole > largest
    {
        return Err(refuse("gpus", Refusal::MoreGpusThanAnyNode { largest }));
    }
    Ok(whole as u32)
}

/// A Kubernetes quantity's value in base units (cores, bytes); None when it is not one.
pub fn quantity_value(q: &str) -> Option<f64> {
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let n: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "P" => 1e15,
        "E" => 1e18,
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(n * scale)
}

fn check_quantity(field: &str, q: &str, max: f64) -> Result<(), PageError> {
    if q.is_empty() {
        return Ok(());
    }
    match quantity_value(q) {
        Some(v) if v > 0.0 && v <= max => Ok(()),
        Some(v) if v > max => Err(refuse(field, Refusal::TooLarge { max: max as u64 })),
        _ => Err(refuse(field, Refusal::NotAQuantity)),
    }
}

/// `[-._a-zA-Z][-._a-zA-Z0-9]*`: apimachinery's `IsEnvVarName`.
fn is_env_name(s: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    !s.is_empty() && s.len() <= 256 && s.bytes().all(ok) && !s.as_bytes()[0].is_ascii_digit()
}

/// `(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?`, at most 63 characters.
fn is_label_value(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
}

fn check_env(request: &NewWorkload) -> Result<(), PageError> {
    if request.env.len() > MAX_ENTRIES {
        return Err(refuse("env", Refusal::TooMany { max: MAX_ENTRIES }));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, var) in request.env.iter().enumerate() {
        if !is_env_name(&var.name) {
            return Err(refuse(format!("env[{i}].name"), Refusal::NotAnEnvName));
        }
        if !seen.insert(var.name.as_str()) {
            let value = var.name.clone();
            return Err(refuse(
                format!("env[{i}].name"),
                Refusal::Duplicate { value },
            ));
        }
        if var.value.len() > MAX_TEXT {
            return Err(refuse(
                format!("env[{i}].value"),
                Refusal::TooLong { max: MAX_TEXT },
            ));
        }
    }
    Ok(())
}

fn check_volumes(request: &NewWorkload, large_shm: bool) -> Result<(), PageError> {
    if request.volumes.len() > MAX_ENTRIES {
        return Err(refuse("volumes", Refusal::TooMany { max: MAX_ENTRIES }));
    }
    let mut paths = std::collections::HashSet::new();
    for (i, mount) in request.volumes.iter().enumerate() {
        if mount.claim.is_empty() {
            return Err(refuse(format!("volumes[{i}].claim"), Refusal::Required));
        }
        if !is_dns_subdomain(&mount.claim) {
            return Err(refuse(
                format!("volumes[{i}].claim"),
                Refusal::NotASubdomain,
            ));
        }
        let field = format!("volumes[{i}].mountPath");
        let path = mount.mount_path.trim_end_matches('/');
        if mount.mount_path.len() > MAX_TEXT {
            return Err(refuse(field, Refusal::TooLong { max: MAX_TEXT }));
        }
        if !mount.mount_path.starts_with('/') || mount.mount_path.split('/').any(|p| p == "..") {
            return Err(refuse(field, Refusal::NotAnAbsolutePath));
        }
        if large_shm && path == "/dev/shm" {
            return Err(refuse(field, Refusal::ShmInUse));
        }
        if !paths.insert(path) {
            let value = mount.mount_path.clone();
            return Err(refuse(
                format!("volumes[{i}].mountPath"),
                Refusal::Duplicate { value },
            ));
        }
    }
    Ok(())
}

fn check_ports(request: &NewWorkload) -> Result<(), PageError> {
    if request.ports.is_empty() {
        return Ok(());
    }
    if request.kind != WorkloadKind::Workspace {
        return Err(refuse("ports", Refusal::PortsNeedWorkspace));
    }
    if request.ports.len() > MAX_PORTS {
        return Err(refuse("ports", Refusal::TooMany { max: MAX_PORTS }));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, &port) in request.ports.iter().enumerate() {
        if !(1..=65535).contains(&port) {
            return Err(refuse(
                format!("ports[{i}]"),
                Refusal::OutOfRange { min: 1, max: 65535 },
            ));
        }
        if !seen.insert(port) {
            let value = port.to_string();
            return Err(refuse(format!("ports[{i}]"), Refusal::Duplicate { value }));
        }
    }
    Ok(())
}

fn check_lifecycle(request: &NewWorkload) -> Result<(), PageError> {
    if u64::from(request.backoff_limit) > MAX_BACKOFF {
        return Err(refuse(
            "backoffLimit",
            Refusal::TooLarge { max: MAX_BACKOFF },
        ));
    }
    // A deadline of 0 would end the Job before it starts; a clean-up delay of 0 is "at once".
    for (field, value, min) in [
        ("activeDeadlineSeconds", request.active_deadline_seconds, 1),
        (
            "ttlSecondsAfterFinished",
            request.ttl_seconds_after_finished,
            0,
        ),
    ] {
        if value.is_some_and(|v| v < min || v > MAX_SECONDS) {
            return Err(refuse(
                field,
                Refusal::OutOfRange {
                    min,
                    max: MAX_SECONDS,
                },
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use frontend::contract::workloads::{ClaimMount, EnvVar};

    use super::*;

    fn tf_job() -> NewWorkload {
        NewWorkload {
            name: "tf-train".into(),
            namespace: "ai".into(),
            image: "tensorflow/tensorflow:latest-gpu".into(),
            command: vec!["python".into(), "train.py".into()],
            ..NewWorkload::default()
        }
    }

    /// The field and refusal a request is turned down with.
    fn refusal(request: NewWorkload) -> (String, Refusal) {
        match validate(&request, Some(1)) {
            Err(PageError::Invalid(e)) => (e.field, e.refusal),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_seeds_tensorflow_job_passes_and_pytorch_gets_a_large_shm() {
        let valid = validate(&tf_job(), Some(1)).expect("valid");
        assert_eq!((valid.gpus, valid.large_shm), (1, false));
        let torch = NewWorkload {
            image: "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime".into(),
            ..tf_job()
        };
        assert!(validate(&torch, Some(1)).unwrap().large_shm);
        let off = NewWorkload {
            large_shm: Some(false),
            ..torch
        };
        assert!(!validate(&off, Some(1)).unwrap().large_shm);
    }

    #[test]
    fn every_rule_names_its_field() {
        let cases: Vec<(NewWorkload, &str, Refusal)> = vec![
            (
                NewWorkload {
                    name: String::new(),
                    ..tf_job()
                },
                "name",
                Refusal::Required,
            ),
            (
                NewWorkload {
                    name: "TF_job".into(),
                    ..tf_job()
                },
                "name",
                Refusal::NotALabel,
            ),
            (
                NewWorkload {
                    name: "1ws".into(),
                    kind: WorkloadKind::Workspace,
                    ..tf_job()
                },
                "name",
                Refusal::NotALabel,
            ),
            (
                NewWorkload {
                    namespace: String::new(),
                    ..tf_job()
                },
                "namespace",
                Refusal::Required,
            ),
            (
                NewWorkload {
                    namespace: "AI".into(),
                    ..tf_job()
                },
                "namespace",
                Refusal::NotALabel,
            ),
            (
                NewWorkload {
                    image: String::new(),
                    ..tf_job()
                },
                "image",
                Refusal::Required,
            ),
            (
                NewWorkload {
                    image: "Tensorflow/TF".into(),
                    ..tf_job()
                },
                "image",
                Refusal::NotAnImage,
            ),
            (
                NewWorkload {
                    image: "tensorflow/tensorflow:latest gpu".into(),
                    ..tf_job()
                },
                "image",
                Refusal::NotAnImage,
            ),
            (
                NewWorkload {
                    image: "repo@sha256:abc".into(),
                    ..tf_job()
                },
                "image",
                Refusal::NotAnImage,
            ),
            (
                NewWorkload {
                    gpus: 0.5,
                    ..tf_job()
                },
                "gpus",
                Refusal::NotWholeGpus,
            ),
            (
                NewWorkload {
                    gpus: -1.0,
                    ..tf_job()
                },
                "gpus",
                Refusal::NotWholeGpus,
            ),
            (
                NewWorkload {
                    gpus: f64::NAN,
                    ..tf_job()
                },
                "gpus",
                Refusal::NotWholeGpus,
            ),
            (
                NewWorkload {
                    gpus: 1e12,
                    ..tf_job()
                },
                "gpus",
                Refusal::TooLarge { max: MAX_GPUS },
            ),
            (
                NewWorkload {
                    gpus: 2.0,
                    ..tf_job()
                },
                "gpus",
                Refusal::MoreGpusThanAnyNode { largest: 1 },
            ),
            (
                NewWorkload {
                    gpu_model: "GeForce GTX".into(),
                    ..tf_job()
                },
                "gpuModel",
                Refusal::NotALabelValue,
            ),
            (
                NewWorkload {
                    cpu: "four".into(),
                    ..tf_job()
                },
                "cpu",
                Refusal::NotAQuantity,
            ),
            (
                NewWorkload {
                    cpu: "-1".into(),
                    ..tf_job()
                },
                "cpu",
                Refusal::NotAQuantity,
            ),
            (
                NewWorkload {
                    memory: "99Xi".into(),
                    ..tf_job()
                },
                "memory",
                Refusal::NotAQuantity,
            ),
            (
                NewWorkload {
                    memory: "99Ei".into(),
                    ..tf_job()
                },
                "memory",
                Refusal::TooLarge {
                    max: MAX_MEMORY_BYTES as u64,
                },
            ),
            (
                NewWorkload {
                    memory: "100Ti".into(),
                    ..tf_job()
                },
                "memory",
                Refusal::TooLarge {
                    max: MAX_MEMORY_BYTES as u64,
                },
            ),
            (
                NewWorkload {
                    env: vec![EnvVar {
                        name: "1X".into(),
                        value: String::new(),
                    }],
                    ..tf_job()
                },
                "env[0].name",
                Refusal::NotAnEnvName,
            ),
            (
                NewWorkload {
                    env: vec![
                        EnvVar {
                            name: "A".into(),
                            value: "1".into(),
                        },
                        EnvVar {
                            name: "A".into(),
                            value: "2".into(),
                        },
                    ],
                    ..tf_job()
                },
                "env[1].name",
                Refusal::Duplicate { value: "A".into() },
            ),
            (
                NewWorkload {
                    volumes: vec![ClaimMount {
                        claim: "data".into(),
                        mount_path: "data".into(),
                    }],
                    ..tf_job()
                },
                "volumes[0].mountPath",
                Refusal::NotAnAbsolutePath,
            ),
            (
                NewWorkload {
                    volumes: vec![ClaimMount {
                        claim: "Data".into(),
                        mount_path: "/data".into(),
                    }],
                    ..tf_job()
                },
                "volumes[0].claim",
                Refusal::NotASubdomain,
            ),
            (
                NewWorkload {
                    image: "pytorch/pytorch".into(),
                    volumes: vec![ClaimMount {
                        claim: "d".into(),
                        mount_path: "/dev/shm".into(),
                    }],
                    ..tf_job()
                },
                "volumes[0].mountPath",
                Refusal::ShmInUse,
            ),
            (
                NewWorkload {
                    volumes: vec![ClaimMount {
                        claim: "d".into(),
                        mount_path: "/data/../etc".into(),
                    }],
                    ..tf_job()
                },
                "volumes[0].mountPath",
                Refusal::NotAnAbsolutePath,
            ),
            (
                NewWorkload {
                    ports: vec![8888],
                    ..tf_job()
                },
                "ports",
                Refusal::PortsNeedWorkspace,
            ),
            (
                NewWorkload {
                    kind: WorkloadKind::Workspace,
                    ports: vec![0],
                    ..tf_job()
                },
                "ports[0]",
                Refusal::OutOfRange { min: 1, max: 65535 },
            ),
            (
                NewWorkload {
                    kind: WorkloadKind::Workspace,
                    ports: vec![70000],
                    ..tf_job()
                },
                "ports[0]",
                Refusal::OutOfRange { min: 1, max: 65535 },
            ),
            (
                NewWorkload {
                    kind: WorkloadKind::Workspace,
                    ports: vec![22, 22],
                    ..tf_job()
                },
                "ports[1]",
                Refusal::Duplicate { value: "22".into() },
            ),
            (
                NewWorkload {
                    backoff_limit: 1000,
                    ..tf_job()
                },
                "backoffLimit",
                Refusal::TooLarge { max: MAX_BACKOFF },
            ),
            (
                NewWorkload {
                    active_deadline_seconds: Some(0),
                    ..tf_job()
                },
                "activeDeadlineSeconds",
                Refusal::OutOfRange {
                    min: 1,
                    max: MAX_SECONDS,
                },
            ),
            (
                NewWorkload {
                    ttl_seconds_after_finished: Some(u64::MAX),
                    ..tf_job()
                },
                "ttlSecondsAfterFinished",
                Refusal::OutOfRange {
                    min: 0,
                    max: MAX_SECONDS,
                },
            ),
            (
                NewWorkload {
                    priority_class: "High Priority".into(),
                    ..tf_job()
                },
                "priorityClass",
                Refusal::NotASubdomain,
            ),
            (
                NewWorkload {
                    command: vec!["x".repeat(MAX_TEXT + 1)],
                    ..tf_job()
                },
                "command[0]",
                Refusal::TooLong { max: MAX_TEXT },
            ),
        ];
        for (request, field, expected) in cases {
            assert_eq!(
                refusal(request.clone()),
                (field.to_string(), expected),
                "{request:?}"
            );
        }
    }

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for good in [
            "busybox",
            "tensorflow/tensorflow:2.15.0-gpu",
            "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0",
            "localhost:5000/team/img",
            "registry.example.com:8443/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(is_image_reference(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "UPPER/case",
            "repo:",
            "repo:-tag",
            "a//b",
            "/abs",
            "repo@md5:00",
        ] {
            assert!(!is_image_reference(bad), "{bad}");
        }
    }
}
