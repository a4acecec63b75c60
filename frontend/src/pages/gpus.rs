//! The GPUs page: every GPU in the cluster with its latest sample and who uses it, sortable,
//! filterable, exportable as CSV, refreshed while open.

use leptos::prelude::*;

use crate::api::{GpuRow, list_gpus};
use crate::format::{gib, with_unit};
use crate::i18n::{Lang, t, tr, use_lang};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Node,
    Utilization,
    Memory,
    Temperature,
    Power,
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

fn sorted(mut rows: Vec<GpuRow>, key: SortKey, descending: bool) -> Vec<GpuRow> {
    rows.sort_by(|a, b| {
        let by_place = a.node.cmp(&b.node).then(a.index.cmp(&b.index));
        let ord = match key {
            SortKey::Node => by_place,
            SortKey::Utilization => {
                cmp_opt(a.utilization_percent, b.utilization_percent).then(by_place)
            }
            SortKey::Memory => a.memory_used_bytes.cmp(&b.memory_used_bytes).then(by_place),
            SortKey::Temperature => {
                cmp_opt(a.temperature_celsius, b.temperature_celsius).then(by_place)
            }
            SortKey::Power => cmp_opt(a.power_watts, b.power_watts).then(by_place),
        };
        if descending { ord.reverse() } else { ord }
    });
    rows
}

/// Whether a row matches the filter text (node, model, UUID or pod, case-insensitive).
fn matches(row: &GpuRow, filter: &str) -> bool {
    let f = filter.trim().to_lowercase();
    f.is_empty()
        || row.node.to_lowercase().contains(&f)
        || row.model.to_lowercase().contains(&f)
        || row.uuid.to_lowercase().contains(&f)
        || row.pods.iter().any(|p| p.to_lowercase().contains(&f))
}

fn used_by(lang: Lang, row: &GpuRow) -> String {
    let mut parts = row.pods.clone();
    if row.hidden_pods > 0 {
        parts.push(match lang {
            Lang::En => format!("{} pod(s) you may not see", row.hidden_pods),
            Lang::Zh => format!("{} 个您无权查看的 Pod", row.hidden_pods),
        });
    }
    match (row.in_use, parts.is_empty()) {
        (false, _) => tr(lang, "idle").into(),
        (true, true) => tr(lang, "in use").into(),
        (true, false) => parts.join(", "),
    }
}

fn summary(lang: Lang, total: usize, in_use: usize, average: f64) -> String {
    match lang {
        Lang::En => format!("{total} GPUs · {in_use} in use · {average:.0}% average utilization"),
        Lang::Zh => format!("共 {total} 块 GPU · {in_use} 块使用中 · 平均利用率 {average:.0}%"),
    }
}

#[component]
pub fn GpusPage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let gpus = Resource::new(move || updates.get(), |_| list_gpus());
    let sort = RwSignal::new((SortKey::Node, false));
    let lang = use_lang();
    let filter = RwSignal::new(String::new());
    let header = move |label: &'static str, key: SortKey| {
        let arrow = move || match sort.get() {
            (k, false) if k == key => " ▲",
            (k, true) if k == key => " ▼",
            _ => "",
        };
        view! {
            <th class="sortable" on:click=move |_| sort.update(|(k, d)| { if *k == key { *d = !*d } else { *k = key; *d = key != SortKey::Node } })>
                {move || tr(lang.get(), label)}{arrow}
            </th>
        }
    };
    view! {
        <section>
            <h1>{t("GPUs")}</h1>
            <div class="toolbar">
                <input type="search" placeholder=t("Filter by node, model, UUID or pod") data-testid="gpu-filter"
                    prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
                <a href="/gpus.csv" download="gpus.csv" data-testid="gpu-csv">{t("Export CSV")}</a>
            </div>
            <Transition fallback=|| view! { <p class="loading">{t("Loading GPUs…")}</p> }>
                {move || gpus.get().map(|result| match result {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(rows) => {
                        let total = rows.len();
                        let in_use = rows.iter().filter(|r| r.in_use).count();
                        let utils: Vec<f64> = rows.iter().filter_map(|r| r.utilization_percent).collect();
                        let average = if utils.is_empty() { 0.0 } else { utils.iter().sum::<f64>() / utils.len() as f64 };
                        view! {
                            <p class="summary" data-testid="gpu-summary">
                                {move || summary(lang.get(), total, in_use, average)}
                            </p>
                            <table class="grid" data-testid="gpus-table">
                                <thead><tr>
                                    {header("Node", SortKey::Node)}
                                    <th>"#"</th>
                                    <th>{t("Model")}</th>
                                    <th>{t("UUID")}</th>
                                    {header("Memory", SortKey::Memory)}
                                    {header("Util", SortKey::Utilization)}
                                    {header("Temp", SortKey::Temperature)}
                                    {header("Power", SortKey::Power)}
                                    <th>{t("Used by")}</th>
                                </tr></thead>
                                <tbody>
                                    <For
                                        each=move || {
                                            let (k, d) = sort.get();
                                            let f = filter.get();
                                            sorted(rows.iter().filter(|r| matches(r, &f)).cloned().collect(), k, d)
                                        }
                                        key=|r| (r.uuid.clone(), r.sampled_at_ms, r.pods.clone())
                                        children=move |r| {
                                            let memory = match r.memory_used_bytes {
                                                Some(used) => format!("{} / {}", gib(used), gib(r.memory_total_bytes)),
                                                None => format!("— / {}", gib(r.memory_total_bytes)),
                                            };
                                            let util = r.utilization_percent.unwrap_or(0.0).clamp(0.0, 100.0);
                                            let bar = format!("width: {util:.0}%");
                                            let class = if r.stale { "stale" } else { "" };
                                            let stale_note = r.stale.then_some(move || format!(" ({})", tr(lang.get(), "stale")));
                                            let holder = r.clone();
                                            view! {
                                                <tr data-gpu=r.uuid.clone() data-node=r.node.clone() class=class>
                                                    <td class="name"><a href=format!("/nodes/{}", r.node)>{r.node.clone()}</a>{stale_note}</td>
                                                    <td class="num">{r.index}</td>
                                                    <td>{r.model.clone()}</td>
                                                    <td class="mono">{r.uuid.clone()}</td>
                                                    <td class="num">{memory}</td>
                                                    <td class="num util" data-testid="gpu-util">
                                                        <span class="bar"><span style=bar></span></span>
                                                        {with_unit(r.utilization_percent, "%")}
                                                    </td>
                                                    <td class="num">{with_unit(r.temperature_celsius, "°C")}</td>
                                                    <td class="num">{with_unit(r.power_watts, "W")}</td>
                                                    <td data-testid="gpu-used-by">{move || used_by(lang.get(), &holder)}</td>
                                                </tr>
                                            }
                                        }
                                    />
                                </tbody>
                            </table>
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

    fn row(node: &str, util: Option<f64>, pods: &[&str], hidden: usize) -> GpuRow {
        GpuRow {
            node: node.into(),
            index: 0,
            model: "Tesla T4".into(),
            uuid: format!("GPU-{node}"),
            memory_total_bytes: 1 << 34,
            memory_used_bytes: None,
            utilization_percent: util,
            temperature_celsius: None,
            power_watts: None,
            in_use: !pods.is_empty() || hidden > 0,
            pods: pods.iter().map(|p| p.to_string()).collect(),
            hidden_pods: hidden,
            stale: false,
            sampled_at_ms: 0,
        }
    }

    #[test]
    fn sorts_by_utilization_with_missing_values_last_when_descending() {
        let rows = vec![
            row("a", Some(10.0), &[], 0),
            row("b", None, &[], 0),
            row("c", Some(90.0), &[], 0),
        ];
        let order: Vec<String> = sorted(rows, SortKey::Utilization, true)
            .into_iter()
            .map(|r| r.node)
            .collect();
        assert_eq!(order, ["c", "a", "b"]);
    }

    #[test]
    fn filters_on_node_model_uuid_and_pod() {
        let r = row("node-110", None, &["team-a/train"], 0);
        assert!(
            matches(&r, "NODE-110") && matches(&r, "t4") && matches(&r, "train") && matches(&r, "")
        );
        assert!(!matches(&r, "node-109"));
    }

    #[test]
    fn used_by_says_in_use_even_when_the_pod_is_hidden() {
        assert_eq!(used_by(Lang::En, &row("a", None, &[], 0)), "idle");
        assert_eq!(used_by(Lang::Zh, &row("a", None, &[], 0)), "空闲");
        assert_eq!(
            used_by(Lang::En, &row("a", None, &[], 1)),
            "1 pod(s) you may not see"
        );
        assert_eq!(
            used_by(Lang::Zh, &row("a", None, &[], 1)),
            "1 个您无权查看的 Pod"
        );
        assert_eq!(
            used_by(Lang::En, &row("a", None, &["team-a/train"], 0)),
            "team-a/train"
        );
    }
}
