//! `/queue`: GPU work in `squeue`'s manner. Pending rows first with their position and why they
//! wait (the scheduler's histogram in plain words, its own text beneath), then running ones with
//! their GPUs' utilization, then the finished; "mine" filter and pages of rows (both on the
//! server); live; delete after a confirmation that names the GPUs it frees.

use leptos::prelude::*;

use crate::api::{DeleteWorkload, get_queue, whoami};
use crate::contract::workloads::{
    NodeMisfit, PendingReason, Queue, QueueQuery, QueueRow, WorkloadKind, WorkloadState,
};
use crate::format::{age, with_unit};
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::{ErrorView, Pager, TableBox};

/// One entry of the scheduler's histogram, in `lang`.
pub fn misfit_text(lang: Lang, misfit: &NodeMisfit) -> String {
    match misfit {
        NodeMisfit::NotEnough { resource } => {
            trf(lang, "not enough {resource}", &[("resource", resource)])
        }
        NodeMisfit::UntoleratedTaint => tr(lang, "a taint it does not tolerate").into(),
        NodeMisfit::SelectorMismatch => tr(lang, "not the GPU model or labels asked for").into(),
        NodeMisfit::Cordoned => tr(lang, "cordoned").into(),
        NodeMisfit::TooManyPods => tr(lang, "too many pods").into(),
        NodeMisfit::Other { text } => text.clone(),
    }
}

/// "2 nodes: not enough nvidia.com/gpu; 1 node: a taint it does not tolerate".
pub fn reason_text(lang: Lang, reason: &PendingReason) -> String {
    reason
        .counts
        .iter()
        .map(|c| {
            if c.nodes == 0 {
                misfit_text(lang, &c.misfit)
            } else {
                trf(
                    lang,
                    "{n} node(s): {why}",
                    &[("n", &c.nodes), ("why", &misfit_text(lang, &c.misfit))],
                )
            }
        })
        .collect::<Vec<_>>()
        .join(tr(lang, "; "))
}

/// Why a row waits, in `lang`: the scheduler's reasons, or the quota that holds it back.
pub fn why_waiting(lang: Lang, row: &QueueRow) -> Option<String> {
    if let Some(h) = &row.held_by_quota {
        return Some(trf(
            lang,
            "No pod yet: the namespace's quota {quota} has {used} of {hard} GPUs in use",
            &[("quota", &h.quota), ("used", &h.used), ("hard", &h.hard)],
        ));
    }
    row.reason.as_ref().map(|r| reason_text(lang, r))
}

/// The state's English word (the i18n key).
pub fn state_word(state: WorkloadState) -> &'static str {
    match state {
        WorkloadState::Pending => "Pending",
        WorkloadState::Running => "Running",
        WorkloadState::Succeeded => "Succeeded",
        WorkloadState::Failed => "Failed",
    }
}

fn kind_word(kind: Option<WorkloadKind>) -> &'static str {
    match kind {
        Some(WorkloadKind::Job) => "Job",
        Some(WorkloadKind::Workspace) => "Workspace",
        None => "Pod",
    }
}

/// The queue's counts in one line.
pub fn summary(lang: Lang, queue: &Queue) -> String {
    trf(
        lang,
        "{pending} waiting for {waiting} GPU(s) · {running} running on {held} GPU(s)",
        &[
            ("pending", &queue.pending),
            ("waiting", &queue.gpus_waiting),
            ("running", &queue.running),
            ("held", &queue.gpus_running),
        ],
    )
}

/// The confirmation before a delete, naming what it frees.
fn confirm_text(lang: Lang, row: &QueueRow) -> String {
    let name = row.name.clone().unwrap_or_default();
    match &row.node {
        Some(node) if row.state == WorkloadState::Running => trf(
            lang,
            "Delete {name} in {ns}? It frees {gpus} GPU(s) on {node}.",
            &[
                ("name", &name),
                ("ns", &row.namespace),
                ("gpus", &row.gpus),
                ("node", node),
            ],
        ),
        _ => trf(
            lang,
            "Delete {name} in {ns}? It holds no GPU now.",
            &[("name", &name), ("ns", &row.namespace)],
        ),
    }
}

/// Whether the user confirms `_text` (a browser dialog; never on the server).
pub fn confirmed(_text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        window().confirm_with_message(_text).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

#[component]
fn QueueRowView(
    row: QueueRow,
    delete: ServerAction<DeleteWorkload>,
    csrf: StoredValue<String>,
) -> impl IntoView {
    let lang = use_lang();
    // Only what a delete here can remove: a Job or a gpuboard workspace whose name the user sees.
    let deletable = row.name.is_some() && row.kind.is_some();
    let why = row.clone();
    let raw = row.reason.as_ref().map(|r| r.raw.clone());
    let state = row.state;
    let kind = row.kind;
    let for_delete = row.clone();
    let shown_name = row.name.clone();
    let on_delete = move |_| {
        let text = confirm_text(lang.get_untracked(), &for_delete);
        if confirmed(&text) {
            delete.dispatch(DeleteWorkload {
                csrf: csrf.get_value(),
                namespace: for_delete.namespace.clone(),
                name: for_delete.name.clone().unwrap_or_default(),
            });
        }
    };
    view! {
        <tr data-workload=row.name.clone().unwrap_or_default() data-state=state_word(state)>
            <td class="num" data-testid="position">{row.position.map(|p| p.to_string()).unwrap_or_default()}</td>
            <td>{row.namespace.clone()}</td>
            <td class="name">{match (shown_name, kind) {
                (Some(name), Some(_)) => view! {
                    <a href=format!("/workloads/{}/{name}", row.namespace) data-testid="workload-link">{name.clone()}</a>
                }.into_any(),
                (Some(name), None) => view! { <span>{name}</span> }.into_any(),
                (None, _) => view! { <span>{move || tr(lang.get(), "(hidden)")}</span> }.into_any(),
            }}</td>
            <td>{move || tr(lang.get(), kind_word(kind))}</td>
            <td>{row.owner.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="num">{row.gpus}</td>
            <td>{row.model.clone().unwrap_or_else(|| "—".into())}</td>
            <td class=match state { WorkloadState::Failed => "bad", WorkloadState::Pending => "warn", _ => "ok" }>
                {move || tr(lang.get(), state_word(state))}
            </td>
            <td class="mono">{row.node.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="num">{age(row.age_seconds)}</td>
            <td class="num">{with_unit(row.utilization, "%")}</td>
            <td class="reason" data-testid="reason">
                {move || why_waiting(lang.get(), &why)}
                {raw.map(|raw| view! { <small class="raw mono">{raw}</small> })}
            </td>
            <td>{deletable.then(|| view! {
                <button class="danger" data-testid="delete-workload" on:click=on_delete.clone()>{t("Delete")}</button>
            })}</td>
        </tr>
    }
}

/// `/queue`.
#[component]
pub fn QueuePage() -> impl IntoView {
    let updates = crate::live::use_updates();
    let refresh = RwSignal::new(0u64);
    let mine_only = RwSignal::new(false);
    let page = RwSignal::new(0usize);
    let query = move || QueueQuery {
        mine_only: mine_only.get(),
        page: page.get(),
    };
    let queue = Resource::new(
        move || (query(), updates.get(), refresh.get()),
        |(q, _, _)| get_queue(q),
    );
    let who = Resource::new(|| (), |_| whoami());
    let delete = ServerAction::<DeleteWorkload>::new();
    let lang = use_lang();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            refresh.update(|n| *n += 1);
        }
    });
    // A shorter queue answers its last page: ask for that one from then on.
    Effect::new(move |_| {
        if let Some(Ok(q)) = queue.get()
            && q.page != page.get_untracked()
        {
            page.set(q.page);
        }
    });
    view! {
        <section class="queue">
            <h1>{t("GPU queue")}</h1>
            <div class="toolbar">
                <label><input type="checkbox" data-testid="mine-only" prop:checked=move || mine_only.get()
                    on:change=move |ev| { mine_only.set(event_target_checked(&ev)); page.set(0); }/>{t("Only mine")}</label>
                <a class="button" href="/submit">{t("Submit GPU work")}</a>
            </div>
            {move || delete.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorView error/> })}
            <Transition fallback=|| view! { <p class="loading">{t("Loading the queue…")}</p> }>
                {move || {
                    let csrf = StoredValue::new(who.get().and_then(|w| w.ok()).flatten().map(|u| u.csrf_token).unwrap_or_default());
                    queue.get().map(|result| match result {
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                        Ok(q) => {
                            let counts = q.clone();
                            let rows = q.rows;
                            view! {
                                <p class="summary" data-testid="queue-summary">{move || summary(lang.get(), &counts)}</p>
                                <Pager page at=q.page size=q.page_size shown=rows.len() matching=q.matching testid="queue-pager"/>
                                <TableBox>
                                    <table class="grid" data-testid="queue-table">
                                        <thead><tr>
                                            <th>"#"</th><th>{t("Namespace")}</th><th>{t("Name")}</th><th>{t("Kind")}</th>
                                            <th>{t("Owner")}</th><th>{t("GPUs")}</th><th>{t("GPU model")}</th><th>{t("State")}</th>
                                            <th>{t("Node")}</th><th>{t("Age or wait")}</th><th>{t("Utilization")}</th>
                                            <th>{t("Why it waits")}</th><th></th>
                                        </tr></thead>
                                        <tbody>
                                            <For
                                                // Keyed by place in this answer: hidden rows have no name to key on.
                                                each=move || rows.clone().into_iter().enumerate()
                                                key=|(i, _)| *i
                                                children=move |(_, row)| view! { <QueueRowView row delete csrf/> }
                                            />
                                        </tbody>
                                    </table>
                                </TableBox>
                            }.into_any()
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::workloads::MisfitCount;

    #[test]
    fn the_schedulers_reasons_read_in_both_languages() {
        let reason = PendingReason {
            counts: vec![
                MisfitCount {
                    nodes: 2,
                    misfit: NodeMisfit::NotEnough {
                        resource: "nvidia.com/gpu".into(),
                    },
                },
                MisfitCount {
                    nodes: 1,
                    misfit: NodeMisfit::UntoleratedTaint,
                },
            ],
            raw: String::new(),
        };
        assert_eq!(
            reason_text(Lang::En, &reason),
            "2 node(s): not enough nvidia.com/gpu; 1 node(s): a taint it does not tolerate"
        );
        assert_eq!(
            reason_text(Lang::Zh, &reason),
            "2 个节点：nvidia.com/gpu 不足；1 个节点：有其不容忍的污点"
        );
    }
}
