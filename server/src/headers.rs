//! The security headers of every answer: nothing user-specific is cached (`no-store` on all but
//! the static site under `/pkg/`), no page may be framed, content types are not sniffed, HSTS
//! when asked ([`Hsts`]), and a Content-Security-Policy. A page's policy allows its
//! own scripts by the nonce Leptos puts on the inline ones it streams ([`page_policy`]); any
//! other answer gets a policy that allows nothing to run.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of an answer that is not a page (JSON, CSV, the push channel, files).
const NOTHING_RUNS: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// HSTS for a year, once the browser has come over HTTPS.
const HSTS: &str = "max-age=31536000";

/// The policy of a page whose inline scripts carry `nonce`: the site's own scripts and WASM, its
/// stylesheet and the style attributes of its bars, images from itself, requests to itself.
fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// In a page's render context: answers with the policy that lets this render's scripts run (by
/// the nonce leptos_axum made for it). Does nothing where no page is rendered.
pub fn page_policy() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&page_csp(&nonce)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Whether answers tell browsers to use only HTTPS with this host (HSTS). Browsers apply it to
/// every port of the host name: right for a TLS ingress with a name of its own, wrong for a
/// node's address, whose other NodePorts (the workspaces') serve plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts(pub bool);

/// Adds the headers to every answer (those a page's render set are kept).
pub async fn secure(State(hsts): State<Hsts>, request: Request, next: Next) -> Response {
    // The URI's parts are shared buffers: keeping it for the warning below copies no text.
    let uri = request.uri().clone();
    let static_site = uri.path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let headers = response.headers();
    let html = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        // Its scripts will be refused: the page will not come alive in the browser.
        tracing::warn!(path = uri.path(), status = %response.status(), "a page was rendered without its script policy");
    }
    add(response.headers_mut(), static_site, hsts);
    response
}

fn add(headers: &mut HeaderMap, static_site: bool, Hsts(hsts): Hsts) {
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, NOTHING_RUNS);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    if !static_site {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_not_cached_framed_or_sniffed_and_hsts_is_sent_when_asked() {
        let mut page = HeaderMap::new();
        page.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        page.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&page_csp("abc")).unwrap(),
        );
        add(&mut page, false, Hsts(true));
        assert_eq!(page[header::CACHE_CONTROL], "no-store");
        assert!(
            page[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("'nonce-abc'"),
            "a page's own policy is kept"
        );
        assert_eq!(page[header::STRICT_TRANSPORT_SECURITY], HSTS);
        assert_eq!(page[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let mut script = HeaderMap::new();
        add(&mut script, true, Hsts(false));
        assert!(script.get(header::CACHE_CONTROL).is_none());
        assert!(script.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        assert_eq!(script[header::CONTENT_SECURITY_POLICY], NOTHING_RUNS);
        assert_eq!(script[header::X_FRAME_OPTIONS], "DENY");
    }
}
