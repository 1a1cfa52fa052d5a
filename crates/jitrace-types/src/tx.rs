//! The signed transaction envelope and every payload the ledger understands.
//!
//! Wire form (borsh, canonical): a [`SignedTransaction`] holds the exact bytes of a
//! [`Transaction`] body and an Ed25519 signature over them in [`domain::TRANSACTION`].
//! The transaction id is the SHA-256 of the body, so re-encoding can never change it.

use crate::{
    Error, Gtin, Hash, LicenceId, OrgId, PublicKey, Role, SecretKey, Signature, ids::validate_text,
    keys::domain,
};
use borsh::{BorshDeserialize, BorshSerialize};

/// Largest encoded signed transaction accepted anywhere (API, mempool, block, ledger).
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Longest chain id.
pub const MAX_CHAIN_ID_LEN: usize = 64;
/// Longest name (organisation, product).
pub const MAX_NAME_LEN: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 4_000;
/// Most specification attributes on a product.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most media items on a product.
pub const MAX_MEDIA: usize = 16;
/// Most codes in one batch (a batch is one range, so this bounds nothing in storage; it keeps
/// label printing and quota arithmetic sane).
pub const MAX_BATCH_SIZE: u64 = 100_000_000;

/// A transaction id: SHA-256 of the transaction body.
pub type TxHash = Hash;

/// What a signer asks the ledger to do, with replay protection.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// Which chain this is meant for; a transaction for another chain is rejected.
    pub chain_id: String,
    /// Who signs.
    pub signer: PublicKey,
    /// Must be greater than the signer's last accepted nonce.
    pub nonce: u64,
    /// The action.
    pub payload: Payload,
}

/// The transaction as it travels: body bytes and a signature over them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The borsh encoding of a [`Transaction`].
    pub body: Vec<u8>,
    /// The signer's signature over `body` in [`domain::TRANSACTION`].
    pub signature: Signature,
}

/// Every action of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Platform: onboard an organisation with its roles and first member key.
    RegisterOrg(RegisterOrg),
    /// Org member (or platform): add a member key to an organisation.
    AddMember { org: OrgId, key: PublicKey },
    /// Org member (or platform): remove a member key; the last member cannot be removed.
    RemoveMember { org: OrgId, key: PublicKey },
    /// Platform: license an organisation to issue up to `quota` codes in a time window.
    IssueLicence(IssueLicence),
    /// Platform: revoke a licence; no batch can be issued under it afterwards.
    RevokeLicence { licence: LicenceId, reason: String },
    /// Brand member: register a product under a GTIN the brand owns.
    RegisterProduct(ProductInfo),
    /// Brand member: replace a registered product's record (the GTIN and owner stay).
    UpdateProduct(ProductInfo),
    /// Brand member: register a code-signing key for the brand's product codes.
    RegisterCodeKey { org: OrgId, key: PublicKey },
    /// Brand member: revoke a code-signing key (codes already issued under it stay valid).
    RevokeCodeKey { org: OrgId, key: PublicKey },
    /// Brand member: register a serial range of codes for a product against a licence's quota.
    IssueCodeBatch(IssueCodeBatch),
}

/// [`Payload::RegisterOrg`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RegisterOrg {
    pub id: OrgId,
    pub name: String,
    pub roles: Vec<Role>,
    /// GS1 company prefix (6–12 digits); when set, the org's GTINs must carry it.
    pub gs1_company_prefix: Option<String>,
    /// ISO 3166-1 alpha-2 country, or 3166-2 subdivision (e.g. `CN-SH`).
    pub region: Option<String>,
    /// The first member key.
    pub admin: PublicKey,
}

/// [`Payload::IssueLicence`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct IssueLicence {
    pub id: LicenceId,
    pub org: OrgId,
    /// How many codes the licence allows in total.
    pub quota: u64,
    /// Unix seconds, inclusive.
    pub valid_from: u64,
    /// Unix seconds, exclusive.
    pub valid_until: u64,
}

/// A product record: [`Payload::RegisterProduct`] and [`Payload::UpdateProduct`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProductInfo {
    pub gtin: Gtin,
    /// The owning organisation (a brand, manufacturer or supplier).
    pub org: OrgId,
    pub name: String,
    pub description: String,
    /// Specification attributes, e.g. (`volume_ml`, `750`).
    pub attributes: Vec<Attribute>,
    /// Photos, videos and documents, by content hash (the files live in the blob store).
    pub media: Vec<MediaRef>,
}

/// One specification attribute.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// A content-addressed media file.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MediaRef {
    /// SHA-256 of the file.
    pub hash: Hash,
    /// MIME type, e.g. `image/png`.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Short caption.
    pub caption: String,
}

/// [`Payload::IssueCodeBatch`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct IssueCodeBatch {
    pub org: OrgId,
    pub licence: LicenceId,
    pub gtin: Gtin,
    /// The batch/lot label (GS1 AI 10), unique per product.
    pub lot: String,
    /// First serial of the range; serials are decimal integers without leading zeros.
    pub first_serial: u64,
    /// How many codes: serials `first_serial .. first_serial + count`.
    pub count: u64,
    /// The brand's registered code-signing key that signs these codes.
    pub code_key: PublicKey,
}

impl Transaction {
    /// The canonical body bytes.
    pub fn body(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Signs the body with `key` (which should be `self.signer`'s secret key).
    pub fn sign(&self, key: &SecretKey) -> SignedTransaction {
        let body = self.body();
        let signature = key.sign(domain::TRANSACTION, &body);
        SignedTransaction { body, signature }
    }

    /// Checks every bound and syntactic rule that does not need ledger state.
    pub fn validate(&self) -> Result<(), Error> {
        if self.chain_id.is_empty() || self.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(invalid("chain_id", "must be 1 to 64 bytes"));
        }
        self.payload.validate()
    }
}

impl Payload {
    /// Stateless checks of the payload's fields.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Payload::RegisterOrg(org) => {
                validate_text("name", &org.name, MAX_NAME_LEN, true)?;
                if org.roles.is_empty() {
                    return Err(invalid("roles", "at least one role is required"));
                }
                let mut sorted = org.roles.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != org.roles.len() {
                    return Err(invalid("roles", "a role is listed twice"));
                }
                if let Some(prefix) = &org.gs1_company_prefix
                    && (!(6..=12).contains(&prefix.len())
                        || !prefix.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(invalid("gs1_company_prefix", "must be 6 to 12 digits"));
                }
                if let Some(region) = &org.region {
                    validate_region(region)?;
                }
                Ok(())
            }
            Payload::AddMember { .. }
            | Payload::RemoveMember { .. }
            | Payload::RegisterCodeKey { .. }
            | Payload::RevokeCodeKey { .. } => Ok(()),
            Payload::IssueLicence(l) => {
                if l.quota == 0 {
                    return Err(invalid("quota", "must be at least 1"));
                }
                if l.valid_from >= l.valid_until {
                    return Err(invalid("valid_until", "must be after valid_from"));
                }
                Ok(())
            }
            Payload::RevokeLicence { reason, .. } => validate_text("reason", reason, 500, false),
            Payload::RegisterProduct(p) | Payload::UpdateProduct(p) => p.validate(),
            Payload::IssueCodeBatch(b) => {
                crate::gs1::validate_lot(&b.lot)?;
                if b.count == 0 || b.count > MAX_BATCH_SIZE {
                    return Err(invalid("count", "must be 1 to 100,000,000"));
                }
                if b.first_serial.checked_add(b.count).is_none() {
                    return Err(invalid("first_serial", "range overflows"));
                }
                Ok(())
            }
        }
    }

    /// The payload's kind as a stable snake_case name (for receipts, indexes and logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::RegisterOrg(_) => "register_org",
            Payload::AddMember { .. } => "add_member",
            Payload::RemoveMember { .. } => "remove_member",
            Payload::IssueLicence(_) => "issue_licence",
            Payload::RevokeLicence { .. } => "revoke_licence",
            Payload::RegisterProduct(_) => "register_product",
            Payload::UpdateProduct(_) => "update_product",
            Payload::RegisterCodeKey { .. } => "register_code_key",
            Payload::RevokeCodeKey { .. } => "revoke_code_key",
            Payload::IssueCodeBatch(_) => "issue_code_batch",
        }
    }
}

impl ProductInfo {
    fn validate(&self) -> Result<(), Error> {
        validate_text("name", &self.name, MAX_NAME_LEN, true)?;
        validate_text("description", &self.description, MAX_DESCRIPTION_LEN, false)?;
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(invalid("attributes", "at most 64 attributes"));
        }
        for a in &self.attributes {
            validate_text("attribute name", &a.name, 64, true)?;
            validate_text("attribute value", &a.value, 500, false)?;
        }
        let mut names: Vec<_> = self.attributes.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("attributes", "an attribute name is listed twice"));
        }
        if self.media.len() > MAX_MEDIA {
            return Err(invalid("media", "at most 16 media items"));
        }
        for m in &self.media {
            validate_text("media caption", &m.caption, 200, false)?;
            let ok_mime = m.mime.len() <= 100
                && m.mime.contains('/')
                && m.mime.bytes().all(|b| b.is_ascii_graphic());
            if !ok_mime {
                return Err(invalid("media mime", "must be a MIME type like image/png"));
            }
        }
        Ok(())
    }
}

/// Checks an ISO 3166-1 alpha-2 code or an ISO 3166-2 subdivision code (`CN`, `CN-SH`, `CN-31`).
pub fn validate_region(region: &str) -> Result<(), Error> {
    let (country, sub) = match region.split_once('-') {
        Some((c, s)) => (c, Some(s)),
        None => (region, None),
    };
    let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
    let sub_ok = sub.is_none_or(|s| {
        (1..=3).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    });
    if country_ok && sub_ok {
        Ok(())
    } else {
        Err(invalid(
            "region",
            "must be an ISO 3166 code like CN or CN-SH",
        ))
    }
}

fn invalid(field: &'static str, reason: &str) -> Error {
    Error::InvalidField {
        field,
        reason: reason.to_string(),
    }
}

impl SignedTransaction {
    /// The transaction id.
    pub fn hash(&self) -> TxHash {
        Hash::of(&[&self.body])
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Reads wire bytes: bounded in size, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(Error::TooLarge {
                kind: "transaction",
                got: bytes.len(),
                max: MAX_TX_BYTES,
            });
        }
        borsh::from_slice(bytes).map_err(|e| Error::Decode {
            kind: "signed transaction",
            reason: e.to_string(),
        })
    }

    /// Decodes and validates the body. The signature is not checked here.
    pub fn transaction(&self) -> Result<Transaction, Error> {
        let tx: Transaction = borsh::from_slice(&self.body).map_err(|e| Error::Decode {
            kind: "transaction",
            reason: e.to_string(),
        })?;
        tx.validate()?;
        Ok(tx)
    }

    /// Whether `signature` is `signer`'s over the body.
    pub fn verify_signature(&self, signer: &PublicKey) -> bool {
        signer.verify(domain::TRANSACTION, &self.body, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &SecretKey) -> Transaction {
        Transaction {
            chain_id: "jitrace-test".into(),
            signer: key.public_key(),
            nonce: 1,
            payload: Payload::AddMember {
                org: OrgId::new("acme").unwrap(),
                key: SecretKey::from_seed(9).public_key(),
            },
        }
    }

    #[test]
    fn sign_encode_decode_verify() {
        let key = SecretKey::from_seed(1);
        let tx = sample(&key);
        let signed = tx.sign(&key);
        let back = SignedTransaction::decode(&signed.encode()).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.transaction().unwrap(), tx);
        assert!(back.verify_signature(&key.public_key()));
        assert!(!back.verify_signature(&SecretKey::from_seed(2).public_key()));
        assert_eq!(back.hash(), Hash::of(&[&tx.body()]));
    }

    #[test]
    fn decoding_is_bounded_and_strict() {
        let key = SecretKey::from_seed(1);
        let mut bytes = sample(&key).sign(&key).encode();
        bytes.push(0);
        assert!(SignedTransaction::decode(&bytes).is_err(), "trailing bytes");
        assert!(SignedTransaction::decode(&[0xff; 10]).is_err(), "garbage");
        let huge = vec![0u8; MAX_TX_BYTES + 1];
        assert!(matches!(
            SignedTransaction::decode(&huge),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn regions() {
        for ok in ["CN", "CN-SH", "CN-31", "US-CA", "DE"] {
            assert!(validate_region(ok).is_ok(), "{ok}");
        }
        for bad in ["cn", "CHN", "CN-", "CN-SHAN", ""] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }
}
