//! The GPUs page: every GPU in the cluster with its latest sample and who uses it, sortable,
//! filterable (on the server, a page of rows at a time), exportable as CSV, updated live.

use leptos::prelude::*;

use crate::api::list_gpus;
use crate::contract::{GpuPage, GpuQuery, GpuRow, GpuSortKey};
use crate::format::{gib, with_unit};
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::{ErrorView, GpuFailedMark, Pager, TableBox, gpu_holders, sort_header};

fn summary(lang: Lang, page: &GpuPage) -> String {
    let average = with_unit(page.average_utilization_percent, "%");
    trf(
        lang,
        "{total} GPUs · {in_use} in use · {average} average utilization",
        &[
            ("total", &page.total),
            ("in_use", &page.in_use),
            ("average", &average),
        ],
    )
}

fn memory(row: &GpuRow) -> String {
    let used = row.memory_used_bytes.map_or_else(|| "—".to_string(), gib);
    format!("{used} / {}", gib(row.memory_total_bytes))
}

#[component]
fn GpuRowView(row: GpuRow) -> impl IntoView {
    let lang = use_lang();
    let util = row.utilization_percent.unwrap_or(0.0).clamp(0.0, 100.0);
    let bar = format!("width: {util:.0}%");
    let stale_note = row.stale.then_some(move || {
        format!(
            " {}",
            trf(
                lang.get(),
                "({what})",
                &[("what", &tr(lang.get(), "stale"))]
            )
        )
    });
    let holder = row.clone();
    view! {
        <tr data-gpu=row.uuid.clone() data-node=row.node.clone() class=if row.stale { "stale" } else { "" }>
            <td class="name"><a href=format!("/nodes/{}", row.node)>{row.node.clone()}</a>{stale_note}<GpuFailedMark failure=row.failure.clone()/></td>
            <td class="num">{row.index}</td>
            <td>{row.model.clone()}</td>
            <td class="mono">{row.uuid.clone()}</td>
            <td class="num">{memory(&row)}</td>
            <td class="num util" data-testid="gpu-util">
                <span class="bar"><span style=bar></span></span>
                {with_unit(row.utilization_percent, "%")}
            </td>
            <td class="num">{with_unit(row.temperature_celsius, "°C")}</td>
            <td class="num">{with_unit(row.power_watts, "W")}</td>
            <td data-testid="gpu-used-by">{move || gpu_holders(lang.get(), &holder)}</td>
        </tr>
    }
}

#[component]
fn GpusTable(rows: Vec<GpuRow>, sort: RwSignal<(GpuSortKey, bool)>) -> impl IntoView {
    let header = move |label: &'static str, key: GpuSortKey| {
        sort_header(label, key, sort, key != GpuSortKey::Node)
    };
    view! {
        <TableBox>
            <table class="grid" data-testid="gpus-table">
                <thead><tr>
                    {header("Node", GpuSortKey::Node)}
                    <th>"#"</th>
                    <th>{t("Model")}</th>
                    <th>{t("UUID")}</th>
                    {header("Memory", GpuSortKey::Memory)}
                    {header("Util", GpuSortKey::Utilization)}
                    {header("Temp", GpuSortKey::Temperature)}
                    {header("Power", GpuSortKey::Power)}
                    <th>{t("Used by")}</th>
                </tr></thead>
                <tbody>
                    <For
                        each=move || rows.clone()
                        key=|r| (r.uuid.clone(), r.sampled_at_ms, r.pods.clone())
                        children=|row| view! { <GpuRowView row/> }
                    />
                </tbody>
            </table>
        </TableBox>
    }
}

/// `/gpus`.
#[component]
pub fn GpusPage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let sort = RwSignal::new((GpuSortKey::Node, false));
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
    // A new order starts again at the first page.
    Effect::new(move |previous: Option<(GpuSortKey, bool)>| {
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
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(p) => {
                        let counts = p.clone();
                        view! {
                            <p class="summary" data-testid="gpu-summary">{move || summary(lang.get(), &counts)}</p>
                            <Pager page at=p.page size=p.page_size shown=p.rows.len() matching=p.matching testid="gpu-pager"/>
                            <GpusTable rows=p.rows sort/>
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
    fn the_summary_has_units_and_says_when_there_is_no_average() {
        let page = GpuPage {
            total: 5,
            in_use: 2,
            average_utilization_percent: Some(40.4),
            ..Default::default()
        };
        assert_eq!(
            summary(Lang::En, &page),
            "5 GPUs · 2 in use · 40 % average utilization"
        );
        let none = GpuPage {
            average_utilization_percent: None,
            ..page
        };
        assert_eq!(
            summary(Lang::Zh, &none),
            "共 5 块 GPU · 2 块使用中 · 平均利用率 —"
        );
    }
}
