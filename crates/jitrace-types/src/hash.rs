//! SHA-256 content hashes: transaction ids, block digests, media content addresses.

use crate::Error;
use borsh::{BorshDeserialize, BorshSerialize};
use commonware_cryptography::{Hasher, Sha256};
use std::{fmt, str::FromStr};

/// A SHA-256 digest.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used where there is nothing to commit to (the genesis parent).
    pub const ZERO: Self = Self([0; 32]);

    /// Hashes the concatenation of `parts`.
    pub fn of(parts: &[&[u8]]) -> Self {
        let digest = Sha256::hash(parts);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        decode_hex_array::<32>("hash", text).map(Self)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_hex(s)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Decodes exactly `N` bytes of hex (an optional `0x` prefix is accepted).
pub(crate) fn decode_hex_array<const N: usize>(
    kind: &'static str,
    text: &str,
) -> Result<[u8; N], Error> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.len() != N * 2 {
        return Err(Error::BadEncoding {
            kind,
            reason: format!("expected {} hex digits, got {}", N * 2, text.len()),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| Error::BadEncoding {
        kind,
        reason: e.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            Hash::of(&[b"a", b"bc"]).to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash::of(&[b"x"]);
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("12").is_err());
        assert!(Hash::from_hex(&"zz".repeat(32)).is_err());
    }
}
