//! Password hashing with Argon2id (19 MiB, t=2, p=1), run off the async runtime with bounded
//! concurrency, and the password policy: length, no username, not a common password.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

use crate::common_passwords;

/// Argon2id memory cost in KiB (19 MiB), iterations and lanes.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password, in bytes, so hashing cost stays bounded.
pub const MAX_PASSWORD_BYTES: usize = 256;

fn argon2() -> Argon2<'static> {
    // The constants above are valid Argon2 parameters, so `Params::new` cannot fail here; the
    // fallback keeps the code free of panics anyway.
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Password of [`DUMMY_HASH`], verified in place of an overlong password.
const DUMMY_PASSWORD: &str = "dummy password for timing";

/// Hash verified for unknown usernames, so that a login with an unknown name costs as much time
/// as one with a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(DUMMY_PASSWORD.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Hashes and verifies passwords on the blocking thread pool, at most `permits` at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Operations waiting for a permit. Tokio's semaphore serves waiters in order.
    waiting: Arc<AtomicUsize>,
}

impl PasswordHasher {
    /// Creates a hasher that runs at most `concurrency` hash operations at once (each takes
    /// 19 MiB of memory while it runs).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Returns how many hash operations wait for their turn right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Waits for a permit, counted in [`Self::waiting`] meanwhile.
    async fn permit(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit
    }

    /// Hashes a password into a PHC string. A password over [`MAX_PASSWORD_BYTES`] is an error and
    /// is never hashed; the policy check rejects it before.
    pub async fn hash(&self, password: &SecretString) -> anyhow::Result<String> {
        let length = password.expose_secret().len();
        if length > MAX_PASSWORD_BYTES {
            anyhow::bail!(
                "password is {length} bytes long, at most {MAX_PASSWORD_BYTES} bytes are hashed"
            );
        }
        let password = SecretString::from(password.expose_secret().to_owned());
        let _permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2()
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| anyhow::anyhow!("argon2 hashing failed: {error}"))
        })
        .await?
    }

    /// Verifies a password against a stored hash; `None` (unknown user or no password yet) is
    /// verified against a dummy hash and always fails.
    ///
    /// A password over [`MAX_PASSWORD_BYTES`] always fails without being hashed. A dummy
    /// verification runs in its place, so the check takes as long as for any other password
    /// and reveals nothing about whether the account exists.
    pub async fn verify(&self, password: &SecretString, stored: Option<&str>) -> bool {
        let overlong = password.expose_secret().len() > MAX_PASSWORD_BYTES;
        let known = stored.is_some() && !overlong;
        let (stored, password) = if overlong {
            (DUMMY_HASH.clone(), SecretString::from(DUMMY_PASSWORD))
        } else {
            (
                stored.map_or_else(|| DUMMY_HASH.clone(), str::to_owned),
                SecretString::from(password.expose_secret().to_owned()),
            )
        };
        let Ok(_permit) = self.permit().await else {
            return false;
        };
        let verified = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            argon2()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .await
        .unwrap_or(false);
        known && verified
    }
}

/// Reason a new password was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    ContainsUsername,
    /// On the list of common passwords, see [`crate::common_passwords`].
    Common,
    Mismatch,
}

impl PasswordProblem {
    /// Returns the locale key of the message shown to users.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::TooShort => "errors.password_too_short",
            Self::TooLong => "errors.password_too_long",
            Self::ContainsUsername => "errors.password_contains_username",
            Self::Common => "login_security.password.common",
            Self::Mismatch => "errors.password_mismatch",
        }
    }
}

/// Checks a new password and its repetition against the policy.
pub fn check_new_password(
    password: &str,
    repeated: &str,
    username: &str,
) -> Result<(), PasswordProblem> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordProblem::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    let username = username.trim().to_lowercase();
    if username.chars().count() >= 3 && password.to_lowercase().contains(&username) {
        return Err(PasswordProblem::ContainsUsername);
    }
    if common_passwords::is_common(password) {
        return Err(PasswordProblem::Common);
    }
    if password != repeated {
        return Err(PasswordProblem::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify_roundtrip() {
        let hasher = PasswordHasher::new(2);
        let password = SecretString::from("Sommer-Frühling-2026");
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify(&password, Some(&hash)).await);
        assert!(
            !hasher
                .verify(&SecretString::from("falsch-falsch"), Some(&hash))
                .await
        );
    }

    #[tokio::test]
    async fn verify_overlong_password_always_fails() {
        let hasher = PasswordHasher::new(1);
        let overlong = "ü".repeat(200);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let hash = argon2()
            .hash_password(overlong.as_bytes(), &salt)
            .unwrap()
            .to_string();
        let password = SecretString::from(overlong);
        assert!(!hasher.verify(&password, Some(&hash)).await);
    }

    #[tokio::test]
    async fn hash_rejects_overlong_password() {
        let hasher = PasswordHasher::new(1);
        let overlong = SecretString::from("x".repeat(MAX_PASSWORD_BYTES + 1));
        assert!(hasher.hash(&overlong).await.is_err());
        let longest = SecretString::from("x".repeat(MAX_PASSWORD_BYTES));
        assert!(hasher.hash(&longest).await.is_ok());
    }

    #[tokio::test]
    async fn verify_unknown_user_fails() {
        let hasher = PasswordHasher::new(1);
        let password = SecretString::from("dummy password for timing");
        assert!(!hasher.verify(&password, None).await);
    }

    #[test]
    fn policy_rejects_each_problem() {
        assert_eq!(
            check_new_password("kurz", "kurz", "anna"),
            Err(PasswordProblem::TooShort)
        );
        let long = "x".repeat(257);
        assert_eq!(
            check_new_password(&long, &long, "anna"),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(
            check_new_password("Anna.Schmidt-2026", "Anna.Schmidt-2026", "anna.schmidt"),
            Err(PasswordProblem::ContainsUsername)
        );
        assert_eq!(
            check_new_password("Passwort2024!", "Passwort2024!", "anna"),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check_new_password("Lange-Passphrase-1", "Lange-Passphrase-2", "anna"),
            Err(PasswordProblem::Mismatch)
        );
        assert_eq!(
            check_new_password("Lange-Passphrase-1", "Lange-Passphrase-1", "anna"),
            Ok(())
        );
    }
}
