//! Normalization and classification of the request host, which decides the tenant.
//!
//! A host `<slug>.<base domain>` names a tenant by slug. The apex `<base domain>` serves the
//! landing page and the APIs that belong to no tenant, and `www.<base domain>` redirects to the
//! apex. Every other host may be a tenant's custom domain and is looked up by its full name.

use std::net::{Ipv4Addr, Ipv6Addr};

use idna::AsciiDenyList;

use crate::slug::Slug;

/// Maximum length of a normalized host name in characters, without the trailing dot.
pub const MAX_HOST_LEN: usize = 253;

/// Maximum length of one label of a host name in characters, the DNS limit.
pub const MAX_LABEL_LEN: usize = 63;

/// Maximum length of the raw input in bytes.
///
/// The limit bounds the work that IDNA processing does on hostile input. It leaves room for a
/// 253-character name written in 4-byte UTF-8 characters, plus a port.
pub const MAX_INPUT_LEN: usize = 1024;

/// Maximum number of input characters that an [`InvalidHost`] message repeats.
const MAX_ECHO_CHARS: usize = 100;

/// Reason why a host is invalid.
///
/// Messages quote at most 100 characters of the input, with control characters escaped, so they
/// are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHost {
    #[error("host is empty")]
    Empty,

    #[error("host is {length} bytes long, at most {MAX_INPUT_LEN} bytes are accepted")]
    InputTooLong { length: usize },

    #[error("host is {length} characters long, at most {MAX_HOST_LEN} are allowed")]
    TooLong { length: usize },

    #[error(
        "host contains the invalid character {character:?}; use only letters, digits, '-' and '.'"
    )]
    InvalidCharacter { character: char },

    #[error("host contains user information ('@'), which is not allowed")]
    UserInfo,

    #[error("host contains {character:?}, which starts a path, query or fragment")]
    Path { character: char },

    #[error("host contains more than one ':'; write an IPv6 address in brackets, as in [::1]:8080")]
    TooManyColons,

    #[error("port {port:?} is invalid, expected a number from 1 to 65535")]
    InvalidPort { port: String },

    #[error("host {host:?} is not a valid bracketed IPv6 address such as [::1]:8080")]
    InvalidIpv6 { host: String },

    #[error("host {host:?} ends in a number but is not a valid IPv4 address")]
    InvalidIpv4 { host: String },

    #[error("host {host:?} is not a valid internationalized domain name")]
    Idna { host: String },

    #[error("host contains an empty label, as in 'a..b' or '.a' or 'a..'")]
    EmptyLabel,

    #[error("label {label:?} is {length} characters long, at most {MAX_LABEL_LEN} are allowed")]
    LabelTooLong { label: String, length: usize },

    #[error("label {label:?} starts or ends with a hyphen")]
    LabelHyphen { label: String },
}

/// Classification of a normalized host relative to the base domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// The base domain itself.
    Apex,
    /// `www.<base domain>`, which redirects to the apex.
    Www,
    /// `<slug>.<base domain>` with a valid slug.
    Tenant(Slug),
    /// Any other host, including IP literals and deeper subdomains of the base domain. Only a
    /// custom domain registered by a tenant resolves.
    Custom(String),
}

/// Normalizes a `Host` header value (or a configured domain) to lower-case ASCII without port.
///
/// The steps are: reject empty, over-long and obviously malformed input, remove the port, map
/// the name to ASCII with UTS 46 (which lower-cases and converts Unicode labels to punycode),
/// remove exactly one trailing dot, and validate the labels. A bracketed IPv6 address is returned
/// in brackets in its canonical form (`[::1]`). An IPv4 address is returned unchanged.
pub fn normalize_host(raw: &str) -> Result<String, InvalidHost> {
    if raw.is_empty() {
        return Err(InvalidHost::Empty);
    }
    if raw.len() > MAX_INPUT_LEN {
        return Err(InvalidHost::InputTooLong { length: raw.len() });
    }
    reject_forbidden_characters(raw)?;

    if let Some(bracketed) = raw.strip_prefix('[') {
        return normalize_ipv6(raw, bracketed);
    }

    let (name, port) = match raw.split_once(':') {
        Some((_, port)) if port.contains(':') => return Err(InvalidHost::TooManyColons),
        Some((name, port)) => (name, Some(port)),
        None => (raw, None),
    };
    if let Some(port) = port {
        validate_port(port)?;
    }
    if name.is_empty() {
        return Err(InvalidHost::Empty);
    }

    // The empty deny list lets ASCII such as '_' through, so that validate_name can name the
    // offending character instead of the IDNA crate's generic error.
    let ascii = idna::domain_to_ascii_cow(name.as_bytes(), AsciiDenyList::EMPTY).map_err(|_| {
        InvalidHost::Idna {
            host: excerpt(name),
        }
    })?;

    // The trailing dot is removed after IDNA processing, because UTS 46 maps other full stops
    // such as U+3002 to '.'.
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    validate_name(ascii)?;

    Ok(ascii.to_owned())
}

/// Classifies a host returned by [`normalize_host`] against the base domain.
///
/// `base_domain` must be normalized with [`normalize_host`] as well, because the comparison is
/// exact. A label under the base domain that is not a valid slug, and any deeper subdomain such
/// as `a.b.<base domain>`, is [`HostKind::Custom`], so the tenant lookup finds nothing for it.
pub fn classify_host(normalized: &str, base_domain: &str) -> HostKind {
    if normalized == base_domain {
        return HostKind::Apex;
    }
    if is_ip_literal(normalized) {
        return HostKind::Custom(normalized.to_owned());
    }

    let subdomain = normalized
        .strip_suffix(base_domain)
        .and_then(|rest| rest.strip_suffix('.'))
        .filter(|label| !label.is_empty() && !label.contains('.'));
    let Some(label) = subdomain else {
        return HostKind::Custom(normalized.to_owned());
    };

    if label == "www" {
        return HostKind::Www;
    }
    match Slug::parse(label) {
        // Slug::parse trims and lower-cases, so only an exact match counts as a tenant host.
        Ok(slug) if slug.as_str() == label => HostKind::Tenant(slug),
        _ => HostKind::Custom(normalized.to_owned()),
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<Ipv4Addr>().is_ok()
}

/// Rejects characters that can never be part of a host, with a message for the common mistakes
/// of passing a URL or an address with user information.
fn reject_forbidden_characters(raw: &str) -> Result<(), InvalidHost> {
    for character in raw.chars() {
        match character {
            '@' => return Err(InvalidHost::UserInfo),
            '/' | '\\' | '?' | '#' => return Err(InvalidHost::Path { character }),
            c if c.is_whitespace() || c.is_control() => {
                return Err(InvalidHost::InvalidCharacter { character });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Normalizes `[address]` or `[address]:port`, where `bracketed` is `raw` without the `[`.
fn normalize_ipv6(raw: &str, bracketed: &str) -> Result<String, InvalidHost> {
    let invalid = || InvalidHost::InvalidIpv6 { host: excerpt(raw) };

    let (address, after) = bracketed.split_once(']').ok_or_else(invalid)?;
    let address: Ipv6Addr = address.parse().map_err(|_| invalid())?;

    if !after.is_empty() {
        let port = after.strip_prefix(':').ok_or_else(invalid)?;
        validate_port(port)?;
    }

    Ok(format!("[{address}]"))
}

fn validate_port(port: &str) -> Result<(), InvalidHost> {
    let invalid = || InvalidHost::InvalidPort {
        port: excerpt(port),
    };

    // u16::from_str also accepts a leading '+', so the digits are checked first.
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(_) => Ok(()),
    }
}

/// Validates an ASCII host name after IDNA processing and trailing-dot removal.
fn validate_name(name: &str) -> Result<(), InvalidHost> {
    if name.is_empty() {
        return Err(InvalidHost::Empty);
    }
    if name.len() > MAX_HOST_LEN {
        return Err(InvalidHost::TooLong { length: name.len() });
    }

    for label in name.split('.') {
        validate_label(label)?;
    }

    // The WHATWG URL Standard parses a name whose last label is all digits as an IPv4 address
    // and rejects the URL if that fails, so such a name is valid only as an IPv4 address.
    let last_label = name.rsplit('.').next().unwrap_or(name);
    if last_label.bytes().all(|b| b.is_ascii_digit()) && name.parse::<Ipv4Addr>().is_err() {
        return Err(InvalidHost::InvalidIpv4 {
            host: excerpt(name),
        });
    }

    Ok(())
}

fn validate_label(label: &str) -> Result<(), InvalidHost> {
    if label.is_empty() {
        return Err(InvalidHost::EmptyLabel);
    }
    if let Some(character) = label
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(InvalidHost::InvalidCharacter { character });
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(InvalidHost::LabelTooLong {
            label: excerpt(label),
            length: label.len(),
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(InvalidHost::LabelHyphen {
            label: excerpt(label),
        });
    }
    Ok(())
}

/// Returns the first 100 characters of `text`, with '…' appended if anything was cut.
fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(host: &str) -> Result<String, InvalidHost> {
        Ok(host.to_owned())
    }

    #[test]
    fn normalize_keeps_plain_host() {
        assert_eq!(normalize_host("demo.localhost"), ok("demo.localhost"));
        assert_eq!(normalize_host("localhost"), ok("localhost"));
        assert_eq!(
            normalize_host("schichtplan.example.de"),
            ok("schichtplan.example.de")
        );
    }

    #[test]
    fn normalize_lowercases() {
        assert_eq!(normalize_host("Demo.LOCALHOST"), ok("demo.localhost"));
        assert_eq!(normalize_host("WWW.Example.DE:443"), ok("www.example.de"));
    }

    #[test]
    fn normalize_removes_port() {
        assert_eq!(normalize_host("demo.localhost:8080"), ok("demo.localhost"));
        assert_eq!(normalize_host("localhost:1"), ok("localhost"));
        assert_eq!(normalize_host("localhost:65535"), ok("localhost"));
        assert_eq!(normalize_host("localhost:08080"), ok("localhost"));
    }

    #[test]
    fn normalize_removes_one_trailing_dot() {
        assert_eq!(normalize_host("demo.localhost."), ok("demo.localhost"));
        assert_eq!(normalize_host("demo.localhost.:8080"), ok("demo.localhost"));
    }

    #[test]
    fn normalize_rejects_two_trailing_dots() {
        assert_eq!(normalize_host("host.."), Err(InvalidHost::EmptyLabel));
        assert_eq!(
            normalize_host("demo.localhost.."),
            Err(InvalidHost::EmptyLabel)
        );
    }

    #[test]
    fn normalize_rejects_empty_labels() {
        assert_eq!(normalize_host("a..b"), Err(InvalidHost::EmptyLabel));
        assert_eq!(normalize_host(".localhost"), Err(InvalidHost::EmptyLabel));
    }

    #[test]
    fn normalize_rejects_empty() {
        assert_eq!(normalize_host(""), Err(InvalidHost::Empty));
        assert_eq!(normalize_host(":8080"), Err(InvalidHost::Empty));
        assert_eq!(normalize_host("."), Err(InvalidHost::Empty));
    }

    #[test]
    fn normalize_converts_idn_to_punycode() {
        assert_eq!(
            normalize_host("Bäckerei.localhost"),
            ok("xn--bckerei-5wa.localhost")
        );
        assert_eq!(
            normalize_host("BÄCKEREI.localhost:8080"),
            ok("xn--bckerei-5wa.localhost")
        );
        assert_eq!(
            normalize_host("xn--bckerei-5wa.localhost"),
            ok("xn--bckerei-5wa.localhost")
        );
        assert_eq!(
            normalize_host("müller-café.de"),
            ok("xn--mller-caf-j4a4r.de")
        );
    }

    #[test]
    fn normalize_maps_ideographic_full_stop() {
        assert_eq!(
            normalize_host("bäckerei\u{3002}localhost"),
            ok("xn--bckerei-5wa.localhost")
        );
    }

    #[test]
    fn normalize_applies_uts46_mapping() {
        // Fullwidth letters fold to ASCII, the soft hyphen U+00AD is dropped, and 'ß' is kept
        // as a letter (nontransitional processing) instead of becoming "ss".
        assert_eq!(normalize_host("ｄｅｍｏ.localhost"), ok("demo.localhost"));
        assert_eq!(
            normalize_host("de\u{00AD}mo.localhost"),
            ok("demo.localhost")
        );
        assert_eq!(normalize_host("ß.de"), ok("xn--zca.de"));
    }

    #[test]
    fn normalize_rejects_invalid_punycode() {
        assert_eq!(
            normalize_host("xn--a.localhost"),
            Err(InvalidHost::Idna {
                host: "xn--a.localhost".to_owned()
            })
        );
    }

    #[test]
    fn normalize_accepts_ipv4() {
        assert_eq!(normalize_host("127.0.0.1"), ok("127.0.0.1"));
        assert_eq!(normalize_host("127.0.0.1:8080"), ok("127.0.0.1"));
    }

    #[test]
    fn normalize_rejects_numeric_non_ipv4() {
        let cases = ["1.2.3", "256.0.0.1", "1.2.3.4.5", "01.2.3.4", "example.123"];
        for host in cases {
            assert_eq!(
                normalize_host(host),
                Err(InvalidHost::InvalidIpv4 {
                    host: host.to_owned()
                }),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn normalize_accepts_numeric_inner_label() {
        assert_eq!(normalize_host("123.example.de"), ok("123.example.de"));
        assert_eq!(normalize_host("1a.localhost"), ok("1a.localhost"));
    }

    #[test]
    fn normalize_accepts_ipv6() {
        assert_eq!(normalize_host("[::1]"), ok("[::1]"));
        assert_eq!(normalize_host("[::1]:8080"), ok("[::1]"));
        assert_eq!(normalize_host("[2001:DB8::A]:443"), ok("[2001:db8::a]"));
        assert_eq!(normalize_host("[0:0:0:0:0:0:0:1]"), ok("[::1]"));
    }

    #[test]
    fn normalize_rejects_bad_ipv6() {
        let cases = [
            "[::1",
            "[]",
            "[::g]",
            "[::1]8080",
            "[::1]]",
            "[127.0.0.1]",
            "[fe80::1%25eth0]",
        ];
        for host in cases {
            assert_eq!(
                normalize_host(host),
                Err(InvalidHost::InvalidIpv6 {
                    host: host.to_owned()
                }),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn normalize_rejects_bad_ipv6_port() {
        assert_eq!(
            normalize_host("[::1]:0"),
            Err(InvalidHost::InvalidPort {
                port: "0".to_owned()
            })
        );
        assert_eq!(
            normalize_host("[::1]:"),
            Err(InvalidHost::InvalidPort {
                port: String::new()
            })
        );
    }

    #[test]
    fn normalize_rejects_unbracketed_ipv6() {
        assert_eq!(normalize_host("::1"), Err(InvalidHost::TooManyColons));
        assert_eq!(
            normalize_host("2001:db8::1"),
            Err(InvalidHost::TooManyColons)
        );
        assert_eq!(
            normalize_host("localhost:80:80"),
            Err(InvalidHost::TooManyColons)
        );
    }

    #[test]
    fn normalize_rejects_bad_ports() {
        let cases = [
            "",
            "0",
            "65536",
            "99999999999999999999",
            "abc",
            "80a",
            "+80",
            "-1",
            "８０",
        ];
        for port in cases {
            assert_eq!(
                normalize_host(&format!("localhost:{port}")),
                Err(InvalidHost::InvalidPort {
                    port: port.to_owned()
                }),
                "port {port:?}"
            );
        }
    }

    #[test]
    fn normalize_rejects_long_label() {
        let label = "a".repeat(63);
        let host = format!("{label}.localhost");
        assert_eq!(normalize_host(&host), ok(&host));

        let label = "a".repeat(64);
        assert_eq!(
            normalize_host(&format!("{label}.localhost")),
            Err(InvalidHost::LabelTooLong { label, length: 64 })
        );
    }

    #[test]
    fn normalize_rejects_long_host() {
        // Four labels of 63 characters and three dots make 255 characters.
        let label = "a".repeat(63);
        let host_255 = [label.as_str(); 4].join(".");
        assert_eq!(
            normalize_host(&host_255),
            Err(InvalidHost::TooLong { length: 255 })
        );

        let host_253 = format!("{}.{label}.{label}.{}", label, "a".repeat(61));
        assert_eq!(host_253.len(), 253);
        assert_eq!(normalize_host(&host_253), ok(&host_253));
        assert_eq!(normalize_host(&format!("{host_253}.")), ok(&host_253));

        let host_254 = format!("{}.{label}.{label}.{}", label, "a".repeat(62));
        assert_eq!(
            normalize_host(&host_254),
            Err(InvalidHost::TooLong { length: 254 })
        );
    }

    #[test]
    fn normalize_rejects_very_long_input() {
        let huge = "a".repeat(1_000_000);
        assert_eq!(
            normalize_host(&huge),
            Err(InvalidHost::InputTooLong { length: 1_000_000 })
        );

        let huge_unicode = "ä".repeat(600);
        assert_eq!(
            normalize_host(&huge_unicode),
            Err(InvalidHost::InputTooLong { length: 1200 })
        );

        // Under the input limit but over the name limit after processing.
        let long = "a".repeat(1000);
        assert_eq!(
            normalize_host(&long),
            Err(InvalidHost::TooLong { length: 1000 })
        );
    }

    #[test]
    fn normalize_rejects_underscore() {
        assert_eq!(
            normalize_host("my_shop.localhost"),
            Err(InvalidHost::InvalidCharacter { character: '_' })
        );
    }

    #[test]
    fn normalize_rejects_whitespace() {
        let cases = [
            (" demo.localhost", ' '),
            ("demo.localhost ", ' '),
            ("demo .localhost", ' '),
            ("demo\t.localhost", '\t'),
            ("demo.localhost\r\n", '\r'),
            ("demo\u{00A0}.localhost", '\u{00A0}'),
            ("demo\u{3000}.localhost", '\u{3000}'),
        ];
        for (host, character) in cases {
            assert_eq!(
                normalize_host(host),
                Err(InvalidHost::InvalidCharacter { character }),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn normalize_rejects_nul_byte() {
        assert_eq!(
            normalize_host("demo\0.localhost"),
            Err(InvalidHost::InvalidCharacter { character: '\0' })
        );
    }

    #[test]
    fn normalize_rejects_userinfo() {
        assert_eq!(
            normalize_host("user@demo.localhost"),
            Err(InvalidHost::UserInfo)
        );
        assert_eq!(
            normalize_host("user:pass@demo.localhost:8080"),
            Err(InvalidHost::UserInfo)
        );
    }

    #[test]
    fn normalize_rejects_path() {
        let cases = [
            ("demo.localhost/", '/'),
            ("demo.localhost/admin", '/'),
            ("demo.localhost:8080/x", '/'),
            ("demo.localhost?x=1", '?'),
            ("demo.localhost#top", '#'),
            ("demo.localhost\\x", '\\'),
            ("http://demo.localhost", '/'),
        ];
        for (host, character) in cases {
            assert_eq!(
                normalize_host(host),
                Err(InvalidHost::Path { character }),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn normalize_rejects_other_characters() {
        let cases = [
            ("demo!.localhost", '!'),
            ("demo*.localhost", '*'),
            ("demo%41.localhost", '%'),
            ("de]mo.localhost", ']'),
            ("demo,localhost", ','),
        ];
        for (host, character) in cases {
            assert_eq!(
                normalize_host(host),
                Err(InvalidHost::InvalidCharacter { character }),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn normalize_rejects_edge_hyphens() {
        assert_eq!(
            normalize_host("-demo.localhost"),
            Err(InvalidHost::LabelHyphen {
                label: "-demo".to_owned()
            })
        );
        assert_eq!(
            normalize_host("demo-.localhost"),
            Err(InvalidHost::LabelHyphen {
                label: "demo-".to_owned()
            })
        );
        assert_eq!(normalize_host("de-mo.localhost"), ok("de-mo.localhost"));
    }

    #[test]
    fn normalize_survives_odd_characters() {
        // Every code point below U+3100 at the start, middle and end of a label, and right after
        // the colon. A valid result must be stable under a second normalization.
        for code in 0..0x3100_u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let inputs = [
                format!("{c}demo.localhost"),
                format!("de{c}mo.localhost:8080"),
                format!("demo{c}.localhost"),
                format!("demo.localhost:{c}"),
                format!("[::{c}]:80"),
            ];
            for input in inputs {
                if let Ok(host) = normalize_host(&input) {
                    assert_eq!(normalize_host(&host), Ok(host.clone()), "input {input:?}");
                    let _ = classify_host(&host, "localhost");
                }
            }
        }
    }

    #[test]
    fn error_message_limits_echo() {
        let label = "b".repeat(200);
        let error = normalize_host(&format!("{label}.localhost"));
        let message = error.map_err(|e| e.to_string());
        let expected = format!(
            "label \"{}…\" is 200 characters long, at most 63 are allowed",
            "b".repeat(100)
        );
        assert_eq!(message, Err(expected));

        let port = "9".repeat(500);
        let message = normalize_host(&format!("localhost:{port}")).map_err(|e| e.to_string());
        let expected = format!(
            "port \"{}…\" is invalid, expected a number from 1 to 65535",
            "9".repeat(100)
        );
        assert_eq!(message, Err(expected));
    }

    #[test]
    fn error_messages_are_english() {
        assert_eq!(InvalidHost::Empty.to_string(), "host is empty");
        assert_eq!(
            InvalidHost::InvalidCharacter { character: '\0' }.to_string(),
            "host contains the invalid character '\\0'; use only letters, digits, '-' and '.'"
        );
        assert_eq!(
            InvalidHost::TooLong { length: 254 }.to_string(),
            "host is 254 characters long, at most 253 are allowed"
        );
        assert_eq!(
            InvalidHost::UserInfo.to_string(),
            "host contains user information ('@'), which is not allowed"
        );
        assert_eq!(
            InvalidHost::InvalidPort {
                port: "0".to_owned()
            }
            .to_string(),
            "port \"0\" is invalid, expected a number from 1 to 65535"
        );
    }

    #[test]
    fn excerpt_cuts_at_100_chars() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt(&"ä".repeat(100)), "ä".repeat(100));
        assert_eq!(excerpt(&"ä".repeat(101)), format!("{}…", "ä".repeat(100)));
    }

    const BASE: &str = "localhost";

    #[test]
    fn classify_apex_host() {
        assert_eq!(classify_host("localhost", BASE), HostKind::Apex);
        assert_eq!(classify_host("mep24web.de", "mep24web.de"), HostKind::Apex);
    }

    #[test]
    fn classify_www_host() {
        assert_eq!(classify_host("www.localhost", BASE), HostKind::Www);
        assert_eq!(
            classify_host("www.mep24web.de", "mep24web.de"),
            HostKind::Www
        );
    }

    #[test]
    fn classify_tenant_host() {
        let expected = Slug::parse("demo").map(HostKind::Tenant);
        assert_eq!(Ok(classify_host("demo.localhost", BASE)), expected);

        let expected = Slug::parse("baeckerei-mueller").map(HostKind::Tenant);
        assert_eq!(
            Ok(classify_host(
                "baeckerei-mueller.mep24web.de",
                "mep24web.de"
            )),
            expected
        );
    }

    #[test]
    fn classify_deeper_subdomain_custom() {
        assert_eq!(
            classify_host("a.b.localhost", BASE),
            HostKind::Custom("a.b.localhost".to_owned())
        );
        assert_eq!(
            classify_host("www.demo.localhost", BASE),
            HostKind::Custom("www.demo.localhost".to_owned())
        );
    }

    #[test]
    fn classify_invalid_slug_custom() {
        let cases = [
            "ab.localhost",
            "1abc.localhost",
            "admin.localhost",
            "xn--bckerei-5wa.localhost",
            "abc--def.localhost",
        ];
        for host in cases {
            assert_eq!(
                classify_host(host, BASE),
                HostKind::Custom(host.to_owned()),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn classify_other_domain_custom() {
        let cases = [
            "schichtplan.baeckerei.de",
            "xlocalhost",
            "localhost.de",
            "demo.localhost.de",
        ];
        for host in cases {
            assert_eq!(
                classify_host(host, BASE),
                HostKind::Custom(host.to_owned()),
                "host {host:?}"
            );
        }
    }

    #[test]
    fn classify_ip_literal_custom() {
        assert_eq!(
            classify_host("127.0.0.1", BASE),
            HostKind::Custom("127.0.0.1".to_owned())
        );
        assert_eq!(
            classify_host("[::1]", BASE),
            HostKind::Custom("[::1]".to_owned())
        );
    }

    #[test]
    fn classify_after_normalize() {
        let host = normalize_host("Demo.LocalHost.:8080");
        assert_eq!(host, ok("demo.localhost"));

        let kind = classify_host(host.as_deref().unwrap_or_default(), BASE);
        assert_eq!(Ok(kind), Slug::parse("demo").map(HostKind::Tenant));
    }
}
