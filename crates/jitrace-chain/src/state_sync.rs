//! State sync is not offered yet: a new or lagging node replays finalised blocks from genesis
//! (marshal backfills them) instead of downloading a state snapshot. This source says so to the
//! glue, which requires one.
//!
//! Why not the glue's p2p resolver: in this engine release it serves only databases whose
//! operations decode without configuration, and our values are variable-length.

use crate::app::StateDb;
use commonware_glue::stateful::db::{AttachableResolver, Shared};
use commonware_storage::{
    mmr,
    qmdb::{
        self,
        sync::{Request, Source, source},
    },
};
use std::marker::PhantomData;

/// A [`Source`] that never answers and a resolver that serves nothing (for runtime `E`).
pub struct NoStateSync<E>(PhantomData<fn() -> E>);

impl<E> Clone for NoStateSync<E> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<E> Default for NoStateSync<E> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// The operation type of the state database.
pub type StateOp<E> = <StateDb<E> as qmdb::sync::Database>::Op;

impl<E: crate::engine::Runtime> Source for NoStateSync<E> {
    type Family = mmr::Family;
    type Digest = crate::block::Digest;
    type Op = StateOp<E>;
    type Error = qmdb::Error<mmr::Family>;

    async fn serve(&self, _request: Request<mmr::Family>) -> source::Result<Self> {
        Err(qmdb::Error::KeyNotFound)
    }
}

impl<E: crate::engine::Runtime> AttachableResolver<StateDb<E>> for NoStateSync<E> {
    async fn attach_database(&self, _db: Shared<StateDb<E>>) {}
}
