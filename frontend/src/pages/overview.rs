//! The overview: nodes Ready, GPUs seen / allocatable / allocated / busy, average utilization, a
//! heat map with one cell per GPU (colour = utilization; hover for node, model, memory, pods),
//! and alerts. Refreshed while open.

use leptos::prelude::*;

use crate::api::{Alert, GpuRow, Overview, get_overview};
use crate::format::{age, gib, with_unit};
use crate::i18n::{Lang, t, use_lang};

/// The cell colour: light for idle, the accent's deep blue for fully busy.
fn cell_colour(utilization: Option<f64>) -> String {
    let u = utilization.unwrap_or(0.0).clamp(0.0, 100.0);
    format!("background: hsl(216, 70%, {:.0}%)", 93.0 - u * 0.55)
}

fn cell_title(r: &GpuRow) -> String {
    let memory = r.memory_used_bytes.map(gib).unwrap_or_else(|| "—".into());
    let mut title = format!(
        "{} · GPU {} · {}\n{} / {} · {} · {}",
        r.node,
        r.index,
        r.model,
        memory,
        gib(r.memory_total_bytes),
        with_unit(r.utilization_percent, "%"),
        with_unit(r.temperature_celsius, "°C")
    );
    for pod in &r.pods {
        title.push('\n');
        title.push_str(pod);
    }
    if r.hidden_pods > 0 {
        title.push_str(&format!("\n+{} pod(s)", r.hidden_pods));
    }
    if r.stale {
        title.push_str("\n(stale)");
    }
    title
}

fn alert_text(lang: Lang, alert: &Alert, now_ms: i64) -> String {
    match (lang, alert) {
        (Lang::En, Alert::NotReady { node }) => format!("{node} is NotReady"),
        (Lang::Zh, Alert::NotReady { node }) => format!("{node} 处于 NotReady 状态"),
        (
            Lang::En,
            Alert::StaleExporter {
                node,
                since_ms,
                error,
            },
        ) => match since_ms {
            Some(at) => format!(
                "{node}: the GPU exporter stopped answering {} ago ({error}); values shown are from then",
                age((now_ms - at) / 1000)
            ),
            None => format!("{node}: the GPU exporter has never answered ({error})"),
        },
        (
            Lang::Zh,
            Alert::StaleExporter {
                node,
                since_ms,
                error,
            },
        ) => match since_ms {
            Some(at) => format!(
                "{node}：GPU 采集器已 {} 未响应（{error}），显示的是当时的数据",
                age((now_ms - at) / 1000)
            ),
            None => format!("{node}：GPU 采集器从未响应（{error}）"),
        },
        (
            Lang::En,
            Alert::DeviceMismatch {
                node,
                allocatable,
                seen,
            },
        ) => format!(
            "{node}: the scheduler sees {allocatable} allocatable nvidia.com/gpu but the exporter sees {seen} GPU(s): is the NVIDIA device plugin running?"
        ),
        (
            Lang::Zh,
            Alert::DeviceMismatch {
                node,
                allocatable,
                seen,
            },
        ) => {
            format!(
                "{node}：调度器可分配 {allocatable} 个 nvidia.com/gpu，但采集器看到 {seen} 块 GPU：NVIDIA device plugin 是否在运行？"
            )
        }
    }
}

fn tiles(lang: Lang, o: &Overview) -> Vec<(String, String)> {
    let average = o
        .average_utilization_percent
        .map_or("—".to_string(), |a| format!("{a:.0} %"));
    let labels = match lang {
        Lang::En => [
            "Nodes Ready",
            "GPUs",
            "Allocated",
            "Busy",
            "Average utilization",
        ],
        Lang::Zh => ["就绪节点", "GPU 总数", "已分配", "繁忙", "平均利用率"],
    };
    vec![
        (
            labels[0].to_string(),
            format!("{}/{}", o.nodes_ready, o.nodes_total),
        ),
        (
            labels[1].to_string(),
            format!("{} ({} allocatable)", o.gpus_total, o.gpus_allocatable),
        ),
        (
            labels[2].to_string(),
            format!("{}/{}", o.gpus_allocated, o.gpus_allocatable),
        ),
        (
            labels[3].to_string(),
            format!("{} (≥ {:.0} %)", o.gpus_busy, o.busy_threshold_percent),
        ),
        (labels[4].to_string(), average),
    ]
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let overview = Resource::new(move || updates.get(), |_| get_overview());
    let lang = use_lang();
    view! {
        <section class="overview">
            <Transition fallback=|| view! { <p class="loading">{t("Loading GPUs…")}</p> }>
                {move || overview.get().map(|result| match result {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(o) => {
                        let now_ms = o.cells.iter().map(|c| c.sampled_at_ms).max().unwrap_or(0);
                        view! {
                            <div class="tiles" data-testid="overview-tiles">
                                {tiles(lang.get(), &o).into_iter().map(|(label, value)| view! {
                                    <div class="tile"><span class="label">{label}</span><span class="value">{value}</span></div>
                                }).collect_view()}
                            </div>
                            <div class="heatmap" data-testid="heatmap">
                                {o.cells.iter().map(|r| view! {
                                    <a class=if r.stale { "cell stale" } else { "cell" } href=format!("/nodes/{}", r.node)
                                        style=cell_colour(r.utilization_percent) title=cell_title(r) data-gpu=r.uuid.clone()></a>
                                }).collect_view()}
                            </div>
                            <ul class="alerts" data-testid="alerts">
                                {o.alerts.iter().map(|a| view! { <li class="alert">{alert_text(lang.get(), a, now_ms)}</li> }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busier_gpus_are_darker() {
        assert_eq!(cell_colour(Some(0.0)), "background: hsl(216, 70%, 93%)");
        assert_eq!(cell_colour(Some(100.0)), "background: hsl(216, 70%, 38%)");
        assert_eq!(cell_colour(None), cell_colour(Some(0.0)));
    }

    #[test]
    fn alerts_say_what_to_check() {
        let mismatch = Alert::DeviceMismatch {
            node: "n".into(),
            allocatable: 0,
            seen: 1,
        };
        assert!(alert_text(Lang::En, &mismatch, 0).contains("device plugin"));
        let stale = Alert::StaleExporter {
            node: "n".into(),
            since_ms: Some(0),
            error: "timeout".into(),
        };
        assert!(alert_text(Lang::En, &stale, 120_000).contains("2m ago"));
        assert!(alert_text(Lang::Zh, &stale, 120_000).contains("2m"));
    }
}
