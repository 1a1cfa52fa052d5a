//! Where the API reads ledger state from, and the one helper that reads and decodes a record.

use crate::ApiError;
use futures::future::BoxFuture;
use jitrace_ledger::{
    WriteSet,
    state::{Record, StateKey},
};
use std::{
    collections::BTreeMap,
    sync::{PoisonError, RwLock},
};

/// Read access to the latest applied ledger state.
///
/// The node implements it over its authenticated database; tests use [`MemoryState`].
pub trait StateSource: Send + Sync + 'static {
    /// The encoded record under `key`, `Ok(None)` if there is none, or a storage error's text.
    fn get(&self, key: StateKey) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>>;
}

/// Ledger state in memory: a map from key to encoded record. For tests and tools.
#[derive(Debug, Default)]
pub struct MemoryState {
    records: RwLock<BTreeMap<StateKey, Vec<u8>>>,
}

impl MemoryState {
    /// State holding `records`.
    pub fn new(records: BTreeMap<StateKey, Vec<u8>>) -> Self {
        Self {
            records: RwLock::new(records),
        }
    }

    /// Applies a block's write set (`None` deletes).
    pub fn apply(&self, writes: &WriteSet) {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        for (key, value) in writes {
            match value {
                Some(bytes) => records.insert(key.clone(), bytes.clone()),
                None => records.remove(key),
            };
        }
    }

    /// A copy of every record, e.g. to run the ledger's `Executor` over.
    pub fn snapshot(&self) -> BTreeMap<StateKey, Vec<u8>> {
        self.records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl StateSource for MemoryState {
    fn get(&self, key: StateKey) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>> {
        let value = self
            .records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        Box::pin(futures::future::ready(Ok(value)))
    }
}

/// Reads the record under `key` and decodes it as `T`.
///
/// A storage failure or a record that does not decode is an [`ApiError::Internal`]: the client
/// did nothing wrong, and the node must not panic on it.
pub(crate) async fn read_record<T: Record>(
    source: &dyn StateSource,
    key: StateKey,
) -> Result<Option<T>, ApiError> {
    let described = format!("{key:?}");
    let Some(bytes) = source
        .get(key)
        .await
        .map_err(|e| ApiError::Internal(format!("reading {described}: {e}")))?
    else {
        return Ok(None);
    };
    borsh::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::Internal(format!("record {described} does not decode: {e}")))
}
