//! A valid request as the objects sent to the cluster: a Job (restartPolicy Never), or a workspace
//! (a one-replica Deployment, Recreate so a GPU is never needed twice, restartPolicy Always, and a
//! NodePort Service when ports are asked for). GPU work gets the device plugin's toleration and
//! the model as a node selector; a large `/dev/shm` is a memory `emptyDir`. Every object carries
//! the owner and workload labels and the request's hash (what makes a retried submit a no-op).

use std::collections::BTreeMap;

use frontend::contract::workloads::{
    OWNER_LABEL, REQUEST_HASH_ANNOTATION, WORKLOAD_LABEL, WorkloadKind,
};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, PersistentVolumeClaimVolumeSource, PodSpec,
    PodTemplateSpec, ResourceRequirements, Service, ServicePort, ServiceSpec, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use sha2::{Digest, Sha256};

use super::validate::Valid;
use crate::cluster::accounting::{GPU_PRODUCT_LABEL, GPU_RESOURCE};

/// The name of the one container.
pub const CONTAINER: &str = "main";

/// What one submit sends.
#[derive(Debug, Clone)]
pub enum Manifests {
    Job(Box<Job>),
    Workspace {
        deployment: Box<Deployment>,
        service: Option<Box<Service>>,
    },
}

impl Manifests {
    /// Exactly what is sent, as YAML documents.
    pub fn yaml(&self) -> String {
        let docs: Vec<String> = match self {
            Manifests::Job(job) => vec![to_yaml(job)],
            Manifests::Workspace {
                deployment,
                service,
            } => std::iter::once(to_yaml(deployment))
                .chain(service.iter().map(to_yaml))
                .collect(),
        };
        docs.join("---\n")
    }
}

fn to_yaml<T: serde::Serialize>(object: &T) -> String {
    serde_saphyr::to_string(object).unwrap_or_else(|e| format!("# not shown: {e}\n"))
}

/// A user name as a label value: characters a label may not hold become `.`; past 63 characters
/// the end is kept (`system:serviceaccount:<ns>:<name>` differs there).
pub fn owner_label(username: &str) -> String {
    let mapped: String = username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .collect();
    // All ASCII now, so a byte index is a character index.
    mapped[mapped.len().saturating_sub(63)..]
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The SHA-256 of the request and its owner: equal only for the same submit.
fn request_hash(valid: &Valid, owner: &str) -> String {
    let body = serde_json::to_string(&(&valid.request, owner)).unwrap_or_default();
    let digest = Sha256::digest(body.as_bytes());
    crate::hex::encode(&digest[..16])
}

fn meta(valid: &Valid, owner: &str, hash: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(valid.request.name.clone()),
        namespace: Some(valid.request.namespace.clone()),
        labels: Some(labels(valid, owner)),
        annotations: Some(BTreeMap::from([(
            REQUEST_HASH_ANNOTATION.to_string(),
            hash.to_string(),
        )])),
        ..Default::default()
    }
}

fn labels(valid: &Valid, owner: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (WORKLOAD_LABEL.to_string(), valid.request.name.clone()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "gpuboard".to_string(),
        ),
    ]);
    if !owner.is_empty() {
        labels.insert(OWNER_LABEL.to_string(), owner.to_string());
    }
    labels
}

fn resources(valid: &Valid) -> ResourceRequirements {
    let r = &valid.request;
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    if valid.gpus > 0 {
        limits.insert(GPU_RESOURCE.to_string(), Quantity(valid.gpus.to_string()));
    }
    if !r.cpu.is_empty() {
        requests.insert("cpu".to_string(), Quantity(r.cpu.clone()));
    }
    if !r.memory.is_empty() {
        requests.insert("memory".to_string(), Quantity(r.memory.clone()));
        limits.insert("memory".to_string(), Quantity(r.memory.clone()));
    }
    ResourceRequirements {
        limits: (!limits.is_empty()).then_some(limits),
        requests: (!requests.is_empty()).then_some(requests),
        ..Default::default()
    }
}

fn pod_spec(valid: &Valid, restart_policy: &str) -> PodSpec {
    let r = &valid.request;
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for (i, mount) in r.volumes.iter().enumerate() {
        let name = format!("claim-{i}");
        mounts.push(VolumeMount {
            name: name.clone(),
            mount_path: mount.mount_path.clone(),
            ..Default::default()
        });
        volumes.push(Volume {
            name,
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: mount.claim.clone(),
                read_only: None,
            }),
            ..Default::default()
        });
    }
    if valid.large_shm {
        mounts.push(VolumeMount {
            name: "dshm".into(),
            mount_path: "/dev/shm".into(),
            ..Default::default()
        });
        volumes.push(Volume {
            name: "dshm".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: (!r.memory.is_empty()).then(|| Quantity(r.memory.clone())),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let env: Vec<EnvVar> = r
        .env
        .iter()
        .map(|e| EnvVar {
            name: e.name.clone(),
            value: Some(e.value.clone()),
            value_from: None,
        })
        .collect();
    PodSpec {
        containers: vec![Container {
            name: CONTAINER.into(),
            image: Some(r.image.clone()),
            command: (!r.command.is_empty()).then(|| r.command.clone()),
            args: (!r.args.is_empty()).then(|| r.args.clone()),
            env: (!env.is_empty()).then_some(env),
            resources: Some(resources(valid)),
            volume_mounts: (!mounts.is_empty()).then_some(mounts),
            ..Default::default()
        }],
        volumes: (!volumes.is_empty()).then_some(volumes),
        restart_policy: Some(restart_policy.into()),
        node_selector: (!r.gpu_model.is_empty())
            .then(|| BTreeMap::from([(GPU_PRODUCT_LABEL.to_string(), r.gpu_model.clone())])),
        tolerations: (valid.gpus > 0).then(|| {
            vec![Toleration {
                key: Some(GPU_RESOURCE.into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }]
        }),
        priority_class_name: (!r.priority_class.is_empty()).then(|| r.priority_class.clone()),
        ..Default::default()
    }
}

fn template(valid: &Valid, owner: &str, restart_policy: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(valid, owner)),
            ..Default::default()
        }),
        spec: Some(pod_spec(valid, restart_policy)),
    }
}

/// The objects for `valid`, submitted by `username`.
pub fn manifests(valid: &Valid, username: &str) -> Manifests {
    let owner = owner_label(username);
    let hash = request_hash(valid, &owner);
    let r = &valid.request;
    match r.kind {
        WorkloadKind::Job => Manifests::Job(Box::new(Job {
            metadata: meta(valid, &owner, &hash),
            spec: Some(JobSpec {
                backoff_limit: Some(r.backoff_limit as i32),
                active_deadline_seconds: r.active_deadline_seconds.map(|s| s as i64),
                ttl_seconds_after_finished: r.ttl_seconds_after_finished.map(|s| s as i32),
                template: template(valid, &owner, "Never"),
                ..Default::default()
            }),
            status: None,
        })),
        WorkloadKind::Workspace => {
            let selector = BTreeMap::from([(WORKLOAD_LABEL.to_string(), r.name.clone())]);
            let deployment = Deployment {
                metadata: meta(valid, &owner, &hash),
                spec: DeploymentSpec {
                    replicas: Some(1),
                    selector: LabelSelector {
                        match_labels: Some(selector.clone()),
                        match_expressions: None,
                    },
                    // A rolling update would hold the GPU twice; Recreate frees it first.
                    strategy: Some(DeploymentStrategy {
                        type_: Some("Recreate".into()),
                        rolling_update: None,
                    }),
                    template: template(valid, &owner, "Always"),
                    ..Default::default()
                },
                status: None,
            };
            let service = (!r.ports.is_empty()).then(|| {
                Box::new(Service {
                    metadata: meta(valid, &owner, &hash),
                    spec: Some(ServiceSpec {
                        type_: Some("NodePort".into()),
                        selector: Some(selector),
                        ports: Some(
                            r.ports
                                .iter()
                                .map(|&p| ServicePort {
                                    name: Some(format!("port-{p}")),
                                    port: p as i32,
                                    ..Default::default()
                                })
                                .collect(),
                        ),
                        ..Default::default()
                    }),
                    status: None,
                })
            });
            Manifests::Workspace {
                deployment: Box::new(deployment),
                service,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use frontend::contract::workloads::NewWorkload;

    use super::*;
    use crate::workloads::validate::validate;

    fn valid(request: NewWorkload) -> Valid {
        validate(&request, None).expect("valid")
    }

    #[test]
    fn a_gpu_job_never_restarts_tolerates_the_gpu_taint_and_selects_its_model() {
        let v = valid(NewWorkload {
            name: "tf".into(),
            namespace: "ai".into(),
            image: "tensorflow/tensorflow:latest-gpu".into(),
            gpus: 2.0,
            gpu_model: "NVIDIA-GeForce-GTX-1080-Ti".into(),
            ..NewWorkload::default()
        });
        let Manifests::Job(job) = manifests(&v, "system:serviceaccount:ai:alice") else {
            panic!("a job")
        };
        let spec = job.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let limits = pod.containers[0].resources.clone().unwrap().limits.unwrap();
        assert_eq!(limits[GPU_RESOURCE].0, "2");
        assert_eq!(
            pod.tolerations.unwrap()[0].key.as_deref(),
            Some(GPU_RESOURCE)
        );
        assert_eq!(
            pod.node_selector.unwrap()[GPU_PRODUCT_LABEL],
            "NVIDIA-GeForce-GTX-1080-Ti"
        );
        assert_eq!(
            job.metadata.labels.unwrap()[OWNER_LABEL],
            "system.serviceaccount.ai.alice"
        );
    }

    #[test]
    fn a_workspace_is_a_recreate_deployment_with_a_node_port_service_and_shm() {
        let v = valid(NewWorkload {
            kind: WorkloadKind::Workspace,
            name: "alice".into(),
            namespace: "ai".into(),
            image: "pytorch/pytorch".into(),
            ports: vec![8888, 22],
            ..NewWorkload::default()
        });
        let m = manifests(&v, "alice");
        let yaml = m.yaml();
        let Manifests::Workspace {
            deployment,
            service,
        } = m
        else {
            panic!("a workspace")
        };
        let spec = deployment.spec;
        assert_eq!(spec.strategy.unwrap().type_.as_deref(), Some("Recreate"));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
        assert!(pod.volumes.unwrap().iter().any(|v| {
            v.empty_dir
                .as_ref()
                .is_some_and(|e| e.medium.as_deref() == Some("Memory"))
        }));
        let svc = service.expect("a service").spec.unwrap();
        assert_eq!(svc.type_.as_deref(), Some("NodePort"));
        assert_eq!(svc.ports.unwrap().len(), 2);
        assert!(
            yaml.contains("kind: Deployment") && yaml.contains("kind: Service"),
            "{yaml}"
        );
        assert!(yaml.contains("mountPath: /dev/shm"), "{yaml}");
    }

    #[test]
    fn long_user_names_keep_their_distinguishing_end() {
        let name = format!("system:serviceaccount:{}:alice", "team-".repeat(20));
        let label = owner_label(&name);
        assert!(label.len() <= 63 && label.ends_with(".alice"), "{label}");
        assert!(
            label.starts_with(|c: char| c.is_ascii_alphanumeric()),
            "{label}"
        );
    }

    #[test]
    fn the_same_request_hashes_alike_and_another_owner_does_not() {
        let v = valid(NewWorkload {
            name: "a".into(),
            namespace: "ai".into(),
            image: "busybox".into(),
            ..NewWorkload::default()
        });
        let hash = |m: Manifests| match m {
            Manifests::Job(j) => j.metadata.annotations.unwrap()[REQUEST_HASH_ANNOTATION].clone(),
            _ => unreachable!(),
        };
        assert_eq!(hash(manifests(&v, "alice")), hash(manifests(&v, "alice")));
        assert_ne!(hash(manifests(&v, "alice")), hash(manifests(&v, "bob")));
    }
}
