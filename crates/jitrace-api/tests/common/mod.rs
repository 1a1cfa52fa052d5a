//! A chain with one finalised block, built by running the real ledger, for the API's tests.

#![allow(dead_code)] // each test binary uses a different part

use axum::Router;
use commonware_codec::Encode as _;
use commonware_consensus::types::Height;
use commonware_cryptography::{Digestible as _, Signer as _};
use jitrace_api::{ApiState, MemoryState, ScanGateway, router, router_with_watchers, store_media};
use jitrace_chain::{
    Block, Mempool, MempoolConfig,
    block::{to_hash, tx_root},
    genesis_block,
};
use jitrace_ledger::{BlockEnv, Executor, Genesis, state::StateKey};
use jitrace_store::{BlockStore, FinalizedBlock, IndexStore, Tip};
use jitrace_types::{
    Gtin, Hash, LicenceId, OrgId, Payload, Role, SecretKey, SignedTransaction, Transaction,
    tx::{IssueCodeBatch, IssueLicence, MediaRef, ProductInfo, RegisterOrg},
};
use std::{collections::BTreeMap, path::PathBuf, sync::Arc};
use tempfile::TempDir;
use tokio::sync::watch;

pub const CHAIN_ID: &str = "jitrace-test";
/// Block 1's time: 2025-06-15, in ms.
pub const BLOCK_TIME_MS: u64 = 1_750_000_000_000;
/// The product's GTIN-12; as GTIN-14 it is [`GTIN14`].
pub const GTIN12: &str = "614141000012";
pub const GTIN14: &str = "00614141000012";
/// A valid GTIN nobody registered.
pub const UNKNOWN_GTIN: &str = "614141000029";
pub const CERTIFICATE: &[u8] = &[0xce, 0x27, 0x1f];
pub const MEDIA: &[u8] = b"\x89PNG pretend this is a label photo";

pub fn operator() -> SecretKey {
    SecretKey::from_seed(1)
}
pub fn brand() -> SecretKey {
    SecretKey::from_seed(2)
}
pub fn code_key() -> SecretKey {
    SecretKey::from_seed(3)
}
pub fn validator() -> SecretKey {
    SecretKey::from_seed(100)
}

pub fn gtin() -> Gtin {
    Gtin::parse(GTIN14).unwrap()
}

pub fn org_id(id: &str) -> OrgId {
    OrgId::new(id).unwrap()
}

/// Signs `payload` by `key` with `nonce` for [`CHAIN_ID`].
pub fn signed(key: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
    signed_for(CHAIN_ID, key, nonce, payload)
}

pub fn signed_for(chain: &str, key: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain.into(),
        signer: key.public_key(),
        nonce,
        payload,
    }
    .sign(key)
}

/// A fresh organisation registration by the operator (nonce 3 is the operator's next).
pub fn register_retailer(id: &str, nonce: u64) -> SignedTransaction {
    signed(
        &operator(),
        nonce,
        Payload::RegisterOrg(RegisterOrg {
            id: org_id(id),
            name: format!("Retailer {id}"),
            roles: vec![Role::Retailer],
            gs1_company_prefix: None,
            region: Some("CN".into()),
            admin: SecretKey::from_seed(50).public_key(),
        }),
    )
}

pub fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        operator: operator().public_key(),
        platform_org: org_id("platform"),
        platform_name: "Jitrace Platform".into(),
        validators: vec![validator().public_key()],
        scan_rules: jitrace_ledger::state::ScanRules::DEFAULT,
    }
}

/// The block-1 transactions: onboard a brand, license it, register a code key and a product,
/// issue a batch, and one batch that the ledger rejects (over quota).
pub fn block_one_txs(media_hash: Hash) -> Vec<SignedTransaction> {
    let (op, brand) = (operator(), brand());
    let acme = org_id("acme");
    let licence = LicenceId::new("acme-2026").unwrap();
    let batch = |lot: &str, first_serial, count| {
        Payload::IssueCodeBatch(IssueCodeBatch {
            org: acme.clone(),
            licence: licence.clone(),
            gtin: gtin(),
            lot: lot.into(),
            first_serial,
            count,
            code_key: code_key().public_key(),
        })
    };
    vec![
        signed(
            &op,
            1,
            Payload::RegisterOrg(RegisterOrg {
                id: acme.clone(),
                name: "Acme Wines".into(),
                roles: vec![Role::Brand],
                gs1_company_prefix: Some("0614141".into()),
                region: Some("CN-SH".into()),
                admin: brand.public_key(),
            }),
        ),
        signed(
            &op,
            2,
            Payload::IssueLicence(IssueLicence {
                id: licence.clone(),
                org: acme.clone(),
                quota: 1000,
                valid_from: BLOCK_TIME_MS / 1000 - 10,
                valid_until: BLOCK_TIME_MS / 1000 + 1_000_000,
            }),
        ),
        signed(
            &brand,
            1,
            Payload::RegisterCodeKey {
                org: acme.clone(),
                key: code_key().public_key(),
            },
        ),
        signed(
            &brand,
            2,
            Payload::RegisterProduct(ProductInfo {
                gtin: gtin(),
                org: acme.clone(),
                name: "Acme Red 2024".into(),
                description: "A red wine".into(),
                attributes: vec![jitrace_types::tx::Attribute {
                    name: "volume_ml".into(),
                    value: "750".into(),
                }],
                media: vec![MediaRef {
                    hash: media_hash,
                    mime: "image/png".into(),
                    size: MEDIA.len() as u64,
                    caption: "Label".into(),
                }],
            }),
        ),
        signed(&brand, 3, batch("L1", 1, 100)),
        signed(&brand, 4, batch("L2", 1_000, 5_000)),
    ]
}

pub struct Options {
    pub max_txs: usize,
    /// Whether block 1 is finalised; without it the chain has only its genesis state.
    pub with_block: bool,
    /// The scan gateway's key; without it `POST /v1/scans` is disabled.
    pub gateway_key: Option<SecretKey>,
    /// Whether the router runs the indexer of finalised blocks (analytics and alerts).
    pub indexer: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_txs: 100,
            with_block: true,
            gateway_key: None,
            indexer: false,
        }
    }
}

/// An API over a real block store, a real mempool and ledger state in memory.
pub struct Fixture {
    pub router: Router,
    pub console: Arc<jitrace_console::Console>,
    pub mempool: Mempool,
    pub state: Arc<MemoryState>,
    pub store: Arc<BlockStore>,
    pub tip: watch::Sender<Option<Tip>>,
    pub executed: Vec<SignedTransaction>,
    pub media_hash: Hash,
    pub media_dir: PathBuf,
    pub gateway: Option<Arc<ScanGateway>>,
    pub index: Arc<IndexStore>,
    _dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with(Options::default())
    }

    pub fn with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let media_dir = dir.path().join("media");
        let media_hash = store_media(&media_dir, MEDIA, "image/png").unwrap();
        let store = Arc::new(BlockStore::open(&dir.path().join("blocks.redb")).unwrap());
        let state = Arc::new(MemoryState::default());
        let executed = if options.with_block {
            block_one_txs(media_hash)
        } else {
            vec![]
        };
        let env = BlockEnv {
            height: 1,
            time_ms: BLOCK_TIME_MS,
        };
        state.apply(&execute(&state.snapshot(), env, &executed, true));
        if options.with_block {
            let raw: Vec<Vec<u8>> = executed.iter().map(SignedTransaction::encode).collect();
            append_block(&store, 1, BLOCK_TIME_MS, raw);
        }
        let tip = watch::channel(store.tip().unwrap()).0;
        let mempool = Mempool::new(MempoolConfig {
            max_txs: options.max_txs,
            max_bytes: 1 << 20,
            in_flight_ms: 1_000,
        });
        let gateway = options.gateway_key.clone().map(|key| {
            ScanGateway::new(
                key,
                CHAIN_ID,
                mempool.clone(),
                state.clone() as Arc<dyn jitrace_api::StateSource>,
            )
        });
        let index = Arc::new(IndexStore::open(&dir.path().join("index.redb")).unwrap());
        let console =
            Arc::new(jitrace_console::Console::open(&dir.path().join("console.redb")).unwrap());
        let state_for_api = ApiState {
            chain_id: CHAIN_ID.into(),
            validators: vec![validator().public_key()],
            mempool: mempool.clone(),
            store: store.clone(),
            tip: tip.subscribe(),
            state: state.clone(),
            media_dir: media_dir.clone(),
            engine_metrics: Arc::new(|| {
                "# TYPE network_tracker_directory_reserved gauge\nnetwork_tracker_directory_reserved 3\n"
                    .to_string()
            }),
            exec_stats: Arc::default(),
            role: "validator".into(),
            scan_gateway: gateway.clone(),
            alerts: jitrace_api::alerts::AlertHub::new(index.clone()),
            verdicts: Default::default(),
            index: index.clone(),
            console: Some(console.clone()),
        };
        let router = if options.indexer {
            router_with_watchers(state_for_api)
        } else {
            router(state_for_api)
        };
        Self {
            router,
            console,
            mempool,
            state,
            store,
            tip,
            executed,
            media_hash,
            media_dir,
            gateway,
            index,
            _dir: dir,
        }
    }

    /// Plays the node: takes the mempool's transactions into block `height`, executes them,
    /// applies the writes, stores the block and publishes the tip.
    pub fn finalise_next_block(&self, time_ms: u64) {
        let height = self.tip.borrow().map_or(0, |t| t.height) + 1;
        let raw = self.mempool.take(time_ms, 1_000, 1 << 20);
        let env = BlockEnv { height, time_ms };
        let txs: Vec<SignedTransaction> = raw
            .iter()
            .map(|r| SignedTransaction::decode(r).unwrap())
            .collect();
        self.state
            .apply(&execute(&self.state.snapshot(), env, &txs, false));
        let ids: Vec<Hash> = txs.iter().map(SignedTransaction::hash).collect();
        append_block(&self.store, height, time_ms, raw);
        self.mempool.remove(&ids);
        self.tip.send_replace(self.store.tip().unwrap());
    }
}

/// Runs the ledger over `state` for one block and returns its writes.
fn execute(
    state: &BTreeMap<StateKey, Vec<u8>>,
    env: BlockEnv,
    txs: &[SignedTransaction],
    init_genesis: bool,
) -> jitrace_ledger::WriteSet {
    let mut executor = Executor::new(state, env);
    if init_genesis {
        executor.init_genesis(&genesis()).unwrap();
    }
    for (index, tx) in txs.iter().enumerate() {
        executor.apply(index as u32, &tx.encode()).unwrap();
    }
    executor.into_writes()
}

/// Encodes a block over `raw` transactions and appends it to the store.
fn append_block(store: &BlockStore, height: u64, time_ms: u64, raw: Vec<Vec<u8>>) {
    let leader = validator().to_engine().public_key();
    let mut block: Block = genesis_block(leader, time_ms - 1_000);
    let tx_count = raw.len() as u64;
    block.header.parent = block.digest();
    block.header.height = Height::new(height);
    block.header.time_ms = time_ms;
    block.header.tx_root = tx_root(&raw);
    block.txs = raw;
    let encoded = block.encode();
    store
        .append(&FinalizedBlock {
            height,
            view: height,
            hash: to_hash(&block.digest()),
            state_root: Hash::of(&[b"state root", &height.to_be_bytes()]),
            time_ms,
            block: &encoded,
            certificate: Some(CERTIFICATE),
            tx_count,
        })
        .unwrap();
}
pub mod world;
