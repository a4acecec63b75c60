//! The overview: nodes Ready, GPUs seen / allocatable / allocated / busy, average utilization, a
//! heat map with one cell per GPU (colour = utilization; pointing at a cell shows its node,
//! model, memory and pods; clicking opens the node), and alerts. Refreshed while open.

use leptos::prelude::*;

use leptos_router::hooks::use_navigate;

use crate::api::{Alert, Overview, get_overview};
use crate::format::age;
use crate::heatmap::HeatMap;
use crate::i18n::{Lang, t, tr, use_lang};

/// The heat-map cell under the pointer: its position, from the `data-i` the SVG carries.
fn cell_at(ev: &leptos::ev::MouseEvent) -> Option<usize> {
    use wasm_bindgen::JsCast;
    ev.target()?
        .dyn_into::<leptos::web_sys::Element>()
        .ok()?
        .get_attribute("data-i")?
        .parse()
        .ok()
}

fn alert_text(lang: Lang, alert: &Alert, now_ms: i64) -> String {
    match alert {
        Alert::NotReady { node } => match lang {
            Lang::En => format!("{node} is NotReady"),
            Lang::Zh => format!("{node} 处于 NotReady 状态"),
        },
        Alert::StaleExporter {
            node,
            since_ms: Some(at),
            error,
        } => {
            let ago = age((now_ms - at) / 1000);
            match lang {
                Lang::En => format!(
                    "{node}: the GPU exporter stopped answering {ago} ago ({error}); values shown are from then"
                ),
                Lang::Zh => {
                    format!("{node}：GPU 采集器已 {ago} 未响应（{error}），显示的是当时的数据")
                }
            }
        }
        Alert::StaleExporter {
            node,
            since_ms: None,
            error,
        } => match lang {
            Lang::En => format!("{node}: the GPU exporter has never answered ({error})"),
            Lang::Zh => format!("{node}：GPU 采集器从未响应（{error}）"),
        },
        Alert::DeviceMismatch {
            node,
            allocatable,
            seen,
        } => match lang {
            Lang::En => format!(
                "{node}: the scheduler sees {allocatable} allocatable nvidia.com/gpu but the exporter sees {seen} GPU(s): is the NVIDIA device plugin running?"
            ),
            Lang::Zh => format!(
                "{node}：调度器可分配 {allocatable} 个 nvidia.com/gpu，但采集器看到 {seen} 块 GPU：NVIDIA device plugin 是否在运行？"
            ),
        },
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
            format!(
                "{} ({} {})",
                o.gpus_total,
                o.gpus_allocatable,
                tr(lang, "allocatable")
            ),
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

/// The heat map, drawn as one SVG, with a line under it describing the GPU under the pointer.
#[component]
fn HeatMapView(heat: HeatMap) -> impl IntoView {
    let lang = use_lang();
    let navigate = use_navigate();
    let svg = heat.svg();
    let heat = StoredValue::new(heat);
    let hovered = RwSignal::new(None::<usize>);
    let open_node = move |ev: leptos::ev::MouseEvent| {
        let node =
            cell_at(&ev).and_then(|i| heat.with_value(|h| h.node_of(i).map(|n| n.name.clone())));
        if let Some(node) = node {
            navigate(&format!("/nodes/{node}"), Default::default());
        }
    };
    let detail = move || {
        hovered
            .get()
            .and_then(|i| heat.with_value(|h| h.describe(lang.get(), i)))
            .unwrap_or_else(|| {
                tr(
                    lang.get(),
                    "Point at a cell for its GPU; click it to open the node.",
                )
                .to_string()
            })
    };
    view! {
        <div class="heatmap" data-testid="heatmap" role="img" aria-label=t("GPU heat map")
            inner_html=svg
            on:mouseover=move |ev| hovered.set(cell_at(&ev))
            on:click=open_node></div>
        <div class="heat-under">
            <p class="heat-detail" data-testid="heat-detail">{detail}</p>
            <span class="heat-legend" aria-hidden="true">
                "0 %" <span class="heat-legend-scale" inner_html=crate::heatmap::legend_svg()></span> "100 %"
            </span>
        </div>
    }
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
                        let now_ms = o.sampled_at_ms;
                        view! {
                            <div class="tiles" data-testid="overview-tiles">
                                {tiles(lang.get(), &o).into_iter().map(|(label, value)| view! {
                                    <div class="tile"><span class="label">{label}</span><span class="value">{value}</span></div>
                                }).collect_view()}
                            </div>
                            <HeatMapView heat=o.heat.clone()/>
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
        let never = Alert::StaleExporter {
            node: "n".into(),
            since_ms: None,
            error: "refused".into(),
        };
        assert!(alert_text(Lang::En, &never, 0).contains("never answered (refused)"));
    }

    #[test]
    fn tiles_speak_the_pages_language() {
        let o = Overview {
            nodes_ready: 1,
            nodes_total: 2,
            gpus_total: 3,
            gpus_allocatable: 4,
            gpus_allocated: 0,
            gpus_busy: 0,
            busy_threshold_percent: 50.0,
            average_utilization_percent: None,
            sampled_at_ms: 0,
            heat: Default::default(),
            alerts: vec![],
        };
        assert_eq!(tiles(Lang::En, &o)[1].1, "3 (4 allocatable)");
        assert_eq!(tiles(Lang::Zh, &o)[1].1, "3 (4 可分配)");
    }
}
