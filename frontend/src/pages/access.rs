//! "Access" (`/access`): service accounts with their legacy token Secrets, a token minted for any
//! of them (TokenRequest, with the expiry the cluster actually granted), a legacy token
//! regenerated after a warning, and "give a teammate access" in one form. Tokens are shown once.

use leptos::prelude::*;

use crate::api::{GrantAccess, MintToken, RegenerateLegacyToken, get_service_accounts, whoami};
use crate::contract::PageError;
use crate::contract::access::{
    DEFAULT_TOKEN_SECONDS, GrantedRole, IssuedToken, ServiceAccountRow, ServiceAccounts,
};
use crate::format::age;
use crate::i18n::{Lang, t, trf, use_lang};
use crate::pages::{ErrorView, TableBox, field_refusal};

/// The lifetimes offered (seconds).
const LIFETIMES: [(u64, &str); 5] = [
    (600, "10 minutes"),
    (3600, "1 hour"),
    (DEFAULT_TOKEN_SECONDS, "1 day"),
    (30 * 86_400, "30 days"),
    (365 * 86_400, "1 year"),
];

fn role_text(role: GrantedRole) -> &'static str {
    match role {
        GrantedRole::View => "view: read most objects in the namespace",
        GrantedRole::Edit => "edit: read and change most objects in the namespace",
        GrantedRole::Admin => "admin: everything in the namespace",
        GrantedRole::ClusterAdmin => "cluster-admin: everything in the cluster",
    }
}

/// What the cluster did to the lifetime asked for, when it shortened it.
fn shortened(lang: Lang, token: &IssuedToken) -> Option<String> {
    let (asked, granted) = (token.requested_seconds?, token.granted_seconds?);
    // A few seconds pass between asking and reading the answer.
    (granted + 60 < i64::try_from(asked).unwrap_or(i64::MAX)).then(|| {
        trf(
            lang,
            "The cluster shortened the lifetime: asked {asked}, granted {granted}.",
            &[("asked", &age(asked as i64)), ("granted", &age(granted))],
        )
    })
}

fn summary(lang: Lang, list: &ServiceAccounts) -> String {
    let legacy: usize = list.accounts.iter().map(|a| a.legacy_tokens.len()).sum();
    trf(
        lang,
        "{n} service accounts · {legacy} legacy token Secrets",
        &[("n", &list.accounts.len()), ("legacy", &legacy)],
    )
}

fn lifetime_select(value: RwSignal<u64>, testid: &'static str) -> impl IntoView {
    view! {
        <select data-testid=testid on:change=move |ev| {
            value.set(event_target_value(&ev).parse().unwrap_or(DEFAULT_TOKEN_SECONDS))
        }>
            {LIFETIMES.iter().map(|(seconds, label)| {
                let seconds = *seconds;
                view! { <option value=seconds.to_string() selected=seconds == DEFAULT_TOKEN_SECONDS>{t(label)}</option> }
            }).collect_view()}
        </select>
    }
}

/// `/access`.
#[component]
pub fn AccessPage() -> impl IntoView {
    let lang = use_lang();
    let namespace = RwSignal::new(String::new());
    let refresh = RwSignal::new(0u32);
    let accounts = Resource::new(
        move || (namespace.get(), refresh.get()),
        |(ns, _)| get_service_accounts(ns),
    );
    let who = Resource::new(|| (), |_| whoami());
    let issued = RwSignal::new(None::<IssuedToken>);
    let action_error = RwSignal::new(None::<PageError>);
    let mint = ServerAction::<MintToken>::new();
    let regenerate = ServerAction::<RegenerateLegacyToken>::new();
    let grant = ServerAction::<GrantAccess>::new();
    let take =
        move |result: Option<Result<IssuedToken, PageError>>, quiet_invalid: bool| match result {
            Some(Ok(token)) => {
                action_error.set(None);
                issued.set(Some(token));
                refresh.update(|n| *n += 1);
            }
            Some(Err(PageError::Invalid(_))) if quiet_invalid => {}
            Some(Err(e)) => action_error.set(Some(e)),
            None => {}
        };
    Effect::new(move |_| take(mint.value().get(), false));
    Effect::new(move |_| take(regenerate.value().get(), false));
    Effect::new(move |_| take(grant.value().get(), true));
    view! {
        <section class="join">
            <h1>{t("Access")}</h1>
            <Issued issued/>
            {move || action_error.get().map(|error| view! { <ErrorView error/> })}
            // Outside the data: a user who may not list every namespace narrows it here.
            <div class="toolbar">
                <input type="search" data-testid="sa-namespace" placeholder=t("Namespace (empty: all)")
                    prop:value=move || namespace.get()
                    on:change=move |ev| namespace.set(event_target_value(&ev).trim().to_string())/>
            </div>
            <Transition fallback=|| view! { <p class="loading">{t("Loading service accounts…")}</p> }>
                {move || {
                    let csrf = who.get().and_then(|w| w.ok()).flatten().map(|u| u.csrf_token).unwrap_or_default();
                    accounts.get().map(|result| match result {
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                        Ok(list) => {
                            let counts = list.clone();
                            view! {
                                <GrantForm grant may=list.may_grant csrf=csrf.clone()/>
                                <p class="summary" data-testid="sa-summary">{move || summary(lang.get(), &counts)}</p>
                                <AccountsTable list mint regenerate csrf/>
                            }.into_any()
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

/// A token just issued: shown once, with copy and the kubectl line.
#[component]
fn Issued(issued: RwSignal<Option<IssuedToken>>) -> impl IntoView {
    let lang = use_lang();
    move || {
        issued.get().map(|token| {
            let copy = token.token.clone();
            let cut = shortened(lang.get(), &token);
            view! {
                <div class="revealed" data-testid="issued">
                    <p>{trf(lang.get(), "A token for {account}, shown once: copy it now.", &[("account", &format!("{}/{}", token.namespace, token.service_account))])}
                        " " <button on:click=move |_| issued.set(None)>{t("Hide")}</button></p>
                    <pre data-testid="issued-token">{token.token.clone()}</pre>
                    <button data-testid="copy-token" on:click=move |_| super::join::copy_to_clipboard(copy.clone())>{t("Copy the token")}</button>
                    <p>{match token.expires.clone() {
                        Some(at) => view! { {t("Expires")}" "<code data-testid="issued-expires">{at}</code> }.into_any(),
                        None => view! { {t("A legacy token does not expire: it works until its Secret is deleted.")} }.into_any(),
                    }}</p>
                    {cut.map(|text| view! { <p class="alert" data-testid="issued-shortened">{text}</p> })}
                    <p>{t("The same with kubectl:")}</p>
                    <pre data-testid="issued-kubectl">{token.kubectl.clone()}</pre>
                </div>
            }
        })
    }
}

/// "Give a teammate access": an account, a role and a first token in one form.
#[component]
fn GrantForm(grant: ServerAction<GrantAccess>, may: bool, csrf: String) -> impl IntoView {
    let namespace = RwSignal::new("default".to_string());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(GrantedRole::View);
    let lifetime = RwSignal::new(DEFAULT_TOKEN_SECONDS);
    let refusal_for = move |field: &'static str| field_refusal(grant.value(), field);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        grant.dispatch(GrantAccess {
            csrf: csrf.clone(),
            namespace: namespace.get(),
            name: name.get(),
            role: <&str>::from(role.get()).to_string(),
            expiration_seconds: lifetime.get(),
        });
    };
    view! {
        <form class="create-token" data-testid="grant-form" on:submit=on_submit>
            <h2>{t("Give a teammate access")}</h2>
            {(!may).then(|| view! {
                <p class="alert" data-testid="grant-denied">{t("Your account may not create role bindings, so it cannot give access.")}</p>
            })}
            <fieldset disabled=!may>
                <label>{t("Namespace")}
                    <input type="text" data-testid="grant-namespace" prop:value=move || namespace.get()
                        on:input=move |ev| namespace.set(event_target_value(&ev))/>
                    {refusal_for("namespace")}
                </label>
                <label>{t("Service account")}
                    <input type="text" data-testid="grant-name" prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))/>
                    {refusal_for("name")}
                </label>
                <label>{t("Role")}
                    <select data-testid="grant-role" on:change=move |ev| {
                        if let Ok(r) = event_target_value(&ev).parse() { role.set(r) }
                    }>
                        {[GrantedRole::View, GrantedRole::Edit, GrantedRole::Admin, GrantedRole::ClusterAdmin].into_iter().map(|r| {
                            let value: &'static str = r.into();
                            view! { <option value=value selected=r == GrantedRole::View>{t(role_text(r))}</option> }
                        }).collect_view()}
                    </select>
                    {refusal_for("role")}
                </label>
                <label>{t("Token lifetime")}
                    {lifetime_select(lifetime, "grant-lifetime")}
                    {refusal_for("expirationSeconds")}
                </label>
                {move || (role.get() == GrantedRole::ClusterAdmin).then(|| view! {
                    <p class="alert" data-testid="cluster-admin-warning">{t("cluster-admin can do anything in the cluster, including reading every Secret. Give it only to people who run the cluster.")}</p>
                })}
                <button type="submit" data-testid="grant-submit">{t("Create the account and its token")}</button>
            </fieldset>
        </form>
    }
}

/// Every account, with mint and regenerate (after a warning naming the account).
#[component]
fn AccountsTable(
    list: ServiceAccounts,
    mint: ServerAction<MintToken>,
    regenerate: ServerAction<RegenerateLegacyToken>,
    csrf: String,
) -> impl IntoView {
    let lang = use_lang();
    let confirming = RwSignal::new(None::<(String, String)>);
    let lifetime = RwSignal::new(DEFAULT_TOKEN_SECONDS);
    let csrf = StoredValue::new(csrf);
    // One per load of the list, which reloads after each token: a second send of the same
    // confirmation makes no second token.
    let request_id = StoredValue::new(list.request_id.clone());
    let may_mint = list.may_mint;
    let may_regenerate = list.may_regenerate;
    let rows = list
        .accounts
        .into_iter()
        .map(|account: ServiceAccountRow| {
            let key = (account.namespace.clone(), account.name.clone());
            let (mint_key, ask_key, confirm_key) = (key.clone(), key.clone(), key.clone());
            let legacy_tokens = account.legacy_tokens.clone();
            let legacy = move || {
                let lang = lang.get();
                let parts: Vec<String> = legacy_tokens
                    .iter()
                    .map(|l| {
                        let mut parts = vec![l.secret.clone()];
                        if let Some(day) = &l.last_used {
                            parts.push(trf(lang, "last used {day}", &[("day", day)]));
                        }
                        if let Some(day) = &l.invalid_since {
                            parts.push(trf(lang, "invalid since {day}", &[("day", day)]));
                        }
                        parts.join(" · ")
                    })
                    .collect();
                if parts.is_empty() { "—".to_string() } else { parts.join(", ") }
            };
            view! {
                <tr data-account=format!("{}/{}", account.namespace, account.name)>
                    <td>{account.namespace.clone()}</td>
                    <td class="name">{account.name.clone()}</td>
                    <td class="num">{age(account.age_seconds)}</td>
                    <td class="wrap"><code>{legacy}</code></td>
                    <td class="actions">
                        <button data-testid="mint-token" disabled=!may_mint on:click=move |_| {
                            mint.dispatch(MintToken {
                                csrf: csrf.get_value(),
                                namespace: mint_key.0.clone(),
                                name: mint_key.1.clone(),
                                expiration_seconds: lifetime.get_untracked(),
                            });
                        }>{t("Mint token")}</button>
                        {move || {
                            let asking = confirming.get().as_ref() == Some(&ask_key);
                            let ask = ask_key.clone();
                            let confirm = confirm_key.clone();
                            if asking {
                                view! {
                                    <span class="confirm" data-testid="confirm-regenerate">
                                        {trf(lang.get(), "Replace the legacy token of {account}? Everything that uses the old token stops working.", &[("account", &format!("{}/{}", confirm.0, confirm.1))])}
                                        " "
                                        <button class="danger" data-testid="confirm-regenerate-yes" on:click=move |_| {
                                            confirming.set(None);
                                            regenerate.dispatch(RegenerateLegacyToken { csrf: csrf.get_value(), namespace: confirm.0.clone(), name: confirm.1.clone(), request_id: request_id.get_value() });
                                        }>{t("Regenerate")}</button>
                                        <button on:click=move |_| confirming.set(None)>{t("Cancel")}</button>
                                    </span>
                                }.into_any()
                            } else {
                                view! {
                                    <button data-testid="regenerate-token" disabled=!may_regenerate on:click=move |_| confirming.set(Some(ask.clone()))>
                                        {t("Regenerate legacy token")}
                                    </button>
                                }.into_any()
                            }
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {(!may_mint).then(|| view! {
            <p class="alert" data-testid="mint-denied">{t("Your account may not mint tokens or replace token Secrets here.")}</p>
        })}
        <p class="summary">{t("Lifetime of minted tokens")}" "{lifetime_select(lifetime, "mint-lifetime")}</p>
        <TableBox>
            <table class="grid" data-testid="accounts-table">
                <thead><tr>
                    <th>{t("Namespace")}</th>
                    <th>{t("Name")}</th>
                    <th>{t("Age")}</th>
                    <th>{t("Legacy token Secrets")}</th>
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

    fn token(requested: Option<u64>, granted: Option<i64>) -> IssuedToken {
        IssuedToken {
            namespace: "team".into(),
            service_account: "alice".into(),
            token: "x".into(),
            expires: None,
            requested_seconds: requested,
            granted_seconds: granted,
            kubectl: String::new(),
        }
    }

    #[test]
    fn a_shortened_lifetime_is_said_and_a_granted_one_is_not() {
        assert_eq!(shortened(Lang::En, &token(Some(3600), Some(3598))), None);
        assert_eq!(shortened(Lang::En, &token(None, None)), None);
        assert_eq!(
            shortened(Lang::En, &token(Some(365 * 86_400), Some(90 * 86_400))).as_deref(),
            Some("The cluster shortened the lifetime: asked 365d, granted 90d.")
        );
        assert_eq!(
            shortened(Lang::Zh, &token(Some(365 * 86_400), Some(90 * 86_400))).as_deref(),
            Some("集群缩短了有效期：申请 365d，实际 90d。")
        );
    }
}
