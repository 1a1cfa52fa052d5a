//! The scan gateway: consumers' scans, coarse-located and pseudonymous, batched into
//! `RecordScans` transactions signed by the gateway's key (a member of the platform
//! organisation) and put into the mempool.
//!
//! - Only the scan's ~5 km cell (`geo::cell_of`) and a hash of the client's device pseudonym
//!   ([`device_pseudonym`]) are kept; the exact position and the device string never are.
//! - A scan is queued only if the ledger would accept its code ([`read::check_code`]: issued
//!   and correctly signed; voided codes are accepted, as the ledger does), so one bad code
//!   never makes the ledger reject a whole batch.
//! - [`ScanGateway::spawn_flusher`] flushes every 500 ms, or as soon as 200 scans
//!   ([`MAX_SCANS_PER_TX`]) wait. The gateway counts its own nonces, starting above the
//!   account's nonce in state (and never below it, so a restart or a lost transaction only
//!   leaves a gap, which the ledger allows).

use crate::{ApiError, source::StateSource, verdict::Reads};
use jitrace_chain::{Mempool, Refusal};
use jitrace_ledger::{
    geo,
    read::CodeCheck,
    state::{Account, StateKey},
};
use jitrace_types::{
    Hash, Payload, PublicKey, SecretKey, Transaction, TxHash,
    tx::{GeoPoint, MAX_SCANS_PER_TX, Scan, SignedCode},
};
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// How often the flusher sends what waits.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// Most scans waiting; beyond this new scans are not recorded (they still get a verdict).
pub const MAX_QUEUED_SCANS: usize = 20_000;

/// The pseudonym recorded for a device: SHA-256 over a domain tag, the chain id and the
/// client's own device string. Public, so a new owner can name the same pseudonym when
/// redeeming a ticket (`RedeemTicket.device`) and their own scans are recognised; the device
/// string is itself a pseudonym the client chose, never personal data.
pub fn device_pseudonym(chain_id: &str, device: &str) -> Hash {
    Hash::of(&[
        b"jitrace/v1/device",
        &(chain_id.len() as u64).to_be_bytes(),
        chain_id.as_bytes(),
        device.as_bytes(),
    ])
}

/// Batches scans into `RecordScans` transactions.
pub struct ScanGateway {
    key: SecretKey,
    signer: PublicKey,
    chain_id: String,
    mempool: Mempool,
    state: Arc<dyn StateSource>,
    queue: Mutex<Vec<Scan>>,
    /// The last nonce this gateway used (0: none yet).
    last_nonce: tokio::sync::Mutex<u64>,
    full: tokio::sync::Notify,
}

impl ScanGateway {
    /// A gateway signing with `key` (which must be a member of the platform organisation).
    pub fn new(
        key: SecretKey,
        chain_id: impl Into<String>,
        mempool: Mempool,
        state: Arc<dyn StateSource>,
    ) -> Arc<Self> {
        Arc::new(Self {
            signer: key.public_key(),
            key,
            chain_id: chain_id.into(),
            mempool,
            state,
            queue: Mutex::new(Vec::new()),
            last_nonce: tokio::sync::Mutex::new(0),
            full: tokio::sync::Notify::new(),
        })
    }

    /// The gateway's public key.
    pub fn signer(&self) -> PublicKey {
        self.signer
    }

    /// Scans waiting for the next flush.
    pub fn pending(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Queues a scan of `code` at `point` by `device` (the client's pseudonym string) at
    /// `time_ms`. Returns whether it was queued: not when the ledger would refuse the code
    /// (not issued, bad signature) or the queue is full.
    pub async fn record(
        &self,
        code: SignedCode,
        point: GeoPoint,
        device: &str,
        time_ms: u64,
    ) -> Result<bool, ApiError> {
        let mut reads = Reads::new(self.state.as_ref());
        let check = reads.check_code(&self.chain_id, &code).await?;
        if !matches!(check, CodeCheck::Genuine { .. }) {
            return Ok(false);
        }
        let scan = Scan {
            code,
            cell: geo::cell_of(point),
            device: device_pseudonym(&self.chain_id, device),
            time_ms,
        };
        let len = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.len() >= MAX_QUEUED_SCANS {
                return Ok(false);
            }
            queue.push(scan);
            queue.len()
        };
        if len >= MAX_SCANS_PER_TX {
            self.full.notify_one();
        }
        Ok(true)
    }

    /// Sends up to [`MAX_SCANS_PER_TX`] waiting scans as one transaction into the mempool;
    /// returns its id, or `None` when nothing waited. On failure the scans wait again.
    pub async fn flush(&self) -> Result<Option<TxHash>, ApiError> {
        let mut last_nonce = self.last_nonce.lock().await;
        let scans: Vec<Scan> = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let n = queue.len().min(MAX_SCANS_PER_TX);
            queue.drain(..n).collect()
        };
        if scans.is_empty() {
            return Ok(None);
        }
        let requeue = |scans: Vec<Scan>| {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.splice(0..0, scans);
        };
        let account = match crate::source::read_record::<Account>(
            self.state.as_ref(),
            StateKey::Account(self.signer),
        )
        .await
        {
            Ok(account) => account,
            Err(e) => {
                requeue(scans);
                return Err(e);
            }
        };
        let nonce = (*last_nonce).max(account.map_or(0, |a| a.nonce)) + 1;
        let signed = Transaction {
            chain_id: self.chain_id.clone(),
            signer: self.signer,
            nonce,
            payload: Payload::RecordScans {
                scans: scans.clone(),
            },
        }
        .sign(&self.key);
        let hash = signed.hash();
        match self.mempool.insert(hash, signed.encode()) {
            Ok(()) => {
                *last_nonce = nonce;
                tracing::debug!(%hash, scans = scans.len(), nonce, "scans sent");
                Ok(Some(hash))
            }
            Err(Refusal::Duplicate) => {
                *last_nonce = nonce;
                Ok(Some(hash))
            }
            Err(Refusal::Full) => {
                requeue(scans);
                Err(ApiError::MempoolFull)
            }
        }
    }

    /// Flushes every [`FLUSH_INTERVAL`], or at once when a transaction's worth of scans waits.
    pub fn spawn_flusher(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(FLUSH_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = self.full.notified() => {}
                }
                // Send everything that waits, a transaction at a time.
                loop {
                    match self.flush().await {
                        Ok(Some(_)) if self.pending() > 0 => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "scan gateway could not flush");
                            break;
                        }
                    }
                }
            }
        })
    }
}
