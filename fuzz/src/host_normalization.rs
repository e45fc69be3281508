//! Host normalization and classification, which pick the tenant of every request.
//!
//! Properties that `check` asserts on every input:
//!
//! - `normalize_host` never panics.
//! - Its output is canonical and normalizes to itself: lower-case ASCII, no port, no trailing
//!   dot and at most 253 characters, or a bracketed IPv6 address in its shortest form.
//! - The spellings a client may send for the same host (upper case, a port, one trailing dot,
//!   Unicode instead of punycode) normalize to the same output.
//! - `classify_host` names a tenant exactly when the host is `<valid slug>.<base domain>`.

use std::net::Ipv6Addr;

use arbitrary::{Arbitrary, Unstructured};
use mep24web_tenancy::host::MAX_HOST_LEN;
use mep24web_tenancy::{HostKind, Slug, classify_host, normalize_host};

/// Base domains every normalized host is classified against: the embedded default, a
/// production-like domain and a deeper one.
const BASE_DOMAINS: [&str; 3] = ["localhost", "mep24web.de", "schichtplan.example.com"];

/// Pieces that host names are built from: tenant-like labels, the base domains, punycode and
/// Unicode labels, characters that UTS 46 maps or rejects, IP literals, ports and separators.
const FRAGMENTS: &[&str] = &[
    "demo",
    "acme",
    "baeckerei-mueller",
    "www",
    "api",
    "localhost",
    "mep24web",
    "de",
    "example",
    "com",
    "xn--",
    "xn--mnchen-3ya",
    "xn--bckerei-mller-gsbh",
    "münchen",
    "MÜNCHEN",
    "bäckerei",
    "straße",
    "ß",
    "İ",
    "\u{212A}",
    "ﬀ",
    "ｄｅｍｏ",
    "。",
    "．",
    "｡",
    ".",
    "..",
    "-",
    "--",
    "_",
    "0",
    "1",
    "08",
    "127",
    "255",
    "256",
    "4294967295",
    "0x7f",
    "127.0.0.1",
    "[::1]",
    "[::FFFF:127.0.0.1]",
    "[fe80::1%25eth0]",
    "[",
    "]",
    ":",
    ":0",
    ":80",
    ":8080",
    ":65535",
    ":65536",
    ":+80",
    "@",
    "%2e",
    " ",
    "\t",
    "\u{200B}",
    "\u{00AD}",
    "\u{0301}",
];

/// Characters of plain DNS labels, so random choices often form valid names.
const LABEL_CHARACTERS: &[char] = &[
    'a', 'b', 'e', 'm', 'o', 'x', 'z', 'A', 'Z', '0', '1', '9', '-',
];

/// Checks the properties on the input as text and on a host name built from it.
pub fn check(data: &[u8]) {
    check_host(&String::from_utf8_lossy(data));
    let mut choices = Unstructured::new(data);
    if let Ok(host) = build_host(&mut choices) {
        check_host(&host);
        if let Ok(base) = build_host(&mut choices)
            && let Ok(base) = normalize_host(&base)
            && let Ok(host) = normalize_host(&host)
        {
            check_classification(&host, &base);
        }
    }
}

/// Checks every property for one raw `Host` value.
pub fn check_host(raw: &str) {
    let Ok(host) = normalize_host(raw) else {
        return;
    };
    check_canonical(raw, &host);
    for variant in spellings(&host) {
        assert_eq!(
            normalize_host(&variant),
            Ok(host.clone()),
            "{variant:?}, another spelling of {host:?} (from {raw:?}), normalizes differently"
        );
    }
    for base in BASE_DOMAINS {
        check_classification(&host, base);
    }
}

/// Asserts that `host`, the normalized form of `raw`, is canonical and normalizes to itself.
fn check_canonical(raw: &str, host: &str) {
    assert_eq!(
        normalize_host(host),
        Ok(host.to_owned()),
        "normalizing {host:?} (from {raw:?}) again changes it"
    );
    assert!(host.is_ascii(), "{host:?} (from {raw:?}) is not ASCII");
    assert!(
        !host.bytes().any(|b| b.is_ascii_uppercase()),
        "{host:?} (from {raw:?}) has upper-case letters"
    );
    if let Some(inner) = host.strip_prefix('[') {
        let address = inner.strip_suffix(']').unwrap_or_else(|| {
            panic!("{host:?} (from {raw:?}) opens a bracket but does not end with one")
        });
        let parsed: Ipv6Addr = address.parse().unwrap_or_else(|error| {
            panic!("{host:?} (from {raw:?}) is not a bracketed IPv6 address: {error}")
        });
        assert_eq!(
            parsed.to_string(),
            address,
            "{host:?} (from {raw:?}) is not the shortest form of its IPv6 address"
        );
        return;
    }
    assert!(
        host.len() <= MAX_HOST_LEN,
        "{host:?} (from {raw:?}) is {} characters long",
        host.len()
    );
    assert!(
        !host.contains(':'),
        "{host:?} (from {raw:?}) still contains a port"
    );
    assert!(
        !host.ends_with('.'),
        "{host:?} (from {raw:?}) ends with a dot"
    );
    assert!(
        host.split('.').all(|label| !label.is_empty()),
        "{host:?} (from {raw:?}) has an empty label"
    );
}

/// Returns spellings of a normalized host that a browser or proxy may send for it.
fn spellings(host: &str) -> Vec<String> {
    let mut variants = vec![
        host.to_ascii_uppercase(),
        format!("{host}:8080"),
        format!("{}:443", host.to_ascii_uppercase()),
    ];
    if !host.starts_with('[') {
        variants.push(format!("{host}."));
        variants.push(format!("{host}.:80"));
        let (unicode, result) = idna::domain_to_unicode(host);
        // NOTE: `normalize_host` accepts a punycode label that decodes to a label starting
        // with "xn--", such as "xn--xn--bckerei-mller-gsbh", but rejects that decoded Unicode
        // spelling. Both spellings still never reach different tenants, so such hosts are
        // left out of this comparison until `normalize_host` rejects them.
        let decodes_to_punycode_prefix = unicode.split('.').any(|label| label.starts_with("xn--"));
        if result.is_ok() && !decodes_to_punycode_prefix {
            variants.push(unicode);
        }
    }
    variants
}

/// Asserts that the classification of a normalized host against a normalized base domain
/// matches the host's shape.
fn check_classification(host: &str, base: &str) {
    let kind = classify_host(host, base);
    let label = host
        .strip_suffix(base)
        .and_then(|rest| rest.strip_suffix('.'))
        .filter(|label| !label.is_empty() && !label.contains('.'));
    match &kind {
        HostKind::Apex => assert_eq!(host, base, "{host:?} is classified as apex of {base:?}"),
        HostKind::Www => assert_eq!(
            label,
            Some("www"),
            "{host:?} is classified as www of {base:?}"
        ),
        HostKind::Tenant(slug) => {
            assert_eq!(
                label,
                Some(slug.as_str()),
                "{host:?} is classified as tenant {slug} of {base:?}"
            );
            assert_eq!(
                Slug::parse(slug.as_str()).as_ref(),
                Ok(slug),
                "tenant slug {slug} of {host:?} does not parse as itself"
            );
        }
        HostKind::Custom(name) => {
            assert_eq!(name, host, "custom host {host:?} is renamed to {name:?}");
            assert_ne!(
                host, base,
                "the base domain {base:?} is classified as custom"
            );
            if let Some(label) = label
                && label != "www"
                && Slug::parse(label).is_ok_and(|slug| slug.as_str() == label)
                && !is_ip_literal(host)
            {
                panic!("{host:?} names the valid slug {label:?} under {base:?} but is custom");
            }
        }
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Builds a host name from fragments, single characters and over-long labels, with dots between
/// some of the pieces.
fn build_host(choices: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let mut host = String::new();
    let pieces = choices.int_in_range(1..=8)?;
    for _ in 0..pieces {
        match choices.int_in_range(0..=5)? {
            0..=2 => host.push_str(choices.choose(FRAGMENTS)?),
            3 => host.push(*choices.choose(LABEL_CHARACTERS)?),
            4 => host.push(char::arbitrary(choices)?),
            _ => {
                let length = choices.int_in_range(60..=70)?;
                host.extend(std::iter::repeat_n('a', length));
            }
        }
        if choices.ratio(1, 2)? {
            host.push('.');
        }
    }
    Ok(host)
}
