//! Whether a configured URL points at this machine's loopback interface. Both services relax a
//! transport rule only there (plain http, unsealed signing keys, a cookie without `Secure`),
//! because traffic that never leaves the machine cannot be read or altered on the way.

use std::net::IpAddr;

use http::Uri;

/// The URL's scheme (lowercase) and host, if it parses as an absolute URL.
fn scheme_and_host(url: &str) -> Option<(String, String)> {
    let uri: Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    Some((scheme, host))
}

/// `localhost`, an address in 127.0.0.0/8, or `::1` (with or without brackets). Other names
/// that merely resolve to loopback (or `*.localhost`) do not count: a resolver can be told
/// otherwise, the literal forms cannot.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` is an absolute URL whose host is loopback, whatever its scheme.
pub fn is_loopback(url: &str) -> bool {
    scheme_and_host(url).is_some_and(|(_, host)| is_loopback_host(&host))
}

/// Whether `url` is plain `http://` to a loopback host: local development.
pub fn is_loopback_http(url: &str) -> bool {
    scheme_and_host(url).is_some_and(|(scheme, host)| scheme == "http" && is_loopback_host(&host))
}

/// Why a URL the service will fetch is refused, if it is: it must be `https://`, or `http://` to a
/// loopback host, or `http://` anywhere when `allow_http` says the network in between is trusted
/// (a private network such as compose's).
pub fn fetch_url_refusal(url: &str, allow_http: bool) -> Option<&'static str> {
    match scheme_and_host(url) {
        None => Some("is not an absolute URL"),
        Some((scheme, _)) if scheme == "https" => None,
        Some((scheme, host)) if scheme == "http" => {
            (!(allow_http || is_loopback_host(&host))).then_some(
                "is plain http to a host that is not loopback (use https, or set ALLOW_HTTP_JWKS=true on a trusted private network)",
            )
        }
        Some(_) => Some("is neither https nor http"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms_are_recognised() {
        for url in [
            "http://localhost:8081",
            "http://LOCALHOST",
            "http://127.0.0.1:8081/",
            "http://127.1.2.3",
            "http://[::1]:8081",
            "https://localhost/x",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://auth-service:8081",
            "https://auth.example.com",
            "http://localhost.example.com",
            "http://app.localhost",
            "http://10.0.0.1",
            "http://[::2]",
            "localhost:8081",
            "not a url",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn loopback_http_needs_both() {
        assert!(is_loopback_http("http://localhost:8081"));
        assert!(is_loopback_http("HTTP://127.0.0.1"));
        assert!(!is_loopback_http("https://localhost:8081"));
        assert!(!is_loopback_http("http://auth.example.com"));
    }

    #[test]
    fn fetch_urls_must_be_https_unless_loopback_or_allowed() {
        assert_eq!(
            fetch_url_refusal("https://auth.example.com/jwks", false),
            None
        );
        assert_eq!(fetch_url_refusal("http://127.0.0.1:9/jwks", false), None);
        assert_eq!(fetch_url_refusal("http://[::1]:9/jwks", false), None);
        assert!(fetch_url_refusal("http://auth-service:8081/jwks", false).is_some());
        assert_eq!(
            fetch_url_refusal("http://auth-service:8081/jwks", true),
            None
        );
        assert!(fetch_url_refusal("ftp://auth.example.com/jwks", true).is_some());
        assert!(fetch_url_refusal("/relative", true).is_some());
    }
}
