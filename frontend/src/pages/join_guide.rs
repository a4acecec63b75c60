//! The steps that make a GPU node ready to join, beside the join command: the seeds' CentOS 7
//! steps (their commands, their pitfalls) and the same steps for Ubuntu, which the seeds do not
//! cover (marked as such on the page). Commands stay as typed; every other word is translated.

use leptos::prelude::*;

use crate::i18n::t;

/// The operating systems the guide covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    CentOs7,
    Ubuntu,
}

/// One step: what it is for, the commands, and the pitfall the seeds hit there (if any).
struct Step {
    title: &'static str,
    commands: &'static str,
    note: Option<&'static str>,
}

const CENTOS7: &[Step] = &[
    Step {
        title: "Install the NVIDIA driver (with the headers of the running kernel)",
        commands: "sudo yum install -y kernel-devel-$(uname -r) kernel-headers-$(uname -r) gcc dkms\nsudo yum -y install nvidia-driver-latest-dkms cuda-drivers\nnvidia-smi",
        note: Some(
            "\"Unable to find the kernel source tree\" means kernel-devel does not match the running kernel. Use the same kernel on every node: a node with another kernel failed to join.",
        ),
    },
    Step {
        title: "Blacklist nouveau and rebuild the initramfs, then reboot",
        commands: "echo -e \"blacklist nouveau\\noptions nouveau modeset=0\" | sudo tee /etc/modprobe.d/blacklist-nouveau.conf\nsudo dracut --force\nsudo reboot",
        note: None,
    },
    Step {
        title: "Install the NVIDIA container toolkit and make nvidia Docker's default runtime",
        commands: "distribution=$(. /etc/os-release;echo $ID$VERSION_ID)\ncurl -s -L https://nvidia.github.io/nvidia-docker/$distribution/nvidia-docker.repo | sudo tee /etc/yum.repos.d/nvidia-docker.repo\nsudo yum install -y nvidia-container-toolkit nvidia-container-runtime\n# /etc/docker/daemon.json\n{\"default-runtime\": \"nvidia\", \"exec-opts\": [\"native.cgroupdriver=systemd\"], \"runtimes\": {\"nvidia\": {\"path\": \"/usr/bin/nvidia-container-runtime\", \"runtimeArgs\": []}}}\nsudo systemctl restart docker",
        note: Some(
            "\"fork/exec /usr/bin/nvidia-container-runtime: no such file or directory\": install nvidia-container-runtime. Keep registry-mirrors in daemon.json if you had them.",
        ),
    },
    Step {
        title: "Use the systemd cgroup driver (kubeadm warns about cgroupfs)",
        commands: "docker info | grep Cgroup",
        note: None,
    },
    Step {
        title: "Synchronise the clock",
        commands: "sudo systemctl enable --now chronyd\ntimedatectl",
        note: Some(
            "A clock that differs from the control plane's makes the join fail with x509 certificate errors, even with a new token.",
        ),
    },
    Step {
        title: "Turn swap off, and SELinux and the firewall as the cluster needs",
        commands: "sudo swapoff -a\nsudo sed -i '/ swap / s/^\\(.*\\)$/#\\1/g' /etc/fstab\nsudo setenforce 0",
        note: None,
    },
    Step {
        title: "Let bridged traffic through iptables and forward IPv4",
        commands: "sudo modprobe br_netfilter\ncat <<EOF | sudo tee /etc/sysctl.d/k8s.conf\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\nEOF\nsudo sysctl --system",
        note: None,
    },
    Step {
        title: "Install kubelet, kubeadm and kubectl at the control plane's version, and start the kubelet",
        commands: "# add the Kubernetes yum repository of the control plane's minor version first (it excludes these packages)\nsudo yum install -y kubelet-<version> kubeadm-<version> kubectl-<version> --disableexcludes=kubernetes\nsudo systemctl enable --now kubelet",
        note: Some(
            "From Kubernetes 1.24 the kubelet no longer talks to Docker itself: with Docker, install cri-dockerd and add --cri-socket unix:///var/run/cri-dockerd.sock to the join command.",
        ),
    },
];

const UBUNTU: &[Step] = &[
    Step {
        title: "Install the NVIDIA driver",
        commands: "sudo apt-get update\nsudo ubuntu-drivers install\nnvidia-smi",
        note: Some("Use the same kernel on every node: a node with another kernel failed to join."),
    },
    Step {
        title: "Blacklist nouveau and rebuild the initramfs, then reboot",
        commands: "echo -e \"blacklist nouveau\\noptions nouveau modeset=0\" | sudo tee /etc/modprobe.d/blacklist-nouveau.conf\nsudo update-initramfs -u\nsudo reboot",
        note: None,
    },
    Step {
        title: "Install the NVIDIA container toolkit and make nvidia the default runtime",
        commands: "# add NVIDIA's apt repository for nvidia-container-toolkit first (see NVIDIA's install guide)\nsudo apt-get install -y nvidia-container-toolkit\nsudo nvidia-ctk runtime configure --runtime=containerd --set-as-default\nsudo systemctl restart containerd",
        note: Some("With Docker: --runtime=docker, then restart docker."),
    },
    Step {
        title: "Use the systemd cgroup driver",
        commands: "grep SystemdCgroup /etc/containerd/config.toml",
        note: None,
    },
    Step {
        title: "Synchronise the clock",
        commands: "sudo apt-get install -y chrony\ntimedatectl",
        note: Some(
            "A clock that differs from the control plane's makes the join fail with x509 certificate errors, even with a new token.",
        ),
    },
    Step {
        title: "Turn swap off",
        commands: "sudo swapoff -a\nsudo sed -i '/ swap / s/^\\(.*\\)$/#\\1/g' /etc/fstab",
        note: None,
    },
    Step {
        title: "Let bridged traffic through iptables and forward IPv4",
        commands: "sudo modprobe br_netfilter\ncat <<EOF | sudo tee /etc/sysctl.d/k8s.conf\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\nEOF\nsudo sysctl --system",
        note: None,
    },
    Step {
        title: "Install kubelet, kubeadm and kubectl at the control plane's version, and start the kubelet",
        commands: "# add the Kubernetes apt repository of the control plane's minor version first\nsudo apt-get install -y kubelet kubeadm kubectl\nsudo systemctl enable --now kubelet",
        note: None,
    },
];

/// After the join: what makes the node's GPUs schedulable and visible.
const AFTER_JOIN: &[Step] = &[
    Step {
        title: "Run the join command above on the node, as root",
        commands: "sudo kubeadm join …",
        note: Some(
            "If the node stays NotReady pulling the pause image: pre-pull it, then kubeadm reset on the node, kubectl delete node on the control plane, and join again.",
        ),
    },
    Step {
        title: "Deploy the NVIDIA device plugin (once per cluster), then check the node offers nvidia.com/gpu",
        commands: "kubectl create -f https://raw.githubusercontent.com/NVIDIA/k8s-device-plugin/v0.17.0/deployments/static/nvidia-device-plugin.yml\nkubectl describe node <node> | grep nvidia.com/gpu",
        note: None,
    },
    Step {
        title: "Label the node so gpuboard's exporter runs there",
        commands: "kubectl label node <node> nvidia.com/gpu.present=true",
        note: None,
    },
];

fn steps_view(steps: &'static [Step], first: usize) -> impl IntoView {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            view! {
                <li value=(first + i).to_string()>
                    <strong>{t(step.title)}</strong>
                    <pre>{step.commands}</pre>
                    {step.note.map(|note| view! { <p class="hint">{t(note)}</p> })}
                </li>
            }
        })
        .collect_view()
}

/// The guide, for the OS the reader picks.
#[component]
pub fn JoinGuide() -> impl IntoView {
    let os = RwSignal::new(Os::CentOs7);
    let before = move || match os.get() {
        Os::CentOs7 => CENTOS7,
        Os::Ubuntu => UBUNTU,
    };
    view! {
        <section class="guide" data-testid="join-guide">
            <h2>{t("Preparing a GPU node")}</h2>
            <p>
                <button data-testid="guide-centos" class:active=move || os.get() == Os::CentOs7
                    on:click=move |_| os.set(Os::CentOs7)>"CentOS 7"</button>
                " "
                <button data-testid="guide-ubuntu" class:active=move || os.get() == Os::Ubuntu
                    on:click=move |_| os.set(Os::Ubuntu)>"Ubuntu"</button>
            </p>
            {move || (os.get() == Os::Ubuntu).then(|| view! {
                <p class="hint">{t("The lab guides this page follows cover CentOS 7 only; these are the same steps with Ubuntu's tools.")}</p>
            })}
            <ol>
                {move || steps_view(before(), 1)}
                {move || steps_view(AFTER_JOIN, before().len() + 1)}
            </ol>
        </section>
    }
}
