//! "Add nodes" (`/join`): the cluster's join tokens as `kubeadm token list` shows them (secrets
//! hidden until asked for), a form that creates one with kubeadm's defaults and rules, the exact
//! join command with a copy button, and the steps that make a GPU node ready to join
//! ([`super::join_guide`]). What the user's RBAC denies is disabled, with the reason.

use leptos::prelude::*;

use crate::api::{
    CreateJoinToken, DeleteJoinToken, RevealJoinToken, get_join_tokens, split_list, whoami,
};
use crate::contract::PageError;
use crate::contract::join::{
    DEFAULT_TTL_SECONDS, Discovery, DiscoverySource, JoinToken, JoinTokens, KUBEADM_NODE_GROUP,
    RevealedJoinToken, Signing, TokenStatus, TokenUsage,
};
use crate::format::short_duration;
use crate::i18n::{Lang, t, tr, trf, use_lang};
use crate::pages::join_guide::JoinGuide;
use crate::pages::{ErrorView, TableBox, field_refusal, sort_header};

/// The lifetimes the form offers (seconds; 0: never expires).
const TTL_CHOICES: [(u64, &str); 5] = [
    (3600, "1 hour"),
    (DEFAULT_TTL_SECONDS, "24 hours (kubeadm's default)"),
    (7 * 86_400, "7 days"),
    (30 * 86_400, "30 days"),
    (0, "Never expires"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Id,
    Ttl,
}

fn sorted(mut tokens: Vec<JoinToken>, key: SortKey, descending: bool) -> Vec<JoinToken> {
    tokens.sort_by(|a, b| {
        let ord = match key {
            SortKey::Id => a.id.cmp(&b.id),
            // Never-expiring tokens last, as the longest-lived.
            SortKey::Ttl => (a.ttl_seconds.is_none(), a.ttl_seconds, &a.id).cmp(&(
                b.ttl_seconds.is_none(),
                b.ttl_seconds,
                &b.id,
            )),
        };
        if descending { ord.reverse() } else { ord }
    });
    tokens
}

/// The TTL column, as `kubeadm token list` prints it.
fn ttl_text(lang: Lang, token: &JoinToken) -> String {
    match token.ttl_seconds {
        None => tr(lang, "<forever>").into(),
        Some(s) if s < -1 => tr(lang, "<invalid>").into(),
        Some(s) => short_duration(s),
    }
}

fn status_word(status: TokenStatus) -> &'static str {
    match status {
        TokenStatus::Valid => "valid",
        TokenStatus::Expired => "expired",
        TokenStatus::Invalid => "invalid",
    }
}

fn signing_word(signing: Signing) -> &'static str {
    match signing {
        Signing::NotRequested => "—",
        Signing::Pending => "signing pending",
        Signing::Signed => "signed",
    }
}

fn usage_word(usage: TokenUsage) -> &'static str {
    match usage {
        TokenUsage::Authentication => "authentication",
        TokenUsage::Signing => "signing",
    }
}

/// The line above the table: how many tokens, how many can still join nodes.
fn summary(lang: Lang, tokens: &[JoinToken]) -> String {
    let valid = tokens
        .iter()
        .filter(|t| t.status == TokenStatus::Valid)
        .count();
    trf(
        lang,
        "{n} join tokens · {valid} valid",
        &[("n", &tokens.len()), ("valid", &valid)],
    )
}

/// Where the join command's endpoint and CA come from, in words.
fn source_text(lang: Lang, discovery: &Discovery) -> String {
    match discovery.source {
        DiscoverySource::ClusterInfo => tr(lang, "from kube-public/cluster-info").into(),
        DiscoverySource::DashboardKubeconfig => {
            tr(lang, "from the dashboard's own kubeconfig").into()
        }
    }
}

/// Writes `text` to the clipboard (browser only).
pub(crate) fn copy_to_clipboard(text: String) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(&text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// `/join`.
#[component]
pub fn JoinPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let tokens = Resource::new(move || refresh.get(), |_| get_join_tokens());
    let who = Resource::new(|| (), |_| whoami());
    let revealed = RwSignal::new(None::<RevealedJoinToken>);
    let create = ServerAction::<CreateJoinToken>::new();
    let reveal = ServerAction::<RevealJoinToken>::new();
    let delete = ServerAction::<DeleteJoinToken>::new();
    let action_error = RwSignal::new(None::<PageError>);
    let form = TokenForm::default();
    Effect::new(move |_| {
        if let Some(result) = create.value().get() {
            match result {
                Ok(token) => {
                    action_error.set(None);
                    revealed.set(Some(token));
                    refresh.update(|n| *n += 1);
                }
                Err(PageError::Invalid(_)) => action_error.set(None),
                Err(e) => action_error.set(Some(e)),
            }
        }
    });
    Effect::new(move |_| match reveal.value().get() {
        Some(Ok(token)) => {
            action_error.set(None);
            revealed.set(Some(token));
        }
        Some(Err(e)) => action_error.set(Some(e)),
        None => {}
    });
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => {
            action_error.set(None);
            revealed.set(None);
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => action_error.set(Some(e)),
        None => {}
    });
    let lang = use_lang();
    view! {
        <section class="join">
            <h1>{t("Add nodes")}</h1>
            <Transition fallback=|| view! { <p class="loading">{t("Loading join tokens…")}</p> }>
                {move || {
                    let csrf = who
                        .get()
                        .and_then(|w| w.ok())
                        .flatten()
                        .map(|u| u.csrf_token)
                        .unwrap_or_default();
                    tokens.get().map(|result| match result {
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                        Ok(list) => {
                            let counts = list.tokens.clone();
                            view! {
                                <DiscoveryLine list=list.clone()/>
                                {move || action_error.get().map(|error| view! { <ErrorView error/> })}
                                <Revealed revealed/>
                                <CreateForm create form may=list.may_create csrf=csrf.clone() request_id=list.request_id.clone()/>
                                {if list.may_list {
                                    view! {
                                        <p class="summary" data-testid="token-summary">{move || summary(lang.get(), &counts)}</p>
                                        <TokensTable list reveal delete csrf/>
                                    }.into_any()
                                } else {
                                    view! {
                                        <p class="alert" data-testid="list-denied">{t("Your account may not list Secrets in kube-system, so the join tokens are not shown.")}</p>
                                    }.into_any()
                                }}
                            }
                            .into_any()
                        }
                    })
                }}
            </Transition>
            <JoinGuide/>
        </section>
    }
}

/// The endpoint and CA pins every join command carries, and where they were read.
#[component]
fn DiscoveryLine(list: JoinTokens) -> impl IntoView {
    let lang = use_lang();
    let problem = list.discovery_problem.clone();
    match list.discovery {
        Some(discovery) => {
            let source = discovery.clone();
            view! {
                <p class="summary" data-testid="discovery">
                    {t("API server")}" "<code>{discovery.endpoint.clone()}</code>" · "
                    {t("CA certificate hash")}" "<code data-testid="ca-hash">{discovery.ca_cert_hashes.join(" ")}</code>
                    " (" {move || source_text(lang.get(), &source)} ")"
                </p>
                {problem.map(|p| view! { <p class="alert">{t("cluster-info could not be used:")}" "<code>{p}</code></p> })}
            }
            .into_any()
        }
        None => view! {
            <p class="alert" data-testid="discovery">
                {t("The API server's address and CA are unknown, so no join command can be made:")}
                " "<code>{problem.unwrap_or_default()}</code>
            </p>
        }
        .into_any(),
    }
}

/// A token just created or asked for: its secret and join command, with copy buttons.
#[component]
fn Revealed(revealed: RwSignal<Option<RevealedJoinToken>>) -> impl IntoView {
    move || {
        revealed.get().map(|token| {
            let command = token.join_command.clone();
            let copy_command = command.clone().unwrap_or_default();
            view! {
                <div class="revealed" data-testid="revealed">
                    <p>{t("Token")}" "<code data-testid="revealed-token">{token.token.clone()}</code>
                        " " <button on:click=move |_| revealed.set(None)>{t("Hide")}</button></p>
                    {command.map(|command| view! {
                        <p>{t("Run this on the new node, as root:")}</p>
                        <pre data-testid="join-command">{command}</pre>
                        <button data-testid="copy-join-command" on:click=move |_| copy_to_clipboard(copy_command.clone())>
                            {t("Copy the join command")}
                        </button>
                    })}
                </div>
            }
        })
    }
}

/// What the token form holds; kept by the page, so the list reloading (after a token is made
/// or revoked) leaves what the user typed.
#[derive(Clone, Copy)]
struct TokenForm {
    ttl: RwSignal<u64>,
    description: RwSignal<String>,
    authentication: RwSignal<bool>,
    signing: RwSignal<bool>,
    groups: RwSignal<String>,
}

impl Default for TokenForm {
    /// kubeadm's defaults.
    fn default() -> Self {
        TokenForm {
            ttl: RwSignal::new(DEFAULT_TTL_SECONDS),
            description: RwSignal::new(String::new()),
            authentication: RwSignal::new(true),
            signing: RwSignal::new(true),
            groups: RwSignal::new(KUBEADM_NODE_GROUP.to_string()),
        }
    }
}

/// The form that creates a token: kubeadm's defaults, its refusals next to the field.
/// `request_id` is the same for every send of this form (a double click, a retry), so they
/// make one token; the list reloads after a token is made, bringing a fresh one.
#[component]
fn CreateForm(
    create: ServerAction<CreateJoinToken>,
    form: TokenForm,
    may: bool,
    csrf: String,
    request_id: String,
) -> impl IntoView {
    let TokenForm {
        ttl,
        description,
        authentication,
        signing,
        groups,
    } = form;
    let refusal_for = move |field: &'static str| field_refusal(create.value(), field);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut usages = Vec::new();
        if signing.get() {
            usages.push("signing");
        }
        if authentication.get() {
            usages.push("authentication");
        }
        create.dispatch(CreateJoinToken {
            csrf: csrf.clone(),
            ttl_seconds: ttl.get(),
            description: description.get(),
            usages: usages.join(","),
            groups: split_list(&groups.get()).join(","),
            request_id: request_id.clone(),
        });
    };
    view! {
        <form class="create-token" data-testid="create-token" on:submit=on_submit>
            <h2>{t("New join token")}</h2>
            {(!may).then(|| view! {
                <p class="alert" data-testid="create-denied">{t("Your account may not create Secrets in kube-system, so it cannot create join tokens.")}</p>
            })}
            <fieldset disabled=!may>
                <label>{t("Lifetime")}
                    <select data-testid="token-ttl" on:change=move |ev| {
                        ttl.set(event_target_value(&ev).parse().unwrap_or(DEFAULT_TTL_SECONDS))
                    }>
                        {TTL_CHOICES.iter().map(|(seconds, label)| {
                            let seconds = *seconds;
                            view! { <option value=seconds.to_string() selected=seconds == DEFAULT_TTL_SECONDS prop:selected=move || ttl.get() == seconds>{t(label)}</option> }
                        }).collect_view()}
                    </select>
                    {refusal_for("ttlSeconds")}
                </label>
                {move || (ttl.get() == 0).then(|| view! {
                    <p class="alert" data-testid="never-warning">{t("A token that never expires lets anyone who holds it join nodes until someone deletes it. Prefer a lifetime.")}</p>
                })}
                <label>{t("Description")}
                    <input type="text" data-testid="token-description" maxlength="256"
                        prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/>
                    {refusal_for("description")}
                </label>
                <span class="checks">{t("Usages")}
                    <label><input type="checkbox" data-testid="usage-authentication" prop:checked=move || authentication.get()
                        on:change=move |ev| authentication.set(event_target_checked(&ev))/>{t("authentication")}</label>
                    <label><input type="checkbox" data-testid="usage-signing" prop:checked=move || signing.get()
                        on:change=move |ev| signing.set(event_target_checked(&ev))/>{t("signing")}</label>
                    {refusal_for("usages")}
                </span>
                <label>{t("Extra groups")}
                    <input type="text" data-testid="token-groups" class="wide"
                        prop:value=move || groups.get() on:input=move |ev| groups.set(event_target_value(&ev))/>
                    {refusal_for("groups")}
                </label>
                <p class="hint">{t("Keep the kubeadm group: kubeadm's RBAC lets only it join nodes.")}</p>
                <button type="submit" data-testid="create-token-submit">{t("Create token")}</button>
            </fieldset>
        </form>
    }
}

/// Every token, sortable, with reveal and revoke (after a confirmation that names the token).
#[component]
fn TokensTable(
    list: JoinTokens,
    reveal: ServerAction<RevealJoinToken>,
    delete: ServerAction<DeleteJoinToken>,
    csrf: String,
) -> impl IntoView {
    let lang = use_lang();
    let sort = RwSignal::new((SortKey::Ttl, false));
    let confirming = RwSignal::new(None::<String>);
    let may_delete = list.may_delete;
    let tokens = list.tokens;
    let csrf = StoredValue::new(csrf);
    let rows = move || {
        let (key, descending) = sort.get();
        sorted(tokens.clone(), key, descending)
            .into_iter()
            .map(|token| {
                let id = token.id.clone();
                let (reveal_id, ask_id, confirm_id) = (id.clone(), id.clone(), id.clone());
                let usage_list = token.usages.clone();
                let ttl_token = token.clone();
                let expires = token.expires.clone();
                let groups = token.extra_groups.join(",");
                let problem = token.problem.clone();
                // An expired or malformed token joins nothing: its secret is not offered.
                let can_reveal = token.status == TokenStatus::Valid;
                view! {
                    <tr data-token=id.clone() class:stale=token.status != TokenStatus::Valid>
                        <td><code>{id.clone()}</code></td>
                        <td class="num">{move || ttl_text(lang.get(), &ttl_token)}</td>
                        <td class="mono">{move || match expires.clone() {
                            Some(at) => at,
                            None => tr(lang.get(), "<never>").to_string(),
                        }}</td>
                        <td>{move || if usage_list.is_empty() { tr(lang.get(), "<none>").to_string() } else {
                            usage_list.iter().map(|u| tr(lang.get(), usage_word(*u))).collect::<Vec<_>>().join(",")
                        }}</td>
                        <td class="wrap">{if token.description.is_empty() { "—".to_string() } else { token.description.clone() }}</td>
                        <td><code>{if groups.is_empty() { "—".to_string() } else { groups }}</code></td>
                        <td data-testid="token-status" title=problem.clone().unwrap_or_default()>
                            {t(status_word(token.status))}
                        </td>
                        <td data-testid="token-signing">{t(signing_word(token.signing))}</td>
                        <td class="actions">
                            <button data-testid="reveal-token" disabled=!can_reveal on:click=move |_| {
                                reveal.dispatch(RevealJoinToken { csrf: csrf.get_value(), id: reveal_id.clone() });
                            }>{t("Show secret")}</button>
                            {move || {
                                let asking = confirming.get().as_deref() == Some(ask_id.as_str());
                                let ask = ask_id.clone();
                                let confirm = confirm_id.clone();
                                if asking {
                                    view! {
                                        <span class="confirm" data-testid="confirm-revoke">
                                            {trf(lang.get(), "Revoke {id}? Nodes can no longer join with it.", &[("id", &confirm)])}
                                            " "
                                            <button class="danger" data-testid="confirm-revoke-yes" on:click=move |_| {
                                                confirming.set(None);
                                                delete.dispatch(DeleteJoinToken { csrf: csrf.get_value(), id: confirm.clone() });
                                            }>{t("Revoke")}</button>
                                            <button on:click=move |_| confirming.set(None)>{t("Cancel")}</button>
                                        </span>
                                    }.into_any()
                                } else {
                                    view! {
                                        <button data-testid="revoke-token" disabled=!may_delete
                                            title=move || if may_delete { String::new() } else {
                                                tr(lang.get(), "Your account may not delete Secrets in kube-system.").to_string()
                                            }
                                            on:click=move |_| confirming.set(Some(ask.clone()))>{t("Revoke")}</button>
                                    }.into_any()
                                }
                            }}
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <TableBox>
            <table class="grid" data-testid="tokens-table">
                <thead><tr>
                    {sort_header("Token ID", SortKey::Id, sort, false)}
                    {sort_header("TTL", SortKey::Ttl, sort, false)}
                    <th>{t("Expires")}</th>
                    <th>{t("Usages")}</th>
                    <th>{t("Description")}</th>
                    <th>{t("Extra groups")}</th>
                    <th>{t("Status")}</th>
                    <th>{t("Signature")}</th>
                    <th></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </TableBox>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, ttl: Option<i64>, status: TokenStatus) -> JoinToken {
        JoinToken {
            id: id.into(),
            expires: None,
            ttl_seconds: ttl,
            usages: vec![],
            description: String::new(),
            extra_groups: vec![],
            status,
            problem: None,
            signing: Signing::NotRequested,
        }
    }

    #[test]
    fn ttls_read_as_kubeadm_token_list_prints_them() {
        let cases = [
            (None, "<forever>"),
            (Some(-5), "<invalid>"),
            (Some(0), "0s"),
            (Some(59), "59s"),
            (Some(3599), "59m"),
            (Some(23 * 3600 + 59), "23h"),
            (Some(3 * 86_400), "3d"),
            (Some(800 * 86_400), "2y"),
        ];
        for (ttl, text) in cases {
            assert_eq!(
                ttl_text(Lang::En, &token("a", ttl, TokenStatus::Valid)),
                text,
                "{ttl:?}"
            );
        }
    }

    #[test]
    fn tokens_sort_by_ttl_with_the_never_expiring_last() {
        let list = vec![
            token("ccc", None, TokenStatus::Valid),
            token("bbb", Some(100), TokenStatus::Valid),
            token("aaa", Some(-10), TokenStatus::Expired),
        ];
        let ids = |v: Vec<JoinToken>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(
            ids(sorted(list.clone(), SortKey::Ttl, false)),
            ["aaa", "bbb", "ccc"]
        );
        assert_eq!(
            ids(sorted(list.clone(), SortKey::Ttl, true)),
            ["ccc", "bbb", "aaa"]
        );
        assert_eq!(ids(sorted(list, SortKey::Id, false)), ["aaa", "bbb", "ccc"]);
    }

    #[test]
    fn the_summary_speaks_both_languages() {
        let list = vec![
            token("a", Some(5), TokenStatus::Valid),
            token("b", Some(-5), TokenStatus::Expired),
        ];
        assert_eq!(summary(Lang::En, &list), "2 join tokens · 1 valid");
        assert_eq!(summary(Lang::Zh, &list), "共 2 个加入令牌 · 1 个有效");
    }
}
