//! Password hashing: Argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane), PHC strings
//! with a random 16-byte salt each.

use crate::Error;
use argon2::{
    Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _, password_hash::SaltString,
};
use std::sync::LazyLock;

/// The shortest password accepted.
pub const MIN_LEN: usize = 10;

/// A password's Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str) -> Result<String, Error> {
    if password.chars().count() < MIN_LEN {
        return Err(Error::Invalid(format!(
            "a password has at least {MIN_LEN} characters"
        )));
    }
    let salt = SaltString::encode_b64(&crate::random::<16>())
        .map_err(|e| Error::Invalid(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Invalid(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (false for a malformed string).
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Verifies against a hash nobody's password matches, so that a sign-in for an unknown user
/// costs the same as one for a known user.
pub(crate) fn verify_nothing(password: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        hash_password(&hex::encode(crate::random::<16>())).expect("a 32-character password")
    });
    let _ = verify_password(&DUMMY, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify_only_the_password() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt");
        assert!(verify_password(&a, "correct horse battery"));
        assert!(!verify_password(&a, "correct horse batterY"));
        assert!(!verify_password(
            "not a phc string",
            "correct horse battery"
        ));
        assert!(matches!(hash_password("short"), Err(Error::Invalid(_))));
    }
}
