//! `/submit`: the GPU-first form for a Job or a workspace. Every change asks the server for the
//! exact YAML it would send and the fit check (fits now / waits / never); "Check with the cluster"
//! dry-runs it (`dryRun=All`); refusals appear next to their field, the cluster's text beneath.

use leptos::prelude::*;

use crate::api::{SubmitWorkload, get_submit_options, get_workload, preview_workload, whoami};
use crate::contract::PageError;
use crate::contract::workloads::{
    ClaimMount, EnvVar, Fit, FitCheck, ImagePreset, NeverReason, NewWorkload, SubmitOptions,
    Submitted, WaitReason, WorkloadKind, large_shm_by_default,
};

/// How long typing must pause before the live check asks the server.
const PREVIEW_PAUSE: std::time::Duration = std::time::Duration::from_millis(300);
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::{ErrorView, field_refusal};

/// The fit check's verdict in `lang`.
pub fn fit_text(lang: Lang, fit: &Fit) -> String {
    match fit {
        Fit::Now { nodes } => trf(lang, "Fits now on {nodes}", &[("nodes", &nodes.join(", "))]),
        Fit::Waits { why, ahead } => {
            let why = match why {
                WaitReason::GpusInUse { model: Some(model) } => {
                    trf(lang, "every {model} is in use", &[("model", model)])
                }
                WaitReason::GpusInUse { model: None } => {
                    tr(lang, "every GPU it could use is in use").into()
                }
                WaitReason::Quota { quota, used, hard } => trf(
                    lang,
                    "the namespace's quota {quota} has {used} of {hard} GPUs in use",
                    &[("quota", quota), ("used", used), ("hard", hard)],
                ),
                WaitReason::CpuOrMemory => {
                    tr(lang, "GPUs are free but not the CPU or memory beside them").into()
                }
                WaitReason::NodesUnavailable { nodes } => trf(
                    lang,
                    "the nodes that could run it are cordoned or not Ready: {nodes}",
                    &[("nodes", &nodes.join(", "))],
                ),
            };
            trf(
                lang,
                "Waits: {why}; about {ahead} ahead of you",
                &[("why", &why), ("ahead", ahead)],
            )
        }
        Fit::Never { why } => {
            let why = match why {
                NeverReason::TooManyGpus { wanted, largest } => trf(
                    lang,
                    "needs {wanted} GPUs, the largest node has {largest}",
                    &[("wanted", wanted), ("largest", largest)],
                ),
                NeverReason::NoSuchModel { model } => {
                    trf(lang, "no node has a {model}", &[("model", model)])
                }
                NeverReason::QuotaTooSmall { quota, hard } => trf(
                    lang,
                    "the namespace's quota {quota} allows {hard} GPUs",
                    &[("quota", quota), ("hard", hard)],
                ),
                NeverReason::TooLargeForNodes => {
                    tr(lang, "no GPU node has that much CPU or memory").into()
                }
                NeverReason::NoGpuNodes => tr(lang, "no node it tolerates has GPUs").into(),
            };
            trf(lang, "Never fits: {why}", &[("why", &why)])
        }
    }
}

fn fit_class(fit: &Fit) -> &'static str {
    match fit {
        Fit::Now { .. } => "ok",
        Fit::Waits { .. } => "warn",
        Fit::Never { .. } => "bad",
    }
}

/// `NAME=value` per line.
fn env_of(text: &str) -> Vec<EnvVar> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.split_once('=').unwrap_or((l, ""));
            EnvVar {
                name: name.trim().into(),
                value: value.into(),
            }
        })
        .collect()
}

/// `claim:/path` per line.
fn mounts_of(text: &str) -> Vec<ClaimMount> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (claim, path) = l.split_once(':').unwrap_or((l, ""));
            ClaimMount {
                claim: claim.trim().into(),
                mount_path: path.trim().into(),
            }
        })
        .collect()
}

/// Numbers separated by commas or spaces; a word that is not one becomes 0 (refused as a port).
fn ports_of(text: &str) -> Vec<u32> {
    text.split([',', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().unwrap_or(0))
        .collect()
}

/// One word per line (no shell quoting to get wrong).
fn words_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// A name for a copy: `tf` becomes `tf-2`, `tf-2` becomes `tf-3`.
fn next_name(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((stem, n)) if !stem.is_empty() && n.parse::<u32>().is_ok_and(|n| n < 9999) => {
            format!("{stem}-{}", n.parse::<u32>().unwrap_or(1) + 1)
        }
        _ => format!("{name}-2"),
    }
}

/// Empty: none. Not a number: a value the server refuses by the field's name (never dropped).
fn optional_number(text: &str) -> Option<u64> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.parse().unwrap_or(u64::MAX))
}

#[component]
fn FitLine(check: FitCheck) -> impl IntoView {
    let lang = use_lang();
    let class = fit_class(&check.fit);
    view! { <p class=format!("fit {class}") data-testid="fit">{move || fit_text(lang.get(), &check.fit)}</p> }
}

/// The form's fields, one signal each (all `Copy`, so the parts of the form share them).
#[derive(Clone, Copy)]
struct FormState {
    kind: RwSignal<WorkloadKind>,
    name: RwSignal<String>,
    namespace: RwSignal<String>,
    image: RwSignal<String>,
    command: RwSignal<String>,
    args: RwSignal<String>,
    gpus: RwSignal<String>,
    model: RwSignal<String>,
    cpu: RwSignal<String>,
    memory: RwSignal<String>,
    shm: RwSignal<Option<bool>>,
    env: RwSignal<String>,
    mounts: RwSignal<String>,
    ports: RwSignal<String>,
    backoff: RwSignal<String>,
    deadline: RwSignal<String>,
    ttl: RwSignal<String>,
    priority: RwSignal<String>,
}

impl FormState {
    fn new() -> Self {
        let text = |s: &str| RwSignal::new(s.to_string());
        FormState {
            kind: RwSignal::new(WorkloadKind::Job),
            name: text(""),
            namespace: text(""),
            image: text(ImagePreset::TensorFlow.image()),
            command: text(""),
            args: text(""),
            gpus: text("1"),
            model: text(""),
            cpu: text(""),
            memory: text(""),
            shm: RwSignal::new(None),
            env: text(""),
            mounts: text(""),
            ports: text(""),
            backoff: text("0"),
            deadline: text(""),
            ttl: text(""),
            priority: text(""),
        }
    }

    /// The fields filled from `request` (a clone), under a new name.
    fn fill(self, request: &NewWorkload) {
        let lines = |words: &[String]| words.join("\n");
        self.kind.set(request.kind);
        self.name.set(next_name(&request.name));
        self.namespace.set(request.namespace.clone());
        self.image.set(request.image.clone());
        self.command.set(lines(
            &[request.command.clone(), request.args.clone()].concat(),
        ));
        self.gpus.set(request.gpus.to_string());
        self.model.set(request.gpu_model.clone());
        self.cpu.set(request.cpu.clone());
        self.memory.set(request.memory.clone());
        self.shm.set(request.large_shm);
        self.env.set(
            request
                .env
                .iter()
                .map(|e| format!("{}={}", e.name, e.value))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        self.mounts.set(
            request
                .volumes
                .iter()
                .map(|m| format!("{}:{}", m.claim, m.mount_path))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        self.ports.set(
            request
                .ports
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        );
        self.backoff.set(request.backoff_limit.to_string());
        let optional = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        self.deadline.set(optional(request.active_deadline_seconds));
        self.ttl.set(optional(request.ttl_seconds_after_finished));
        self.priority.set(request.priority_class.clone());
    }

    /// The request the fields make (a field that is not a number is sent so the server names it).
    fn request(self) -> NewWorkload {
        let kind = self.kind.get();
        NewWorkload {
            kind,
            name: self.name.get().trim().into(),
            namespace: self.namespace.get(),
            image: self.image.get().trim().into(),
            command: words_of(&self.command.get()),
            args: words_of(&self.args.get()),
            gpus: self.gpus.get().trim().parse().unwrap_or(f64::NAN),
            gpu_model: self.model.get(),
            cpu: self.cpu.get().trim().into(),
            memory: self.memory.get().trim().into(),
            large_shm: self.shm.get(),
            env: env_of(&self.env.get()),
            volumes: mounts_of(&self.mounts.get()),
            ports: if kind == WorkloadKind::Workspace {
                ports_of(&self.ports.get())
            } else {
                Vec::new()
            },
            backoff_limit: self.backoff.get().trim().parse().unwrap_or(u32::MAX),
            active_deadline_seconds: optional_number(&self.deadline.get()),
            ttl_seconds_after_finished: optional_number(&self.ttl.get()),
            priority_class: self.priority.get(),
        }
    }
}

/// The refusals the form shows: the last submit's, else the live check's.
type Answers = Signal<Option<Result<(), PageError>>>;

fn text_input(signal: RwSignal<String>, testid: &'static str) -> AnyView {
    view! {
        <input type="text" data-testid=testid prop:value=move || signal.get()
            on:input=move |ev| signal.set(event_target_value(&ev))/>
    }
    .into_any()
}

fn text_area(signal: RwSignal<String>, testid: &'static str) -> AnyView {
    view! {
        <textarea data-testid=testid rows="2" prop:value=move || signal.get()
            on:input=move |ev| signal.set(event_target_value(&ev))></textarea>
    }
    .into_any()
}

/// Kind, name, namespace, image and command.
#[component]
fn WhatFields(form: FormState, answers: Answers, options: SubmitOptions) -> impl IntoView {
    let refusal_for = move |field: &'static str| field_refusal(answers, field);
    // Where the user may create this kind (a workspace needs Deployments and Services too).
    let options = StoredValue::new(options);
    let namespaces = move || {
        options.with_value(|o| match form.kind.get() {
            WorkloadKind::Job => o.job_namespaces.clone(),
            WorkloadKind::Workspace => o.workspace_namespaces.clone(),
        })
    };
    let on_kind = move |ev| {
        form.kind.set(if event_target_value(&ev) == "Workspace" {
            WorkloadKind::Workspace
        } else {
            WorkloadKind::Job
        });
        let allowed = namespaces();
        if !allowed.contains(&form.namespace.get_untracked()) {
            form.namespace
                .set(allowed.first().cloned().unwrap_or_default());
        }
    };
    view! {
        <label>{t("Kind")}
            <select data-testid="kind" on:change=on_kind
                prop:value=move || if form.kind.get() == WorkloadKind::Workspace { "Workspace" } else { "Job" }>
                <option value="Job">{t("Job (runs to completion)")}</option>
                <option value="Workspace">{t("Workspace (stays up)")}</option>
            </select>
        </label>
        <label>{t("Name")}{text_input(form.name, "name")}{refusal_for("name")}</label>
        <label>{t("Namespace")}
            <select data-testid="namespace" prop:value=move || form.namespace.get()
                on:change=move |ev| form.namespace.set(event_target_value(&ev))>
                {move || namespaces().into_iter().map(|ns| view! { <option value=ns.clone()>{ns.clone()}</option> }).collect_view()}
            </select>
            {refusal_for("namespace")}
        </label>
        <label>{t("Image")}
            <select data-testid="preset" on:change=move |ev| form.image.set(event_target_value(&ev))
                prop:value=move || form.image.get()>
                <option value=ImagePreset::TensorFlow.image()>{t("TensorFlow (GPU)")}</option>
                <option value=ImagePreset::PyTorch.image()>{t("PyTorch")}</option>
                <option value=ImagePreset::CudaSample.image()>{t("CUDA sample (vectoradd)")}</option>
            </select>
            {text_input(form.image, "image")}
            {refusal_for("image")}
        </label>
        <label>{t("Command, one word per line (empty: the image's own)")}
            {text_area(form.command, "command")}
            {refusal_for("command")}
        </label>
        <label>{t("Arguments, one word per line (after the command)")}
            {text_area(form.args, "args")}
            {refusal_for("args")}
        </label>
    }
}

/// GPUs, model, CPU, memory, /dev/shm, environment and volumes.
#[component]
fn ResourceFields(
    form: FormState,
    answers: Answers,
    largest: u64,
    models: Vec<(String, u64)>,
) -> impl IntoView {
    let refusal_for = move |field: &'static str| field_refusal(answers, field);
    view! {
        <label>{t("GPUs")}
            <input type="number" min="0" max=largest step="1" data-testid="gpus"
                prop:value=move || form.gpus.get() on:input=move |ev| form.gpus.set(event_target_value(&ev))/>
            {refusal_for("gpus")}
        </label>
        <label>{t("GPU model")}
            <select data-testid="gpu-model" on:change=move |ev| form.model.set(event_target_value(&ev))
                prop:value=move || form.model.get()>
                <option value="">{t("Any")}</option>
                {models.into_iter().map(|(m, n)| view! { <option value=m.clone()>{format!("{m} ({n})")}</option> }).collect_view()}
            </select>
            {refusal_for("gpuModel")}
        </label>
        <label>{t("CPU")}{text_input(form.cpu, "cpu")}{refusal_for("cpu")}</label>
        <label>{t("Memory")}{text_input(form.memory, "memory")}{refusal_for("memory")}</label>
        <label><input type="checkbox" data-testid="large-shm"
            prop:checked=move || form.shm.get().unwrap_or_else(|| large_shm_by_default(&form.image.get()))
            on:change=move |ev| form.shm.set(Some(event_target_checked(&ev)))/>
            {t("Large /dev/shm (memory-backed; PyTorch's data loaders need it)")}</label>
        <label>{t("Environment, NAME=value per line")}
            {text_area(form.env, "env")}
            {refusal_for("env")}
        </label>
        <label>{t("Volumes, claim:/path per line")}
            {text_area(form.mounts, "volumes")}
            {refusal_for("volumes")}
        </label>
    }
}

/// Ports (workspaces), lifecycle (Jobs) and priority.
#[component]
fn LifecycleFields(
    form: FormState,
    answers: Answers,
    classes: Vec<(String, i32)>,
) -> impl IntoView {
    let refusal_for = move |field: &'static str| field_refusal(answers, field);
    view! {
        {move || (form.kind.get() == WorkloadKind::Workspace).then(|| view! {
            <label>{t("Ports on a NodePort (e.g. 8888, 22)")}{text_input(form.ports, "ports")}
                {refusal_for("ports")}</label>
        })}
        {move || (form.kind.get() == WorkloadKind::Job).then(|| view! {
            <label>{t("Retries before it fails")}{text_input(form.backoff, "backoff-limit")}{refusal_for("backoffLimit")}</label>
            <label>{t("Deadline, seconds")}{text_input(form.deadline, "deadline")}{refusal_for("activeDeadlineSeconds")}</label>
            <label>{t("Delete when finished after, seconds")}{text_input(form.ttl, "ttl")}{refusal_for("ttlSecondsAfterFinished")}</label>
        })}
        {(!classes.is_empty()).then(|| view! {
            <label>{t("Priority class")}
                <select data-testid="priority-class" on:change=move |ev| form.priority.set(event_target_value(&ev))
                    prop:value=move || form.priority.get()>
                    <option value="">{t("The cluster's default")}</option>
                    {classes.iter().map(|(c, v)| view! { <option value=c.clone()>{format!("{c} ({v})")}</option> }).collect_view()}
                </select>
                {refusal_for("priorityClass")}
            </label>
        })}
    }
}

/// `/submit`.
#[component]
pub fn SubmitPage() -> impl IntoView {
    let options = Resource::new(|| (), |_| get_submit_options());
    let who = Resource::new(|| (), |_| whoami());
    let form = FormState::new();
    // `?fromNamespace=ai&from=tf`: a clone of that workload.
    let query = leptos_router::hooks::use_query_map();
    let source = move || query.with(|q| Some((q.get("fromNamespace")?, q.get("from")?)));
    let cloned = Resource::new(source, |source| async move {
        match source {
            Some((ns, name)) => Some(get_workload(ns, name).await),
            None => None,
        }
    });
    Effect::new(move |_| {
        if let Some(Some(Ok(d))) = cloned.get() {
            form.fill(&d.form);
        }
    });
    let request = Memo::new(move |_| form.request());
    let csrf = move || {
        who.get()
            .and_then(|w| w.ok())
            .flatten()
            .map(|u| u.csrf_token)
            .unwrap_or_default()
    };
    // The live check follows the form once typing pauses, not on every keystroke.
    let as_json = |r: &NewWorkload| serde_json::to_string(r).unwrap_or_default();
    let settled = RwSignal::new(as_json(&request.get_untracked()));
    Effect::new(move |pending: Option<Option<TimeoutHandle>>| {
        let body = as_json(&request.get());
        if let Some(Some(handle)) = pending {
            handle.clear();
        }
        set_timeout_with_handle(move || settled.set(body), PREVIEW_PAUSE).ok()
    });
    let preview = Resource::new(move || settled.get(), preview_workload);
    let submit = ServerAction::<SubmitWorkload>::new();
    // Derived, not memoised: read where the refusals show, inside the form's <Transition/>.
    let answers: Answers = Signal::derive(move || match submit.value().get() {
        Some(Err(e)) => Some(Err(e)),
        _ => preview.get().and_then(|p| p.err()).map(Err),
    });
    let send = move |dry_run: bool| {
        submit.dispatch(SubmitWorkload {
            csrf: csrf(),
            request: serde_json::to_string(&request.get_untracked()).unwrap_or_default(),
            dry_run,
        });
    };
    view! {
        <section class="submit">
            <h1>{t("Submit GPU work")}</h1>
            <Transition fallback=|| view! { <p class="loading">{t("Loading…")}</p> }>
                {move || options.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(opts) => {
                        if form.namespace.get_untracked().is_empty()
                            && let Some(first) = opts.job_namespaces.first()
                        {
                            form.namespace.set(first.clone());
                        }
                        let may_submit = !opts.job_namespaces.is_empty();
                        view! {
                            {(!may_submit).then(|| view! {
                                <p class="alert" data-testid="submit-denied">{t("Your account may not create Jobs in any namespace, so it cannot submit GPU work.")}</p>
                            })}
                            // `novalidate`: the server's refusal shows beside the field, in the page's language.
                            <form class="workload-form" data-testid="submit-form" novalidate=true on:submit=move |ev| { ev.prevent_default(); send(false); }>
                                <fieldset disabled=!may_submit>
                                    <WhatFields form answers options=opts.clone()/>
                                    <ResourceFields form answers largest=opts.largest_node_gpus models=opts.models.clone()/>
                                    <LifecycleFields form answers classes=opts.priority_classes.clone()/>
                                    <div class="actions">
                                        <button type="button" data-testid="dry-run" on:click=move |_| send(true)>{t("Check with the cluster")}</button>
                                        <button type="submit" data-testid="submit" disabled=move || submit.pending().get()>{t("Submit")}</button>
                                    </div>
                                </fieldset>
                            </form>
                        }.into_any()
                    }
                })}
            </Transition>
            {move || submit.value().get().map(|answer| match answer {
                Ok(done) => view! { <SubmittedView done/> }.into_any(),
                Err(PageError::Invalid(_)) => ().into_any(),
                Err(error) => view! { <ErrorView error/> }.into_any(),
            })}
            <Transition fallback=|| ()>
                {move || preview.get().and_then(|p| p.ok()).map(|p| view! {
                    <FitLine check=p.fit.clone()/>
                    <h2>{t("What will be sent")}</h2>
                    <pre class="yaml" data-testid="manifest">{p.manifest}</pre>
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SubmittedView(done: Submitted) -> impl IntoView {
    let lang = use_lang();
    let ports: Vec<String> = done
        .node_ports
        .iter()
        .map(|p| format!("{} → {}", p.port, p.node_port))
        .collect();
    let answer = done.clone();
    let text = move || {
        let done = &answer;
        let what = done.objects.join(", ");
        if done.dry_run {
            trf(
                lang.get(),
                "The cluster accepts it: {what} (nothing was made)",
                &[("what", &what)],
            )
        } else if done.created {
            trf(lang.get(), "Submitted: {what}", &[("what", &what)])
        } else {
            trf(
                lang.get(),
                "Already submitted: {what} (nothing new was made)",
                &[("what", &what)],
            )
        }
    };
    view! {
        <div class="revealed" data-testid="submitted">
            <p>{text}</p>
            {(!ports.is_empty()).then(|| view! { <p>{t("Node ports")}" "<code data-testid="node-ports">{ports.join(", ")}</code></p> })}
            <p>
                {(!done.dry_run).then(|| view! {
                    <a href=format!("/workloads/{}/{}", done.namespace, done.name) data-testid="submitted-link">{t("Open its page")}</a>" · "
                })}
                <a href="/queue">{t("See it in the queue")}</a>
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_gets_the_next_free_looking_name() {
        assert_eq!(next_name("tf"), "tf-2");
        assert_eq!(next_name("tf-2"), "tf-3");
        assert_eq!(next_name("resnet-v2-9"), "resnet-v2-10");
        assert_eq!(next_name("cuda-vectoradd"), "cuda-vectoradd-2");
    }
}
