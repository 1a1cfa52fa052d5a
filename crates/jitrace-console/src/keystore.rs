//! Signing keys sealed at rest: the 32-byte Ed25519 seed encrypted with XChaCha20-Poly1305
//! under a key derived by Argon2id from the user's password and a random salt, with the user's
//! name as associated data (a sealed key copied onto another user's record does not open).
//!
//! Why the password and not a node master key: a copy of the data directory (a backup, a
//! stolen disk) then holds no usable member key, and the node holds a user's key in the clear
//! only while that user is signed in. The cost: a forgotten password loses the key; an
//! organisation admin replaces it by adding a new member key (`AddMember`) for the user.

use crate::Error;
use argon2::Argon2;
use borsh::{BorshDeserialize, BorshSerialize};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, aead::Aead as _};
use jitrace_types::SecretKey;

/// A sealed signing key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SealedKey {
    /// The Argon2id salt of the key-encryption key.
    pub salt: [u8; 16],
    /// The XChaCha20 nonce (random, 24 bytes: no counter to keep).
    pub nonce: [u8; 24],
    /// The encrypted seed and its Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

fn cipher(password: &str, salt: &[u8; 16]) -> Result<XChaCha20Poly1305, Error> {
    let mut kek = [0u8; 32];
    Argon2::default()
        .hash_password_into(password.as_bytes(), salt, &mut kek)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    XChaCha20Poly1305::new_from_slice(&kek).map_err(|e| Error::Invalid(e.to_string()))
}

impl SealedKey {
    /// Seals `key` for the user `owner` with `password`.
    pub fn seal(key: &SecretKey, password: &str, owner: &str) -> Result<Self, Error> {
        let salt = crate::random::<16>();
        let nonce = crate::random::<24>();
        let seed = hex::decode(key.to_hex()).map_err(|e| Error::Invalid(e.to_string()))?;
        let ciphertext = cipher(password, &salt)?
            .encrypt(
                &nonce.into(),
                chacha20poly1305::aead::Payload {
                    msg: &seed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| Error::Invalid("the key could not be sealed".into()))?;
        Ok(Self {
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Opens the sealed key of `owner` with `password`.
    pub fn open(&self, password: &str, owner: &str) -> Result<SecretKey, Error> {
        let seed = cipher(password, &self.salt)?
            .decrypt(
                &self.nonce.into(),
                chacha20poly1305::aead::Payload {
                    msg: &self.ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| Error::KeyDoesNotOpen)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| Error::KeyDoesNotOpen)?;
        SecretKey::from_bytes(seed).map_err(|_| Error::KeyDoesNotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_password_and_owner() {
        let key = SecretKey::generate();
        let sealed = SealedKey::seal(&key, "a long passphrase", "alice").unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(32)
                .any(|w| hex::encode(w) == key.to_hex())
        );
        let opened = sealed.open("a long passphrase", "alice").unwrap();
        assert_eq!(opened.public_key(), key.public_key());
        assert!(matches!(
            sealed.open("a long passphrasE", "alice"),
            Err(Error::KeyDoesNotOpen)
        ));
        assert!(matches!(
            sealed.open("a long passphrase", "mallory"),
            Err(Error::KeyDoesNotOpen)
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(tampered.open("a long passphrase", "alice").is_err());
        let again = SealedKey::seal(&key, "a long passphrase", "alice").unwrap();
        assert_ne!(again.salt, sealed.salt);
        assert_ne!(again.ciphertext, sealed.ciphertext);
    }
}
