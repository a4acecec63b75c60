//! The GPUs page: every GPU in the cluster with its latest sample and who uses it, sortable,
//! filterable (on the server, a page of rows at a time), exportable as CSV, updated live.

use leptos::prelude::*;

use crate::api::{GpuRow, list_gpus};
use crate::format::{gib, with_unit};
use crate::gpu_table::{GpuQuery, SortKey};
use crate::i18n::{Lang, t, tr, use_lang};

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
    let sort = RwSignal::new((SortKey::Node, false));
    let lang = use_lang();
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0usize);
    let query = move || {
        let (sort, descending) = sort.get();
        GpuQuery {
            filter: filter.get(),
            sort,
            descending,
            page: page.get(),
        }
    };
    let gpus = Resource::new(move || (query(), updates.get()), |(q, _)| list_gpus(q));
    let header = move |label: &'static str, key: SortKey| {
        super::sort_header(label, key, sort, key != SortKey::Node)
    };
    // A new order starts again at the first page.
    Effect::new(move |previous: Option<(SortKey, bool)>| {
        let now = sort.get();
        if previous.is_some_and(|p| p != now) {
            page.set(0);
        }
        now
    });
    view! {
        <section>
            <h1>{t("GPUs")}</h1>
            <div class="toolbar">
                <input type="search" placeholder=t("Filter by node, model, UUID or pod") data-testid="gpu-filter"
                    prop:value=move || filter.get() on:input=move |ev| { filter.set(event_target_value(&ev)); page.set(0); }/>
                <a href="/gpus.csv" download="gpus.csv" data-testid="gpu-csv">{t("Export CSV")}</a>
            </div>
            <Transition fallback=|| view! { <p class="loading">{t("Loading GPUs…")}</p> }>
                {move || gpus.get().map(|result| match result {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(p) => {
                        let (total, in_use) = (p.total, p.in_use);
                        let average = p.average_utilization_percent.unwrap_or(0.0);
                        let first = p.page * p.page_size;
                        let shown = format!("{}–{} / {}", (first + 1).min(p.matching), first + p.rows.len(), p.matching);
                        let (has_previous, has_next) = (p.page > 0, first + p.rows.len() < p.matching);
                        let current = p.page;
                        let rows = p.rows;
                        view! {
                            <p class="summary" data-testid="gpu-summary">
                                {move || summary(lang.get(), total, in_use, average)}
                            </p>
                            <div class="pager" data-testid="gpu-pager">
                                <button disabled=!has_previous on:click=move |_| page.set(current.saturating_sub(1))>"‹"</button>
                                <span>{shown}</span>
                                <button disabled=!has_next on:click=move |_| page.set(current + 1)>"›"</button>
                            </div>
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
                                        each=move || rows.clone()
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

    /// A row whose holders in namespaces the user may not list number `hidden`.
    fn row(node: &str, util: Option<f64>, pods: &[&str], hidden: usize) -> GpuRow {
        GpuRow {
            in_use: !pods.is_empty() || hidden > 0,
            hidden_pods: hidden,
            ..crate::gpu_table::test_row(node, util, pods)
        }
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
