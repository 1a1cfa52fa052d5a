//! The mempool: admitted transactions waiting for a block, bounded, de-duplicated, in arrival
//! order.
//!
//! A transaction stays until a finalised block includes it. Proposing marks it in flight so the
//! next proposal on an unfinalised parent does not include it again; if the proposal is never
//! finalised the mark expires and the transaction is proposed again.

use jitrace_types::{SignedTransaction, Transaction, TxHash};
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    sync::{Arc, Mutex},
};

/// Why the mempool refused a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The same transaction is already waiting.
    Duplicate,
    /// The mempool is at its bound; try again later.
    Full,
}

/// Bounds of the mempool.
#[derive(Clone, Copy, Debug)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    /// How long a proposed transaction is held back from new proposals, in milliseconds.
    pub in_flight_ms: u64,
}

#[derive(Default)]
struct Inner {
    order: VecDeque<TxHash>,
    txs: BTreeMap<TxHash, Entry>,
    bytes: usize,
}

struct Entry {
    raw: Arc<Vec<u8>>,
    /// Until when (ms) the transaction is in flight in a proposal.
    in_flight_until: u64,
    /// When (ms) to send the transaction to the validators (again); `None` for transactions
    /// that came from a peer, which their own node keeps sending.
    gossip_due: Option<u64>,
}

/// Why a transaction cannot enter any mempool, whatever the state: decided from its bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Inadmissible {
    /// The bytes are not a valid signed transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The signature does not verify against the signer.
    #[error("the signature does not match the signer")]
    BadSignature,
    /// The transaction is for another chain.
    #[error("the transaction is for chain {got:?}, this is {expected:?}")]
    WrongChainId { expected: String, got: String },
}

/// The checks every node makes before accepting a transaction from a client or a peer: it
/// decodes and validates, names this chain, and (unless `signature_checked`) its signature
/// verifies. Returns its id and body.
pub fn check_stateless(
    raw: &[u8],
    chain_id: &str,
    signature_checked: bool,
) -> Result<(TxHash, Transaction), Inadmissible> {
    let signed =
        SignedTransaction::decode(raw).map_err(|e| Inadmissible::Malformed(e.to_string()))?;
    let tx = signed
        .transaction()
        .map_err(|e| Inadmissible::Malformed(e.to_string()))?;
    if tx.chain_id != chain_id {
        return Err(Inadmissible::WrongChainId {
            expected: chain_id.to_string(),
            got: tx.chain_id,
        });
    }
    if !signature_checked && !signed.verify_signature(&tx.signer) {
        return Err(Inadmissible::BadSignature);
    }
    Ok((signed.hash(), tx))
}

/// A shared, thread-safe mempool handle.
#[derive(Clone)]
pub struct Mempool {
    config: MempoolConfig,
    inner: Arc<Mutex<Inner>>,
}

impl Mempool {
    /// An empty mempool.
    pub fn new(config: MempoolConfig) -> Self {
        Self {
            config,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every update is one step).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a transaction a client submitted to this node; the node sends it to the
    /// validators until it is finalised.
    pub fn insert(&self, hash: TxHash, raw: Vec<u8>) -> Result<(), Refusal> {
        self.insert_entry(hash, raw, Some(0))
    }

    /// Admits a transaction a peer sent.
    pub fn insert_from_peer(&self, hash: TxHash, raw: Vec<u8>) -> Result<(), Refusal> {
        self.insert_entry(hash, raw, None)
    }

    fn insert_entry(
        &self,
        hash: TxHash,
        raw: Vec<u8>,
        gossip_due: Option<u64>,
    ) -> Result<(), Refusal> {
        let mut inner = self.lock();
        if inner.txs.contains_key(&hash) {
            return Err(Refusal::Duplicate);
        }
        if inner.txs.len() >= self.config.max_txs || inner.bytes + raw.len() > self.config.max_bytes
        {
            return Err(Refusal::Full);
        }
        inner.bytes += raw.len();
        inner.order.push_back(hash);
        inner.txs.insert(
            hash,
            Entry {
                raw: Arc::new(raw),
                in_flight_until: 0,
                gossip_due,
            },
        );
        Ok(())
    }

    /// Whether `hash` is waiting.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.lock().txs.contains_key(hash)
    }

    /// Takes up to `max_txs` / `max_bytes` of transactions not in flight, oldest first, and
    /// marks them in flight until `now_ms + in_flight_ms`.
    pub fn take(&self, now_ms: u64, max_txs: usize, max_bytes: usize) -> Vec<Vec<u8>> {
        self.take_excluding(now_ms, max_txs, max_bytes, &BTreeSet::new())
    }

    /// Like [`Mempool::take`], skipping `exclude` (transactions already in unfinalised blocks).
    pub fn take_excluding(
        &self,
        now_ms: u64,
        max_txs: usize,
        max_bytes: usize,
        exclude: &BTreeSet<TxHash>,
    ) -> Vec<Vec<u8>> {
        let mut inner = self.lock();
        let Inner { order, txs, .. } = &mut *inner;
        let mut out = Vec::new();
        let mut bytes = 0;
        for hash in order.iter() {
            if out.len() >= max_txs {
                break;
            }
            let Some(entry) = txs.get_mut(hash) else {
                continue;
            };
            if entry.in_flight_until > now_ms || exclude.contains(hash) {
                continue;
            }
            if bytes + entry.raw.len() > max_bytes {
                break;
            }
            bytes += entry.raw.len();
            entry.in_flight_until = now_ms.saturating_add(self.config.in_flight_ms);
            out.push(entry.raw.as_ref().clone());
        }
        out
    }

    /// Takes up to `max` of this node's own transactions due to be sent to the validators, and
    /// schedules the next send `resend_ms` later (until a finalised block removes them).
    pub fn take_for_gossip(&self, now_ms: u64, max: usize, resend_ms: u64) -> Vec<Arc<Vec<u8>>> {
        let mut inner = self.lock();
        let Inner { order, txs, .. } = &mut *inner;
        let mut out = Vec::new();
        for hash in order.iter() {
            if out.len() >= max {
                break;
            }
            let Some(entry) = txs.get_mut(hash) else {
                continue;
            };
            match entry.gossip_due {
                Some(due) if due <= now_ms => {
                    entry.gossip_due = Some(now_ms.saturating_add(resend_ms));
                    out.push(entry.raw.clone());
                }
                _ => {}
            }
        }
        out
    }

    /// Removes transactions that a finalised block included.
    pub fn remove(&self, hashes: &[TxHash]) {
        let mut inner = self.lock();
        let mut removed = false;
        for hash in hashes {
            if let Some(entry) = inner.txs.remove(hash) {
                inner.bytes -= entry.raw.len();
                removed = true;
            }
        }
        if removed {
            let Inner { order, txs, .. } = &mut *inner;
            order.retain(|h| txs.contains_key(h));
        }
    }

    /// Whether some waiting transaction is not in flight at `now_ms`.
    pub fn has_ready(&self, now_ms: u64) -> bool {
        self.lock()
            .txs
            .values()
            .any(|e| e.in_flight_until <= now_ms)
    }

    /// How many transactions are waiting.
    pub fn len(&self) -> usize {
        self.lock().txs.len()
    }

    /// Whether no transaction is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jitrace_types::Hash;

    fn pool() -> Mempool {
        Mempool::new(MempoolConfig {
            max_txs: 3,
            max_bytes: 100,
            in_flight_ms: 1000,
        })
    }

    #[test]
    fn bounded_and_deduplicated() {
        let pool = pool();
        let h = |i: u8| Hash::of(&[&[i]]);
        pool.insert(h(1), vec![1; 10]).unwrap();
        assert_eq!(pool.insert(h(1), vec![1; 10]), Err(Refusal::Duplicate));
        pool.insert(h(2), vec![2; 10]).unwrap();
        assert_eq!(
            pool.insert(h(3), vec![3; 90]),
            Err(Refusal::Full),
            "byte bound"
        );
        pool.insert(h(3), vec![3; 10]).unwrap();
        assert_eq!(
            pool.insert(h(4), vec![4; 1]),
            Err(Refusal::Full),
            "count bound"
        );
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn in_flight_transactions_are_not_proposed_twice_until_expiry() {
        let pool = pool();
        let h = |i: u8| Hash::of(&[&[i]]);
        pool.insert(h(1), vec![1]).unwrap();
        pool.insert(h(2), vec![2]).unwrap();
        assert_eq!(pool.take(0, 1, 100), vec![vec![1]]);
        assert_eq!(pool.take(10, 10, 100), vec![vec![2]]);
        assert!(pool.take(20, 10, 100).is_empty());
        assert_eq!(pool.take(2000, 10, 100).len(), 2, "marks expire");
        pool.remove(&[h(1)]);
        assert_eq!(pool.len(), 1);
        assert!(!pool.contains(&h(1)));
    }
}
