//! The application the consensus engine drives: builds blocks from the mempool, executes them
//! with the ledger over the authenticated store, and records finalised blocks.

use crate::{
    block::{Block, Digest, EngineContext, Header, MAX_BLOCK_TX_BYTES, to_hash, tx_root},
    mempool::Mempool,
};
use commonware_codec::Encode;
use commonware_consensus::{
    Heightable,
    marshal::{self, Identifier, ancestry::Ancestry, standard::Standard},
    simplex::{self, types::Context},
    types::{Epoch, Height, Round, View},
};
use commonware_cryptography::{Digestible, ed25519, sha256};
use commonware_glue::stateful::{
    self, Finality, Input, Proposed,
    db::{DatabaseSet, Merkleized as _, Shared, Unmerkleized as _},
};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::{
    Context as StorageContext, mmr, qmdb::current::ordered::variable, qmdb::sync::Target,
    translator::EightCap,
};
use commonware_utils::non_empty_range;
use futures::StreamExt as _;
use jitrace_ledger::{
    BlockEnv, Executor, Genesis, Missing, StateReader,
    state::{Receipt, StateKey},
    tx_id,
};
use jitrace_store::{BlockStore, FinalizedBlock, Tip};
use jitrace_types::keys::domain;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tracing::{debug, error, info, warn};

/// The signing scheme of consensus: ed25519, attributable certificates.
pub type Scheme = simplex::scheme::ed25519::Scheme;

pub use crate::engine::state_config;

/// The authenticated state: QMDB `current`, ordered (so absence can be proven), SHA-256,
/// 32-byte hashed keys, variable-length values.
pub type StateDb<E> = variable::Db<
    mmr::Family,
    E,
    Digest,
    Vec<u8>,
    commonware_cryptography::Sha256,
    EightCap,
    32,
    Sequential,
>;

/// The database set the consensus glue manages for us.
pub type Databases<E> = Shared<StateDb<E>>;

type Unmerkleized<E> = <Databases<E> as DatabaseSet<E>>::Unmerkleized;
type Merkleized<E> = <Databases<E> as DatabaseSet<E>>::Merkleized;

/// The marshal mailbox type.
pub type MarshalMailbox = marshal::core::Mailbox<Scheme, Standard<Block>>;

/// Most a block's time may run ahead of its parent's (a permanent rule, so it can reject).
const MAX_BLOCK_TIME_STEP_MS: u64 = 60 * 60 * 1000;

/// How long a leader waits for transactions before proposing an empty block on an empty
/// parent. Keeps an idle chain at about one block a second instead of hundreds; well below the
/// leader timeout, so waiting never costs a view.
const EMPTY_BLOCK_WAIT: Duration = Duration::from_millis(1000);
const MEMPOOL_POLL: Duration = Duration::from_millis(5);

/// Most transactions a leader proposes in one block (a block from a peer may hold up to
/// [`crate::block::MAX_BLOCK_TXS`]). Under overload, smaller blocks keep the pipeline moving:
/// the next leader proposes while this block is still being verified and finalised, instead of
/// every validator executing one huge block in turn.
pub const PROPOSAL_TXS: usize = 5_000;

/// Converts a ledger hash into an engine digest.
pub fn to_digest(hash: &jitrace_types::Hash) -> Digest {
    Digest::from(hash.0)
}

/// Block execution timings, for metrics.
#[derive(Default, Debug)]
pub struct ExecStats {
    /// Blocks executed (proposed or verified).
    pub blocks: std::sync::atomic::AtomicU64,
    /// Transactions executed.
    pub txs: std::sync::atomic::AtomicU64,
    /// Total execution time, microseconds.
    pub micros: std::sync::atomic::AtomicU64,
    /// Signatures checked during execution (not known from the mempool).
    pub signatures: std::sync::atomic::AtomicU64,
}

impl ExecStats {
    fn record(&self, txs: usize, executed: &Executed, elapsed: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.blocks.fetch_add(1, Relaxed);
        self.txs.fetch_add(txs as u64, Relaxed);
        self.signatures
            .fetch_add(executed.signatures_checked as u64, Relaxed);
        self.micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }
}

/// The ledger application.
#[derive(Clone)]
pub struct App {
    genesis: Arc<Genesis>,
    genesis_block: Block,
    mempool: Mempool,
    store: Arc<BlockStore>,
    marshal: MarshalMailbox,
    tip: tokio::sync::watch::Sender<Option<Tip>>,
    stats: Arc<ExecStats>,
}

impl App {
    /// A new application.
    pub fn new(
        genesis: Arc<Genesis>,
        genesis_block: Block,
        mempool: Mempool,
        store: Arc<BlockStore>,
        marshal: MarshalMailbox,
        tip: tokio::sync::watch::Sender<Option<Tip>>,
        stats: Arc<ExecStats>,
    ) -> Self {
        Self {
            genesis,
            genesis_block,
            mempool,
            store,
            marshal,
            tip,
            stats,
        }
    }
}

/// The genesis block: height 0, no transactions, the empty store's sync target.
pub fn genesis_block(leader: ed25519::PublicKey, time_ms: u64) -> Block {
    let target =
        <Databases<commonware_runtime::tokio::Context> as DatabaseSet<_>>::initial_sync_targets();
    Block {
        header: Header {
            context: Context {
                round: Round::new(Epoch::zero(), View::zero()),
                leader,
                parent: (View::zero(), sha256::Digest::from([0u8; 32])),
            },
            parent: sha256::Digest::from([0u8; 32]),
            height: Height::zero(),
            time_ms,
            tx_root: tx_root(&[]),
            state_root: target.root,
            ops_root: target.root,
            range: target.range,
        },
        txs: vec![],
    }
}

/// State read so far during one block's execution; a key it lacks is [`Missing`].
#[derive(Default)]
struct Prefetched(Mutex<BTreeMap<StateKey, Option<Vec<u8>>>>);

impl StateReader for Prefetched {
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).cloned().ok_or_else(|| Missing(key.clone()))
    }
}

impl Prefetched {
    fn insert(&self, key: StateKey, value: Option<Vec<u8>>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, value);
    }
}

/// Why a block could not be executed (storage trouble, never a rule: rules give receipts).
#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct ExecError(String);

/// What [`execute`] gives back besides the merkleized state.
pub struct Executed {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// How many signatures were checked here (those `known_valid` did not vouch for).
    pub signatures_checked: usize,
}

/// Executes `txs` on `batches` and returns the merkleized state and the receipts.
///
/// `known_valid` names transactions whose signatures this node has verified already (those in
/// its mempool); the others are verified here as one batch before execution, and one by one by
/// the ledger if the batch fails.
pub async fn execute<E>(
    batches: Unmerkleized<E>,
    genesis: &Genesis,
    env: BlockEnv,
    txs: &[Vec<u8>],
    known_valid: impl Fn(&jitrace_types::TxHash) -> bool,
) -> Result<(Merkleized<E>, Executed), ExecError>
where
    E: StorageContext + Spawner,
{
    let reader = Prefetched::default();
    // Decode once: prefetch what every transaction reads (its receipt, for duplicates, and its
    // signer's account) and collect the signatures still to verify.
    let mut keys = Vec::with_capacity(txs.len() * 2 + 1);
    keys.push(StateKey::Params);
    let mut decoded = Vec::with_capacity(txs.len());
    for raw in txs {
        let parsed = jitrace_types::SignedTransaction::decode(raw)
            .ok()
            .and_then(|signed| {
                let tx = signed.transaction().ok()?;
                Some((signed.hash(), signed, tx))
            });
        if let Some((hash, _, tx)) = &parsed {
            keys.push(StateKey::Receipt(*hash));
            keys.push(StateKey::Account(tx.signer));
            keys.extend(jitrace_ledger::read::likely_reads(tx));
        }
        decoded.push(parsed);
    }
    let unverified: Vec<_> = decoded
        .iter()
        .flatten()
        .filter(|(hash, _, _)| !known_valid(hash))
        .map(|(_, signed, tx)| {
            (
                &tx.signer,
                domain::TRANSACTION,
                signed.body.as_slice(),
                &signed.signature,
            )
        })
        .collect();
    let signatures_checked = unverified.len();
    let batch_valid = jitrace_types::keys::verify_batch(&unverified);
    let verified: Vec<bool> = decoded
        .iter()
        .map(|parsed| {
            parsed
                .as_ref()
                .is_some_and(|(hash, _, _)| batch_valid || known_valid(hash))
        })
        .collect();
    keys.sort();
    keys.dedup();
    let digests: Vec<Digest> = keys.iter().map(|k| to_digest(&k.hashed())).collect();
    let refs: Vec<&Digest> = digests.iter().collect();
    let values = batches
        .get_many(&refs)
        .await
        .map_err(|e| ExecError(e.to_string()))?;
    for (key, value) in keys.into_iter().zip(values) {
        reader.insert(key, value);
    }

    let mut executor = Executor::new(&reader, env);
    if env.height == 1 {
        loop {
            match executor.init_genesis(genesis) {
                Ok(()) => break,
                Err(Missing(key)) => fetch(&batches, &reader, key).await?,
            }
        }
    }
    let mut receipts = Vec::with_capacity(txs.len());
    for (index, raw) in txs.iter().enumerate() {
        let index = u32::try_from(index).map_err(|_| ExecError("too many transactions".into()))?;
        let verified = verified[index as usize];
        loop {
            let applied = match &decoded[index as usize] {
                Some((hash, signed, tx)) => {
                    executor.apply_decoded(index, signed, *hash, tx, verified)
                }
                // Undecodable: the ledger decodes it again to say why.
                None => executor.apply_checked(index, raw, verified),
            };
            match applied {
                Ok(receipt) => {
                    receipts.push(receipt);
                    break;
                }
                Err(Missing(key)) => fetch(&batches, &reader, key).await?,
            }
        }
    }
    let writes = executor.into_writes();
    let mut batches = batches;
    for (key, value) in writes {
        batches = batches.write(to_digest(&key.hashed()), value);
    }
    let merkleized = batches
        .merkleize()
        .await
        .map_err(|e| ExecError(e.to_string()))?;
    Ok((
        merkleized,
        Executed {
            receipts,
            signatures_checked,
        },
    ))
}

async fn fetch<E>(
    batches: &Unmerkleized<E>,
    reader: &Prefetched,
    key: StateKey,
) -> Result<(), ExecError>
where
    E: StorageContext + Spawner,
{
    let value = batches
        .get(&to_digest(&key.hashed()))
        .await
        .map_err(|e| ExecError(e.to_string()))?;
    reader.insert(key, value);
    Ok(())
}

fn now_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn header_for(
    context: EngineContext,
    parent: Digest,
    height: Height,
    time_ms: u64,
    txs: &[Vec<u8>],
    merkleized: &Merkleized<impl StorageContext + Spawner>,
) -> Header {
    let bounds = merkleized.bounds();
    Header {
        context,
        parent,
        height,
        time_ms,
        tx_root: tx_root(txs),
        state_root: merkleized.root(),
        ops_root: merkleized.ops_root(),
        range: non_empty_range!(merkleized.sync_boundary(), bounds.tip.size),
    }
}

impl<E> stateful::Application<E> for App
where
    E: StorageContext + Spawner,
{
    type SigningScheme = Scheme;
    type Context = EngineContext;
    type Block = Block;
    type Databases = Databases<E>;
    type Captured = ();
    type Provider = ();
    type Input = ();

    fn sync_targets(block: &Block) -> <Self::Databases as DatabaseSet<E>>::SyncTargets {
        Target::new(block.header.ops_root, block.header.range.clone())
    }

    async fn genesis(&mut self) -> Block {
        self.genesis_block.clone()
    }

    async fn propose(
        &mut self,
        (runtime, context): (E, EngineContext),
        mut ancestry: impl Ancestry<Block>,
        batches: Unmerkleized<E>,
        _input: Input<(), ()>,
    ) -> Option<Proposed<Self, E>> {
        let parent = ancestry.next().await?;
        let height = parent.height().next();
        // An idle chain should not make hundreds of empty blocks a second, so a leader whose
        // parent was empty waits a little for transactions. The glue does not finalise the
        // parent while we build, so we never wait after a block that carries transactions:
        // their finalisation must not pay for our patience.
        if parent.inner().txs.is_empty() {
            let mut waited = Duration::ZERO;
            while !self.mempool.has_ready(now_ms(&runtime)) && waited < EMPTY_BLOCK_WAIT {
                runtime.sleep(MEMPOOL_POLL).await;
                waited += MEMPOOL_POLL;
            }
        }
        let now = now_ms(&runtime);
        let time_ms = now.max(parent.inner().header.time_ms);
        // Blocks between the parent and the finalised tip are on their way to finalisation:
        // their transactions must not be proposed again. (Usually one block, at most a few.)
        let finalised = self.store.tip().ok().flatten().map_or(0, |t| t.height);
        let mut pending = std::collections::BTreeSet::new();
        let mut cursor = Some(parent.clone());
        while let Some(block) = cursor.take() {
            if block.height().get() <= finalised {
                break;
            }
            pending.extend(block.inner().txs.iter().map(|raw| tx_id(raw)));
            cursor = ancestry.next().await;
        }
        let txs = self
            .mempool
            .take_excluding(now, PROPOSAL_TXS, MAX_BLOCK_TX_BYTES, &pending);
        let env = BlockEnv {
            height: height.get(),
            time_ms,
        };
        let started = std::time::Instant::now();
        // Our own proposal: every transaction came from our mempool, verified on admission.
        let (merkleized, executed) =
            match execute(batches, &self.genesis, env, &txs, |_| true).await {
                Ok(done) => done,
                Err(e) => {
                    error!(%e, height = height.get(), "could not execute a proposal");
                    return None;
                }
            };
        self.stats.record(txs.len(), &executed, started.elapsed());
        let header = header_for(context, parent.digest(), height, time_ms, &txs, &merkleized);
        debug!(height = height.get(), txs = txs.len(), "proposed");
        Some(Proposed {
            block: Block { header, txs },
            merkleized,
        })
    }

    async fn process(
        &mut self,
        (_runtime, context): (E, EngineContext),
        mut ancestry: impl Ancestry<Block>,
        batches: Unmerkleized<E>,
        finality: Finality,
    ) -> Option<Merkleized<E>> {
        let block = ancestry.next().await?;
        let parent = ancestry.next().await?;
        let header = &block.inner().header;
        let parent_header = &parent.inner().header;
        if finality == Finality::Candidate {
            let valid = header.parent == parent.digest()
                && header.height == parent_header.height.next()
                && header.time_ms >= parent_header.time_ms
                && header.time_ms - parent_header.time_ms <= MAX_BLOCK_TIME_STEP_MS
                && header.context == context
                && block.inner().tx_root_matches();
            if !valid {
                warn!(
                    height = header.height.get(),
                    "rejected a block with an invalid header"
                );
                return None;
            }
        }
        let env = BlockEnv {
            height: header.height.get(),
            time_ms: header.time_ms,
        };
        let started = std::time::Instant::now();
        let mempool = &self.mempool;
        let known = |hash: &jitrace_types::TxHash| mempool.contains(hash);
        let (merkleized, executed) =
            match execute(batches, &self.genesis, env, &block.inner().txs, known).await {
                Ok(done) => done,
                Err(e) => {
                    error!(%e, height = header.height.get(), "could not execute a block");
                    return None;
                }
            };
        self.stats
            .record(block.inner().txs.len(), &executed, started.elapsed());
        if merkleized.root() != header.state_root {
            warn!(
                height = header.height.get(),
                "rejected a block whose state root does not match"
            );
            return None;
        }
        Some(merkleized)
    }

    async fn capture(
        &mut self,
        _context: (E, EngineContext),
        _block: &Block,
        _batches: &Merkleized<E>,
        _readers: <Self::Databases as DatabaseSet<E>>::Readers,
    ) {
    }

    async fn finalized(
        &mut self,
        _context: (E, EngineContext),
        block: &Block,
        _captured: (),
        _readers: <Self::Databases as DatabaseSet<E>>::Readers,
    ) {
        let height = block.header.height.get();
        // Fill any gap first (blocks whose state was recovered at startup skip this hook).
        let stored = match self.store.tip() {
            Ok(tip) => tip.map_or(0, |t| t.height),
            Err(e) => panic!("block store unreadable: {e}"),
        };
        for missing in (stored + 1)..height {
            let Some(earlier) = self
                .marshal
                .get_block(Identifier::Height(Height::new(missing)))
                .await
            else {
                panic!("marshal lost finalised block {missing}");
            };
            self.record(earlier.inner()).await;
        }
        self.record(block).await;
        info!(height, txs = block.txs.len(), "finalised");
    }
}

impl App {
    /// Appends a finalised block to the block store and publishes the new tip.
    async fn record(&self, block: &Block) {
        let height = block.header.height;
        let certificate = self
            .marshal
            .get_finalization(height)
            .await
            .map(|f| f.encode().to_vec());
        let encoded = block.encode().to_vec();
        let hashes: Vec<jitrace_types::Hash> = block.txs.iter().map(|raw| tx_id(raw)).collect();
        let entry = FinalizedBlock {
            height: height.get(),
            view: block.header.context.round.view().get(),
            hash: to_hash(&block.digest()),
            state_root: to_hash(&block.header.state_root),
            time_ms: block.header.time_ms,
            block: &encoded,
            certificate: certificate.as_deref(),
            tx_count: hashes.len() as u64,
        };
        if let Err(e) = self.store.append(&entry) {
            // Losing a finalised block is not an option: stop rather than go on without it.
            panic!("could not store finalised block {}: {e}", height.get());
        }
        self.mempool.remove(&hashes);
        if let Ok(tip) = self.store.tip() {
            self.tip.send_replace(tip);
        }
    }
}

/// The current time in milliseconds since the Unix epoch (for genesis files and tools).
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
