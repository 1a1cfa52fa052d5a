//! Clone detection: deterministic rules over a code's scans (design §3).
//!
//! A copied label carries a valid signature, so only behaviour gives it away. Three rules, with
//! thresholds from the chain's [`ScanRules`]:
//! - **far from the sale**: after the sale, a device other than the owner's scans the code
//!   farther than `far_from_sale_m` from where it was sold;
//! - **impossible travel**: two consecutive scans (by scan time) farther apart than
//!   `min_travel_m` and than `max_speed_kmh` allows in the time between them;
//! - **too many devices**: more than `max_devices` distinct devices scanned the code.
//!
//! Every scan is remembered in the code's bounded [`ScanSummary`], whether or not it fires.

use crate::{
    geo,
    state::{CloneRule, MAX_TRACKED_DEVICES, SaleRecord, ScanPoint, ScanRules, ScanSummary},
};
use jitrace_types::Hash;

/// What clone detection knows of a code besides its scans.
#[derive(Clone, Copy, Debug)]
pub struct CloneContext<'a> {
    /// The sale, if the item was sold.
    pub sale: Option<&'a SaleRecord>,
    /// The owner's device, if the owner gave one.
    pub owner_device: Option<Hash>,
}

/// Adds `scan` to `summary` and returns the first rule it breaks, if any.
pub fn observe(
    rules: &ScanRules,
    summary: &mut ScanSummary,
    scan: ScanPoint,
    context: CloneContext<'_>,
) -> Option<CloneRule> {
    let mut fired = None;
    let mut fire = |rule| {
        fired.get_or_insert(rule);
    };

    if let Some(sale) = context.sale
        && let Some(sold_at) = sale.point
        && scan.time_ms >= sale.at.time_ms
        && context.owner_device != Some(scan.device)
        && geo::distance_m(sold_at, scan.cell) > u64::from(rules.far_from_sale_m)
    {
        fire(CloneRule::FarFromSale);
    }

    if let Some(last) = summary.last
        && impossible_travel(rules, &last, &scan)
    {
        fire(CloneRule::ImpossibleTravel);
    }

    if let Err(pos) = summary.devices.binary_search(&scan.device)
        && summary.devices.len() < MAX_TRACKED_DEVICES
    {
        summary.devices.insert(pos, scan.device);
    }
    if summary.devices.len() as u64 > u64::from(rules.max_devices) {
        fire(CloneRule::TooManyDevices);
    }

    summary.count = summary.count.saturating_add(1);
    if summary.last.is_none_or(|last| scan.time_ms >= last.time_ms) {
        summary.last = Some(scan);
    }
    fired
}

/// Whether going from `a` to `b` needs more than the allowed speed (and is a real hop).
pub fn impossible_travel(rules: &ScanRules, a: &ScanPoint, b: &ScanPoint) -> bool {
    let metres = geo::distance_m(a.cell, b.cell);
    if metres <= u64::from(rules.min_travel_m) {
        return false;
    }
    let elapsed_ms = a.time_ms.abs_diff(b.time_ms);
    // metres / (elapsed_ms / 3,600,000) > max_speed_kmh * 1,000, without division.
    u128::from(metres) * 3_600 > u128::from(rules.max_speed_kmh) * u128::from(elapsed_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Stamp;
    use jitrace_types::tx::GeoPoint;

    const SHANGHAI: GeoPoint = GeoPoint {
        lat_micro: 31_250_000,
        lon_micro: 121_450_000,
    };
    const HANGZHOU: GeoPoint = GeoPoint {
        lat_micro: 30_250_000,
        lon_micro: 120_150_000,
    };
    const BEIJING: GeoPoint = GeoPoint {
        lat_micro: 39_900_000,
        lon_micro: 116_400_000,
    };
    const HOUR_MS: u64 = 3_600_000;

    fn device(n: u8) -> Hash {
        Hash([n; 32])
    }

    fn scan(cell: GeoPoint, n: u8, time_ms: u64) -> ScanPoint {
        ScanPoint {
            cell,
            device: device(n),
            time_ms,
        }
    }

    fn no_sale() -> CloneContext<'static> {
        CloneContext {
            sale: None,
            owner_device: None,
        }
    }

    const RULES: ScanRules = ScanRules::DEFAULT;

    #[test]
    fn travel_speed() {
        let t = 1_000 * HOUR_MS;
        // Shanghai to Beijing (~1,060 km): half an hour is too fast, two hours is a flight.
        assert!(impossible_travel(
            &RULES,
            &scan(SHANGHAI, 1, t),
            &scan(BEIJING, 2, t + HOUR_MS / 2)
        ));
        assert!(!impossible_travel(
            &RULES,
            &scan(SHANGHAI, 1, t),
            &scan(BEIJING, 2, t + 2 * HOUR_MS)
        ));
        // Order of the scans does not matter.
        assert!(impossible_travel(
            &RULES,
            &scan(BEIJING, 2, t + HOUR_MS / 2),
            &scan(SHANGHAI, 1, t)
        ));
        // Neighbouring cells a second apart are not travel.
        let next_cell = GeoPoint {
            lat_micro: SHANGHAI.lat_micro + 50_000,
            ..SHANGHAI
        };
        assert!(!impossible_travel(
            &RULES,
            &scan(SHANGHAI, 1, t),
            &scan(next_cell, 2, t + 1_000)
        ));
        // Same time, different cities.
        assert!(impossible_travel(
            &RULES,
            &scan(SHANGHAI, 1, t),
            &scan(HANGZHOU, 2, t)
        ));
    }

    #[test]
    fn far_from_sale_ignores_the_owner_and_earlier_scans() {
        let sale = SaleRecord {
            seller: jitrace_types::OrgId::new("shop").unwrap(),
            city: "上海".into(),
            region: "CN-SH".into(),
            point: Some(SHANGHAI),
            at: Stamp {
                height: 9,
                time_ms: 10 * HOUR_MS,
            },
            grey_market: false,
        };
        let context = CloneContext {
            sale: Some(&sale),
            owner_device: Some(device(7)),
        };
        let mut summary = ScanSummary::default();
        // Before the sale, in Beijing: no rule about the sale (and no previous scan).
        assert_eq!(
            observe(&RULES, &mut summary, scan(BEIJING, 1, HOUR_MS), context),
            None
        );
        // The owner in Hangzhou two days later.
        let mut summary = ScanSummary::default();
        assert_eq!(
            observe(
                &RULES,
                &mut summary,
                scan(HANGZHOU, 7, 60 * HOUR_MS),
                context
            ),
            None
        );
        // Someone else in Hangzhou.
        assert_eq!(
            observe(
                &RULES,
                &mut summary,
                scan(HANGZHOU, 8, 61 * HOUR_MS),
                context
            ),
            Some(CloneRule::FarFromSale)
        );
        // Someone else in Shanghai.
        let mut summary = ScanSummary::default();
        assert_eq!(
            observe(
                &RULES,
                &mut summary,
                scan(SHANGHAI, 9, 61 * HOUR_MS),
                context
            ),
            None
        );
    }

    #[test]
    fn too_many_devices_and_a_bounded_summary() {
        let mut summary = ScanSummary::default();
        let max = u8::try_from(RULES.max_devices).unwrap();
        for n in 1..=max {
            let got = observe(
                &RULES,
                &mut summary,
                scan(SHANGHAI, n, u64::from(n) * HOUR_MS),
                no_sale(),
            );
            assert_eq!(got, None, "device {n}");
        }
        // A device seen before does not count twice.
        assert_eq!(
            observe(
                &RULES,
                &mut summary,
                scan(SHANGHAI, 1, 100 * HOUR_MS),
                no_sale()
            ),
            None
        );
        assert_eq!(
            observe(
                &RULES,
                &mut summary,
                scan(SHANGHAI, max + 1, 101 * HOUR_MS),
                no_sale()
            ),
            Some(CloneRule::TooManyDevices)
        );
        for n in 0..=255u8 {
            observe(
                &RULES,
                &mut summary,
                scan(SHANGHAI, n, 200 * HOUR_MS),
                no_sale(),
            );
        }
        assert_eq!(summary.devices.len(), MAX_TRACKED_DEVICES);
        assert!(summary.devices.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(summary.count, u64::from(max) + 2 + 256);
    }

    #[test]
    fn last_scan_is_the_latest_by_scan_time() {
        let mut summary = ScanSummary::default();
        observe(
            &RULES,
            &mut summary,
            scan(SHANGHAI, 1, 10 * HOUR_MS),
            no_sale(),
        );
        // An older scan reported late does not replace the latest.
        observe(
            &RULES,
            &mut summary,
            scan(SHANGHAI, 2, 5 * HOUR_MS),
            no_sale(),
        );
        assert_eq!(summary.last.map(|s| s.time_ms), Some(10 * HOUR_MS));
    }
}
