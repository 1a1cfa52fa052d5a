//! The genesis file and key files of a node's data directory.

use anyhow::{Context as _, Result, bail};
use jitrace_ledger::Genesis;
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
