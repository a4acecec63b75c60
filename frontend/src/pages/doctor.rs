//! The GPU-node doctor on a node's page: each check with its outcome, what was seen, and what to
//! do (the seeds' fixes), in the reader's language. [`title`] and [`advice`] are the API's words too.

use leptos::prelude::*;

use crate::contract::SampleSource;
use crate::contract::doctor::{CheckKind, CheckStatus, Diagnosis, Seen};
use crate::i18n::{Lang, t, tr, trf};
use crate::pages::exporter_error_text;

/// What a check looks at.
pub fn title(lang: Lang, kind: CheckKind) -> &'static str {
    tr(
        lang,
        match kind {
            CheckKind::Ready => "Node Ready",
            CheckKind::Pressure => "No memory, disk or PID pressure",
            CheckKind::Cordoned => "Schedulable (not cordoned)",
            CheckKind::DevicePlugin => "NVIDIA device plugin running on the node",
            CheckKind::GpusAllocatable => {
                "Allocatable nvidia.com/gpu equals the GPUs the exporter sees"
            }
            CheckKind::Exporter => "GPU exporter answering",
            CheckKind::Software => "Kernel, driver and OS like the other GPU nodes",
            CheckKind::Runtime => "Container runtime like the other GPU nodes",
            CheckKind::KubeletVersion => "Kubelet version within the control plane's skew policy",
            CheckKind::Taints => "No taints that GPU pods do not tolerate",
            CheckKind::Xid => "No Xid errors",
            CheckKind::Clock => "Clock in step with the API server",
        },
    )
}

/// What to do when a check does not pass.
pub fn advice(lang: Lang, kind: CheckKind) -> &'static str {
    tr(
        lang,
        match kind {
            CheckKind::Ready => {
                "Check the kubelet on the node: systemctl status kubelet; journalctl -u kubelet. A node that never became Ready after joining often lacks its network plugin's pod or could not pull the pause image."
            }
            CheckKind::Pressure => {
                "Free memory or disk on the node (images: docker system prune), or move work elsewhere."
            }
            CheckKind::Cordoned => "Run kubectl uncordon <node> when its maintenance is done.",
            CheckKind::DevicePlugin => {
                "Deploy the NVIDIA device plugin DaemonSet and check it tolerates the node's taints; on the node, nvidia must be the container runtime's default."
            }
            CheckKind::GpusAllocatable => {
                "The device plugin registers the GPUs: restart its pod on the node; if it logs no NVML, make nvidia the default runtime and restart the container runtime."
            }
            CheckKind::Exporter => {
                "Check the exporter pod on the node (gpuboard-exporter's or dcgm-exporter's, and its logs), that Prometheus scrapes it where Prometheus is the source, and that the node carries the label nvidia.com/gpu.present=true."
            }
            CheckKind::Software => {
                "Use the same kernel and driver on every GPU node: a node with another kernel failed to join and its network plugin failed."
            }
            CheckKind::Runtime => {
                "Use the same container runtime and version on every GPU node, with nvidia as its default runtime."
            }
            CheckKind::KubeletVersion => {
                "Upgrade the kubelet to the control plane's minor version (a kubelet may not be newer than the API server)."
            }
            CheckKind::Taints => {
                "Remove the taint (kubectl taint node <node> key-) or add a matching toleration to GPU pods."
            }
            CheckKind::Xid => {
                "Xid 48, 63, 64, 74, 79, 94 and 95 mean the GPU or its link failed: drain the node, reset the GPU or reboot, and check nvidia-smi -q."
            }
            CheckKind::Clock => {
                "Synchronise the node's clock (chronyd). A clock out of step makes joins fail with x509 certificate errors and heartbeats look late."
            }
        },
    )
}

/// What a check saw, in `lang` (the cluster's own words stay as they are).
pub fn seen_text(lang: Lang, seen: &Seen) -> String {
    match seen {
        Seen::Text { text } => text.clone(),
        Seen::Nothing => tr(lang, "none").into(),
        Seen::NoReadyCondition => tr(lang, "no Ready condition").into(),
        Seen::Schedulable => tr(lang, "schedulable").into(),
        Seen::NoDevicePlugin => tr(lang, "no nvidia-device-plugin pod on this node").into(),
        Seen::Allocatable {
            allocatable,
            seen: Some(seen),
        } => trf(
            lang,
            "nvidia.com/gpu {allocatable}; exporter sees {seen}",
            &[("allocatable", allocatable), ("seen", seen)],
        ),
        Seen::Allocatable {
            allocatable,
            seen: None,
        } => trf(
            lang,
            "nvidia.com/gpu {allocatable}; the exporter has not reported",
            &[("allocatable", allocatable)],
        ),
        Seen::NoSamples { source } => tr(
            lang,
            match source {
                SampleSource::GpuboardExporter => "no gpuboard-exporter pod on this node",
                SampleSource::DcgmExporter => {
                    "no running dcgm-exporter pod on this node at --dcgm-exporter-port"
                }
                SampleSource::Prometheus => "Prometheus has no series of this node",
            },
        )
        .into(),
        Seen::ExporterFailed { error } => exporter_error_text(lang, error),
        Seen::Gpus { count } => trf(lang, "{count} GPU(s)", &[("count", count)]),
        Seen::Software { kernel, driver, os } => trf(
            lang,
            "kernel {kernel}, driver {driver}, {os}",
            &[("kernel", kernel), ("driver", driver), ("os", os)],
        ),
        Seen::Kubelet {
            kubelet,
            control_plane: Some(cp),
        } => trf(
            lang,
            "kubelet {kubelet}, control plane {cp}",
            &[("kubelet", kubelet), ("cp", cp)],
        ),
        Seen::Kubelet {
            kubelet,
            control_plane: None,
        } => trf(
            lang,
            "kubelet {kubelet}; control plane version unknown",
            &[("kubelet", kubelet)],
        ),
        Seen::NoExporterData => tr(lang, "no exporter data").into(),
        Seen::NoLease => tr(lang, "no Lease in kube-node-lease").into(),
        Seen::Ahead { seconds } => trf(
            lang,
            "heartbeat {seconds} s ahead of the API server",
            &[("seconds", seconds)],
        ),
        Seen::Late { seconds } => trf(
            lang,
            "last heartbeat {seconds} s ago",
            &[("seconds", seconds)],
        ),
        Seen::InStep => tr(lang, "in step").into(),
    }
}

/// The outcome, in words.
pub fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "fail",
    }
}

fn status_class(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "ok",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "bad",
    }
}

/// A node's checks, as a table.
#[component]
pub fn DoctorView(diagnosis: Diagnosis) -> impl IntoView {
    let lang = crate::i18n::use_lang();
    let rows = diagnosis
        .checks
        .into_iter()
        .map(|c| {
            let kind: &'static str = c.check.into();
            view! {
                <tr data-check=kind data-status=status_word(c.status)>
                    <td class=status_class(c.status)>{t(status_word(c.status))}</td>
                    <td>{move || title(lang.get(), c.check)}</td>
                    <td>{move || seen_text(lang.get(), &c.seen)}</td>
                    <td class="wrap">{(c.status != CheckStatus::Pass).then_some(move || advice(lang.get(), c.check))}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section data-testid="doctor">
            <h2>{t("Doctor")}</h2>
            <table class="grid">
                <thead><tr>
                    <th>{t("Result")}</th><th>{t("Check")}</th><th>{t("Seen")}</th><th>{t("What to do")}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn every_check_has_a_title_and_advice_in_both_languages() {
        for kind in CheckKind::VARIANTS {
            for lang in [Lang::En, Lang::Zh] {
                assert!(!title(lang, *kind).is_empty());
                assert!(!advice(lang, *kind).is_empty());
            }
            assert_ne!(title(Lang::En, *kind), title(Lang::Zh, *kind), "{kind:?}");
            assert_ne!(advice(Lang::En, *kind), advice(Lang::Zh, *kind), "{kind:?}");
        }
    }
}
