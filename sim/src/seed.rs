//! The cluster the sim starts with: the seeds' lab (a tainted control plane, four GTX 1080 Ti nodes,
//! one of them on the mismatched Ubuntu kernel, and a Tesla T4 node) or a synthetic cluster of any
//! size, plus what kubeadm leaves behind (namespaces, RBAC, cluster-info, a default bootstrap token,
//! the `dashboard-admin` service account).

use base64::Engine;
use serde_json::{Value, json};

use super::pki::ClusterCa;

/// A GPU model as the sim knows it.
#[derive(Debug, Clone)]
pub struct GpuModel {
    pub name: &'static str,
    pub memory_mib: u64,
    pub power_limit_w: f64,
    pub idle_power_w: f64,
}

pub const GTX_1080_TI: GpuModel = GpuModel {
    name: "NVIDIA GeForce GTX 1080 Ti",
    memory_mib: 11264,
    power_limit_w: 250.0,
    idle_power_w: 9.0,
};
pub const TESLA_T4: GpuModel = GpuModel {
    name: "Tesla T4",
    memory_mib: 15360,
    power_limit_w: 70.0,
    idle_power_w: 10.0,
};
pub const H100: GpuModel = GpuModel {
    name: "NVIDIA H100 80GB HBM3",
    memory_mib: 81559,
    power_limit_w: 700.0,
    idle_power_w: 70.0,
};

/// One GPU of a simulated node.
#[derive(Debug, Clone)]
pub struct SimGpu {
    pub index: usize,
    pub model: GpuModel,
    pub uuid: String,
    pub pci_bus_id: String,
}

/// A simulated machine: what `kubectl get node -o wide` and the exporter would report.
#[derive(Debug, Clone)]
pub struct NodeHardware {
    pub name: String,
    pub internal_ip: String,
    pub os_image: String,
    pub kernel: String,
    pub runtime: String,
    pub driver: Option<String>,
    pub cpu: u32,
    pub memory_gib: u64,
    pub control_plane: bool,
    pub gpus: Vec<SimGpu>,
    /// The loopback address this node's simulated exporter will listen on (127.0.0.x), for GPU nodes.
    pub exporter_ip: Option<String>,
    /// The node's pod subnet (a /24 on loopback, 127.128.0.0/9): its pods' addresses.
    pub pod_subnet: std::net::Ipv4Addr,
    /// Whether the NVIDIA device plugin runs here (GPU nodes; one seed node lacks it).
    pub device_plugin: bool,
    /// How far the node's clock is ahead of the API server's, in seconds (its Lease renewals show it).
    pub clock_offset_seconds: i64,
}

/// The `n`-th node's pod subnet: 127.128.0.0/24, 127.128.1.0/24, ... on loopback, so every
/// address the sim gives a pod can be connected to from the machine it runs on, and no other.
pub fn pod_subnet(n: usize) -> std::net::Ipv4Addr {
    let n = n as u32 % (1 << 15);
    std::net::Ipv4Addr::from(0x7F80_0000 | (n << 8))
}

/// Host `host` of a pod subnet.
pub fn pod_ip(subnet: std::net::Ipv4Addr, host: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::from(subnet) | u32::from(host))
}

/// The seeds' lab's GPU nodes, sorted by name: each runs one simulated exporter.
pub const LAB_GPU_NODES: [&str; 5] = [
    "ai-gpu-flask2.novalocal",
    "node-105",
    "node-106",
    "node-109",
    "node-110",
];

fn gpu_uuid(node: &str, index: usize) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{node}/{index}").as_bytes());
    let x = super::pki::hex(&h);
    format!(
        "GPU-{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn gpus(node: &str, model: &GpuModel, count: usize) -> Vec<SimGpu> {
    (0..count)
        .map(|i| SimGpu {
            index: i,
            model: model.clone(),
            uuid: gpu_uuid(node, i),
            pci_bus_id: format!("00000000:{:02X}:00.0", 0x17 + i * 0x10),
        })
        .collect()
}

/// The name of a DaemonSet's pod on `node`: the DaemonSet's name and a suffix hashed from the
/// node's, 10 hex digits long so that 5,000 nodes do not share one (5 collide about 12 times).
pub fn daemon_pod_name(daemonset: &str, node: &str) -> String {
    use sha2::{Digest, Sha256};
    let suffix: String = super::pki::hex(&Sha256::digest(node.as_bytes()))
        .chars()
        .take(10)
        .collect();
    format!("{daemonset}-{suffix}")
}

/// Loopback address for the n-th GPU node's exporter (127.0.0.11, .12, ... then 127.0.1.x).
fn exporter_ip(n: usize) -> String {
    let n = n + 10;
    format!("127.0.{}.{}", n / 250, n % 250 + 1)
}

/// Gives each node its own pod subnet, in order.
fn numbered(mut nodes: Vec<NodeHardware>) -> Vec<NodeHardware> {
    for (n, node) in nodes.iter_mut().enumerate() {
        node.pod_subnet = pod_subnet(n);
    }
    nodes
}

/// The seeds' lab. Its 192.168.0.x addresses are shown as the nodes' InternalIPs, as in the seeds;
/// nothing connects to them.
pub fn seed_lab() -> Vec<NodeHardware> {
    let centos = |name: &str, ip: &str, n: usize| NodeHardware {
        name: name.into(),
        internal_ip: ip.into(),
        os_image: "CentOS Linux 7 (Core)".into(),
        kernel: "4.4.222-1.el7.elrepo.x86_64".into(),
        runtime: "docker://19.3.8".into(),
        driver: Some("440.64".into()),
        cpu: 16,
        memory_gib: 64,
        control_plane: false,
        gpus: gpus(name, &GTX_1080_TI, 1),
        exporter_ip: Some(exporter_ip(n)),
        pod_subnet: pod_subnet(0),
        device_plugin: true,
        clock_offset_seconds: 0,
    };
    numbered(vec![
        NodeHardware {
            name: "cluster-master".into(),
            internal_ip: "192.168.0.113".into(),
            os_image: "CentOS Linux 7 (Core)".into(),
            kernel: "4.4.222-1.el7.elrepo.x86_64".into(),
            runtime: "docker://19.3.8".into(),
            driver: None,
            cpu: 8,
            memory_gib: 16,
            control_plane: true,
            gpus: Vec::new(),
            exporter_ip: None,
            pod_subnet: pod_subnet(0),
            device_plugin: false,
            clock_offset_seconds: 0,
        },
        centos("node-110", "192.168.0.110", 0),
        // The doctor's finding: the device plugin is not running here.
        NodeHardware {
            device_plugin: false,
            ..centos("node-109", "192.168.0.109", 1)
        },
        centos("node-106", "192.168.0.106", 2),
        NodeHardware {
            os_image: "Ubuntu 18.04.4 LTS".into(),
            kernel: "5.3.0-28-generic".into(),
            ..centos("node-105", "192.168.0.105", 3)
        },
        NodeHardware {
            name: "ai-gpu-flask2.novalocal".into(),
            internal_ip: "192.168.0.120".into(),
            os_image: "CentOS Linux 7 (Core)".into(),
            kernel: "3.10.0-957.el7.x86_64".into(),
            runtime: "docker://19.3.8".into(),
            driver: Some("440.33.01".into()),
            cpu: 32,
            memory_gib: 128,
            control_plane: false,
            gpus: gpus("ai-gpu-flask2.novalocal", &TESLA_T4, 1),
            exporter_ip: Some(exporter_ip(4)),
            pod_subnet: pod_subnet(0),
            device_plugin: true,
            // The seeds' x509 trouble: this node's clock runs ahead.
            clock_offset_seconds: 95,
        },
    ])
}

/// A synthetic cluster: one control plane and `nodes` GPU nodes with `gpus_per_node` H100s each.
/// Their 10.0.x.x InternalIPs are only shown; nothing connects to them.
pub fn synthetic(nodes: usize, gpus_per_node: usize) -> Vec<NodeHardware> {
    let mut out = vec![NodeHardware {
        name: "control-plane".into(),
        internal_ip: "10.0.0.2".into(),
        os_image: "Ubuntu 22.04.4 LTS".into(),
        kernel: "5.15.0-113-generic".into(),
        runtime: "containerd://1.7.20".into(),
        driver: None,
        cpu: 16,
        memory_gib: 64,
        control_plane: true,
        gpus: Vec::new(),
        exporter_ip: None,
        pod_subnet: pod_subnet(0),
        device_plugin: false,
        clock_offset_seconds: 0,
    }];
    for i in 0..nodes {
        let name = format!("gpu-node-{:04}", i + 1);
        out.push(NodeHardware {
            internal_ip: format!("10.0.{}.{}", 1 + i / 250, 10 + i % 250),
            os_image: "Ubuntu 22.04.4 LTS".into(),
            kernel: "5.15.0-113-generic".into(),
            runtime: "containerd://1.7.20".into(),
            driver: Some("550.90.07".into()),
            cpu: 192,
            memory_gib: 2048,
            control_plane: false,
            gpus: gpus(&name, &H100, gpus_per_node),
            exporter_ip: (gpus_per_node > 0).then(|| exporter_ip(i)),
            pod_subnet: pod_subnet(0),
            device_plugin: gpus_per_node > 0,
            clock_offset_seconds: 0,
            name,
        });
    }
    numbered(out)
}

/// The NVIDIA device plugin's DaemonSet, as the seeds deploy it, and its running pod on every GPU
/// node that has one.
pub fn device_plugin(hardware: &[NodeHardware]) -> Vec<Value> {
    const NAME: &str = "nvidia-device-plugin-daemonset";
    let labels = json!({"name": "nvidia-device-plugin-ds"});
    let running: Vec<&NodeHardware> = hardware.iter().filter(|h| h.device_plugin).collect();
    let n = running.len();
    let mut out = vec![json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "nvidia-device-plugin-ctr", "image": "nvidia/k8s-device-plugin:1.0.0-beta4"}]}},
        },
        "status": {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n, "numberReady": n, "numberMisscheduled": 0, "updatedNumberScheduled": n},
    })];
    for hw in running {
        let ip = pod_ip(hw.pod_subnet, 251).to_string();
        out.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": daemon_pod_name(NAME, &hw.name), "namespace": "kube-system", "labels": labels},
            "spec": {
                "nodeName": hw.name,
                "containers": [{"name": "nvidia-device-plugin-ctr", "image": "nvidia/k8s-device-plugin:1.0.0-beta4"}],
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
            "status": {
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": hw.internal_ip, "qosClass": "BestEffort",
                "conditions": [
                    {"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"},
                ],
                "containerStatuses": [{"name": "nvidia-device-plugin-ctr", "ready": true, "started": true, "restartCount": 0, "image": "nvidia/k8s-device-plugin:1.0.0-beta4", "imageID": "", "state": {}}],
            },
        }));
    }
    out
}

/// The Node object for a machine.
pub fn node_object(hw: &NodeHardware) -> Value {
    let mut labels = json!({
        "kubernetes.io/hostname": hw.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
    });
    let mut taints = Vec::new();
    if hw.control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
        taints
            .push(json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}));
    }
    let mut capacity = json!({
        "cpu": hw.cpu.to_string(), "memory": format!("{}Ki", hw.memory_gib * 1024 * 1024),
        "pods": "110", "ephemeral-storage": "102350Mi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
    });
    let mut allocatable = capacity.clone();
    allocatable["memory"] = json!(format!("{}Ki", hw.memory_gib * 1024 * 1024 - 102_400));
    if let Some(first) = hw.gpus.first() {
        let n = hw.gpus.len().to_string();
        capacity["nvidia.com/gpu"] = json!(n);
        allocatable["nvidia.com/gpu"] = json!(n);
        labels["nvidia.com/gpu.present"] = json!("true");
        labels["nvidia.com/gpu.count"] = json!(n);
        labels["nvidia.com/gpu.product"] = json!(first.model.name.replace(' ', "-"));
        labels["nvidia.com/gpu.memory"] = json!(first.model.memory_mib.to_string());
        if let Some(d) = &hw.driver {
            labels["nvidia.com/cuda.driver.major"] = json!(d.split('.').next().unwrap_or(""));
        }
    }
    let now = super::store::now_rfc3339();
    let cond = |t: &str, status: &str, reason: &str, msg: &str| json!({"type": t, "status": status, "reason": reason, "message": msg, "lastHeartbeatTime": now, "lastTransitionTime": now});
    let mut node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": hw.name, "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": format!("{}/24", hw.pod_subnet)},
        "status": {
            "capacity": capacity, "allocatable": allocatable,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": hw.internal_ip}, {"type": "Hostname", "address": hw.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": super::pki::hex(&sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(hw.name.as_bytes())))[..32],
                "systemUUID": gpu_uuid(&hw.name, 999).trim_start_matches("GPU-"),
                "bootID": gpu_uuid(&hw.name, 998).trim_start_matches("GPU-"),
                "kernelVersion": hw.kernel, "osImage": hw.os_image, "containerRuntimeVersion": hw.runtime,
                "kubeletVersion": super::discovery::KUBE_VERSION, "kubeProxyVersion": "",
                "operatingSystem": "linux", "architecture": "amd64",
            },
        }
    });
    if !taints.is_empty() {
        node["spec"]["taints"] = json!(taints);
    }
    node
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}, "rules": rules})
}

pub fn cluster_role_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
           "subjects": subjects})
}

const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The default cluster roles (the aggregated ones written out) and their bindings.
pub fn rbac_defaults() -> Vec<Value> {
    let view_rules = json!([
        {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "configmaps", "events", "namespaces", "namespaces/status",
            "services", "services/status", "serviceaccounts", "persistentvolumeclaims", "replicationcontrollers", "endpoints", "limitranges", "resourcequotas"], "verbs": READ},
        {"apiGroups": ["batch"], "resources": ["jobs", "jobs/status", "cronjobs"], "verbs": READ},
        {"apiGroups": ["apps"], "resources": ["deployments", "daemonsets", "replicasets", "statefulsets"], "verbs": READ},
    ]);
    let edit_rules = json!([
        {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "configmaps", "events", "secrets", "services", "serviceaccounts",
            "persistentvolumeclaims", "replicationcontrollers", "endpoints"], "verbs": WRITE},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": WRITE},
        {"apiGroups": ["apps"], "resources": ["deployments", "daemonsets", "replicasets", "statefulsets"], "verbs": WRITE},
    ]);
    let mut admin_rules = edit_rules.as_array().cloned().unwrap_or_default();
    admin_rules.push(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": WRITE}));
    admin_rules.push(json!({"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]}));
    let review_rules = json!([
        {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
    ]);
    let authenticated = json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]);
    let everyone = json!([
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"},
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}
    ]);
    vec![
        cluster_role(
            "cluster-admin",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        ),
        cluster_role("admin", json!(admin_rules)),
        cluster_role("edit", edit_rules),
        cluster_role("view", view_rules),
        cluster_role("system:basic-user", review_rules),
        cluster_role(
            "system:discovery",
            json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        ),
        cluster_role(
            "system:public-info-viewer",
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        ),
        cluster_role(
            "kubeadm:get-nodes",
            json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
        ),
        cluster_role_binding(
            "cluster-admin",
            "cluster-admin",
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]),
        ),
        cluster_role_binding(
            "system:basic-user",
            "system:basic-user",
            authenticated.clone(),
        ),
        cluster_role_binding("system:discovery", "system:discovery", authenticated),
        cluster_role_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            everyone,
        ),
        cluster_role_binding(
            "kubeadm:get-nodes",
            "kubeadm:get-nodes",
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:bootstrappers:kubeadm:default-node-token"}]),
        ),
        cluster_role_binding(
            "gpuboard-sim:viewer",
            "view",
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]),
        ),
        cluster_role_binding(
            "gpuboard-sim:viewer-nodes",
            "kubeadm:get-nodes",
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]),
        ),
        cluster_role_binding(
            "dashboard-admin",
            "cluster-admin",
            json!([{"kind": "ServiceAccount", "name": "dashboard-admin", "namespace": "kube-system"}]),
        ),
    ]
}

/// Namespaces, kube-public's cluster-info (readable by anyone), the runtime class, the
/// dashboard-admin service account and a default bootstrap token.
pub fn cluster_objects(ca: &ClusterCa, api_endpoint: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    out.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
                    "data": {"kubeconfig": ca.cluster_info_kubeconfig(api_endpoint)}}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo", "namespace": "kube-public"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}]}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo", "namespace": "kube-public"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubeadm:bootstrap-signer-clusterinfo"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}]}));
    out.push(json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"}));
    out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "dashboard-admin", "namespace": "kube-system"}}));
    out.extend(research_namespace());
    out.push(bootstrap_token_secret(
        &random_token_part(6),
        &random_token_part(16),
        Some(86400),
        "The default bootstrap token generated by 'kubeadm init'.",
    ));
    out
}

/// Namespace `ai` as the seeds' pod-factory uses it: a GPU quota of 2, a data volume, the
/// researcher's edit rights; and two PriorityClasses the scheduler orders by.
fn research_namespace() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ai"}}),
        json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "gpu-quota", "namespace": "ai"},
               "spec": {"hard": {"requests.nvidia.com/gpu": "2"}}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ai-data", "namespace": "ai"},
               "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "100Gi"}}}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "researcher-edit", "namespace": "ai"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "researcher"}]}),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high-priority"},
               "value": 1000, "preemptionPolicy": "Never", "description": "Deadline work: scheduled before the rest."}),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "low-priority"},
               "value": -10, "preemptionPolicy": "Never", "description": "Batch work that may wait."}),
    ]
}

/// `[a-z0-9]{n}` drawn as kubeadm draws it (rejection sampling over a CSPRNG).
pub fn random_token_part(n: usize) -> String {
    use rand::RngCore;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(n);
    let mut rng = rand::rng();
    while out.len() < n {
        let b = (rng.next_u32() & 0xff) as u8;
        if b < 252 {
            out.push(ALPHABET[usize::from(b) % 36] as char);
        }
    }
    out
}

/// A kubeadm bootstrap-token Secret (`ttl_seconds` None never expires).
pub fn bootstrap_token_secret(
    id: &str,
    secret: &str,
    ttl_seconds: Option<i64>,
    description: &str,
) -> Value {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut data = json!({
        "token-id": b64(id), "token-secret": b64(secret),
        "usage-bootstrap-authentication": b64("true"), "usage-bootstrap-signing": b64("true"),
        "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token"),
    });
    if let Some(ttl) = ttl_seconds {
        let exp = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(ttl);
        data["expiration"] = json!(b64(&exp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    if !description.is_empty() {
        data["description"] = json!(b64(description));
    }
    json!({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
           "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"}, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_has_six_nodes_and_five_gpus() {
        let lab = seed_lab();
        assert_eq!(lab.len(), 6);
        assert_eq!(lab.iter().map(|n| n.gpus.len()).sum::<usize>(), 5);
        let n105 = lab.iter().find(|n| n.name == "node-105").unwrap();
        assert!(n105.kernel.starts_with("5.3"));
        let node = node_object(&lab[1]);
        assert_eq!(node["status"]["allocatable"]["nvidia.com/gpu"], "1");
        let mut gpu_nodes: Vec<&str> = lab
            .iter()
            .filter(|n| !n.gpus.is_empty())
            .map(|n| n.name.as_str())
            .collect();
        gpu_nodes.sort();
        assert_eq!(gpu_nodes, LAB_GPU_NODES);
    }

    #[test]
    fn every_address_a_pod_or_exporter_gets_is_on_loopback_and_its_own() {
        let nodes = synthetic(600, 1);
        let mut seen = std::collections::HashSet::new();
        for node in &nodes {
            let subnet = node.pod_subnet;
            assert!(subnet.is_loopback(), "{subnet}");
            assert!(seen.insert(subnet), "{subnet} twice");
            assert!(pod_ip(subnet, 254).is_loopback());
            if let Some(ip) = &node.exporter_ip {
                let ip: std::net::Ipv4Addr = ip.parse().expect("an address");
                assert!(ip.is_loopback() && seen.insert(ip), "{ip}");
            }
        }
        assert_eq!(node_object(&nodes[3])["spec"]["podCIDR"], "127.128.3.0/24");
    }

    #[test]
    fn a_daemonsets_pods_have_names_of_their_own_on_5000_nodes() {
        let nodes = synthetic(5000, 1);
        let names: std::collections::HashSet<String> = nodes
            .iter()
            .map(|node| daemon_pod_name("gpuboard-exporter", &node.name))
            .collect();
        assert_eq!(names.len(), nodes.len());
    }

    #[test]
    fn token_parts_use_the_kubeadm_alphabet() {
        let t = random_token_part(16);
        assert_eq!(t.len(), 16);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(
            synthetic(3, 8).iter().map(|n| n.gpus.len()).sum::<usize>(),
            24
        );
    }
}
