//! GS1 identification keys (GTIN, GLN, SSCC) and validators for GS1 alphanumeric fields.

use core::fmt;
use core::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::Error;

/// Computes the GS1 mod-10 check digit of `digits`, which must NOT include the check digit.
///
/// Weights are 3, 1, 3, ... starting from the rightmost digit. Accepts ASCII digits
/// (`b"950600013435"`) or digit values (`&[9, 5, 0, ...]`); the result is a digit value `0..=9`.
/// Other bytes never panic but give a meaningless result, so validate before calling.
pub fn gs1_check_digit(digits: &[u8]) -> u8 {
    // Summing mod 10 at every step keeps the accumulator tiny whatever the input length.
    let sum = digits.iter().rev().enumerate().fold(0u8, |acc, (i, &b)| {
        let d = if b.is_ascii_digit() { b - b'0' } else { b % 10 };
        let weighted = if i % 2 == 0 { d * 3 } else { d };
        (acc + weighted) % 10
    });
    (10 - sum) % 10
}

/// Bound on how much of a rejected value an error echoes back, so hostile input stays small.
const ERR_VALUE_MAX: usize = 64;

/// The value to put in an error: the input itself, or its first characters followed by `…`.
pub(crate) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(ERR_VALUE_MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// Validates a numeric GS1 key of one of `lengths` digits, left-pads it with zeros to `N` digits
/// and checks its check digit.
fn parse_key<const N: usize>(
    kind: &'static str,
    expected: &'static str,
    lengths: &[usize],
    s: &str,
) -> Result<[u8; N], Error> {
    let bytes = s.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(Error::NotDigits {
            kind,
            value: excerpt(s),
        });
    }
    let pad = match N.checked_sub(bytes.len()) {
        Some(pad) if lengths.contains(&bytes.len()) => pad,
        _ => {
            return Err(Error::BadLength {
                kind,
                expected,
                got: bytes.len(),
            });
        }
    };
    let mut out = [b'0'; N];
    for (dst, src) in out.iter_mut().skip(pad).zip(bytes) {
        *dst = *src;
    }
    let (body, last) = match out.split_last() {
        Some((last, body)) => (body, *last),
        None => {
            return Err(Error::BadLength {
                kind,
                expected,
                got: bytes.len(),
            });
        }
    };
    let want = gs1_check_digit(body);
    let got = last - b'0';
    if want != got {
        return Err(Error::BadCheckDigit {
            kind,
            value: s.to_owned(),
            expected: want,
            got,
        });
    }
    Ok(out)
}

/// The shared surface of the fixed-width numeric keys: accessors, text and Borsh forms.
macro_rules! gs1_key {
    ($ty:ident, $n:literal) => {
        impl $ty {
            /// The key's digits as text.
            pub fn as_str(&self) -> &str {
                // Only ASCII digits are ever stored, so this never falls back.
                core::str::from_utf8(&self.0).unwrap_or_default()
            }

            /// The key's digits as ASCII bytes.
            pub fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }

            /// The check digit (the last digit) as a value `0..=9`.
            pub fn check_digit(&self) -> u8 {
                self.0[$n - 1] - b'0'
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        // Written by hand so that bytes from the wire are re-validated: a derived impl would
        // accept any 14/13/18 bytes as a key.
        impl BorshDeserialize for $ty {
            fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
                let bytes = <[u8; $n]>::deserialize_reader(reader)?;
                let invalid = |reason: String| {
                    borsh::io::Error::new(borsh::io::ErrorKind::InvalidData, reason)
                };
                let text = core::str::from_utf8(&bytes).map_err(|e| invalid(e.to_string()))?;
                Self::parse(text).map_err(|e| invalid(e.to_string()))
            }
        }
    };
}

/// A Global Trade Item Number, always stored as GTIN-14 (ASCII digits, check digit verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
pub struct Gtin([u8; 14]);

impl Gtin {
    /// Parses a GTIN-8, -12, -13 or -14 and normalises it to 14 digits by left-padding with zeros.
    pub fn parse(s: &str) -> Result<Self, Error> {
        parse_key::<14>("GTIN", "8, 12, 13 or 14", &[8, 12, 13, 14], s).map(Self)
    }
}
gs1_key!(Gtin, 14);

/// A Global Location Number (13 ASCII digits, check digit verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
pub struct Gln([u8; 13]);

impl Gln {
    /// Parses a 13-digit GLN.
    pub fn parse(s: &str) -> Result<Self, Error> {
        parse_key::<13>("GLN", "13", &[13], s).map(Self)
    }
}
gs1_key!(Gln, 13);

/// A Serial Shipping Container Code (18 ASCII digits, check digit verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
pub struct Sscc([u8; 18]);

impl Sscc {
    /// Parses an 18-digit SSCC.
    pub fn parse(s: &str) -> Result<Self, Error> {
        parse_key::<18>("SSCC", "18", &[18], s).map(Self)
    }
}
gs1_key!(Sscc, 18);

/// Whether `c` belongs to GS1 AI encodable character set 82.
pub fn is_cset82(c: char) -> bool {
    matches!(c, '!' | '"' | '%' | '&' | '\'' | '('..='?' | 'A'..='Z' | '_' | 'a'..='z')
}

/// Whether `c` belongs to GS1 AI encodable character set 39.
pub fn is_cset39(c: char) -> bool {
    matches!(c, '#' | '-' | '/' | '0'..='9' | 'A'..='Z')
}

/// Whether `c` belongs to GS1 AI encodable character set 64 (base64url), padding excluded.
fn is_cset64(c: char) -> bool {
    matches!(c, '-' | '0'..='9' | 'A'..='Z' | '_' | 'a'..='z')
}

/// Checks that `value` is 1..=`max` characters, each accepted by `allowed`.
fn check_field(
    kind: &'static str,
    value: &str,
    max: usize,
    too_long: &'static str,
    allowed: fn(char) -> bool,
    bad_char: &'static str,
) -> Result<(), Error> {
    let fail = |reason| {
        Err(Error::BadField {
            kind,
            value: excerpt(value),
            reason,
        })
    };
    if value.is_empty() {
        return fail("must not be empty");
    }
    if !value.chars().all(allowed) {
        return fail(bad_char);
    }
    // Every allowed character is ASCII, so bytes == characters here.
    if value.len() > max {
        return fail(too_long);
    }
    Ok(())
}

const NOT_CSET82: &str = "contains a character outside GS1 character set 82";

/// Validates a serial number (AI 21): 1–20 characters of GS1 character set 82.
pub fn validate_serial(s: &str) -> Result<(), Error> {
    check_field(
        "serial (AI 21)",
        s,
        20,
        "is longer than 20 characters",
        is_cset82,
        NOT_CSET82,
    )
}

/// Validates a batch/lot number (AI 10): 1–20 characters of GS1 character set 82.
pub fn validate_lot(s: &str) -> Result<(), Error> {
    check_field(
        "lot (AI 10)",
        s,
        20,
        "is longer than 20 characters",
        is_cset82,
        NOT_CSET82,
    )
}

/// Validates a consumer product variant (AI 22): 1–20 characters of GS1 character set 82.
pub fn validate_cpv(s: &str) -> Result<(), Error> {
    check_field(
        "CPV (AI 22)",
        s,
        20,
        "is longer than 20 characters",
        is_cset82,
        NOT_CSET82,
    )
}

/// Validates a GLN extension component (AI 254): 1–20 characters of GS1 character set 82.
pub fn validate_gln_extension(s: &str) -> Result<(), Error> {
    check_field(
        "GLN extension (AI 254)",
        s,
        20,
        "is longer than 20 characters",
        is_cset82,
        NOT_CSET82,
    )
}

/// Validates a Component/Part Identifier (AI 8010): 1–30 characters of GS1 character set 39
/// (digits, upper-case `A`–`Z`, `#`, `-`, `/`).
pub fn validate_cpid(s: &str) -> Result<(), Error> {
    check_field(
        "CPID (AI 8010)",
        s,
        30,
        "is longer than 30 characters",
        is_cset39,
        "contains a character outside GS1 character set 39 (0-9, A-Z, #, -, /)",
    )
}

/// Validates a CPID serial number (AI 8011): 1–12 digits.
pub fn validate_cpid_serial(s: &str) -> Result<(), Error> {
    check_field(
        "CPID serial (AI 8011)",
        s,
        12,
        "is longer than 12 digits",
        |c| c.is_ascii_digit(),
        "must contain only digits",
    )
}

/// Validates an expiration date (AI 17): `YYMMDD`, month 01–12, day 00–31 within the month.
///
/// Day `00` means "end of month" per the GS1 General Specifications. February 29 is accepted in
/// every year divisible by 4: resolving `YY` to a century needs today's date, which this pure
/// function does not have.
pub fn validate_expiry(s: &str) -> Result<(), Error> {
    const KIND: &str = "expiry date (AI 17)";
    let fail = |reason| {
        Err(Error::BadField {
            kind: KIND,
            value: excerpt(s),
            reason,
        })
    };
    let &[y1, y2, m1, m2, d1, d2] = s.as_bytes() else {
        return fail("must be 6 digits YYMMDD");
    };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return fail("must be 6 digits YYMMDD");
    }
    let two = |hi: u8, lo: u8| (hi - b'0') * 10 + (lo - b'0');
    let (yy, mm, dd) = (two(y1, y2), two(m1, m2), two(d1, d2));
    let days = match mm {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if yy % 4 == 0 => 29,
        2 => 28,
        _ => return fail("month must be 01-12"),
    };
    if dd > days {
        return fail("day does not exist in that month");
    }
    Ok(())
}

/// Jitrace's bound on a digital signature (AI 8030) in text form.
pub const DIGITAL_SIGNATURE_MAX: usize = 100;

/// Validates a digital signature (AI 8030) as Jitrace carries it: 1–100 characters of base64url
/// (GS1 character set 64), with at most two trailing `=` padding characters.
pub fn validate_digital_signature(s: &str) -> Result<(), Error> {
    const KIND: &str = "digital signature (AI 8030)";
    let body = s
        .strip_suffix("==")
        .or_else(|| s.strip_suffix('='))
        .unwrap_or(s);
    check_field(
        KIND,
        body,
        DIGITAL_SIGNATURE_MAX,
        "is longer than 100 characters",
        is_cset64,
        "must be base64url (A-Z, a-z, 0-9, -, _) with at most two trailing '='",
    )
    // Report the whole input, not the stripped body.
    .map_err(|e| match e {
        Error::BadField { kind, reason, .. } => Error::BadField {
            kind,
            value: excerpt(s),
            reason,
        },
        other => other,
    })?;
    if s.len() > DIGITAL_SIGNATURE_MAX {
        return Err(Error::BadField {
            kind: KIND,
            value: excerpt(s),
            reason: "is longer than 100 characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_of_known_keys() {
        assert_eq!(gs1_check_digit(b"0950600013435"), 2);
        assert_eq!(gs1_check_digit(b"400638133393"), 1);
        assert_eq!(gs1_check_digit(b"03600029145"), 2);
        assert_eq!(gs1_check_digit(b"9638507"), 4);
        assert_eq!(gs1_check_digit(b"10614141123456789"), 7);
        assert_eq!(gs1_check_digit(b"950600016490"), 8);
        // Digit values work the same as ASCII digits.
        assert_eq!(gs1_check_digit(&[4, 0, 0, 6, 3, 8, 1, 3, 3, 3, 9, 3]), 1);
        assert_eq!(gs1_check_digit(b""), 0);
        assert_eq!(gs1_check_digit(b"0000000"), 0);
        // Arbitrary bytes must not panic.
        let _ = gs1_check_digit(&[0xff; 1000]);
    }

    #[test]
    fn gtin_accepts_all_lengths_and_normalises() {
        let g14 = Gtin::parse("09506000134352").unwrap();
        assert_eq!(g14.as_str(), "09506000134352");
        assert_eq!(g14.check_digit(), 2);

        let g13 = Gtin::parse("4006381333931").unwrap();
        assert_eq!(g13.as_str(), "04006381333931");
        assert_eq!(g13.to_string(), "04006381333931");

        let upc = Gtin::parse("036000291452").unwrap();
        assert_eq!(upc.as_str(), "00036000291452");

        let g8 = Gtin::parse("96385074").unwrap();
        assert_eq!(g8.as_str(), "00000096385074");

        // The GTIN-13 and its GTIN-14 form are the same key.
        assert_eq!(Gtin::parse("9506000134352").unwrap(), g14);
        assert_eq!("09506000134352".parse::<Gtin>().unwrap(), g14);
    }

    #[test]
    fn gtin_rejects_bad_input() {
        assert_eq!(
            Gtin::parse("09506000134353"),
            Err(Error::BadCheckDigit {
                kind: "GTIN",
                value: "09506000134353".into(),
                expected: 2,
                got: 3
            })
        );
        assert!(matches!(
            Gtin::parse("4006381333932"),
            Err(Error::BadCheckDigit {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(matches!(
            Gtin::parse("0950600013435A"),
            Err(Error::NotDigits { .. })
        ));
        assert!(matches!(
            Gtin::parse(" 9506000134352"),
            Err(Error::NotDigits { .. })
        ));
        assert!(matches!(
            Gtin::parse("９５０６"),
            Err(Error::NotDigits { .. })
        ));
        for bad in [
            "",
            "1",
            "1234567",
            "123456789",
            "12345678901",
            "123456789012345",
        ] {
            assert!(
                matches!(Gtin::parse(bad), Err(Error::BadLength { got, .. }) if got == bad.len()),
                "{bad}"
            );
        }
    }

    #[test]
    fn gln_and_sscc() {
        let gln = Gln::parse("9506000164908").unwrap();
        assert_eq!(gln.as_str(), "9506000164908");
        assert_eq!(gln.check_digit(), 8);
        assert!(matches!(
            Gln::parse("9506000164909"),
            Err(Error::BadCheckDigit { .. })
        ));
        assert!(matches!(
            Gln::parse("09506000164908"),
            Err(Error::BadLength { got: 14, .. })
        ));
        assert!(matches!(
            Gln::parse("950600016490X"),
            Err(Error::NotDigits { .. })
        ));

        let sscc = Sscc::parse("106141411234567897").unwrap();
        assert_eq!(sscc.to_string(), "106141411234567897");
        assert_eq!(sscc.check_digit(), 7);
        assert!(matches!(
            Sscc::parse("106141411234567890"),
            Err(Error::BadCheckDigit {
                expected: 7,
                got: 0,
                ..
            })
        ));
        assert!(matches!(
            Sscc::parse("06141411234567897"),
            Err(Error::BadLength { .. })
        ));
    }

    #[test]
    fn borsh_round_trip_and_validation() {
        let g = Gtin::parse("4006381333931").unwrap();
        let bytes = borsh::to_vec(&g).unwrap();
        assert_eq!(bytes, b"04006381333931");
        assert_eq!(borsh::from_slice::<Gtin>(&bytes).unwrap(), g);

        let err = borsh::from_slice::<Gtin>(b"04006381333932").unwrap_err();
        assert_eq!(err.kind(), borsh::io::ErrorKind::InvalidData);
        assert!(borsh::from_slice::<Gtin>(b"0400638133393X").is_err());
        assert!(borsh::from_slice::<Gtin>(&[0xff; 14]).is_err());
        assert!(borsh::from_slice::<Gtin>(b"0400").is_err());

        let gln = Gln::parse("9506000164908").unwrap();
        assert_eq!(
            borsh::from_slice::<Gln>(&borsh::to_vec(&gln).unwrap()).unwrap(),
            gln
        );
        assert!(borsh::from_slice::<Gln>(b"9506000164909").is_err());

        let sscc = Sscc::parse("106141411234567897").unwrap();
        assert_eq!(
            borsh::from_slice::<Sscc>(&borsh::to_vec(&sscc).unwrap()).unwrap(),
            sscc
        );
        assert!(borsh::from_slice::<Sscc>(b"106141411234567898").is_err());
    }

    #[test]
    fn cset82_fields() {
        for ok in [
            "1",
            "ABC123",
            "abc-._/:;<=>?",
            "!\"%&'()*+,Zz09",
            "12345678901234567890",
        ] {
            validate_serial(ok).unwrap();
            validate_lot(ok).unwrap();
            validate_cpv(ok).unwrap();
            validate_gln_extension(ok).unwrap();
        }
        let too_long = "123456789012345678901";
        for f in [
            validate_serial,
            validate_lot,
            validate_cpv,
            validate_gln_extension,
        ] {
            assert!(matches!(
                f(""),
                Err(Error::BadField {
                    reason: "must not be empty",
                    ..
                })
            ));
            assert!(matches!(f(too_long), Err(Error::BadField { .. })));
            for bad in [
                "a b", "a#b", "a@b", "a~b", "a\\b", "é", "a\nb", "a[b", "a`b", "a{b",
            ] {
                assert!(matches!(f(bad), Err(Error::BadField { .. })), "{bad:?}");
            }
        }
        assert_eq!(
            validate_serial("a b"),
            Err(Error::BadField {
                kind: "serial (AI 21)",
                value: "a b".into(),
                reason: NOT_CSET82
            })
        );
    }

    #[test]
    fn cpid_fields() {
        validate_cpid("ABC123").unwrap();
        validate_cpid("A#-/9").unwrap();
        validate_cpid(&"A".repeat(30)).unwrap();
        assert!(validate_cpid(&"A".repeat(31)).is_err());
        assert!(validate_cpid("abc").is_err());
        assert!(validate_cpid("A.B").is_err());
        assert!(validate_cpid("").is_err());

        validate_cpid_serial("123456").unwrap();
        validate_cpid_serial("123456789012").unwrap();
        assert!(validate_cpid_serial("1234567890123").is_err());
        assert!(validate_cpid_serial("12A").is_err());
        assert!(validate_cpid_serial("").is_err());
    }

    #[test]
    fn expiry_dates() {
        for ok in ["201225", "240229", "250100", "251231", "250430", "000101"] {
            validate_expiry(ok).unwrap();
        }
        for bad in [
            "20122", "2012250", "20A225", "201325", "200025", "250431", "250229", "250132",
        ] {
            assert!(validate_expiry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digital_signatures() {
        validate_digital_signature("abc-_XYZ09").unwrap();
        validate_digital_signature("QUJD").unwrap();
        validate_digital_signature("QUI=").unwrap();
        validate_digital_signature("QQ==").unwrap();
        validate_digital_signature(&"A".repeat(100)).unwrap();
        for bad in ["", "=", "a+b", "a/b", "a=b", "QQ===", "a b"] {
            assert!(validate_digital_signature(bad).is_err(), "{bad:?}");
        }
        assert!(validate_digital_signature(&"A".repeat(101)).is_err());
        assert!(validate_digital_signature(&format!("{}==", "A".repeat(99))).is_err());
    }

    #[test]
    fn long_values_are_truncated_in_errors() {
        let long = "x".repeat(10_000);
        match validate_serial(&long) {
            Err(Error::BadField { value, .. }) => assert!(value.chars().count() <= 65),
            other => panic!("unexpected {other:?}"),
        }
    }
}
