//! Syntactic email address check.
//!
//! The check catches typing and export mistakes, such as a missing `@`, two addresses in one
//! cell or a display name in front of the address. It does not prove that the mailbox exists.

/// Maximum address length. RFC 5321 limits a path, including its angle brackets, to 256 octets.
const MAX_ADDRESS_CHARS: usize = 254;
/// Maximum length of the part before the `@` (RFC 5321).
const MAX_LOCAL_PART_CHARS: usize = 64;
/// Maximum length of one domain label (RFC 1035).
const MAX_LABEL_CHARS: usize = 63;

/// Returns whether `address` has the shape `local@domain.tld`.
///
/// The local part accepts letters and digits, including non-ASCII ones, and the RFC 5322 atext
/// symbols, with dots only between other characters. Quoted local parts are rejected. The
/// domain needs at least two labels of letters, digits and inner hyphens. Its last label must
/// not be all digits, so IP addresses are rejected. Lengths are counted in characters.
pub fn is_valid_email(address: &str) -> bool {
    if address.chars().count() > MAX_ADDRESS_CHARS {
        return false;
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    is_valid_local_part(local) && is_valid_domain(domain)
}

fn is_valid_local_part(local: &str) -> bool {
    let length = local.chars().count();
    if length == 0 || length > MAX_LOCAL_PART_CHARS {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local
        .chars()
        .all(|c| c.is_alphanumeric() || c == '.' || "!#$%&'*+-/=?^_`{|}~".contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || !labels.iter().all(|label| is_valid_label(label)) {
        return false;
    }
    match labels.last() {
        Some(top_level) => !top_level.chars().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

fn is_valid_label(label: &str) -> bool {
    let length = label.chars().count();
    if length == 0 || length > MAX_LABEL_CHARS {
        return false;
    }
    if label.starts_with('-') || label.ends_with('-') {
        return false;
    }
    label.chars().all(|c| c.is_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_common_addresses() {
        let addresses = [
            "juergen.weiss@apotheke-am-markt.de",
            "k.mueller+dienstplan@filiale-heidelberg.apotheke.de",
            "info@xn--mller-kva.de",
            "jürgen@müller-apotheke.de",
            "A.Schaefer@Apotheke.DE",
            "o'brien@example.co.uk",
            "x@a.de",
        ];
        for address in addresses {
            assert!(is_valid_email(address), "{address}");
        }
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        let addresses = [
            "",
            "juergen.weiss",
            "juergen.weiss(at)apotheke.de",
            "@apotheke.de",
            "juergen@",
            "juergen@apotheke",
            "juergen@@apotheke.de",
            "a@b@apotheke.de",
            "juergen weiss@apotheke.de",
            "juergen@apotheke .de",
            "Jürgen Weiß <jw@apotheke.de>",
            "jw@apotheke.de; km@apotheke.de",
            "jw@apotheke.de,km@apotheke.de",
            ".jw@apotheke.de",
            "jw.@apotheke.de",
            "j..w@apotheke.de",
            "\"jw\"@apotheke.de",
            "jw@.apotheke.de",
            "jw@apotheke..de",
            "jw@apotheke.de.",
            "jw@-apotheke.de",
            "jw@apotheke-.de",
            "jw@apo_theke.de",
            "jw@192.168.0.1",
            "jw@[192.168.0.1]",
            "jw\t@apotheke.de",
            "jw@apotheke.de\n",
        ];
        for address in addresses {
            assert!(!is_valid_email(address), "{address:?}");
        }
    }

    #[test]
    fn email_length_limits() {
        let domain = "apotheke-am-markt.de";
        let local_64 = "a".repeat(64);
        assert!(is_valid_email(&format!("{local_64}@{domain}")));
        let local_65 = "a".repeat(65);
        assert!(!is_valid_email(&format!("{local_65}@{domain}")));

        let label_63 = "b".repeat(63);
        assert!(is_valid_email(&format!("a@{label_63}.de")));
        let label_64 = "b".repeat(64);
        assert!(!is_valid_email(&format!("a@{label_64}.de")));

        // Four 60-character labels make the domain 247 characters long.
        let long_domain = format!("{0}.{0}.{0}.{0}.de", "c".repeat(60));
        let at_limit = format!("{}@{long_domain}", "a".repeat(254 - 1 - long_domain.len()));
        assert_eq!(at_limit.chars().count(), 254);
        assert!(is_valid_email(&at_limit));
        let over_limit = format!("a{at_limit}");
        assert!(!is_valid_email(&over_limit));
    }
}
