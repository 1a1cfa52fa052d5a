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

/// Most records [`CachedState`] keeps before it starts over.
const MAX_CACHED: usize = 100_000;

/// A [`StateSource`] that remembers what it read until the state moves on.
///
/// The node's authenticated store costs a lock and a log read per key; consumers scan the same
/// products, batches and brands over and over. Entries are kept for one finalised height: every
/// read first asks `height` (the node's tip), and a new height drops everything before the read
/// is served — so whoever has seen a new tip never reads the state it replaced from here. A read
/// that began under an older height is not kept. Reads stay as fresh as the underlying source;
/// only repeats within one block are served from memory.
pub struct CachedState {
    inner: std::sync::Arc<dyn StateSource>,
    height: Box<dyn Fn() -> u64 + Send + Sync>,
    cache: std::sync::Arc<RwLock<Generation>>,
}

#[derive(Default)]
struct Generation {
    /// The height the records belong to.
    height: u64,
    /// Bumped whenever the records are dropped.
    number: u64,
    records: BTreeMap<StateKey, Option<Vec<u8>>>,
}

impl CachedState {
    /// Caches reads of `inner` for as long as `height` answers the same.
    pub fn new(
        inner: std::sync::Arc<dyn StateSource>,
        height: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            height: Box::new(height),
            cache: std::sync::Arc::default(),
        }
    }

    /// Forgets everything.
    pub fn invalidate(&self) {
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.number += 1;
        cache.records.clear();
    }
}

impl StateSource for CachedState {
    fn get(&self, key: StateKey) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>> {
        let height = (self.height)();
        let number = {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if cache.height == height {
                if let Some(value) = cache.records.get(&key) {
                    return Box::pin(futures::future::ready(Ok(value.clone())));
                }
                Some(cache.number)
            } else {
                None
            }
        };
        let number = match number {
            Some(number) => number,
            None => {
                let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
                if cache.height != height {
                    cache.height = height;
                    cache.number += 1;
                    cache.records.clear();
                }
                cache.number
            }
        };
        let cache = self.cache.clone();
        let read = self.inner.get(key.clone());
        Box::pin(async move {
            let value = read.await?;
            let mut cache = cache.write().unwrap_or_else(PoisonError::into_inner);
            // Only while the records are still those of the height the read began under.
            if cache.number == number {
                if cache.records.len() >= MAX_CACHED {
                    cache.records.clear();
                }
                cache.records.insert(key, value.clone());
            }
            Ok(value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn cached_reads_end_with_their_height() {
        let key = StateKey::OrgCount;
        let memory = Arc::new(MemoryState::default());
        let height = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let tip = height.clone();
        let cached = CachedState::new(memory.clone(), move || {
            tip.load(std::sync::atomic::Ordering::SeqCst)
        });
        assert_eq!(cached.get(key.clone()).await.unwrap(), None);
        let mut writes = WriteSet::new();
        writes.insert(key.clone(), Some(vec![1]));
        memory.apply(&writes);
        let cached_value = cached.get(key.clone()).await.unwrap();
        assert_eq!(cached_value, None, "served from memory");
        height.store(2, std::sync::atomic::Ordering::SeqCst);
        let fresh = cached.get(key.clone()).await.unwrap();
        assert_eq!(fresh, Some(vec![1]), "a new height is read afresh at once");
    }

    #[tokio::test]
    async fn a_read_that_straddles_an_invalidation_is_not_kept() {
        let key = StateKey::OrgCount;
        let memory = Arc::new(MemoryState::default());
        let cached = CachedState::new(memory.clone(), || 1);
        let pending = cached.get(key.clone());
        cached.invalidate();
        let mut writes = WriteSet::new();
        writes.insert(key.clone(), Some(vec![2]));
        memory.apply(&writes);
        let _ = pending.await.unwrap();
        assert_eq!(cached.get(key).await.unwrap(), Some(vec![2]));
    }
}
