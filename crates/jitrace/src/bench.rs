//! `jitrace bench`: measurements on this machine, printed with the command that produced them.

use anyhow::{Result, anyhow, bail};
use commonware_glue::stateful::db::{DatabaseSet, Unmerkleized as _};
use commonware_runtime::{Runner as _, tokio as cw_tokio};
use jitrace_chain::{Databases, app::state_config, execute};
use jitrace_ledger::{BlockEnv, Genesis};
use jitrace_types::{
    Gtin, Hash, OrgId, Payload, Role, SecretKey, SignedTransaction, Transaction, gs1,
    keys::{domain, verify_batch},
    tx::{Attribute, ProductInfo, RegisterOrg},
};
use std::time::Instant;

/// Results of `jitrace bench execute`.
#[derive(Debug, serde::Serialize)]
pub struct ExecuteReport {
    pub transactions: usize,
    pub block_size: usize,
    pub verify_per_sec_single_core: f64,
    pub batch_verify_per_sec_single_core: f64,
    pub execute_per_sec: f64,
    pub per_block_ms: f64,
    /// The chain benchmark's workload: product updates by `UPDATE_ACCOUNTS` members, signatures
    /// already verified at admission (as a validator's mempool has them).
    pub update_per_sec: f64,
    pub update_per_block_ms: f64,
}

/// Member accounts signing the update phase of `jitrace bench execute` (the chain bench's default).
const UPDATE_ACCOUNTS: usize = 256;

fn gtin(n: u64) -> Gtin {
    // 0 + company prefix 950600 + a 6-digit item reference + check digit.
    let body = format!("0950600{n:06}");
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    let check = gs1::gs1_check_digit(&digits);
    Gtin::parse(&format!("{body}{check}")).expect("valid by construction")
}

/// The load both `bench execute` and `bench chain` offer: member accounts of one brand, each
/// with its own product, taking turns updating their products.
struct MemberLoad {
    chain: String,
    org: OrgId,
    members: Vec<SecretKey>,
    /// The first member's product is `gtin(first_gtin)`, the next member's the next, and so on.
    first_gtin: u64,
}

impl MemberLoad {
    fn new(chain: &str, org: &OrgId, accounts: usize, first_gtin: u64) -> Self {
        Self {
            chain: chain.to_string(),
            org: org.clone(),
            members: (0..accounts as u64)
                .map(|i| SecretKey::from_seed(10_000 + i))
                .collect(),
            first_gtin,
        }
    }

    fn sign(&self, key: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
        Transaction {
            chain_id: self.chain.clone(),
            signer: key.public_key(),
            nonce,
            payload,
        }
        .sign(key)
    }

    /// The operator registers the brand (the operator's nonce 1), with `admin` as its admin.
    fn register_org(&self, operator: &SecretKey, admin: &SecretKey) -> SignedTransaction {
        let payload = Payload::RegisterOrg(RegisterOrg {
            id: self.org.clone(),
            name: "Bench Brand".into(),
            roles: vec![Role::Brand],
            gs1_company_prefix: None,
            region: None,
            admin: admin.public_key(),
        });
        self.sign(operator, 1, payload)
    }

    fn product(&self, i: usize, revision: Option<u64>) -> ProductInfo {
        ProductInfo {
            gtin: gtin(self.first_gtin + i as u64),
            org: self.org.clone(),
            name: match revision {
                Some(r) => format!("Bench product {i} v{r}"),
                None => format!("Bench product {i}"),
            },
            description: String::new(),
            attributes: revision
                .map(|r| Attribute {
                    name: "revision".into(),
                    value: r.to_string(),
                })
                .into_iter()
                .collect(),
            media: vec![],
        }
    }

    /// The brand admin adds every member, from the admin's nonce `first_nonce` on.
    fn add_members(&self, admin: &SecretKey, first_nonce: u64) -> Vec<SignedTransaction> {
        let add = |(i, m): (usize, &SecretKey)| {
            let payload = Payload::AddMember {
                org: self.org.clone(),
                key: m.public_key(),
            };
            self.sign(admin, first_nonce + i as u64, payload)
        };
        self.members.iter().enumerate().map(add).collect()
    }

    /// Each member registers its product (nonce 1).
    fn register_products(&self) -> Vec<SignedTransaction> {
        let register = |(i, m): (usize, &SecretKey)| {
            self.sign(m, 1, Payload::RegisterProduct(self.product(i, None)))
        };
        self.members.iter().enumerate().map(register).collect()
    }

    /// The `n`-th update of the load, round-robin over members, and the member who signs it.
    fn update(&self, n: u64) -> (usize, SignedTransaction) {
        let i = (n % self.members.len() as u64) as usize;
        let nonce = 2 + n / self.members.len() as u64;
        let payload = Payload::UpdateProduct(self.product(i, Some(nonce)));
        (i, self.sign(&self.members[i], nonce, payload))
    }
}

/// Signs `count` product registrations and runs them through the ledger over QMDB on disk.
pub fn execute_bench(count: usize, block_size: usize) -> Result<ExecuteReport> {
    let count = count.min(999_999);
    let chain = "jitrace-bench".to_string();
    let operator = SecretKey::from_seed(1);
    let brand = SecretKey::from_seed(2);
    let org = OrgId::new("bench-brand")?;
    let genesis = Genesis {
        chain_id: chain.clone(),
        operator: operator.public_key(),
        platform_org: OrgId::new("platform")?,
        platform_name: "Platform".into(),
        validators: vec![],
        scan_rules: jitrace_ledger::state::ScanRules::DEFAULT,
    };
    // Product registrations by the brand's admin, then the chain benchmark's load: members
    // join, each registers a product, and then they take turns updating their products.
    let load = MemberLoad::new(&chain, &org, UPDATE_ACCOUNTS, count as u64);
    let setup = vec![load.register_org(&operator, &brand).encode()];
    let txs: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            let payload = Payload::RegisterProduct(ProductInfo {
                gtin: gtin(i as u64),
                org: org.clone(),
                name: format!("Product {i}"),
                description: "benchmark product".into(),
                attributes: vec![],
                media: vec![],
            });
            load.sign(&brand, i as u64 + 1, payload).encode()
        })
        .collect();
    let members_setup: Vec<Vec<u8>> = load
        .add_members(&brand, count as u64 + 1)
        .into_iter()
        .chain(load.register_products())
        .map(|tx| tx.encode())
        .collect();
    let updates: Vec<Vec<u8>> = (0..count as u64)
        .map(|n| load.update(n).1.encode())
        .collect();

    // The machine's limit: single-core Ed25519 verification, one by one and batched.
    let signed: Vec<_> = txs
        .iter()
        .map(|raw| jitrace_types::SignedTransaction::decode(raw).expect("just encoded"))
        .collect();
    let public = brand.public_key();
    let start = Instant::now();
    for s in &signed {
        assert!(public.verify(domain::TRANSACTION, &s.body, &s.signature));
    }
    let verify_rate = count as f64 / start.elapsed().as_secs_f64();
    let items: Vec<_> = signed
        .iter()
        .map(|s| {
            (
                &public,
                domain::TRANSACTION,
                s.body.as_slice(),
                &s.signature,
            )
        })
        .collect();
    let start = Instant::now();
    for chunk in items.chunks(block_size.max(1)) {
        assert!(verify_batch(chunk));
    }
    let batch_rate = count as f64 / start.elapsed().as_secs_f64();

    let scratch = tempfile::tempdir()?;
    let runner =
        cw_tokio::Runner::new(cw_tokio::Config::new().with_storage_directory(scratch.path()));
    let (elapsed, blocks, update_elapsed, update_blocks) = runner.start(|context| async move {
        let databases = Databases::<cw_tokio::Context>::init(context, state_config(), None).await;
        let run = |height: u64, block: Vec<Vec<u8>>, verified: bool| {
            let databases = databases.clone();
            let genesis = genesis.clone();
            async move {
                let batches = databases.new_batches().await;
                let env = BlockEnv {
                    height,
                    time_ms: 1_700_000_000_000 + height,
                };
                let (merkleized, executed) = execute(batches, &genesis, env, &block, |_| verified)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                if let Some(r) = executed.receipts.iter().find(|r| !r.is_ok()) {
                    bail!("block {height}: a transaction was rejected: {r:?}");
                }
                databases.apply(merkleized).await;
                databases.finalize().await.durable().await;
                Ok::<_, anyhow::Error>(())
            }
        };
        run(1, setup, false).await?;
        // Runs `txs` in blocks from `height` on: the next height, the time taken and the blocks.
        let run_all = |mut height: u64, txs: Vec<Vec<u8>>, verified: bool| {
            let run = &run;
            async move {
                let start = Instant::now();
                let mut blocks = 0;
                for block in txs.chunks(block_size.max(1)) {
                    run(height, block.to_vec(), verified).await?;
                    height += 1;
                    blocks += 1;
                }
                Ok::<_, anyhow::Error>((height, start.elapsed(), blocks))
            }
        };
        let (height, elapsed, blocks) = run_all(2, txs, false).await?;
        let (height, _, _) = run_all(height, members_setup, false).await?;
        let (_, update_elapsed, update_blocks) = run_all(height, updates, true).await?;
        Ok::<_, anyhow::Error>((elapsed, blocks, update_elapsed, update_blocks))
    })?;
    Ok(ExecuteReport {
        transactions: count,
        block_size,
        verify_per_sec_single_core: verify_rate,
        batch_verify_per_sec_single_core: batch_rate,
        execute_per_sec: count as f64 / elapsed.as_secs_f64(),
        per_block_ms: elapsed.as_secs_f64() * 1000.0 / blocks.max(1) as f64,
        update_per_sec: count as f64 / update_elapsed.as_secs_f64(),
        update_per_block_ms: update_elapsed.as_secs_f64() * 1000.0 / update_blocks.max(1) as f64,
    })
}

/// Options of `jitrace bench chain`.
pub struct ChainBenchOptions {
    pub validators: usize,
    pub duration: std::time::Duration,
    /// Transactions per second to offer (open loop); `None` offers as fast as the nodes admit.
    pub rate: Option<u64>,
    /// Signer accounts (each signs its own nonce sequence, always through the same node).
    pub accounts: usize,
}

/// Results of `jitrace bench chain`.
#[derive(Debug, serde::Serialize)]
pub struct ChainReport {
    pub validators: usize,
    pub duration_s: f64,
    pub mode: String,
    pub offered: u64,
    pub admitted: u64,
    pub finalised: u64,
    pub finalised_per_sec: f64,
    pub ok_receipts_sampled: String,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_p999: f64,
    pub verify_per_sec_single_core: f64,
    pub ratio_to_one_core_verify: f64,
    pub blocks: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn single_core_verify_rate() -> f64 {
    let key = SecretKey::from_seed(42);
    let public = key.public_key();
    let messages: Vec<Vec<u8>> = (0..20_000u32).map(|i| i.to_be_bytes().repeat(40)).collect();
    let sigs: Vec<_> = messages
        .iter()
        .map(|m| key.sign(domain::TRANSACTION, m))
        .collect();
    let start = Instant::now();
    for (m, s) in messages.iter().zip(&sigs) {
        assert!(public.verify(domain::TRANSACTION, m, s));
    }
    messages.len() as f64 / start.elapsed().as_secs_f64()
}

/// Runs a local network of `validators` node processes and a load generator against it.
pub fn chain_bench(options: ChainBenchOptions) -> Result<ChainReport> {
    use crate::node::{GenesisOptions, NodeConfig, write_network};
    use jitrace_client::Client;
    use std::{
        collections::HashMap,
        process::{Command, Stdio},
        sync::{Arc, Mutex},
        time::Duration,
    };

    let verify_rate = single_core_verify_rate();
    let dir = tempfile::tempdir()?;
    let base_port = {
        let mut found = None;
        for base in (21_000u16..60_000).step_by(397) {
            let free = (0..options.validators as u16)
                .chain(100..100 + options.validators as u16)
                .all(|o| std::net::TcpListener::bind(("127.0.0.1", base + o)).is_ok());
            if free {
                found = Some(base);
                break;
            }
        }
        found.ok_or_else(|| anyhow!("no free ports"))?
    };
    let nodes = write_network(&GenesisOptions {
        validators: options.validators,
        observers: 0,
        out: dir.path().to_path_buf(),
        host: std::net::IpAddr::from([127, 0, 0, 1]),
        base_port,
        chain_id: Some("jitrace-bench".into()),
    })?;
    let exe = std::env::current_exe()?;
    struct Kill(Vec<std::process::Child>);
    impl Drop for Kill {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let mut children = Kill(Vec::new());
    let mut urls = Vec::new();
    for (name, config) in &nodes {
        let log = std::fs::File::create(dir.path().join(format!("{name}.log")))?;
        children.0.push(
            Command::new(&exe)
                .args(["node", "--config"])
                .arg(config)
                .env("JITRACE_LOG", "warn")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()?,
        );
        urls.push(format!("http://{}", NodeConfig::load(config)?.http));
    }
    let operator = crate::genesis::read_key(&dir.path().join("operator.key"))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let clients: Vec<Client> = urls.iter().map(Client::new).collect();
        // Wait for the network.
        let deadline = Instant::now() + Duration::from_secs(120);
        for client in &clients {
            while client.status().await.map(|s| s.height).unwrap_or(0) < 1 {
                if Instant::now() > deadline {
                    bail!(
                        "the network did not start; logs in {}",
                        dir.path().display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let wait_all = |hashes: Vec<Hash>| {
            let client = clients[0].clone();
            async move {
                for hash in hashes {
                    let status = client.wait_for_tx(&hash, Duration::from_secs(120)).await?;
                    if status.status != "ok" {
                        bail!(
                            "setup transaction rejected: {:?} {:?}",
                            status.reason,
                            status.detail
                        );
                    }
                }
                Ok::<_, anyhow::Error>(())
            }
        };
        // Setup: a brand, its member accounts, one product per account.
        let org = OrgId::new("bench-brand")?;
        let admin = SecretKey::from_seed(7);
        let load = MemberLoad::new("jitrace-bench", &org, options.accounts, 0);
        let register = load.register_org(&operator, &admin);
        clients[0].submit(&register).await?;
        wait_all(vec![register.hash()]).await?;
        let adds = load.add_members(&admin, 1);
        for chunk in adds.chunks(500) {
            clients[0].submit_many(chunk).await?;
        }
        wait_all(adds.iter().map(|t| t.hash()).collect()).await?;
        let products = load.register_products();
        for chunk in products.chunks(500) {
            clients[0].submit_many(chunk).await?;
        }
        wait_all(products.iter().map(|t| t.hash()).collect()).await?;

        // Pre-sign the load: product updates, round-robin over accounts; account i always goes
        // through node i mod n, so its nonces arrive in order.
        let seconds = options.duration.as_secs_f64();
        let total = match options.rate {
            Some(rate) => (rate as f64 * seconds) as u64,
            None => (15_000.0 * seconds) as u64,
        };
        let mut per_node: Vec<Vec<jitrace_types::SignedTransaction>> =
            vec![Vec::new(); clients.len()];
        for n in 0..total {
            let (i, tx) = load.update(n);
            per_node[i % clients.len()].push(tx);
        }

        let submitted: Arc<Mutex<HashMap<Hash, Instant>>> = Arc::default();
        let admitted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let start_height = clients[0].status().await?.height;
        let start = Instant::now();
        let end = start + options.duration;
        // Submitters: one per node, batches of 200 on an open-loop schedule.
        let mut tasks = Vec::new();
        for (node, txs) in per_node.into_iter().enumerate() {
            let client = clients[node].clone();
            let submitted = submitted.clone();
            let admitted = admitted.clone();
            let rate = options.rate.map(|r| r as f64 / clients.len() as f64);
            tasks.push(tokio::spawn(async move {
                let mut sent = 0usize;
                let mut in_flight = Vec::new();
                for chunk in txs.chunks(200) {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    if let Some(rate) = rate {
                        let due = start + Duration::from_secs_f64(sent as f64 / rate);
                        if due > now {
                            tokio::time::sleep(due - now).await;
                        }
                    }
                    {
                        let mut map = submitted.lock().unwrap();
                        let at = Instant::now();
                        for tx in chunk {
                            map.insert(tx.hash(), at);
                        }
                    }
                    sent += chunk.len();
                    let client = client.clone();
                    let chunk = chunk.to_vec();
                    let admitted = admitted.clone();
                    let request = async move {
                        if let Ok(response) = client.submit_many(&chunk).await {
                            let ok = response
                                .results
                                .iter()
                                .filter(|r| r.error.is_none())
                                .count();
                            admitted.fetch_add(ok as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                    };
                    if rate.is_some() {
                        in_flight.push(tokio::spawn(request)); // open loop
                    } else {
                        request.await; // max rate: as fast as the node admits
                    }
                }
                for t in in_flight {
                    let _ = t.await;
                }
            }));
        }
        // Watcher: every finalised block on node 0, with the time it was seen.
        let mut latencies = Vec::new();
        let mut finalised = 0u64;
        let mut finalised_in_window = 0u64;
        let mut height = start_height;
        let drain_until = end + Duration::from_secs(15);
        let mut sample = Vec::new();
        let mut done = Vec::new();
        while Instant::now() < drain_until {
            match clients[0].block(height + 1).await {
                Ok(block) => {
                    height += 1;
                    let seen = Instant::now();
                    let mut map = submitted.lock().unwrap();
                    for id in &block.txs {
                        if let Ok(hash) = Hash::from_hex(id) {
                            // Count each transaction once, at its first inclusion.
                            if let Some(at) = map.remove(&hash) {
                                done.push(hash);
                                latencies.push(seen.duration_since(at).as_secs_f64() * 1000.0);
                                finalised += 1;
                                if seen <= end {
                                    finalised_in_window += 1;
                                }
                                if sample.len() < 200 {
                                    sample.push(hash);
                                }
                            }
                        }
                    }
                    let all_done = Instant::now() > end && map.is_empty();
                    drop(map);
                    if all_done {
                        break;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        let mut ok = 0;
        for hash in &sample {
            if clients[0]
                .tx(hash)
                .await
                .map(|s| s.status == "ok")
                .unwrap_or(false)
            {
                ok += 1;
            }
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let per_sec = finalised_in_window as f64 / seconds;
        Ok(ChainReport {
            validators: options.validators,
            duration_s: seconds,
            mode: options
                .rate
                .map_or("max-rate".to_string(), |r| format!("fixed {r} tx/s")),
            offered: (submitted.lock().unwrap().len() + done.len()) as u64,
            admitted: admitted.load(std::sync::atomic::Ordering::Relaxed),
            finalised,
            finalised_per_sec: per_sec,
            ok_receipts_sampled: format!("{ok}/{}", sample.len()),
            latency_ms_p50: percentile(&latencies, 0.50),
            latency_ms_p99: percentile(&latencies, 0.99),
            latency_ms_p999: percentile(&latencies, 0.999),
            verify_per_sec_single_core: verify_rate,
            ratio_to_one_core_verify: per_sec / verify_rate,
            blocks: height - start_height,
        })
    })
}

/// Results of `jitrace bench verdict`.
#[derive(Debug, serde::Serialize)]
pub struct VerdictReport {
    pub requests: usize,
    pub concurrency: usize,
    pub verdict_per_sec: f64,
    pub verdict_p50_ms: f64,
    pub verdict_p99_ms: f64,
    pub trivial_per_sec: f64,
    pub trivial_p50_ms: f64,
    pub trivial_p99_ms: f64,
    pub ratio: f64,
    /// The same with a different code each request (no repeat: nothing remembered helps).
    pub distinct_codes: usize,
    pub distinct_per_sec: f64,
    pub distinct_p50_ms: f64,
    pub distinct_p99_ms: f64,
    pub distinct_ratio: f64,
}

/// GETs `urls` (in turn) `requests` times from `concurrency` clients; the rate and the sorted
/// latencies (ms).
async fn hammer(
    urls: Vec<String>,
    accept: &'static str,
    requests: usize,
    concurrency: usize,
) -> Result<(f64, Vec<f64>)> {
    let http = reqwest::Client::new();
    let per_task = requests.div_ceil(concurrency.max(1));
    let urls = std::sync::Arc::new(urls);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..concurrency.max(1) {
        let (http, urls) = (http.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let url = &urls[(task * per_task + i) % urls.len()];
                let sent = Instant::now();
                let response = http.get(url).header("accept", accept).send().await?;
                if !response.status().is_success() {
                    bail!("{url} answered {}", response.status());
                }
                response.bytes().await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok((rate, all))
}

/// Measures verdict requests against a running node, beside a trivial endpoint of the same
/// server in the same run.
pub fn verdict_bench(
    node: &str,
    code_path: &str,
    distinct: &[String],
    requests: usize,
    concurrency: usize,
) -> Result<VerdictReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let verdict_url = format!("{}{}", node.trim_end_matches('/'), code_path);
        let trivial_url = format!("{}/healthz", node.trim_end_matches('/'));
        // Warm up both.
        hammer(vec![verdict_url.clone()], "application/json", 200, 4).await?;
        hammer(vec![trivial_url.clone()], "application/json", 200, 4).await?;
        let (trivial_rate, trivial) =
            hammer(vec![trivial_url], "application/json", requests, concurrency).await?;
        let (verdict_rate, verdict) =
            hammer(vec![verdict_url], "application/json", requests, concurrency).await?;
        // Every request a different code, each seen once: nothing remembered helps.
        let distinct_urls: Vec<String> = distinct
            .iter()
            .map(|path| format!("{}{path}", node.trim_end_matches('/')))
            .collect();
        let (cold_rate, cold) = if distinct_urls.is_empty() {
            (f64::NAN, Vec::new())
        } else {
            let n = distinct_urls.len().min(requests);
            hammer(distinct_urls, "application/json", n, concurrency).await?
        };
        Ok(VerdictReport {
            requests,
            concurrency,
            verdict_per_sec: verdict_rate,
            verdict_p50_ms: percentile(&verdict, 0.50),
            verdict_p99_ms: percentile(&verdict, 0.99),
            trivial_per_sec: trivial_rate,
            trivial_p50_ms: percentile(&trivial, 0.50),
            trivial_p99_ms: percentile(&trivial, 0.99),
            ratio: verdict_rate / trivial_rate,
            distinct_codes: cold.len(),
            distinct_per_sec: cold_rate,
            distinct_p50_ms: percentile(&cold, 0.50),
            distinct_p99_ms: percentile(&cold, 0.99),
            distinct_ratio: cold_rate / trivial_rate,
        })
    })
}

/// Results of `jitrace bench trace`.
#[derive(Debug, serde::Serialize)]
pub struct TraceReport {
    pub items: u64,
    pub parts_per_item: u64,
    pub part_codes: u64,
    pub lot_size: u64,
    pub build_seconds: f64,
    pub back_samples: usize,
    pub back_ms_p50: f64,
    pub back_ms_p99: f64,
    pub back_ms_max: f64,
    pub forward_lot_items: u64,
    pub forward_lot_ms: f64,
    pub forward_lot_us_per_item: f64,
    pub forward_product_items: u64,
    pub forward_product_ms: f64,
    pub forward_product_us_per_item: f64,
}

/// Builds a state of `items` finished items of `parts` parts each (every part a code of its
/// own, in lots of `lot_size`, installed as the ledger records it) in QMDB on disk, then times
/// the API's traces over it: backward from random items, forward from one lot and from one
/// part type.
pub fn trace_bench(items: u64, parts: u64, lot_size: u64, samples: usize) -> Result<TraceReport> {
    use jitrace_ledger::state::{
        Batch, CodeFlags, CodeState, CodeStatus, LotEntry, Retirement, ScanSummary, SerialRange,
        SerialRanges, Stamp, StateKey,
    };
    use jitrace_types::{
        LicenceId, TxHash,
        parts::{LotRecord, RecallScope},
        tx::{Attribute, CodeId},
    };
    if items == 0 || parts == 0 || lot_size == 0 {
        bail!("--items, --parts and --lot-size must be above 0");
    }
    let maker = OrgId::new("bench-maker")?;
    let supplier = OrgId::new("bench-supplier")?;
    let stamp = Stamp {
        height: 1,
        time_ms: 1_700_000_000_000,
    };
    let car = gtin(900_000);
    let part_gtin = |p: u64| gtin(100_000 + p);
    let lot_of = |i: u64| format!("L{:06}", i / lot_size);
    let state = |code: CodeId, lot: String, brand: &OrgId| CodeState {
        code,
        lot,
        brand: brand.clone(),
        status: CodeStatus::Active,
        custodian: Some(maker.clone()),
        in_transit_to: None,
        owner: None,
        owner_device: None,
        ticket: None,
        sale: None,
        flags: CodeFlags::default(),
        clone: None,
        last_place: None,
        last_event_at: Some(stamp),
        event_count: 2,
        scans: ScanSummary::default(),
        created_at: stamp,
        parent: None,
        parts: Vec::new(),
        height: 0,
    };
    let batch = |g: Gtin, lot: String, first: u64, count: u64, org: &OrgId| Batch {
        gtin: g,
        lot,
        org: org.clone(),
        licence: LicenceId::new("bench").expect("valid id"),
        first_serial: first,
        count,
        code_key: SecretKey::from_seed(7).public_key(),
        issued_at: stamp,
        tx: TxHash::of(&[b"bench"]),
    };
    // The catalogue: the items' batch, each part type's lots and their records.
    let lots = items.div_ceil(lot_size);
    let mut catalogue: Vec<(StateKey, Vec<u8>)> = Vec::new();
    let put =
        |out: &mut Vec<(StateKey, Vec<u8>)>, key: StateKey, value: Vec<u8>| out.push((key, value));
    put(
        &mut catalogue,
        StateKey::Batch(car, "C".into()),
        jitrace_ledger::encode(&batch(car, "C".into(), 0, items, &maker)),
    );
    put(
        &mut catalogue,
        StateKey::SerialRanges(car),
        jitrace_ledger::encode(&SerialRanges(vec![SerialRange {
            first: 0,
            count: items,
            lot: "C".into(),
        }])),
    );
    for p in 0..parts {
        let g = part_gtin(p);
        let mut ranges = Vec::new();
        for l in 0..lots {
            let lot = lot_of(l * lot_size);
            let first = l * lot_size;
            let count = lot_size.min(items - first);
            ranges.push(SerialRange {
                first,
                count,
                lot: lot.clone(),
            });
            put(
                &mut catalogue,
                StateKey::Batch(g, lot.clone()),
                jitrace_ledger::encode(&batch(g, lot.clone(), first, count, &supplier)),
            );
            put(
                &mut catalogue,
                StateKey::Lot(g, lot.clone()),
                jitrace_ledger::encode(&LotEntry {
                    record: LotRecord {
                        gtin: g,
                        lot,
                        attributes: vec![Attribute {
                            name: "diameter_mm".into(),
                            value: "50.01".into(),
                        }],
                        produced_at: Some(1_700_000_000),
                        tests: vec![],
                        documents: vec![],
                    },
                    recorded_at: stamp,
                    tx: TxHash::of(&[b"lot"]),
                }),
            );
        }
        put(
            &mut catalogue,
            StateKey::SerialRanges(g),
            jitrace_ledger::encode(&SerialRanges(ranges)),
        );
    }
    // Item i holds serial i of every part type.
    let records_of = |i: u64| -> Vec<(StateKey, Vec<u8>)> {
        let item = CodeId {
            gtin: car,
            serial: i,
        };
        let mut out = Vec::with_capacity(parts as usize + 1);
        let mut top = state(item, "C".into(), &maker);
        top.height = 1;
        for p in 0..parts {
            let id = CodeId {
                gtin: part_gtin(p),
                serial: i,
            };
            top.parts.push(id);
            let mut part = state(id, lot_of(i), &supplier);
            part.status = CodeStatus::Retired(Retirement::Installed);
            part.custodian = None;
            part.parent = Some(item);
            out.push((StateKey::Code(id), jitrace_ledger::encode(&part)));
        }
        out.push((StateKey::Code(item), jitrace_ledger::encode(&top)));
        out
    };

    let scratch = tempfile::tempdir()?;
    let runner =
        cw_tokio::Runner::new(cw_tokio::Config::new().with_storage_directory(scratch.path()));
    runner.start(|context| async move {
        let databases = Databases::<cw_tokio::Context>::init(context, state_config(), None).await;
        let write = |records: Vec<(StateKey, Vec<u8>)>| {
            let databases = databases.clone();
            async move {
                let mut batches = databases.new_batches().await;
                for (key, value) in records {
                    batches =
                        batches.write(jitrace_chain::app::to_digest(&key.hashed()), Some(value));
                }
                let merkleized = batches.merkleize().await.map_err(|e| anyhow!("{e}"))?;
                databases.apply(merkleized).await;
                databases.finalize().await.durable().await;
                Ok::<_, anyhow::Error>(())
            }
        };
        let started = Instant::now();
        write(catalogue).await?;
        let chunk = (200_000 / (parts + 1)).max(1);
        let mut i = 0;
        while i < items {
            let end = (i + chunk).min(items);
            write((i..end).flat_map(records_of).collect()).await?;
            i = end;
        }
        let build_seconds = started.elapsed().as_secs_f64();
        let source = crate::node::QmdbState(databases.clone());

        // Backward traces from random items.
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut back = Vec::with_capacity(samples);
        for _ in 0..samples {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let code = CodeId {
                gtin: car,
                serial: rng % items,
            };
            let start = Instant::now();
            let trace = jitrace_api::b2b::back_trace(&source, &code)
                .await
                .map_err(|e| anyhow!("{e:?}"))?
                .ok_or_else(|| anyhow!("item {code:?} has no state"))?;
            back.push(start.elapsed().as_secs_f64() * 1000.0);
            if trace.node.parts.len() as u64 != parts {
                bail!("the trace of {code:?} lost parts");
            }
        }
        back.sort_by(f64::total_cmp);

        // Forward: one lot (its items), then one part type (every item).
        let forward = |scope: RecallScope| {
            let source = &source;
            async move {
                let start = Instant::now();
                let (found, truncated) = jitrace_api::b2b::forward_trace(source, &scope)
                    .await
                    .map_err(|e| anyhow!("{e:?}"))?;
                Ok::<_, anyhow::Error>((found.len() as u64, truncated, start.elapsed()))
            }
        };
        let (lot_items, _, lot_time) = forward(RecallScope::Lot {
            gtin: part_gtin(0),
            lot: lot_of(0),
        })
        .await?;
        let (product_items, _, product_time) = forward(RecallScope::Product(part_gtin(1))).await?;
        let per_item = |d: std::time::Duration, n: u64| d.as_secs_f64() * 1e6 / n.max(1) as f64;
        Ok(TraceReport {
            items,
            parts_per_item: parts,
            part_codes: items * parts,
            lot_size,
            build_seconds,
            back_samples: samples,
            back_ms_p50: percentile(&back, 0.50),
            back_ms_p99: percentile(&back, 0.99),
            back_ms_max: back.last().copied().unwrap_or(f64::NAN),
            forward_lot_items: lot_items,
            forward_lot_ms: lot_time.as_secs_f64() * 1000.0,
            forward_lot_us_per_item: per_item(lot_time, lot_items),
            forward_product_items: product_items,
            forward_product_ms: product_time.as_secs_f64() * 1000.0,
            forward_product_us_per_item: per_item(product_time, product_items),
        })
    })
}

/// `count` different printed codes of the batch holding `code_path`'s code, signed with the dev
/// node's code-signing key (`DATA_DIR/keys/brand-code.key`), as paths.
pub fn distinct_codes(
    node: &str,
    data_dir: &std::path::Path,
    code_path: &str,
    count: u64,
) -> Result<Vec<String>> {
    let key = crate::genesis::read_key(&data_dir.join("keys/brand-code.key"))?;
    let code = jitrace_types::code::parse_code(&format!("https://x{code_path}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = jitrace_client::Client::new(node);
    let (chain_id, batches) = runtime.block_on(async {
        Ok::<_, anyhow::Error>((
            client.status().await?.chain_id,
            client.batches(&code.gtin).await?,
        ))
    })?;
    let batch = batches
        .iter()
        .max_by_key(|b| b.count)
        .ok_or_else(|| anyhow!("GTIN {} has no batch", code.gtin))?;
    Ok(
        (batch.first_serial..batch.first_serial + count.min(batch.count))
            .map(|serial| {
                let serial = serial.to_string();
                let sig = jitrace_types::code::sign_code(&key, &chain_id, &code.gtin, &serial);
                format!("/01/{}/21/{serial}?8030={sig}", code.gtin)
            })
            .collect(),
    )
}
