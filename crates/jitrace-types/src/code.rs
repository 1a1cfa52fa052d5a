//! Product codes: one item, one code, signed by the brand's code-signing key.
//!
//! A product code is a GS1 Digital Link URI
//! `https://{resolver}/01/{gtin14}/21/{serial}?8030={sig}`, where `sig` (GS1 AI 8030, digital
//! signature) is the unpadded base64url encoding (86 characters) of a 64-byte Ed25519 signature
//! in domain [`domain::PRODUCT_CODE`] over [`code_message`]`(chain_id, gtin, serial)`.
//! Nobody without the brand's key can make a valid code; anyone with the brand's public key can
//! check one offline, for instance in a browser.
//!
//! The resolver is not signed: the same item is the same item whichever resolver a label
//! points to. Jitrace serials are decimal integers without leading zeros (a batch registers a
//! serial range, see [`crate::tx::IssueCodeBatch`]); this module signs and checks any serial,
//! and [`parse_serial`] tells whether one can belong to a batch at all.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{
    DigitalLink, Error, Gtin, PrimaryKey, PublicKey, SecretKey, Signature, gs1::excerpt,
    keys::domain,
};

/// Length of a code signature in text: 64 bytes in unpadded base64url.
pub const CODE_SIGNATURE_LEN: usize = 86;

/// The bytes a product code's signature covers.
///
/// ```text
/// u16be(len(chain_id)) ‖ chain_id ‖ gtin14 ‖ u16be(len(serial)) ‖ serial
/// ```
///
/// - `u16be(n)`: `n` as two bytes, big-endian.
/// - `chain_id`, `serial`: their UTF-8 bytes (a valid serial is ASCII: GS1 character set 82).
/// - `gtin14`: the GTIN as exactly 14 ASCII digits (GTIN-8/12/13 left-padded with `0`).
///
/// Both variable-length fields are length-prefixed and the GTIN has a fixed width, so no two
/// inputs give the same bytes. A field longer than 65,535 bytes (never valid: chain ids have at
/// most 64 bytes and serials 20 characters) is cut to its first 65,535 bytes.
///
/// What Ed25519 actually signs is the consensus engine's domain framing of this message:
/// `0x0F ‖ "jitrace/v1/code" ‖ code_message(..)` — the domain's length as one byte (a varint;
/// the domain has 15 bytes), the domain, then the message. A browser verifier hands exactly
/// those bytes to Ed25519 verification (RFC 8032, no pre-hashing, no context).
///
/// Example: chain `"c"`, GTIN `09506000134352`, serial `"7"` give
/// `00 01 63 30 39 35 30 36 30 30 30 31 33 34 33 35 32 00 01 37`.
pub fn code_message(chain_id: &str, gtin: &Gtin, serial: &str) -> Vec<u8> {
    let chain_id = capped(chain_id.as_bytes());
    let serial = capped(serial.as_bytes());
    let mut out = Vec::with_capacity(2 + chain_id.len() + 14 + 2 + serial.len());
    push_prefixed(&mut out, chain_id);
    out.extend_from_slice(gtin.as_bytes());
    push_prefixed(&mut out, serial);
    out
}

/// The first `u16::MAX` bytes of `field`.
fn capped(field: &[u8]) -> &[u8] {
    field.get(..usize::from(u16::MAX)).unwrap_or(field)
}

fn push_prefixed(out: &mut Vec<u8>, field: &[u8]) {
    // `capped` keeps every field within u16, so the fallback is never taken.
    let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

/// Signs a product code: the unpadded base64url (86 characters) of the Ed25519 signature in
/// [`domain::PRODUCT_CODE`] over [`code_message`]. Deterministic: the same inputs always give
/// the same signature.
pub fn sign_code(key: &SecretKey, chain_id: &str, gtin: &Gtin, serial: &str) -> String {
    let signature = key.sign(domain::PRODUCT_CODE, &code_message(chain_id, gtin, serial));
    URL_SAFE_NO_PAD.encode(signature.0)
}

/// Decodes a code signature's text: exactly 86 characters of unpadded, canonical base64url.
///
/// Fails with [`Error::BadEncoding`] (kind `"code signature"`) and the reason.
pub fn decode_code_signature(sig_b64: &str) -> Result<Signature, Error> {
    decode_base64url_exact("code signature", sig_b64).map(Signature)
}

/// Decodes exactly `N` bytes from unpadded, canonical base64url; fails with
/// [`Error::BadEncoding`] of `kind` and the reason.
pub(crate) fn decode_base64url_exact<const N: usize>(
    kind: &'static str,
    text: &str,
) -> Result<[u8; N], Error> {
    let malformed = |reason: String| Error::BadEncoding { kind, reason };
    let len = (N * 4).div_ceil(3);
    if text.len() != len {
        return Err(malformed(format!(
            "must be {len} characters of unpadded base64url, got {}",
            text.len()
        )));
    }
    let mut bytes = [0u8; N];
    match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
        Ok(n) if n == N => Ok(bytes),
        Ok(n) => Err(malformed(format!("decodes to {n} bytes, expected {N}"))),
        Err(e) => Err(malformed(format!(
            "{:?} is not unpadded base64url: {e}",
            excerpt(text)
        ))),
    }
}

/// Checks a product code's signature against the brand's code-signing key.
///
/// Errors: [`Error::BadEncoding`] (kind `"code signature"`) when `sig_b64` is not 86 characters
/// of unpadded base64url, [`Error::BadCodeSignature`] when it is well formed but `key` did not
/// sign this chain id, GTIN and serial.
pub fn verify_code(
    key: &PublicKey,
    chain_id: &str,
    gtin: &Gtin,
    serial: &str,
    sig_b64: &str,
) -> Result<(), Error> {
    let signature = decode_code_signature(sig_b64)?;
    if key.verify(
        domain::PRODUCT_CODE,
        &code_message(chain_id, gtin, serial),
        &signature,
    ) {
        Ok(())
    } else {
        Err(Error::BadCodeSignature)
    }
}

/// The printed URI of a code: `{resolver}/01/{gtin14}/21/{serial}?8030={sig}`.
///
/// Trailing `/` of `resolver` are dropped; the serial is percent-encoded where needed (never
/// for decimal serials). Call [`DigitalLink::validate`] on
/// `DigitalLink::item(resolver, ..)` once to check a resolver before printing many codes.
pub fn code_uri(resolver: &str, gtin: &Gtin, serial: &str, sig: &str) -> String {
    DigitalLink::item(resolver, *gtin, serial)
        .with_signature(sig)
        .to_uri()
}

/// What a scanned product code says: the item and its claimed signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedCode {
    /// The resolver the label points to (scheme, host and path prefix; empty for a bare path).
    pub resolver: String,
    pub gtin: Gtin,
    /// The serial (AI 21), as printed.
    pub serial: String,
    /// The digital signature (AI 8030), unchecked; `None` when the link carries none.
    pub signature: Option<String>,
}

impl ScannedCode {
    /// The serial as a batch serial number, if it is one (see [`parse_serial`]).
    pub fn serial_number(&self) -> Option<u64> {
        parse_serial(&self.serial).ok()
    }

    /// Checks the code's signature (see [`verify_code`]); a link without one fails with
    /// [`Error::BadEncoding`] (kind `"code signature"`).
    pub fn verify(&self, key: &PublicKey, chain_id: &str) -> Result<(), Error> {
        let signature = self.signature.as_deref().ok_or(Error::BadEncoding {
            kind: "code signature",
            reason: "the link carries no digital signature (AI 8030)".into(),
        })?;
        verify_code(key, chain_id, &self.gtin, &self.serial, signature)
    }
}

/// Parses a scanned product code: a GS1 Digital Link with a GTIN (01), a serial (21), and
/// optionally a digital signature (`?8030=`), nothing else.
///
/// Everything a Digital Link can get wrong fails as in [`DigitalLink::parse`]. A well-formed
/// link that is not a product code fails with [`Error::NotAProductCode`]: another primary key
/// (SSCC, GLN, CPID), no serial, or extra identity or data (CPV `22`, lot `10`, expiry `17`,
/// other attributes) — the signature covers only chain, GTIN and serial, so a code must not
/// carry anything a forger could add unsigned.
pub fn parse_code(uri: &str) -> Result<ScannedCode, Error> {
    let link = DigitalLink::parse(uri)?;
    let not_code = |reason: String| Err(Error::NotAProductCode(reason));
    let gtin = match &link.key {
        PrimaryKey::Gtin(gtin) => *gtin,
        other => {
            let kind = match other {
                PrimaryKey::Sscc(_) => "an SSCC (00), a logistic unit",
                PrimaryKey::Gln(_) => "a GLN (414), a location",
                _ => "a CPID (8010), a part type",
            };
            return not_code(format!(
                "the link identifies {kind}; a product code is /01/{{gtin}}/21/{{serial}}"
            ));
        }
    };
    let Some(serial) = link.serial else {
        return not_code("the link has no serial (/21/{serial}) after the GTIN".into());
    };
    let extras = [
        ("a consumer product variant (22)", link.cpv.is_some()),
        ("a lot (10)", link.lot.is_some()),
        ("an expiry date (17)", link.expiry.is_some()),
        ("other data attributes", !link.other_attributes.is_empty()),
    ];
    if let Some((what, _)) = extras.iter().find(|(_, present)| *present) {
        return not_code(format!(
            "the link carries {what}; a product code holds only GTIN, serial and signature"
        ));
    }
    Ok(ScannedCode {
        resolver: link.resolver,
        gtin,
        serial,
        signature: link.signature,
    })
}

/// Parses a batch serial: a decimal integer without leading zeros (`"0"` itself is allowed)
/// that fits in a `u64`.
pub fn parse_serial(serial: &str) -> Result<u64, Error> {
    let bad = |reason| Error::BadField {
        kind: "serial (AI 21)",
        value: excerpt(serial),
        reason,
    };
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("must be a decimal number"));
    }
    if serial.len() > 1 && serial.starts_with('0') {
        return Err(bad("must not have leading zeros"));
    }
    serial.parse().map_err(|_| bad("is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = "jitrace-test";

    fn gtin() -> Gtin {
        Gtin::parse("09506000134352").unwrap()
    }

    fn key() -> SecretKey {
        SecretKey::from_seed(42)
    }

    #[test]
    fn message_layout_is_pinned() {
        let msg = code_message("c", &gtin(), "7");
        assert_eq!(
            hex::encode(&msg),
            "0001633039353036303030313334333532000137"
        );
        // GTIN-13 input is normalised to 14 digits first.
        assert_eq!(
            code_message("c", &Gtin::parse("9506000134352").unwrap(), "7"),
            msg
        );
    }

    #[test]
    fn message_is_injective_across_field_boundaries() {
        // Moving bytes between chain id and serial changes the message.
        let g = gtin();
        assert_ne!(code_message("ab", &g, "1"), code_message("a", &g, "b1"));
        assert_ne!(code_message("", &g, "12"), code_message("1", &g, "2"));
        assert_ne!(code_message("x", &g, ""), code_message("", &g, "x"));
    }

    #[test]
    fn round_trip() {
        let key = key();
        let sig = sign_code(&key, CHAIN, &gtin(), "1000001");
        assert_eq!(sig.len(), CODE_SIGNATURE_LEN);
        assert!(
            sig.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        verify_code(&key.public_key(), CHAIN, &gtin(), "1000001", &sig).unwrap();

        let uri = code_uri("https://id.jitrace.dev/", &gtin(), "1000001", &sig);
        assert_eq!(
            uri,
            format!("https://id.jitrace.dev/01/09506000134352/21/1000001?8030={sig}")
        );
        let scanned = parse_code(&uri).unwrap();
        assert_eq!(
            scanned,
            ScannedCode {
                resolver: "https://id.jitrace.dev".into(),
                gtin: gtin(),
                serial: "1000001".into(),
                signature: Some(sig.clone()),
            }
        );
        assert_eq!(scanned.serial_number(), Some(1_000_001));
        scanned.verify(&key.public_key(), CHAIN).unwrap();
    }

    #[test]
    fn tampering_fails_to_verify() {
        let key = key();
        let public = key.public_key();
        let sig = sign_code(&key, CHAIN, &gtin(), "42");
        let other_gtin = Gtin::parse("04006381333931").unwrap();
        let cases: [(&str, &Gtin, &str); 4] = [
            ("jitrace-other", &gtin(), "42"),
            (CHAIN, &other_gtin, "42"),
            (CHAIN, &gtin(), "43"),
            (CHAIN, &gtin(), "420"),
        ];
        for (chain, g, serial) in cases {
            assert_eq!(
                verify_code(&public, chain, g, serial, &sig),
                Err(Error::BadCodeSignature),
                "{chain} {g} {serial}"
            );
        }
        // One flipped character of the signature (still well-formed base64url).
        let mut flipped = sig.clone().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            verify_code(&public, CHAIN, &gtin(), "42", &flipped),
            Err(Error::BadCodeSignature)
        );
    }

    #[test]
    fn another_keys_signature_fails() {
        let sig = sign_code(&SecretKey::from_seed(43), CHAIN, &gtin(), "42");
        assert_eq!(
            verify_code(&key().public_key(), CHAIN, &gtin(), "42", &sig),
            Err(Error::BadCodeSignature)
        );
    }

    #[test]
    fn malformed_signatures_are_told_apart() {
        let public = key().public_key();
        let sig = sign_code(&key(), CHAIN, &gtin(), "42");
        let malformed = |s: &str| match verify_code(&public, CHAIN, &gtin(), "42", s) {
            Err(Error::BadEncoding { kind, reason }) => {
                assert_eq!(kind, "code signature");
                reason
            }
            other => panic!("{s:?}: expected a malformed signature, got {other:?}"),
        };
        assert!(malformed("").contains("86 characters"));
        assert!(malformed(&sig[..85]).contains("got 85"));
        assert!(malformed(&format!("{sig}A")).contains("got 87"));
        assert!(malformed(&format!("{}==", &sig[..84])).contains("base64url"));
        // Standard-alphabet characters are not base64url.
        let plus = format!("+{}", &sig[1..]);
        assert!(malformed(&plus).contains("base64url"));
        let slash = format!("{}/", &sig[..85]);
        assert!(malformed(&slash).contains("base64url"));
        assert!(malformed(&"é".repeat(43)).contains("base64url"));
        // 86 characters carry 516 bits for 512: the last character's low 4 bits must be zero,
        // so it is one of A, Q, g, w; any other last character is a non-canonical encoding.
        assert!(sig.ends_with(['A', 'Q', 'g', 'w']), "{sig}");
        let odd = format!("{}B", &sig[..85]);
        assert!(malformed(&odd).contains("base64url"));
    }

    #[test]
    fn signatures_are_domain_separated_from_transactions() {
        let key = key();
        let msg = code_message(CHAIN, &gtin(), "42");
        let tx_sig = key.sign(domain::TRANSACTION, &msg);
        assert_eq!(
            verify_code(
                &key.public_key(),
                CHAIN,
                &gtin(),
                "42",
                &URL_SAFE_NO_PAD.encode(tx_sig.0)
            ),
            Err(Error::BadCodeSignature)
        );
    }

    /// A fixed key and fixed inputs give a fixed signature, for cross-checking other verifiers
    /// (the browser's) against this one. The key is RFC 8032's test 1 key; the signature was
    /// computed independently with Python's `cryptography` (OpenSSL) over the bytes below.
    #[test]
    fn pinned_test_vector() {
        const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        // 0x0F ‖ "jitrace/v1/code" ‖ u16be(12) ‖ "jitrace-demo" ‖ "09506000134352" ‖
        // u16be(7) ‖ "1000001"
        const SIGNED_BYTES: &str = "0f6a6974726163652f76312f636f6465000c6a6974726163652d64656d6f\
                                    3039353036303030313334333532000731303030303031";
        const SIGNATURE: &str = "DYmws7saQJgJ3hOk_QMhrf0HX94Aw0BNcyjPDqFh3NqRUURYoG8Z8i0JI4J-\
                                 reLqwOORBVBxi6xzeQntZ_gMDg";

        let key = SecretKey::from_hex(SECRET).unwrap();
        assert_eq!(key.public_key().to_hex(), PUBLIC);
        let g = Gtin::parse("09506000134352").unwrap();
        let mut signed = vec![0x0f];
        signed.extend_from_slice(domain::PRODUCT_CODE);
        signed.extend_from_slice(&code_message("jitrace-demo", &g, "1000001"));
        assert_eq!(hex::encode(&signed), SIGNED_BYTES);

        let sig = sign_code(&key, "jitrace-demo", &g, "1000001");
        assert_eq!(sig, SIGNATURE);
        let public = PublicKey::from_hex(PUBLIC).unwrap();
        verify_code(&public, "jitrace-demo", &g, "1000001", SIGNATURE).unwrap();
        assert_eq!(
            code_uri("https://id.jitrace.dev", &g, "1000001", &sig),
            format!("https://id.jitrace.dev/01/09506000134352/21/1000001?8030={SIGNATURE}")
        );
    }

    #[test]
    fn parse_code_accepts_only_product_codes() {
        let sig = sign_code(&key(), CHAIN, &gtin(), "5");
        // No signature: parses, but does not verify.
        let unsigned = parse_code("https://id.jitrace.dev/01/09506000134352/21/5").unwrap();
        assert_eq!(unsigned.signature, None);
        assert!(matches!(
            unsigned.verify(&key().public_key(), CHAIN),
            Err(Error::BadEncoding { .. })
        ));
        // Resolver parameters such as linkType are not identity and are ignored.
        let with_link_type = parse_code(&format!(
            "https://id.jitrace.dev/01/09506000134352/21/5?linkType=gs1:pip&8030={sig}"
        ))
        .unwrap();
        with_link_type.verify(&key().public_key(), CHAIN).unwrap();

        let not_code = |uri: &str| match parse_code(uri) {
            Err(Error::NotAProductCode(m)) => m,
            other => panic!("{uri}: expected NotAProductCode, got {other:?}"),
        };
        assert!(not_code("https://x.example/00/106141411234567897").contains("SSCC"));
        assert!(not_code("https://x.example/414/9506000164908").contains("GLN"));
        assert!(not_code("https://x.example/8010/ABC/8011/1").contains("CPID"));
        assert!(not_code("https://x.example/01/09506000134352").contains("no serial"));
        assert!(not_code("https://x.example/01/09506000134352/10/L1/21/5").contains("lot"));
        assert!(not_code("https://x.example/01/09506000134352/22/V/21/5").contains("variant"));
        assert!(not_code("https://x.example/01/09506000134352/21/5?17=251231").contains("expiry"));
        assert!(not_code("https://x.example/01/09506000134352/21/5?3103=1").contains("other"));

        // Broken links keep the Digital Link parser's precise errors.
        assert!(matches!(
            parse_code("https://x.example/01/09506000134353/21/5"),
            Err(Error::BadCheckDigit { .. })
        ));
        assert!(matches!(
            parse_code("https://x.example/01/09506000134352/21/5?8030=a+b"),
            Err(Error::BadField { .. })
        ));
        assert!(matches!(
            parse_code("not a link"),
            Err(Error::DigitalLink(_))
        ));
    }

    #[test]
    fn serials() {
        assert_eq!(parse_serial("0"), Ok(0));
        assert_eq!(parse_serial("1000001"), Ok(1_000_001));
        assert_eq!(parse_serial("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "01",
            "00",
            "1a",
            "-1",
            "+1",
            " 1",
            "18446744073709551616",
        ] {
            assert!(parse_serial(bad).is_err(), "{bad:?}");
        }
    }
}
