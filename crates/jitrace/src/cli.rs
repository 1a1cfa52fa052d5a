//! Client commands: each signs a transaction locally with a key file and submits it to a node,
//! or reads from the node's API.

use crate::genesis::{read_key, write_key};
use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use jitrace_client::{Client, dto};
use jitrace_types::{
    Gtin, Hash, LicenceId, OrgId, Payload, PublicKey, Role, SecretKey,
    tx::{Attribute, IssueCodeBatch, IssueLicence, MediaRef, ProductInfo, RegisterOrg},
};
use serde::Serialize;
use std::{path::PathBuf, time::Duration};

/// Options every client command takes.
#[derive(Args)]
pub struct Global {
    /// The node's API.
    #[arg(
        long,
        global = true,
        env = "JITRACE_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    pub node: String,
    /// The key file that signs transactions.
    #[arg(long, global = true, env = "JITRACE_KEY")]
    pub key: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Return once the node accepted the transaction, without waiting for its block.
    #[arg(long, global = true)]
    pub no_wait: bool,
}

impl Global {
    pub(crate) fn client(&self) -> Client {
        Client::new(&self.node)
    }

    pub(crate) fn signer(&self) -> Result<SecretKey> {
        let path = self.key.as_ref().ok_or_else(|| {
            anyhow!("this command signs a transaction: pass --key FILE or set JITRACE_KEY")
        })?;
        read_key(path)
    }
}

pub(crate) fn print<T: Serialize>(
    global: &Global,
    value: &T,
    human: impl FnOnce(&T),
) -> Result<()> {
    if global.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        human(value);
    }
    Ok(())
}

pub(crate) fn pretty<T: Serialize>(value: &T) {
    // For records, indented JSON is the clearest human form too.
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// What became of a submitted transaction: admitted (with `--no-wait`) or executed.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Receipt {
    Submitted(dto::Submitted),
    Executed(dto::TxStatus),
}

impl Receipt {
    /// One line for a person; nothing for a rejection (the error says it).
    pub(crate) fn print_human(&self, kind: &str) {
        match self {
            Receipt::Submitted(s) => println!("submitted {kind}: {}", s.hash),
            Receipt::Executed(s) if s.status == "ok" => println!(
                "{kind} finalised at height {}: ok (tx {})",
                s.height.unwrap_or(0),
                s.hash
            ),
            Receipt::Executed(_) => {}
        }
    }

    /// Whether the ledger rejected the transaction.
    pub(crate) fn rejected(&self) -> bool {
        matches!(self, Receipt::Executed(s) if s.status != "ok")
    }

    /// An error carrying the ledger's reason when it rejected the transaction.
    pub(crate) fn check(&self, kind: &str) -> Result<()> {
        if let Receipt::Executed(status) = self
            && status.status != "ok"
        {
            bail!(
                "{kind} was rejected at height {}: {} — {}",
                status.height.unwrap_or(0),
                status.reason.as_deref().unwrap_or_default(),
                status.detail.as_deref().unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// Signs, submits and (unless --no-wait) waits for the receipt. A rejection is an error.
pub(crate) async fn send(global: &Global, payload: Payload) -> Result<()> {
    let kind = payload.kind();
    let receipt = submit(global, payload).await?;
    print(global, &receipt, |r| r.print_human(kind))?;
    receipt.check(kind)
}

/// Signs with `--key`, submits and (unless --no-wait) waits for the block that executes it.
/// A rejection is a receipt, not an error: see [`Receipt::check`].
pub(crate) async fn submit(global: &Global, payload: Payload) -> Result<Receipt> {
    let key = global.signer()?;
    let client = global.client();
    let kind = payload.kind();
    let submitted = client.sign_and_submit(&key, payload).await?;
    if global.no_wait {
        return Ok(Receipt::Submitted(submitted));
    }
    let spinner = if global.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    spinner.set_style(ProgressStyle::with_template("{spinner} {msg}").map_err(|e| anyhow!("{e}"))?);
    spinner.set_message(format!(
        "{kind} {} submitted, waiting for finalisation",
        submitted.hash
    ));
    spinner.enable_steady_tick(Duration::from_millis(80));
    let hash = Hash::from_hex(&submitted.hash)?;
    let status = client.wait_for_tx(&hash, Duration::from_secs(60)).await;
    spinner.finish_and_clear();
    Ok(Receipt::Executed(status?))
}

// ---------------------------------------------------------------- keys

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a new Ed25519 key file.
    New {
        /// Where to write the secret key (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a key file's public key.
    Show { file: PathBuf },
}

#[derive(Serialize)]
struct KeyView {
    public_key: String,
    file: String,
}

pub fn keys(global: &Global, command: KeysCommand) -> Result<()> {
    let (key, file, created) = match command {
        KeysCommand::New { out } => {
            if out.exists() {
                bail!("{} exists; refusing to overwrite a key", out.display());
            }
            let key = SecretKey::generate();
            write_key(&out, &key)?;
            (key, out, true)
        }
        KeysCommand::Show { file } => (read_key(&file)?, file, false),
    };
    let view = KeyView {
        public_key: key.public_key().to_hex(),
        file: file.display().to_string(),
    };
    print(global, &view, |v| {
        if created {
            println!("wrote {}", v.file);
        }
        println!("public key {}", v.public_key);
    })
}

// ---------------------------------------------------------------- status, tx, block

pub async fn status(global: &Global) -> Result<()> {
    let status = global.client().status().await?;
    print(global, &status, |s: &dto::Status| {
        println!("chain      {}", s.chain_id);
        println!("node       {} at {}", s.role, global.node);
        println!("height     {} (finalised, view {})", s.height, s.view);
        println!("peers      {}", s.peers);
        println!("block      {}", s.block_hash);
        println!("state root {}", s.state_root);
        println!("validators {}", s.validators.len());
        println!(
            "txs        {} finalised, {} waiting",
            s.tx_count, s.mempool_size
        );
    })
}

#[derive(Subcommand)]
pub enum TxCommand {
    /// Show a transaction's receipt.
    Show { hash: String },
}

pub async fn tx(global: &Global, command: TxCommand) -> Result<()> {
    let TxCommand::Show { hash } = command;
    let status = global.client().tx(&Hash::from_hex(&hash)?).await?;
    print(global, &status, pretty)
}

#[derive(Subcommand)]
pub enum BlockCommand {
    /// Show the block at a height.
    Show { height: u64 },
}

pub async fn block(global: &Global, command: BlockCommand) -> Result<()> {
    let BlockCommand::Show { height } = command;
    let block = global.client().block(height).await?;
    print(global, &block, pretty)
}

// ---------------------------------------------------------------- org

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Register an organisation (platform operator only).
    Register {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// A role: brand, manufacturer, supplier, distributor, retailer, logistics (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        /// GS1 company prefix; the organisation's GTINs must carry it.
        #[arg(long)]
        gs1_prefix: Option<String>,
        /// ISO 3166 region, e.g. CN-SH.
        #[arg(long)]
        region: Option<String>,
        /// The first member's public key (hex).
        #[arg(long)]
        admin: PublicKey,
    },
    /// Add a member key.
    AddMember {
        #[arg(long)]
        org: String,
        #[arg(long)]
        member: PublicKey,
    },
    /// Remove a member key.
    RemoveMember {
        #[arg(long)]
        org: String,
        #[arg(long)]
        member: PublicKey,
    },
    /// Show an organisation.
    Show { id: String },
    /// List every organisation.
    List,
}

pub async fn org(global: &Global, command: OrgCommand) -> Result<()> {
    match command {
        OrgCommand::Register {
            id,
            name,
            roles,
            gs1_prefix,
            region,
            admin,
        } => {
            send(
                global,
                Payload::RegisterOrg(RegisterOrg {
                    id: OrgId::new(id)?,
                    name,
                    roles,
                    gs1_company_prefix: gs1_prefix,
                    region,
                    admin,
                }),
            )
            .await
        }
        OrgCommand::AddMember { org, member } => {
            send(
                global,
                Payload::AddMember {
                    org: OrgId::new(org)?,
                    key: member,
                },
            )
            .await
        }
        OrgCommand::RemoveMember { org, member } => {
            send(
                global,
                Payload::RemoveMember {
                    org: OrgId::new(org)?,
                    key: member,
                },
            )
            .await
        }
        OrgCommand::Show { id } => {
            let org = global.client().org(&id).await?;
            print(global, &org, pretty)
        }
        OrgCommand::List => {
            let list = global.client().orgs().await?;
            print(global, &list, |l: &dto::OrgList| {
                for o in &l.orgs {
                    println!("{:<28} {:<40} {}", o.id, o.name, o.roles.join(","));
                }
            })
        }
    }
}

// ---------------------------------------------------------------- licence

#[derive(Subcommand)]
pub enum LicenceCommand {
    /// Issue a licence to an organisation (platform operator only).
    Issue {
        #[arg(long)]
        id: String,
        #[arg(long)]
        org: String,
        /// How many codes it allows.
        #[arg(long)]
        quota: u64,
        #[command(flatten)]
        validity: Validity,
    },
    /// Revoke a licence (platform operator only).
    Revoke {
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Show a licence.
    Show { id: String },
}

/// A validity window: `--from` (default now) and `--until` or `--days`.
#[derive(Args)]
pub struct Validity {
    /// Start: unix seconds or YYYY-MM-DD (default: now).
    #[arg(long = "from", visible_alias = "valid-from")]
    from: Option<String>,
    /// End: unix seconds or YYYY-MM-DD.
    #[arg(long = "until", visible_alias = "valid-until", conflicts_with = "days")]
    until: Option<String>,
    /// Or: valid for this many days from the start.
    #[arg(long)]
    days: Option<u64>,
}

impl Validity {
    /// The window in unix seconds: start inclusive, end exclusive.
    pub(crate) fn window(&self) -> Result<(u64, u64)> {
        let from = match &self.from {
            Some(t) => parse_time(t)?,
            None => jitrace_chain::app::wall_clock_ms() / 1000,
        };
        let until = match (&self.until, self.days) {
            (Some(t), _) => parse_time(t)?,
            (None, Some(days)) => from + days * 86_400,
            (None, None) => bail!("give --until or --days"),
        };
        Ok((from, until))
    }
}

/// Parses unix seconds or a calendar date (UTC midnight).
pub(crate) fn parse_time(text: &str) -> Result<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("{text:?} is neither unix seconds nor a YYYY-MM-DD date");
    };
    let (y, m, d): (i64, i64, i64) = (y.parse()?, m.parse()?, d.parse()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
        bail!("{text:?} is not a valid date");
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400).context("date before 1970")
}

pub async fn licence(global: &Global, command: LicenceCommand) -> Result<()> {
    match command {
        LicenceCommand::Issue {
            id,
            org,
            quota,
            validity,
        } => {
            let (from, until) = validity.window()?;
            send(
                global,
                Payload::IssueLicence(IssueLicence {
                    id: LicenceId::new(id)?,
                    org: OrgId::new(org)?,
                    quota,
                    valid_from: from,
                    valid_until: until,
                }),
            )
            .await
        }
        LicenceCommand::Revoke { id, reason } => {
            send(
                global,
                Payload::RevokeLicence {
                    licence: LicenceId::new(id)?,
                    reason,
                },
            )
            .await
        }
        LicenceCommand::Show { id } => {
            let licence = global.client().licence(&id).await?;
            print(global, &licence, pretty)
        }
    }
}

// ---------------------------------------------------------------- product

#[derive(Args)]
pub struct ProductFields {
    #[arg(long)]
    gtin: Gtin,
    /// The owning organisation.
    #[arg(long)]
    org: String,
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "")]
    description: String,
    /// A specification attribute NAME=VALUE (repeatable).
    #[arg(long = "attr")]
    attributes: Vec<String>,
    /// A photo, video or document to reference by content hash (repeatable).
    #[arg(long = "media-file")]
    media: Vec<PathBuf>,
}

/// An attribute given as `NAME=VALUE` (names and values trimmed).
pub(crate) fn attribute(text: &str) -> Result<Attribute> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("{text:?} is not NAME=VALUE"))?;
    Ok(Attribute {
        name: name.trim().to_string(),
        value: value.trim().to_string(),
    })
}

impl ProductFields {
    fn into_info(self) -> Result<ProductInfo> {
        let attributes = self
            .attributes
            .iter()
            .map(|a| attribute(a))
            .collect::<Result<Vec<_>>>()?;
        let media = self
            .media
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(MediaRef {
                    hash: Hash::of(&[&bytes]),
                    mime: mime_of(path).into(),
                    size: bytes.len() as u64,
                    caption: path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ProductInfo {
            gtin: self.gtin,
            org: OrgId::new(self.org)?,
            name: self.name,
            description: self.description,
            attributes,
            media,
        })
    }
}

fn mime_of(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("svg") => "image/svg+xml",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[derive(Subcommand)]
pub enum ProductCommand {
    /// Register a product under a GTIN the organisation owns.
    Register(ProductFields),
    /// Replace a product's record.
    Update(ProductFields),
    /// Show a product.
    Show { gtin: Gtin },
}

pub async fn product(global: &Global, command: ProductCommand) -> Result<()> {
    match command {
        ProductCommand::Register(fields) => {
            send(global, Payload::RegisterProduct(fields.into_info()?)).await
        }
        ProductCommand::Update(fields) => {
            send(global, Payload::UpdateProduct(fields.into_info()?)).await
        }
        ProductCommand::Show { gtin } => {
            let product = global.client().product(&gtin).await?;
            print(global, &product, pretty)
        }
    }
}

// ---------------------------------------------------------------- code keys and batches

#[derive(Subcommand)]
pub enum CodeKeyCommand {
    /// Register a code-signing key for a brand.
    Register {
        #[arg(long)]
        org: String,
        /// The code-signing public key (hex); see `jitrace keys new`.
        #[arg(long)]
        key: PublicKey,
    },
    /// Revoke a code-signing key.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        key: PublicKey,
    },
}

pub async fn code_key(global: &Global, command: CodeKeyCommand) -> Result<()> {
    match command {
        CodeKeyCommand::Register { org, key } => {
            send(
                global,
                Payload::RegisterCodeKey {
                    org: OrgId::new(org)?,
                    key,
                },
            )
            .await
        }
        CodeKeyCommand::Revoke { org, key } => {
            send(
                global,
                Payload::RevokeCodeKey {
                    org: OrgId::new(org)?,
                    key,
                },
            )
            .await
        }
    }
}

#[derive(Subcommand)]
pub enum BatchCommand {
    /// Register a batch of codes: serials FIRST .. FIRST+COUNT of a product, against a licence.
    Issue {
        #[arg(long)]
        org: String,
        #[arg(long)]
        licence: String,
        #[arg(long)]
        gtin: Gtin,
        /// The lot label (GS1 AI 10).
        #[arg(long)]
        lot: String,
        #[arg(long, default_value_t = 1)]
        first: u64,
        #[arg(long)]
        count: u64,
        /// The registered code-signing public key that signs these codes.
        #[arg(long)]
        code_key: PublicKey,
    },
    /// Show a product's batches, or one batch.
    Show { gtin: Gtin, lot: Option<String> },
}

pub async fn batch(global: &Global, command: BatchCommand) -> Result<()> {
    match command {
        BatchCommand::Issue {
            org,
            licence,
            gtin,
            lot,
            first,
            count,
            code_key,
        } => {
            send(
                global,
                Payload::IssueCodeBatch(IssueCodeBatch {
                    org: OrgId::new(org)?,
                    licence: LicenceId::new(licence)?,
                    gtin,
                    lot,
                    first_serial: first,
                    count,
                    code_key,
                }),
            )
            .await
        }
        BatchCommand::Show {
            gtin,
            lot: Some(lot),
        } => {
            let batch = global.client().batch(&gtin, &lot).await?;
            print(global, &batch, pretty)
        }
        BatchCommand::Show { gtin, lot: None } => {
            let batches = global.client().batches(&gtin).await?;
            print(global, &batches, |list: &Vec<dto::BatchView>| {
                for b in list {
                    println!(
                        "lot {:<16} serials {}..{} ({} codes) licence {}",
                        b.lot,
                        b.first_serial,
                        b.first_serial + b.count,
                        b.count,
                        b.licence
                    );
                }
            })
        }
    }
}

// ---------------------------------------------------------------- verify

/// `--lat` and `--lon` (decimal degrees): both or neither.
pub(crate) fn position(lat: Option<f64>, lon: Option<f64>) -> Result<Option<(f64, f64)>> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok(Some((lat, lon))),
        (None, None) => Ok(None),
        _ => bail!("give both --lat and --lon, or neither"),
    }
}

/// `jitrace verify URL`: the verdict a consumer's scan gets, in the terminal.
pub async fn verify(global: &Global, uri: &str, lat: Option<f64>, lon: Option<f64>) -> Result<()> {
    let position = position(lat, lon)?;
    // A fragment (`#claim=…`) is the holder's secret: it never goes to a server.
    let uri = crate::items::without_fragment(uri);
    let verdict = global.client().verdict(uri, position).await?;
    print_verdict(global, &verdict)
}

/// Prints a verdict; a counterfeit is an error (non-zero exit).
pub(crate) fn print_verdict(global: &Global, verdict: &dto::Verdict) -> Result<()> {
    print(global, verdict, |v: &dto::Verdict| {
        let word = match v.verdict {
            dto::VerdictKind::Genuine => "GENUINE 正品",
            dto::VerdictKind::Warning => "WARNING 警告",
            dto::VerdictKind::Counterfeit => "COUNTERFEIT 假冒",
        };
        println!("{word}");
        for reason in &v.reasons {
            println!("  - {}: {} / {}", reason.code, reason.en, reason.zh);
        }
        if let Some(product) = &v.product {
            println!("product   {} ({})", product.name, product.gtin);
        }
        if let Some(brand) = &v.brand {
            println!("brand     {}", brand.name);
        }
        if let Some(status) = &v.status {
            println!("status    {status}");
        }
        if !v.flags.is_empty() {
            println!("flags     {}", v.flags.join(", "));
        }
        if let Some(owner) = &v.ownership.owner {
            println!("owner     {owner}");
        }
        if let Some(ticket) = &v.ownership.pending_ticket {
            println!("ticket    a {ticket} ticket is waiting to be redeemed");
        }
        if let Some(km) = v.distance_km {
            println!("distance  {km} km from its latest known place");
        }
        for step in &v.path {
            let place = step
                .place
                .as_ref()
                .and_then(|p| p.city.clone())
                .unwrap_or_default();
            println!(
                "  {:>8}  {:<16} {:<28} {}",
                step.height,
                step.event,
                step.org_name
                    .clone()
                    .or(step.org.clone())
                    .unwrap_or_default(),
                place
            );
        }
    })?;
    if matches!(verdict.verdict, dto::VerdictKind::Counterfeit) {
        bail!("the code is counterfeit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn dates() {
        assert_eq!(parse_time("1970-01-01").unwrap(), 0);
        assert_eq!(parse_time("2026-11-28").unwrap(), 1_795_824_000);
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        assert!(parse_time("2026-13-01").is_err());
        assert!(parse_time("soon").is_err());
    }
}
