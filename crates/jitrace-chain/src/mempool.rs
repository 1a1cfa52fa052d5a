//! The mempool: admitted transactions waiting for a block, bounded, de-duplicated, in arrival
//! order.
//!
//! A transaction stays until a finalised block includes it. Proposing marks it in flight so the
//! next proposal on an unfinalised parent does not include it again; if the proposal is never
//! finalised the mark expires and the transaction is proposed again.

use jitrace_types::{SignedTransaction, Transaction, TxHash};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
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

/// The waiting transactions and three queues over them, so that every operation costs in
/// proportion to the transactions it touches, never to the mempool's size: `ready` (not in
/// flight, by arrival), `in_flight` (by expiry) and this node's own transactions to gossip,
/// `fresh` (never sent) and `resend` (by when to send again). The queues are cleaned lazily: an
/// item whose transaction left, or whose time changed, is skipped when it comes up.
#[derive(Default)]
struct Inner {
    next_seq: u64,
    txs: HashMap<TxHash, Entry>,
    ready: BTreeMap<u64, TxHash>,
    in_flight: VecDeque<(u64, TxHash)>,
    fresh: VecDeque<TxHash>,
    resend: VecDeque<(u64, TxHash)>,
    bytes: usize,
    /// Transactions finalised lately, oldest first (at most [`REMEMBER_FINALISED`]): a copy
    /// gossiped late is refused instead of being proposed again.
    finalised: HashSet<TxHash>,
    finalised_order: VecDeque<TxHash>,
}

/// How many finalised transaction ids the mempool remembers.
/// (At 10,000 tx/s that is 26 s of blocks, well over the 10 s after which gossip resends.)
pub const REMEMBER_FINALISED: usize = 1 << 18;

struct Entry {
    raw: Arc<Vec<u8>>,
    /// Arrival order.
    seq: u64,
    /// Until when (ms) the transaction is in flight in a proposal; `None` while ready.
    in_flight_until: Option<u64>,
    /// When (ms) to send the transaction to the validators (again); `None` for transactions
    /// that came from a peer, which their own node keeps sending.
    gossip_due: Option<u64>,
}

impl Inner {
    /// Returns transactions whose in-flight mark expired at `now_ms` to `ready`.
    fn release_expired(&mut self, now_ms: u64) {
        while let Some(&(until, hash)) = self.in_flight.front() {
            if until > now_ms {
                break;
            }
            self.in_flight.pop_front();
            if let Some(entry) = self.txs.get_mut(&hash)
                && entry.in_flight_until == Some(until)
            {
                entry.in_flight_until = None;
                self.ready.insert(entry.seq, hash);
            }
        }
    }
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
    check_decoded(&signed, &tx, chain_id, signature_checked)?;
    Ok((signed.hash(), tx))
}

/// A transaction that passed the stateless checks: its bytes, id and body.
pub type Checked = (Vec<u8>, TxHash, Transaction);

/// [`check_stateless`] for many transactions: each decoded once, their signatures verified as
/// one batch (one by one if the batch fails). Transactions for which `skip` holds (by id) are
/// left out before any signature check; the others keep their order, each with its outcome.
pub fn check_batch(
    raws: Vec<Vec<u8>>,
    chain_id: &str,
    skip: impl Fn(&TxHash) -> bool,
) -> Vec<Result<Checked, Inadmissible>> {
    let decoded: Vec<Result<_, Inadmissible>> = raws
        .into_iter()
        .filter_map(|raw| {
            let signed = match SignedTransaction::decode(&raw) {
                Ok(signed) => signed,
                Err(e) => return Some(Err(Inadmissible::Malformed(e.to_string()))),
            };
            let hash = signed.hash();
            if skip(&hash) {
                return None;
            }
            Some(
                signed
                    .transaction()
                    .map(|tx| (raw, hash, signed, tx))
                    .map_err(|e| Inadmissible::Malformed(e.to_string())),
            )
        })
        .collect();
    let items: Vec<_> = decoded
        .iter()
        .flatten()
        .map(|(_, _, signed, tx)| {
            (
                &tx.signer,
                jitrace_types::keys::domain::TRANSACTION,
                signed.body.as_slice(),
                &signed.signature,
            )
        })
        .collect();
    let all_valid = jitrace_types::keys::verify_batch(&items);
    decoded
        .into_iter()
        .map(|item| {
            let (raw, hash, signed, tx) = item?;
            check_decoded(&signed, &tx, chain_id, all_valid)?;
            Ok((raw, hash, tx))
        })
        .collect()
}

/// [`check_stateless`] for a transaction decoded already.
fn check_decoded(
    signed: &SignedTransaction,
    tx: &Transaction,
    chain_id: &str,
    signature_checked: bool,
) -> Result<(), Inadmissible> {
    if tx.chain_id != chain_id {
        return Err(Inadmissible::WrongChainId {
            expected: chain_id.to_string(),
            got: tx.chain_id.clone(),
        });
    }
    if !signature_checked && !signed.verify_signature(&tx.signer) {
        return Err(Inadmissible::BadSignature);
    }
    Ok(())
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
        if inner.txs.contains_key(&hash) || inner.finalised.contains(&hash) {
            return Err(Refusal::Duplicate);
        }
        if inner.txs.len() >= self.config.max_txs || inner.bytes + raw.len() > self.config.max_bytes
        {
            return Err(Refusal::Full);
        }
        inner.bytes += raw.len();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.ready.insert(seq, hash);
        if gossip_due.is_some() {
            inner.fresh.push_back(hash);
        }
        inner.txs.insert(
            hash,
            Entry {
                raw: Arc::new(raw),
                seq,
                in_flight_until: None,
                gossip_due,
            },
        );
        Ok(())
    }

    /// Whether `hash` is waiting.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.lock().txs.contains_key(hash)
    }

    /// Whether `hash` is waiting or was finalised lately: a copy of it is not worth checking.
    pub fn knows(&self, hash: &TxHash) -> bool {
        let inner = self.lock();
        inner.txs.contains_key(hash) || inner.finalised.contains(hash)
    }

    /// Takes up to `max_txs` / `max_bytes` of transactions not in flight, oldest first, and
    /// marks them in flight until `now_ms + in_flight_ms`.
    pub fn take(&self, now_ms: u64, max_txs: usize, max_bytes: usize) -> Vec<Vec<u8>> {
        self.take_excluding(now_ms, max_txs, max_bytes, &BTreeSet::new())
    }

    /// Like [`Mempool::take`], skipping `exclude` (transactions already in unfinalised blocks,
    /// which are marked in flight too: if their block is never finalised, they come back when
    /// the mark expires).
    pub fn take_excluding(
        &self,
        now_ms: u64,
        max_txs: usize,
        max_bytes: usize,
        exclude: &BTreeSet<TxHash>,
    ) -> Vec<Vec<u8>> {
        let mut inner = self.lock();
        inner.release_expired(now_ms);
        let until = now_ms.saturating_add(self.config.in_flight_ms);
        let Inner {
            txs,
            ready,
            in_flight,
            ..
        } = &mut *inner;
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_txs {
            let Some((seq, hash)) = ready.pop_first() else {
                break;
            };
            let Some(entry) = txs.get_mut(&hash) else {
                continue;
            };
            let excluded = exclude.contains(&hash);
            if !excluded {
                if bytes + entry.raw.len() > max_bytes {
                    ready.insert(seq, hash);
                    break;
                }
                bytes += entry.raw.len();
                out.push(entry.raw.as_ref().clone());
            }
            entry.in_flight_until = Some(until);
            in_flight.push_back((until, hash));
        }
        out
    }

    /// Takes up to `max` of this node's own transactions due to be sent to the validators, and
    /// schedules the next send `resend_ms` later (until a finalised block removes them): those
    /// due again first, then those never sent, each in arrival order.
    pub fn take_for_gossip(&self, now_ms: u64, max: usize, resend_ms: u64) -> Vec<Arc<Vec<u8>>> {
        let mut inner = self.lock();
        let next = now_ms.saturating_add(resend_ms);
        let Inner {
            txs, fresh, resend, ..
        } = &mut *inner;
        let mut due = Vec::new();
        while due.len() < max {
            match resend.front() {
                Some(&(at, hash)) if at <= now_ms => {
                    resend.pop_front();
                    if txs.get(&hash).is_some_and(|e| e.gossip_due == Some(at)) {
                        due.push(hash);
                    }
                }
                _ => break,
            }
        }
        while due.len() < max {
            let Some(hash) = fresh.pop_front() else {
                break;
            };
            if txs.contains_key(&hash) {
                due.push(hash);
            }
        }
        let mut out = Vec::with_capacity(due.len());
        for hash in due {
            if let Some(entry) = txs.get_mut(&hash) {
                entry.gossip_due = Some(next);
                resend.push_back((next, hash));
                out.push(entry.raw.clone());
            }
        }
        out
    }

    /// Removes transactions that a finalised block included, and remembers them as finalised.
    pub fn remove(&self, hashes: &[TxHash]) {
        let mut inner = self.lock();
        for hash in hashes {
            if let Some(entry) = inner.txs.remove(hash) {
                inner.bytes -= entry.raw.len();
                if entry.in_flight_until.is_none() {
                    inner.ready.remove(&entry.seq);
                }
            }
            if inner.finalised.insert(*hash) {
                inner.finalised_order.push_back(*hash);
            }
        }
        while inner.finalised_order.len() > REMEMBER_FINALISED {
            if let Some(old) = inner.finalised_order.pop_front() {
                inner.finalised.remove(&old);
            }
        }
    }

    /// Whether some waiting transaction is not in flight at `now_ms`.
    pub fn has_ready(&self, now_ms: u64) -> bool {
        let mut inner = self.lock();
        inner.release_expired(now_ms);
        !inner.ready.is_empty()
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
        assert!(pool.knows(&h(1)), "finalised lately");
        assert_eq!(
            pool.insert_from_peer(h(1), vec![1]),
            Err(Refusal::Duplicate),
            "a late copy of a finalised transaction is not taken again"
        );
    }

    #[test]
    fn released_transactions_keep_arrival_order_and_excluded_ones_wait() {
        let pool = pool();
        let h = |i: u8| Hash::of(&[&[i]]);
        for i in 1..=3 {
            pool.insert(h(i), vec![i]).unwrap();
        }
        // 2 sits in an unfinalised block: skipped now, held back like a proposed one.
        let exclude = BTreeSet::from([h(2)]);
        assert_eq!(pool.take_excluding(0, 1, 100, &exclude), vec![vec![1]]);
        assert_eq!(pool.take_excluding(0, 10, 100, &exclude), vec![vec![3]]);
        assert!(!pool.has_ready(999));
        assert!(pool.has_ready(1000));
        assert_eq!(
            pool.take(1000, 10, 100),
            vec![vec![1], vec![2], vec![3]],
            "back in arrival order"
        );
        // A byte bound stops the block without losing the transaction that did not fit.
        pool.remove(&[h(1), h(2)]);
        assert_eq!(pool.take(5000, 10, 0), Vec::<Vec<u8>>::new());
        assert_eq!(pool.take(5000, 10, 1), vec![vec![3]]);
    }

    #[test]
    fn gossip_sends_each_own_transaction_once_per_period_until_removed() {
        let pool = pool();
        let h = |i: u8| Hash::of(&[&[i]]);
        pool.insert(h(1), vec![1]).unwrap();
        pool.insert_from_peer(h(2), vec![2]).unwrap();
        pool.insert(h(3), vec![3]).unwrap();
        let sent = |now| {
            pool.take_for_gossip(now, 10, 100)
                .iter()
                .map(|raw| raw[0])
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sent(0),
            vec![1, 3],
            "a peer's transaction is its node's to send"
        );
        assert!(sent(50).is_empty());
        pool.remove(&[h(3)]);
        assert_eq!(sent(100), vec![1], "due again; a removed one is not");
        pool.insert(h(4), vec![4]).unwrap();
        assert_eq!(sent(150), vec![4]);
        assert_eq!(sent(250), vec![1, 4]);
        assert_eq!(pool.take_for_gossip(400, 1, 100).len(), 1, "bounded by max");
    }
}
