//! The nodes page: every node with its status, roles, GPUs and software, in a table that sorts.

use leptos::prelude::*;

use crate::api::{NodeSummary, list_nodes};
use crate::format::age;
use crate::i18n::{t, use_lang};

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

#[component]
pub fn NodesPage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let nodes = Resource::new(move || updates.get(), |_| list_nodes());
    let sort = RwSignal::new((SortKey::Name, false));
    let filter = RwSignal::new(String::new());
    let lang = use_lang();
    let header =
        move |label: &'static str, key: SortKey| super::sort_header(label, key, sort, false);
    view! {
        <section>
            <h1>{t("Nodes")}</h1>
            <div class="toolbar">
                <input type="search" placeholder=t("Filter by name, OS, kernel or driver") data-testid="node-filter"
                    prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
            </div>
            <Transition fallback=|| view! { <p class="loading">{t("Loading nodes…")}</p> }>
                {move || nodes.get().map(|result| match result {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) => {
                        let total = list.len();
                        let ready = list.iter().filter(|n| n.ready).count();
                        let gpus: u32 = list.iter().map(|n| n.gpus_allocatable).sum();
                        let skewed: Vec<String> = list.iter().filter(|n| !n.skew.is_empty()).map(|n| format!("{} ({})", n.name, n.skew.join(", "))).collect();
                        let skew_note = (!skewed.is_empty()).then(|| view! {
                            <p class="alert" data-testid="node-skew">{move || match lang.get() {
                                crate::i18n::Lang::En => format!("GPU nodes that differ from the rest: {}", skewed.join("; ")),
                                crate::i18n::Lang::Zh => format!("与其他 GPU 节点不一致：{}", skewed.join("；")),
                            }}</p>
                        });
                        let filtered = list.clone();
                        view! {
                            <p class="summary" data-testid="node-summary">
                                {format!("{ready}/{total} nodes Ready · {gpus} GPUs allocatable")}
                            </p>
                            {skew_note}

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
                                            let (k, d) = sort.get();
                                            let f = filter.get().trim().to_lowercase();
                                            let shown = filtered.iter().filter(|n| f.is_empty() || [&n.name, &n.os_image, &n.kernel, &n.container_runtime, n.driver.as_ref().unwrap_or(&String::new())].iter().any(|v| v.to_lowercase().contains(&f))).cloned().collect();
                                            sorted(shown, k, d)
                                        }
                                        key=|n| n.name.clone()
                                        children=|n| {
                                            let status = match (n.ready, n.unschedulable) {
                                                (true, false) => "Ready",
                                                (true, true) => "Ready,SchedulingDisabled",
                                                (false, _) => "NotReady",
                                            };
                                            view! {
                                                <tr data-node=n.name.clone()>
                                                    <td class="name"><a href=format!("/nodes/{}", n.name)>{n.name.clone()}</a></td>
                                                    <td class=if n.ready { "ok" } else { "bad" }>{status}</td>
                                                    <td>{if n.roles.is_empty() { "<none>".to_string() } else { n.roles.join(",") }}</td>
                                                    <td>{n.gpu_model.clone().unwrap_or_else(|| "—".into())}</td>
                                                    <td class="num">{n.gpus_allocatable}</td>
                                                    <td class="num">{n.gpus_allocated}</td>
                                                    <td class="num">{n.gpus_busy}</td>
                                                    <td class=if n.skew.iter().any(|s| s == "driver") { "mono skew" } else { "mono" }>{n.driver.clone().unwrap_or_else(|| "—".into())}</td>
                                                    <td class="mono">{n.internal_ip.clone()}</td>
                                                    <td>{n.os_image.clone()}</td>
                                                    <td class=if n.skew.iter().any(|s| s == "kernel") { "mono skew" } else { "mono" }>{n.kernel.clone()}</td>
                                                    <td class=if n.skew.iter().any(|s| s == "runtime") { "mono skew" } else { "mono" }>{n.container_runtime.clone()}</td>
                                                    <td class="mono">{n.kubelet_version.clone()}</td>
                                                    <td class="num">{age(n.age_seconds)}</td>
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
}
