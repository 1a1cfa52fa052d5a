//! Jitrace's pure vocabulary: GS1 identifiers and Digital Link, keys, hashes and transactions.
//!
//! Invariants:
//! - No IO, no clock, no global state: every function is a pure function of its arguments
//!   (key generation, which takes the OS's randomness, is the one exception and is never used by
//!   the ledger).
//! - Every decoder is bounded: a value that decodes is a value that validates, and nothing
//!   allocates more than the input's size.
//! - Every signature names its domain ([`keys::domain`]).

pub mod code;
pub mod digital_link;
mod error;
pub mod gs1;
mod hash;
pub mod ids;
pub mod keys;
pub mod parts;
pub mod token;
pub mod tx;

pub use code::ScannedCode;
pub use digital_link::{DigitalLink, PrimaryKey};
pub use error::Error;
pub use gs1::{Gln, Gtin, Sscc};
pub use hash::Hash;
pub use ids::{LicenceId, OrgId, Role};
pub use keys::{PublicKey, SecretKey, Signature};
pub use tx::{Payload, SignedTransaction, Transaction, TxHash};
