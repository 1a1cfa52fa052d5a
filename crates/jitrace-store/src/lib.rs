//! Jitrace's block store: finalised blocks, their certificates and a transaction index, in one
//! embedded database file (redb) that survives `kill -9`; and, in a file of its own, the
//! off-chain [`index`] derived from those blocks (scan analytics, channel volumes, alerts, and
//! where every code is now: the flows of goods).
//!
//! Invariants:
//! - Heights are contiguous from 1: [`BlockStore::append`] refuses a gap, and appending a height
//!   that is already stored is a no-op when the bytes agree (the engine delivers blocks at least
//!   once) and an error when they do not (that would be a fork).
//! - Every append is one ACID transaction committed with immediate durability: after it returns,
//!   a crash cannot lose the block.
//!
//! The store keeps opaque bytes: the chain crate owns the block encoding and checks it.
//! Ledger state does not live here; it lives in the authenticated store (QMDB) that the
//! consensus glue manages.

pub mod index;

pub use index::IndexStore;

use borsh::{BorshDeserialize, BorshSerialize};
use jitrace_types::Hash;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

const BLOCKS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blocks");
const CERTIFICATES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("certificates");
const BLOCK_HEIGHTS: TableDefinition<'_, &[u8; 32], u64> = TableDefinition::new("block_heights");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

const TIP: &str = "tip";

/// Errors of the block store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database file could not be opened, read or written.
    #[error("block store: {0}")]
    Database(String),
    /// An append would leave a gap.
    #[error("block {got} cannot follow block {tip}: heights must be contiguous")]
    Gap { tip: u64, got: u64 },
    /// A different block is stored at this height.
    #[error("a different block is already stored at height {0}")]
    Conflict(u64),
    /// A stored value does not decode.
    #[error("stored {0} is corrupt")]
    Corrupt(&'static str),
    /// The index was given a block that does not follow the last one it indexed.
    #[error("block {got} cannot be indexed after block {indexed}: blocks are indexed in order")]
    IndexGap { indexed: u64, got: u64 },
    /// Removing a code from the flows index would take a counter below zero: the counters and
    /// the entries disagree, so the index file is corrupt.
    #[error(
        "the flow counter of {org} as {role} in status {status} would go below zero: the index is corrupt"
    )]
    FlowCounter {
        org: String,
        role: &'static str,
        status: String,
    },
    /// A flows cursor was used with another status than the one it was given for.
    #[error("the cursor continues status {cursor}, not {asked}")]
    FlowCursor { cursor: String, asked: String },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Database(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The latest finalised block, as recorded by the last append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Tip {
    pub height: u64,
    /// The consensus view (round) the block was finalised in.
    pub view: u64,
    pub block_hash: Hash,
    pub state_root: Hash,
    pub time_ms: u64,
    pub tx_count: u64,
}

/// One finalised block to append.
pub struct FinalizedBlock<'a> {
    pub height: u64,
    pub view: u64,
    pub hash: Hash,
    pub state_root: Hash,
    pub time_ms: u64,
    /// The block's canonical encoding.
    pub block: &'a [u8],
    /// The finalisation certificate, when the engine produced one for this height (a block can
    /// also be finalised implicitly, as the ancestor of a certified block).
    pub certificate: Option<&'a [u8]>,
    /// How many transactions the block holds. (Where a transaction is, is its receipt's to
    /// say, in the authenticated state: an index here would repeat it and, with random ids,
    /// rewrite pages all over a B-tree for every block.)
    pub tx_count: u64,
}

/// The block store.
pub struct BlockStore {
    db: Database,
}

impl BlockStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        {
            txn.open_table(BLOCKS)?;
            txn.open_table(CERTIFICATES)?;
            txn.open_table(BLOCK_HEIGHTS)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        Ok(Self { db })
    }

    /// Appends the next finalised block (see the crate invariants).
    pub fn append(&self, block: &FinalizedBlock<'_>) -> Result<(), Error> {
        let tip = self.tip()?;
        let tip_height = tip.map_or(0, |t| t.height);
        if block.height <= tip_height {
            return match self.block(block.height)? {
                Some(stored) if stored == block.block => Ok(()),
                _ => Err(Error::Conflict(block.height)),
            };
        }
        if block.height != tip_height + 1 {
            return Err(Error::Gap {
                tip: tip_height,
                got: block.height,
            });
        }
        let total = tip.map_or(0, |t| t.tx_count) + block.tx_count;
        let txn = self.db.begin_write()?;
        {
            txn.open_table(BLOCKS)?.insert(block.height, block.block)?;
            if let Some(cert) = block.certificate {
                txn.open_table(CERTIFICATES)?.insert(block.height, cert)?;
            }
            txn.open_table(BLOCK_HEIGHTS)?
                .insert(&block.hash.0, block.height)?;
            let new_tip = Tip {
                height: block.height,
                view: block.view,
                block_hash: block.hash,
                state_root: block.state_root,
                time_ms: block.time_ms,
                tx_count: total,
            };
            let encoded = borsh::to_vec(&new_tip).map_err(|_| Error::Corrupt("tip"))?;
            txn.open_table(META)?.insert(TIP, encoded.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Records a certificate that arrived after its block (or replaces nothing if one is stored).
    pub fn put_certificate(&self, height: u64, certificate: &[u8]) -> Result<(), Error> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(CERTIFICATES)?;
            if table.get(height)?.is_none() {
                table.insert(height, certificate)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The latest finalised block, if any.
    pub fn tip(&self) -> Result<Option<Tip>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        match table.get(TIP)? {
            None => Ok(None),
            Some(bytes) => borsh::from_slice(bytes.value())
                .map(Some)
                .map_err(|_| Error::Corrupt("tip")),
        }
    }

    /// The encoded block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        Ok(table.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The encoded finalisation certificate at `height`, if one was recorded.
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CERTIFICATES)?;
        Ok(table.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The height of the block with `hash`.
    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCK_HEIGHTS)?;
        Ok(table.get(&hash.0)?.map(|v| v.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(height: u64, bytes: &[u8], tx_count: u64) -> FinalizedBlock<'_> {
        FinalizedBlock {
            height,
            view: height,
            hash: Hash::of(&[bytes]),
            state_root: Hash::of(&[b"root", bytes]),
            time_ms: height * 1000,
            block: bytes,
            certificate: Some(b"cert"),
            tx_count,
        }
    }

    #[test]
    fn append_is_contiguous_idempotent_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.redb");
        {
            let store = BlockStore::open(&path).unwrap();
            assert_eq!(store.tip().unwrap(), None);
            store.append(&block(1, b"one", 1)).unwrap();
            store.append(&block(1, b"one", 1)).unwrap();
            assert!(matches!(
                store.append(&block(1, b"uno", 0)),
                Err(Error::Conflict(1))
            ));
            assert!(matches!(
                store.append(&block(3, b"three", 0)),
                Err(Error::Gap { tip: 1, got: 3 })
            ));
            store.append(&block(2, b"two", 1)).unwrap();
        }
        let store = BlockStore::open(&path).unwrap();
        let tip = store.tip().unwrap().unwrap();
        assert_eq!((tip.height, tip.tx_count), (2, 2));
        assert_eq!(store.block(2).unwrap().unwrap(), b"two");
        assert_eq!(store.certificate(1).unwrap().unwrap(), b"cert");
        assert_eq!(store.height_of(&Hash::of(&[b"two"])).unwrap(), Some(2));
    }
}
