//! `/workloads/<namespace>/<name>`: one Job or workspace. Its state with each problem explained in
//! plain words (the cluster's own text beneath), its place in the queue while it waits, the GPUs
//! it holds with live charts, its node ports, pods and containers, logs, and its events merged by
//! time. Clone opens the form filled from it; delete asks first, naming the GPUs it frees.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{DeleteWorkload, get_workload, whoami};
use crate::contract::workload_detail::{
    ContainerRow, ContainerState, EventType, Explanation, PodRow, WorkloadDetail,
};
use crate::contract::workloads::{WorkloadKind, WorkloadState};
use crate::format::age;
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::logs::LogsPanel;
use crate::pages::node::GpuCardView;
use crate::pages::queue::{confirmed, reason_text, state_word};
use crate::pages::{ErrorView, TableBox};

/// A problem in plain words, in `lang`.
pub fn explanation_text(lang: Lang, e: &Explanation) -> String {
    match e {
        Explanation::FinishedUnderAlways {
            pod,
            container,
            exit_code,
        } => trf(
            lang,
            "{container} in {pod} finished (exit code {code}), but its restart policy is Always, so Kubernetes starts it again and waits longer each time (CrashLoopBackOff). A program that ends belongs in a Job; a workspace needs a command that keeps running, such as a server or sleep infinity.",
            &[("container", container), ("pod", pod), ("code", exit_code)],
        ),
        Explanation::CrashLoop {
            pod,
            container,
            exit_code,
            restarts,
        } => trf(
            lang,
            "{container} in {pod} keeps failing (exit code {code}, {restarts} restarts) and Kubernetes waits longer before each restart: the previous run's logs say why.",
            &[
                ("container", container),
                ("pod", pod),
                ("code", &exit_code.map_or("?".into(), |c| c.to_string())),
                ("restarts", restarts),
            ],
        ),
        Explanation::ImagePull {
            pod,
            container,
            image,
            ..
        } => trf(
            lang,
            "The image {image} of {container} in {pod} cannot be pulled: check its name and tag, and that the node can reach the registry and has its credentials.",
            &[("image", image), ("container", container), ("pod", pod)],
        ),
        Explanation::OutOfMemory {
            pod,
            container,
            memory_limit: Some(limit),
        } => trf(
            lang,
            "{container} in {pod} used more than its memory limit of {limit} and was killed (OOMKilled): ask for more memory, or use less.",
            &[("container", container), ("pod", pod), ("limit", limit)],
        ),
        Explanation::OutOfMemory { pod, container, .. } => trf(
            lang,
            "{container} in {pod} ran out of memory and was killed (OOMKilled): ask for more memory, or use less.",
            &[("container", container), ("pod", pod)],
        ),
        Explanation::ExitedWithError {
            pod,
            container,
            exit_code,
            ..
        } => trf(
            lang,
            "{container} in {pod} ended with exit code {code}: its logs say why.",
            &[("container", container), ("pod", pod), ("code", exit_code)],
        ),
        Explanation::CannotStart {
            pod,
            container,
            reason,
            ..
        } => trf(
            lang,
            "{container} in {pod} cannot start ({reason}): a ConfigMap, Secret or volume it names may be missing, or its command cannot run.",
            &[("container", container), ("pod", pod), ("reason", reason)],
        ),
        Explanation::QuotaRefused { quota, .. } => trf(
            lang,
            "The Job may not make its pod: the namespace's quota {quota} has no room for it. The Job controller tries again, and the pod is made once other work there ends.",
            &[("quota", quota)],
        ),
        Explanation::PodStopped { pod, reason, .. } => trf(
            lang,
            "The node stopped or refused {pod} ({reason}).",
            &[("pod", pod), ("reason", reason)],
        ),
        Explanation::BackoffLimitExceeded { failed, limit } => trf(
            lang,
            "The Job gave up: {failed} pod(s) failed and it allows {limit} retries.",
            &[("failed", failed), ("limit", limit)],
        ),
        Explanation::DeadlineExceeded { seconds } => trf(
            lang,
            "The Job ran past its deadline of {seconds} s and was stopped.",
            &[("seconds", seconds)],
        ),
    }
}

/// The cluster's own words beneath an explanation, where it has some.
fn explanation_raw(e: &Explanation) -> Option<String> {
    match e {
        Explanation::ImagePull { message, .. }
        | Explanation::ExitedWithError { message, .. }
        | Explanation::CannotStart { message, .. }
        | Explanation::PodStopped { message, .. }
        | Explanation::QuotaRefused { message, .. } => {
            (!message.is_empty()).then(|| message.clone())
        }
        _ => None,
    }
}

/// The confirmation before a delete, naming the GPUs it frees (those of its pods bound to a
/// node and not finished).
fn confirm_text(lang: Lang, d: &WorkloadDetail) -> String {
    let mut nodes: Vec<&str> = d
        .pods
        .iter()
        .filter(|p| p.phase != "Succeeded" && p.phase != "Failed")
        .filter_map(|p| p.node.as_deref())
        .collect();
    let held = d.gpus as usize * nodes.len();
    nodes.dedup();
    if held == 0 {
        trf(
            lang,
            "Delete {name} in {ns}? It holds no GPU now.",
            &[("name", &d.name), ("ns", &d.namespace)],
        )
    } else {
        trf(
            lang,
            "Delete {name} in {ns}? It frees {gpus} GPU(s) on {node}.",
            &[
                ("name", &d.name),
                ("ns", &d.namespace),
                ("gpus", &held),
                ("node", &nodes.join(", ")),
            ],
        )
    }
}

fn container_state(c: &ContainerRow) -> AnyView {
    match &c.state {
        ContainerState::Waiting { reason, .. } => {
            view! { <span class="warn"><code>{reason.clone()}</code></span> }.into_any()
        }
        ContainerState::Running { .. } => {
            view! { <span class="ok">{t("Running")}</span> }.into_any()
        }
        ContainerState::Terminated { termination } => {
            let class = if termination.exit_code == 0 {
                "ok"
            } else {
                "bad"
            };
            view! { <span class=class><code>{termination.reason.clone()}</code>" "{t("exit code")}" "{termination.exit_code}</span> }
                .into_any()
        }
        ContainerState::Unknown => view! { <span>"—"</span> }.into_any(),
    }
}

fn pod_rows(pod: PodRow) -> impl IntoView {
    let containers = pod.containers.clone();
    let span = containers.len().max(1);
    let first = containers.first().cloned();
    let rest: Vec<ContainerRow> = containers.into_iter().skip(1).collect();
    let cells = |c: ContainerRow| {
        let state = container_state(&c);
        let last = c.last_termination.map(|l| {
            view! { <code>{l.reason}</code>" "{t("exit code")}" "{l.exit_code} }
        });
        view! {
            <td class="mono">{c.name.clone()}</td>
            <td>{state}</td>
            <td class="num">{c.restarts}</td>
            <td>{last}</td>
        }
    };
    view! {
        <tr data-pod=pod.name.clone()>
            <td class="name" rowspan=span>{pod.name.clone()}</td>
            <td class="mono" rowspan=span>{pod.node.clone().unwrap_or_else(|| "—".into())}</td>
            <td rowspan=span><code>{pod.phase.clone()}</code></td>
            {first.map(cells)}
        </tr>
        {rest.into_iter().map(|c| view! { <tr>{cells(c)}</tr> }).collect_view()}
    }
}

fn detail_view(
    d: WorkloadDetail,
    delete: ServerAction<DeleteWorkload>,
    csrf: Signal<String>,
) -> impl IntoView {
    let lang = use_lang();
    let state = d.state;
    let kind = d.kind;
    let kind_word = match kind {
        WorkloadKind::Job => "Job",
        WorkloadKind::Workspace => "Workspace",
    };
    let for_delete = d.clone();
    let on_delete = move |_| {
        if confirmed(&confirm_text(lang.get_untracked(), &for_delete)) {
            delete.dispatch(DeleteWorkload {
                csrf: csrf.get_untracked(),
                namespace: for_delete.namespace.clone(),
                name: for_delete.name.clone(),
            });
        }
    };
    let clone_href = format!("/submit?fromNamespace={}&from={}", d.namespace, d.name);
    let counts = (d.active, d.succeeded, d.failed);
    let summary = move || match kind {
        WorkloadKind::Job => trf(
            lang.get(),
            "{active} running · {succeeded} succeeded · {failed} failed",
            &[
                ("active", &counts.0),
                ("succeeded", &counts.1),
                ("failed", &counts.2),
            ],
        ),
        WorkloadKind::Workspace => trf(lang.get(), "{ready} ready", &[("ready", &counts.0)]),
    };
    let gpus_line = {
        let (gpus, model) = (d.gpus, d.model.clone());
        move || match &model {
            Some(model) => trf(
                lang.get(),
                "{gpus} GPU(s), {model}",
                &[("gpus", &gpus), ("model", model)],
            ),
            None => trf(lang.get(), "{gpus} GPU(s), any model", &[("gpus", &gpus)]),
        }
    };
    let waiting = d.position.map(|position| {
        let reason = d.pending_reason.clone();
        let raw = reason.as_ref().map(|r| r.raw.clone());
        view! {
            <div class="alert" data-testid="waiting">
                <p>{move || trf(lang.get(), "Waiting: number {position} in the GPU queue.", &[("position", &position)])}
                    " "{move || reason.as_ref().map(|r| reason_text(lang.get(), r))}</p>
                {raw.map(|raw| view! { <small class="raw mono">{raw}</small> })}
            </div>
        }
    });
    let explanations = d.explanations.clone();
    let more_pods = d.more_pods;
    view! {
        <h1>
            <span class="kind">{move || tr(lang.get(), kind_word)}</span>" "{d.name.clone()}" "
            <span data-testid="workload-state" class=match state { WorkloadState::Failed => "bad", WorkloadState::Pending => "warn", _ => "ok" }>
                {move || tr(lang.get(), state_word(state))}
            </span>
        </h1>
        <p class="summary">
            {d.namespace.clone()}" · "{gpus_line}" · "{summary}" · "{age(d.age_seconds)}
            {d.owner.clone().map(|o| view! { " · "{t("Owner")}" "<span class="mono">{o}</span> })}
        </p>
        <div class="toolbar">
            <a class="button" href=clone_href data-testid="clone">{t("Clone into the form")}</a>
            {d.may_delete.then(|| view! {
                <button class="danger" data-testid="delete-workload" on:click=on_delete>{t("Delete")}</button>
            })}
        </div>
        {waiting}
        <ul class="explanations" data-testid="explanations">
            {explanations.into_iter().map(|e| {
                let raw = explanation_raw(&e);
                view! {
                    <li class="alert">
                        <p>{move || explanation_text(lang.get(), &e)}</p>
                        {raw.map(|raw| view! { <small class="raw mono">{raw}</small> })}
                    </li>
                }
            }).collect_view()}
        </ul>
        {(!d.exposed.is_empty()).then(|| view! {
            <h2>{t("Node ports")}</h2>
            <ul class="mono" data-testid="exposed">
                {d.exposed.iter().map(|e| view! {
                    <li>{format!("{} → {}", e.port.port, e.port.node_port)}" "{e.addresses.join(", ")}</li>
                }).collect_view()}
            </ul>
        })}
        {(!d.gpu_cards.is_empty()).then(|| view! {
            <h2>{t("GPUs")}</h2>
            <section class="gpu-cards" data-testid="workload-gpus">
                {d.gpu_cards.into_iter().map(|card| view! { <GpuCardView card/> }).collect_view()}
            </section>
        })}
        <h2>{t("Pods")}</h2>
        <TableBox>
            <table class="grid" data-testid="workload-pods">
                <thead><tr>
                    <th>{t("Pod")}</th><th>{t("Node")}</th><th>{t("Phase")}</th><th>{t("Container")}</th>
                    <th>{t("State")}</th><th>{t("Restarts")}</th><th>{t("Last run")}</th>
                </tr></thead>
                <tbody>{d.pods.into_iter().map(pod_rows).collect_view()}</tbody>
            </table>
        </TableBox>
        {(more_pods > 0).then(|| view! {
            <p class="summary">{move || trf(lang.get(), "{n} older pod(s) not shown.", &[("n", &more_pods)])}</p>
        })}
        {(!d.conditions.is_empty()).then(|| view! {
            <h2>{t("Conditions")}</h2>
            <TableBox>
                <table class="grid">
                    <thead><tr><th>{t("Type")}</th><th>{t("Status")}</th><th>{t("Reason")}</th><th>{t("Message")}</th></tr></thead>
                    <tbody>
                        {d.conditions.into_iter().map(|c| view! {
                            <tr><td><code>{c.kind}</code></td><td><code>{c.status}</code></td><td><code>{c.reason}</code></td><td class="mono">{c.message}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </TableBox>
        })}
        <h2>{t("Events")}</h2>
        <TableBox>
            <table class="grid" data-testid="workload-events">
                <thead><tr><th>{t("Time")}</th><th>{t("Type")}</th><th>{t("Reason")}</th><th>{t("Object")}</th><th>{t("Message")}</th><th>{t("Count")}</th></tr></thead>
                <tbody>
                    {d.events.into_iter().rev().map(|e| view! {
                        <tr class=if e.kind == EventType::Warning { "warn" } else { "" }>
                            <td class="mono">{e.at}</td>
                            <td>{move || tr(lang.get(), if e.kind == EventType::Warning { "Warning" } else { "Normal" })}</td>
                            <td><code>{e.reason}</code></td>
                            <td class="mono">{e.object}</td>
                            <td class="mono">{e.message}</td>
                            <td class="num">{e.count}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </TableBox>
    }
}

/// `/workloads/<namespace>/<name>`.
#[component]
pub fn WorkloadPage() -> impl IntoView {
    let params = use_params_map();
    let namespace = Memo::new(move |_| params.with(|p| p.get("namespace").unwrap_or_default()));
    let name = Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()));
    let updates = crate::live::use_updates();
    let detail = Resource::new(
        move || (namespace.get(), name.get(), updates.get()),
        |(ns, n, _)| get_workload(ns, n),
    );
    let who = Resource::new(|| (), |_| whoami());
    let csrf = Signal::derive(move || {
        who.get()
            .and_then(|w| w.ok())
            .flatten()
            .map(|u| u.csrf_token)
            .unwrap_or_default()
    });
    let delete = ServerAction::<DeleteWorkload>::new();
    let lang = use_lang();
    // The logs panel outlives each refresh of the page's data (a followed stream stays open);
    // its pickers learn the pods once the data is in (an effect: after hydration).
    let pods = RwSignal::new(Vec::<(String, Vec<String>)>::new());
    Effect::new(move |_| {
        if let Some(Ok(d)) = detail.get() {
            let now: Vec<(String, Vec<String>)> = d
                .pods
                .into_iter()
                .map(|p| (p.name, p.containers.into_iter().map(|c| c.name).collect()))
                .collect();
            // Unchanged pods leave the pickers (and what they show as chosen) alone.
            if pods.with_untracked(|old| *old != now) {
                pods.set(now);
            }
        }
    });
    view! {
        <section class="workload-page">
            {move || delete.value().get().map(|answer| match answer {
                Ok(done) => view! {
                    <p class="revealed" data-testid="deleted">
                        {move || trf(lang.get(), "Deleted: {what}", &[("what", &done.objects.join(", "))])}
                        " "<a href="/queue">{t("Back to the queue")}</a>
                    </p>
                }.into_any(),
                Err(error) => view! { <ErrorView error/> }.into_any(),
            })}
            <Transition fallback=|| view! { <p class="loading">{t("Loading…")}</p> }>
                {move || detail.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(d) => detail_view(d, delete, csrf).into_any(),
                })}
            </Transition>
            <LogsPanel namespace name pods/>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_case_is_explained_in_both_languages() {
        let e = Explanation::FinishedUnderAlways {
            pod: "tf-pod".into(),
            container: "main".into(),
            exit_code: 0,
        };
        assert!(explanation_text(Lang::En, &e).contains("restart policy is Always"));
        let zh = explanation_text(Lang::Zh, &e);
        assert!(zh.contains("tf-pod") && zh.contains("Job"), "{zh}");
        assert_ne!(zh, explanation_text(Lang::En, &e));
    }
}
