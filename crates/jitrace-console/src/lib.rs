//! Console users: Argon2id passwords with lock-out, sessions with CSRF tokens, and each user's signing key sealed at rest.
//!
//! The PC console (`/` on a node) signs users in with a name and password; each user belongs
//! to one organisation and has a console role ([`ConsoleRole`]) on top of the organisation's
//! ledger roles. The node signs the user's transactions with the user's own Ed25519 member key,
//! which this crate keeps sealed ([`keystore`]) with a key derived from the user's password: it
//! is opened only at sign-in and lives in that session's memory.
//!
//! Invariants:
//! - Passwords exist only as Argon2id PHC strings ([`password`]); a signing key exists on disk
//!   only sealed with XChaCha20-Poly1305 under an Argon2id key from the user's password.
//! - A failed sign-in answers the same error, after the same work (one Argon2id verification),
//!   whether the user is unknown, the password is wrong or the account is locked.
//! - Session ids are 256 random bits; only their SHA-256 is kept, in memory, so a node restart
//!   signs everyone out (their keys were never written in the clear to survive it).
//! - Time comes in as an argument (`now_ms`), so expiry and lock-out are tested without clocks.
//!
//! HTTP (cookies, the CSRF header, Origin checks, role checks per payload kind) is the API
//! crate's `console` module; this crate decides who is signed in and what they may send
//! ([`policy`]).

mod error;
pub mod keystore;
pub mod password;
pub mod policy;
mod sessions;
mod users;

pub use error::Error;
pub use policy::ConsoleRole;
pub use sessions::{ABSOLUTE_MS, ActiveSession, IDLE_MS, SignedIn};
pub use users::{Console, LOCKOUT_MS, MAX_FAILURES, NewUser, User};

/// Random bytes from the operating system's generator.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    rand::random()
}

/// Equality that takes the same time wherever the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
