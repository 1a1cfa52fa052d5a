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
/// products, batches and brands over and over. Every entry is dropped when a new block is
/// applied ([`CachedState::invalidate`], driven by the tip): a read that began before the
/// invalidation is not cached, so the cache never outlives the state it came from. Reads stay as
/// fresh as the underlying source: only repeats within one block are served from memory.
pub struct CachedState {
    inner: std::sync::Arc<dyn StateSource>,
    cache: std::sync::Arc<Generational>,
}

#[derive(Default)]
struct Generational {
    generation: std::sync::atomic::AtomicU64,
    records: RwLock<BTreeMap<StateKey, Option<Vec<u8>>>>,
}

impl CachedState {
    /// Caches reads of `inner`.
    pub fn new(inner: std::sync::Arc<dyn StateSource>) -> Self {
        Self {
            inner,
            cache: std::sync::Arc::default(),
        }
    }

    /// Forgets everything: the state moved on.
    pub fn invalidate(&self) {
        self.cache
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.cache
            .records
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Invalidates on every change of `tip` (a new finalised block), until the sender is gone.
    pub fn invalidate_on<T: Send + Sync + 'static>(
        self: &std::sync::Arc<Self>,
        mut tip: tokio::sync::watch::Receiver<T>,
    ) {
        let this = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            while tip.changed().await.is_ok() {
                match this.upgrade() {
                    Some(cache) => cache.invalidate(),
                    None => break,
                }
            }
        });
    }
}

impl StateSource for CachedState {
    fn get(&self, key: StateKey) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>> {
        if let Some(value) = self
            .cache
            .records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Box::pin(futures::future::ready(Ok(value.clone())));
        }
        let cache = self.cache.clone();
        let generation = cache.generation.load(std::sync::atomic::Ordering::SeqCst);
        let read = self.inner.get(key.clone());
        Box::pin(async move {
            let value = read.await?;
            let mut records = cache
                .records
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            // Only while the state is still the one the read began on.
            if cache.generation.load(std::sync::atomic::Ordering::SeqCst) == generation {
                if records.len() >= MAX_CACHED {
                    records.clear();
                }
                records.insert(key, value.clone());
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
    async fn cached_reads_end_with_the_block() {
        let key = StateKey::OrgCount;
        let memory = Arc::new(MemoryState::default());
        let cached = CachedState::new(memory.clone());
        assert_eq!(cached.get(key.clone()).await.unwrap(), None);
        let mut writes = WriteSet::new();
        writes.insert(key.clone(), Some(vec![1]));
        memory.apply(&writes);
        assert_eq!(
            cached.get(key.clone()).await.unwrap(),
            None,
            "served from memory"
        );
        cached.invalidate();
        assert_eq!(cached.get(key.clone()).await.unwrap(), Some(vec![1]));
    }

    #[tokio::test]
    async fn a_read_that_straddles_an_invalidation_is_not_kept() {
        let key = StateKey::OrgCount;
        let memory = Arc::new(MemoryState::default());
        let cached = CachedState::new(memory.clone());
        let pending = cached.get(key.clone());
        cached.invalidate();
        let mut writes = WriteSet::new();
        writes.insert(key.clone(), Some(vec![2]));
        memory.apply(&writes);
        let _ = pending.await.unwrap();
        assert_eq!(cached.get(key).await.unwrap(), Some(vec![2]));
    }
}
