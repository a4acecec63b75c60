//! The overview: nodes Ready, GPUs seen / allocatable / allocated / busy, average utilization,
//! beside them the GPU work (head of the queue, what runs), a heat map with one cell per GPU
//! sized to their count, or per node in large clusters (colour = utilization; pointing at a
//! cell shows its node, model, memory and pods, or a node's GPUs, busy count and average;
//! clicking opens the node), and alerts.
//! Refreshed while open.

use leptos::prelude::*;

use leptos_router::hooks::use_navigate;

use crate::api::get_overview;
use crate::contract::workloads::{Queue, QueueRow, WorkloadState};
use crate::contract::{Alert, HeatMap, Overview};
use crate::format::{age, with_unit};
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::queue::{summary, why_waiting};
use crate::pages::{ErrorView, doctor, exporter_error_text};

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
        Alert::PrometheusFailed { error } => trf(
            lang,
            "Asking Prometheus for the GPU samples failed ({error}): GPU numbers are from its last answer, if any, and nodes it never answered for show none",
            &[("error", error)],
        ),
        Alert::NotReady { node } => trf(lang, "{node} is NotReady", &[("node", node)]),
        Alert::StaleExporter {
            node,
            since_ms: Some(at),
            error,
        } => trf(
            lang,
            "{node}: the GPU exporter stopped answering {ago} ago ({error}); values shown are from then",
            &[
                ("node", node),
                ("ago", &age((now_ms - at) / 1000)),
                ("error", &exporter_error_text(lang, error)),
            ],
        ),
        Alert::StaleExporter {
            node,
            since_ms: None,
            error,
        } => trf(
            lang,
            "{node}: the GPU exporter has never answered ({error})",
            &[("node", node), ("error", &exporter_error_text(lang, error))],
        ),
        Alert::GpuFailed { node, index, error } => trf(
            lang,
            "{node}: GPU {index} fails ({error}); it has no numbers, so it is not counted as busy or in the average",
            &[("node", node), ("index", index), ("error", error)],
        ),
        Alert::DeviceMismatch {
            node,
            allocatable,
            seen,
        } => trf(
            lang,
            "{node}: the scheduler sees {allocatable} allocatable nvidia.com/gpu but the exporter sees {seen} GPU(s): is the NVIDIA device plugin running?",
            &[("node", node), ("allocatable", allocatable), ("seen", seen)],
        ),
        Alert::DoctorFails { node, checks } => {
            let failing: Vec<&str> = checks.iter().map(|c| doctor::title(lang, *c)).collect();
            trf(
                lang,
                "{node}: the doctor finds {checks} failing; its page says what to do",
                &[("node", node), ("checks", &failing.join(tr(lang, ", ")))],
            )
        }
    }
}

fn tiles(lang: Lang, o: &Overview) -> Vec<(&'static str, String)> {
    let ratio = |a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| format!("{a}/{b}");
    vec![
        (
            tr(lang, "Nodes Ready"),
            ratio(&o.nodes_ready, &o.nodes_total),
        ),
        (
            tr(lang, "GPU total"),
            trf(
                lang,
                "{total} ({allocatable} allocatable)",
                &[
                    ("total", &o.gpus_total),
                    ("allocatable", &o.gpus_allocatable),
                ],
            ),
        ),
        (
            tr(lang, "Allocated"),
            ratio(&o.gpus_allocated, &o.gpus_allocatable),
        ),
        (
            tr(lang, "Busy"),
            trf(
                lang,
                "{busy} (≥ {threshold} %)",
                &[
                    ("busy", &o.gpus_busy),
                    ("threshold", &o.busy_threshold_percent),
                ],
            ),
        ),
        (
            tr(lang, "Average utilization"),
            with_unit(o.average_utilization_percent, "%"),
        ),
    ]
}

/// The heat map, drawn as one SVG, with a line under it describing the GPU under the pointer.
/// `hovered` belongs to the page, so the cell pointed at stays described when fresh numbers
/// redraw the map (the pointer has not moved, so no new event says where it is).
#[component]
fn HeatMapView(heat: HeatMap, hovered: RwSignal<Option<usize>>) -> impl IntoView {
    let lang = use_lang();
    let navigate = use_navigate();
    let svg = heat.svg();
    let by_node = heat.is_by_node();
    let heat = StoredValue::new(heat);
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
                if by_node {
                    tr(
                        lang.get(),
                        "Point at a cell for its node; click it to open the node.",
                    )
                } else {
                    tr(
                        lang.get(),
                        "Point at a cell for its GPU; click it to open the node.",
                    )
                }
                .to_string()
            })
    };
    let scale = by_node.then_some(move || {
        trf(
            lang.get(),
            "One cell per node: the cluster has more than {max} GPUs.",
            &[("max", &HeatMap::MAX_GPU_CELLS)],
        )
    });
    view! {
        <div class="heatmap" data-testid="heatmap" role="img" aria-label=t("GPU heat map")
            inner_html=svg
            on:mouseover=move |ev| hovered.set(cell_at(&ev))
            on:mouseleave=move |_| hovered.set(None)
            on:click=open_node></div>
        <div class="heat-under">
            <p class="heat-detail" data-testid="heat-detail">{detail}</p>
            {scale.map(|scale| view! { <p class="heat-scale" data-testid="heat-scale">{scale}</p> })}
            <span class="heat-legend" aria-hidden="true">
                "0 %" <span class="heat-legend-scale" inner_html=crate::heatmap::legend_svg()></span> "100 %"
            </span>
        </div>
    }
}

/// The GPU work a lab admin checks first, beside the tiles: the head of the queue and what runs.
#[component]
fn WorkPanel(work: Queue) -> impl IntoView {
    let lang = use_lang();
    let counts = work.clone();
    let link = |row: &QueueRow| match (&row.name, row.kind) {
        (Some(name), Some(_)) => view! {
            <a href=format!("/workloads/{}/{name}", row.namespace)>{name.clone()}</a>
        }
        .into_any(),
        (Some(name), None) => view! { <span>{name.clone()}</span> }.into_any(),
        (None, _) => view! { <span>{t("(hidden)")}</span> }.into_any(),
    };
    let (waiting, running): (Vec<QueueRow>, Vec<QueueRow>) = work
        .rows
        .into_iter()
        .partition(|r| r.state == WorkloadState::Pending);
    let empty = waiting.is_empty() && running.is_empty();
    let gpus = move |n: u32| move || trf(lang.get(), "{n} GPU(s)", &[("n", &n)]);
    view! {
        <aside class="work" data-testid="overview-work">
            <h2><a href="/queue">{t("GPU work")}</a></h2>
            <p class="summary">{move || summary(lang.get(), &counts)}</p>
            {empty.then(|| view! {
                <p class="summary">{t("No GPU work is running or waiting.")}" "<a href="/submit">{t("Submit GPU work")}</a></p>
            })}
            {(!waiting.is_empty()).then(|| view! {
                <h3>{t("Head of the queue")}</h3>
                <table class="grid compact" data-testid="overview-waiting">
                    <tbody>
                        {waiting.iter().map(|r| {
                            let why = r.clone();
                            view! {
                                <tr>
                                    <td class="num">{r.position.map(|p| p.to_string()).unwrap_or_else(|| "—".into())}</td>
                                    <td class="name">{link(r)}<small class="raw">{r.namespace.clone()}</small></td>
                                    <td class="num">{gpus(r.gpus)}</td>
                                    <td class="reason">{move || why_waiting(lang.get(), &why)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any())}
            {(!running.is_empty()).then(|| view! {
                <h3>{t("Running")}</h3>
                <table class="grid compact" data-testid="overview-running">
                    <tbody>
                        {running.iter().map(|r| view! {
                            <tr>
                                <td class="name">{link(r)}<small class="raw">{r.namespace.clone()}</small></td>
                                <td class="num">{gpus(r.gpus)}</td>
                                <td class="mono">{r.node.clone().unwrap_or_default()}</td>
                                <td class="num">{with_unit(r.utilization, "%")}</td>
                                <td class="num">{age(r.age_seconds)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any())}
        </aside>
    }
    .into_any()
}

/// `/`.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let overview = Resource::new(move || updates.get(), |_| get_overview());
    let lang = use_lang();
    let hovered = RwSignal::new(None::<usize>);
    view! {
        <section class="overview">
            <Transition fallback=|| view! { <p class="loading">{t("Loading GPUs…")}</p> }>
                {move || overview.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(o) => {
                        let now_ms = o.sampled_at_ms;
                        let lang = lang.get();
                        let tiles = tiles(lang, &o);
                        // Moved out, not cloned: a large cluster's map is thousands of cells.
                        let Overview { heat, alerts, work, .. } = o;
                        view! {
                            <div class="overview-top">
                                <div class="tiles" data-testid="overview-tiles">
                                    {tiles.into_iter().map(|(label, value)| view! {
                                        <div class="tile"><span class="label">{label}</span><span class="value">{value}</span></div>
                                    }).collect_view()}
                                </div>
                                <WorkPanel work/>
                            </div>
                            <HeatMapView heat hovered/>
                            <ul class="alerts" data-testid="alerts">
                                {alerts.iter().map(|a| view! { <li class="alert">{alert_text(lang, a, now_ms)}</li> }).collect_view()}
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
        use crate::contract::ExporterError;
        let mismatch = Alert::DeviceMismatch {
            node: "n".into(),
            allocatable: 0,
            seen: 1,
        };
        assert!(alert_text(Lang::En, &mismatch, 0).contains("device plugin"));
        let stale = Alert::StaleExporter {
            node: "n".into(),
            since_ms: Some(0),
            error: ExporterError::Timeout { ms: 2000 },
        };
        assert_eq!(
            alert_text(Lang::En, &stale, 120_000),
            "n: the GPU exporter stopped answering 2m ago (the exporter did not answer within 2000 ms); values shown are from then"
        );
        assert!(alert_text(Lang::Zh, &stale, 120_000).contains("2m"));
        let never = Alert::StaleExporter {
            node: "n".into(),
            since_ms: None,
            error: ExporterError::Unreachable("refused".into()),
        };
        assert!(
            alert_text(Lang::En, &never, 0)
                .contains("never answered (cannot reach the exporter: refused)")
        );
        let prometheus = Alert::PrometheusFailed {
            error: "cannot connect: refused".into(),
        };
        assert!(
            alert_text(Lang::En, &prometheus, 0).starts_with(
                "Asking Prometheus for the GPU samples failed (cannot connect: refused)"
            )
        );
        assert!(
            alert_text(Lang::Zh, &prometheus, 0).starts_with("向 Prometheus 获取 GPU 样本失败")
        );
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
            work: Default::default(),
        };
        assert_eq!(tiles(Lang::En, &o)[1].1, "3 (4 allocatable)");
        assert_eq!(tiles(Lang::Zh, &o)[1].1, "3（可分配 4）");
        assert_eq!(tiles(Lang::Zh, &o)[0].0, "就绪节点");
        assert_eq!(tiles(Lang::En, &o)[4].1, "—");
    }
}
