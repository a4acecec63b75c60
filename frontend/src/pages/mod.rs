//! One module per route, and the parts every page shares: sortable table headers, a table that
//! scrolls inside its own box, and errors said in the reader's language.

pub mod access;
pub mod doctor;
pub mod gpus;
pub mod join;
pub mod join_guide;
pub mod login;
pub mod logs;
pub mod node;
pub mod nodes;
pub mod overview;
pub mod queue;
pub mod submit;
pub mod workload;

use leptos::prelude::*;

use crate::contract::{BOOTSTRAP_GROUP_PATTERN, ExporterError, GpuRow, PageError, Refusal};
use crate::i18n::{Lang, t, tr, trf, use_lang};

/// A table header cell that sorts by `key` when clicked (again: the other way round), with ▲ or ▼
/// on the current one. `descending_first`: a new key starts with the largest values (numbers).
pub fn sort_header<K>(
    label: &'static str,
    key: K,
    sort: RwSignal<(K, bool)>,
    descending_first: bool,
) -> impl IntoView
where
    K: Copy + PartialEq + Send + Sync + 'static,
{
    let lang = use_lang();
    let arrow = move || match sort.get() {
        (k, false) if k == key => " ▲",
        (k, true) if k == key => " ▼",
        _ => "",
    };
    let on_click = move |_| {
        sort.update(|(k, descending)| {
            if *k == key {
                *descending = !*descending;
            } else {
                *k = key;
                *descending = descending_first;
            }
        })
    };
    view! {
        <th class="sortable" on:click=on_click>{move || tr(lang.get(), label)}{arrow}</th>
    }
}

/// A wide table's box: the table scrolls sideways inside it, the page does not.
#[component]
pub fn TableBox(children: Children) -> impl IntoView {
    view! { <div class="table-box">{children()}</div> }
}

/// A table's pager: which rows of how many, and the buttons to the pages either side (`page`
/// is the 0-based page the table asks its server for).
#[component]
pub fn Pager(
    page: RwSignal<usize>,
    at: usize,
    size: usize,
    shown: usize,
    matching: usize,
    testid: &'static str,
) -> impl IntoView {
    let first = at * size;
    let range = format!(
        "{}–{} / {matching}",
        (first + 1).min(matching),
        first + shown
    );
    let (has_previous, has_next) = (at > 0, first + shown < matching);
    view! {
        <div class="pager" data-testid=testid>
            <button disabled=!has_previous title=t("Previous page") on:click=move |_| page.set(at.saturating_sub(1))>"‹"</button>
            <span>{range}</span>
            <button disabled=!has_next title=t("Next page") on:click=move |_| page.set(at + 1)>"›"</button>
        </div>
    }
}

/// "failed" beside a GPU whose exporter cannot read it, with the reason on hover (GPU rows and
/// the node page's cards); nothing for a GPU that works.
#[component]
pub fn GpuFailedMark(failure: Option<String>) -> impl IntoView {
    let lang = use_lang();
    failure.map(|why| {
        view! { " " <span class="bad" title=why data-testid="gpu-failed">{move || tr(lang.get(), "failed")}</span> }
    })
}

/// Who holds a GPU: the pods the user may see, how many the user may not, or whether it is idle.
pub fn gpu_holders(lang: Lang, row: &GpuRow) -> String {
    let mut parts = row.pods.clone();
    if row.hidden_pods > 0 {
        parts.push(trf(
            lang,
            "{n} pod(s) you may not see",
            &[("n", &row.hidden_pods)],
        ));
    }
    match (row.in_use, parts.is_empty()) {
        (false, _) => tr(lang, "idle").into(),
        (true, true) => tr(lang, "in use").into(),
        (true, false) => parts.join(", "),
    }
}

/// Why a page has no data, in `lang`.
pub fn error_text(lang: Lang, error: &PageError) -> String {
    match error {
        PageError::SignedOut => tr(lang, "Your session has ended: sign in again.").into(),
        PageError::Unreachable(detail) => trf(
            lang,
            "The cluster could not be reached: {detail}",
            &[("detail", detail)],
        ),
        PageError::Refused(detail) => trf(
            lang,
            "The cluster refused the request: {detail}",
            &[("detail", detail)],
        ),
        PageError::Server(detail) => trf(
            lang,
            "The dashboard could not answer: {detail}",
            &[("detail", detail)],
        ),
        PageError::BadRequest(detail) => trf(
            lang,
            "The request could not be read: {detail}",
            &[("detail", detail)],
        ),
        PageError::Forbidden(detail) => trf(
            lang,
            "Your account may not do this: {detail}",
            &[("detail", detail)],
        ),
        PageError::NotFound(detail) => trf(lang, "Not found: {detail}", &[("detail", detail)]),
        PageError::Rejected(detail) => trf(
            lang,
            "The cluster rejected the request as invalid: {detail}",
            &[("detail", detail)],
        ),
        PageError::Invalid(field) => refusal_text(lang, &field.refusal),
    }
}

/// Next to a form's field: why the form's last answer refused it, if it did. `answers` is the
/// form action's value. A list field (`env`) shows its entries' refusals too (`env[2].name`),
/// led by the entry's path.
pub fn field_refusal<T, S>(
    answers: S,
    field: &'static str,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static
where
    S: With<Value = Option<Result<T, PageError>>> + Send + Sync + 'static,
    T: 'static,
{
    let lang = use_lang();
    move || {
        answers.with(|answer| match answer {
            Some(Err(PageError::Invalid(f)))
                if f.field == field
                    || f.field
                        .strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('[')) =>
            {
                let mut text = refusal_text(lang.get(), &f.refusal);
                if f.field != field {
                    text = format!("{}: {text}", f.field);
                }
                // The cluster's own words beneath the plain ones, where they differ.
                let raw = matches!(f.refusal, Refusal::QuotaExceeded(_)).then(|| f.message.clone());
                Some(
                    view! {
                        <span class="refusal" data-testid=format!("refusal-{field}")>{text}
                            {raw.map(|raw| view! { <small class="raw mono">{raw}</small> })}
                        </span>
                    }
                    .into_any(),
                )
            }
            _ => None,
        })
    }
}

/// Why a field was refused, in `lang` (in English, kubeadm's own words).
pub fn refusal_text(lang: Lang, refusal: &Refusal) -> String {
    match (lang, refusal) {
        // In plain words in both languages; the page shows the plugin's own text beneath.
        (_, Refusal::QuotaExceeded(q)) => trf(
            lang,
            "Over the namespace's quota {quota}: asks for {requested}, {used} in use, the limit is {limited}. Wait for work there to end (see the queue), ask for less, or ask an admin to raise {quota}",
            &[("quota", &q.quota), ("requested", &q.requested), ("used", &q.used), ("limited", &q.limited)],
        ),
        (Lang::En, refusal) => refusal.english(),
        (Lang::Zh, Refusal::UnknownUsages { usages }) => trf(
            lang,
            "Unknown token usages: {usages}; valid usages: signing, authentication",
            &[("usages", usages)],
        ),
        (Lang::Zh, Refusal::InvalidGroup { group }) => trf(
            lang,
            "Invalid bootstrap group {group}: it must match {pattern}",
            &[("group", group), ("pattern", &BOOTSTRAP_GROUP_PATTERN)],
        ),
        (Lang::Zh, Refusal::GroupsNeedAuthentication) => {
            tr(lang, "Extra groups need the authentication usage").into()
        }
        (Lang::Zh, Refusal::TooLong { max }) => {
            trf(lang, "At most {max} characters", &[("max", max)])
        }
        (Lang::Zh, Refusal::TooMany { max }) => trf(lang, "At most {max} entries", &[("max", max)]),
        (Lang::Zh, Refusal::TooLarge { max }) => trf(lang, "At most {max}", &[("max", max)]),
        (Lang::Zh, Refusal::OutOfRange { min, max }) => trf(
            lang,
            "Must be between {min} and {max}",
            &[("min", min), ("max", max)],
        ),
        (Lang::Zh, Refusal::NotALabel) => tr(
            lang,
            "Use lowercase letters, digits and '-', starting and ending with a letter or digit",
        )
        .into(),
        (Lang::Zh, Refusal::NotASubdomain) => tr(
            lang,
            "Use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        )
        .into(),
        (Lang::Zh, Refusal::UnknownRole) => {
            tr(lang, "Choose view, edit, admin or cluster-admin").into()
        }
        (Lang::Zh, Refusal::Required) => tr(lang, "Required").into(),
        (Lang::Zh, Refusal::NotWholeGpus) => {
            tr(lang, "GPUs are whole devices: a whole number, 0 or more").into()
        }
        (Lang::Zh, Refusal::MoreGpusThanAnyNode { largest }) => trf(
            lang,
            "No node has that many GPUs: the largest has {largest}",
            &[("largest", largest)],
        ),
        (Lang::Zh, Refusal::NotAQuantity) => {
            tr(lang, "Use a quantity such as 500m, 4, 512Mi or 16Gi").into()
        }
        (Lang::Zh, Refusal::NotAnImage) => tr(
            lang,
            "Use an image reference such as registry.example.com/team/image:tag",
        )
        .into(),
        (Lang::Zh, Refusal::NotAnEnvName) => tr(
            lang,
            "Use letters, digits, '_', '-' or '.', not starting with a digit",
        )
        .into(),
        (Lang::Zh, Refusal::Duplicate { value }) => {
            trf(lang, "{value} is given twice", &[("value", value)])
        }
        (Lang::Zh, Refusal::NotAnAbsolutePath) => {
            tr(lang, "Use an absolute path without '..'").into()
        }
        (Lang::Zh, Refusal::ShmInUse) => tr(
            lang,
            "/dev/shm holds the large shared-memory volume: turn that off or choose another path",
        )
        .into(),
        (Lang::Zh, Refusal::NotALabelValue) => tr(
            lang,
            "Use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        )
        .into(),
        (Lang::Zh, Refusal::Cluster { message }) => {
            trf(lang, "The cluster refused it: {message}", &[("message", message)])
        }
        (Lang::Zh, Refusal::NameTaken { object }) => trf(
            lang,
            "{object} already exists and was not made by this request: choose another name, or delete it first",
            &[("object", object)],
        ),
        (Lang::Zh, Refusal::NotOneOf { choices }) => trf(
            lang,
            "choose one of: {choices}",
            &[("choices", &choices.join(", "))],
        ),
        (Lang::Zh, Refusal::PortsNeedWorkspace) => {
            tr(lang, "Only a workspace exposes ports").into()
        }
        (Lang::Zh, Refusal::NotARequestId { min, max }) => trf(
            lang,
            "Use {min} to {max} letters, digits, '-', '_' or '.' (a UUID will do)",
            &[("min", min), ("max", max)],
        ),
        (Lang::Zh, Refusal::NotATokenId) => {
            tr(lang, "A token ID is 6 characters of a-z and 0-9").into()
        }
    }
}

/// A page's error, where its data would be.
#[component]
pub fn ErrorView(error: PageError) -> impl IntoView {
    let lang = use_lang();
    view! { <p class="error" role="alert">{move || error_text(lang.get(), &error)}</p> }
}

/// Why a node's exporter has no fresh data, in `lang`.
pub fn exporter_error_text(lang: Lang, error: &ExporterError) -> String {
    match error {
        ExporterError::Timeout { ms } => trf(
            lang,
            "the exporter did not answer within {ms} ms",
            &[("ms", ms)],
        ),
        ExporterError::Unreachable(detail) => trf(
            lang,
            "cannot reach the exporter: {detail}",
            &[("detail", detail)],
        ),
        ExporterError::Status(status) => trf(
            lang,
            "the exporter answered HTTP {status}",
            &[("status", status)],
        ),
        ExporterError::Invalid(detail) => trf(
            lang,
            "the exporter's answer is not valid: {detail}",
            &[("detail", detail)],
        ),
        ExporterError::WrongNode(node) => trf(
            lang,
            "the exporter answered for another node ({node})",
            &[("node", node)],
        ),
        ExporterError::Prometheus(detail) => trf(
            lang,
            "asking Prometheus failed: {detail}",
            &[("detail", detail)],
        ),
        ExporterError::NoSeries => tr(
            lang,
            "Prometheus has no current samples of this node's GPUs: is the node scraped, with its name in the node, Hostname or hostname label?",
        )
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row held by `pods`, and by `hidden` pods the user may not see.
    fn row(pods: &[&str], hidden: usize) -> GpuRow {
        GpuRow {
            node: "a".into(),
            in_use: !pods.is_empty() || hidden > 0,
            pods: pods.iter().map(|p| p.to_string()).collect(),
            hidden_pods: hidden,
            ..Default::default()
        }
    }

    #[test]
    fn holders_say_in_use_even_when_the_pod_is_hidden() {
        assert_eq!(gpu_holders(Lang::En, &row(&[], 0)), "idle");
        assert_eq!(gpu_holders(Lang::Zh, &row(&[], 0)), "空闲");
        assert_eq!(
            gpu_holders(Lang::En, &row(&[], 1)),
            "1 pod(s) you may not see"
        );
        assert_eq!(gpu_holders(Lang::Zh, &row(&[], 1)), "1 个您无权查看的 Pod");
        assert_eq!(
            gpu_holders(Lang::En, &row(&["team-a/train"], 0)),
            "team-a/train"
        );
    }

    #[test]
    fn errors_speak_both_languages() {
        let e = PageError::Unreachable("timed out".into());
        assert_eq!(
            error_text(Lang::En, &e),
            "The cluster could not be reached: timed out"
        );
        assert_eq!(error_text(Lang::Zh, &e), "无法连接集群：timed out");
        let timeout = ExporterError::Timeout { ms: 2000 };
        assert_eq!(
            exporter_error_text(Lang::En, &timeout),
            "the exporter did not answer within 2000 ms"
        );
        assert_eq!(
            exporter_error_text(Lang::Zh, &ExporterError::Status(500)),
            "采集器返回 HTTP 500"
        );
    }
}
