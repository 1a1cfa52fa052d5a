//! Jitrace's chain: the consensus engine adapter, block execution, the mempool and node wiring.
//!
//! Consensus is Commonware's simplex (BFT) with marshal for ordered delivery of finalised blocks
//! and `glue::stateful` for speculative and finalised state in QMDB. This crate never decides
//! what is valid: the ledger does. It decides what goes into a block (the mempool), runs the
//! ledger over the authenticated store, and records what was finalised.
//!
//! Invariants:
//! - A block's header commits to its parent, its transactions (`tx_root`) and the state root
//!   after executing them; a validator votes for a block only if re-executing it gives the same
//!   root.
//! - A finalised block reaches the block store before the engine is told it was processed.

pub mod app;
pub mod block;
pub mod engine;
pub mod gossip;
pub mod mempool;
mod state_sync;

pub use app::{
    App, Databases, ExecStats, MarshalMailbox, Scheme, StateDb, execute, genesis_block, to_digest,
};
pub use block::{Block, Digest, Header};
pub use engine::{
    CACHE_MIB_RANGE, Channels, DEFAULT_CACHE_MIB, EngineConfig, Running, Runtime, start,
    start_engine,
};
pub use gossip::GossipConfig;
pub use mempool::{Inadmissible, Mempool, MempoolConfig, Refusal, check_stateless};
