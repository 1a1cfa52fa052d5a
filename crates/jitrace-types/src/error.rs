//! The one error type of `jitrace-types`.

use thiserror::Error;

/// Everything that can go wrong while parsing, decoding or checking a value of this crate.
///
/// Variants carry enough to tell a user what to fix, never internal state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    // --- GS1 identifiers ---
    /// A GS1 key contained something other than digits.
    #[error("{kind} must contain only digits, got {value:?}")]
    NotDigits { kind: &'static str, value: String },
    /// A GS1 key had a length that the standard does not allow.
    #[error("{kind} must have {expected} digits, got {got}")]
    BadLength {
        kind: &'static str,
        expected: &'static str,
        got: usize,
    },
    /// A GS1 key's last digit did not match the mod-10 check digit of the others.
    #[error("{kind} {value} has check digit {got}, expected {expected}")]
    BadCheckDigit {
        kind: &'static str,
        value: String,
        expected: u8,
        got: u8,
    },
    /// A GS1 alphanumeric field (serial, lot, CPID, ...) was empty, too long or held a character
    /// outside GS1 character set 82 (or 39 for CPID).
    #[error("{kind} {value:?} is invalid: {reason}")]
    BadField {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },

    // --- GS1 Digital Link ---
    /// A Digital Link URI could not be parsed.
    #[error("invalid GS1 Digital Link: {0}")]
    DigitalLink(String),

    // --- keys, hashes, encodings ---
    /// Hex text did not decode into the expected number of bytes.
    #[error("invalid {kind}: {reason}")]
    BadEncoding { kind: &'static str, reason: String },
    /// A field of a transaction exceeded its bound or broke a syntactic rule.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// Bytes did not decode as the expected binary type.
    #[error("cannot decode {kind}: {reason}")]
    Decode { kind: &'static str, reason: String },
    /// A product code's signature (AI 8030) is well formed but was not made by the
    /// code-signing key for this chain, GTIN and serial. (A malformed one is
    /// [`Error::BadEncoding`] with kind `"code signature"`.)
    #[error("the code's signature does not verify: forged, altered, or signed by another key")]
    BadCodeSignature,
    /// A well-formed GS1 Digital Link that is not a product code (`/01/{gtin}/21/{serial}`
    /// with an optional `?8030=` signature and nothing else).
    #[error("not a product code: {0}")]
    NotAProductCode(String),
    /// An encoded value was larger than its bound.
    #[error("{kind} is {got} bytes, the limit is {max}")]
    TooLarge {
        kind: &'static str,
        got: usize,
        max: usize,
    },
}
