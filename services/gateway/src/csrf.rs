//! Cross-site request forgery check for tenant hosts, by the browser's own headers.
//!
//! A state-changing request (anything but GET, HEAD and OPTIONS) is rejected when the browser
//! marks it `Sec-Fetch-Site: cross-site`, or when its `Origin` names another host than the one
//! it was sent to. Requests without either header (non-browser clients) pass, because they carry
//! no ambient cookies from a victim's browser. Together with `SameSite=Lax` session cookies this
//! covers every form without per-form tokens.

use axum::http::{HeaderMap, Method, header};

/// Returns true when the request must be rejected as cross-site.
pub fn is_cross_site(method: &Method, headers: &HeaderMap, normalized_host: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site.eq_ignore_ascii_case("cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    // Privacy-sensitive contexts send the literal `null`; such a form post is not our own page.
    if origin == "null" {
        return true;
    }
    match url::Url::parse(origin) {
        Ok(url) => url
            .host_str()
            .and_then(|host| mep24web_tenancy::normalize_host(host).ok())
            .is_none_or(|host| host != normalized_host),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn post_same_origin_passes() {
        let h = headers(&[
            ("origin", "http://acme.localhost:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(!is_cross_site(&Method::POST, &h, "acme.localhost"));
    }

    #[test]
    fn post_other_tenant_origin_rejected() {
        let h = headers(&[("origin", "http://evil.localhost:8080")]);
        assert!(is_cross_site(&Method::POST, &h, "acme.localhost"));
    }

    #[test]
    fn post_cross_site_fetch_rejected() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(is_cross_site(&Method::POST, &h, "acme.localhost"));
    }

    #[test]
    fn post_null_origin_rejected() {
        let h = headers(&[("origin", "null")]);
        assert!(is_cross_site(&Method::POST, &h, "acme.localhost"));
    }

    #[test]
    fn post_without_browser_headers_passes() {
        assert!(!is_cross_site(
            &Method::POST,
            &HeaderMap::new(),
            "acme.localhost"
        ));
    }

    #[test]
    fn get_cross_site_passes() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(!is_cross_site(&Method::GET, &h, "acme.localhost"));
    }
}
