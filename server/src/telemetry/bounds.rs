//! What one exporter answer may hold: its size in bytes, its GPUs, each GPU's processes, pods and
//! error entries, and the length of every string in it. An exporter that lies or is replaced
//! cannot make the dashboard keep more than these bounds allow; an answer over any of them is
//! refused whole, with the part that was too large named.

use gpuboard_exporter_api::{Attribution, Gpu, NodeGpus};

/// The most bytes one answer may have; a node with 16 busy GPUs answers in tens of KiB.
pub const MAX_ANSWER_BYTES: usize = 512 * 1024;
/// The most bytes one dcgm-exporter `/metrics` answer may have: its text repeats every label on
/// every sample, and MIG instances and profiling fields multiply the samples.
pub const MAX_TEXT_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// The most GPUs one node may report (the largest servers carry 16; MIG is not listed apart).
pub const MAX_GPUS: usize = 64;
/// The most pods one GPU may be attributed to (time-slicing shares a GPU among a few).
pub const MAX_PODS_PER_GPU: usize = 64;
/// The most processes one GPU may list.
pub const MAX_PROCESSES_PER_GPU: usize = 512;
/// The most entries one GPU's Xid counts or field errors may have.
pub const MAX_ENTRIES_PER_GPU: usize = 64;
/// The longest name (node, pod, namespace, UUID, model, ...): Kubernetes' own name limit.
pub const MAX_NAME_BYTES: usize = 253;
/// The longest free text (why the GPUs are unavailable, why a field failed).
pub const MAX_TEXT_BYTES: usize = 1024;

/// Checks `answer` against every bound; the error names the first part over one.
pub fn check(answer: &NodeGpus) -> Result<(), String> {
    name("node", &answer.node)?;
    for (field, value) in [
        ("driverVersion", &answer.driver_version),
        ("cudaVersion", &answer.cuda_version),
        ("nvmlVersion", &answer.nvml_version),
    ] {
        if let Some(value) = value {
            name(field, value)?;
        }
    }
    if let Some(why) = &answer.unavailable {
        text("unavailable", why)?;
    }
    if let Attribution::Failed(why) = &answer.attribution {
        text("attribution.reason", why)?;
    }
    count("gpus", answer.gpus.len(), MAX_GPUS)?;
    answer
        .gpus
        .iter()
        .enumerate()
        .try_for_each(|(i, gpu)| check_gpu(gpu).map_err(|e| format!("gpus[{i}].{e}")))
}

fn check_gpu(gpu: &Gpu) -> Result<(), String> {
    let identity = &gpu.identity;
    name("uuid", &identity.uuid)?;
    name("name", &identity.name)?;
    name("pciBusId", &identity.pci_bus_id)?;
    for (field, value) in [
        ("serial", &identity.serial),
        ("computeCapability", &identity.compute_capability),
    ] {
        if let Some(value) = value {
            name(field, value)?;
        }
    }
    count("processes", gpu.processes.len(), MAX_PROCESSES_PER_GPU)?;
    count("pods", gpu.pods.len(), MAX_PODS_PER_GPU)?;
    for (i, pod) in gpu.pods.iter().enumerate() {
        name(&format!("pods[{i}].namespace"), &pod.namespace)?;
        name(&format!("pods[{i}].pod"), &pod.pod)?;
        name(&format!("pods[{i}].container"), &pod.container)?;
    }
    count("xidErrors", gpu.xid_errors.len(), MAX_ENTRIES_PER_GPU)?;
    count("fieldErrors", gpu.field_errors.len(), MAX_ENTRIES_PER_GPU)?;
    for (field, why) in &gpu.field_errors {
        name("fieldErrors", field)?;
        text(&format!("fieldErrors.{field}"), why)?;
    }
    Ok(())
}

fn count(what: &str, len: usize, max: usize) -> Result<(), String> {
    if len > max {
        return Err(format!("{what}: {len} entries, at most {max} allowed"));
    }
    Ok(())
}

fn name(what: &str, value: &str) -> Result<(), String> {
    longest(what, value, MAX_NAME_BYTES)
}

fn text(what: &str, value: &str) -> Result<(), String> {
    longest(what, value, MAX_TEXT_BYTES)
}

fn longest(what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        return Err(format!(
            "{what}: {} bytes, at most {max} allowed",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gpuboard_exporter_api::{GpuProcess, PodRef};

    use super::*;

    fn gpu(uuid: &str) -> Gpu {
        let mut gpu = Gpu::default();
        gpu.identity.uuid = uuid.into();
        gpu.identity.name = "NVIDIA GeForce GTX 1080 Ti".into();
        gpu.identity.pci_bus_id = "00000000:3B:00.0".into();
        gpu
    }

    fn answer(gpus: Vec<Gpu>) -> NodeGpus {
        NodeGpus {
            node: "node-110".into(),
            gpus,
            ..Default::default()
        }
    }

    #[test]
    fn a_real_answer_passes() {
        let mut busy = gpu("GPU-1");
        busy.pods = vec![PodRef {
            namespace: "ai".into(),
            pod: "train-0".into(),
            container: "main".into(),
        }];
        busy.processes = vec![GpuProcess {
            pid: 42,
            used_memory_bytes: Some(1 << 30),
        }];
        busy.field_errors
            .insert("powerWatts".into(), "GPU is lost".into());
        let gpus = (0..16).map(|i| gpu(&format!("GPU-{i}"))).chain([busy]);
        assert_eq!(check(&answer(gpus.collect())), Ok(()));
    }

    #[test]
    fn each_bound_is_named_when_passed() {
        let too_many = answer((0..=MAX_GPUS).map(|i| gpu(&format!("GPU-{i}"))).collect());
        assert_eq!(
            check(&too_many),
            Err("gpus: 65 entries, at most 64 allowed".into())
        );

        let mut long_node = answer(vec![]);
        long_node.node = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            check(&long_node),
            Err("node: 254 bytes, at most 253 allowed".into())
        );

        let mut crowded = gpu("GPU-2");
        crowded.pods = vec![PodRef::default(); MAX_PODS_PER_GPU + 1];
        let crowded = answer(vec![gpu("GPU-1"), crowded]);
        assert_eq!(
            check(&crowded),
            Err("gpus[1].pods: 65 entries, at most 64 allowed".into())
        );

        let mut long_pod = gpu("GPU-1");
        long_pod.pods = vec![PodRef {
            namespace: "ai".into(),
            pod: "p".repeat(300),
            container: "main".into(),
        }];
        assert_eq!(
            check(&answer(vec![long_pod])),
            Err("gpus[0].pods[0].pod: 300 bytes, at most 253 allowed".into())
        );

        let mut busy = gpu("GPU-1");
        busy.processes = vec![GpuProcess::default(); MAX_PROCESSES_PER_GPU + 1];
        assert_eq!(
            check(&answer(vec![busy])),
            Err("gpus[0].processes: 513 entries, at most 512 allowed".into())
        );

        let mut noisy = gpu("GPU-1");
        noisy.xid_errors = (0..=MAX_ENTRIES_PER_GPU as u64).map(|x| (x, 1)).collect();
        assert_eq!(
            check(&answer(vec![noisy])),
            Err("gpus[0].xidErrors: 65 entries, at most 64 allowed".into())
        );

        let mut wordy = answer(vec![]);
        wordy.attribution = Attribution::Failed("x".repeat(MAX_TEXT_BYTES + 1));
        assert_eq!(
            check(&wordy),
            Err("attribution.reason: 1025 bytes, at most 1024 allowed".into())
        );
    }
}
