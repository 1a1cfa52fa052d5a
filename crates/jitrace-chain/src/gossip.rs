//! Transaction gossip: every node sends the transactions its API accepted to the validators
//! (the proposers), in batches, again and again until a finalised block includes them; a
//! validator admits what peers send after the same checks as its API, verifying the batch's
//! signatures at once.

use crate::{
    engine::Runtime,
    mempool::{Mempool, check_batch},
};
use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle};
use jitrace_types::tx::MAX_TX_BYTES;
use std::time::{Duration, UNIX_EPOCH};
use tracing::{debug, warn};

/// Most transactions in one gossip message.
pub const MAX_GOSSIP_BATCH: usize = 2_000;

/// Where and how often to send.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    pub chain_id: String,
    /// The validators to send to (this node is left out if it is one).
    pub validators: Vec<ed25519::PublicKey>,
    pub me: ed25519::PublicKey,
    /// How often to look for transactions to send.
    pub interval: Duration,
    /// How long to wait before sending a still-pending transaction again.
    pub resend: Duration,
}

/// Encodes a batch: borsh `Vec<Vec<u8>>`.
fn encode(batch: &[std::sync::Arc<Vec<u8>>]) -> Vec<u8> {
    let plain: Vec<&[u8]> = batch.iter().map(|raw| raw.as_slice()).collect();
    borsh::to_vec(&plain).expect("borsh encoding into a Vec cannot fail")
}

/// Decodes a batch, bounded in count and size.
fn decode(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let batch: Vec<Vec<u8>> = borsh::from_slice(bytes).ok()?;
    (batch.len() <= MAX_GOSSIP_BATCH && batch.iter().all(|tx| tx.len() <= MAX_TX_BYTES))
        .then_some(batch)
}

fn now_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Admits a batch a peer sent. Signatures are verified as one batch; if that fails, one by one.
/// Transactions this node holds already, or saw finalised, are skipped before any check.
pub fn admit_batch(mempool: &Mempool, chain_id: &str, batch: Vec<Vec<u8>>) -> usize {
    let mut admitted = 0;
    for checked in check_batch(batch, chain_id, |hash| mempool.knows(hash)) {
        match checked {
            Ok((raw, hash, _)) => {
                if mempool.insert_from_peer(hash, raw).is_ok() {
                    admitted += 1;
                }
            }
            Err(e) => debug!(%e, "dropped a gossiped transaction"),
        }
    }
    admitted
}

/// Starts the send and receive loops.
pub fn start<E, S, R>(
    context: E,
    mempool: Mempool,
    config: GossipConfig,
    (mut sender, mut receiver): (S, R),
) -> Handle<()>
where
    E: Runtime,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    let receive_pool = mempool.clone();
    let chain_id = config.chain_id.clone();
    context.child("receive").spawn(move |context| async move {
        loop {
            let Ok((peer, message)) = receiver.recv().await else {
                return;
            };
            // Checking a batch's signatures holds a core for milliseconds: off the executor
            // that runs consensus, one batch at a time.
            let pool = receive_pool.clone();
            let chain_id = chain_id.clone();
            let admitted = context
                .child("admit")
                .shared(true)
                .spawn(move |_| async move {
                    match decode(message.as_ref()) {
                        Some(batch) => {
                            admit_batch(&pool, &chain_id, batch);
                            true
                        }
                        None => false,
                    }
                })
                .await;
            if !matches!(admitted, Ok(true)) {
                warn!(?peer, "peer sent an undecodable transaction batch");
            }
        }
    });
    let targets: Vec<ed25519::PublicKey> = config
        .validators
        .iter()
        .filter(|v| **v != config.me)
        .cloned()
        .collect();
    context.child("send").spawn(move |context| async move {
        loop {
            context.sleep(config.interval).await;
            if targets.is_empty() {
                continue;
            }
            let now = now_ms(&context);
            loop {
                let batch = mempool.take_for_gossip(
                    now,
                    MAX_GOSSIP_BATCH,
                    config.resend.as_millis() as u64,
                );
                if batch.is_empty() {
                    break;
                }
                let sent = sender.send(Recipients::Some(targets.clone()), encode(&batch), false);
                if sent.is_empty() {
                    debug!(
                        txs = batch.len(),
                        "no validator took the gossip batch; will resend"
                    );
                }
                if batch.len() < MAX_GOSSIP_BATCH {
                    break;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::MempoolConfig;
    use jitrace_types::{OrgId, Payload, SecretKey, Transaction};
    use jitrace_types::{SignedTransaction, keys::domain};

    fn tx(key: &SecretKey, nonce: u64) -> Vec<u8> {
        Transaction {
            chain_id: "c".into(),
            signer: key.public_key(),
            nonce,
            payload: Payload::AddMember {
                org: OrgId::new("o").unwrap(),
                key: key.public_key(),
            },
        }
        .sign(key)
        .encode()
    }

    #[test]
    fn batches_round_trip_and_bad_signatures_are_dropped() {
        let key = SecretKey::from_seed(1);
        let good: Vec<_> = (1..=3).map(|n| std::sync::Arc::new(tx(&key, n))).collect();
        let bytes = encode(&good);
        let mut batch = decode(&bytes).unwrap();
        assert_eq!(batch.len(), 3);
        // Forge one: a body signed by another key.
        let mut forged = SignedTransaction::decode(&batch[1]).unwrap();
        forged.signature = SecretKey::from_seed(2).sign(domain::TRANSACTION, &forged.body);
        batch[1] = forged.encode();
        batch.push(vec![1, 2, 3]);
        let pool = Mempool::new(MempoolConfig {
            max_txs: 10,
            max_bytes: 1 << 20,
            in_flight_ms: 1,
        });
        assert_eq!(admit_batch(&pool, "c", batch), 2);
        assert!(
            pool.take_for_gossip(0, 10, 1).is_empty(),
            "peers' transactions are not re-sent"
        );
        assert_eq!(decode(&[0xff; 3]), None);
    }
}
