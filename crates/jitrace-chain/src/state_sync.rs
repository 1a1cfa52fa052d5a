//! State sync is not offered yet: a new or lagging node replays finalised blocks from genesis
//! (marshal backfills them) instead of downloading a state snapshot. This source says so to the
//! glue, which requires one.
//!
//! Why not the glue's p2p resolver: in this engine release it serves only databases whose
//! operations decode without configuration, and our values are variable-length.

use crate::app::StateDb;
use commonware_glue::stateful::db::{AttachableResolver, Shared};
use commonware_runtime::tokio;
use commonware_storage::{
    mmr,
    qmdb::{
        self,
        sync::{Request, Source, source},
    },
};
use std::marker::PhantomData;

/// A [`Source`] that never answers and a resolver that serves nothing.
pub struct NoStateSync<Op>(PhantomData<fn() -> Op>);

impl<Op> Clone for NoStateSync<Op> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<Op> Default for NoStateSync<Op> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// The operation type of the state database.
pub type StateOp = <StateDb<tokio::Context> as qmdb::sync::Database>::Op;

impl Source for NoStateSync<StateOp> {
    type Family = mmr::Family;
    type Digest = crate::block::Digest;
    type Op = StateOp;
    type Error = qmdb::Error<mmr::Family>;

    async fn serve(&self, _request: Request<mmr::Family>) -> source::Result<Self> {
        Err(qmdb::Error::KeyNotFound)
    }
}

impl AttachableResolver<StateDb<tokio::Context>> for NoStateSync<StateOp> {
    async fn attach_database(&self, _db: Shared<StateDb<tokio::Context>>) {}
}
