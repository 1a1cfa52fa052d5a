//! A deterministic simulation harness for the real node stack: [`start_engine_with_prefix`]
//! (simplex, marshal, the stateful glue over QMDB, our application, mempool and gossip) on the
//! engine's deterministic runtime and simulated network.
//!
//! - Every node keeps its engine state under its own partition prefix in the runtime's (shared,
//!   in-memory) storage, so a restarted node recovers from what it had made durable.
//! - Every node has its own block store (redb, a real file in a per-run temporary directory);
//!   it survives crashes like the file on disk would.
//! - A node's actors all descend from one supervisor task ("keeper"): aborting it stops the
//!   node at once, in whatever state it was (an unclean stop).
//! - The harness observes nodes only through what a node exposes: its block store, its marshal
//!   mailbox (finalisation certificates) and its state database (receipts).
//!
//! [`start_engine_with_prefix`]: jitrace_chain::engine::start_engine_with_prefix

use commonware_actor::Feedback;
use commonware_codec::DecodeExt as _;
use commonware_consensus::types::Height;
use commonware_cryptography::{Digestible as _, Signer as _, ed25519};
use commonware_p2p::{
    BlockedSubscription, Blocker, Manager as _, PeerSetSubscription, Provider, Receiver,
    Recipients, Sender, TrackedPeers,
    simulated::{self, Link, Oracle, SplitForwarder, SplitOrigin, SplitRouter, SplitTarget},
};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock as _, Handle, Spawner as _, Supervisor as _, deterministic};
use commonware_utils::{NZUsize, ordered::Set};
use jitrace_chain::{
    Block, GossipConfig, Mempool, MempoolConfig, Scheme,
    block::to_hash,
    check_stateless,
    engine::{CHANNEL_QUOTA, CHANNELS, Channels, EngineConfig, Running, start_engine_with_prefix},
    to_digest,
};
use jitrace_ledger::{
    Genesis,
    state::{Outcome, Receipt, StateKey},
    tx_id,
};
use jitrace_store::BlockStore;
use jitrace_types::{OrgId, Payload, Role, SecretKey, Transaction, TxHash, tx::RegisterOrg};
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub type Ctx = deterministic::Context;
pub type Pk = ed25519::PublicKey;

pub const CHAIN: &str = "jitrace-sim";
const NAMESPACE: &[u8] = b"jitrace-sim";
/// The simulated network's largest message: the TCP network's limit in production.
const MAX_MESSAGE_SIZE: u32 = 8 * 1024 * 1024;
/// When simulated time starts (and the genesis block's time).
pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// How often the harness looks at the nodes while it waits.
const POLL: Duration = Duration::from_millis(100);

const MEMPOOL: MempoolConfig = MempoolConfig {
    max_txs: 10_000,
    max_bytes: 64 * 1024 * 1024,
    in_flight_ms: 5_000,
};

/// A runtime for one run: seeded, starting at [`GENESIS_TIME_MS`], failing a run that goes on
/// for more than `limit` of simulated time.
pub fn runtime_config(seed: u64, limit: Duration) -> deterministic::Config {
    deterministic::Config::new()
        .with_seed(seed)
        .with_start_time(UNIX_EPOCH + Duration::from_millis(GENESIS_TIME_MS))
        .with_timeout(Some(limit))
}

/// A link with a mean latency and jitter (milliseconds) and a delivery probability.
pub fn link(latency_ms: u64, jitter_ms: u64, success_rate: commonware_utils::Probability) -> Link {
    Link {
        latency: Duration::from_millis(latency_ms),
        jitter: Duration::from_millis(jitter_ms),
        success_rate,
    }
}

/// The key of validator `index`.
pub fn validator_key(index: usize) -> SecretKey {
    SecretKey::from_seed(100 + index as u64)
}

/// The genesis operator (the platform organisation's first member).
fn operator() -> SecretKey {
    SecretKey::from_seed(1)
}

pub fn genesis(validators: usize) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        operator: operator().public_key(),
        platform_org: OrgId::new("platform").unwrap(),
        platform_name: "Platform".into(),
        validators: (0..validators)
            .map(|i| validator_key(i).public_key())
            .collect(),
        scan_rules: jitrace_ledger::state::ScanRules::DEFAULT,
    }
}

/// The key of the first member of organisation `org-{n}`.
fn admin_key(n: u64) -> SecretKey {
    SecretKey::from_seed(10_000 + n)
}

/// Real signed transactions in independent streams, each signer's nonces 1, 2, ...: stream 0 is
/// the operator onboarding organisation after organisation (`org-1`, `org-2`, ...), stream
/// `k > 0` the admin of `org-k` adding member after member (valid once `org-k` exists).
#[derive(Clone, Default)]
pub struct Workload {
    nonces: BTreeMap<u64, u64>,
}

impl Workload {
    /// The next transaction of `stream`, as wire bytes.
    pub fn next_tx(&mut self, stream: u64) -> Vec<u8> {
        let nonce = self.nonces.entry(stream).or_default();
        *nonce += 1;
        let n = *nonce;
        let (signer, payload) = if stream == 0 {
            (
                operator(),
                Payload::RegisterOrg(RegisterOrg {
                    id: OrgId::new(format!("org-{n}")).unwrap(),
                    name: format!("Organisation {n}"),
                    roles: vec![Role::Distributor],
                    gs1_company_prefix: None,
                    region: Some("CN-SH".into()),
                    admin: admin_key(n).public_key(),
                }),
            )
        } else {
            (
                admin_key(stream),
                Payload::AddMember {
                    org: OrgId::new(format!("org-{stream}")).unwrap(),
                    key: SecretKey::from_seed(1_000_000 * stream + n).public_key(),
                },
            )
        };
        Transaction {
            chain_id: CHAIN.into(),
            signer: signer.public_key(),
            nonce: n,
            payload,
        }
        .sign(&signer)
        .encode()
    }
}

/// What a node's engine uses for peers and blocking: the simulated network's tracked peer set
/// and its per-peer block list.
#[derive(Clone)]
pub struct PeerOracle {
    manager: simulated::Manager<Pk, Ctx>,
    control: simulated::Control<Pk, Ctx>,
}

impl std::fmt::Debug for PeerOracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerOracle").finish_non_exhaustive()
    }
}

impl Provider for PeerOracle {
    type PublicKey = Pk;

    async fn peer_set(&mut self, id: u64) -> Option<TrackedPeers<Pk>> {
        self.manager.peer_set(id).await
    }

    async fn subscribe(&mut self) -> PeerSetSubscription<Pk> {
        self.manager.subscribe().await
    }
}

impl Blocker for PeerOracle {
    type PublicKey = Pk;

    fn block(&mut self, peer: Pk) -> Feedback {
        self.control.block(peer)
    }

    fn blocked(&mut self) -> BlockedSubscription<Pk> {
        self.control.blocked()
    }
}

/// One node (one engine instance): a validator, or the second instance of a twin.
pub struct Node {
    /// For traces: `v1`, or `v0b` for the second instance of validator 0.
    pub name: String,
    key: ed25519::PrivateKey,
    prefix: String,
    pub store: Arc<BlockStore>,
    pub mempool: Mempool,
    running: Option<Running<Ctx>>,
    keeper: Option<Handle<()>>,
    starts: u32,
}

impl Node {
    pub fn height(&self) -> u64 {
        self.store
            .tip()
            .expect("block store readable")
            .map_or(0, |t| t.height)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    fn running(&self) -> &Running<Ctx> {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.name))
    }
}

/// A cluster of validators on one simulated network.
pub struct Sim {
    pub ctx: Ctx,
    pub oracle: Oracle<Pk, Ctx>,
    /// Validator public keys, by index.
    pub validators: Vec<Pk>,
    pub nodes: Vec<Node>,
    genesis: Arc<Genesis>,
    dir: PathBuf,
    link: Link,
    workload: Workload,
    /// Every transaction submitted, in order.
    pub submitted: Vec<TxHash>,
    /// Their wire bytes, for clients that submit again.
    raw: BTreeMap<TxHash, Vec<u8>>,
    /// What happened, with simulated times: actions and every node's finalised height changes.
    pub trace: Vec<String>,
    seen: Vec<u64>,
}

/// What a cluster carries over a restart of the whole runtime (from a checkpoint).
#[derive(Default)]
pub struct Carry {
    workload: Workload,
    submitted: Vec<TxHash>,
    raw: BTreeMap<TxHash, Vec<u8>>,
    trace: Vec<String>,
    heights: Vec<u64>,
}

impl Carry {
    /// The highest height any node had finalised.
    pub fn max_height(&self) -> u64 {
        self.heights.iter().copied().max().unwrap_or(0)
    }
}

impl Sim {
    /// A network of `validators` validators, all linked with `link`; no node started yet. Block
    /// stores go under `dir`.
    pub async fn new(ctx: Ctx, dir: PathBuf, validators: usize, link: Link) -> Self {
        Self::resume(ctx, dir, validators, link, Carry::default()).await
    }

    /// Ends this runtime's part of the run: what a restarted runtime needs to go on.
    pub fn into_carry(self) -> Carry {
        Carry {
            heights: self.heights(),
            workload: self.workload,
            submitted: self.submitted,
            raw: self.raw,
            trace: self.trace,
        }
    }

    /// [`Sim::new`] in a runtime restarted from a checkpoint: the same nodes (storage
    /// prefixes, block stores) and the workload, submissions and trace so far.
    pub async fn resume(
        ctx: Ctx,
        dir: PathBuf,
        validators: usize,
        link: Link,
        carry: Carry,
    ) -> Self {
        let (network, oracle) = simulated::Network::new(
            ctx.child("network"),
            simulated::Config {
                max_size: MAX_MESSAGE_SIZE,
                max_peers_per_set: NZUsize!(validators),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
        );
        network.start();
        let keys: Vec<ed25519::PrivateKey> = (0..validators)
            .map(|i| validator_key(i).to_engine())
            .collect();
        let public: Vec<Pk> = keys.iter().map(|k| k.public_key()).collect();
        let _ = oracle
            .manager()
            .track(0, Set::from_iter_dedup(public.clone()));
        let mut sim = Self {
            ctx,
            oracle,
            validators: public,
            nodes: Vec::new(),
            genesis: Arc::new(genesis(validators)),
            dir,
            link,
            workload: carry.workload,
            submitted: carry.submitted,
            raw: carry.raw,
            trace: carry.trace,
            seen: Vec::new(),
        };
        for (index, key) in keys.into_iter().enumerate() {
            sim.add_node(format!("v{index}"), key);
        }
        sim.heal().await;
        sim
    }

    fn add_node(&mut self, name: String, key: ed25519::PrivateKey) -> usize {
        let store = BlockStore::open(&self.dir.join(format!("{name}.redb"))).expect("block store");
        self.nodes.push(Node {
            prefix: name.clone(),
            name,
            key,
            store: Arc::new(store),
            mempool: Mempool::new(MEMPOOL),
            running: None,
            keeper: None,
            starts: 0,
        });
        self.seen.push(self.nodes.last().map_or(0, Node::height));
        self.nodes.len() - 1
    }

    /// Milliseconds of simulated time since genesis.
    pub fn now_ms(&self) -> u64 {
        let now = self
            .ctx
            .current()
            .duration_since(UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis() as u64;
        now - GENESIS_TIME_MS
    }

    pub fn log(&mut self, event: impl AsRef<str>) {
        let line = format!("{:>6}ms {}", self.now_ms(), event.as_ref());
        self.trace.push(line);
    }

    /// Starts every node that is not running.
    pub async fn start_all(&mut self) {
        for index in 0..self.nodes.len() {
            if !self.nodes[index].is_running() {
                self.start(index).await;
            }
        }
    }

    /// Starts (or restarts) node `index` on its own channels.
    pub async fn start(&mut self, index: usize) {
        let control = self.oracle.control(self.nodes[index].key.public_key());
        let mut pairs = Vec::with_capacity(CHANNELS.len());
        for channel in CHANNELS {
            pairs.push(
                control
                    .register(channel, CHANNEL_QUOTA)
                    .await
                    .expect("channel registration"),
            );
        }
        self.launch(index, channels(pairs)).await;
    }

    async fn launch<S, R>(&mut self, index: usize, channels: Channels<S, R>)
    where
        S: Sender<PublicKey = Pk>,
        R: Receiver<PublicKey = Pk>,
    {
        let validators: Vec<(Pk, SocketAddr)> = self
            .validators
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), SocketAddr::from(([10, 0, 0, i as u8 + 1], 7000))))
            .collect();
        let oracle = PeerOracle {
            manager: self.oracle.manager(),
            control: self.oracle.control(self.nodes[index].key.public_key()),
        };
        let node = &mut self.nodes[index];
        assert!(node.running.is_none(), "{} is already running", node.name);
        let context = self
            .ctx
            .child("node")
            .with_attribute("index", index)
            .with_attribute("start", node.starts);
        node.starts += 1;
        // A (re)started process begins with an empty mempool.
        node.mempool = Mempool::new(MEMPOOL);
        let public_key = node.key.public_key();
        let config = EngineConfig {
            signer: node.key.clone(),
            validators,
            observers: vec![],
            gossip: GossipConfig {
                chain_id: CHAIN.into(),
                validators: self.validators.clone(),
                me: public_key,
                interval: Duration::from_millis(20),
                resend: Duration::from_secs(2),
            },
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            namespace: NAMESPACE.to_vec(),
            genesis: self.genesis.clone(),
            genesis_time_ms: GENESIS_TIME_MS,
            mempool: node.mempool.clone(),
            store: node.store.clone(),
            tip: ::tokio::sync::watch::channel(None).0,
            stats: Arc::default(),
            // Small: a simulation runs several nodes in one process.
            cache_mib: 8,
        };
        let running = start_engine_with_prefix(
            context.child("engine"),
            config,
            oracle,
            channels,
            &node.prefix,
        )
        .await;
        // The supervisor of everything the engine spawned: aborting it stops the node.
        node.keeper = Some(context.spawn(|_| futures::future::pending::<()>()));
        node.running = Some(running);
        let line = format!("start {}", node.name);
        self.log(line);
    }

    /// Stops node `index` at once: every actor is dropped wherever it was, and writes it had
    /// not synced are lost (the deterministic storage keeps only synced bytes for a blob that is
    /// reopened).
    pub fn crash(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        node.keeper
            .take()
            .unwrap_or_else(|| panic!("{} is not running", node.name))
            .abort();
        node.running = None;
        let line = format!("crash {}", node.name);
        self.log(line);
    }

    /// Starts validator `key_index` twice with the same key (twins), both on the one network
    /// identity: the first instance exchanges messages only with validators `primary`, the
    /// second only with `secondary`. Returns the second instance's node index.
    pub async fn start_twins(
        &mut self,
        key_index: usize,
        primary: &[usize],
        secondary: &[usize],
    ) -> usize {
        let key = self.nodes[key_index].key.clone();
        let twin = self.add_node(format!("v{key_index}b"), key.clone());
        let primary: Vec<Pk> = primary
            .iter()
            .map(|&i| self.validators[i].clone())
            .collect();
        let secondary: Vec<Pk> = secondary
            .iter()
            .map(|&i| self.validators[i].clone())
            .collect();
        let control = self.oracle.control(key.public_key());
        let mut first = Vec::with_capacity(CHANNELS.len());
        let mut second = Vec::with_capacity(CHANNELS.len());
        for channel in CHANNELS {
            let (sender, receiver) = control
                .register(channel, CHANNEL_QUOTA)
                .await
                .expect("channel registration");
            let (s1, s2) = sender.split_with(forward_to(primary.clone(), secondary.clone()));
            let (r1, r2) = receiver.split_with(
                self.ctx
                    .child("twin_split")
                    .with_attribute("channel", channel),
                route_from(primary.clone(), secondary.clone()),
            );
            first.push((s1, r1));
            second.push((s2, r2));
        }
        self.launch(key_index, channels(first)).await;
        self.launch(twin, channels(second)).await;
        twin
    }

    /// Cuts every link between validators in different groups (both directions).
    pub async fn partition(&mut self, groups: &[&[usize]]) {
        let group_of = |v: usize| groups.iter().position(|g| g.contains(&v));
        for a in 0..self.validators.len() {
            for b in 0..self.validators.len() {
                if a != b && group_of(a) != group_of(b) {
                    let _ = self
                        .oracle
                        .remove_link(self.validators[a].clone(), self.validators[b].clone())
                        .await;
                }
            }
        }
        self.log(format!("partition {groups:?}"));
    }

    /// Links every pair of validators again with the cluster's link.
    pub async fn heal(&mut self) {
        for a in &self.validators {
            for b in &self.validators {
                if a != b {
                    let _ = self.oracle.remove_link(a.clone(), b.clone()).await;
                    self.oracle
                        .add_link(a.clone(), b.clone(), self.link.clone())
                        .await
                        .expect("link");
                }
            }
        }
        self.log("links up");
    }

    /// Submits the next `count` transactions of `stream` (see [`Workload`]) to node `index`'s
    /// mempool, as its API would.
    pub fn submit(&mut self, index: usize, stream: u64, count: usize) {
        for _ in 0..count {
            let raw = self.workload.next_tx(stream);
            let (hash, _) = check_stateless(&raw, CHAIN, false).expect("admissible");
            self.nodes[index]
                .mempool
                .insert(hash, raw.clone())
                .expect("mempool has room");
            self.submitted.push(hash);
            self.raw.insert(hash, raw);
        }
        let line = format!(
            "submit {count} of stream {stream} to {}",
            self.nodes[index].name
        );
        self.log(line);
    }

    /// Submits again, to node `index`, every submitted transaction it has not finalised (what
    /// a client does when the node it used went away with its mempool).
    pub fn resubmit_unfinalised(&mut self, index: usize) {
        let node = &self.nodes[index];
        let located = tx_locations(&node.store);
        let mut count = 0;
        for tx in &self.submitted {
            if !located.contains_key(tx) {
                let _ = node.mempool.insert(*tx, self.raw[tx].clone());
                count += 1;
            }
        }
        let line = format!("resubmit {count} to {}", node.name);
        self.log(line);
    }

    /// Sets the storage fault injection of the whole runtime (every node's storage).
    pub fn set_storage_faults(&mut self, faults: deterministic::FaultConfig) {
        self.log(format!("storage faults {faults:?}"));
        *self.ctx.storage_fault_config().write() = faults;
    }

    /// Finalised height of every node.
    pub fn heights(&self) -> Vec<u64> {
        self.nodes.iter().map(Node::height).collect()
    }

    /// The highest finalised height among `nodes`.
    pub fn max_height(&self, nodes: &[usize]) -> u64 {
        nodes
            .iter()
            .map(|&i| self.nodes[i].height())
            .max()
            .unwrap_or(0)
    }

    fn observe(&mut self) {
        for index in 0..self.nodes.len() {
            let height = self.nodes[index].height();
            if height != self.seen[index] {
                self.seen[index] = height;
                let line = format!("{} h{height}", self.nodes[index].name);
                self.log(line);
            }
        }
    }

    /// Lets `duration` of simulated time pass, noting height changes.
    pub async fn run_for(&mut self, duration: Duration) {
        let until = self.ctx.current() + duration;
        while self.ctx.current() < until {
            let step = POLL.min(until.duration_since(self.ctx.current()).unwrap_or_default());
            self.ctx.sleep(step).await;
            self.observe();
        }
    }

    /// Waits until `done` holds, for at most `limit` of simulated time.
    pub async fn wait_until(&mut self, what: &str, limit: Duration, done: impl Fn(&Self) -> bool) {
        let deadline: SystemTime = self.ctx.current() + limit;
        loop {
            self.observe();
            if done(self) {
                self.log(format!("reached: {what}"));
                return;
            }
            assert!(
                self.ctx.current() < deadline,
                "not reached within {limit:?}: {what}; heights {:?}\n{}",
                self.heights(),
                self.trace.join("\n")
            );
            self.ctx.sleep(POLL).await;
        }
    }

    /// Waits until every node in `nodes` has finalised `height`.
    pub async fn wait_for_height(&mut self, nodes: &[usize], height: u64, limit: Duration) {
        let what = format!("{nodes:?} at height {height}");
        let nodes = nodes.to_vec();
        self.wait_until(&what, limit, |sim| {
            nodes.iter().all(|&i| sim.nodes[i].height() >= height)
        })
        .await;
    }

    /// Waits until every submitted transaction is finalised on every node in `nodes`.
    pub async fn wait_for_submitted(&mut self, nodes: &[usize], limit: Duration) {
        let nodes = nodes.to_vec();
        self.wait_until("every submitted transaction finalised", limit, |sim| {
            nodes.iter().all(|&i| {
                let located = tx_locations(&sim.nodes[i].store);
                sim.submitted.iter().all(|tx| located.contains_key(tx))
            })
        })
        .await;
    }

    /// Pairs (blocker, blocked) of validators that blocked a peer (for misbehaviour).
    pub async fn blocked(&self) -> Vec<(usize, usize)> {
        let index = |k: &Pk| self.validators.iter().position(|v| v == k).unwrap();
        let mut pairs: Vec<_> = self
            .oracle
            .blocked()
            .await
            .expect("network running")
            .iter()
            .map(|(from, to)| (index(from), index(to)))
            .collect();
        pairs.sort();
        pairs
    }

    /// Checks the invariants on nodes `honest` (all running) and returns what they agree on:
    ///
    /// - every node's finalised blocks link up from genesis, and all nodes hold the same block
    ///   (digest, bytes, state root) at every height;
    /// - every finalisation certificate a node holds is valid, certifies the block stored at its
    ///   height in the round the block was proposed in, and all nodes agree on that round;
    /// - every submitted transaction is in a finalised block on every node, its receipt is in
    ///   every node's state with the same bytes and points at that block, and no mempool still
    ///   holds it.
    pub async fn verify(&mut self, honest: &[usize]) -> Summary {
        let participants = Set::from_iter_dedup(self.validators.iter().cloned());
        let verifier = Scheme::verifier(NAMESPACE, participants);
        let mut chain: BTreeMap<u64, (Block, Vec<u8>)> = BTreeMap::new();
        let mut rounds: BTreeMap<u64, String> = BTreeMap::new();
        let mut certified = 0;
        for &index in honest {
            let node = &self.nodes[index];
            let running = node.running();
            let tip = node.height();
            assert!(tip > 0, "{} finalised nothing", node.name);
            let mut parent = None;
            for height in 1..=tip {
                let bytes = node
                    .store
                    .block(height)
                    .expect("block store readable")
                    .unwrap_or_else(|| panic!("{} lacks block {height}", node.name));
                let block = Block::decode(bytes.clone()).expect("stored block decodes");
                let digest = block.digest();
                assert_eq!(block.header.height.get(), height);
                if let Some(parent) = parent {
                    assert_eq!(
                        block.header.parent, parent,
                        "{} h{height}: parent",
                        node.name
                    );
                }
                parent = Some(digest);
                assert_eq!(
                    node.store.height_of(&to_hash(&digest)).expect("readable"),
                    Some(height)
                );
                match chain.get(&height) {
                    Some((agreed, agreed_bytes)) => assert!(
                        agreed.digest() == digest && *agreed_bytes == bytes,
                        "fork at height {height}: {} disagrees",
                        node.name
                    ),
                    None => {
                        chain.insert(height, (block.clone(), bytes));
                    }
                }
                if let Some(finalization) =
                    running.marshal.get_finalization(Height::new(height)).await
                {
                    assert_eq!(
                        finalization.proposal.payload, digest,
                        "{} h{height}: certificate for another block",
                        node.name
                    );
                    assert_eq!(finalization.proposal.round, block.header.context.round);
                    assert!(
                        finalization.verify(&mut self.ctx, &verifier, &Sequential),
                        "{} h{height}: invalid certificate",
                        node.name
                    );
                    let round = format!("{:?}", finalization.proposal.round);
                    let agreed = rounds.entry(height).or_insert_with(|| round.clone());
                    assert_eq!(*agreed, round, "{} h{height}: certified round", node.name);
                    certified += 1;
                }
            }
        }
        let mut databases = Vec::with_capacity(honest.len());
        for &index in honest {
            databases.push(self.nodes[index].running().databases().await);
        }
        let mut receipts = Vec::new();
        let located: Vec<_> = honest
            .iter()
            .map(|&index| tx_locations(&self.nodes[index].store))
            .collect();
        for tx in &self.submitted {
            let mut agreed: Option<Vec<u8>> = None;
            for ((&index, databases), located) in honest.iter().zip(&databases).zip(&located) {
                let node = &self.nodes[index];
                let (height, position) = *located
                    .get(tx)
                    .unwrap_or_else(|| panic!("{}: transaction {} lost", node.name, tx.to_hex()));
                let (block, _) = &chain[&height];
                assert_eq!(tx_id(&block.txs[position as usize]), *tx);
                assert!(
                    !node.mempool.contains(tx),
                    "{} still holds a finalised tx",
                    node.name
                );
                let key = to_digest(&StateKey::Receipt(*tx).hashed());
                let bytes = databases
                    .read()
                    .await
                    .get(&key)
                    .await
                    .expect("state readable")
                    .unwrap_or_else(|| panic!("{}: no receipt for {}", node.name, tx.to_hex()));
                match &agreed {
                    Some(agreed) => assert_eq!(*agreed, bytes, "{}: receipt differs", node.name),
                    None => agreed = Some(bytes),
                }
            }
            let receipt: Receipt = borsh::from_slice(&agreed.expect("honest nodes")).unwrap();
            let (height, position) = located[0][tx];
            assert_eq!((receipt.height, receipt.index), (height, position));
            let outcome = match &receipt.outcome {
                Outcome::Ok => "ok".to_string(),
                Outcome::Rejected { reason, .. } => reason.code().to_string(),
            };
            receipts.push(format!("{} h{height}#{position} {outcome}", tx.to_hex()));
        }
        // Every node's live state is the state its latest finalised blocks commit to. The
        // glue applies a finalised block's state before our hook stores the block, so the
        // database may be one block ahead of the block store for a moment.
        for &index in honest {
            let node = &self.nodes[index];
            let root = node.running().databases().await.read().await.root();
            let tip = node.height();
            let root_of = |height: u64| {
                let bytes = node.store.block(height).expect("readable").expect("stored");
                Block::decode(bytes).expect("decodes").header.state_root
            };
            let mut found = (tip.saturating_sub(2).max(1)..=tip).any(|h| root_of(h) == root);
            if !found {
                let deadline = self.ctx.current() + Duration::from_secs(10);
                while node.height() <= tip && self.ctx.current() < deadline {
                    self.ctx.sleep(POLL).await;
                }
                found = node.height() > tip && root_of(tip + 1) == root;
            }
            assert!(
                found,
                "{}: the live state root is no recent block's",
                node.name
            );
        }
        // Transactions a later block included again (the ledger rejects the copy as a duplicate).
        let reference = &located[0];
        let mut duplicates = 0;
        for (height, (block, _)) in &chain {
            for (position, raw) in block.txs.iter().enumerate() {
                let first = reference.get(&tx_id(raw)).copied();
                if first != Some((*height, position as u32)) {
                    duplicates += 1;
                }
            }
        }
        let summary = Summary {
            duplicates,
            chain: chain
                .iter()
                .map(|(height, (block, _))| {
                    format!(
                        "h{height} v{} {} root {} txs {}",
                        block.header.context.round.view().get(),
                        to_hash(&block.digest()).to_hex(),
                        to_hash(&block.header.state_root).to_hex(),
                        block.txs.len()
                    )
                })
                .collect(),
            receipts,
            certified,
        };
        self.log(format!(
            "verified {} blocks, {} certificates, {} receipts",
            summary.chain.len(),
            summary.certified,
            summary.receipts.len()
        ));
        summary
    }

    /// Checks that node `index` finalised no block that node `reference` does not hold at the
    /// same height (for nodes [`Sim::verify`] does not cover, e.g. a Byzantine one's twins).
    pub fn assert_agrees(&self, index: usize, reference: usize) -> u64 {
        let (node, reference) = (&self.nodes[index], &self.nodes[reference]);
        let common = node.height().min(reference.height());
        for height in 1..=common {
            assert_eq!(
                node.store.block(height).expect("readable"),
                reference.store.block(height).expect("readable"),
                "{} and {} differ at height {height}",
                node.name,
                reference.name
            );
        }
        common
    }

    /// Everything a run produced that a rerun with the same seed must reproduce.
    pub fn report(self, summary: Summary) -> Report {
        Report {
            summary,
            trace: self.trace,
            auditor: self.ctx.auditor().state(),
        }
    }
}

/// What the nodes agreed on.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    /// Per height: view, block digest, state root, transaction count.
    pub chain: Vec<String>,
    /// Per submitted transaction: where it was finalised and its outcome.
    pub receipts: Vec<String>,
    /// Finalisation certificates checked (over all nodes and heights).
    pub certified: usize,
    /// Transactions finalised again after their first inclusion (rejected as duplicates).
    pub duplicates: usize,
}

impl Summary {
    pub fn ok_receipts(&self) -> usize {
        self.receipts.iter().filter(|r| r.ends_with(" ok")).count()
    }
}

/// The result of one run.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub summary: Summary,
    /// Actions and height changes, with simulated times.
    pub trace: Vec<String>,
    /// The runtime's digest of every scheduling, network and storage event.
    pub auditor: String,
}

/// Runs `run` twice with `seed` and asserts the runs are identical; returns the report.
pub fn run_twice(name: &str, run: impl Fn() -> Report) -> Report {
    let started = std::time::Instant::now();
    let first = run();
    let second = run();
    assert_eq!(
        first.summary, second.summary,
        "{name}: the same seed gave different chains"
    );
    assert_eq!(
        first.trace, second.trace,
        "{name}: the same seed gave different traces"
    );
    assert_eq!(
        first.auditor, second.auditor,
        "{name}: the same seed gave different events"
    );
    eprintln!(
        "{name}: {} blocks, {} receipts ({} ok), {} re-included, {} certificates; \
         {} of simulated time; auditor {}; two runs in {:.1?}",
        first.summary.chain.len(),
        first.summary.receipts.len(),
        first.summary.ok_receipts(),
        first.summary.duplicates,
        first.summary.certified,
        first
            .trace
            .last()
            .map_or("?", |l| l.trim_start().split(' ').next().unwrap_or("?")),
        first.auditor,
        started.elapsed()
    );
    if std::env::var_os("JITRACE_SIM_TRACE").is_some() {
        eprintln!(
            "{}\n{}",
            first.trace.join("\n"),
            first.summary.chain.join("\n")
        );
    }
    first
}

fn channels<S, R>(pairs: Vec<(S, R)>) -> Channels<S, R> {
    let mut pairs = pairs.into_iter();
    let mut next = || pairs.next().expect("one pair per channel");
    Channels {
        votes: next(),
        certificates: next(),
        resolver: next(),
        backfill: next(),
        broadcast: next(),
        state_sync: next(),
        probe: next(),
        mempool: next(),
    }
}

/// A twin's outbound messages reach only its own side's validators.
fn forward_to(primary: Vec<Pk>, secondary: Vec<Pk>) -> impl SplitForwarder<Pk> {
    move |origin: SplitOrigin, recipients: &Recipients<Pk>, _: &_| {
        let side = match origin {
            SplitOrigin::Primary => &primary,
            SplitOrigin::Secondary => &secondary,
        };
        let to: Vec<Pk> = match recipients {
            Recipients::All => side.clone(),
            Recipients::One(peer) => side.iter().filter(|p| *p == peer).cloned().collect(),
            Recipients::Some(peers) => peers.iter().filter(|p| side.contains(p)).cloned().collect(),
        };
        (!to.is_empty()).then_some(Recipients::Some(to))
    }
}

/// A validator's messages to the twins' identity reach the twin(s) on its side.
fn route_from(primary: Vec<Pk>, secondary: Vec<Pk>) -> impl SplitRouter<Pk> {
    move |(sender, _): &(Pk, _)| match (primary.contains(sender), secondary.contains(sender)) {
        (true, true) => SplitTarget::Both,
        (true, false) => SplitTarget::Primary,
        (false, true) => SplitTarget::Secondary,
        (false, false) => SplitTarget::None,
    }
}

/// Runs `f` and counts the tasks that panicked in it: a runtime that catches panics only logs
/// them ("task panicked", at error level), so this listens for that event on this thread.
pub fn count_panics<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let counter = PanicCounter::default();
    let count = counter.0.clone();
    let output = tracing::subscriber::with_default(counter, f);
    (output, count.load(std::sync::atomic::Ordering::Relaxed))
}

#[derive(Default)]
struct PanicCounter(Arc<std::sync::atomic::AtomicUsize>);

impl tracing::Subscriber for PanicCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::ERROR
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(bool);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "task panicked" {
                    self.0 = true;
                }
            }
        }
        let mut message = Message(false);
        event.record(&mut message);
        if message.0 {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Where each transaction a node finalised was first included: (height, index in block),
/// read from its block store.
pub fn tx_locations(store: &BlockStore) -> BTreeMap<TxHash, (u64, u32)> {
    let mut located = BTreeMap::new();
    let tip = store
        .tip()
        .expect("block store readable")
        .map_or(0, |t| t.height);
    for height in 1..=tip {
        let bytes = store
            .block(height)
            .expect("block store readable")
            .expect("a block below the tip");
        let block = Block::decode(bytes).expect("stored block decodes");
        for (index, raw) in block.txs.iter().enumerate() {
            located
                .entry(tx_id(raw))
                .or_insert((height, u32::try_from(index).expect("fits")));
        }
    }
    located
}
