//! GS1 Digital Link URIs (URI syntax 1.x, uncompressed form): parsing and canonical formatting.
//!
//! Supported primary keys and their key qualifiers, in the standard's order:
//!
//! | key            | qualifiers                       |
//! |----------------|----------------------------------|
//! | `01` GTIN      | `22` CPV, `10` lot, `21` serial  |
//! | `00` SSCC      | —                                |
//! | `414` GLN      | `254` GLN extension              |
//! | `8010` CPID    | `8011` CPID serial               |
//!
//! Query-string parameters whose key is all digits are GS1 data attributes: `17` (expiry) and
//! `8030` (digital signature) get their own fields, any other AI lands in
//! [`DigitalLink::other_attributes`]. Parameters whose key is not all digits (`linkType`,
//! `context`, tracking parameters, ...) are resolver instructions, not identity, so they are
//! ignored and do not survive a parse/format round trip.

use core::fmt;
use core::str::FromStr;

use crate::error::Error;
use crate::gs1::{
    Gln, Gtin, Sscc, excerpt, is_cset82, validate_cpid, validate_cpid_serial, validate_cpv,
    validate_digital_signature, validate_expiry, validate_gln_extension, validate_lot,
    validate_serial,
};

/// The identification key a Digital Link is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PrimaryKey {
    /// AI `01`.
    Gtin(Gtin),
    /// AI `00`.
    Sscc(Sscc),
    /// AI `414`.
    Gln(Gln),
    /// AI `8010`, Component/Part Identifier (GS1 character set 39).
    Cpid(String),
}

impl PrimaryKey {
    /// The key's Application Identifier, e.g. `"01"`.
    pub fn ai(&self) -> &'static str {
        match self {
            Self::Gtin(_) => "01",
            Self::Sscc(_) => "00",
            Self::Gln(_) => "414",
            Self::Cpid(_) => "8010",
        }
    }

    /// The key's value as it appears in the URI (GTINs as 14 digits).
    pub fn value(&self) -> &str {
        match self {
            Self::Gtin(g) => g.as_str(),
            Self::Sscc(s) => s.as_str(),
            Self::Gln(g) => g.as_str(),
            Self::Cpid(c) => c,
        }
    }

    /// Validates the key's value (only a CPID can hold an invalid value).
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Self::Cpid(c) => validate_cpid(c),
            _ => Ok(()),
        }
    }
}

/// A parsed GS1 Digital Link URI.
///
/// Build one with [`DigitalLink::parse`] or [`DigitalLink::item`]; fields are public, so call
/// [`DigitalLink::validate`] after editing them by hand.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DigitalLink {
    /// Scheme, host and optional path prefix, without a trailing `/`, e.g.
    /// `"https://id.jitrace.dev"`; empty for a bare path such as `/01/...`. Kept as written
    /// (not percent-decoded) so that formatting reproduces it.
    pub resolver: String,
    /// The primary key.
    pub key: PrimaryKey,
    /// AI 22, consumer product variant (GTIN only).
    pub cpv: Option<String>,
    /// AI 10, batch/lot (GTIN only).
    pub lot: Option<String>,
    /// AI 21, serial number (GTIN only).
    pub serial: Option<String>,
    /// AI 254, GLN extension component (GLN only).
    pub gln_extension: Option<String>,
    /// AI 8011, CPID serial number (CPID only).
    pub cpid_serial: Option<String>,
    /// AI 17, expiration date `YYMMDD` (query string).
    pub expiry: Option<String>,
    /// AI 8030, digital signature as base64url text (query string).
    pub signature: Option<String>,
    /// Every other data attribute of the query string as `(ai, value)`, sorted by numeric AI.
    pub other_attributes: Vec<(String, String)>,
}

/// Key qualifiers in the order the standard requires them after their primary key.
const GTIN_QUALIFIERS: &[&str] = &["22", "10", "21"];
const SSCC_QUALIFIERS: &[&str] = &[];
const GLN_QUALIFIERS: &[&str] = &["254"];
const CPID_QUALIFIERS: &[&str] = &["8011"];

const PRIMARY_AIS: &[&str] = &["01", "00", "414", "8010"];
const QUALIFIER_AIS: &[&str] = &["22", "10", "21", "254", "8011"];

/// Longest value any GS1 AI allows; bounds the otherwise unchecked `other_attributes`.
const AI_VALUE_MAX: usize = 90;

fn is_primary_ai(s: &str) -> bool {
    PRIMARY_AIS.contains(&s)
}

fn is_qualifier_ai(s: &str) -> bool {
    QUALIFIER_AIS.contains(&s)
}

/// A syntactic AI: two to four digits.
fn looks_like_ai(s: &str) -> bool {
    (2..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn ai_name(ai: &str) -> &'static str {
    match ai {
        "01" => "GTIN",
        "00" => "SSCC",
        "414" => "GLN",
        "8010" => "CPID",
        "22" => "CPV",
        "10" => "lot",
        "21" => "serial",
        "254" => "GLN extension",
        "8011" => "CPID serial",
        "17" => "expiry date",
        "8030" => "digital signature",
        _ => "attribute",
    }
}

fn qualifiers_of(key_ai: &str) -> &'static [&'static str] {
    match key_ai {
        "01" => GTIN_QUALIFIERS,
        "00" => SSCC_QUALIFIERS,
        "414" => GLN_QUALIFIERS,
        "8010" => CPID_QUALIFIERS,
        _ => &[],
    }
}

/// A field validator from [`crate::gs1`].
type FieldCheck = fn(&str) -> Result<(), Error>;

fn dl_err(msg: String) -> Error {
    Error::DigitalLink(msg)
}

/// Numeric sort key for AIs; the text breaks ties so that the order is total.
fn ai_order(ai: &str) -> (u32, &str) {
    (ai.parse().unwrap_or(u32::MAX), ai)
}

/// Decodes `%XX` escapes; the result must be UTF-8. `what` names the part for error messages.
fn percent_decode(s: &str, what: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|h| (*h as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    // Two hex digits are at most 0xFF, so the cast is lossless.
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                }
                _ => {
                    return Err(dl_err(format!(
                        "{what} {:?} has a '%' not followed by two hex digits",
                        excerpt(s)
                    )));
                }
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| dl_err(format!("{what} {:?} does not decode to UTF-8", excerpt(s))))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, which covers every GS1
/// character the Digital Link standard requires to be escaped (`/ ? # % & " < > ...`).
fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0x0f] {
                out.push(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        }
    }
}

/// Splits `https://host/path` into (`https://host`, `/path`), or a bare `/path` into ("", `/path`).
fn split_origin(s: &str) -> Result<(&str, &str), Error> {
    let scheme_len = ["https://", "http://"]
        .iter()
        .find(|p| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
        .map(|p| p.len());
    let Some(scheme_len) = scheme_len else {
        if s.starts_with('/') {
            return Ok(("", s));
        }
        return Err(dl_err(format!(
            "{:?} must start with https://, http:// or '/'",
            excerpt(s)
        )));
    };
    let rest = s.get(scheme_len..).unwrap_or_default();
    let host_len = rest.find('/').unwrap_or(rest.len());
    let host = rest.get(..host_len).unwrap_or_default();
    if host.is_empty() {
        return Err(dl_err("the URI has no host".into()));
    }
    // Host names, IPv4, bracketed IPv6 and a port; no user-info.
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']'))
    {
        return Err(dl_err(format!("invalid host {:?}", excerpt(host))));
    }
    if host_len == rest.len() {
        return Err(dl_err("the URI has no path, so no primary key".into()));
    }
    let origin_len = scheme_len + host_len;
    Ok((
        s.get(..origin_len).unwrap_or_default(),
        s.get(origin_len..).unwrap_or_default(),
    ))
}

/// Explains why no primary key could be located in `segs` (scanning right to left failed).
fn diagnose_path(segs: &[&str]) -> Error {
    if let Some(last) = segs.last()
        && (is_primary_ai(last) || is_qualifier_ai(last))
    {
        return dl_err(format!(
            "/{last} ({}) at the end of the path has no value",
            ai_name(last)
        ));
    }
    // Walk forward from the leftmost primary key to find the first pair that breaks the grammar.
    if let Some(start) = segs.iter().position(|s| is_primary_ai(s))
        && let Some(&key) = segs.get(start)
    {
        let mut i = start + 2;
        while let Some(&ai) = segs.get(i) {
            if segs.get(i + 1).is_none() {
                return dl_err(format!(
                    "segment '/{}' after /{key} is left over: path segments after the primary \
                     key must come in AI/value pairs",
                    excerpt(ai)
                ));
            }
            if !is_qualifier_ai(ai) {
                return dl_err(format!(
                    "segment '/{}' after /{key} is not a key qualifier of {} (allowed: {})",
                    excerpt(ai),
                    ai_name(key),
                    allowed_list(key)
                ));
            }
            i += 2;
        }
    }
    // Re-run the right-to-left scan to report where it stopped.
    let mut last_qualifier = None;
    let mut stop = None;
    for pair in segs.rchunks_exact(2) {
        match pair {
            [ai, _] if is_qualifier_ai(ai) => last_qualifier = Some(*ai),
            [ai, _] => {
                stop = Some(*ai);
                break;
            }
            _ => break,
        }
    }
    if let Some(ai) = stop
        && looks_like_ai(ai)
    {
        return dl_err(format!(
            "/{ai} is not a supported primary key or key qualifier (primary keys: 01 GTIN, \
             00 SSCC, 414 GLN, 8010 CPID)"
        ));
    }
    if let Some(q) = last_qualifier {
        return dl_err(format!(
            "key qualifier /{q} ({}) has no primary key before it",
            ai_name(q)
        ));
    }
    dl_err("no GS1 primary key (01, 00, 414 or 8010) found in the path".into())
}

fn allowed_list(key_ai: &str) -> String {
    let q = qualifiers_of(key_ai);
    if q.is_empty() {
        "none".into()
    } else {
        q.join(", ")
    }
}

impl DigitalLink {
    /// A link to one serialised trade item: `{resolver}/01/{gtin}/21/{serial}`.
    ///
    /// Trailing `/` of `resolver` are dropped. The serial is not checked here; see
    /// [`DigitalLink::validate`].
    pub fn item(resolver: impl Into<String>, gtin: Gtin, serial: impl Into<String>) -> Self {
        let mut resolver = resolver.into();
        resolver.truncate(resolver.trim_end_matches('/').len());
        Self {
            resolver,
            key: PrimaryKey::Gtin(gtin),
            cpv: None,
            lot: None,
            serial: Some(serial.into()),
            gln_extension: None,
            cpid_serial: None,
            expiry: None,
            signature: None,
            other_attributes: Vec::new(),
        }
    }

    /// The same link carrying digital signature `sig` (AI 8030).
    pub fn with_signature(mut self, sig: impl Into<String>) -> Self {
        self.signature = Some(sig.into());
        self
    }

    /// The GTIN and serial if this link identifies one serialised trade item.
    pub fn gtin_serial(&self) -> Option<(Gtin, &str)> {
        match (&self.key, &self.serial) {
            (PrimaryKey::Gtin(g), Some(s)) => Some((*g, s.as_str())),
            _ => None,
        }
    }

    /// Parses an uncompressed GS1 Digital Link URI: `http(s)://host[/prefix...]/key/value[/q/v...]
    /// [?ai=value&...]`, or a bare path starting with `/`.
    ///
    /// The primary key is located by scanning the path from the right, pair by pair, as the
    /// standard prescribes; anything before it is a resolver path prefix kept in `resolver`.
    /// Non-numeric query parameters are ignored (see the module docs).
    pub fn parse(uri: &str) -> Result<Self, Error> {
        if uri.contains('#') {
            return Err(dl_err(
                "a fragment ('#') is not allowed; percent-encode '#' in values as %23".into(),
            ));
        }
        let (before_query, query) = match uri.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (uri, None),
        };
        let (origin, path) = split_origin(before_query)?;
        // `path` starts with '/', so the first split piece is the empty text before it.
        let segs: Vec<&str> = path.split('/').skip(1).collect();
        if segs.last().is_some_and(|s| s.is_empty()) {
            return Err(dl_err("the path must not end with '/'".into()));
        }
        if let Some(pos) = segs.iter().position(|s| s.is_empty()) {
            return Err(dl_err(format!(
                "empty path segment (\"//\") at position {}",
                pos + 1
            )));
        }

        // Scan right to left in AI/value pairs until a primary key is found.
        let mut end = segs.len();
        let key_at = loop {
            let Some(ai) = end.checked_sub(2).and_then(|i| segs.get(i)) else {
                return Err(diagnose_path(&segs));
            };
            if is_primary_ai(ai) {
                break end - 2;
            }
            if !is_qualifier_ai(ai) {
                return Err(diagnose_path(&segs));
            }
            end -= 2;
        };
        let Some((prefix, [key_ai, key_raw, qualifier_segs @ ..])) = segs.split_at_checked(key_at)
        else {
            // Unreachable: the scan above stopped on a whole key/value pair.
            return Err(diagnose_path(&segs));
        };
        let (key_ai, key_raw) = (*key_ai, *key_raw);

        // A GS1-looking pair just before the key means qualifiers in front of it or two keys.
        if let Some(prev) = key_at.checked_sub(2).and_then(|i| segs.get(i))
            && (is_primary_ai(prev) || is_qualifier_ai(prev))
        {
            return Err(dl_err(format!(
                "/{prev} ({}) comes before the primary key /{key_ai}: a link has one primary \
                 key and its qualifiers follow it",
                ai_name(prev)
            )));
        }

        let key_value = percent_decode(key_raw, &format!("value of /{key_ai}"))?;
        let key = match key_ai {
            "01" => PrimaryKey::Gtin(Gtin::parse(&key_value)?),
            "00" => PrimaryKey::Sscc(Sscc::parse(&key_value)?),
            "414" => PrimaryKey::Gln(Gln::parse(&key_value)?),
            _ => {
                validate_cpid(&key_value)?;
                PrimaryKey::Cpid(key_value)
            }
        };

        let mut resolver = String::from(origin);
        for seg in prefix {
            resolver.push('/');
            resolver.push_str(seg);
        }

        let mut link = Self {
            resolver,
            key,
            cpv: None,
            lot: None,
            serial: None,
            gln_extension: None,
            cpid_serial: None,
            expiry: None,
            signature: None,
            other_attributes: Vec::new(),
        };

        // Qualifiers: allowed for this key, each at most once, in the standard's order.
        let allowed = qualifiers_of(key_ai);
        let mut next_rank = 0;
        for pair in qualifier_segs.chunks(2) {
            let [ai, raw] = pair else {
                // Unreachable: the scan above only stops on whole pairs.
                return Err(dl_err("path segments must come in AI/value pairs".into()));
            };
            let Some(rank) = allowed.iter().position(|q| q == ai) else {
                return Err(dl_err(format!(
                    "/{ai} ({}) is not a key qualifier of /{key_ai} ({}); allowed: {}",
                    ai_name(ai),
                    ai_name(key_ai),
                    allowed_list(key_ai)
                )));
            };
            if rank < next_rank {
                let prev = allowed.get(next_rank - 1).copied().unwrap_or_default();
                return Err(dl_err(if rank + 1 == next_rank {
                    format!("duplicate key qualifier /{ai} ({})", ai_name(ai))
                } else {
                    format!(
                        "key qualifier /{ai} ({}) must come before /{prev} ({}); the order \
                         after /{key_ai} is {}",
                        ai_name(ai),
                        ai_name(prev),
                        allowed_list(key_ai)
                    )
                }));
            }
            next_rank = rank + 1;
            let value = percent_decode(raw, &format!("value of /{ai}"))?;
            let slot = match *ai {
                "22" => &mut link.cpv,
                "10" => &mut link.lot,
                "21" => &mut link.serial,
                "254" => &mut link.gln_extension,
                _ => &mut link.cpid_serial,
            };
            *slot = Some(value);
        }

        if let Some(query) = query {
            link.parse_query(query)?;
        }
        link.validate_fields()?;
        Ok(link)
    }

    /// Reads the query string's GS1 data attributes into `self`.
    fn parse_query(&mut self, query: &str) -> Result<(), Error> {
        for param in query.split('&') {
            let (raw_key, raw_value) = param.split_once('=').unwrap_or((param, ""));
            // Only all-digit keys are AIs; the rest are resolver parameters such as linkType.
            if raw_key.is_empty() || !raw_key.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let ai = raw_key;
            if !looks_like_ai(ai) {
                return Err(dl_err(format!(
                    "query parameter {:?} is not a GS1 Application Identifier (2 to 4 digits)",
                    excerpt(ai)
                )));
            }
            if is_primary_ai(ai) || is_qualifier_ai(ai) {
                return Err(dl_err(format!(
                    "AI {ai} ({}) is a key or key qualifier and belongs in the path, not the \
                     query string",
                    ai_name(ai)
                )));
            }
            if raw_value.is_empty() {
                return Err(dl_err(format!(
                    "query attribute {ai} ({}) has no value",
                    ai_name(ai)
                )));
            }
            let value = percent_decode(raw_value, &format!("value of query attribute {ai}"))?;
            let slot = match ai {
                "17" => &mut self.expiry,
                "8030" => &mut self.signature,
                _ => {
                    // Duplicates are caught after sorting, in `validate_fields`.
                    self.other_attributes.push((ai.to_owned(), value));
                    continue;
                }
            };
            if slot.is_some() {
                return Err(dl_err(format!(
                    "duplicate query attribute {ai} ({})",
                    ai_name(ai)
                )));
            }
            *slot = Some(value);
        }
        // Canonical order, so that parse(to_uri(x)) == x.
        self.other_attributes
            .sort_by(|a, b| ai_order(&a.0).cmp(&ai_order(&b.0)));
        Ok(())
    }

    /// Checks every field against its GS1 rules, that each qualifier suits the primary key,
    /// that `other_attributes` is sorted, and that `resolver` survives formatting. When this
    /// passes, `DigitalLink::parse(&link.to_uri()) == Ok(link)`.
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_fields()?;
        // The resolver is free text; the cheapest exact test is to format and parse back.
        match Self::parse(&self.to_uri()) {
            Ok(back) if back.resolver == self.resolver => Ok(()),
            _ => Err(dl_err(format!(
                "resolver {:?} must be empty or http(s)://host[/path prefix] without a trailing \
                 '/', query, fragment or GS1 key segments",
                excerpt(&self.resolver)
            ))),
        }
    }

    /// Everything [`DigitalLink::validate`] checks except the resolver.
    fn validate_fields(&self) -> Result<(), Error> {
        self.key.validate()?;
        let key_ai = self.key.ai();
        let allowed = qualifiers_of(key_ai);
        let qualifiers: [(&str, &Option<String>, FieldCheck); 5] = [
            ("22", &self.cpv, validate_cpv),
            ("10", &self.lot, validate_lot),
            ("21", &self.serial, validate_serial),
            ("254", &self.gln_extension, validate_gln_extension),
            ("8011", &self.cpid_serial, validate_cpid_serial),
        ];
        for (ai, value, check) in qualifiers {
            if let Some(v) = value {
                if !allowed.contains(&ai) {
                    return Err(dl_err(format!(
                        "/{ai} ({}) is not a key qualifier of /{key_ai} ({}); allowed: {}",
                        ai_name(ai),
                        ai_name(key_ai),
                        allowed_list(key_ai)
                    )));
                }
                check(v)?;
            }
        }
        if let Some(e) = &self.expiry {
            validate_expiry(e)?;
        }
        if let Some(s) = &self.signature {
            validate_digital_signature(s)?;
        }
        for (i, (ai, value)) in self.other_attributes.iter().enumerate() {
            if !looks_like_ai(ai) {
                return Err(dl_err(format!(
                    "attribute {:?} is not a GS1 Application Identifier (2 to 4 digits)",
                    excerpt(ai)
                )));
            }
            if matches!(ai.as_str(), "17" | "8030") || is_primary_ai(ai) || is_qualifier_ai(ai) {
                return Err(dl_err(format!(
                    "AI {ai} ({}) has its own field and must not be in other_attributes",
                    ai_name(ai)
                )));
            }
            // Sorted and unique: checking neighbours is enough, and keeps this linear.
            if let Some(prev) = i.checked_sub(1).and_then(|p| self.other_attributes.get(p)) {
                match ai_order(&prev.0).cmp(&ai_order(ai)) {
                    core::cmp::Ordering::Less => {}
                    core::cmp::Ordering::Equal => {
                        return Err(dl_err(format!("duplicate query attribute {ai}")));
                    }
                    core::cmp::Ordering::Greater => {
                        return Err(dl_err(format!(
                            "other_attributes must be in ascending AI order: {} before {ai}",
                            prev.0
                        )));
                    }
                }
            }
            let reason = if value.is_empty() {
                Some("must not be empty")
            } else if !value.chars().all(is_cset82) {
                Some("contains a character outside GS1 character set 82")
            } else if value.len() > AI_VALUE_MAX {
                Some("is longer than 90 characters")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::BadField {
                    kind: "query attribute",
                    value: excerpt(value),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// The canonical URI: `{resolver}/{key}/{value}[/{qualifier}/{value}...][?{ai}={value}&...]`,
    /// GTINs as 14 digits, qualifiers in the standard's order, attributes in ascending AI order,
    /// every non-unreserved character percent-encoded.
    pub fn to_uri(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str(self.resolver.trim_end_matches('/'));
        let mut push_pair = |ai: &str, value: &str| {
            out.push('/');
            out.push_str(ai);
            out.push('/');
            percent_encode(value, &mut out);
        };
        push_pair(self.key.ai(), self.key.value());
        let qualifiers = [
            ("22", &self.cpv),
            ("10", &self.lot),
            ("21", &self.serial),
            ("254", &self.gln_extension),
            ("8011", &self.cpid_serial),
        ];
        for (ai, value) in qualifiers {
            if let Some(v) = value {
                push_pair(ai, v);
            }
        }

        let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(2 + self.other_attributes.len());
        if let Some(e) = &self.expiry {
            attrs.push(("17", e));
        }
        if let Some(s) = &self.signature {
            attrs.push(("8030", s));
        }
        attrs.extend(
            self.other_attributes
                .iter()
                .map(|(a, v)| (a.as_str(), v.as_str())),
        );
        attrs.sort_by(|a, b| ai_order(a.0).cmp(&ai_order(b.0)));
        for (i, (ai, value)) in attrs.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            percent_encode(ai, &mut out);
            out.push('=');
            percent_encode(value, &mut out);
        }
        out
    }
}

impl fmt::Display for DigitalLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

impl FromStr for DigitalLink {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtin(s: &str) -> Gtin {
        Gtin::parse(s).unwrap()
    }

    fn dl_error(uri: &str) -> String {
        match DigitalLink::parse(uri) {
            Err(Error::DigitalLink(msg)) => msg,
            other => panic!("{uri}: expected a DigitalLink error, got {other:?}"),
        }
    }

    fn round_trip(link: &DigitalLink) {
        let uri = link.to_uri();
        assert_eq!(&DigitalLink::parse(&uri).unwrap(), link, "{uri}");
        assert_eq!(DigitalLink::parse(&uri).unwrap().to_uri(), uri);
    }

    #[test]
    fn gs1_example_with_lot_serial_expiry() {
        let uri = "https://id.gs1.org/01/09506000134352/10/ABC123/21/12345?17=201225";
        let dl = DigitalLink::parse(uri).unwrap();
        assert_eq!(dl.resolver, "https://id.gs1.org");
        assert_eq!(dl.key, PrimaryKey::Gtin(gtin("09506000134352")));
        assert_eq!(dl.lot.as_deref(), Some("ABC123"));
        assert_eq!(dl.serial.as_deref(), Some("12345"));
        assert_eq!(dl.expiry.as_deref(), Some("201225"));
        assert_eq!(dl.cpv, None);
        assert_eq!(dl.to_uri(), uri);
        assert_eq!(dl.gtin_serial(), Some((gtin("09506000134352"), "12345")));
        round_trip(&dl);
    }

    #[test]
    fn gs1_example_with_cpv() {
        let uri = "https://id.gs1.org/01/09506000134352/22/2A/10/ABC123/21/12345?17=201225";
        let dl = DigitalLink::parse(uri).unwrap();
        assert_eq!(dl.cpv.as_deref(), Some("2A"));
        assert_eq!(dl.lot.as_deref(), Some("ABC123"));
        assert_eq!(dl.to_uri(), uri);
        round_trip(&dl);
    }

    #[test]
    fn gtin13_is_normalised() {
        let dl = DigitalLink::parse("https://example.com/01/9506000134352/21/1").unwrap();
        assert_eq!(dl.key, PrimaryKey::Gtin(gtin("09506000134352")));
        assert_eq!(dl.serial.as_deref(), Some("1"));
        assert_eq!(dl.to_uri(), "https://example.com/01/09506000134352/21/1");
        let upc = DigitalLink::parse("/01/036000291452").unwrap();
        assert_eq!(upc.to_uri(), "/01/00036000291452");
    }

    #[test]
    fn sscc_gln_cpid() {
        let sscc = DigitalLink::parse("/00/106141411234567897").unwrap();
        assert_eq!(sscc.resolver, "");
        assert_eq!(
            sscc.key,
            PrimaryKey::Sscc(Sscc::parse("106141411234567897").unwrap())
        );
        assert_eq!(sscc.to_uri(), "/00/106141411234567897");
        round_trip(&sscc);

        let gln = DigitalLink::parse("/414/9506000164908/254/1").unwrap();
        assert_eq!(
            gln.key,
            PrimaryKey::Gln(Gln::parse("9506000164908").unwrap())
        );
        assert_eq!(gln.gln_extension.as_deref(), Some("1"));
        assert_eq!(gln.to_uri(), "/414/9506000164908/254/1");
        round_trip(&gln);

        let cpid = DigitalLink::parse("/8010/ABC123/8011/123456").unwrap();
        assert_eq!(cpid.key, PrimaryKey::Cpid("ABC123".into()));
        assert_eq!(cpid.cpid_serial.as_deref(), Some("123456"));
        assert_eq!(cpid.to_uri(), "/8010/ABC123/8011/123456");
        assert_eq!(cpid.gtin_serial(), None);
        round_trip(&cpid);

        // CPID characters '#' and '/' travel percent-encoded.
        let cpid = DigitalLink::parse("https://x.example/8010/A%23B%2FC").unwrap();
        assert_eq!(cpid.key, PrimaryKey::Cpid("A#B/C".into()));
        assert_eq!(cpid.to_uri(), "https://x.example/8010/A%23B%2FC");
    }

    #[test]
    fn percent_encoded_values() {
        let dl = DigitalLink::parse("/01/09506000134352/21/ABC%2F123").unwrap();
        assert_eq!(dl.serial.as_deref(), Some("ABC/123"));
        assert_eq!(dl.to_uri(), "/01/09506000134352/21/ABC%2F123");
        // Lower-case escapes are accepted; output uses upper case.
        let dl = DigitalLink::parse("/01/09506000134352/21/a%2fb").unwrap();
        assert_eq!(dl.serial.as_deref(), Some("a/b"));
        assert_eq!(dl.to_uri(), "/01/09506000134352/21/a%2Fb");

        let nasty = "!\"%&'()*+,-./:;<=>?_";
        let link = DigitalLink::item("https://id.jitrace.dev", gtin("09506000134352"), nasty);
        link.validate().unwrap();
        let uri = link.to_uri();
        assert_eq!(
            uri,
            "https://id.jitrace.dev/01/09506000134352/21/\
             %21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_"
        );
        round_trip(&link);

        // Unescaped sub-delimiters are taken literally.
        let dl = DigitalLink::parse("/01/09506000134352/10/A+B!").unwrap();
        assert_eq!(dl.lot.as_deref(), Some("A+B!"));

        assert!(dl_error("/01/09506000134352/21/AB%2").contains("'%'"));
        assert!(dl_error("/01/09506000134352/21/AB%zz").contains("two hex digits"));
        assert!(dl_error("/01/09506000134352/21/%FF").contains("UTF-8"));
        // Decodes fine but a space is not in GS1 character set 82.
        assert!(matches!(
            DigitalLink::parse("/01/09506000134352/21/A%20B"),
            Err(Error::BadField {
                kind: "serial (AI 21)",
                ..
            })
        ));
    }

    #[test]
    fn resolver_prefix_is_kept() {
        let dl = DigitalLink::parse("https://example.com/foo/bar/01/09506000134352/21/7").unwrap();
        assert_eq!(dl.resolver, "https://example.com/foo/bar");
        assert_eq!(
            dl.to_uri(),
            "https://example.com/foo/bar/01/09506000134352/21/7"
        );
        round_trip(&dl);

        // A value that looks like an AI does not confuse the right-to-left scan.
        let dl =
            DigitalLink::parse("http://EXAMPLE.com:8080/p/01/09506000134352/10/01/21/21").unwrap();
        assert_eq!(dl.resolver, "http://EXAMPLE.com:8080/p");
        assert_eq!(dl.lot.as_deref(), Some("01"));
        assert_eq!(dl.serial.as_deref(), Some("21"));
        round_trip(&dl);

        assert!(DigitalLink::parse("HTTPS://id.gs1.org/01/09506000134352").is_ok());
    }

    #[test]
    fn query_attributes() {
        let dl = DigitalLink::parse(
            "https://id.gs1.org/01/09506000134352/21/9?linkType=gs1:pip&8030=QUJD-_x&3103=000195&17=251231&7003=2501011200&context=x",
        )
        .unwrap();
        assert_eq!(dl.expiry.as_deref(), Some("251231"));
        assert_eq!(dl.signature.as_deref(), Some("QUJD-_x"));
        assert_eq!(
            dl.other_attributes,
            vec![
                ("3103".into(), "000195".into()),
                ("7003".into(), "2501011200".into())
            ]
        );
        // linkType and context are dropped; AIs come out in numeric order.
        assert_eq!(
            dl.to_uri(),
            "https://id.gs1.org/01/09506000134352/21/9?17=251231&3103=000195&7003=2501011200&8030=QUJD-_x"
        );
        round_trip(&dl);

        // Numeric, not textual, order: 91 before 7003.
        let dl = DigitalLink::parse("/01/09506000134352?7003=2501011200&91=x%2Fy").unwrap();
        assert_eq!(dl.other_attributes[0], ("91".into(), "x/y".into()));
        assert_eq!(dl.to_uri(), "/01/09506000134352?91=x%2Fy&7003=2501011200");
    }

    #[test]
    fn item_and_signature() {
        let link = DigitalLink::item("https://id.jitrace.dev/", gtin("4006381333931"), "SN-1")
            .with_signature("c2lnbmF0dXJl");
        assert_eq!(link.resolver, "https://id.jitrace.dev");
        assert_eq!(
            link.to_uri(),
            "https://id.jitrace.dev/01/04006381333931/21/SN-1?8030=c2lnbmF0dXJl"
        );
        assert_eq!(link.gtin_serial(), Some((gtin("04006381333931"), "SN-1")));
        assert_eq!(link.to_string(), link.to_uri());
        assert_eq!(link.to_uri().parse::<DigitalLink>().unwrap(), link);
        round_trip(&link);

        let bare = DigitalLink::item("", gtin("96385074"), "1");
        assert_eq!(bare.to_uri(), "/01/00000096385074/21/1");
        round_trip(&bare);
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(matches!(
            DigitalLink::parse("https://id.gs1.org/01/09506000134353/21/1"),
            Err(Error::BadCheckDigit { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/00/106141411234567898"),
            Err(Error::BadCheckDigit { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/414/950600016490"),
            Err(Error::BadLength { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/01/0950600013435X"),
            Err(Error::NotDigits { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/8010/abc"),
            Err(Error::BadField { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/8010/ABC/8011/12X"),
            Err(Error::BadField {
                kind: "CPID serial (AI 8011)",
                ..
            })
        ));
        assert!(matches!(
            DigitalLink::parse(&format!("/01/09506000134352/21/{}", "1".repeat(21))),
            Err(Error::BadField { .. })
        ));
    }

    #[test]
    fn rejects_bad_structure() {
        let m = dl_error("/01/09506000134352/21/1/10/A");
        assert!(m.contains("/10") && m.contains("before /21"), "{m}");
        let m = dl_error("/01/09506000134352/10/A/22/B");
        assert!(m.contains("/22") && m.contains("before /10"), "{m}");
        let m = dl_error("/01/09506000134352/21/1/21/2");
        assert!(m.contains("duplicate") && m.contains("/21"), "{m}");
        let m = dl_error("/01/09506000134352/254/1");
        assert!(
            m.contains("/254") && m.contains("not a key qualifier of /01"),
            "{m}"
        );
        let m = dl_error("/00/106141411234567897/21/1");
        assert!(m.contains("allowed: none"), "{m}");
        let m = dl_error("/414/9506000164908/8011/1");
        assert!(m.contains("/8011"), "{m}");
        let m = dl_error("/99/1");
        assert!(
            m.contains("/99") && m.contains("not a supported primary key"),
            "{m}"
        );
        let m = dl_error("https://example.com/foo/bar");
        assert!(m.contains("no GS1 primary key"), "{m}");
        let m = dl_error("/01/09506000134352/21");
        assert!(m.contains("/21") && m.contains("no value"), "{m}");
        let m = dl_error("/01");
        assert!(m.contains("/01") && m.contains("no value"), "{m}");
        let m = dl_error("/01/09506000134352/21/1/garbage");
        assert!(m.contains("garbage") && m.contains("left over"), "{m}");
        let m = dl_error("/01/09506000134352/foo/bar");
        assert!(
            m.contains("foo") && m.contains("not a key qualifier"),
            "{m}"
        );
        let m = dl_error("/01/09506000134352/99/1");
        assert!(m.contains("/99"), "{m}");
        let m = dl_error("/21/1");
        assert!(m.contains("no primary key before"), "{m}");
        let m = dl_error("/10/A/01/09506000134352");
        assert!(m.contains("comes before the primary key"), "{m}");
        let m = dl_error("/01/09506000134352/00/106141411234567897");
        assert!(m.contains("comes before the primary key"), "{m}");
        assert!(dl_error("/01/09506000134352/").contains("end with '/'"));
        assert!(dl_error("https://a.example//01/09506000134352").contains("empty path segment"));
        assert!(dl_error("/01/09506000134352#frag").contains("fragment"));
        assert!(dl_error("ftp://a.example/01/09506000134352").contains("must start with"));
        assert!(dl_error("01/09506000134352").contains("must start with"));
        assert!(dl_error("https://").contains("no host"));
        assert!(dl_error("https://a.example").contains("no path"));
        assert!(dl_error("https://a.example?17=201225").contains("no path"));
        assert!(dl_error("https://user@a.example/01/09506000134352").contains("invalid host"));
        assert!(dl_error("").contains("must start with"));
    }

    #[test]
    fn rejects_bad_query() {
        assert!(matches!(
            DigitalLink::parse("/01/09506000134352?17=201325"),
            Err(Error::BadField {
                kind: "expiry date (AI 17)",
                ..
            })
        ));
        assert!(matches!(
            DigitalLink::parse("/01/09506000134352?17=2012"),
            Err(Error::BadField { .. })
        ));
        assert!(dl_error("/01/09506000134352?17=").contains("no value"));
        assert!(dl_error("/01/09506000134352?17").contains("no value"));
        assert!(dl_error("/01/09506000134352?17=201225&17=201226").contains("duplicate"));
        assert!(dl_error("/01/09506000134352?3103=1&3103=2").contains("duplicate"));
        assert!(dl_error("/01/09506000134352?10=ABC").contains("belongs in the path"));
        assert!(dl_error("/01/09506000134352?1=ABC").contains("2 to 4 digits"));
        assert!(dl_error("/01/09506000134352?12345=ABC").contains("2 to 4 digits"));
        assert!(matches!(
            DigitalLink::parse(&format!("/01/09506000134352?8030={}", "A".repeat(101))),
            Err(Error::BadField { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/01/09506000134352?8030=a%2Bb"),
            Err(Error::BadField { .. })
        ));
        assert!(matches!(
            DigitalLink::parse("/01/09506000134352?3103=a%20b"),
            Err(Error::BadField { .. })
        ));
        // Empty and non-AI parameters are ignored.
        let dl = DigitalLink::parse("/01/09506000134352?&linkType=all&x&17=201225&").unwrap();
        assert_eq!(dl.to_uri(), "/01/09506000134352?17=201225");
    }

    #[test]
    fn validate_rejects_inconsistent_fields() {
        let mut link = DigitalLink::item("https://id.jitrace.dev", gtin("09506000134352"), "1");
        link.gln_extension = Some("1".into());
        assert!(link.validate().is_err());

        let mut link = DigitalLink::item("https://id.jitrace.dev", gtin("09506000134352"), "1");
        link.other_attributes.push(("17".into(), "201225".into()));
        assert!(link.validate().is_err());

        let mut link = DigitalLink::item("https://id.jitrace.dev", gtin("09506000134352"), "");
        assert!(link.validate().is_err());
        link.serial = Some("ok".into());
        link.validate().unwrap();
        link.key = PrimaryKey::Cpid("ABC".into());
        assert!(link.validate().is_err());

        let mut link = DigitalLink::item("https://id.jitrace.dev", gtin("09506000134352"), "1");
        link.other_attributes = vec![("7003".into(), "1".into()), ("3103".into(), "1".into())];
        assert!(dl_msg(link.validate()).contains("ascending"));
        link.other_attributes.reverse();
        link.validate().unwrap();
        round_trip(&link);

        for bad in [
            "https://id.jitrace.dev/",
            "id.jitrace.dev",
            "https://id.jitrace.dev?x=1",
            "https://id.jitrace.dev/a//b",
            "https://id.jitrace.dev/21/x",
            "https://id.jitrace.dev/01/09506000134352",
            "ftp://x",
        ] {
            let mut link = DigitalLink::item("", gtin("09506000134352"), "1");
            link.resolver = bad.into();
            assert!(dl_msg(link.validate()).contains("resolver"), "{bad}");
        }
        for good in ["", "https://id.jitrace.dev", "http://localhost:8080/dl/v1"] {
            let link = DigitalLink::item(good, gtin("09506000134352"), "1");
            link.validate().unwrap();
            round_trip(&link);
        }
    }

    fn dl_msg(r: Result<(), Error>) -> String {
        match r {
            Err(Error::DigitalLink(m)) => m,
            other => panic!("expected a DigitalLink error, got {other:?}"),
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "",
            "/",
            "//",
            "?",
            "#",
            "%",
            "/%",
            "/01/%",
            "/01/%E2%82",
            "https:/",
            "https://?",
            "https://a/?",
            "/01/09506000134352?",
            "/01/09506000134352?=",
            "/01/09506000134352?=x",
            "/01/09506000134352?&&",
            "/€/€",
            "/01/€",
            "http://[::1]/01/09506000134352",
            "/8010/",
            "/00/00/00/00",
            "/21/21/21",
            "/01/01/01/01",
        ];
        for input in inputs {
            let _ = DigitalLink::parse(input);
        }
        // Every byte string of length <= 3 over a small alphabet.
        let alphabet = ['/', '0', '1', '%', '?', '=', '&', 'a'];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let _ = DigitalLink::parse(&format!("/{a}{b}{c}"));
                    let _ = DigitalLink::parse(&format!("/01/{a}/{b}{c}"));
                }
            }
        }
    }
}
