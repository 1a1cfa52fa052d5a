//! B2B client commands: supplier authorisations, lot records, pallets, the receiving gate,
//! assembly, recalls and traces.

use crate::{
    cli::{Global, attribute, parse_time, pretty, print, send},
    items::CodeLink,
};
use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use jitrace_client::dto;
use jitrace_types::{
    Gtin, Hash, OrgId, Payload, Sscc,
    parts::{
        Allowed, Assemble, AuthoriseSupplier, GateItem, GateReceive, LotRecord, PackPallet,
        PartSpec, RecallScope, SpecRule, StartRecall, TestResult, decimal_milli,
    },
    tx::{Attribute, CodeId, SignedCode},
};

#[derive(Subcommand)]
pub enum SupplierCommand {
    /// Authorise a supplier for a part type, with the part's expected specification.
    Authorise {
        #[arg(long)]
        manufacturer: String,
        #[arg(long)]
        supplier: String,
        /// The part's GTIN (registered by the supplier).
        #[arg(long)]
        part: Gtin,
        /// A rule NAME=VALUE, NAME=A|B|C (one of) or NAME=MIN..MAX (decimal range); repeatable.
        #[arg(long = "spec")]
        spec: Vec<String>,
        /// SHA-256 (hex) of the drawing or specification document.
        #[arg(long)]
        document: Option<Hash>,
        /// Start: unix seconds or YYYY-MM-DD (default: now).
        #[arg(long)]
        valid_from: Option<String>,
        /// Valid for this many days.
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
    /// Withdraw a supplier's authorisation for a part type.
    Revoke {
        #[arg(long)]
        manufacturer: String,
        #[arg(long)]
        supplier: String,
        #[arg(long)]
        part: Gtin,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum LotCommand {
    /// Record a lot's technical record (by its issuer).
    Record {
        #[arg(long)]
        gtin: Gtin,
        #[arg(long)]
        lot: String,
        /// A measured attribute NAME=VALUE (repeatable).
        #[arg(long = "attr")]
        attributes: Vec<String>,
        /// Production date: unix seconds or YYYY-MM-DD.
        #[arg(long)]
        produced: Option<String>,
        /// A test NAME=VALUE:pass or NAME=VALUE:fail (repeatable).
        #[arg(long = "test")]
        tests: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum GateCommand {
    /// Scan parts at a manufacturer's gate: codes' URLs, pallets' SSCCs, or "" for a part with
    /// no code. Prints every part's verdict; accepted parts enter stock.
    Receive {
        #[arg(long)]
        org: String,
        /// An attribute the dock measured, NAME=VALUE (applies to every part scanned).
        #[arg(long = "observe")]
        observed: Vec<String>,
        /// Only check: record nothing.
        #[arg(long)]
        check: bool,
        #[arg(required = true)]
        scanned: Vec<String>,
    },
    /// An organisation's gate log.
    Log {
        #[arg(long)]
        org: String,
        #[arg(long, default_value_t = 0)]
        start: u64,
    },
}

#[derive(Subcommand)]
pub enum RecallCommand {
    /// Recall a lot (--gtin and --lot), a product (--gtin) or an issuer's codes (--issuer).
    Start {
        #[arg(long)]
        org: String,
        #[arg(long)]
        gtin: Option<Gtin>,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// A recall's progress and the items it reaches.
    Show {
        #[arg(long)]
        org: String,
        number: u32,
    },
    /// Close a recall.
    Close {
        #[arg(long)]
        org: String,
        number: u32,
    },
}

#[derive(Subcommand)]
pub enum TraceCommand {
    /// An item and every part in it, with lots, records and suppliers.
    Back { gtin: Gtin, serial: u64 },
    /// Every item containing a lot (--gtin --lot), a part type (--gtin) or an issuer's codes.
    Forward {
        #[arg(long)]
        gtin: Option<Gtin>,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
    },
}

/// `NAME=VALUE`, `NAME=A|B` or `NAME=MIN..MAX`.
pub fn spec_rule(text: &str) -> Result<SpecRule> {
    let Attribute { name, value } = attribute(text)?;
    let allowed = if let Some((min, max)) = value.split_once("..") {
        let number = |t: &str| {
            decimal_milli(t).ok_or_else(|| anyhow!("{t:?} is not a decimal with at most 3 places"))
        };
        Allowed::Range {
            min_milli: number(min)?,
            max_milli: number(max)?,
        }
    } else if value.contains('|') {
        Allowed::OneOf(value.split('|').map(|v| v.trim().to_string()).collect())
    } else {
        Allowed::Exactly(value)
    };
    Ok(SpecRule { name, allowed })
}

/// `GTIN:SERIAL`, or a code's URL.
fn code_id(text: &str) -> Result<CodeId> {
    if let Ok(link) = CodeLink::parse(text) {
        return Ok(link.id);
    }
    let (gtin, serial) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("{text:?} is neither GTIN:SERIAL nor a code's URL"))?;
    Ok(CodeId {
        gtin: Gtin::parse(gtin)?,
        serial: serial.parse().context("the serial must be a number")?,
    })
}

/// A printed code's URL, with its signature.
fn signed_code(url: &str) -> Result<SignedCode> {
    CodeLink::parse(url)?.signed()
}

pub async fn supplier(global: &Global, command: SupplierCommand) -> Result<()> {
    match command {
        SupplierCommand::Authorise {
            manufacturer,
            supplier,
            part,
            spec,
            document,
            valid_from,
            days,
        } => {
            let from = match valid_from {
                Some(t) => parse_time(&t)?,
                None => jitrace_chain::app::wall_clock_ms() / 1000,
            };
            let rules = spec.iter().map(|s| spec_rule(s)).collect::<Result<_>>()?;
            send(
                global,
                Payload::AuthoriseSupplier(AuthoriseSupplier {
                    manufacturer: OrgId::new(manufacturer)?,
                    supplier: OrgId::new(supplier)?,
                    part,
                    spec: PartSpec { rules, document },
                    valid_from: from,
                    valid_until: from + days * 86_400,
                }),
            )
            .await
        }
        SupplierCommand::Revoke {
            manufacturer,
            supplier,
            part,
            reason,
        } => {
            send(
                global,
                Payload::RevokeSupplier {
                    manufacturer: OrgId::new(manufacturer)?,
                    supplier: OrgId::new(supplier)?,
                    part,
                    reason,
                },
            )
            .await
        }
    }
}

pub async fn lot(global: &Global, command: LotCommand) -> Result<()> {
    let LotCommand::Record {
        gtin,
        lot,
        attributes,
        produced,
        tests,
    } = command;
    let tests = tests
        .iter()
        .map(|t| {
            let Attribute { name, value } = attribute(t)?;
            let (value, verdict) = value
                .rsplit_once(':')
                .ok_or_else(|| anyhow!("{t:?} is not NAME=VALUE:pass|fail"))?;
            let passed = match verdict {
                "pass" => true,
                "fail" => false,
                other => bail!("{other:?} is neither pass nor fail"),
            };
            Ok(TestResult {
                name,
                value: value.to_string(),
                passed,
            })
        })
        .collect::<Result<_>>()?;
    send(
        global,
        Payload::RecordLot(LotRecord {
            gtin,
            lot,
            attributes: attributes
                .iter()
                .map(|a| attribute(a))
                .collect::<Result<_>>()?,
            produced_at: produced.as_deref().map(parse_time).transpose()?,
            tests,
            documents: Vec::new(),
        }),
    )
    .await
}

pub async fn pallet(global: &Global, org: String, sscc: Sscc, codes: Vec<String>) -> Result<()> {
    send(
        global,
        Payload::PackPallet(PackPallet {
            org: OrgId::new(org)?,
            sscc,
            codes: codes
                .iter()
                .map(|c| signed_code(c))
                .collect::<Result<_>>()?,
        }),
    )
    .await
}

fn print_report(global: &Global, report: &dto::GateReport) -> Result<()> {
    print(global, report, |r| {
        for v in &r.verdicts {
            let what = match (&v.code, &v.pallet) {
                (Some(c), _) => format!("{} serial {}", c.gtin, c.serial),
                (None, Some(p)) => format!("pallet {p}"),
                (None, None) => "(no code)".to_string(),
            };
            if v.accepted {
                println!("ACCEPTED  {what}");
            } else {
                let mismatches: Vec<String> = v
                    .mismatches
                    .iter()
                    .map(|m| format!("{}={}", m.name, m.found.as_deref().unwrap_or("missing")))
                    .collect();
                println!(
                    "REJECTED  {what}: {}{}",
                    v.reasons.join(", "),
                    if mismatches.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", mismatches.join(", "))
                    }
                );
            }
        }
        println!(
            "{} accepted, {} rejected{}",
            r.accepted,
            r.rejected,
            r.tx.as_ref()
                .map(|t| format!(" (tx {t})"))
                .unwrap_or_default()
        );
    })
}

pub async fn gate(global: &Global, command: GateCommand) -> Result<()> {
    match command {
        GateCommand::Receive {
            org,
            observed,
            check,
            scanned,
        } => {
            let observed: Vec<Attribute> = observed
                .iter()
                .map(|a| attribute(a))
                .collect::<Result<_>>()?;
            let key = global.signer()?;
            let client = global.client();
            if check {
                let request = dto::GateCheckRequest {
                    org,
                    items: scanned
                        .into_iter()
                        .map(|s| dto::GateItemRequest {
                            scanned: s,
                            observed: observed
                                .iter()
                                .map(|a| dto::AttributeView {
                                    name: a.name.clone(),
                                    value: a.value.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                };
                let report: dto::GateReport = client
                    .signed_post(&key, &["v1", "gate", "check"], &request)
                    .await?;
                return print_report(global, &report);
            }
            let payload = Payload::GateReceive(GateReceive {
                org: OrgId::new(org)?,
                items: scanned
                    .into_iter()
                    .map(|s| GateItem {
                        scanned: s,
                        observed: observed.clone(),
                    })
                    .collect(),
            });
            let report = client.gate_receive(&key, payload).await?;
            if !global.no_wait
                && let Some(tx) = &report.tx
            {
                let status = client
                    .wait_for_tx(&Hash::from_hex(tx)?, std::time::Duration::from_secs(60))
                    .await?;
                if status.status != "ok" {
                    bail!(
                        "the gate transaction was rejected: {} — {}",
                        status.reason.unwrap_or_default(),
                        status.detail.unwrap_or_default()
                    );
                }
            }
            print_report(global, &report)
        }
        GateCommand::Log { org, start } => {
            let key = global.signer()?;
            let log: dto::GateLogView = global
                .client()
                .signed_get(
                    &key,
                    &["v1", "gate", "log", &org],
                    &[("start", &start.to_string())],
                )
                .await?;
            print(global, &log, pretty)
        }
    }
}

/// `jitrace flows`: an organisation's flows of goods, and a page of its codes with `role`.
pub async fn flows(
    global: &Global,
    org: String,
    role: Option<String>,
    status: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
) -> Result<()> {
    let key = global.signer()?;
    let view = global
        .client()
        .flows(
            &key,
            &org,
            role.as_deref(),
            status.as_deref(),
            after.as_deref(),
            limit,
        )
        .await?;
    print(global, &view, |v| {
        for c in &v.counts {
            println!("{:<7} {:<15} {}", c.role, c.status, c.codes);
        }
        for c in &v.codes {
            println!(
                "{} {} {} lot {} issuer {} holder {}",
                c.gtin,
                c.serial,
                c.status,
                c.lot,
                c.issuer,
                c.holder.as_deref().unwrap_or("-")
            );
        }
        if let Some(next) = &v.next {
            println!("more: --after {next}");
        }
    })
}

pub async fn assemble(
    global: &Global,
    org: String,
    parent: String,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<()> {
    send(
        global,
        Payload::Assemble(Assemble {
            org: OrgId::new(org)?,
            parent: signed_code(&parent)?,
            remove: remove.iter().map(|c| code_id(c)).collect::<Result<_>>()?,
            add: add.iter().map(|c| code_id(c)).collect::<Result<_>>()?,
        }),
    )
    .await
}

fn scope(gtin: Option<Gtin>, lot: Option<String>, issuer: Option<String>) -> Result<RecallScope> {
    Ok(match (gtin, lot, issuer) {
        (Some(gtin), Some(lot), None) => RecallScope::Lot { gtin, lot },
        (Some(gtin), None, None) => RecallScope::Product(gtin),
        (None, None, Some(issuer)) => RecallScope::Issuer(OrgId::new(issuer)?),
        _ => bail!("give --gtin and --lot, --gtin alone, or --issuer alone"),
    })
}

pub async fn recall(global: &Global, command: RecallCommand) -> Result<()> {
    match command {
        RecallCommand::Start {
            org,
            gtin,
            lot,
            issuer,
            reason,
        } => {
            send(
                global,
                Payload::StartRecall(StartRecall {
                    org: OrgId::new(org)?,
                    scope: scope(gtin, lot, issuer)?,
                    reason,
                }),
            )
            .await
        }
        RecallCommand::Show { org, number } => {
            let key = global.signer()?;
            let view: dto::RecallView = global
                .client()
                .signed_get(&key, &["v1", "recalls", &org, &number.to_string()], &[])
                .await?;
            print(global, &view, pretty)
        }
        RecallCommand::Close { org, number } => {
            send(
                global,
                Payload::CloseRecall {
                    org: OrgId::new(org)?,
                    recall: number,
                },
            )
            .await
        }
    }
}

pub async fn trace(global: &Global, command: TraceCommand) -> Result<()> {
    let key = global.signer()?;
    let client = global.client();
    match command {
        TraceCommand::Back { gtin, serial } => {
            let view: dto::TraceBackView = client
                .signed_get(
                    &key,
                    &["v1", "trace", "back", gtin.as_str(), &serial.to_string()],
                    &[],
                )
                .await?;
            print(global, &view, |v| print_tree(&v.item, 0))
        }
        TraceCommand::Forward { gtin, lot, issuer } => {
            scope(gtin, lot.clone(), issuer.clone())?;
            let gtin = gtin.map(|g| g.to_string());
            let mut query: Vec<(&str, &str)> = Vec::new();
            if let Some(g) = &gtin {
                query.push(("gtin", g));
            }
            if let Some(l) = &lot {
                query.push(("lot", l));
            }
            if let Some(i) = &issuer {
                query.push(("issuer", i));
            }
            let view: dto::TraceForwardView = client
                .signed_get(&key, &["v1", "trace", "forward"], &query)
                .await?;
            print(global, &view, |v| {
                for i in &v.items {
                    println!(
                        "{} serial {:<10} {:<12} {}",
                        i.gtin,
                        i.serial,
                        i.status,
                        i.custodian
                            .clone()
                            .or_else(|| i.sale_region.clone())
                            .unwrap_or_default()
                    );
                }
                println!("{} items affected", v.total);
            })
        }
    }
}

fn print_tree(node: &dto::TraceNodeView, depth: usize) {
    println!(
        "{:indent$}{} serial {} lot {} from {} [{}]{}",
        "",
        node.gtin,
        node.serial,
        node.lot,
        node.issuer,
        node.status,
        if node.recalled { " RECALLED" } else { "" },
        indent = depth * 2
    );
    for part in &node.parts {
        print_tree(part, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_rules_parse() {
        assert_eq!(
            spec_rule("diameter_mm=49.95..50.05").unwrap().allowed,
            Allowed::Range {
                min_milli: 49_950,
                max_milli: 50_050
            }
        );
        assert_eq!(
            spec_rule("material=42CrMo4|34CrNiMo6").unwrap().allowed,
            Allowed::OneOf(vec!["42CrMo4".into(), "34CrNiMo6".into()])
        );
        assert_eq!(
            spec_rule("coating = zinc").unwrap().allowed,
            Allowed::Exactly("zinc".into())
        );
        assert!(spec_rule("nothing").is_err());
        assert!(spec_rule("d=1.2345..2").is_err());
    }
}
