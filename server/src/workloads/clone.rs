//! "Clone": the submit form filled from an existing Job or workspace, so the form makes the same
//! thing again. The inverse of [`super::build`] for what gpuboard made; for anything else, what the
//! form can say of its first container (the rest of a hand-written spec is not carried over).

use frontend::contract::workloads::{ClaimMount, EnvVar, NewWorkload};
use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::detail::Found;
use crate::cluster::accounting::{GPU_PRODUCT_LABEL, container_gpus};

fn quantity(container: &Container, resource: &str) -> String {
    container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(resource))
        .map(|q| q.0.clone())
        .unwrap_or_default()
}

/// The claim mounts and whether a memory-backed `/dev/shm` is mounted.
fn mounts(spec: &PodSpec, container: &Container) -> (Vec<ClaimMount>, bool) {
    let mut claims = Vec::new();
    let mut large_shm = false;
    for mount in container.volume_mounts.iter().flatten() {
        let Some(volume) = spec.volumes.iter().flatten().find(|v| v.name == mount.name) else {
            continue;
        };
        if let Some(pvc) = &volume.persistent_volume_claim {
            claims.push(ClaimMount {
                claim: pvc.claim_name.clone(),
                mount_path: mount.mount_path.clone(),
            });
        } else if mount.mount_path == "/dev/shm"
            && volume
                .empty_dir
                .as_ref()
                .is_some_and(|e| e.medium.as_deref() == Some("Memory"))
        {
            large_shm = true;
        }
    }
    (claims, large_shm)
}

/// The form that makes `found` again (under its own name: the form asks for a new one).
pub fn form_of(found: &Found) -> NewWorkload {
    let (kind, meta, template) = match found {
        Found::Job(job) => (
            frontend::contract::workloads::WorkloadKind::Job,
            &job.metadata,
            job.spec.as_ref().map(|s| &s.template),
        ),
        Found::Workspace { deployment, .. } => (
            frontend::contract::workloads::WorkloadKind::Workspace,
            &deployment.metadata,
            Some(&deployment.spec.template),
        ),
    };
    let mut form = NewWorkload {
        kind,
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        ..Default::default()
    };
    let Some(spec) = template.and_then(|t| t.spec.as_ref()) else {
        return form;
    };
    if let Some(container) = spec.containers.first() {
        form.image = container.image.clone().unwrap_or_default();
        form.command = container.command.clone().unwrap_or_default();
        form.args = container.args.clone().unwrap_or_default();
        form.gpus = f64::from(container_gpus(container));
        form.cpu = quantity(container, "cpu");
        form.memory = quantity(container, "memory");
        form.env = container
            .env
            .iter()
            .flatten()
            .filter(|e| e.value_from.is_none())
            .map(|e| EnvVar {
                name: e.name.clone(),
                value: e.value.clone().unwrap_or_default(),
            })
            .collect();
        let (claims, large_shm) = mounts(spec, container);
        form.volumes = claims;
        form.large_shm = Some(large_shm);
    }
    form.gpu_model = spec
        .node_selector
        .as_ref()
        .and_then(|s| s.get(GPU_PRODUCT_LABEL))
        .cloned()
        .unwrap_or_default();
    form.priority_class = spec.priority_class_name.clone().unwrap_or_default();
    match found {
        Found::Job(job) => {
            let job_spec = job.spec.as_ref();
            form.backoff_limit = job_spec
                .and_then(|s| s.backoff_limit)
                .map_or(6, |b| b.max(0) as u32);
            form.active_deadline_seconds = job_spec
                .and_then(|s| s.active_deadline_seconds)
                .map(|s| s.max(0) as u64);
            form.ttl_seconds_after_finished = job_spec
                .and_then(|s| s.ttl_seconds_after_finished)
                .map(|s| s.max(0) as u64);
        }
        Found::Workspace { service, .. } => {
            form.ports = service
                .iter()
                .flat_map(|s| s.spec.iter().flat_map(|s| s.ports.iter().flatten()))
                .map(|p| p.port.max(0) as u32)
                .collect();
        }
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::build::{Manifests, manifests};
    use crate::workloads::validate::validate;
    use frontend::contract::workloads::WorkloadKind;

    fn found(m: Manifests) -> Found {
        match m {
            Manifests::Job(job) => Found::Job(job),
            Manifests::Workspace {
                deployment,
                service,
            } => Found::Workspace {
                deployment,
                service,
            },
        }
    }

    #[test]
    fn what_the_form_made_comes_back_as_the_same_form() {
        let job = NewWorkload {
            kind: WorkloadKind::Job,
            name: "tf".into(),
            namespace: "ai".into(),
            image: "pytorch/pytorch:latest".into(),
            command: vec!["python".into(), "train.py".into()],
            args: vec!["--epochs=3".into()],
            gpus: 2.0,
            gpu_model: "NVIDIA-GeForce-GTX-1080-Ti".into(),
            cpu: "4".into(),
            memory: "16Gi".into(),
            large_shm: Some(true),
            env: vec![EnvVar {
                name: "NCCL_DEBUG".into(),
                value: "INFO".into(),
            }],
            volumes: vec![ClaimMount {
                claim: "ai-data".into(),
                mount_path: "/data".into(),
            }],
            backoff_limit: 2,
            active_deadline_seconds: Some(3600),
            ttl_seconds_after_finished: Some(600),
            priority_class: "high-priority".into(),
            ..Default::default()
        };
        let valid = validate(&job, None).unwrap();
        assert_eq!(form_of(&found(manifests(&valid, "alice"))), job);

        let workspace = NewWorkload {
            kind: WorkloadKind::Workspace,
            name: "lab".into(),
            namespace: "ai".into(),
            image: "tensorflow/tensorflow:latest-gpu".into(),
            gpus: 1.0,
            large_shm: Some(false),
            ports: vec![8888, 22],
            ..Default::default()
        };
        let valid = validate(&workspace, None).unwrap();
        assert_eq!(form_of(&found(manifests(&valid, "alice"))), workspace);
    }
}
