//! The sign-in page: a bearer token, as with the Kubernetes Dashboard. The form posts to the
//! server's `/login` (it works before hydration too); a refusal comes back as a code in the query
//! string, never as the user's input.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::i18n::{t, tr, use_lang};

/// What to tell the user for a refusal code or a session end reason.
fn message(error: Option<&str>, reason: Option<&str>) -> Option<&'static str> {
    let text = match (error, reason) {
        (Some("empty"), _) => "Paste a token first.",
        (Some("rejected"), _) => {
            "The cluster does not accept this token: it is mistyped, expired or revoked. Make a new one with kubectl (below)."
        }
        (Some("anonymous"), _) => {
            "This token signs in as an anonymous user. Use a service account's token or your own."
        }
        (Some("rate-limited"), _) => {
            "Too many sign-in attempts from this address. Wait a minute and try again."
        }
        (Some("unreachable"), _) => {
            "The cluster could not be reached to check the token. Try again; if it persists, check the dashboard's logs."
        }
        (Some("cross-site"), _) => {
            "The sign-in was not sent from this page. Reload the page and sign in again."
        }
        (Some(_), _) => "Sign-in failed.",
        (None, Some("revoked")) => {
            "You were signed out: the cluster no longer accepts your token (it expired or was revoked)."
        }
        (None, Some("idle")) => "You were signed out after a period without activity.",
        (None, Some("expired")) => {
            "You were signed out: sessions last at most the configured lifetime."
        }
        (None, Some("signed-out")) => "You are signed out.",
        (None, _) => return None,
    };
    Some(text)
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let lang = use_lang();
    let notice = move || {
        query.with(|q| {
            let error = q.get("error");
            let reason = q.get("reason");
            message(error.as_deref(), reason.as_deref()).map(|text| {
                let text = tr(lang.get(), text);
                let class = if error.is_some() {
                    "notice error"
                } else {
                    "notice"
                };
                view! { <p class=class data-testid="login-message">{text}</p> }
            })
        })
    };
    view! {
        <section class="login">
            <h1>{t("Sign in")}</h1>
            {notice}
            <form method="post" action="/login" data-testid="login-form">
                <label for="token">{t("Bearer token")}</label>
                <textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false" required=true
                    placeholder="eyJhbGciOiJSUzI1NiIsImtpZCI6..."></textarea>
                <button type="submit">{t("Sign in")}</button>
            </form>
            <div class="help">
                <p>{t("The cluster decides what you may see and do (RBAC). Get a token with kubectl:")}</p>
                <pre>"kubectl -n kube-system create token dashboard-admin --duration 12h"</pre>
                <p>{t("The token stays on the dashboard's server; the browser only holds a session cookie.")}</p>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_and_session_end_has_words() {
        for code in [
            "empty",
            "rejected",
            "anonymous",
            "rate-limited",
            "unreachable",
            "cross-site",
        ] {
            assert!(
                message(Some(code), None).is_some_and(|m| m.len() > 10),
                "{code}"
            );
        }
        for reason in ["revoked", "idle", "expired", "signed-out"] {
            assert!(message(None, Some(reason)).is_some(), "{reason}");
        }
        assert_eq!(message(None, None), None);
        assert!(message(Some("<script>"), None).is_some_and(|m| !m.contains("script")));
    }
}
