//! Running a node: the engine, the block store, the HTTP API, on the engine's tokio runtime;
//! and the files that describe a network (`genesis.toml`, one `config.toml` per node).

use crate::genesis::{GenesisFile, PeerEntry, read_key, write_key};
use anyhow::{Context as _, Result, anyhow, bail};
use commonware_runtime::{Metrics as _, Runner as _, Supervisor as _, tokio as cw_tokio};
use futures::future::BoxFuture;
use jitrace_api::{ApiState, StateSource};
use jitrace_chain::{Databases, EngineConfig, GossipConfig, Mempool, MempoolConfig, to_digest};
use jitrace_console::Console;
use jitrace_ledger::state::StateKey;
use jitrace_store::{BlockStore, IndexStore};
use jitrace_types::SecretKey;
use serde::{Deserialize, Serialize};
use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

/// Where things live in a data directory.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn genesis(&self) -> PathBuf {
        self.0.join("genesis.toml")
    }
    pub fn keys(&self) -> PathBuf {
        self.0.join("keys")
    }
    pub fn key(&self, name: &str) -> PathBuf {
        self.keys().join(format!("{name}.key"))
    }
    pub fn engine(&self) -> PathBuf {
        self.0.join("engine")
    }
    pub fn blocks(&self) -> PathBuf {
        self.0.join("blocks.redb")
    }
    /// The off-chain index of the finalised blocks (analytics, alerts): derived data.
    pub fn index(&self) -> PathBuf {
        self.0.join("index.redb")
    }
    pub fn media(&self) -> PathBuf {
        self.0.join("media")
    }
    /// Console users (Argon2id hashes, sealed keys): `jitrace_console`.
    pub fn console(&self) -> PathBuf {
        self.0.join("console.redb")
    }
    /// The console users `jitrace dev` made, with their generated passwords.
    pub fn console_admin(&self) -> PathBuf {
        self.0.join("console-admin.txt")
    }
}

/// `config.toml` of one node. Relative paths are relative to the config file's directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The network's genesis file.
    pub genesis: PathBuf,
    /// This node's key file (its key is in the genesis validator or observer set).
    pub key: PathBuf,
    /// Where this node keeps its data (its `genesis.toml` is a copy of the network's).
    pub data_dir: PathBuf,
    /// Address of the HTTP API.
    pub http: SocketAddr,
    /// Size of each of the node's two page caches (the state's and the consensus engine's),
    /// in MiB; default 256. The node holds about twice this in memory from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mib: Option<usize>,
}

impl NodeConfig {
    /// Reads a config file, resolving its relative paths.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the node config {}", path.display()))?;
        let mut config: Self = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid node config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut config.genesis, &mut config.key, &mut config.data_dir] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }
}

/// Everything `run_node` needs.
pub struct NodeSetup {
    pub genesis: GenesisFile,
    pub key: SecretKey,
    pub data_dir: DataDir,
    pub http: SocketAddr,
    /// Each page cache, in MiB ([`jitrace_chain::DEFAULT_CACHE_MIB`] unless configured).
    pub cache_mib: usize,
}

/// Checks a configured page cache size against [`jitrace_chain::CACHE_MIB_RANGE`].
pub fn cache_mib(configured: Option<usize>) -> Result<usize> {
    let mib = configured.unwrap_or(jitrace_chain::DEFAULT_CACHE_MIB);
    let range = jitrace_chain::CACHE_MIB_RANGE;
    if !range.contains(&mib) {
        bail!(
            "cache_mib must be between {} and {} (MiB), got {mib}",
            range.start(),
            range.end()
        );
    }
    Ok(mib)
}

/// Creates a one-validator chain in an empty data directory: keys and genesis.
pub fn init_dev(dir: &DataDir) -> Result<()> {
    std::fs::create_dir_all(&dir.0)
        .with_context(|| format!("cannot create the data directory {}", dir.0.display()))?;
    let validator = SecretKey::generate();
    let operator = SecretKey::generate();
    write_key(&dir.key("validator"), &validator)?;
    write_key(&dir.key("operator"), &operator)?;
    // The demo makes the gateway key a platform member; without the demo it stays unused.
    write_key(&dir.key("gateway"), &SecretKey::generate())?;
    let suffix = &validator.public_key().to_hex()[..8];
    let genesis = GenesisFile {
        chain_id: format!("jitrace-dev-{suffix}"),
        genesis_time_ms: jitrace_chain::app::wall_clock_ms(),
        operator: operator.public_key().to_hex(),
        platform_org: "platform".into(),
        platform_name: "Jitrace Platform".into(),
        validators: vec![PeerEntry {
            key: validator.public_key().to_hex(),
            p2p: free_local_port()?,
        }],
        observers: vec![],
        scan_rules: Default::default(),
    };
    genesis.save(&dir.genesis())
}

fn free_local_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free local port")?;
    Ok(listener.local_addr()?)
}

/// Options of `jitrace genesis`.
pub struct GenesisOptions {
    pub validators: usize,
    pub observers: usize,
    pub out: PathBuf,
    pub host: std::net::IpAddr,
    pub base_port: u16,
    pub chain_id: Option<String>,
}

/// Writes a network: `genesis.toml`, `operator.key`, and per node `<name>/config.toml` and
/// `<name>/node.key`. Returns each node's name and config path.
pub fn write_network(options: &GenesisOptions) -> Result<Vec<(String, PathBuf)>> {
    if options.validators == 0 {
        bail!("a network needs at least one validator");
    }
    if options.out.join("genesis.toml").exists() {
        bail!(
            "{} already holds a network (genesis.toml exists)",
            options.out.display()
        );
    }
    std::fs::create_dir_all(&options.out)?;
    let operator = SecretKey::generate();
    write_key(&options.out.join("operator.key"), &operator)?;
    let total = options.validators + options.observers;
    let mut nodes = Vec::new();
    let mut validators = Vec::new();
    let mut observers = Vec::new();
    for i in 0..total {
        let (name, list) = if i < options.validators {
            (format!("validator-{i}"), &mut validators)
        } else {
            (
                format!("observer-{}", i - options.validators),
                &mut observers,
            )
        };
        let key = SecretKey::generate();
        let dir = options.out.join(&name);
        write_key(&dir.join("node.key"), &key)?;
        let port = |offset: usize| -> Result<u16> {
            u16::try_from(usize::from(options.base_port) + offset).context("port out of range")
        };
        let http = SocketAddr::new(options.host, port(i)?);
        let p2p = SocketAddr::new(options.host, port(100 + i)?);
        list.push(PeerEntry {
            key: key.public_key().to_hex(),
            p2p,
        });
        let config = NodeConfig {
            genesis: PathBuf::from("../genesis.toml"),
            key: PathBuf::from("node.key"),
            data_dir: PathBuf::from("data"),
            http,
            cache_mib: None,
        };
        let path = dir.join("config.toml");
        std::fs::write(&path, toml::to_string_pretty(&config)?)?;
        nodes.push((name, path));
    }
    let suffix = &operator.public_key().to_hex()[..8];
    let genesis = GenesisFile {
        chain_id: options
            .chain_id
            .clone()
            .unwrap_or_else(|| format!("jitrace-{suffix}")),
        genesis_time_ms: jitrace_chain::app::wall_clock_ms(),
        operator: operator.public_key().to_hex(),
        platform_org: "platform".into(),
        platform_name: "Jitrace Platform".into(),
        validators,
        observers,
        scan_rules: Default::default(),
    };
    genesis.save(&options.out.join("genesis.toml"))?;
    Ok(nodes)
}

/// Reads the latest applied ledger state from the engine's authenticated store.
pub(crate) struct QmdbState(pub(crate) Databases<cw_tokio::Context>);

impl StateSource for QmdbState {
    fn get(&self, key: StateKey) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>> {
        let databases = self.0.clone();
        Box::pin(async move {
            let db = databases.read().await;
            db.get(&to_digest(&key.hashed()))
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Runs a node until Ctrl-C (or SIGTERM). `on_ready` runs once the API serves, with the
/// console's user store.
pub fn run_node(
    setup: NodeSetup,
    on_ready: impl FnOnce(SocketAddr, Arc<Console>) -> BoxFuture<'static, Result<()>> + Send + 'static,
) -> Result<()> {
    let NodeSetup {
        genesis,
        key,
        data_dir: dir,
        http,
        cache_mib,
    } = setup;
    let ledger_genesis = Arc::new(genesis.ledger_genesis()?);
    let me = key.public_key().to_hex();
    let validators = genesis
        .validators
        .iter()
        .map(PeerEntry::to_engine)
        .collect::<Result<Vec<_>>>()?;
    let observers = genesis
        .observers
        .iter()
        .map(PeerEntry::to_engine)
        .collect::<Result<Vec<_>>>()?;
    let listen = genesis
        .validators
        .iter()
        .chain(&genesis.observers)
        .find(|v| v.key == me)
        .map(|v| v.p2p)
        .ok_or_else(|| {
            anyhow!("this node's key {me} is in neither the validator nor the observer set")
        })?;
    std::fs::create_dir_all(dir.media())?;
    // Keep a copy of the genesis in the data directory, for `verify-chain`.
    if !dir.genesis().exists() {
        genesis.save(&dir.genesis())?;
    }
    let store = Arc::new(BlockStore::open(&dir.blocks()).with_context(|| {
        format!(
            "cannot open {} (is another node using this data directory?)",
            dir.blocks().display()
        )
    })?);
    let index = Arc::new(IndexStore::open(&dir.index()).with_context(|| {
        format!(
            "cannot open {} (is another node using this data directory?)",
            dir.index().display()
        )
    })?);
    let console = Arc::new(Console::open(&dir.console()).with_context(|| {
        format!(
            "cannot open {} (is another node using this data directory?)",
            dir.console().display()
        )
    })?);
    // Bind the API first so that a taken port fails before the engine writes anything.
    let http_listener = std::net::TcpListener::bind(http)
        .with_context(|| format!("cannot listen on {http} (use --http to pick another address)"))?;
    http_listener.set_nonblocking(true)?;
    let http_addr = http_listener.local_addr()?;

    let config = cw_tokio::Config::new()
        .with_storage_directory(dir.engine())
        .with_catch_panics(false);
    let runner = cw_tokio::Runner::new(config);
    runner.start(|context| async move {
        let initial_tip = store.tip()?;
        let (tip_tx, tip_rx) = tokio::sync::watch::channel(initial_tip);
        let mempool = Mempool::new(MempoolConfig {
            max_txs: 200_000,
            max_bytes: 512 * 1024 * 1024,
            in_flight_ms: 5_000,
        });
        let metrics_context = context.child("api");
        let stats = Arc::new(jitrace_chain::ExecStats::default());
        let running = jitrace_chain::start(
            context,
            EngineConfig {
                signer: key.to_engine(),
                gossip: GossipConfig {
                    chain_id: genesis.chain_id.clone(),
                    validators: validators.iter().map(|(k, _)| k.clone()).collect(),
                    me: key.public_key().to_engine()?,
                    interval: Duration::from_millis(20),
                    resend: Duration::from_secs(10),
                },
                validators,
                observers,
                listen,
                namespace: genesis.consensus_namespace(),
                genesis: ledger_genesis.clone(),
                genesis_time_ms: genesis.genesis_time_ms,
                mempool: mempool.clone(),
                store: store.clone(),
                tip: tip_tx,
                stats: stats.clone(),
                cache_mib,
            },
        )
        .await;
        let role = if running.is_validator {
            "validator"
        } else {
            "observer"
        };
        let databases = running.databases().await;
        // Repeated reads within a block come from memory; a new finalised block drops them.
        let tip_now = tip_rx.clone();
        let state: Arc<dyn StateSource> = Arc::new(jitrace_api::CachedState::new(
            Arc::new(QmdbState(databases)),
            move || tip_now.borrow().as_ref().map_or(0, |t| t.height),
        ));
        // Consumer scans are batched into transactions signed by the scan gateway key, a member
        // of the platform organisation (`keys/gateway.key`; `jitrace dev` makes one).
        let scan_gateway = match read_key(&dir.key("gateway")) {
            Ok(key) => {
                let gateway = jitrace_api::ScanGateway::new(
                    key,
                    genesis.chain_id.clone(),
                    mempool.clone(),
                    state.clone(),
                );
                gateway.clone().spawn_flusher();
                Some(gateway)
            }
            Err(_) => None,
        };
        let alerts = jitrace_api::alerts::AlertHub::new(index.clone());
        let api = jitrace_api::router_with_watchers(ApiState {
            chain_id: genesis.chain_id.clone(),
            validators: ledger_genesis.validators.clone(),
            mempool,
            store,
            tip: tip_rx,
            state,
            scan_gateway,
            alerts,
            verdicts: Default::default(),
            index,
            console: Some(console.clone()),
            media_dir: dir.media(),
            engine_metrics: Arc::new(move || metrics_context.encode()),
            exec_stats: stats,
            role: role.to_string(),
        });
        let listener = tokio::net::TcpListener::from_std(http_listener)?;
        let server = tokio::spawn(async move { axum::serve(listener, api).await });
        tracing::info!(%http_addr, chain_id = %genesis.chain_id, role, "node is serving");
        on_ready(http_addr, console).await?;
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = server => {
                result.map_err(|e| anyhow!("the HTTP server stopped: {e}"))??;
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\nstopping (every finalised block is on disk)");
            }
            _ = terminate.recv() => {
                eprintln!("stopping on SIGTERM (every finalised block is on disk)");
            }
        }
        Ok(())
    })
}

/// `jitrace node --config FILE`.
pub fn run_configured(config_path: &Path) -> Result<()> {
    let config = NodeConfig::load(config_path)?;
    let setup = NodeSetup {
        genesis: GenesisFile::load(&config.genesis)?,
        key: read_key(&config.key)?,
        data_dir: DataDir(config.data_dir.clone()),
        http: config.http,
        cache_mib: cache_mib(config.cache_mib)
            .with_context(|| format!("in {}", config_path.display()))?,
    };
    run_node(setup, |addr, _console| {
        Box::pin(async move {
            println!("node serving http://{addr}");
            Ok(())
        })
    })
}

/// Options of `jitrace dev`.
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub demo: bool,
    /// Each page cache, in MiB; `None`: the default.
    pub cache_mib: Option<usize>,
}

/// `jitrace dev`.
pub fn run_dev(options: DevOptions) -> Result<()> {
    let cache_mib = cache_mib(options.cache_mib)?;
    let dir = DataDir(options.data_dir.clone());
    let fresh = !dir.genesis().exists();
    if fresh {
        init_dev(&dir)?;
    }
    let demo = fresh && options.demo;
    let data_dir = options.data_dir.clone();
    let setup = NodeSetup {
        genesis: GenesisFile::load(&dir.genesis())?,
        key: read_key(&dir.key("validator"))?,
        data_dir: dir,
        http: options.http,
        cache_mib,
    };
    run_node(setup, move |addr, console| {
        Box::pin(async move {
            let url = format!("http://{addr}");
            let dir = DataDir(data_dir.clone());
            if demo {
                eprintln!("seeding demo data into a new chain …");
                crate::demo::seed(&url, &dir).await?;
            }
            if fresh {
                let dir = DataDir(data_dir.clone());
                tokio::task::spawn_blocking(move || {
                    crate::demo::bootstrap_console(&console, &dir, demo)
                })
                .await??;
            }
            crate::demo::print_welcome(&url, &data_dir, fresh);
            Ok(())
        })
    })
}

/// Options of `jitrace console-user`.
pub struct ConsoleUserOptions {
    pub data_dir: PathBuf,
    pub name: String,
    pub display_name: String,
    pub org: String,
    pub role: String,
    pub key_file: PathBuf,
}

/// `jitrace console-user`: adds a console user to a stopped node's `console.redb`, the key
/// sealed with the password from `$JITRACE_CONSOLE_PASSWORD` (never a flag: flags end up in
/// shell histories and process lists).
pub fn add_console_user(options: &ConsoleUserOptions) -> Result<()> {
    let password = std::env::var("JITRACE_CONSOLE_PASSWORD")
        .context("set JITRACE_CONSOLE_PASSWORD to the user's initial password")?;
    let role = jitrace_console::ConsoleRole::parse(&options.role)
        .ok_or_else(|| anyhow!("--role is admin, operator or viewer"))?;
    let dir = DataDir(options.data_dir.clone());
    std::fs::create_dir_all(&dir.0)?;
    let console = Console::open(&dir.console()).with_context(|| {
        format!(
            "cannot open {} (stop the node first)",
            dir.console().display()
        )
    })?;
    let user = console.create_user(
        jitrace_console::NewUser {
            name: &options.name,
            display_name: &options.display_name,
            org: options.org.parse()?,
            role,
            password: &password,
            key: Some(read_key(&options.key_file)?),
        },
        jitrace_chain::app::wall_clock_ms(),
    )?;
    println!(
        "console user {} ({} of {}) added; key {}",
        user.name,
        user.role.as_str(),
        user.org,
        user.public_key
    );
    Ok(())
}

/// Makes `path` absolute for messages a user copies.
pub fn display_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_size_defaults_and_refuses_what_is_out_of_range() {
        assert_eq!(cache_mib(None).unwrap(), jitrace_chain::DEFAULT_CACHE_MIB);
        assert_eq!(cache_mib(Some(64)).unwrap(), 64);
        for bad in [0, 3, 65_537] {
            let error = cache_mib(Some(bad)).unwrap_err().to_string();
            assert!(
                error.contains("cache_mib must be between 4 and 65536"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_node_config_may_name_its_cache_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let base = "genesis = \"../genesis.toml\"\nkey = \"node.key\"\ndata_dir = \"data\"\n\
                    http = \"127.0.0.1:8080\"\n";
        std::fs::write(&path, base).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.cache_mib, None);
        assert!(config.data_dir.starts_with(dir.path()));
        // Written configs leave it out, so they read back the same.
        assert!(!toml::to_string(&config).unwrap().contains("cache_mib"));

        std::fs::write(&path, format!("{base}cache_mib = 64\n")).unwrap();
        assert_eq!(NodeConfig::load(&path).unwrap().cache_mib, Some(64));
        std::fs::write(&path, format!("{base}cache_mib = \"lots\"\n")).unwrap();
        let error = format!("{:#}", NodeConfig::load(&path).unwrap_err());
        assert!(error.contains("is not a valid node config"), "{error}");
    }
}
