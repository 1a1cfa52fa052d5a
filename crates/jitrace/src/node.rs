//! Running a node: the engine, the block store, the HTTP API, on the engine's tokio runtime.

use crate::genesis::{GenesisFile, ValidatorEntry, read_key, write_key};
use anyhow::{Context as _, Result, anyhow};
use commonware_runtime::{Runner as _, tokio as cw_tokio};
use futures::future::BoxFuture;
use jitrace_api::{ApiState, StateSource};
use jitrace_chain::{Databases, EngineConfig, Mempool, MempoolConfig, to_digest};
use jitrace_ledger::state::StateKey;
use jitrace_store::BlockStore;
use jitrace_types::{PublicKey, SecretKey};
use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    sync::Arc,
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
    pub fn media(&self) -> PathBuf {
        self.0.join("media")
    }
}

/// Options of `jitrace dev`.
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub demo: bool,
}

/// Creates a one-validator chain in an empty data directory: keys and genesis.
pub fn init_dev(dir: &DataDir) -> Result<()> {
    std::fs::create_dir_all(&dir.0)
        .with_context(|| format!("cannot create the data directory {}", dir.0.display()))?;
    let validator = SecretKey::generate();
    let operator = SecretKey::generate();
    write_key(&dir.key("validator"), &validator)?;
    write_key(&dir.key("operator"), &operator)?;
    let p2p = free_local_port()?;
    let suffix = &validator.public_key().to_hex()[..8];
    let genesis = GenesisFile {
        chain_id: format!("jitrace-dev-{suffix}"),
        genesis_time_ms: jitrace_chain::app::wall_clock_ms(),
        operator: operator.public_key().to_hex(),
        platform_org: "platform".into(),
        platform_name: "Jitrace Platform".into(),
        validators: vec![ValidatorEntry {
            key: validator.public_key().to_hex(),
            p2p,
        }],
    };
    genesis.save(&dir.genesis())
}

fn free_local_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free local port")?;
    Ok(listener.local_addr()?)
}

/// Reads the latest applied ledger state from the engine's authenticated store.
struct QmdbState(Databases<cw_tokio::Context>);

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

/// Runs a validator from a data directory until Ctrl-C. `on_ready` runs once the API serves.
pub fn run_node(
    dir: DataDir,
    http: SocketAddr,
    on_ready: impl FnOnce(SocketAddr) -> BoxFuture<'static, Result<()>> + Send + 'static,
) -> Result<()> {
    let genesis = GenesisFile::load(&dir.genesis())?;
    let ledger_genesis = Arc::new(genesis.ledger_genesis()?);
    let signer = read_key(&dir.key("validator"))?;
    let me = signer.public_key();
    let validators = genesis
        .validators
        .iter()
        .map(|v| -> Result<_> {
            let key = PublicKey::from_hex(&v.key)?.to_engine()?;
            Ok((key, v.p2p))
        })
        .collect::<Result<Vec<_>>>()?;
    let listen = genesis
        .validators
        .iter()
        .find(|v| v.key == me.to_hex())
        .map(|v| v.p2p)
        .ok_or_else(|| anyhow!("this node's key is not in the genesis validator set"))?;
    std::fs::create_dir_all(dir.media())?;
    let store = Arc::new(BlockStore::open(&dir.blocks()).with_context(|| {
        format!(
            "cannot open {} (is another node using this data directory?)",
            dir.blocks().display()
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
        let running = jitrace_chain::start(
            context,
            EngineConfig {
                signer: signer.to_engine(),
                validators,
                listen,
                namespace: genesis.consensus_namespace(),
                genesis: ledger_genesis.clone(),
                genesis_time_ms: genesis.genesis_time_ms,
                mempool: mempool.clone(),
                store: store.clone(),
                tip: tip_tx,
            },
        )
        .await;
        let databases = running.databases().await;
        let api = jitrace_api::router(ApiState {
            chain_id: genesis.chain_id.clone(),
            validators: ledger_genesis.validators.clone(),
            mempool,
            store,
            tip: tip_rx,
            state: Arc::new(QmdbState(databases)),
            media_dir: dir.media(),
        });
        let listener = tokio::net::TcpListener::from_std(http_listener)?;
        let server = tokio::spawn(async move { axum::serve(listener, api).await });
        tracing::info!(%http_addr, chain_id = %genesis.chain_id, "node is serving");
        on_ready(http_addr).await?;
        tokio::select! {
            result = server => {
                result.map_err(|e| anyhow!("the HTTP server stopped: {e}"))??;
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\nstopping (every finalised block is on disk)");
            }
        }
        Ok(())
    })
}

/// `jitrace dev`.
pub fn run_dev(options: DevOptions) -> Result<()> {
    let dir = DataDir(options.data_dir.clone());
    let fresh = !dir.genesis().exists();
    if fresh {
        init_dev(&dir)?;
    }
    let demo = fresh && options.demo;
    let data_dir = options.data_dir.clone();
    run_node(dir, options.http, move |addr| {
        Box::pin(async move {
            let url = format!("http://{addr}");
            if demo {
                eprintln!("seeding demo data into a new chain …");
                crate::demo::seed(&url, &DataDir(data_dir.clone())).await?;
            }
            crate::demo::print_welcome(&url, &data_dir, fresh);
            Ok(())
        })
    })
}

/// Makes `path` absolute for messages a user copies.
pub fn display_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
