//! Random tokens (256 bits, URL-safe) and the hashes under which they are stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Generates a new random 256-bit token, URL-safe base64 without padding (43 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Returns the SHA-256 hex digest under which a token is stored and looked up.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Returns true when the text has the shape of a token from [`generate`], so malformed input can
/// be rejected before a database lookup.
pub fn looks_valid(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_is_unique_and_well_formed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(looks_valid(&a));
        assert_eq!(hash(&a).len(), 64);
    }

    #[test]
    fn looks_valid_rejects_other_shapes() {
        assert!(!looks_valid(""));
        assert!(!looks_valid(&"a".repeat(44)));
        assert!(!looks_valid(&format!("{}!", "a".repeat(42))));
    }
}
