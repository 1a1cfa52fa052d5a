//! The genesis file and key files of a node's data directory.

use anyhow::{Context as _, Result, bail};
use jitrace_ledger::{Genesis, state::ScanRules};
use jitrace_types::{OrgId, PublicKey, SecretKey, keys::domain};
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, path::Path};

/// `genesis.toml`: what every node of a chain must agree on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GenesisFile {
    pub chain_id: String,
    /// Milliseconds since the Unix epoch; the genesis block's time.
    pub genesis_time_ms: u64,
    /// The platform operator's public key (hex).
    pub operator: String,
    pub platform_org: String,
    pub platform_name: String,
    pub validators: Vec<PeerEntry>,
    /// Non-voting full nodes allowed to connect.
    #[serde(default)]
    pub observers: Vec<PeerEntry>,
    /// Clone-detection and scan thresholds; every field defaults to the ledger's default.
    #[serde(default)]
    pub scan_rules: ScanRulesFile,
}

/// `[scan_rules]` of `genesis.toml` (see `jitrace_ledger::state::ScanRules`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanRulesFile {
    /// A scan after the sale from another device farther than this (metres) from the sale
    /// place suggests a clone.
    pub far_from_sale_m: u32,
    /// Travel between two scans faster than this suggests a clone.
    pub max_speed_kmh: u32,
    /// Hops shorter than this (metres) never count as travel.
    pub min_travel_m: u32,
    /// More distinct devices than this on one code suggests a clone.
    pub max_devices: u32,
    /// Scans older than this (ms, against the block's time) are refused.
    pub max_scan_age_ms: u64,
    /// Scans later than the block's time by more than this (ms) are refused.
    pub max_scan_ahead_ms: u64,
}

impl Default for ScanRulesFile {
    fn default() -> Self {
        let d = ScanRules::DEFAULT;
        Self {
            far_from_sale_m: d.far_from_sale_m,
            max_speed_kmh: d.max_speed_kmh,
            min_travel_m: d.min_travel_m,
            max_devices: d.max_devices,
            max_scan_age_ms: d.max_scan_age_ms,
            max_scan_ahead_ms: d.max_scan_ahead_ms,
        }
    }
}

impl ScanRulesFile {
    fn to_rules(self) -> Result<ScanRules> {
        let rules = ScanRules {
            far_from_sale_m: self.far_from_sale_m,
            max_speed_kmh: self.max_speed_kmh,
            min_travel_m: self.min_travel_m,
            max_devices: self.max_devices,
            max_scan_age_ms: self.max_scan_age_ms,
            max_scan_ahead_ms: self.max_scan_ahead_ms,
        };
        if let Some(problem) = rules.problem() {
            bail!("[scan_rules] in the genesis file: {problem}");
        }
        Ok(rules)
    }
}

/// One node of the network: its key and where peers reach it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerEntry {
    pub key: String,
    pub p2p: SocketAddr,
}

impl PeerEntry {
    /// The key and address as the engine wants them.
    pub fn to_engine(&self) -> Result<(commonware_cryptography::ed25519::PublicKey, SocketAddr)> {
        Ok((PublicKey::from_hex(&self.key)?.to_engine()?, self.p2p))
    }
}

impl GenesisFile {
    /// Reads and checks a genesis file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the genesis file {}", path.display()))?;
        let file: Self = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid genesis file", path.display()))?;
        file.ledger_genesis()?;
        if file.validators.is_empty() {
            bail!("{}: at least one validator is required", path.display());
        }
        Ok(file)
    }

    /// Writes the file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The ledger's view of genesis.
    pub fn ledger_genesis(&self) -> Result<Genesis> {
        let validators = self
            .validators
            .iter()
            .map(|v| PublicKey::from_hex(&v.key))
            .collect::<Result<Vec<_>, _>>()
            .context("a validator key in the genesis file is invalid")?;
        Ok(Genesis {
            chain_id: self.chain_id.clone(),
            operator: PublicKey::from_hex(&self.operator)
                .context("the operator key in the genesis file is invalid")?,
            platform_org: OrgId::new(self.platform_org.clone())
                .context("the platform org id in the genesis file is invalid")?,
            platform_name: self.platform_name.clone(),
            validators,
            scan_rules: self.scan_rules.to_rules()?,
        })
    }

    /// The namespace that separates this chain's consensus signatures from any other chain's.
    pub fn consensus_namespace(&self) -> Vec<u8> {
        [domain::CONSENSUS, b"/", self.chain_id.as_bytes()].concat()
    }
}

/// Writes a secret key file (hex), readable by its owner only.
pub fn write_key(path: &Path, key: &SecretKey) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{}\n", key.to_hex()))
        .with_context(|| format!("cannot write the key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Reads a secret key file.
pub fn read_key(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    SecretKey::from_hex(text.trim())
        .with_context(|| format!("{} does not hold a Jitrace secret key", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
chain_id = "c"
genesis_time_ms = 0
operator = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
platform_org = "platform"
platform_name = "P"
validators = [{ key = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", p2p = "127.0.0.1:1" }]
"#;

    fn parse(extra: &str) -> Result<Genesis> {
        let file: GenesisFile = toml::from_str(&format!("{BASE}{extra}"))?;
        file.ledger_genesis()
    }

    #[test]
    fn scan_rules_default_and_override_field_by_field() {
        assert_eq!(parse("").unwrap().scan_rules, ScanRules::DEFAULT);
        let rules = parse("[scan_rules]\nfar_from_sale_m = 20000\nmax_devices = 8\n")
            .unwrap()
            .scan_rules;
        assert_eq!(rules.far_from_sale_m, 20_000);
        assert_eq!(rules.max_devices, 8);
        assert_eq!(rules.max_speed_kmh, ScanRules::DEFAULT.max_speed_kmh);
    }

    #[test]
    fn unusable_scan_rules_are_refused() {
        let err = parse("[scan_rules]\nmax_devices = 0\n").unwrap_err();
        assert!(err.to_string().contains("max_devices"), "{err}");
        let err = parse("[scan_rules]\nmax_speed_kmh = 0\n").unwrap_err();
        assert!(err.to_string().contains("max_speed_kmh"), "{err}");
        assert!(
            parse("[scan_rules]\nmax_devcies = 3\n").is_err(),
            "typos are caught"
        );
    }
}
