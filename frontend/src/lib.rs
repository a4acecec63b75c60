//! The gpuboard Leptos app: routes, pages and components ([`pages`]), the server functions
//! ([`api`]) and the types they exchange ([`contract`]). Its server side calls a
//! [`backend::Backend`] that the `gpuboard` binary provides as context, so this crate never
//! depends on the server and can render against any backend.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod contract;
pub mod format;
pub mod heatmap;
pub mod i18n;
pub mod live;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, StaticSegment};

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang=i18n::initial_lang().tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: the top bar (navigation, who is signed in, the language switch) and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = RwSignal::new(i18n::initial_lang());
    provide_context(lang);
    live::provide_updates();
    let t = i18n::t;
    // Runs only in the browser, once hydration is done: tests wait for this marker before clicking.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/gpuboard.css"/>
        <Title text="gpuboard"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"gpuboard"</a>
                <nav>
                    <a href="/">{t("Overview")}</a>
                    <a href="/nodes">{t("Nodes")}</a>
                    <a href="/gpus">{t("GPUs")}</a>
                    <a href="/queue">{t("Queue")}</a>
                    <a href="/submit">{t("Submit")}</a>
                    <a href="/join">{t("Add nodes")}</a>
                    <a href="/access">{t("Access")}</a>
                </nav>
                <SignedInAs/>
                <button class="lang" data-testid="lang-switch" title=t("Switch the language") on:click=move |_| {
                    let next = lang.get().other();
                    lang.set(next);
                    i18n::remember(next);
                }>{move || lang.get().switch_label()}</button>
            </header>
            <StaleClusterBanner/>
            <main>
                <Routes fallback=move || view! { <p class="empty">{t("Page not found.")}</p> }>
                    <Route path=StaticSegment("") view=pages::overview::OverviewPage/>
                    <Route path=StaticSegment("nodes") view=pages::nodes::NodesPage/>
                    <Route path=(StaticSegment("nodes"), ParamSegment("name")) view=pages::node::NodePage/>
                    <Route path=StaticSegment("gpus") view=pages::gpus::GpusPage/>
                    <Route path=StaticSegment("queue") view=pages::queue::QueuePage/>
                    <Route path=StaticSegment("submit") view=pages::submit::SubmitPage/>
                    <Route path=(StaticSegment("workloads"), ParamSegment("namespace"), ParamSegment("name")) view=pages::workload::WorkloadPage/>
                    <Route path=StaticSegment("join") view=pages::join::JoinPage/>
                    <Route path=StaticSegment("access") view=pages::access::AccessPage/>
                    <Route path=StaticSegment("login") view=pages::login::LoginPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// Who is signed in, and the sign-out button (a form carrying the session's CSRF token).
#[component]
fn SignedInAs() -> impl IntoView {
    let who = Resource::new(|| (), |_| api::whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                who.get().and_then(|w| w.ok()).flatten().map(|w| {
                    let title = w.groups.join(", ");
                    view! {
                        <span class="whoami" title=title data-testid="whoami">{w.username}</span>
                        <form method="post" action="/logout" class="signout">
                            <input type="hidden" name="csrf" value=w.csrf_token/>
                            <button type="submit" data-testid="sign-out">{i18n::t("Sign out")}</button>
                        </form>
                    }
                })
            }}
        </Suspense>
    }
}

/// Every page's warning while what it shows of the cluster is out of date: since when, for how
/// long and why, asked again after each live update (so it goes away by itself).
#[component]
fn StaleClusterBanner() -> impl IntoView {
    let updates = live::use_updates();
    let link = Resource::new(move || updates.get(), |_| api::get_cluster_link());
    let lang = i18n::use_lang();
    view! {
        <Suspense fallback=|| ()>
            {move || match link.get() {
                Some(Ok(contract::ClusterLink::Stale { since_utc, for_seconds, reason })) => {
                    let text = stale_text(lang.get(), &since_utc, for_seconds, &reason);
                    Some(view! {
                        <div class="banner stale" role="alert" data-testid="cluster-stale">{text}</div>
                    })
                }
                _ => None,
            }}
        </Suspense>
    }
}

/// The banner's words for `reason`, stale since `since` (UTC) for `seconds`.
fn stale_text(
    lang: i18n::Lang,
    since: &str,
    seconds: i64,
    reason: &contract::StaleReason,
) -> String {
    use contract::StaleReason;
    let (template, resource, code) = match reason {
        StaleReason::Unreachable => (
            "The cluster's API server has not answered since {since} UTC ({ago} ago). Nodes, pods and jobs are shown as they were then; GPU numbers still come from the exporters. This goes away by itself when the API server answers again.",
            "",
            0,
        ),
        StaleReason::Refused {
            resource,
            code: 401,
        } => (
            "Since {since} UTC ({ago} ago) the cluster does not accept the dashboard's own credentials for its watch of {resource} (HTTP 401): its service-account token or kubeconfig is no longer valid; restart the dashboard with valid ones. They are shown as they were then.",
            resource.as_str(),
            401,
        ),
        StaleReason::Failing { resource, code } => (
            "Since {since} UTC ({ago} ago) the cluster's API server fails the dashboard's watch of {resource} (HTTP {code}: overloaded or failing). They are shown as they were then; this goes away by itself when it answers again.",
            resource.as_str(),
            *code,
        ),
        StaleReason::Refused { resource, code } => (
            "Since {since} UTC ({ago} ago) the cluster refuses the dashboard's watch of {resource} (HTTP {code}): its account may lack list and watch on them (re-apply deploy/dashboard-rbac.yaml). They are shown as they were then.",
            resource.as_str(),
            *code,
        ),
        StaleReason::Relisting { resource } => (
            "Since {since} UTC ({ago} ago) the dashboard has been reading {resource} from the cluster anew (its watch expired); until it has, they are shown as they were then.",
            resource.as_str(),
            0,
        ),
    };
    let ago = format::age(seconds);
    i18n::trf(
        lang,
        template,
        &[
            ("since", &since),
            ("ago", &ago),
            ("resource", &resource),
            ("code", &code),
        ],
    )
}

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::StaleReason;

    #[test]
    fn each_stale_reason_has_its_own_words_in_both_languages() {
        let resource = || "nodes".to_string();
        let reasons = [
            StaleReason::Unreachable,
            StaleReason::Refused {
                resource: resource(),
                code: 401,
            },
            StaleReason::Refused {
                resource: resource(),
                code: 403,
            },
            StaleReason::Failing {
                resource: resource(),
                code: 503,
            },
            StaleReason::Relisting {
                resource: resource(),
            },
        ];
        let mut seen = std::collections::BTreeSet::new();
        for reason in &reasons {
            let english = stale_text(i18n::Lang::En, "2026-11-24 09:30:05", 65, reason);
            let chinese = stale_text(i18n::Lang::Zh, "2026-11-24 09:30:05", 65, reason);
            assert!(
                english.contains("09:30:05") && !english.contains('{'),
                "{english}"
            );
            assert_ne!(english, chinese, "{reason:?} is translated");
            assert!(
                !chinese.contains("Since") && !chinese.contains('{'),
                "{chinese}"
            );
            assert!(seen.insert(english), "{reason:?} has words of its own");
        }
        let failing = stale_text(i18n::Lang::En, "x", 1, &reasons[3]);
        assert!(
            failing.contains("503") && failing.contains("by itself"),
            "{failing}"
        );
        let refused = stale_text(i18n::Lang::En, "x", 1, &reasons[2]);
        assert!(
            refused.contains("403") && refused.contains("dashboard-rbac.yaml"),
            "{refused}"
        );
    }
}
