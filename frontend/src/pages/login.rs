//! The sign-in page: a bearer token, as with the Kubernetes Dashboard. The form posts to the
//! server's `/login` (it works before hydration too); a refusal comes back as a word of
//! [`SignInRefusal`] in the query string, never as the user's input.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::contract::{SessionEnd, SignInRefusal};
use crate::i18n::{t, tr, use_lang};

/// What the query string says happened: a refusal (None: a word this page does not know), or why
/// the last session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Refused(Option<SignInRefusal>),
    Ended(SessionEnd),
}

impl Notice {
    fn from_query(error: Option<&str>, reason: Option<&str>) -> Option<Notice> {
        match (error, reason) {
            (Some(word), _) => Some(Notice::Refused(word.parse().ok())),
            (None, Some(word)) => word.parse().ok().map(Notice::Ended),
            (None, None) => None,
        }
    }

    /// The English text (the key of its translation).
    fn text(self) -> &'static str {
        match self {
            Notice::Refused(Some(SignInRefusal::Empty)) => "Paste a token first.",
            Notice::Refused(Some(SignInRefusal::Rejected)) => {
                "The cluster does not accept this token: it is mistyped, expired or revoked. Make a new one with kubectl (below)."
            }
            Notice::Refused(Some(SignInRefusal::Anonymous)) => {
                "This token signs in as an anonymous user. Use a service account's token or your own."
            }
            Notice::Refused(Some(SignInRefusal::RateLimited)) => {
                "Too many failed sign-ins from this address. Wait a minute without attempts and try again."
            }
            Notice::Refused(Some(SignInRefusal::Unreachable)) => {
                "The cluster could not be reached to check the token. Try again; if it persists, check the dashboard's logs."
            }
            Notice::Refused(Some(SignInRefusal::CrossSite)) => {
                "The sign-in was not sent from this page. Reload the page and sign in again."
            }
            Notice::Refused(Some(SignInRefusal::SessionsFull)) => {
                "The dashboard holds as many sessions as it may. Try again when some have ended, or ask its admin to raise --max-sessions."
            }
            Notice::Refused(Some(SignInRefusal::StoreUnreachable)) => {
                "The dashboard's session store (Redis) cannot be reached, so no sign-in can be kept now. Try again in a moment: sessions made before resume once it is back."
            }
            Notice::Refused(None) => "Sign-in failed.",
            Notice::Ended(SessionEnd::Revoked) => {
                "You were signed out: the cluster no longer accepts your token (it expired or was revoked)."
            }
            Notice::Ended(SessionEnd::Unverified) => {
                "You were signed out: the cluster could not confirm your token for several minutes. Sign in again once it is reachable."
            }
            Notice::Ended(SessionEnd::Idle) => {
                "You were signed out after a period without activity."
            }
            Notice::Ended(SessionEnd::Expired) => {
                "You were signed out: sessions last at most the configured lifetime."
            }
            Notice::Ended(SessionEnd::SignedOut) => "You are signed out.",
        }
    }
}

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let lang = use_lang();
    let notice = move || {
        query.with(|q| {
            let notice = Notice::from_query(q.get("error").as_deref(), q.get("reason").as_deref())?;
            let class = match notice {
                Notice::Refused(_) => "notice error",
                Notice::Ended(_) => "notice",
            };
            Some(view! { <p class=class data-testid="login-message">{tr(lang.get(), notice.text())}</p> })
        })
    };
    view! {
        <section class="login">
            <h1>{t("Sign in")}</h1>
            {notice}
            <form method="post" action="/login" data-testid="login-form">
                <label for="token">{t("Bearer token")}</label>
                <textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false" required=true
                    placeholder=t("Paste the token here")></textarea>
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
    use strum::VariantArray;

    use super::*;
    use crate::i18n::{Lang, ZH};

    #[test]
    fn every_refusal_and_session_end_has_words_in_both_languages() {
        let notices = SignInRefusal::VARIANTS
            .iter()
            .map(|r| Notice::Refused(Some(*r)))
            .chain([Notice::Refused(None)])
            .chain(SessionEnd::VARIANTS.iter().map(|e| Notice::Ended(*e)));
        let mut texts = std::collections::HashSet::new();
        for notice in notices {
            assert!(texts.insert(notice.text()), "{notice:?} shares its text");
            assert!(
                ZH.iter().any(|(en, _)| *en == notice.text()),
                "{notice:?} has no Chinese text"
            );
            assert_ne!(tr(Lang::Zh, notice.text()), notice.text());
        }
    }

    #[test]
    fn the_query_string_is_read_as_words_never_echoed() {
        assert_eq!(
            Notice::from_query(Some("rate-limited"), None),
            Some(Notice::Refused(Some(SignInRefusal::RateLimited)))
        );
        assert_eq!(
            Notice::from_query(Some("<script>"), None),
            Some(Notice::Refused(None))
        );
        assert_eq!(
            Notice::from_query(None, Some("signed-out")),
            Some(Notice::Ended(SessionEnd::SignedOut))
        );
        assert_eq!(Notice::from_query(None, Some("whatever")), None);
        assert_eq!(Notice::from_query(None, None), None);
    }
}
