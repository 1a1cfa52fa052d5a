//! The off-chain index: scan analytics, channel volumes, brand alerts and the flows of goods
//! (where every code is now, for its holder and its issuer) derived from finalised blocks, in a
//! redb file of its own (`index.redb`) beside the block store.
//!
//! Invariants:
//! - Blocks are indexed in height order, each exactly once: [`IndexStore::apply_block`] writes a
//!   block's counters, alerts and flows and the new indexed height in one ACID transaction committed
//!   with immediate durability, ignores a height already indexed and refuses a gap. So a restart
//!   resumes at [`IndexStore::indexed_height`] + 1 and neither recounts nor loses a block.
//! - Alert sequence numbers increase by one per alert, are assigned inside that transaction
//!   and never reused, so an alert keeps its number across restarts.
//! - At most [`MAX_ALERTS_PER_BRAND`] alerts are kept per brand; the oldest go first.
//! - Flows: a code has at most one [`Whereabouts`], kept under the code (`flow_codes`), and the
//!   entries it stands for (its issuer's, and its holder's when it has one) are exactly the rows
//!   of `flows` for that code; `flow_counts` counts those rows per (organisation, role,
//!   status). A block replaces a code's whereabouts by removing the old entries and adding the
//!   new ones, in the same transaction, so rows and counters never disagree.
//!
//! Everything here is derived data: deleting the file makes the node rebuild it from the blocks
//! (except counterfeit-scan alerts, which are not on chain).

use crate::Error;
use borsh::{BorshDeserialize, BorshSerialize};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::{collections::BTreeMap, ops::Bound, path::Path};

/// (brand, day, gtin, cell latitude, cell longitude, outcome) → scans.
const SCANS: TableDefinition<'_, (&str, u32, &str, i32, i32, &str), u64> =
    TableDefinition::new("scans");
/// (brand, day, channel, gtin, action) → events.
const CHANNELS: TableDefinition<'_, (&str, u32, &str, &str, &str), u64> =
    TableDefinition::new("channels");
/// (brand, seq) → borsh of [`Alert`].
const ALERTS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("alerts");
/// brand → alerts kept.
const ALERT_COUNTS: TableDefinition<'_, &str, u64> = TableDefinition::new("alert_counts");
/// (org, role, status, gtin, serial) → borsh of the code's [`Whereabouts`]: a page of one
/// organisation's codes in one role and status is a range scan.
const FLOWS: TableDefinition<'_, (&str, &str, &str, &str, u64), &[u8]> =
    TableDefinition::new("flows");
/// (org, role, status) → codes in `FLOWS`.
const FLOW_COUNTS: TableDefinition<'_, (&str, &str, &str), u64> =
    TableDefinition::new("flow_counts");
/// (gtin, serial) → borsh of the code's current [`Whereabouts`]: which entries to remove when
/// it moves.
const FLOW_CODES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("flow_codes");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("index_meta");

const INDEXED_HEIGHT: &str = "indexed_height";
const LAST_ALERT_SEQ: &str = "last_alert_seq";

/// Alerts kept per brand (the oldest go first).
pub const MAX_ALERTS_PER_BRAND: u64 = 10_000;

/// Milliseconds in a day: a count's day is `time_ms / DAY_MS` (days since the Unix epoch, UTC).
pub const DAY_MS: u64 = 86_400_000;

/// The day (since the Unix epoch, UTC) of a time in milliseconds.
pub fn day_of(time_ms: u64) -> u32 {
    u32::try_from(time_ms / DAY_MS).unwrap_or(u32::MAX)
}

/// What scan counts are kept by: one counter per key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct ScanKey {
    pub brand: String,
    pub day: u32,
    pub gtin: String,
    /// The centre of the scan's ~5 km cell, micro-degrees.
    pub cell_lat: i32,
    pub cell_lon: i32,
    /// The verdict: `genuine`, `warning` or `counterfeit`.
    pub outcome: String,
}

/// What channel volumes are kept by: one counter per key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct ChannelKey {
    pub brand: String,
    pub day: u32,
    /// The organisation that acted.
    pub channel: String,
    pub gtin: String,
    /// `shipped`, `received`, `sold`, ...
    pub action: String,
}

/// A brand alert as stored (the API turns it into its wire view).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Alert {
    /// Assigned by the store; 0 until stored.
    pub seq: u64,
    pub brand: String,
    pub kind: String,
    pub gtin: String,
    pub serial: u64,
    pub region: Option<String>,
    pub city: Option<String>,
    /// The block that raised it; 0 for alerts that are not on chain.
    pub height: u64,
    pub time_ms: u64,
    pub detail: String,
}

/// How an organisation sees a code in its flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FlowRole {
    /// It holds the code (or the code is shipped to it, or installed in an item it holds).
    Holder,
    /// It issued the code (the brand or supplier): it sees the code wherever it is.
    Issuer,
}

impl FlowRole {
    /// Both roles, in the order counts are listed.
    pub const ALL: [FlowRole; 2] = [FlowRole::Holder, FlowRole::Issuer];

    /// The snake_case name used in keys and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowRole::Holder => "holder",
            FlowRole::Issuer => "issuer",
        }
    }

    /// The role named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A code in the flows index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct FlowCode {
    /// 14 digits.
    pub gtin: String,
    pub serial: u64,
}

/// The organisation holding a code, and how.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Holder {
    pub org: String,
    /// `in_transit` (shipped to `org`), `in_stock`, `held` or `installed` (in an item `org`
    /// holds).
    pub status: String,
}

/// Where a code is now: the entries it stands for are its issuer's, under `status`, and its
/// holder's, under the holder's status.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Whereabouts {
    pub lot: String,
    /// The brand or supplier that issued the code.
    pub issuer: String,
    /// The code's status as its issuer sees it (`active`, `in_transit`, `in_stock`,
    /// `installed`, `sold`, `owned`, `destroyed`, ...).
    pub status: String,
    /// `None` once the code is sold, owned, destroyed or decommissioned (or installed in such
    /// an item).
    pub holder: Option<Holder>,
}

impl Whereabouts {
    /// The (organisation, role, status) entries this stands for.
    fn entries(&self) -> impl Iterator<Item = (&str, FlowRole, &str)> {
        let issuer = (self.issuer.as_str(), FlowRole::Issuer, self.status.as_str());
        let holder = self
            .holder
            .as_ref()
            .map(|h| (h.org.as_str(), FlowRole::Holder, h.status.as_str()));
        std::iter::once(issuer).chain(holder)
    }
}

/// How many of an organisation's codes are in one role and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowCount {
    pub role: FlowRole,
    pub status: String,
    pub codes: u64,
}

/// Where a page of flows continues (exclusive): the last code of the previous page.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct FlowCursor {
    pub status: String,
    pub code: FlowCode,
}

/// Which of an organisation's codes to list.
pub struct FlowQuery<'a> {
    pub org: &'a str,
    pub role: FlowRole,
    /// Only codes in this status; `None`: every status, in status order.
    pub status: Option<&'a str>,
    /// Continue after this code (a previous [`FlowPage::next`]).
    pub after: Option<&'a FlowCursor>,
    /// Most rows returned.
    pub limit: usize,
}

/// One code of an organisation's flows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRow {
    pub code: FlowCode,
    /// The status the organisation sees it in (its role's).
    pub status: String,
    pub whereabouts: Whereabouts,
}

/// A page of an organisation's codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowPage {
    pub rows: Vec<FlowRow>,
    /// Where the next page starts, when there are more rows.
    pub next: Option<FlowCursor>,
}

/// Everything one finalised block adds to the index.
#[derive(Clone, Debug, Default)]
pub struct BlockIndex {
    pub height: u64,
    pub scans: BTreeMap<ScanKey, u64>,
    pub channels: BTreeMap<ChannelKey, u64>,
    pub alerts: Vec<Alert>,
    /// The new whereabouts of every code the block moved (a code whose whereabouts did not
    /// change may be here too: it changes nothing).
    pub flows: BTreeMap<FlowCode, Whereabouts>,
}

/// One page of counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<K> {
    pub rows: Vec<(K, u64)>,
    /// Where the next page starts (exclusive), when there may be more.
    pub next: Option<K>,
}

/// Which part of a brand's counters to read.
pub struct Range<'a, K> {
    pub brand: &'a str,
    /// Inclusive days.
    pub from_day: u32,
    pub to_day: u32,
    /// Continue after this key (from a previous [`Page::next`]).
    pub after: Option<&'a K>,
    /// Most rows returned.
    pub limit: usize,
    /// Most rows looked at: a page ends early (with `next`) when a filter skips many.
    pub max_examined: usize,
}

/// The index store.
pub struct IndexStore {
    db: Database,
}

impl IndexStore {
    /// Opens (or creates) the index at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        {
            txn.open_table(SCANS)?;
            txn.open_table(CHANNELS)?;
            txn.open_table(ALERTS)?;
            txn.open_table(ALERT_COUNTS)?;
            txn.open_table(FLOWS)?;
            txn.open_table(FLOW_COUNTS)?;
            txn.open_table(FLOW_CODES)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        Ok(Self { db })
    }

    /// The last block indexed (0: none).
    pub fn indexed_height(&self) -> Result<u64, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table.get(INDEXED_HEIGHT)?.map_or(0, |v| v.value()))
    }

    /// Adds a block's counters, alerts and flows and records its height, in one transaction. Returns
    /// the alerts with their sequence numbers; a block already indexed changes nothing and
    /// returns none.
    pub fn apply_block(&self, block: &BlockIndex) -> Result<Vec<Alert>, Error> {
        // Checked inside the write transaction: writers are serialised, so two callers cannot
        // both index the same block.
        let txn = self.db.begin_write()?;
        let indexed = txn
            .open_table(META)?
            .get(INDEXED_HEIGHT)?
            .map_or(0, |v| v.value());
        if block.height <= indexed {
            return Ok(Vec::new());
        }
        if block.height != indexed + 1 {
            return Err(Error::IndexGap {
                indexed,
                got: block.height,
            });
        }
        let stored;
        {
            let mut scans = txn.open_table(SCANS)?;
            for (k, n) in &block.scans {
                let key = (
                    k.brand.as_str(),
                    k.day,
                    k.gtin.as_str(),
                    k.cell_lat,
                    k.cell_lon,
                    k.outcome.as_str(),
                );
                let old = scans.get(key)?.map_or(0, |v| v.value());
                scans.insert(key, old.saturating_add(*n))?;
            }
            let mut channels = txn.open_table(CHANNELS)?;
            for (k, n) in &block.channels {
                let key = (
                    k.brand.as_str(),
                    k.day,
                    k.channel.as_str(),
                    k.gtin.as_str(),
                    k.action.as_str(),
                );
                let old = channels.get(key)?.map_or(0, |v| v.value());
                channels.insert(key, old.saturating_add(*n))?;
            }
            stored = insert_alerts(&txn, &block.alerts)?;
            apply_flows(&txn, &block.flows)?;
            txn.open_table(META)?.insert(INDEXED_HEIGHT, block.height)?;
        }
        txn.commit()?;
        Ok(stored)
    }

    /// Stores an alert that is not on chain (and its scan counts), outside block indexing.
    pub fn add_alert(&self, alert: Alert, scans: &[ScanKey]) -> Result<Alert, Error> {
        let txn = self.db.begin_write()?;
        let stored;
        {
            let mut table = txn.open_table(SCANS)?;
            for k in scans {
                let key = (
                    k.brand.as_str(),
                    k.day,
                    k.gtin.as_str(),
                    k.cell_lat,
                    k.cell_lon,
                    k.outcome.as_str(),
                );
                let old = table.get(key)?.map_or(0, |v| v.value());
                table.insert(key, old.saturating_add(1))?;
            }
            stored = insert_alerts(&txn, std::slice::from_ref(&alert))?;
        }
        txn.commit()?;
        stored
            .into_iter()
            .next()
            .ok_or(Error::Corrupt("alert sequence"))
    }

    /// A brand's alerts with `seq > after` that `keep` accepts, oldest first, at most `limit`.
    pub fn alerts(
        &self,
        brand: &str,
        after: u64,
        limit: usize,
        keep: impl Fn(&Alert) -> bool,
    ) -> Result<Vec<Alert>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ALERTS)?;
        let mut out = Vec::new();
        if after == u64::MAX {
            return Ok(out);
        }
        for entry in table.range((brand, after + 1)..=(brand, u64::MAX))? {
            if out.len() >= limit {
                break;
            }
            let (_, value) = entry?;
            let alert: Alert =
                borsh::from_slice(value.value()).map_err(|_| Error::Corrupt("alert"))?;
            if keep(&alert) {
                out.push(alert);
            }
        }
        Ok(out)
    }

    /// A page of a brand's scan counters in a day range, in key order, that `keep` accepts.
    pub fn scans(
        &self,
        range: &Range<'_, ScanKey>,
        keep: impl Fn(&ScanKey) -> bool,
    ) -> Result<Page<ScanKey>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SCANS)?;
        let brand = range.brand;
        let start = match range.after {
            Some(k) => Bound::Excluded((
                brand,
                k.day,
                k.gtin.as_str(),
                k.cell_lat,
                k.cell_lon,
                k.outcome.as_str(),
            )),
            None => Bound::Included((brand, range.from_day, "", i32::MIN, i32::MIN, "")),
        };
        let end = match range.to_day.checked_add(1) {
            Some(day) => Bound::Excluded((brand, day, "", i32::MIN, i32::MIN, "")),
            None => Bound::Included((brand, u32::MAX, "\u{10FFFF}", i32::MAX, i32::MAX, "")),
        };
        let entries = table
            .range::<(&str, u32, &str, i32, i32, &str)>((start, end))?
            .map(|entry| {
                let (key, value) = entry?;
                let (_, day, gtin, cell_lat, cell_lon, outcome) = key.value();
                let key = ScanKey {
                    brand: brand.to_string(),
                    day,
                    gtin: gtin.to_string(),
                    cell_lat,
                    cell_lon,
                    outcome: outcome.to_string(),
                };
                Ok((key, value.value()))
            });
        collect_page(entries, range, keep)
    }

    /// A page of a brand's channel volumes in a day range, in key order, that `keep` accepts.
    pub fn channels(
        &self,
        range: &Range<'_, ChannelKey>,
        keep: impl Fn(&ChannelKey) -> bool,
    ) -> Result<Page<ChannelKey>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CHANNELS)?;
        let brand = range.brand;
        let start = match range.after {
            Some(k) => Bound::Excluded((
                brand,
                k.day,
                k.channel.as_str(),
                k.gtin.as_str(),
                k.action.as_str(),
            )),
            None => Bound::Included((brand, range.from_day, "", "", "")),
        };
        let end = match range.to_day.checked_add(1) {
            Some(day) => Bound::Excluded((brand, day, "", "", "")),
            None => Bound::Included((brand, u32::MAX, "\u{10FFFF}", "", "")),
        };
        let entries = table
            .range::<(&str, u32, &str, &str, &str)>((start, end))?
            .map(|entry| {
                let (key, value) = entry?;
                let (_, day, channel, gtin, action) = key.value();
                let key = ChannelKey {
                    brand: brand.to_string(),
                    day,
                    channel: channel.to_string(),
                    gtin: gtin.to_string(),
                    action: action.to_string(),
                };
                Ok((key, value.value()))
            });
        collect_page(entries, range, keep)
    }

    /// How many codes an organisation has in each role and status (statuses with none are
    /// left out), by role then status.
    pub fn flow_counts(&self, org: &str) -> Result<Vec<FlowCount>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(FLOW_COUNTS)?;
        let mut out = Vec::new();
        for entry in table.range::<(&str, &str, &str)>((org, "", "")..)? {
            let (key, value) = entry?;
            let (key_org, role, status) = key.value();
            if key_org != org {
                break;
            }
            let role = FlowRole::parse(role).ok_or(Error::Corrupt("flow role"))?;
            out.push(FlowCount {
                role,
                status: status.to_string(),
                codes: value.value(),
            });
        }
        Ok(out)
    }

    /// A page of an organisation's codes in one role (and status), in (status, GTIN, serial)
    /// order.
    pub fn flows(&self, query: &FlowQuery<'_>) -> Result<FlowPage, Error> {
        if let (Some(asked), Some(after)) = (query.status, query.after)
            && after.status != asked
        {
            return Err(Error::FlowCursor {
                cursor: after.status.clone(),
                asked: asked.to_string(),
            });
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(FLOWS)?;
        let (org, role) = (query.org, query.role.as_str());
        let start = match query.after {
            Some(c) => Bound::Excluded((
                org,
                role,
                c.status.as_str(),
                c.code.gtin.as_str(),
                c.code.serial,
            )),
            None => Bound::Included((org, role, query.status.unwrap_or(""), "", 0)),
        };
        let mut rows = Vec::new();
        for entry in table.range::<(&str, &str, &str, &str, u64)>((start, Bound::Unbounded))? {
            let (key, value) = entry?;
            let (key_org, key_role, status, gtin, serial) = key.value();
            if key_org != org || key_role != role || query.status.is_some_and(|s| s != status) {
                break;
            }
            if rows.len() == query.limit {
                // One more row exists: the page ends at the last one kept.
                let next = rows.last().map(|r: &FlowRow| FlowCursor {
                    status: r.status.clone(),
                    code: r.code.clone(),
                });
                return Ok(FlowPage { rows, next });
            }
            let whereabouts =
                borsh::from_slice(value.value()).map_err(|_| Error::Corrupt("flow"))?;
            rows.push(FlowRow {
                code: FlowCode {
                    gtin: gtin.to_string(),
                    serial,
                },
                status: status.to_string(),
                whereabouts,
            });
        }
        Ok(FlowPage { rows, next: None })
    }

    /// A code's current whereabouts, if the index has it.
    pub fn whereabouts(&self, code: &FlowCode) -> Result<Option<Whereabouts>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(FLOW_CODES)?;
        table
            .get((code.gtin.as_str(), code.serial))?
            .map(|v| borsh::from_slice(v.value()).map_err(|_| Error::Corrupt("flow")))
            .transpose()
    }
}

/// Replaces each code's whereabouts: removes its old entries (and counts) and adds the new.
fn apply_flows(
    txn: &redb::WriteTransaction,
    flows: &BTreeMap<FlowCode, Whereabouts>,
) -> Result<(), Error> {
    let mut codes = txn.open_table(FLOW_CODES)?;
    let mut rows = txn.open_table(FLOWS)?;
    let mut counts = txn.open_table(FLOW_COUNTS)?;
    for (code, new) in flows {
        let (gtin, serial) = (code.gtin.as_str(), code.serial);
        let old: Option<Whereabouts> = codes
            .get((gtin, serial))?
            .map(|v| borsh::from_slice(v.value()).map_err(|_| Error::Corrupt("flow")))
            .transpose()?;
        if old.as_ref() == Some(new) {
            continue;
        }
        for (org, role, status) in old.iter().flat_map(Whereabouts::entries) {
            rows.remove((org, role.as_str(), status, gtin, serial))?;
            let key = (org, role.as_str(), status);
            let count = counts.get(key)?.map_or(0, |v| v.value());
            match count {
                0 => {
                    return Err(Error::FlowCounter {
                        org: org.to_string(),
                        role: role.as_str(),
                        status: status.to_string(),
                    });
                }
                1 => {
                    counts.remove(key)?;
                }
                n => {
                    counts.insert(key, n - 1)?;
                }
            }
        }
        let bytes = borsh::to_vec(new).map_err(|_| Error::Corrupt("flow"))?;
        for (org, role, status) in new.entries() {
            rows.insert((org, role.as_str(), status, gtin, serial), bytes.as_slice())?;
            let key = (org, role.as_str(), status);
            let count = counts.get(key)?.map_or(0, |v| v.value());
            counts.insert(key, count.saturating_add(1))?;
        }
        codes.insert((gtin, serial), bytes.as_slice())?;
    }
    Ok(())
}

/// The page `range` asks for out of `entries` (in key order), ending early after
/// `range.max_examined` entries.
fn collect_page<K: Clone>(
    entries: impl Iterator<Item = Result<(K, u64), Error>>,
    range: &Range<'_, K>,
    keep: impl Fn(&K) -> bool,
) -> Result<Page<K>, Error> {
    let mut rows = Vec::new();
    let mut last = None;
    for (examined, entry) in entries.enumerate() {
        if rows.len() >= range.limit || examined >= range.max_examined {
            return Ok(Page { rows, next: last });
        }
        let (key, count) = entry?;
        if keep(&key) {
            rows.push((key.clone(), count));
        }
        last = Some(key);
    }
    Ok(Page { rows, next: None })
}

/// Stores `alerts` with the next sequence numbers, dropping each brand's oldest beyond
/// [`MAX_ALERTS_PER_BRAND`].
fn insert_alerts(txn: &redb::WriteTransaction, alerts: &[Alert]) -> Result<Vec<Alert>, Error> {
    let mut meta = txn.open_table(META)?;
    let mut table = txn.open_table(ALERTS)?;
    let mut counts = txn.open_table(ALERT_COUNTS)?;
    let mut seq = meta.get(LAST_ALERT_SEQ)?.map_or(0, |v| v.value());
    let mut out = Vec::with_capacity(alerts.len());
    for alert in alerts {
        seq += 1;
        let alert = Alert {
            seq,
            ..alert.clone()
        };
        let bytes = borsh::to_vec(&alert).map_err(|_| Error::Corrupt("alert"))?;
        let brand = alert.brand.as_str();
        table.insert((brand, seq), bytes.as_slice())?;
        let mut count = counts.get(brand)?.map_or(0, |v| v.value()) + 1;
        while count > MAX_ALERTS_PER_BRAND {
            let oldest = table
                .range((brand, 0)..=(brand, u64::MAX))?
                .next()
                .transpose()?
                .map(|(k, _)| k.value().1);
            match oldest {
                Some(old) => {
                    table.remove((brand, old))?;
                    count -= 1;
                }
                None => break,
            }
        }
        counts.insert(brand, count)?;
        out.push(alert);
    }
    meta.insert(LAST_ALERT_SEQ, seq)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(brand: &str, day: u32, gtin: &str, outcome: &str) -> ScanKey {
        ScanKey {
            brand: brand.into(),
            day,
            gtin: gtin.into(),
            cell_lat: 30_250_000,
            cell_lon: -120_000,
            outcome: outcome.into(),
        }
    }

    fn alert(brand: &str, height: u64) -> Alert {
        Alert {
            seq: 0,
            brand: brand.into(),
            kind: "grey_market".into(),
            gtin: "00614141000012".into(),
            serial: 1,
            region: Some("CN-ZJ".into()),
            city: None,
            height,
            time_ms: 0,
            detail: String::new(),
        }
    }

    fn block(height: u64) -> BlockIndex {
        let mut block = BlockIndex {
            height,
            ..BlockIndex::default()
        };
        block.scans.insert(scan("acme", 10, "g1", "genuine"), 2);
        block.scans.insert(scan("acme", 12, "g2", "warning"), 1);
        block.scans.insert(scan("other", 10, "g1", "genuine"), 5);
        block.channels.insert(
            ChannelKey {
                brand: "acme".into(),
                day: 10,
                channel: "shop".into(),
                gtin: "g1".into(),
                action: "sold".into(),
            },
            3,
        );
        block.alerts.push(alert("acme", height));
        block
    }

    fn range<K>(brand: &str, from_day: u32, to_day: u32) -> Range<'_, K> {
        Range {
            brand,
            from_day,
            to_day,
            after: None,
            limit: 100,
            max_examined: 1000,
        }
    }

    #[test]
    fn blocks_are_indexed_once_in_order_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        {
            let index = IndexStore::open(&path).unwrap();
            assert_eq!(index.indexed_height().unwrap(), 0);
            assert!(matches!(
                index.apply_block(&block(2)),
                Err(Error::IndexGap { indexed: 0, got: 2 })
            ));
            let alerts = index.apply_block(&block(1)).unwrap();
            assert_eq!(alerts[0].seq, 1);
            // A repeat (a restart between the commit and the next block) counts nothing.
            assert!(index.apply_block(&block(1)).unwrap().is_empty());
        }
        let index = IndexStore::open(&path).unwrap();
        assert_eq!(index.indexed_height().unwrap(), 1);
        assert_eq!(index.apply_block(&block(2)).unwrap()[0].seq, 2);
        let page = index.scans(&range("acme", 10, 10), |_| true).unwrap();
        assert_eq!(page.rows, vec![(scan("acme", 10, "g1", "genuine"), 4)]);
        assert_eq!(page.next, None);
        let all = index.scans(&range("acme", 0, u32::MAX), |_| true).unwrap();
        assert_eq!(all.rows.len(), 2);
        let g2 = index
            .scans(&range("acme", 0, u32::MAX), |k| k.gtin == "g2")
            .unwrap();
        assert_eq!(g2.rows, vec![(scan("acme", 12, "g2", "warning"), 2)]);
        let volumes = index.channels(&range("acme", 9, 11), |_| true).unwrap();
        assert_eq!(volumes.rows[0].1, 6);
        assert!(
            index
                .channels(&range("acme", 11, 20), |_| true)
                .unwrap()
                .rows
                .is_empty()
        );
        let alerts = index.alerts("acme", 0, 10, |_| true).unwrap();
        assert_eq!(alerts.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(index.alerts("acme", 1, 10, |_| true).unwrap().len(), 1);
        let off_chain = index
            .add_alert(alert("acme", 0), &[scan("acme", 10, "g1", "counterfeit")])
            .unwrap();
        assert_eq!(off_chain.seq, 3);
    }

    #[test]
    fn pages_continue_after_their_last_key() {
        let dir = tempfile::tempdir().unwrap();
        let index = IndexStore::open(&dir.path().join("index.redb")).unwrap();
        let mut block = BlockIndex {
            height: 1,
            ..BlockIndex::default()
        };
        for day in 0..25 {
            block.scans.insert(scan("acme", day, "g", "genuine"), 1);
        }
        index.apply_block(&block).unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = index
                .scans(
                    &Range {
                        after: after.as_ref(),
                        limit: 10,
                        ..range("acme", 0, 30)
                    },
                    |k| k.day % 2 == 0,
                )
                .unwrap();
            seen.extend(page.rows.iter().map(|(k, _)| k.day));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (0..25).filter(|d| d % 2 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn each_brand_keeps_its_newest_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let index = IndexStore::open(&dir.path().join("index.redb")).unwrap();
        let many: Vec<Alert> = (0..MAX_ALERTS_PER_BRAND + 3)
            .map(|_| alert("busy", 1))
            .collect();
        index
            .apply_block(&BlockIndex {
                height: 1,
                alerts: many,
                ..BlockIndex::default()
            })
            .unwrap();
        let kept = index.alerts("busy", 0, usize::MAX, |_| true).unwrap();
        assert_eq!(kept.len() as u64, MAX_ALERTS_PER_BRAND);
        assert_eq!(kept[0].seq, 4);
    }

    fn code(serial: u64) -> FlowCode {
        FlowCode {
            gtin: "09507001000019".into(),
            serial,
        }
    }

    fn at(issuer_status: &str, holder: Option<(&str, &str)>) -> Whereabouts {
        Whereabouts {
            lot: "B-1".into(),
            issuer: "bolt-works".into(),
            status: issuer_status.into(),
            holder: holder.map(|(org, status)| Holder {
                org: org.into(),
                status: status.into(),
            }),
        }
    }

    fn flows_block(height: u64, flows: &[(u64, Whereabouts)]) -> BlockIndex {
        BlockIndex {
            height,
            flows: flows.iter().map(|(s, w)| (code(*s), w.clone())).collect(),
            ..BlockIndex::default()
        }
    }

    fn counts(index: &IndexStore, org: &str) -> Vec<(&'static str, String, u64)> {
        index
            .flow_counts(org)
            .unwrap()
            .into_iter()
            .map(|c| (c.role.as_str(), c.status, c.codes))
            .collect()
    }

    fn serials(index: &IndexStore, org: &str, role: FlowRole, status: Option<&str>) -> Vec<u64> {
        let query = FlowQuery {
            org,
            role,
            status,
            after: None,
            limit: 1_000,
        };
        let page = index.flows(&query).unwrap();
        assert_eq!(page.next, None);
        page.rows.iter().map(|r| r.code.serial).collect()
    }

    #[test]
    fn flows_insert_move_and_remove_with_their_counters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        let in_transit = at("in_transit", Some(("auto-maker", "in_transit")));
        let in_stock = at("in_stock", Some(("auto-maker", "in_stock")));
        {
            let index = IndexStore::open(&path).unwrap();
            // Three bolts shipped to the maker.
            let shipped: Vec<_> = (1..=3).map(|s| (s, in_transit.clone())).collect();
            index.apply_block(&flows_block(1, &shipped)).unwrap();
            assert_eq!(
                counts(&index, "auto-maker"),
                [("holder", "in_transit".into(), 3)]
            );
            assert_eq!(
                counts(&index, "bolt-works"),
                [("issuer", "in_transit".into(), 3)]
            );
            // Two pass the gate; one of them is installed; the same block repeated (a restart
            // between its commit and the next) changes nothing.
            let received = flows_block(
                2,
                &[
                    (1, in_stock.clone()),
                    (2, at("installed", Some(("auto-maker", "installed")))),
                    (3, in_transit.clone()),
                ],
            );
            index.apply_block(&received).unwrap();
            index.apply_block(&received).unwrap();
            index
                .apply_block(&flows_block(1, &[(1, in_transit.clone())]))
                .unwrap();
        }
        let index = IndexStore::open(&path).unwrap();
        assert_eq!(
            counts(&index, "auto-maker"),
            [
                ("holder", "in_stock".into(), 1),
                ("holder", "in_transit".into(), 1),
                ("holder", "installed".into(), 1),
            ]
        );
        assert_eq!(
            serials(&index, "auto-maker", FlowRole::Holder, Some("in_stock")),
            [1]
        );
        assert_eq!(
            serials(&index, "auto-maker", FlowRole::Holder, None),
            [1, 3, 2]
        );
        assert_eq!(index.whereabouts(&code(1)).unwrap(), Some(in_stock));
        // The item bolt 2 is in is sold: the maker no longer holds it, the supplier still sees it.
        index
            .apply_block(&flows_block(3, &[(2, at("installed", None))]))
            .unwrap();
        assert_eq!(
            counts(&index, "auto-maker"),
            [
                ("holder", "in_stock".into(), 1),
                ("holder", "in_transit".into(), 1),
            ]
        );
        assert_eq!(
            counts(&index, "bolt-works"),
            [
                ("issuer", "in_stock".into(), 1),
                ("issuer", "in_transit".into(), 1),
                ("issuer", "installed".into(), 1),
            ]
        );
        assert!(serials(&index, "auto-maker", FlowRole::Holder, Some("installed")).is_empty());
        assert!(serials(&index, "auto-maker", FlowRole::Issuer, None).is_empty());
        assert!(counts(&index, "auto").is_empty());
    }

    #[test]
    fn flow_pages_continue_after_their_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let index = IndexStore::open(&dir.path().join("index.redb")).unwrap();
        let mut flows: Vec<_> = (1..=25)
            .map(|s| (s, at("in_stock", Some(("auto-maker", "in_stock")))))
            .collect();
        flows.push((100, at("held", Some(("auto-maker", "held")))));
        index.apply_block(&flows_block(1, &flows)).unwrap();
        for status in [Some("in_stock"), None] {
            let mut seen = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let page = index
                    .flows(&FlowQuery {
                        org: "auto-maker",
                        role: FlowRole::Holder,
                        status,
                        after: after.as_ref(),
                        limit: 10,
                    })
                    .unwrap();
                pages += 1;
                seen.extend(page.rows.iter().map(|r| r.code.serial));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            let mut want: Vec<u64> = (1..=25).collect();
            if status.is_none() {
                want.insert(0, 100); // `held` sorts before `in_stock`
            }
            assert_eq!(seen, want);
            assert_eq!(pages, 3);
        }
        // A page exactly full has no next.
        let full = index
            .flows(&FlowQuery {
                org: "auto-maker",
                role: FlowRole::Holder,
                status: Some("held"),
                after: None,
                limit: 1,
            })
            .unwrap();
        assert_eq!((full.rows.len(), full.next), (1, None));
        // A cursor of one status does not continue another.
        let cursor = FlowCursor {
            status: "held".into(),
            code: code(100),
        };
        assert!(matches!(
            index.flows(&FlowQuery {
                org: "auto-maker",
                role: FlowRole::Holder,
                status: Some("in_stock"),
                after: Some(&cursor),
                limit: 10,
            }),
            Err(Error::FlowCursor { .. })
        ));
    }
}
