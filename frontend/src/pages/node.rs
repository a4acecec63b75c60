//! A node's page: a card per GPU with utilization, memory, temperature and power now and as
//! charts over the last hour, day or week (`?range=`; server-rendered SVG), the node's pods with
//! their GPU requests, its conditions, taints and labels. Refreshed while open.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::get_node_detail;
use crate::contract::{ExporterError, GpuCard, HistoryPoint, HistoryRange, NodeDetail};
use crate::format::{gib, with_unit};
use crate::i18n::{t, tr, trf, use_lang};
use crate::pages::doctor::DoctorView;
use crate::pages::{ErrorView, GpuFailedMark, TableBox, exporter_error_text, gpu_holders};

const CHART_W: f64 = 240.0;
const CHART_H: f64 = 56.0;

/// SVG polyline points for `values` over `times`, scaled to the chart and to `max`.
fn polyline(times: &[i64], values: &[Option<f64>], max: f64) -> String {
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return String::new();
    };
    let span = (last - first).max(1) as f64;
    let max = if max > 0.0 { max } else { 1.0 };
    times
        .iter()
        .zip(values)
        .filter_map(|(t, v)| {
            let v = (*v)?;
            let x = if times.len() == 1 {
                CHART_W
            } else {
                (t - first) as f64 / span * CHART_W
            };
            let y = CHART_H - (v.clamp(0.0, max) / max) * (CHART_H - 2.0) - 1.0;
            Some(format!("{x:.1},{y:.1}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A small line chart of one field over the history, with its latest value.
#[component]
fn Chart(
    title: &'static str,
    unit: &'static str,
    times: Vec<i64>,
    values: Vec<Option<f64>>,
    max: f64,
) -> impl IntoView {
    let lang = use_lang();
    let latest = values.iter().rev().find_map(|v| *v);
    let points = polyline(&times, &values, max);
    let seconds = match (times.first(), times.last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let span = move || span_text(lang.get(), seconds);
    view! {
        <figure class="chart" data-testid="gpu-chart">
            <figcaption>{t(title)}" "<strong>{with_unit(latest, unit)}</strong></figcaption>
            <svg viewBox=format!("0 0 {CHART_W} {CHART_H}") width=CHART_W height=CHART_H role="img">
                <line x1="0" y1=CHART_H x2=CHART_W y2=CHART_H class="axis"/>
                <polyline points=points class="series"/>
            </svg>
            <span class="span">{span}</span>
        </figure>
    }
}

/// How long a chart's history reaches back: minutes up to two hours, hours up to two days, then
/// days.
fn span_text(lang: crate::i18n::Lang, seconds: i64) -> String {
    let minutes = seconds / 60;
    if minutes < 120 {
        trf(lang, "{minutes} min", &[("minutes", &minutes)])
    } else if minutes < 48 * 60 {
        trf(lang, "{hours} h", &[("hours", &(minutes / 60))])
    } else {
        trf(lang, "{days} d", &[("days", &(minutes / (24 * 60)))])
    }
}

/// The selector's name of a range.
fn range_label(range: HistoryRange) -> &'static str {
    match range {
        HistoryRange::Hour => "1 hour",
        HistoryRange::Day => "1 day",
        HistoryRange::Week => "1 week",
    }
}

/// Why a range longer than the history kept in memory cannot be chosen.
const NEEDS_PROMETHEUS: &str =
    "Longer ranges need Prometheus (--prometheus-url) or a longer --telemetry-history.";

/// The charts' range: links to the ranges the source keeps (the shown one marked), the others
/// named with why they cannot be shown, and why Prometheus gave no history when it did not.
#[component]
fn RangeSelector(
    node: String,
    shown: HistoryRange,
    available: Vec<HistoryRange>,
    error: Option<ExporterError>,
) -> impl IntoView {
    let lang = use_lang();
    let all_kept = available.len() == HistoryRange::ALL.len();
    let choices = HistoryRange::ALL
        .into_iter()
        .map(|range| {
            let label = t(range_label(range));
            if !available.contains(&range) {
                let why = move || tr(lang.get(), NEEDS_PROMETHEUS);
                view! { <span class="range off" aria-disabled="true" title=why>{label}</span> }
                    .into_any()
            } else if range == shown {
                view! { <span class="range on" aria-current="page">{label}</span> }.into_any()
            } else {
                let word: &str = range.into();
                let href = format!("/nodes/{node}?range={word}");
                view! { <a class="range" href=href>{label}</a> }.into_any()
            }
        })
        .collect_view();
    let memory_only = (!all_kept).then(|| {
        view! { <span class="summary">{t(NEEDS_PROMETHEUS)}</span> }
    });
    let failed = error.map(|e| {
        view! {
            <p class="error" role="status">
                {move || trf(lang.get(), "The charts show the history kept in memory: {reason}", &[("reason", &exporter_error_text(lang.get(), &e))])}
            </p>
        }
    });
    view! {
        <nav class="ranges" data-testid="history-ranges">
            <strong>{t("History")}</strong>" "{choices}" "{memory_only}
        </nav>
        {failed}
    }
}

fn series(history: &[HistoryPoint], field: fn(&HistoryPoint) -> Option<f64>) -> Vec<Option<f64>> {
    history.iter().map(field).collect()
}

/// A GPU's card: its figures now and charts of its history.
#[component]
pub fn GpuCardView(card: GpuCard) -> impl IntoView {
    let times: Vec<i64> = card.history.iter().map(|p| p.at_s).collect();
    let gpu = card.gpu.clone();
    let memory_mib = gpu.memory_total_bytes as f64 / (1024.0 * 1024.0);
    let used = gpu.memory_used_bytes.map(gib).unwrap_or_else(|| "—".into());
    let lang = use_lang();
    let holder = gpu.clone();
    let holders = move || gpu_holders(lang.get(), &holder);
    view! {
        <article class="gpu-card" data-gpu=gpu.uuid.clone()>
            <header>
                <strong>{format!("GPU {} · {}", gpu.index, gpu.model)}</strong>
                <GpuFailedMark failure=gpu.failure.clone()/>
                <span class="mono">{gpu.uuid.clone()}</span>
            </header>
            <p class="now">
                {format!("{} / {}", used, gib(gpu.memory_total_bytes))}" · "
                {with_unit(gpu.utilization_percent, "%")}" · "{with_unit(gpu.temperature_celsius, "°C")}" · "{with_unit(gpu.power_watts, "W")}
                " "<span class="holders">{holders}</span>
            </p>
            <div class="charts">
                <Chart title="Util" unit="%" times=times.clone() values=series(&card.history, |p| p.utilization_percent) max=100.0/>
                <Chart title="Memory" unit="MiB" times=times.clone() values=series(&card.history, |p| p.memory_used_mib) max=memory_mib/>
                <Chart title="Temp" unit="°C" times=times.clone() values=series(&card.history, |p| p.temperature_celsius) max=100.0/>
                <Chart title="Power" unit="W" times=times values=series(&card.history, |p| p.power_watts) max=gpu.power_limit_watts.unwrap_or(400.0)/>
            </div>
        </article>
    }
}

fn detail_view(d: NodeDetail) -> impl IntoView {
    let lang = use_lang();
    let s = d.summary.clone();
    let status = if s.ready { "Ready" } else { "NotReady" };
    let telemetry_error = d.telemetry_error.clone().map(|e| {
        view! { <p class="error" role="alert">{move || exporter_error_text(lang.get(), &e)}</p> }
    });
    let hidden = d.hidden_pods;
    let hidden_note = (hidden > 0).then(|| {
        view! { <p class="summary">{move || trf(lang.get(), "{n} more pod(s) in namespaces you may not list.", &[("n", &hidden)])}</p> }
    });
    let no_pods = (d.pods.is_empty() && hidden == 0)
        .then(|| view! { <p class="summary">{t("No pods hold GPUs here.")}</p> });
    view! {
        <h1>{s.name.clone()}" "<span class=if s.ready { "ok" } else { "bad" }>{move || tr(lang.get(), status)}</span></h1>
        <p class="summary">{format!("{} · {} · {} · {}", s.os_image, s.kernel, s.container_runtime, s.kubelet_version)}</p>
        {telemetry_error}
        <DoctorView diagnosis=d.doctor/>
        <RangeSelector node=s.name.clone() shown=d.history_range available=d.history_ranges error=d.history_error/>
        <section class="gpu-cards">
            {d.gpus.into_iter().map(|card| view! { <GpuCardView card/> }).collect_view()}
        </section>
        <h2>{t("Pods")}</h2>
        {no_pods}
        <TableBox>
            <table class="grid" data-testid="node-pods">
                <thead><tr><th>{t("Namespace")}</th><th>{t("Name")}</th><th>{t("Status")}</th><th>"nvidia.com/gpu"</th></tr></thead>
                <tbody>
                    {d.pods.into_iter().map(|p| view! {
                        <tr><td>{p.namespace}</td><td class="name">{p.name}</td><td>{p.phase}</td><td class="num">{p.gpus}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </TableBox>
        {hidden_note}
        <div class="columns">
            <section>
                <h2>{t("Conditions")}</h2>
                <TableBox>
                    <table class="grid">
                        <thead><tr><th>{t("Type")}</th><th>{t("Status")}</th><th>{t("Reason")}</th><th>{t("Message")}</th></tr></thead>
                        <tbody>
                            {d.conditions.into_iter().map(|c| view! {
                                <tr><td>{c.kind}</td><td>{c.status}</td><td>{c.reason}</td><td>{c.message}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </TableBox>
            </section>
            <section>
                <h2>{t("Taints")}</h2>
                {if d.taints.is_empty() {
                    view! { <p class="summary">{t("<none>")}</p> }.into_any()
                } else {
                    view! { <ul class="mono">{d.taints.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul> }.into_any()
                }}
                <h2>{t("Labels")}</h2>
                <ul class="mono labels">{d.labels.into_iter().map(|(k, v)| view! { <li>{format!("{k}={v}")}</li> }).collect_view()}</ul>
            </section>
        </div>
    }
}

/// `/nodes/<name>`.
#[component]
pub fn NodePage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let query = use_query_map();
    let range = move || {
        query.with(|q| {
            q.get("range")
                .and_then(|r| r.parse::<HistoryRange>().ok())
                .unwrap_or_default()
        })
    };
    let updates = crate::live::use_updates();
    let detail = Resource::new(
        move || (name(), range(), updates.get()),
        |(n, r, _)| get_node_detail(n, r),
    );
    view! {
        <section class="node-page">
            <Transition fallback=|| view! { <p class="loading">{t("Loading node…")}</p> }>
                {move || detail.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(None) => view! { <p class="empty">{t("Page not found.")}</p> }.into_any(),
                    Ok(Some(d)) => detail_view(d).into_any(),
                })}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charts_span_is_said_in_minutes_hours_or_days() {
        use crate::i18n::Lang;
        assert_eq!(span_text(Lang::En, 600), "10 min");
        assert_eq!(span_text(Lang::En, 86_400), "24 h");
        assert_eq!(span_text(Lang::En, 604_800), "7 d");
        assert_eq!(span_text(Lang::Zh, 86_400), "24 小时");
    }

    #[test]
    fn charts_scale_time_and_value_and_skip_gaps() {
        let points = polyline(&[0, 5, 10], &[Some(0.0), None, Some(100.0)], 100.0);
        assert_eq!(points, format!("0.0,{:.1} {CHART_W:.1},1.0", CHART_H - 1.0));
        assert_eq!(polyline(&[], &[], 100.0), "");
        assert_eq!(
            polyline(&[7], &[Some(50.0)], 100.0),
            format!("{CHART_W:.1},{:.1}", CHART_H - 0.5 * (CHART_H - 2.0) - 1.0)
        );
    }
}
