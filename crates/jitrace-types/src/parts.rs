//! B2B payloads: supplier authorisations with expected specifications, lot records, pallets,
//! the receiving gate, assembly and recalls (design §4).
//!
//! Specification values are text; numeric ranges compare them as fixed-point decimals
//! ([`decimal_milli`]), never as floats, so every node decides a match the same way.

use crate::{
    Error, Gtin, Hash, OrgId, Sscc,
    ids::validate_text,
    tx::{Attribute, CodeId, MAX_ATTRIBUTES, MAX_MEDIA, MediaRef, SignedCode},
};
use borsh::{BorshDeserialize, BorshSerialize};

/// At most this many rules in a part specification.
pub const MAX_SPEC_RULES: usize = 64;
/// At most this many allowed values in a [`Allowed::OneOf`].
pub const MAX_ALLOWED_VALUES: usize = 32;
/// At most this many entries in one gate transaction (pallets count as one entry).
pub const MAX_GATE_ITEMS: usize = 500;
/// At most this many codes on one pallet.
pub const MAX_PALLET_CODES: usize = 500;
/// At most this many parts added or removed by one assembly transaction.
pub const MAX_ASSEMBLY_PARTS: usize = 200;
/// At most this many test results in a lot record.
pub const MAX_TESTS: usize = 64;
/// The longest scanned text a gate entry may carry.
pub const MAX_SCAN_TEXT: usize = 1024;

/// [`crate::Payload::AuthoriseSupplier`]: a manufacturer authorises a supplier to deliver one
/// part type (the part's GTIN, registered by the supplier) to this specification.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AuthoriseSupplier {
    pub manufacturer: OrgId,
    pub supplier: OrgId,
    pub part: Gtin,
    pub spec: PartSpec,
    /// Unix seconds.
    pub valid_from: u64,
    pub valid_until: u64,
}

/// What a manufacturer expects of a part type: rules on named attributes, and optionally the
/// hash of the drawing or specification document they come from.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PartSpec {
    pub rules: Vec<SpecRule>,
    pub document: Option<Hash>,
}

/// One attribute's allowed values.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SpecRule {
    pub name: String,
    pub allowed: Allowed,
}

/// Allowed values of an attribute.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Allowed {
    /// Exactly this text.
    Exactly(String),
    /// One of these texts.
    OneOf(Vec<String>),
    /// A decimal number in `min..=max`, in thousandths (see [`decimal_milli`]).
    Range { min_milli: i64, max_milli: i64 },
}

/// Why a part does not meet a specification rule.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SpecMismatch {
    pub name: String,
    /// The value found (`None`: the attribute is missing).
    pub found: Option<String>,
}

impl Allowed {
    /// Whether `value` is allowed.
    pub fn admits(&self, value: &str) -> bool {
        match self {
            Allowed::Exactly(v) => v == value,
            Allowed::OneOf(vs) => vs.iter().any(|v| v == value),
            Allowed::Range {
                min_milli,
                max_milli,
            } => decimal_milli(value).is_some_and(|v| (*min_milli..=*max_milli).contains(&v)),
        }
    }
}

impl PartSpec {
    /// The specification's hash: SHA-256 of its canonical (borsh) encoding.
    pub fn hash(&self) -> Hash {
        Hash::of(&[
            b"jitrace/v1/part-spec",
            &borsh::to_vec(self).unwrap_or_default(),
        ])
    }

    /// Every rule `attributes` break, in rule order. An attribute the spec does not name is
    /// not checked.
    pub fn mismatches(&self, attributes: &[Attribute]) -> Vec<SpecMismatch> {
        self.rules
            .iter()
            .filter_map(|rule| {
                let found = attributes.iter().find(|a| a.name == rule.name);
                match found {
                    Some(a) if rule.allowed.admits(&a.value) => None,
                    _ => Some(SpecMismatch {
                        name: rule.name.clone(),
                        found: found.map(|a| a.value.clone()),
                    }),
                }
            })
            .collect()
    }

    fn validate(&self) -> Result<(), Error> {
        if self.rules.len() > MAX_SPEC_RULES {
            return Err(invalid("spec.rules", "at most 64 rules"));
        }
        let mut names: Vec<&str> = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            validate_text("spec rule name", &rule.name, 64, true)?;
            names.push(&rule.name);
            match &rule.allowed {
                Allowed::Exactly(v) => validate_text("spec value", v, 200, false)?,
                Allowed::OneOf(vs) => {
                    if vs.is_empty() || vs.len() > MAX_ALLOWED_VALUES {
                        return Err(invalid("spec.one_of", "1 to 32 values"));
                    }
                    for v in vs {
                        validate_text("spec value", v, 200, false)?;
                    }
                }
                Allowed::Range {
                    min_milli,
                    max_milli,
                } => {
                    if min_milli > max_milli {
                        return Err(invalid("spec.range", "min must not exceed max"));
                    }
                }
            }
        }
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("spec.rules", "an attribute has two rules"));
        }
        Ok(())
    }
}

/// A decimal number as thousandths: `"12.5"` → 12,500; `"-0.001"` → -1; up to three
/// decimals, an optional sign, no exponent. `None` for anything else or an overflow.
pub fn decimal_milli(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || fraction.len() > 3
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut milli = 0i64;
    for (i, b) in fraction.bytes().enumerate() {
        milli += i64::from(b - b'0') * [100, 10, 1][i];
    }
    let value = whole.checked_mul(1000)?.checked_add(milli)?;
    Some(if negative { -value } else { value })
}

/// [`crate::Payload::RecordLot`]: the technical record of a lot, by the organisation that
/// issued its codes. Written once per lot; a correction is a new record that replaces it
/// (the old one stays in the block history).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LotRecord {
    pub gtin: Gtin,
    pub lot: String,
    /// The lot's measured attributes (compared with manufacturers' specifications).
    pub attributes: Vec<Attribute>,
    /// Production date, unix seconds.
    pub produced_at: Option<u64>,
    pub tests: Vec<TestResult>,
    /// Certificates, test reports, drawings: content-addressed files.
    pub documents: Vec<MediaRef>,
}

/// One quality test of a lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TestResult {
    pub name: String,
    pub value: String,
    pub passed: bool,
}

/// [`crate::Payload::PackPallet`]: the custodian packs codes onto a pallet labelled with an
/// SSCC (GS1 AI 00), so the receiving gate checks them all with one scan.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PackPallet {
    pub org: OrgId,
    pub sscc: Sscc,
    pub codes: Vec<SignedCode>,
}

/// [`crate::Payload::GateReceive`]: a manufacturer's receiving dock checks what arrived.
/// Accepted parts enter the manufacturer's stock; every entry's outcome, accepted or rejected
/// with its reasons, is recorded.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GateReceive {
    pub org: OrgId,
    pub items: Vec<GateItem>,
}

/// One thing scanned at the gate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GateItem {
    /// What the scanner read, as read: a code's Digital Link, a pallet's SSCC (18 digits or
    /// a Digital Link with `/00/`), or anything else. Empty: the part had no code at all.
    pub scanned: String,
    /// Attributes the dock measured on the part, checked against the manufacturer's
    /// specification and the lot's record.
    pub observed: Vec<Attribute>,
}

/// [`crate::Payload::Assemble`]: the custodian of `parent` installs parts into it and removes
/// parts from it, in one step (a replacement is both). `parent` is commissioned by the
/// assembly if it is new.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Assemble {
    pub org: OrgId,
    pub parent: SignedCode,
    /// Removed first: back to the organisation's stock, with their history.
    pub remove: Vec<CodeId>,
    pub add: Vec<CodeId>,
}

/// [`crate::Payload::StartRecall`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StartRecall {
    /// The recalling organisation: the brand or supplier of the scope, or a manufacturer that
    /// authorised the scope's supplier.
    pub org: OrgId,
    pub scope: RecallScope,
    pub reason: String,
}

/// What a recall covers; every item containing it, at any depth, is affected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum RecallScope {
    /// One lot of a product or part.
    Lot { gtin: Gtin, lot: String },
    /// Every code of a product or part type.
    Product(Gtin),
    /// Everything a supplier (or brand) issued.
    Issuer(OrgId),
}

impl AuthoriseSupplier {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.valid_from >= self.valid_until {
            return Err(invalid("valid_until", "must be after valid_from"));
        }
        if self.manufacturer == self.supplier {
            return Err(invalid("supplier", "an organisation cannot supply itself"));
        }
        self.spec.validate()
    }
}

impl LotRecord {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        crate::gs1::validate_lot(&self.lot)?;
        validate_attributes(&self.attributes)?;
        if self.tests.len() > MAX_TESTS {
            return Err(invalid("tests", "at most 64 tests"));
        }
        for t in &self.tests {
            validate_text("test name", &t.name, 100, true)?;
            validate_text("test value", &t.value, 200, false)?;
        }
        if self.documents.len() > MAX_MEDIA {
            return Err(invalid("documents", "at most 16 documents"));
        }
        for d in &self.documents {
            d.validate()?;
        }
        Ok(())
    }
}

impl PackPallet {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.codes.is_empty() || self.codes.len() > MAX_PALLET_CODES {
            return Err(invalid("codes", "a pallet holds 1 to 500 codes"));
        }
        let mut ids: Vec<CodeId> = self.codes.iter().map(|c| c.code).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("codes", "a code is listed twice"));
        }
        self.codes.iter().try_for_each(SignedCode::validate)
    }
}

impl GateReceive {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.items.is_empty() || self.items.len() > MAX_GATE_ITEMS {
            return Err(invalid("items", "1 to 500 items"));
        }
        for item in &self.items {
            if item.scanned.len() > MAX_SCAN_TEXT {
                return Err(invalid("scanned", "at most 1,024 bytes"));
            }
            validate_attributes(&item.observed)?;
        }
        Ok(())
    }
}

impl Assemble {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.parent.validate()?;
        if self.add.len() > MAX_ASSEMBLY_PARTS || self.remove.len() > MAX_ASSEMBLY_PARTS {
            return Err(invalid("parts", "at most 200 parts added and 200 removed"));
        }
        if self.add.is_empty() && self.remove.is_empty() {
            return Err(invalid("parts", "nothing to add or remove"));
        }
        let mut all: Vec<CodeId> = self.add.iter().chain(&self.remove).copied().collect();
        all.push(self.parent.code);
        all.sort_unstable();
        if all.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid(
                "parts",
                "a code is listed twice, or is its own part",
            ));
        }
        Ok(())
    }
}

impl StartRecall {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        validate_text("reason", &self.reason, 500, true)?;
        if let RecallScope::Lot { lot, .. } = &self.scope {
            crate::gs1::validate_lot(lot)?;
        }
        Ok(())
    }
}

fn validate_attributes(attributes: &[Attribute]) -> Result<(), Error> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid("attributes", "at most 64 attributes"));
    }
    for a in attributes {
        validate_text("attribute name", &a.name, 64, true)?;
        validate_text("attribute value", &a.value, 500, false)?;
    }
    let mut names: Vec<_> = attributes.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("attributes", "an attribute name is listed twice"));
    }
    Ok(())
}

fn invalid(field: &'static str, reason: &str) -> Error {
    crate::tx::invalid(field, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn decimals_are_fixed_point() {
        assert_eq!(decimal_milli("12.5"), Some(12_500));
        assert_eq!(decimal_milli("-0.001"), Some(-1));
        assert_eq!(decimal_milli("+3"), Some(3_000));
        assert_eq!(decimal_milli(".25"), Some(250));
        assert_eq!(decimal_milli(" 7 "), Some(7_000));
        for bad in [
            "",
            ".",
            "1.2345",
            "1e3",
            "abc",
            "1.2.3",
            "--1",
            "99999999999999999999",
        ] {
            assert_eq!(decimal_milli(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn specs_name_every_broken_rule() {
        let spec = PartSpec {
            rules: vec![
                SpecRule {
                    name: "diameter_mm".into(),
                    allowed: Allowed::Range {
                        min_milli: 49_950,
                        max_milli: 50_050,
                    },
                },
                SpecRule {
                    name: "material".into(),
                    allowed: Allowed::OneOf(vec!["42CrMo4".into(), "34CrNiMo6".into()]),
                },
                SpecRule {
                    name: "coating".into(),
                    allowed: Allowed::Exactly("zinc".into()),
                },
            ],
            document: None,
        };
        let good = [
            attr("diameter_mm", "50.02"),
            attr("material", "42CrMo4"),
            attr("coating", "zinc"),
            attr("colour", "grey"),
        ];
        assert!(spec.mismatches(&good).is_empty());
        let bad = [attr("diameter_mm", "50.1"), attr("material", "S235")];
        let m = spec.mismatches(&bad);
        assert_eq!(
            m.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["diameter_mm", "material", "coating"]
        );
        assert_eq!(m[2].found, None);
        assert_ne!(spec.hash(), PartSpec::default().hash());
        assert!(spec.validate().is_ok());
    }
}
