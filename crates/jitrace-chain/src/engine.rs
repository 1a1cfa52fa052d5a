//! Wiring: the p2p network, simplex consensus, marshal, the stateful glue and our application,
//! started on the engine's tokio runtime.

use crate::{
    app::{App, Databases, MarshalMailbox, Scheme, genesis_block},
    block::Block,
    mempool::Mempool,
    state_sync::NoStateSync,
};
use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{
        self,
        core::Actor as MarshalActor,
        resolver::p2p as marshal_resolver,
        standard::{Deferred, Standard},
    },
    simplex::{
        self,
        config::{ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
    },
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{
    ChaCha20Poly1305, Digestible, Sha256, Signer as _, certificate::ConstantProvider, ed25519,
};
use commonware_glue::stateful::{
    Config as StatefulConfig, Mailbox as StatefulMailbox, PruneConfig, Stateful, SyncPlan,
    db::{DatabaseSet, SyncEngineConfig},
    probe::{Config as ProbeConfig, Probe},
};
use commonware_p2p::{
    Address, AddressableManager as _, AddressableTrackedPeers, Blocker, Provider, Receiver, Sender,
    authenticated::lookup,
};
use commonware_parallel::Sequential;
use commonware_runtime::{Handle, Quota, Supervisor as _, buffer::paged::CacheRef, tokio};
use commonware_storage::{
    archive::prunable,
    journal::contiguous::variable::Config as VariableJournalConfig,
    mmr::full::Config as MmrJournalConfig,
    qmdb::current::VariableConfig,
    translator::{EightCap, TwoCap},
};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{
    NZDuration, NZU16, NZU32, NZU64, NZUsize,
    ordered::{Map, Set},
};
use jitrace_ledger::Genesis;
use jitrace_store::{BlockStore, Tip};
use std::{
    net::SocketAddr,
    num::{NonZeroU16, NonZeroU64, NonZeroUsize},
    sync::Arc,
    time::Duration,
};

const EPOCH_LENGTH: NonZeroU64 = NZU64!(u64::MAX);
const PAGE_SIZE: NonZeroU16 = NZU16!(4096);
/// The default size, in MiB, of each of a node's two page caches ([`EngineConfig::cache_mib`]):
/// the authenticated state's and the consensus engine's (block and certificate archives).
///
/// Ordered QMDB inserts read their predecessor's last operation and the inactivity floor
/// relocates old ones, so state reads land all over the log and go to the disk (direct I/O) on a
/// miss: at 400k keys product updates ran at 41k tx/s with 32 MiB and 68k with 256 MiB. At
/// 10,000 tx/s a block is megabytes and the marshal and the API read it back: p99 finality was
/// 0.6–0.9 s with an engine cache of 256 MiB and 1.5 s with 32 MiB. Both caches are filled up
/// front, so a node holds about twice this in memory from the start.
pub const DEFAULT_CACHE_MIB: usize = 256;
/// The smallest and largest [`EngineConfig::cache_mib`] a node accepts.
pub const CACHE_MIB_RANGE: std::ops::RangeInclusive<usize> = 4..=65_536;

/// Pages of [`PAGE_SIZE`] in `mib` MiB (at least one).
fn cache_pages(mib: usize) -> NonZeroUsize {
    let pages = mib.saturating_mul(1 << 20) / usize::from(PAGE_SIZE.get());
    NonZeroUsize::new(pages).unwrap_or(NZUsize!(1))
}

const IO_BUFFER: NonZeroUsize = NZUsize!(1 << 16);
const SYNC_BATCH: NonZeroU64 = NZU64!(256);
const MAX_MESSAGE_SIZE: u32 = 8 * 1024 * 1024;
/// Largest state value the store decodes.
const MAX_STATE_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// Which p2p channel carries what.
mod channel {
    pub const VOTES: u64 = 0;
    pub const CERTIFICATES: u64 = 1;
    pub const RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BROADCAST: u64 = 4;
    pub const STATE_SYNC: u64 = 5;
    pub const PROBE: u64 = 6;
    pub const MEMPOOL: u64 = 7;
}

/// Everything a node needs to start.
pub struct EngineConfig {
    /// This node's consensus and p2p key. A key in the validator set makes a validator; any
    /// other key an observer.
    pub signer: ed25519::PrivateKey,
    /// The validator set, with each validator's p2p address.
    pub validators: Vec<(ed25519::PublicKey, SocketAddr)>,
    /// Observers (non-voting full nodes) allowed to connect, with their p2p addresses.
    pub observers: Vec<(ed25519::PublicKey, SocketAddr)>,
    /// Who receives the transactions this node's API accepts.
    pub gossip: crate::gossip::GossipConfig,
    /// Where this node listens for peers.
    pub listen: SocketAddr,
    /// Separates this chain's signatures from every other chain's.
    pub namespace: Vec<u8>,
    pub genesis: Arc<Genesis>,
    pub genesis_time_ms: u64,
    pub mempool: Mempool,
    pub store: Arc<BlockStore>,
    pub tip: ::tokio::sync::watch::Sender<Option<Tip>>,
    /// Where block execution timings go.
    pub stats: Arc<crate::app::ExecStats>,
    /// Size of each of the two page caches, the state's and the engine's, in MiB (see
    /// [`DEFAULT_CACHE_MIB`]).
    pub cache_mib: usize,
}

/// What a node's runtime context must offer.
pub trait Runtime:
    commonware_runtime::Spawner
    + commonware_runtime::Clock
    + commonware_runtime::Metrics
    + commonware_runtime::Storage
    + commonware_storage::Context
    + rand_core::CryptoRng
    + Send
    + Sync
    + 'static
{
}

impl<E> Runtime for E where
    E: commonware_runtime::Spawner
        + commonware_runtime::Clock
        + commonware_runtime::Metrics
        + commonware_runtime::Storage
        + commonware_storage::Context
        + rand_core::CryptoRng
        + Send
        + Sync
        + 'static
{
}

/// A running node: handles to read from it.
pub struct Running<E: Runtime> {
    pub marshal: MarshalMailbox,
    pub stateful: StatefulMailbox<E, App>,
    pub consensus: Handle<()>,
    /// The TCP network, when the node runs one.
    pub network: Option<Handle<()>>,
    pub gossip: Handle<()>,
    /// Whether this node votes (false for an observer).
    pub is_validator: bool,
}

impl<E: Runtime> Running<E> {
    /// The authenticated state database (shared with the engine).
    pub async fn databases(&self) -> Databases<E> {
        self.stateful.subscribe_databases().await
    }
}

/// The prefix of every storage partition a production node opens: its consensus journal, marshal
/// archives, sync plan and state database.
pub const DEFAULT_PARTITION_PREFIX: &str = "jitrace";

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: CacheRef,
    codec_config: C,
) -> prunable::Config<TwoCap, C> {
    prunable::Config {
        translator: TwoCap,
        metadata_partition: format!("{prefix}-{name}-metadata"),
        key_partition: format!("{prefix}-{name}-key"),
        key_page_cache: page_cache,
        value_partition: format!("{prefix}-{name}-value"),
        compression: None,
        codec_config,
        items_per_section: NZU64!(4096),
        key_write_buffer: IO_BUFFER,
        value_write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
    }
}

/// The state database's storage layout (shared with offline tools that rebuild it).
pub fn state_config() -> <Databases<tokio::Context> as DatabaseSet<tokio::Context>>::Config {
    state_config_with_prefix(DEFAULT_PARTITION_PREFIX, DEFAULT_CACHE_MIB)
}

/// [`state_config`] with its partitions under `prefix` instead of [`DEFAULT_PARTITION_PREFIX`]
/// and a page cache of `cache_mib` MiB.
pub fn state_config_with_prefix(
    prefix: &str,
    cache_mib: usize,
) -> <Databases<tokio::Context> as DatabaseSet<tokio::Context>>::Config {
    let page_cache = CacheRef::new(PAGE_SIZE, cache_pages(cache_mib));
    VariableConfig {
        merkle_config: MmrJournalConfig {
            journal_partition: format!("{prefix}-state-mmr-journal"),
            metadata_partition: format!("{prefix}-state-mmr-metadata"),
            items_per_blob: NZU64!(65_536),
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
            strategy: Sequential,
            page_cache: page_cache.clone(),
        },
        journal_config: VariableJournalConfig {
            partition: format!("{prefix}-state-log"),
            items_per_section: NZU64!(65_536),
            compression: None,
            // Records are bounded by the ledger's limits (paged lists, `state::MAX_*`); this bound
            // is the last line of defence, far above any of them.
            codec_config: ((), ((0..=MAX_STATE_VALUE_BYTES).into(), ())),
            page_cache,
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
        },
        grafted_metadata_partition: format!("{prefix}-state-grafted"),
        translator: EightCap,
        init_cache: Some(NZUsize!(1 << 16)),
        init_buffer: NZUsize!(1 << 21),
        init_concurrency: (),
    }
}

/// The p2p channels the engine uses, as (sender, receiver) pairs.
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub state_sync: (S, R),
    pub probe: (S, R),
    pub mempool: (S, R),
}

/// Every channel id with its rate limit, in the order of [`Channels`].
pub const CHANNELS: [u64; 8] = [
    channel::VOTES,
    channel::CERTIFICATES,
    channel::RESOLVER,
    channel::BACKFILL,
    channel::BROADCAST,
    channel::STATE_SYNC,
    channel::PROBE,
    channel::MEMPOOL,
];

/// The rate limit of every channel, per peer.
pub const CHANNEL_QUOTA: Quota = Quota::per_second(NZU32!(10_000));

/// Starts the authenticated p2p network (the engine's own, over TCP) and then the engine.
pub async fn start(context: tokio::Context, config: EngineConfig) -> Running<tokio::Context> {
    let mut p2p_config = lookup::Config::local(
        Cups::<_, ChaCha20Poly1305>::new(
            Sake {
                signer: config.signer.clone(),
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: sake::Version::V1,
            },
            cups::Version::V1,
        ),
        &[config.namespace.as_slice(), b"/p2p"].concat(),
        config.listen,
        NZUsize!((config.validators.len() + config.observers.len()).max(1) * 2),
        MAX_MESSAGE_SIZE,
        NZUsize!(1024),
    );
    p2p_config.allow_private_ips = true;
    let (mut network, mut oracle) = lookup::Network::new(context.child("network"), p2p_config);
    // Only keys in the validator or observer set may connect: validators are primary peers,
    // observers secondary ones.
    let to_map = |peers: &[(ed25519::PublicKey, SocketAddr)]| -> Map<ed25519::PublicKey, Address> {
        peers
            .iter()
            .map(|(key, addr)| (key.clone(), Address::from(*addr)))
            .collect::<Vec<_>>()
            .try_into()
            .expect("peer keys are unique")
    };
    let _ = oracle.track(
        0,
        AddressableTrackedPeers::new(to_map(&config.validators), to_map(&config.observers)),
    );
    let mut register = |id| network.register(id, CHANNEL_QUOTA);
    let channels = Channels {
        votes: register(channel::VOTES),
        certificates: register(channel::CERTIFICATES),
        resolver: register(channel::RESOLVER),
        backfill: register(channel::BACKFILL),
        broadcast: register(channel::BROADCAST),
        state_sync: register(channel::STATE_SYNC),
        probe: register(channel::PROBE),
        mempool: register(channel::MEMPOOL),
    };
    let network_handle = network.start();
    let mut running = start_engine(context, config, oracle, channels).await;
    running.network = Some(network_handle);
    running
}

/// Starts the engine on any runtime and network (the tokio runtime with TCP p2p in production,
/// the deterministic runtime with the simulated network in tests).
pub async fn start_engine<E, O, S, R>(
    context: E,
    config: EngineConfig,
    oracle: O,
    channels: Channels<S, R>,
) -> Running<E>
where
    E: Runtime,
    O: Provider<PublicKey = ed25519::PublicKey> + Blocker<PublicKey = ed25519::PublicKey>,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    start_engine_with_prefix(context, config, oracle, channels, DEFAULT_PARTITION_PREFIX).await
}

/// [`start_engine`] with every storage partition under `partition_prefix` instead of
/// [`DEFAULT_PARTITION_PREFIX`], so that several nodes can share one storage (the deterministic
/// runtime's, in simulation tests). A node must restart with the prefix it started with.
pub async fn start_engine_with_prefix<E, O, S, R>(
    context: E,
    config: EngineConfig,
    oracle: O,
    channels: Channels<S, R>,
    partition_prefix: &str,
) -> Running<E>
where
    E: Runtime,
    O: Provider<PublicKey = ed25519::PublicKey> + Blocker<PublicKey = ed25519::PublicKey>,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    let prefix = partition_prefix;
    let public_key = config.signer.public_key();
    let page_cache = CacheRef::new(PAGE_SIZE, cache_pages(config.cache_mib));
    let Channels {
        votes,
        certificates,
        resolver: resolver_channel,
        backfill,
        broadcast,
        state_sync,
        probe: probe_channel,
        mempool: mempool_channel,
    } = channels;
    let participants: Set<ed25519::PublicKey> =
        Set::from_iter_dedup(config.validators.iter().map(|(k, _)| k.clone()));
    let is_validator = participants.position(&public_key).is_some();
    // An observer runs the same engine with a verifier: it checks every certificate and executes
    // every block, but never votes.
    let scheme = if is_validator {
        Scheme::signer(&config.namespace, participants, config.signer.clone())
            .expect("this node is a validator")
    } else {
        Scheme::verifier(&config.namespace, participants)
    };
    let provider = ConstantProvider::new(scheme.clone());

    // --- marshal: ordered delivery of finalised blocks, backfill ---
    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: public_key.clone(),
            peer_provider: oracle.clone(),
            blocker: oracle.clone(),
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        backfill,
    );
    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: NZUsize!(1024),
            deque_size: 10,
            priority: false,
            codec_config: (),
            peer_provider: oracle.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(broadcast);

    let finalizations = prunable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            prefix,
            "finalizations",
            page_cache.clone(),
            config.validators.len(),
        ),
    )
    .await
    .expect("failed to open the finalizations archive");
    let blocks = prunable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(prefix, "blocks", page_cache.clone(), ()),
    )
    .await
    .expect("failed to open the blocks archive");

    let leader = config
        .validators
        .first()
        .map(|(k, _)| k.clone())
        .unwrap_or(public_key.clone());
    let genesis = genesis_block(leader, config.genesis_time_ms);
    let genesis_digest = genesis.digest();

    let plan = SyncPlan::init(context.child("plan"), prefix.to_string()).await;
    let _ = plan.should_sync(false);
    let (probe, probe_mailbox) = Probe::new(ProbeConfig {
        context: context.child("probe"),
        provider: provider.clone(),
        strategy: Sequential,
        mailbox_size: NZUsize!(1024),
        blocker: oracle.clone(),
        minimum_epoch: Epoch::zero(),
        retry_timeout: NZDuration!(Duration::from_millis(500)),
    });
    probe.start(probe_channel);

    let (marshal_actor, marshal_mailbox, floor) =
        MarshalActor::<_, Standard<Block>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: provider.clone(),
                epocher: FixedEpocher::new(EPOCH_LENGTH),
                start: plan.marshal_start(commonware_cryptography::Digested::precomputed(
                    genesis.clone(),
                    genesis_digest,
                )),
                partition_prefix: format!("{prefix}-marshal"),
                mailbox_size: NZUsize!(1024),
                view_retention: ViewDelta::new(256),
                prunable_items_per_section: NZU64!(4096),
                page_cache: page_cache.clone(),
                replay_buffer: IO_BUFFER,
                key_write_buffer: IO_BUFFER,
                value_write_buffer: IO_BUFFER,
                block_codec_config: (),
                max_repair: NZUsize!(64),
                max_pending_acks: NZUsize!(8),
                strategy: Sequential,
            },
        )
        .await;

    drop(state_sync);
    let qmdb_sync_resolver = NoStateSync::<E>::default();

    let app = App::new(
        config.genesis.clone(),
        genesis.clone(),
        config.mempool.clone(),
        config.store.clone(),
        marshal_mailbox.clone(),
        config.tip.clone(),
        config.stats.clone(),
    );
    let (stateful_actor, stateful_mailbox) = Stateful::new(
        context.child("stateful"),
        StatefulConfig {
            application: app,
            db_config: state_config_with_prefix(prefix, config.cache_mib),
            provider: (),
            marshal: (marshal_mailbox.clone(), floor),
            mailbox_size: NZUsize!(1024),
            plan,
            resolvers: qmdb_sync_resolver,
            sync_config: SyncEngineConfig {
                fetch_batch_size: SYNC_BATCH,
                apply_batch_size: NZU64!(1024),
                max_outstanding_requests: NZUsize!(8),
            },
            prune_config: Some(PruneConfig {
                maintenance_interval: NZUsize!(256),
                retained_marshal_blocks: 100_000,
                retained_qmdb_blocks: 0,
            }),
            strategy: Sequential,
        },
    );
    let deferred = Deferred::new(
        context.child("deferred"),
        stateful_mailbox.clone(),
        marshal_mailbox.clone(),
        FixedEpocher::new(EPOCH_LENGTH),
    );
    marshal_actor.start(stateful_mailbox.clone(), buffer, resolver);
    probe_mailbox.attach(marshal_mailbox.clone());
    stateful_actor.start();

    let context_for_gossip = context.child("gossip");
    let engine = simplex::Engine::new(
        context.child("consensus"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker: oracle.clone(),
            automaton: deferred.clone(),
            relay: deferred.clone(),
            reporter: deferred,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: NZUsize!(1024),
            epoch: Epoch::zero(),
            floor: simplex::config::Floor::Genesis(genesis_digest),
            replay_buffer: IO_BUFFER,
            write_buffer: IO_BUFFER,
            page_cache,
            leader_timeout: Duration::from_secs(3),
            certification_timeout: Duration::from_secs(4),
            timeout_retry: Duration::from_millis(500),
            view_retention: ViewDelta::new(256),
            skip: SkipPolicy::Enabled {
                timeout: Duration::from_secs(10),
                budget: simplex::SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(500),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let consensus = engine.start(votes, certificates, resolver_channel);
    let gossip = crate::gossip::start(
        context_for_gossip,
        config.mempool.clone(),
        config.gossip,
        mempool_channel,
    );

    Running {
        marshal: marshal_mailbox,
        stateful: stateful_mailbox,
        consensus,
        network: None,
        gossip,
        is_validator,
    }
}
