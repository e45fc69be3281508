//! Time-based one-time passwords as authenticator apps compute them: RFC 6238 TOTP over
//! RFC 4226 HOTP with HMAC-SHA-1, 6 digits and a 30-second time step, and the `otpauth://` URI
//! that apps read from a QR code.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Number of digits of a code.
pub const DIGITS: u32 = 6;
/// Length of one time step in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Steps accepted before and after the current one, for clocks that drift and codes typed late.
pub const ALLOWED_DRIFT_STEPS: i64 = 1;
/// Length of a new secret in bytes (160 bits, the HMAC-SHA-1 output size that RFC 4226
/// recommends).
pub const SECRET_BYTES: usize = 20;
/// Issuer name that authenticator apps show next to the account.
pub const ISSUER: &str = "MEP24web";

/// Generates a new random secret, encoded as RFC 4648 base32 without padding (32 characters).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    BASE32_NOPAD.encode(&bytes)
}

/// Decodes a stored base32 secret, or returns `None` when the text is not valid base32.
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    BASE32_NOPAD.decode(secret.as_bytes()).ok()
}

/// Computes the HOTP value of RFC 4226 (section 5.3): HMAC-SHA-1 of the counter, dynamic
/// truncation, reduced to `digits` decimal digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail for SHA-1.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// Returns the time step of a Unix time in seconds.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// Returns the 6-digit code of a time step, with leading zeros.
pub fn code_at_step(key: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!(
        "{:0width$}",
        hotp(key, counter, DIGITS),
        width = DIGITS as usize
    )
}

/// Returns the 6-digit code for a Unix time in seconds.
pub fn code_at(key: &[u8], unix_seconds: i64) -> String {
    code_at_step(key, step_of(unix_seconds))
}

/// Returns the code typed by a person without spaces, when it has the shape of a TOTP code
/// (6 ASCII digits). Apps show codes as "123 456", and people copy them that way.
pub fn normalize_code(input: &str) -> Option<String> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let valid = code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(code)
}

/// Finds the time step whose code matches `input`, among the current step of `unix_seconds`
/// and [`ALLOWED_DRIFT_STEPS`] steps on each side. Every candidate is compared in constant time.
pub fn matching_step(key: &[u8], input: &str, unix_seconds: i64) -> Option<i64> {
    let code = normalize_code(input)?;
    let current = step_of(unix_seconds);
    let mut found = None;
    for step in current - ALLOWED_DRIFT_STEPS..=current + ALLOWED_DRIFT_STEPS {
        let expected = code_at_step(key, step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Builds the Key URI that authenticator apps import:
/// `otpauth://totp/MEP24web:<username>@<tenant>?secret=<base32>&issuer=MEP24web`. SHA-1,
/// 6 digits and 30 seconds are the defaults of that format, so the URI leaves them out.
pub fn otpauth_uri(username: &str, tenant_slug: &str, secret: &str) -> String {
    let account = format!("{username}@{tenant_slug}");
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={secret}&issuer={ISSUER}",
        percent_encode(&account)
    )
}

/// Percent-encodes every byte of UTF-8 text except RFC 3986 unreserved characters and `@`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotp_matches_rfc4226_appendix_d() {
        let key = b"12345678901234567890";
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(hotp(key, counter as u64, 6), *value, "counter {counter}");
        }
    }

    #[test]
    fn generate_secret_is_160_bits_of_base32() {
        let secret = generate_secret();
        assert_eq!(secret.len(), 32);
        assert_eq!(decode_secret(&secret).map(|key| key.len()), Some(20));
        assert_ne!(secret, generate_secret());
        assert_eq!(decode_secret("not base32!"), None);
    }

    #[test]
    fn normalize_code_accepts_spaced_digits_only() {
        assert_eq!(normalize_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize_code("12345"), None);
        assert_eq!(normalize_code("1234567"), None);
        assert_eq!(normalize_code("12345a"), None);
        assert_eq!(normalize_code("１２３４５６"), None);
    }

    #[test]
    fn matching_step_accepts_one_step_of_drift() {
        let key = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = step_of(now);
        for offset in -1..=1 {
            let code = code_at_step(key, step + offset);
            assert_eq!(matching_step(key, &code, now), Some(step + offset));
        }
        for offset in [-2, 2] {
            let code = code_at_step(key, step + offset);
            assert_eq!(matching_step(key, &code, now), None, "offset {offset}");
        }
    }

    #[test]
    fn otpauth_uri_encodes_label() {
        assert_eq!(
            otpauth_uri("jürgen", "apotheke", "ABC"),
            "otpauth://totp/MEP24web:j%C3%BCrgen@apotheke?secret=ABC&issuer=MEP24web"
        );
    }
}
