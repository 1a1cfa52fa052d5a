//! `jitrace verify-chain`: re-checks a stopped node's data directory from genesis.
//!
//! For every stored block: it decodes, its height follows, it names the previous block as
//! parent, its digest is the one it is indexed by, its transactions match the header's
//! transaction root, its finalisation certificate (where the engine recorded one) verifies
//! against the validator set and names this block, and re-executing it with the ledger on a
//! fresh authenticated store gives the header's state root. The first failure is reported with
//! its height, and the command fails.

use crate::{genesis::GenesisFile, node::DataDir};
use anyhow::{Context as _, Result, anyhow, bail};
use commonware_codec::{Decode as _, DecodeExt as _};
use commonware_consensus::simplex::types::Finalization;
use commonware_cryptography::Digestible as _;
use commonware_glue::stateful::db::{DatabaseSet, Merkleized as _};
use commonware_parallel::Sequential;
use commonware_runtime::{Runner as _, tokio as cw_tokio};
use commonware_utils::ordered::Set;
use indicatif::{ProgressBar, ProgressStyle};
use jitrace_chain::{
    Block, Databases, Digest, Scheme, app::state_config, block::to_hash, execute, genesis_block,
};
use jitrace_ledger::BlockEnv;
use jitrace_store::BlockStore;
use jitrace_types::PublicKey;
use serde::Serialize;

/// The outcome, for `--json`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub blocks: u64,
    pub certificates: u64,
    pub transactions: u64,
    pub state_root: Option<String>,
    pub failure: Option<Failure>,
}

/// Where verification first failed.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub height: u64,
    pub reason: String,
}

fn fail(height: u64, reason: impl Into<String>) -> Failure {
    Failure {
        height,
        reason: reason.into(),
    }
}

/// Verifies the chain in `data_dir`.
pub fn verify_chain(data_dir: &std::path::Path, progress: bool) -> Result<Report> {
    let dir = DataDir(data_dir.to_path_buf());
    let genesis = GenesisFile::load(&dir.genesis())?;
    let ledger_genesis = genesis.ledger_genesis()?;
    let store = BlockStore::open(&dir.blocks()).with_context(|| {
        format!(
            "cannot open {} — stop the node that uses this data directory first",
            dir.blocks().display()
        )
    })?;
    let tip = store.tip()?.map_or(0, |t| t.height);
    let validators = genesis
        .validators
        .iter()
        .map(|v| Ok(PublicKey::from_hex(&v.key)?.to_engine()?))
        .collect::<Result<Vec<_>>>()?;
    let leader = validators
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("no validators in genesis"))?;
    let participants = validators.len();
    let scheme = Scheme::verifier(
        &genesis.consensus_namespace(),
        Set::from_iter_dedup(validators),
    );
    let genesis_digest = genesis_block(leader, genesis.genesis_time_ms).digest();

    let bar = if progress {
        ProgressBar::new(tip)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "verifying {bar:40} {pos}/{len} blocks ({per_sec}, eta {eta})",
        )
        .map_err(|e| anyhow!("{e}"))?,
    );

    // Re-execution needs the engine's storage runtime: a throwaway one in a temporary directory.
    let scratch = tempfile::tempdir()?;
    let runner =
        cw_tokio::Runner::new(cw_tokio::Config::new().with_storage_directory(scratch.path()));
    runner.start(|context| async move {
        let databases = Databases::<cw_tokio::Context>::init(context, state_config(), None).await;
        let mut report = Report {
            ok: false,
            blocks: 0,
            certificates: 0,
            transactions: 0,
            state_root: None,
            failure: None,
        };
        let mut parent: Digest = genesis_digest;
        let mut parent_time = genesis.genesis_time_ms;
        let mut last_certified = 0;
        for height in 1..=tip {
            let Some(bytes) = store.block(height)? else {
                report.failure = Some(fail(height, "the block is missing"));
                return Ok(report);
            };
            let block = match Block::decode(bytes) {
                Ok(block) => block,
                Err(e) => {
                    report.failure = Some(fail(
                        height,
                        format!("the stored block does not decode (corrupt): {e}"),
                    ));
                    return Ok(report);
                }
            };
            let header = &block.header;
            let digest = block.digest();
            if header.height.get() != height {
                report.failure = Some(fail(
                    height,
                    format!("the block says it is at height {}", header.height.get()),
                ));
                return Ok(report);
            }
            if header.parent != parent {
                report.failure = Some(fail(
                    height,
                    "the block does not name the previous block as its parent",
                ));
                return Ok(report);
            }
            if store.height_of(&to_hash(&digest))? != Some(height) {
                report.failure = Some(fail(
                    height,
                    "the block's digest is not the one it was stored under",
                ));
                return Ok(report);
            }
            if !block.tx_root_matches() {
                report.failure = Some(fail(
                    height,
                    "the transactions do not match the header's transaction root",
                ));
                return Ok(report);
            }
            if header.time_ms < parent_time {
                report.failure = Some(fail(height, "the block's time is before its parent's"));
                return Ok(report);
            }
            if let Some(cert) = store.certificate(height)? {
                let finalization =
                    match Finalization::<Scheme, Digest>::decode_cfg(cert, &participants) {
                        Ok(f) => f,
                        Err(e) => {
                            report.failure = Some(fail(
                                height,
                                format!("the finalisation certificate does not decode: {e}"),
                            ));
                            return Ok(report);
                        }
                    };
                if finalization.proposal.payload != digest {
                    report.failure = Some(fail(
                        height,
                        "the finalisation certificate is for another block",
                    ));
                    return Ok(report);
                }
                if !finalization.verify(&mut rand::rng(), &scheme, &Sequential) {
                    report.failure = Some(fail(
                        height,
                        "the finalisation certificate's signatures do not verify",
                    ));
                    return Ok(report);
                }
                report.certificates += 1;
                last_certified = height;
            }
            let env = BlockEnv {
                height,
                time_ms: header.time_ms,
            };
            let batches = databases.new_batches().await;
            let (merkleized, executed) =
                execute(batches, &ledger_genesis, env, &block.txs, |_| false)
                    .await
                    .map_err(|e| anyhow!("re-executing block {height}: {e}"))?;
            if merkleized.root() != header.state_root {
                report.failure = Some(fail(
                    height,
                    "re-executing the block gives a different state root",
                ));
                return Ok(report);
            }
            databases.apply(merkleized).await;
            report.blocks += 1;
            report.transactions += executed.receipts.len() as u64;
            report.state_root = Some(to_hash(&header.state_root).to_hex());
            parent = digest;
            parent_time = header.time_ms;
            bar.inc(1);
        }
        bar.finish_and_clear();
        if tip > 0 && last_certified < tip {
            report.failure = Some(fail(
                tip,
                "the newest block has no finalisation certificate covering it",
            ));
            return Ok(report);
        }
        report.ok = true;
        Ok(report)
    })
}

/// Prints a report; fails (exit code 1) when verification failed.
pub fn print(report: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else if report.ok {
        println!(
            "chain verified: {} blocks, {} finalisation certificates, {} transactions re-executed",
            report.blocks, report.certificates, report.transactions
        );
        if let Some(root) = &report.state_root {
            println!("state root {root}");
        }
    }
    if let Some(failure) = &report.failure {
        bail!(
            "verification FAILED at height {}: {}",
            failure.height,
            failure.reason
        );
    }
    Ok(())
}
