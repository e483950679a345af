//! Password hashing with Argon2id (PHC strings), always off the async runtime.
//!
//! Verification of an unknown username still runs Argon2 (against a fixed dummy hash with the
//! same parameters), so response time does not reveal which usernames exist.

use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::error::Error;

/// Argon2id cost parameters for new password hashes. Existing hashes carry their own
/// parameters in their PHC string and are verified with those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl PasswordCost {
    /// OWASP's recommended minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const RECOMMENDED: PasswordCost = PasswordCost {
        memory_kib: Params::DEFAULT_M_COST,
        iterations: Params::DEFAULT_T_COST,
        parallelism: Params::DEFAULT_P_COST,
    };

    /// The cheapest parameters Argon2 accepts. Only for tests: hashes made with these are
    /// fast to attack.
    pub const INSECURE_FOR_TESTS: PasswordCost = PasswordCost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    fn hasher(self) -> Result<Argon2<'static>, Error> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// Hashes `password` with a fresh random salt; returns the PHC string.
///
/// # Errors
/// [`Error::Internal`] if hashing fails or the blocking task dies.
pub(crate) async fn hash(password: Arc<str>, cost: PasswordCost) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let hasher = cost.hasher()?;
        hasher
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
}

/// Checks `password` against a stored PHC string; with `None` (no such account) it spends the
/// same effort on a dummy hash and answers `false`.
///
/// # Errors
/// [`Error::Internal`] if the blocking task dies. A malformed stored hash is logged and counts
/// as a mismatch.
pub(crate) async fn verify(
    password: Arc<str>,
    stored: Option<String>,
    cost: PasswordCost,
) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let hasher = cost.hasher()?;
        match stored {
            Some(phc) => match hasher.verify_password(password.as_bytes(), phc.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => {
                    tracing::error!(error = %e, "stored password hash is unusable");
                    Ok(false)
                }
            },
            None => {
                let dummy = dummy_hash(cost);
                // The result is irrelevant: this only equalises timing.
                let _ = hasher.verify_password(password.as_bytes(), dummy.as_str());
                Ok(false)
            }
        }
    })
    .await
    .map_err(|e| Error::Internal(format!("password verification task: {e}")))?
}

fn dummy_hash(cost: PasswordCost) -> String {
    static DUMMY: OnceLock<(PasswordCost, String)> = OnceLock::new();
    let (made_with, hash) = DUMMY.get_or_init(|| {
        let hash = cost
            .hasher()
            .ok()
            .and_then(|h| {
                h.hash_password_with_salt(b"insyn-dummy-password", b"insyn-dummy-salt")
                    .ok()
            })
            .map(|h| h.to_string())
            .unwrap_or_default();
        (cost, hash)
    });
    if *made_with == cost {
        hash.clone()
    } else {
        cost.hasher()
            .ok()
            .and_then(|h| {
                h.hash_password_with_salt(b"insyn-dummy-password", b"insyn-dummy-salt")
                    .ok()
            })
            .map(|h| h.to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_fail() {
        let cost = PasswordCost::INSECURE_FOR_TESTS;
        let phc = hash(Arc::from("correct horse battery"), cost)
            .await
            .expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(
            verify(Arc::from("correct horse battery"), Some(phc.clone()), cost)
                .await
                .expect("verify")
        );
        assert!(
            !verify(Arc::from("correct horse batterY"), Some(phc), cost)
                .await
                .expect("verify")
        );
        assert!(!verify(Arc::from("x"), None, cost).await.expect("verify"));
        assert!(
            !verify(Arc::from("x"), Some("not a hash".to_owned()), cost)
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn salts_differ() {
        let cost = PasswordCost::INSECURE_FOR_TESTS;
        let a = hash(Arc::from("same"), cost).await.expect("hash");
        let b = hash(Arc::from("same"), cost).await.expect("hash");
        assert_ne!(a, b);
    }
}
