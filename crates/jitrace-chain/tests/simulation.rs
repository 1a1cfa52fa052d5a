//! Deterministic simulation tests of the real node stack: four validators, each running
//! `start_engine` (simplex, marshal, the stateful glue over QMDB, our application, mempool and
//! transaction gossip), on the engine's deterministic runtime and simulated network. Clients
//! submit real signed transactions to a node's mempool; gossip carries them to the others.
//!
//! Every test runs its scenario twice with one fixed seed and requires identical results: the
//! finalised chain (block digest and state root per height), every receipt, the harness trace
//! (actions and each node's finalised height, with simulated times) and the runtime auditor's
//! digest of every scheduling, network and storage event. After each scenario the harness checks
//! (see `sim::Sim::verify`): every node's blocks link up and are the same at every height, every
//! finalisation certificate is valid and certifies that height's block, every submitted
//! transaction is finalised on every node with the same receipt in every node's state, and
//! (honest tests) no node ever blocked a peer for misbehaviour such as an equivocation.
//!
//! How faults are made, and what this release of the engine (2026.10.0) does not offer:
//! - Message loss and delay: simulated links with latency, jitter and a success rate.
//! - Partitions: links between groups removed, then restored.
//! - A crash of one validator aborts the supervisor task all of its actors descend from, at an
//!   arbitrary point (mid-protocol: nothing is flushed or closed). The deterministic storage then
//!   gives a reopened blob only what was synced. In practice the engine syncs right after it
//!   writes, so an abort alone loses nothing that was written: it never tears a write.
//! - Torn writes: the deterministic runtime applies its `FaultConfig::write` retention (keep a
//!   random prefix of each unsynced write) only when the whole runtime crashes and is recovered
//!   from its checkpoint; there is no per-node crash that tears writes, and the fault config is
//!   global. So torn writes are tested as a whole-cluster power loss: the disks first fail half
//!   of all syncs for 100 ms (validators that hit one panic, as a node with a failing disk
//!   would, leaving writes that never became durable), then every validator stops at once and
//!   each unsynced write keeps a random prefix; all restart from what survived.
//! - Byzantine validator: "twins", a second instance of our real node with the same key, both on
//!   the key's one network identity (the simulated network's split senders and receivers), one
//!   talking to validators 1 and 2, the other to 2 and 3. Each twin proposes its own block when
//!   the key leads, so validator 2 sees two proposals for one view. (The engine's simplex mocks,
//!   `Conflicter` and `Equivocator`, are public behind commonware-consensus's `mocks` feature,
//!   but they replace our stack with a vote-only actor; twins exercise the real one.)
//! - The block store (redb) does real file IO outside the deterministic runtime, in a temporary
//!   directory per run; it is not consensus state and survives crashes as a file would.
//!
//! Why not the glue's `simulate::Plan` harness: it owns the runner (so no crash of the whole
//! runtime from a checkpoint, the only way to tear writes), keys its team by public key (so no
//! twins), applies actions at fixed times (no "crash it once it starts catching up", no checks
//! during a partition) and tracks progress through a reporter in marshal's reporter chain, which
//! `start_engine` does not expose. The harness in `sim/` uses the same primitives (simulated
//! network and oracle, supervision-tree crashes, storage fault injection) with sequential
//! scenarios and observes nodes only through what they expose: block store, marshal, state.

mod sim;

use commonware_runtime::{
    Runner as _,
    deterministic::{self, FaultConfig, PartialWriteMode, WriteConfig},
};
use commonware_utils::probability;
use sim::{Report, Sim, link, run_twice, runtime_config};
use std::{future::Future, time::Duration};

const ALL: [usize; 4] = [0, 1, 2, 3];
/// How much simulated time a run may take before the runtime fails it.
const LIMIT: Duration = Duration::from_secs(600);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Runs `scenario` on a fresh four-validator cluster (no node started) linked with `link`.
fn simulate<F, Fut>(seed: u64, link: commonware_p2p::simulated::Link, scenario: F) -> Report
where
    F: FnOnce(Sim) -> Fut,
    Fut: Future<Output = Report>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().to_path_buf();
    deterministic::Runner::new(runtime_config(seed, LIMIT)).start(|ctx| async move {
        let sim = Sim::new(ctx, path, 4, link).await;
        scenario(sim).await
    })
}

/// Checks that no validator blocked another: honest nodes see no misbehaviour (a restarted
/// node that equivocated would be blocked by the peers it sent conflicting votes to).
async fn assert_nobody_blocked(sim: &Sim) {
    let blocked = sim.blocked().await;
    assert!(blocked.is_empty(), "validators blocked peers: {blocked:?}");
}

/// Four validators on realistic links finalise the same blocks, state roots and receipts.
#[test]
fn four_validators_agree_on_blocks_state_and_receipts() {
    let report = run_twice("healthy", || {
        simulate(1, link(30, 10, probability!(1.0)), |mut sim| async move {
            sim.start_all().await;
            // The operator onboards 20 organisations through validator 0 ...
            sim.submit(0, 0, 20);
            sim.wait_for_submitted(&ALL, secs(30)).await;
            // ... whose admins then add members through validators 2 and 3.
            sim.submit(2, 1, 10);
            sim.submit(3, 2, 10);
            sim.wait_for_submitted(&ALL, secs(30)).await;
            let height = sim.max_height(&ALL) + 3;
            sim.wait_for_height(&ALL, height, secs(30)).await;
            let summary = sim.verify(&ALL).await;
            assert_nobody_blocked(&sim).await;
            sim.report(summary)
        })
    });
    assert_eq!(report.summary.receipts.len(), 40);
    assert_eq!(
        report.summary.ok_receipts(),
        40,
        "{:#?}",
        report.summary.receipts
    );
}

/// With a fifth of all messages lost and slow, jittery links, the cluster still finalises
/// every transaction and agrees.
#[test]
fn lossy_slow_network_still_finalises_and_agrees() {
    let report = run_twice("lossy", || {
        simulate(2, link(150, 50, probability!(0.8)), |mut sim| async move {
            sim.start_all().await;
            sim.submit(1, 0, 20);
            sim.wait_for_submitted(&ALL, secs(120)).await;
            sim.submit(0, 3, 10);
            sim.submit(2, 4, 10);
            sim.wait_for_submitted(&ALL, secs(120)).await;
            let height = sim.max_height(&ALL) + 3;
            sim.wait_for_height(&ALL, height, secs(120)).await;
            let summary = sim.verify(&ALL).await;
            assert_nobody_blocked(&sim).await;
            sim.report(summary)
        })
    });
    assert_eq!(report.summary.receipts.len(), 40);
}

/// Split 2|2, no side has a quorum: finalisation stops everywhere (and nobody forks); after
/// healing it resumes, transactions submitted to both sides meanwhile are finalised, and all
/// agree.
#[test]
fn two_two_partition_halts_then_heals() {
    let report = run_twice("partition 2|2", || {
        simulate(3, link(30, 10, probability!(1.0)), |mut sim| async move {
            sim.start_all().await;
            sim.submit(0, 0, 10);
            sim.wait_for_submitted(&ALL, secs(30)).await;
            sim.wait_for_height(&ALL, 3, secs(30)).await;
            sim.partition(&[&[0, 1], &[2, 3]]).await;
            // Let messages already in flight land, then nothing may be finalised.
            sim.run_for(secs(2)).await;
            let halted = sim.heights();
            sim.submit(0, 1, 5);
            sim.submit(3, 2, 5);
            sim.run_for(secs(20)).await;
            assert_eq!(sim.heights(), halted, "finalised without a quorum");
            sim.heal().await;
            sim.wait_for_submitted(&ALL, secs(120)).await;
            let height = sim.max_height(&ALL) + 3;
            sim.wait_for_height(&ALL, height, secs(60)).await;
            let summary = sim.verify(&ALL).await;
            assert_nobody_blocked(&sim).await;
            sim.report(summary)
        })
    });
    assert_eq!(report.summary.receipts.len(), 20);
}

/// Split 3|1: the three keep finalising; the isolated validator finalises nothing, then
/// catches up after healing (marshal backfill) and agrees.
#[test]
fn isolated_validator_catches_up_after_healing() {
    let report = run_twice("partition 3|1", || {
        simulate(4, link(30, 10, probability!(1.0)), |mut sim| async move {
            sim.start_all().await;
            sim.submit(0, 0, 10);
            sim.wait_for_submitted(&ALL, secs(30)).await;
            sim.partition(&[&[0, 1, 2], &[3]]).await;
            sim.run_for(secs(2)).await;
            let isolated_at = sim.nodes[3].height();
            sim.submit(1, 1, 10);
            sim.wait_for_submitted(&[0, 1, 2], secs(60)).await;
            let height = sim.max_height(&[0, 1, 2]) + 10;
            sim.wait_for_height(&[0, 1, 2], height, secs(60)).await;
            assert_eq!(
                sim.nodes[3].height(),
                isolated_at,
                "the isolated node finalised"
            );
            sim.heal().await;
            let height = sim.max_height(&ALL);
            sim.wait_for_height(&[3], height, secs(60)).await;
            sim.wait_for_submitted(&ALL, secs(60)).await;
            let summary = sim.verify(&ALL).await;
            assert_nobody_blocked(&sim).await;
            sim.report(summary)
        })
    });
    assert_eq!(report.summary.receipts.len(), 20);
}

/// One validator (f = 1) is stopped abruptly mid-run (whatever it had not synced is lost); the
/// other three keep finalising. It restarts from its storage, is stopped again while catching up and
/// restarted again, then catches up through marshal backfill to the same blocks and state, and
/// never equivocates (nobody blocks it).
#[test]
fn crashed_validator_recovers_and_catches_up() {
    let report = run_twice("crash and restart", || {
        simulate(5, link(30, 10, probability!(1.0)), |mut sim| async move {
            sim.start_all().await;
            sim.submit(0, 0, 10);
            sim.wait_for_submitted(&ALL, secs(30)).await;
            sim.wait_for_height(&ALL, 4, secs(30)).await;
            sim.crash(3);
            let crashed_at = sim.nodes[3].height();
            sim.submit(1, 1, 10);
            sim.wait_for_submitted(&[0, 1, 2], secs(60)).await;
            let height = sim.max_height(&[0, 1, 2]) + 30;
            sim.wait_for_height(&[0, 1, 2], height, secs(60)).await;
            assert_eq!(
                sim.nodes[3].height(),
                crashed_at,
                "a stopped node finalised"
            );
            // Restart, and stop it again while it is catching up.
            sim.start(3).await;
            let target = sim.max_height(&[0, 1, 2]);
            sim.wait_until("v3 catching up", secs(30), |sim| {
                sim.nodes[3].height() > crashed_at
            })
            .await;
            assert!(
                sim.nodes[3].height() < target,
                "caught up before it could be stopped"
            );
            sim.crash(3);
            sim.run_for(secs(3)).await;
            sim.start(3).await;
            let height = sim.max_height(&ALL);
            sim.wait_for_height(&[3], height, secs(60)).await;
            sim.wait_for_submitted(&ALL, secs(60)).await;
            // With it back, all four go on together.
            sim.submit(3, 2, 5);
            sim.wait_for_submitted(&ALL, secs(60)).await;
            let height = sim.max_height(&ALL) + 3;
            sim.wait_for_height(&ALL, height, secs(60)).await;
            let summary = sim.verify(&ALL).await;
            assert_nobody_blocked(&sim).await;
            sim.report(summary)
        })
    });
    assert_eq!(report.summary.receipts.len(), 25);
}

/// Power loss of the whole cluster with torn writes: the disks start failing (half of all
/// syncs fail, so the validators that hit one stop with writes that never became durable), then
/// every validator loses power at once and each unsynced write keeps only a random prefix. All
/// restart on healthy disks from what survived, agree with what they had finalised before, and
/// go on finalising; no task panics after the restart.
#[test]
fn cluster_recovers_from_power_loss_with_torn_writes() {
    let net = || link(30, 10, probability!(1.0));
    let run = || {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().to_path_buf();
        // Panics of validators whose sync failed must not end the run.
        let config = runtime_config(6, LIMIT).with_catch_panics(true);
        let ((carry, checkpoint), stopped) = sim::count_panics(|| {
            deterministic::Runner::new(config).start_and_recover({
                let path = path.clone();
                |ctx| async move {
                    let mut sim = Sim::new(ctx, path, 4, net()).await;
                    sim.start_all().await;
                    sim.submit(0, 0, 10);
                    sim.wait_for_submitted(&ALL, secs(30)).await;
                    sim.wait_for_height(&ALL, 5, secs(30)).await;
                    sim.submit(1, 1, 10);
                    sim.set_storage_faults(FaultConfig::default().sync(probability!(0.5)).write(
                        WriteConfig {
                            failure_rate: probability!(0.0),
                            retention_rate: probability!(0.99),
                            mode: PartialWriteMode::Prefix,
                        },
                    ));
                    sim.run_for(millis(100)).await;
                    sim.log("power loss");
                    sim.into_carry()
                }
            })
        });
        assert!(stopped > 0, "no validator hit a failed sync");
        let (report, panics) = sim::count_panics(|| {
            deterministic::Runner::from(checkpoint).start(|ctx| async move {
                let before = carry.max_height();
                let mut sim = Sim::resume(ctx, path, 4, net(), carry).await;
                sim.set_storage_faults(FaultConfig::default());
                sim.log("power back");
                sim.start_all().await;
                // Mempools died with the processes: the client submits again what is not final.
                sim.resubmit_unfinalised(1);
                sim.wait_for_height(&ALL, before + 3, secs(60)).await;
                sim.submit(2, 2, 5);
                sim.wait_for_submitted(&ALL, secs(60)).await;
                let height = sim.max_height(&ALL) + 2;
                sim.wait_for_height(&ALL, height, secs(60)).await;
                let summary = sim.verify(&ALL).await;
                assert_nobody_blocked(&sim).await;
                sim.report(summary)
            })
        });
        assert_eq!(panics, 0, "tasks panicked after the restart");
        report
    };
    let report = run_twice("power loss", run);
    assert_eq!(report.summary.receipts.len(), 25);
}

/// Byzantine validator 0 runs twice (twins): one instance talks to validators 1 and 2, the
/// other to 2 and 3, and each proposes its own block whenever key 0 leads. The honest three
/// still finalise one chain with identical blocks, state and receipts, and validator 2 catches
/// key 0 equivocating and blocks it.
#[test]
fn twins_equivocate_and_honest_validators_agree() {
    let honest = [1, 2, 3];
    let report = run_twice("twins", || {
        simulate(7, link(30, 10, probability!(1.0)), |mut sim| async move {
            let twin = sim.start_twins(0, &[1, 2], &[2, 3]).await;
            for index in honest {
                sim.start(index).await;
            }
            sim.submit(1, 0, 10);
            sim.wait_for_submitted(&honest, secs(60)).await;
            // Keep each twin's mempool busy with different transactions, so that the two
            // instances build different blocks when key 0 leads.
            for _ in 0..10 {
                sim.submit(0, 1, 2);
                sim.submit(twin, 2, 2);
                sim.run_for(millis(500)).await;
            }
            sim.wait_for_submitted(&honest, secs(60)).await;
            let height = sim.max_height(&honest) + 3;
            sim.wait_for_height(&honest, height, secs(60)).await;
            let summary = sim.verify(&honest).await;
            // Even the twins finalised nothing but the honest chain.
            for instance in [0, twin] {
                let common = sim.assert_agrees(instance, 1);
                let line = format!("{} agrees up to h{common}", sim.nodes[instance].name);
                sim.log(line);
            }
            let blocked = sim.blocked().await;
            sim.log(format!("blocked {blocked:?}"));
            assert!(
                blocked.iter().any(|&(by, whom)| by != 0 && whom == 0),
                "no honest validator caught the twins: {blocked:?}"
            );
            assert!(
                blocked.iter().all(|&(by, whom)| by == 0 || whom == 0),
                "an honest validator blocked another: {blocked:?}"
            );
            sim.report(summary)
        })
    });
    assert_eq!(report.summary.receipts.len(), 50);
}
