//! The nodes page: every node with its status, roles, GPUs and software, in a table that sorts
//! and filters, with the GPU nodes whose kernel, driver or runtime differs from the rest flagged.

use leptos::prelude::*;

use crate::api::list_nodes;
use crate::contract::{NodeSummary, Skew};
use crate::format::age;
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::{ErrorView, TableBox, sort_header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Name,
    Status,
    Gpus,
    Kernel,
    Age,
}

fn sorted(mut nodes: Vec<NodeSummary>, key: SortKey, descending: bool) -> Vec<NodeSummary> {
    nodes.sort_by(|a, b| {
        let ord = match key {
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Status => a.ready.cmp(&b.ready).then(a.name.cmp(&b.name)),
            SortKey::Gpus => a
                .gpus_allocatable
                .cmp(&b.gpus_allocatable)
                .then(a.name.cmp(&b.name)),
            SortKey::Kernel => a.kernel.cmp(&b.kernel).then(a.name.cmp(&b.name)),
            SortKey::Age => b.age_seconds.cmp(&a.age_seconds).then(a.name.cmp(&b.name)),
        };
        if descending { ord.reverse() } else { ord }
    });
    nodes
}

/// Whether a node matches the filter text: name, OS, kernel, runtime or driver, case-insensitive.
fn matches(node: &NodeSummary, filter: &str) -> bool {
    let filter = filter.trim().to_lowercase();
    let fields = [
        node.name.as_str(),
        node.os_image.as_str(),
        node.kernel.as_str(),
        node.container_runtime.as_str(),
        node.driver.as_deref().unwrap_or(""),
    ];
    filter.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(&filter))
}

/// The node's STATUS column, as kubectl prints it (translated).
fn status_text(node: &NodeSummary) -> &'static str {
    match (node.ready, node.unschedulable) {
        (true, false) => "Ready",
        (true, true) => "Ready,SchedulingDisabled",
        (false, _) => "NotReady",
    }
}

fn skew_word(skew: Skew) -> &'static str {
    match skew {
        Skew::Kernel => "kernel",
        Skew::Driver => "driver",
        Skew::Runtime => "runtime",
    }
}

/// The line above the table that names the GPU nodes that differ from the rest, if any do.
fn skew_summary(lang: Lang, nodes: &[NodeSummary]) -> Option<String> {
    let skewed: Vec<String> = nodes
        .iter()
        .filter(|n| !n.skew.is_empty())
        .map(|n| {
            let what: Vec<&str> = n.skew.iter().map(|s| tr(lang, skew_word(*s))).collect();
            trf(
                lang,
                "{node} ({what})",
                &[("node", &n.name), ("what", &what.join(tr(lang, ", ")))],
            )
        })
        .collect();
    (!skewed.is_empty()).then(|| {
        trf(
            lang,
            "GPU nodes that differ from the rest: {nodes}",
            &[("nodes", &skewed.join(tr(lang, "; ")))],
        )
    })
}

fn summary(lang: Lang, nodes: &[NodeSummary]) -> String {
    let ready = nodes.iter().filter(|n| n.ready).count();
    let gpus = nodes
        .iter()
        .map(|n| n.gpus_allocatable)
        .fold(0u32, u32::saturating_add);
    trf(
        lang,
        "{ready}/{total} nodes Ready · {gpus} GPUs allocatable",
        &[("ready", &ready), ("total", &nodes.len()), ("gpus", &gpus)],
    )
}

/// A software cell, flagged when the node differs from most GPU nodes in it.
fn software_cell(lang: RwSignal<Lang>, text: String, skewed: bool) -> impl IntoView {
    let title = move || skewed.then(|| tr(lang.get(), "Differs from most GPU nodes"));
    view! { <td class=if skewed { "mono skew" } else { "mono" } title=title>{text}</td> }
}

#[component]
fn NodeRow(node: NodeSummary) -> impl IntoView {
    let lang = use_lang();
    let status = status_text(&node);
    let roles = if node.roles.is_empty() {
        None
    } else {
        Some(node.roles.join(","))
    };
    let busy = node.gpus_busy;
    let busy_title = move || {
        busy.is_none().then(|| {
            tr(
                lang.get(),
                "The node's GPU exporter is not answering: its numbers are not counted.",
            )
        })
    };
    view! {
        <tr data-node=node.name.clone()>
            <td class="name"><a href=format!("/nodes/{}", node.name)>{node.name.clone()}</a></td>
            <td class=if node.ready { "ok" } else { "bad" }>{move || tr(lang.get(), status)}</td>
            <td>{move || roles.clone().unwrap_or_else(|| tr(lang.get(), "<none>").to_string())}</td>
            <td>{node.gpu_model.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="num">{node.gpus_allocatable}</td>
            <td class="num">{node.gpus_allocated}</td>
            <td class="num" title=busy_title>{busy.map_or_else(|| "—".to_string(), |b| b.to_string())}</td>
            {software_cell(lang, node.driver.clone().unwrap_or_else(|| "—".into()), node.skews(Skew::Driver))}
            <td class="mono">{node.internal_ip.clone()}</td>
            <td>{node.os_image.clone()}</td>
            {software_cell(lang, node.kernel.clone(), node.skews(Skew::Kernel))}
            {software_cell(lang, node.container_runtime.clone(), node.skews(Skew::Runtime))}
            <td class="mono">{node.kubelet_version.clone()}</td>
            <td class="num">{age(node.age_seconds)}</td>
        </tr>
    }
}

#[component]
fn NodesTable(
    nodes: Vec<NodeSummary>,
    sort: RwSignal<(SortKey, bool)>,
    filter: RwSignal<String>,
) -> impl IntoView {
    let header = move |label: &'static str, key: SortKey| sort_header(label, key, sort, false);
    view! {
        <TableBox>
            <table class="grid" data-testid="nodes-table">
                <thead><tr>
                    {header("Name", SortKey::Name)}
                    {header("Status", SortKey::Status)}
                    <th>{t("Roles")}</th>
                    <th>{t("GPU model")}</th>
                    {header("GPUs", SortKey::Gpus)}
                    <th>{t("Allocated")}</th>
                    <th>{t("Busy")}</th>
                    <th>{t("Driver")}</th>
                    <th>{t("Internal IP")}</th>
                    <th>{t("OS")}</th>
                    {header("Kernel", SortKey::Kernel)}
                    <th>{t("Runtime")}</th>
                    <th>{t("Kubelet")}</th>
                    {header("Age", SortKey::Age)}
                </tr></thead>
                <tbody>
                    <For
                        each=move || {
                            let (key, descending) = sort.get();
                            let filter = filter.get();
                            let shown = nodes.iter().filter(|n| matches(n, &filter)).cloned().collect();
                            sorted(shown, key, descending)
                        }
                        key=|n| n.name.clone()
                        children=|node| view! { <NodeRow node/> }
                    />
                </tbody>
            </table>
        </TableBox>
    }
}

/// `/nodes`.
#[component]
pub fn NodesPage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let nodes = Resource::new(move || updates.get(), |_| list_nodes());
    let sort = RwSignal::new((SortKey::Name, false));
    let filter = RwSignal::new(String::new());
    let lang = use_lang();
    view! {
        <section>
            <h1>{t("Nodes")}</h1>
            <div class="toolbar">
                <input type="search" placeholder=t("Filter by name, OS, kernel or driver") data-testid="node-filter"
                    prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
            </div>
            <Transition fallback=|| view! { <p class="loading">{t("Loading nodes…")}</p> }>
                {move || nodes.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(list) => {
                        let counts = list.clone();
                        let skews = list.clone();
                        view! {
                            <p class="summary" data-testid="node-summary">{move || summary(lang.get(), &counts)}</p>
                            {move || skew_summary(lang.get(), &skews).map(|text| view! {
                                <p class="alert" data-testid="node-skew">{text}</p>
                            })}
                            <NodesTable nodes=list sort filter/>
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

    fn node(name: &str, gpus: u32) -> NodeSummary {
        NodeSummary {
            name: name.into(),
            ready: true,
            gpus_allocatable: gpus,
            ..Default::default()
        }
    }

    #[test]
    fn sorts_by_gpus_then_name_and_reverses() {
        let list = vec![node("b", 1), node("a", 1), node("c", 0)];
        let names = |v: Vec<NodeSummary>| v.into_iter().map(|n| n.name).collect::<Vec<_>>();
        assert_eq!(
            names(sorted(list.clone(), SortKey::Gpus, false)),
            vec!["c", "a", "b"]
        );
        assert_eq!(
            names(sorted(list, SortKey::Gpus, true)),
            vec!["b", "a", "c"]
        );
    }

    #[test]
    fn the_filter_looks_at_name_os_kernel_runtime_and_driver() {
        let n = NodeSummary {
            name: "node-105".into(),
            os_image: "Ubuntu 18.04.4 LTS".into(),
            kernel: "5.3.0-28-generic".into(),
            container_runtime: "docker://19.3.8".into(),
            driver: Some("440.64".into()),
            ..Default::default()
        };
        for hit in ["", "NODE-105", "ubuntu", "5.3.0", "docker", "440"] {
            assert!(matches(&n, hit), "{hit}");
        }
        assert!(!matches(&n, "centos"));
    }

    #[test]
    fn the_summaries_speak_both_languages() {
        let mut nodes = vec![node("a", 1), node("b", 1)];
        nodes[1].ready = false;
        nodes[1].skew = vec![Skew::Kernel, Skew::Driver];
        assert_eq!(
            summary(Lang::En, &nodes),
            "1/2 nodes Ready · 2 GPUs allocatable"
        );
        assert_eq!(
            summary(Lang::Zh, &nodes),
            "1/2 个节点就绪 · 可分配 2 块 GPU"
        );
        assert_eq!(
            skew_summary(Lang::En, &nodes).as_deref(),
            Some("GPU nodes that differ from the rest: b (kernel, driver)")
        );
        assert_eq!(
            skew_summary(Lang::Zh, &nodes).as_deref(),
            Some("与其他 GPU 节点不一致：b（内核、驱动）")
        );
        assert_eq!(skew_summary(Lang::En, &nodes[..1]), None);
    }
}
