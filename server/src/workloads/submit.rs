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
use crate::retries::Made;

/// The form field a cluster refusal concerns, from the field path of its causes or its text.
fn field_of(status: &Status) -> Option<&'static str> {
    let fields: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .map(|c| c.field.clone())
        .collect();
    let text = format!("{} {}", fields.join(" "), status.message);
    // The first match wins: a quota refusal names the resource it ran out of.
    let rules: [(&str, &str); 12] = [
        ("PriorityClass", "priorityClass"),
        ("priorityClassName", "priorityClass"),
        ("nvidia.com/gpu", "gpus"),
        ("requests.cpu", "cpu"),
        ("specify cpu", "cpu"),
        ("requests.memory", "memory"),
        ("limits.memory", "memory"),
        ("specify memory", "memory"),
        (".image", "image"),
        ("nodePort", "ports"),
        ("metadata.name", "name"),
        // Any other quota (pods, storage): the request as a whole is too large; GPUs are its size.
        ("exceeded quota", "gpus"),
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

/// Who holds an object's name.
enum NameState<K> {
    Free,
    /// An object this very request made (same request hash): a retry.
    Ours(K),
    /// Someone else's object: the name must change.
    Taken,
}

/// Whether `object`'s name is free, ours (a retried submit) or taken.
async fn name_state<K>(api: &Api<K>, object: &K) -> Result<NameState<K>, PageError>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let Some(existing) = api.get_opt(&name).await.map_err(page_error)? else {
        return Ok(NameState::Free);
    };
    let hash = |k: &K| {
        k.meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(REQUEST_HASH_ANNOTATION).cloned())
    };
    Ok(
        if hash(&existing).is_some() && hash(&existing) == hash(object) {
            NameState::Ours(existing)
        } else {
            NameState::Taken
        },
    )
}

/// The refusal for a name someone else's object holds.
fn name_taken<K: kube::Resource<DynamicType = ()>>(object: &K) -> PageError {
    let name = object.meta().name.clone().unwrap_or_default();
    PageError::Invalid(FieldError::new(
        "name",
        Refusal::NameTaken {
            object: format!("{} {name:?}", K::kind(&())),
        },
    ))
}

/// Creates `object`; when its name is taken by an object of the same request, that one is the answer.
async fn create_once<K>(api: &Api<K>, object: &K) -> Result<Made<K>, PageError>
where
    K: kube::Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(made) => Ok(Made::Now(made)),
        Err(kube::Error::Api(status)) if status.code == 409 => match name_state(api, object).await?
        {
            NameState::Ours(existing) => Ok(Made::Before(existing)),
            NameState::Taken => Err(name_taken(object)),
            // Deleted between the two calls: the cluster's refusal stands.
            NameState::Free => Err(page_error(kube::Error::Api(status))),
        },
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

/// Dry-runs the creation of `object`: a name this request already holds passes (a retry), one
/// someone else holds is refused under `name`, any other refusal is the answer.
async fn dry_run_create<K>(api: &Api<K>, object: &K) -> Result<(), PageError>
where
    K: kube::Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    match api.create(&dry_run(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => match name_state(api, object).await? {
            NameState::Taken => Err(name_taken(object)),
            NameState::Ours(_) | NameState::Free => Ok(()),
        },
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
            dry_run_create(
                &Api::<Job>::namespaced(client.clone(), namespace),
                job.as_ref(),
            )
            .await?;
        }
        Manifests::Workspace {
            deployment,
            service,
        } => {
            let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
            dry_run_create(&deployments, deployment.as_ref()).await?;
            if let Some(service) = service {
                let services = Api::<Service>::namespaced(client.clone(), namespace);
                dry_run_create(&services, service.as_ref()).await?;
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

/// Whether this very request already made the workload's main object (a retried submit, whose
/// own pod may now fill the quota the dry run would check again).
async fn made_already(
    client: &kube::Client,
    namespace: &str,
    manifests: &Manifests,
) -> Result<bool, PageError> {
    let ours = match manifests {
        Manifests::Job(job) => matches!(
            name_state(
                &Api::<Job>::namespaced(client.clone(), namespace),
                job.as_ref()
            )
            .await?,
            NameState::Ours(_)
        ),
        Manifests::Workspace { deployment, .. } => matches!(
            name_state(
                &Api::<Deployment>::namespaced(client.clone(), namespace),
                deployment.as_ref()
            )
            .await?,
            NameState::Ours(_)
        ),
    };
    Ok(ours)
}

pub fn node_ports(service: &Service) -> Vec<NodePort> {
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
    if !made_already(client, namespace, manifests).await? {
        check(client, namespace, manifests).await?;
    }
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
                answer.created = made.now();
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
            answer.created = made.now();
            if let Some(service) = service {
                let services = Api::<Service>::namespaced(client.clone(), namespace);
                match create_once(&services, service).await {
                    Ok(service) => answer.node_ports = node_ports(service.object()),
                    Err(e) => {
                        if made.now() {
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
        // A workspace: only the Deployment and Service gpuboard made under this name.
        let made_here = |labels: Option<&std::collections::BTreeMap<String, String>>| {
            labels.is_some_and(|l| l.get(WORKLOAD_LABEL).is_some_and(|w| w == name))
        };
        let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
        if let Some(d) = deployments.get_opt(name).await.map_err(page_error)?
            && made_here(d.metadata.labels.as_ref())
        {
            deployments
                .delete(name, &background)
                .await
                .map_err(page_error)?;
            objects.push(format!("Deployment/{name}"));
        }
        let services = Api::<Service>::namespaced(client.clone(), namespace);
        if let Some(s) = services.get_opt(name).await.map_err(page_error)?
            && made_here(s.metadata.labels.as_ref())
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
            "no Job or gpuboard workspace named {name} in {namespace} (pods of other controllers are deleted through their owner, e.g. kubectl delete)"
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

    fn status(message: &str, fields: &[&str]) -> Status {
        serde_json::from_value(serde_json::json!({
            "message": message, "code": 422,
            "details": {"causes": fields.iter().map(|f| serde_json::json!({"field": f})).collect::<Vec<_>>()}
        }))
        .expect("a status")
    }

    #[test]
    fn refusals_land_under_the_field_they_concern() {
        let cases = [
            (
                "pods \"x\" is forbidden: exceeded quota: q, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=2, limited: requests.nvidia.com/gpu=2",
                &[][..],
                Some("gpus"),
            ),
            (
                "pods \"x\" is forbidden: exceeded quota: q, requested: requests.cpu=4, used: requests.cpu=6, limited: requests.cpu=8",
                &[],
                Some("cpu"),
            ),
            (
                "pods \"x\" is forbidden: failed quota: q: must specify memory for: main",
                &[],
                Some("memory"),
            ),
            (
                "pods \"x\" is forbidden: no PriorityClass with name nope was found",
                &[],
                Some("priorityClass"),
            ),
            (
                "Job.batch \"x\" is invalid",
                &["spec.template.spec.containers[0].image"],
                Some("image"),
            ),
            ("something else", &[], None),
        ];
        for (message, fields, field) in cases {
            assert_eq!(field_of(&status(message, fields)), field, "{message}");
        }
    }

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
