//! `jitrace bench`: measurements on this machine, printed with the command that produced them.

use anyhow::{Result, anyhow};
use commonware_glue::stateful::db::DatabaseSet;
use commonware_runtime::{Runner as _, tokio as cw_tokio};
use jitrace_chain::{Databases, app::state_config, execute};
use jitrace_ledger::{BlockEnv, Genesis};
use jitrace_types::{
    Gtin, OrgId, Payload, Role, SecretKey, Transaction, gs1,
    keys::{domain, verify_batch},
    tx::{ProductInfo, RegisterOrg},
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
}

fn gtin(n: u64) -> Gtin {
    // 0 + company prefix 950600 + a 6-digit item reference + check digit.
    let body = format!("0950600{n:06}");
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    let check = gs1::gs1_check_digit(&digits);
    Gtin::parse(&format!("{body}{check}")).expect("valid by construction")
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
    };
    let setup = vec![
        Transaction {
            chain_id: chain.clone(),
            signer: operator.public_key(),
            nonce: 1,
            payload: Payload::RegisterOrg(RegisterOrg {
                id: org.clone(),
                name: "Bench".into(),
                roles: vec![Role::Brand],
                gs1_company_prefix: None,
                region: None,
                admin: brand.public_key(),
            }),
        }
        .sign(&operator)
        .encode(),
    ];
    let txs: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            Transaction {
                chain_id: chain.clone(),
                signer: brand.public_key(),
                nonce: i as u64 + 1,
                payload: Payload::RegisterProduct(ProductInfo {
                    gtin: gtin(i as u64),
                    org: org.clone(),
                    name: format!("Product {i}"),
                    description: "benchmark product".into(),
                    attributes: vec![],
                    media: vec![],
                }),
            }
            .sign(&brand)
            .encode()
        })
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
    let (elapsed, blocks) = runner.start(|context| async move {
        let databases = Databases::<cw_tokio::Context>::init(context, state_config(), None).await;
        let run = |height: u64, block: Vec<Vec<u8>>| {
            let databases = databases.clone();
            let genesis = genesis.clone();
            async move {
                let batches = databases.new_batches().await;
                let env = BlockEnv {
                    height,
                    time_ms: 1_700_000_000_000 + height,
                };
                let (merkleized, _) = execute(batches, &genesis, env, &block)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                databases.apply(merkleized).await;
                databases.finalize().await.durable().await;
                Ok::<_, anyhow::Error>(())
            }
        };
        run(1, setup).await?;
        let start = Instant::now();
        let mut blocks = 0;
        for (i, block) in txs.chunks(block_size.max(1)).enumerate() {
            run(i as u64 + 2, block.to_vec()).await?;
            blocks += 1;
        }
        Ok::<_, anyhow::Error>((start.elapsed(), blocks))
    })?;
    Ok(ExecuteReport {
        transactions: count,
        block_size,
        verify_per_sec_single_core: verify_rate,
        batch_verify_per_sec_single_core: batch_rate,
        execute_per_sec: count as f64 / elapsed.as_secs_f64(),
        per_block_ms: elapsed.as_secs_f64() * 1000.0 / blocks.max(1) as f64,
    })
}
