//! A real network on loopback: four validators and one observer, each its own `jitrace node`
//! process. Kill -9 one validator under load: the chain keeps finalising; restart it: it catches
//! up to the same blocks and state root. Kill two: finalisation stops without a fork; restart
//! one: it resumes.

mod common;

use common::{BIN, eventually};
use jitrace_client::Client;
use jitrace_types::{Hash, OrgId, Payload, SecretKey, Transaction};
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// A base port whose http (base..base+5) and p2p (base+100..base+105) ports are all free.
fn free_base_port() -> u16 {
    let seed = std::process::id() as u16;
    for attempt in 0..200u16 {
        let base = 20_000 + (seed.wrapping_mul(7) % 20_000 + attempt * 211) % 40_000;
        let free = (0..5)
            .chain(100..105)
            .all(|offset| TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free port range");
}

struct Node {
    name: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    client: Client,
}

impl Node {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["node", "--config"])
            .arg(&self.config)
            .env("JITRACE_LOG", "warn")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
    }

    async fn height(&self) -> Option<u64> {
        self.client.status().await.ok().map(|s| s.height)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Transactions from fresh keys: every one is finalised with a receipt (the ledger rejects it as
/// `unknown_signer`), which is all the load needs.
fn load_tx(chain_id: &str, n: u64) -> jitrace_types::SignedTransaction {
    let key = SecretKey::from_seed(1_000_000 + n);
    Transaction {
        chain_id: chain_id.to_string(),
        signer: key.public_key(),
        nonce: 1,
        payload: Payload::AddMember {
            org: OrgId::new("platform").unwrap(),
            key: key.public_key(),
        },
    }
    .sign(&key)
}

/// Block hashes of `node` at heights `1..=up_to`.
async fn hashes(node: &Node, up_to: u64) -> Vec<String> {
    let mut out = Vec::new();
    for h in 1..=up_to {
        out.push(
            node.client
                .block(h)
                .await
                .map(|b| format!("{}/{}", b.hash, b.state_root))
                .unwrap_or_default(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_and_an_observer_survive_crashes_without_forking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("net");
    let base = free_base_port();
    let out = Command::new(BIN)
        .args(["genesis", "--validators", "4", "--observers", "1", "--dir"])
        .arg(&dir)
        .args(["--base-port", &base.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "genesis: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let names = [
        "validator-0",
        "validator-1",
        "validator-2",
        "validator-3",
        "observer-0",
    ];
    let mut nodes: Vec<Node> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Node {
            name: name.to_string(),
            config: dir.join(name).join("config.toml"),
            log: dir.join(name).join("node.log"),
            child: None,
            client: Client::new(format!("http://127.0.0.1:{}", base + i as u16)),
        })
        .collect();
    for node in &mut nodes {
        node.start();
    }
    for node in &nodes {
        eventually(
            &format!("{} to finalise", node.name),
            Duration::from_secs(90),
            || async { node.height().await.is_some_and(|h| h >= 2) },
        )
        .await;
    }
    let status = nodes[0].client.status().await.unwrap();
    assert_eq!(status.validators.len(), 4);
    assert_eq!(nodes[4].client.status().await.unwrap().role, "observer");
    let chain_id = status.chain_id.clone();

    // Load: transactions to every live node in turn (the observer forwards its own).
    let accepted: Arc<Mutex<Vec<Hash>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = (0..5)
        .map(|i| format!("http://127.0.0.1:{}", base + i))
        .collect();
    let load = {
        let (accepted, stop, chain_id) = (accepted.clone(), stop.clone(), chain_id.clone());
        tokio::spawn(async move {
            let clients: Vec<Client> = urls.iter().map(Client::new).collect();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let tx = load_tx(&chain_id, n);
                if clients[(n % 5) as usize].submit(&tx).await.is_ok() {
                    accepted.lock().unwrap().push(tx.hash());
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };

    // Kill -9 one validator under load: the others keep finalising.
    nodes[1].kill9();
    let h0 = nodes[0].height().await.unwrap();
    eventually(
        "finalisation with one validator down",
        Duration::from_secs(60),
        || async { nodes[0].height().await.is_some_and(|h| h >= h0 + 3) },
    )
    .await;

    // Restart it: it catches up.
    nodes[1].start();
    let target = nodes[0].height().await.unwrap();
    eventually(
        "the restarted validator to catch up",
        Duration::from_secs(90),
        || async { nodes[1].height().await.is_some_and(|h| h >= target) },
    )
    .await;

    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 10,
        "the load generator got transactions in ({})",
        accepted.len()
    );

    // Every accepted transaction is finalised, with the same receipt on every node.
    for node in &nodes {
        eventually(
            &format!("{} to have every receipt", node.name),
            Duration::from_secs(90),
            || async {
                let mut all = true;
                for hash in &accepted {
                    match node.client.tx(hash).await {
                        Ok(status) if status.height.is_some() => {}
                        _ => {
                            all = false;
                            break;
                        }
                    }
                }
                all
            },
        )
        .await;
    }
    for hash in &accepted {
        let reference = nodes[0].client.tx(hash).await.unwrap();
        for node in &nodes[1..] {
            let status = node.client.tx(hash).await.unwrap();
            assert_eq!(
                (status.height, status.index, &status.reason),
                (reference.height, reference.index, &reference.reason)
            );
        }
    }

    // Same blocks and state roots everywhere, the observer included.
    let common = {
        let mut min = u64::MAX;
        for node in &nodes {
            min = min.min(node.height().await.unwrap());
        }
        min
    };
    let reference = hashes(&nodes[0], common).await;
    assert!(reference.iter().all(|h| !h.is_empty()));
    for node in &nodes[1..] {
        assert_eq!(
            hashes(node, common).await,
            reference,
            "{} agrees",
            node.name
        );
    }

    // Kill two validators (more than f = 1): finalisation stops, without a fork.
    nodes[1].kill9();
    nodes[2].kill9();
    // Let in-flight views settle, then finalisation must stall.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stalled = nodes[0].height().await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let still = nodes[0].height().await.unwrap();
    assert!(
        still <= stalled + 1,
        "finalisation went on without a quorum: {stalled} -> {still}"
    );
    assert!(nodes[3].height().await.unwrap().abs_diff(still) <= 1);

    // Restart one: a quorum again, and finalisation resumes.
    nodes[1].start();
    eventually(
        "finalisation to resume",
        Duration::from_secs(90),
        || async { nodes[0].height().await.is_some_and(|h| h >= still + 2) },
    )
    .await;
    let up_to = nodes[0]
        .height()
        .await
        .unwrap()
        .min(nodes[3].height().await.unwrap());
    let reference = hashes(&nodes[0], up_to).await;
    assert_eq!(
        hashes(&nodes[3], up_to).await,
        reference,
        "no fork after the stall"
    );
}
