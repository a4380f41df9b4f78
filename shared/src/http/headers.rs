//! Headers on every response, so that browsers and caches treat the services' answers as what they
//! are: tokens and personal data nobody may store, JSON no browser may sniff into HTML or frame,
//! URLs no page may leak as a referrer. The OpenAPI document and its `/docs` page are the exception
//! on two counts: they are the same for everyone (cacheable), and the page is a script that must be
//! allowed to run, from this origin only.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Where each service serves its OpenAPI document and the Swagger UI page that reads it.
pub const OPENAPI_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

/// Everything but the docs: not stored by the browser, a proxy or a CDN (RFC 9111 §5.2.2.5), as
/// OAuth 2.0 requires of token responses (RFC 6749 §5.1) and as personal data deserves. A route
/// that means to be cached (the JWKS, discovery) says so with its own `Cache-Control`.
pub const NO_STORE: &str = "no-store";

/// The docs: the same for every caller and changed only by a deployment.
pub const DOCS_CACHE: &str = "public, max-age=300";

/// An API answer is data, never a document: it may load nothing, run nothing, be framed by no one
/// (OWASP's REST Security Cheat Sheet). A JSON body rendered by a browser as HTML by mistake
/// still runs no script.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Swagger UI (served by utoipa-swagger-ui from the binary, no CDN): its page, scripts and styles
/// from this origin, the document and "Try it out" requests to this origin. Checked in headless
/// Chromium (the page, an operation expanded and executed) with no CSP violation reported. Two
/// allowances it needs: `style-src 'unsafe-inline'`, because the bundle injects a `<style>`
/// element at run time (a hash of it would break silently with the next Swagger UI), and
/// `img-src data:`, because its icons are SVG data URIs. No inline script runs. Anything else,
/// e.g. swagger.io's validator badge, is blocked, which also keeps the document's address from
/// reaching a third party.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The middleware: runs the request, then sets the headers on whatever answered it (a handler, a
/// fallback, a refusal of an outer layer's making inside it).
pub async fn set(request: Request, next: Next) -> Response {
    let docs = is_docs(request.uri().path());
    let mut response = next.run(request).await;
    apply(response.headers_mut(), docs);
    response
}

fn apply(headers: &mut HeaderMap, docs: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let (csp, cache) = if docs {
        (DOCS_CSP, DOCS_CACHE)
    } else {
        (API_CSP, NO_STORE)
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(cache));
}

/// `/openapi.json`, `/docs` and everything under `/docs/` (Swagger UI's files).
fn is_docs(path: &str) -> bool {
    path == OPENAPI_PATH
        || path
            .strip_prefix(DOCS_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_document_and_the_page_under_docs_count_as_docs() {
        for path in ["/openapi.json", "/docs", "/docs/", "/docs/swagger-ui.css"] {
            assert!(is_docs(path), "{path}");
        }
        for path in ["/", "/docsx", "/openapi.json/x", "/api/docs", "/api/tasks"] {
            assert!(!is_docs(path), "{path}");
        }
    }

    #[test]
    fn a_route_that_chose_its_caching_keeps_it() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        apply(&mut headers, false);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
        let mut headers = HeaderMap::new();
        apply(&mut headers, false);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }
}
