//! Jitrace's ledger: a deterministic state machine of organisations, licences, products, code
//! batches, channels, and the life of every product code.
//!
//! Architecture invariant: this crate does no IO. No clock (time and height come in as
//! [`BlockEnv`]), no randomness, no `HashMap` iteration, no floats. The same state, block
//! environment and transactions give the same receipts and the same [`WriteSet`], byte for byte,
//! on every machine: that is what lets validators agree on a state root.
//!
//! The caller owns storage. It hands an [`Executor`] a [`StateReader`]; when the reader lacks
//! a key, [`Executor::apply`] answers [`Missing`] without effect, the caller fetches the key and
//! calls again. At the end, [`Executor::into_writes`] is the block's write set, including the
//! [`state::Receipt`] of every authentic transaction (decoded and correctly signed); every
//! transaction, authentic or not, gets its receipt back from [`Executor::apply`].
//!
//! Every record is bounded (`state::MAX_*`, paged lists of `state::PAGE_LEN`): a rule that
//! would pass a bound rejects with `limit_reached` instead. Positions are fixed-point
//! micro-degrees and distances integer arithmetic ([`geo`]). [`read`] holds the read helpers the
//! API shares with the rules, so both answer the same (a code's state and path, whether a
//! printed code is genuine, a brand's channels).

pub mod clones;
mod exec;
pub mod geo;
pub mod read;
mod reason;
pub mod state;
pub mod trace;

pub use exec::{
    BlockEnv, Executor, Genesis, Missing, StateReader, WriteSet, decode, encode, tx_id,
};
pub use reason::Reason;
