//! Ed25519 keys and domain-separated signatures.
//!
//! Every signature Jitrace makes or checks names its domain (a namespace from [`domain`]), so a
//! signature made for one purpose — a transaction, a product code, an API request — can never be
//! replayed as another. The framing is the consensus engine's (`commonware_cryptography`):
//! the signed message is `varint(len(namespace)) ‖ namespace ‖ message`.

use crate::{Error, hash::decode_hex_array};
use borsh::{BorshDeserialize, BorshSerialize};
use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::{BatchEntry, BatchVerifier, Signer as _, Verifier as _, ed25519};
use commonware_math::algebra::Random;
use commonware_parallel::Sequential;
use std::{
    fmt,
    str::FromStr,
    sync::{Arc, LazyLock},
};

/// Public keys decoded lately. Decoding a key decompresses a curve point, which costs about a
/// third of a batched signature check, and the same signers (members, gateways, code-signing
/// keys) come back again and again. Only valid keys are kept, so a hit is exactly what decoding
/// would give.
static DECODED_KEYS: LazyLock<quick_cache::sync::Cache<[u8; 32], Arc<ed25519::PublicKey>>> =
    LazyLock::new(|| quick_cache::sync::Cache::new(16_384));

/// Signature domains. Changing one is a consensus break.
pub mod domain {
    /// Signed transactions.
    pub const TRANSACTION: &[u8] = b"jitrace/v1/tx";
    /// Product codes (GS1 AI 8030 over chain id, GTIN and serial).
    pub const PRODUCT_CODE: &[u8] = b"jitrace/v1/code";
    /// Authenticated API requests.
    pub const API_REQUEST: &[u8] = b"jitrace/v1/api";
    /// Scoped API tokens: a member's grant to another key (`token::ApiToken`).
    pub const API_TOKEN: &[u8] = b"jitrace/v1/api-token";
    /// Consensus votes and certificates (the engine's namespace).
    pub const CONSENSUS: &[u8] = b"jitrace/v1/consensus";
    /// Peer-to-peer handshakes.
    pub const P2P: &[u8] = b"jitrace/v1/p2p";
    /// A claim or transfer ticket's key, binding a redemption to its new owner.
    pub const TICKET: &[u8] = b"jitrace/v1/ticket";
}

/// An Ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// An Ed25519 private key. Never serialised except by [`SecretKey::to_hex`] for key files.
#[derive(Clone)]
pub struct SecretKey(ed25519::PrivateKey);

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        Self(ed25519::PrivateKey::random(rand::rng()))
    }

    /// A key derived from a seed: deterministic, for tests and demo data only.
    pub fn from_seed(seed: u64) -> Self {
        Self(ed25519::PrivateKey::from_seed(seed))
    }

    /// The key whose Ed25519 seed (RFC 8032 secret key bytes) is `seed`.
    pub fn from_bytes(seed: [u8; 32]) -> Result<Self, Error> {
        let key = ed25519::PrivateKey::decode(seed.to_vec()).map_err(|e| Error::BadEncoding {
            kind: "secret key",
            reason: e.to_string(),
        })?;
        Ok(Self(key))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_engine(&self.0.public_key())
    }

    /// Signs `message` in `domain`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> Signature {
        let sig = self.0.sign(domain, message);
        let mut out = [0u8; 64];
        out.copy_from_slice(sig.encode().as_ref());
        Signature(out)
    }

    /// The 32-byte seed as hex, for key files.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.encode())
    }

    /// Reads a key written by [`SecretKey::to_hex`].
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        Self::from_bytes(decode_hex_array::<32>("secret key", text)?)
    }

    /// The engine's key type, for consensus and p2p.
    pub fn to_engine(&self) -> ed25519::PrivateKey {
        self.0.clone()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public={})", self.public_key())
    }
}

impl PublicKey {
    /// Converts from the engine's key type.
    pub fn from_engine(key: &ed25519::PublicKey) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(key.as_ref());
        Self(out)
    }

    /// Converts into the engine's key type; fails for bytes that are not a curve point.
    pub fn to_engine(&self) -> Result<ed25519::PublicKey, Error> {
        self.decoded().map(|key| key.as_ref().clone())
    }

    /// The engine's key, decoded once and remembered (see [`DECODED_KEYS`]).
    fn decoded(&self) -> Result<Arc<ed25519::PublicKey>, Error> {
        if let Some(key) = DECODED_KEYS.get(&self.0) {
            return Ok(key);
        }
        let key = ed25519::PublicKey::decode(self.0.to_vec()).map_err(|e| Error::BadEncoding {
            kind: "public key",
            reason: e.to_string(),
        })?;
        let key = Arc::new(key);
        DECODED_KEYS.insert(self.0, key.clone());
        Ok(key)
    }

    /// Checks `signature` over `message` in `domain`. False for malformed keys or signatures.
    pub fn verify(&self, domain: &[u8], message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = self.decoded() else {
            return false;
        };
        let Ok(sig) = ed25519::Signature::decode(signature.0.to_vec()) else {
            return false;
        };
        key.verify(domain, message, &sig)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits that encode a valid curve point.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let key = Self(decode_hex_array::<32>("public key", text)?);
        key.to_engine()?;
        Ok(key)
    }
}

/// What an authenticated API request signs (in [`domain::API_REQUEST`]): the method, the path
/// with its query, the client's time in Unix milliseconds and the SHA-256 of the body, one per
/// line: `METHOD\nPATH?QUERY\nTIME_MS\nBODY_SHA256_HEX`.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    time_ms: u64,
    body_sha256: &crate::Hash,
) -> Vec<u8> {
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        time_ms,
        body_sha256.to_hex()
    )
    .into_bytes()
}

/// The `Authorization` header value of a signed API request.
pub fn authorization_header(
    key: &SecretKey,
    method: &str,
    path_and_query: &str,
    time_ms: u64,
    body: &[u8],
) -> String {
    let message = request_message(method, path_and_query, time_ms, &crate::Hash::of(&[body]));
    let signature = key.sign(domain::API_REQUEST, &message);
    format!(
        "Jitrace key={}, ts={}, sig={}",
        key.public_key().to_hex(),
        time_ms,
        signature.to_hex()
    )
}

/// Verifies many signatures at once (faster than one by one); false if any fails.
///
/// An empty batch verifies trivially.
pub fn verify_batch(items: &[(&PublicKey, &[u8], &[u8], &Signature)]) -> bool {
    if items.is_empty() {
        return true;
    }
    let mut decoded = Vec::with_capacity(items.len());
    for (key, domain, message, signature) in items {
        let Ok(key) = key.decoded() else {
            return false;
        };
        let Ok(sig) = ed25519::Signature::decode(signature.0.to_vec()) else {
            return false;
        };
        decoded.push((key, *domain, *message, sig));
    }
    ed25519::PublicKey::verify_batch(
        &mut rand::rng(),
        &decoded,
        |_, (public_key, namespace, message, signature)| BatchEntry {
            namespace,
            message,
            public_key,
            signature,
        },
        &Sequential,
    )
}

impl Signature {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        decode_hex_array::<64>("signature", text).map(Self)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_hex(s)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_domain_separated() {
        let key = SecretKey::from_seed(7);
        let public = key.public_key();
        let sig = key.sign(domain::TRANSACTION, b"hello");
        assert!(public.verify(domain::TRANSACTION, b"hello", &sig));
        assert!(!public.verify(domain::PRODUCT_CODE, b"hello", &sig));
        assert!(!public.verify(domain::TRANSACTION, b"hellO", &sig));
        assert!(
            !SecretKey::from_seed(8)
                .public_key()
                .verify(domain::TRANSACTION, b"hello", &sig)
        );
    }

    #[test]
    fn key_hex_round_trip() {
        let key = SecretKey::from_seed(1);
        let back = SecretKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(
            PublicKey::from_hex(&key.public_key().to_hex()).unwrap(),
            key.public_key()
        );
        assert!(PublicKey::from_hex("00").is_err());
    }

    #[test]
    fn batch_verification_accepts_good_and_rejects_one_bad() {
        let keys: Vec<_> = (0..4).map(SecretKey::from_seed).collect();
        let publics: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
        let msgs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 10]).collect();
        let sigs: Vec<_> = keys
            .iter()
            .zip(&msgs)
            .map(|(k, m)| k.sign(domain::TRANSACTION, m))
            .collect();
        let items: Vec<_> = (0..4)
            .map(|i| {
                (
                    &publics[i],
                    domain::TRANSACTION,
                    msgs[i].as_slice(),
                    &sigs[i],
                )
            })
            .collect();
        assert!(verify_batch(&items));
        let mut bad = items.clone();
        bad[2].3 = &sigs[1];
        assert!(!verify_batch(&bad));
    }
}
