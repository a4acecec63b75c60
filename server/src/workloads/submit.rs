//! Sending a workload as the user: a dry run of every object (and of one pod of it, so the
//! namespace's quota answers now rather than as a Job event later), then the objects; a retried
//! submit finds its own objects (same request hash) and makes nothing new; a workspace whose
//! Service is refused takes its Deployment back. Deleting sends `propagationPolicy=Background`.

use frontend::contract::workloads::{
    Deleted, NodePort, REQUEST_HASH_ANNOTATION, Submitted, WORKLOAD_LABEL, WorkloadKind,
};
use frontend::contract::{FieldError, PageError, QuotaLists, Refusal};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::Status;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::build::Manifests;
use crate::cluster::refusal::page_error;

/// The form field a cluster refusal concerns, from the field path of its causes or its text.
fn field_of(status: &Status) -> Option<&'static str> {
    let fields: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .map(|c| c.field.clone())
        .collect();
    let text = format!("{} {}", fields.join(" "), status.message);
    let rules: [(&str, &str); 8] = [
        ("exceeded quota", "gpus"),
        ("PriorityClass", "priorityClass"),
        ("priorityClassName", "priorityClass"),
        (".image", "image"),
        ("nvidia.com/gpu", "gpus"),
        ("resources", "gpus"),
        ("nodePort", "ports"),
        ("metadata.name", "name"),
    ];
    rules
        .iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, field)| *field)
}

/// `exceeded quota: q, requested: a, used: b, limited: c` as its parts.
pub fn parse_quota_refusal(message: &str) -> Option<Refusal> {
    let rest = &message[message.find("exceeded quota: ")? + "exceeded quota: ".len()..];
    let (quota, rest) = rest.split_once(", requested: ")?;
    let (requested, rest) = rest.split_once(", used: ")?;
    let (used, limited) = rest.split_once(", limited: ")?;
    Some(Refusal::QuotaExceeded(Box::new(QuotaLists {
        quota: quota.to_string(),
        requested: requested.to_string(),
        used: used.to_string(),
        limited: limited.trim_end().to_string(),
    })))
}

/// A refusal from the cluster as a page error: under its field where one is known.
fn refusal(e: kube::Error) -> PageError {
    if let kube::Error::Api(status) = &e
        && matches!(status.code, 400 | 403 | 409 | 422)
        && let Some(field) = field_of(status)
    {
        let refusal = parse_quota_refusal(&status.message).unwrap_or(Refusal::Cluster {
            message: status.message.clone(),
        });
        // An RBAC denial is not the field's fault.
        if !(status.code == 403 && status.message.contains(" cannot ")) {
            return PageError::Invalid(FieldError::new(field, refusal));
        }
    }
    page_error(e)
}

fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..Default::default()
    }
}

/// What became of one object.
enum Made<K> {
    New(K),
    /// The same request had made it already.
    Existing(K),
}

/// Creates `object`; when its name is taken by an object of the same request, that one is the answer.
async fn create_once<K>(api: &Api<K>, object: &K) -> Result<Made<K>, PageError>
where
    K: kube::Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(made) => Ok(Made::New(made)),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let name = object.meta().name.clone().unwrap_or_default();
            let existing = api.get(&name).await.map_err(page_error)?;
            let hash = |k: &K| {
                k.meta()
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(REQUEST_HASH_ANNOTATION).cloned())
            };
            if hash(&existing).is_some() && hash(&existing) == hash(object) {
                Ok(Made::Existing(existing))
            } else {
                Err(PageError::Invalid(FieldError::new(
                    "name",
                    Refusal::Cluster {
                        message: status.message,
                    },
                )))
            }
        }
        Err(e) => Err(refusal(e)),
    }
}

/// A pod as the workload's template would make it, for the quota's dry run.
fn probe_pod(manifests: &Manifests) -> Option<Pod> {
    let (meta, template) = match manifests {
        Manifests::Job(job) => (&job.metadata, &job.spec.as_ref()?.template),
        Manifests::Workspace { deployment, .. } => {
            (&deployment.metadata, &deployment.spec.template)
        }
    };
    Some(Pod {
        metadata: kube::api::ObjectMeta {
            name: meta.name.as_ref().map(|n| format!("{n}-fit-check")),
            namespace: meta.namespace.clone(),
            labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    })
}

/// A dry run's answer: a name already taken is [`create_once`]'s to judge (it may be this very
/// request, retried); any other refusal is the answer.
fn dry_run_answer<K>(result: Result<K, kube::Error>) -> Result<(), PageError> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(refusal(e)),
    }
}

/// Dry-runs everything `manifests` would make; the first refusal is the answer.
async fn check(
    client: &kube::Client,
    namespace: &str,
    manifests: &Manifests,
) -> Result<(), PageError> {
    match manifests {
        Manifests::Job(job) => {
            dry_run_answer(
                Api::<Job>::namespaced(client.clone(), namespace)
                    .create(&dry_run(), job)
                    .await,
            )?;
        }
        Manifests::Workspace {
            deployment,
            service,
        } => {
            dry_run_answer(
                Api::<Deployment>::namespaced(client.clone(), namespace)
                    .create(&dry_run(), deployment)
                    .await,
            )?;
            if let Some(service) = service {
                dry_run_answer(
                    Api::<Service>::namespaced(client.clone(), namespace)
                        .create(&dry_run(), service)
                        .await,
                )?;
            }
        }
    }
    if let Some(pod) = probe_pod(manifests) {
        match Api::<Pod>::namespaced(client.clone(), namespace)
            .create(&dry_run(), &pod)
            .await
        {
            Ok(_) => {}
            // Someone who may create Jobs but not pods: the Job's own dry run has spoken.
            Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains(" cannot ") => {}
            Err(e) => return Err(refusal(e)),
        }
    }
    Ok(())
}

fn node_ports(service: &Service) -> Vec<NodePort> {
    service
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| {
            Some(NodePort {
                port: p.port as u32,
                node_port: p.node_port? as u32,
            })
        })
        .collect()
}

/// Dry-runs `manifests` as `client`'s user and, unless `only_check`, makes them.
pub async fn submit(
    client: &kube::Client,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    manifests: &Manifests,
    only_check: bool,
) -> Result<Submitted, PageError> {
    check(client, namespace, manifests).await?;
    let mut answer = Submitted {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        created: false,
        dry_run: only_check,
        objects: Vec::new(),
        node_ports: Vec::new(),
        manifest: manifests.yaml(),
    };
    match manifests {
        Manifests::Job(job) => {
            answer.objects.push(format!("Job/{name}"));
            if !only_check {
                let made =
                    create_once(&Api::<Job>::namespaced(client.clone(), namespace), job).await?;
                answer.created = matches!(made, Made::New(_));
            }
        }
        Manifests::Workspace {
            deployment,
            service,
        } => {
            answer.objects.push(format!("Deployment/{name}"));
            if service.is_some() {
                answer.objects.push(format!("Service/{name}"));
            }
            if only_check {
                return Ok(answer);
            }
            let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
            let made = create_once(&deployments, deployment).await?;
            answer.created = matches!(made, Made::New(_));
            if let Some(service) = service {
                let services = Api::<Service>::namespaced(client.clone(), namespace);
                match create_once(&services, service).await {
                    Ok(Made::New(s) | Made::Existing(s)) => answer.node_ports = node_ports(&s),
                    Err(e) => {
                        if matches!(made, Made::New(_)) {
                            // Nothing half-made: the Deployment goes with the refused Service.
                            let _ = deployments.delete(name, &DeleteParams::background()).await;
                        }
                        return Err(e);
                    }
                }
            }
        }
    }
    Ok(answer)
}

/// Deletes the Job `name` (with its pods), else the workspace `name` (Deployment and Service).
pub async fn delete(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Deleted, PageError> {
    let background = DeleteParams::background();
    let mut objects = Vec::new();
    let jobs = Api::<Job>::namespaced(client.clone(), namespace);
    match jobs.delete(name, &background).await {
        Ok(_) => objects.push(format!("Job/{name}")),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(page_error(e)),
    }
    if objects.is_empty() {
        let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
        match deployments.delete(name, &background).await {
            Ok(_) => objects.push(format!("Deployment/{name}")),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(page_error(e)),
        }
        let services = Api::<Service>::namespaced(client.clone(), namespace);
        // Only the Service gpuboard made with the workspace.
        if let Ok(Some(service)) = services.get_opt(name).await
            && service
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.get(WORKLOAD_LABEL).is_some_and(|w| w == name))
        {
            services
                .delete(name, &background)
                .await
                .map_err(page_error)?;
            objects.push(format!("Service/{name}"));
        }
    }
    if objects.is_empty() {
        return Err(PageError::NotFound(format!(
            "no Job or workspace named {name} in {namespace}"
        )));
    }
    Ok(Deleted {
        namespace: namespace.to_string(),
        name: name.to_string(),
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_plugins_message_is_read_into_its_parts() {
        let message = "pods \"train-x7k2p\" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=3, limited: requests.nvidia.com/gpu=4";
        assert_eq!(
            parse_quota_refusal(message),
            Some(Refusal::QuotaExceeded(Box::new(QuotaLists {
                quota: "gpu-quota".into(),
                requested: "requests.nvidia.com/gpu=2".into(),
                used: "requests.nvidia.com/gpu=3".into(),
                limited: "requests.nvidia.com/gpu=4".into(),
            })))
        );
        assert_eq!(
            parse_quota_refusal("pods \"x\" is forbidden: something else"),
            None
        );
    }
}
