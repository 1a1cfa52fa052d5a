//! Block execution over the real authenticated store (QMDB) on the engine's deterministic
//! runtime: the state root of a fixed script of transactions is pinned, and replaying it gives
//! the same root.

use commonware_glue::stateful::db::{DatabaseSet, Merkleized as _};
use commonware_runtime::{Runner as _, deterministic};
use jitrace_chain::{Databases, app::state_config, block::to_hash, execute};
use jitrace_ledger::{BlockEnv, Genesis, state::Outcome};
use jitrace_types::{
    Gtin, LicenceId, OrgId, Payload, Role, SecretKey, Transaction,
    tx::{IssueCodeBatch, IssueLicence, ProductInfo, RegisterOrg},
};

const CHAIN: &str = "jitrace-test";

fn tx(key: &SecretKey, nonce: u64, payload: Payload) -> Vec<u8> {
    Transaction {
        chain_id: CHAIN.into(),
        signer: key.public_key(),
        nonce,
        payload,
    }
    .sign(key)
    .encode()
}

/// Three blocks: onboard a brand, license it, register a product and a code key, issue a
/// batch, plus one transaction that the ledger rejects.
fn script() -> (Genesis, Vec<Vec<Vec<u8>>>) {
    let operator = SecretKey::from_seed(1);
    let brand = SecretKey::from_seed(2);
    let code = SecretKey::from_seed(3);
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        operator: operator.public_key(),
        platform_org: OrgId::new("platform").unwrap(),
        platform_name: "Platform".into(),
        validators: vec![SecretKey::from_seed(100).public_key()],
        scan_rules: jitrace_ledger::state::ScanRules::DEFAULT,
    };
    let acme = OrgId::new("acme").unwrap();
    let gtin = Gtin::parse("09506000134352").unwrap();
    let blocks = vec![
        vec![
            tx(
                &operator,
                1,
                Payload::RegisterOrg(RegisterOrg {
                    id: acme.clone(),
                    name: "Acme".into(),
                    roles: vec![Role::Brand],
                    gs1_company_prefix: Some("9506000".into()),
                    region: Some("CN-SH".into()),
                    admin: brand.public_key(),
                }),
            ),
            tx(
                &operator,
                2,
                Payload::IssueLicence(IssueLicence {
                    id: LicenceId::new("acme-1").unwrap(),
                    org: acme.clone(),
                    quota: 10_000,
                    valid_from: 0,
                    valid_until: 4_000_000_000,
                }),
            ),
        ],
        vec![
            tx(
                &brand,
                1,
                Payload::RegisterProduct(ProductInfo {
                    gtin,
                    org: acme.clone(),
                    name: "Wine".into(),
                    description: String::new(),
                    attributes: vec![],
                    media: vec![],
                }),
            ),
            tx(
                &brand,
                2,
                Payload::RegisterCodeKey {
                    org: acme.clone(),
                    key: code.public_key(),
                },
            ),
        ],
        vec![
            tx(
                &brand,
                3,
                Payload::IssueCodeBatch(IssueCodeBatch {
                    org: acme.clone(),
                    licence: LicenceId::new("acme-1").unwrap(),
                    gtin,
                    lot: "L1".into(),
                    first_serial: 1,
                    count: 5_000,
                    code_key: code.public_key(),
                }),
            ),
            // Over quota: rejected with a receipt, nonce consumed.
            tx(
                &brand,
                4,
                Payload::IssueCodeBatch(IssueCodeBatch {
                    org: acme,
                    licence: LicenceId::new("acme-1").unwrap(),
                    gtin,
                    lot: "L2".into(),
                    first_serial: 5_001,
                    count: 6_000,
                    code_key: code.public_key(),
                }),
            ),
        ],
    ];
    (genesis, blocks)
}

fn run(seed: u64) -> (Vec<String>, Vec<String>) {
    let runner = deterministic::Runner::seeded(seed);
    runner.start(|context| async move {
        let (genesis, blocks) = script();
        let databases =
            Databases::<deterministic::Context>::init(context, state_config(), None).await;
        let mut roots = Vec::new();
        let mut outcomes = Vec::new();
        for (i, txs) in blocks.iter().enumerate() {
            let env = BlockEnv {
                height: i as u64 + 1,
                time_ms: 1_700_000_000_000 + i as u64 * 1000,
            };
            let batches = databases.new_batches().await;
            let (merkleized, executed) = execute(batches, &genesis, env, txs, |_| false)
                .await
                .unwrap();
            roots.push(to_hash(&merkleized.root()).to_hex());
            outcomes.extend(executed.receipts.iter().map(|r| match &r.outcome {
                Outcome::Ok => "ok".to_string(),
                Outcome::Rejected { reason, .. } => reason.code().to_string(),
            }));
            databases.apply(merkleized).await;
        }
        (roots, outcomes)
    })
}

#[test]
fn execution_over_qmdb_is_deterministic_and_pinned() {
    let (roots, outcomes) = run(1);
    assert_eq!(outcomes, ["ok", "ok", "ok", "ok", "ok", "quota_exceeded"]);
    // Another seed changes the runtime's scheduling, never the state.
    assert_eq!(run(2), (roots.clone(), outcomes));
    expect_root(&roots[2]);
}

/// The pinned state root after the script. A change here is a change of the state format or of
/// a rule: it breaks every existing chain, so update it only on purpose.
fn expect_root(root: &str) {
    const PINNED: &str = "745f118c1c58829fadc7b7b929e5c39632c4b4cdceaa13fdfd814e807fdf0097";
    assert_eq!(root, PINNED, "the state root of the pinned script changed");
}
