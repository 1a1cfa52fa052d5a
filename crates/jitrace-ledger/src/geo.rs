//! Integer-only geometry over fixed-point positions: distances, scan cells, geofences.
//!
//! Distances use the equirectangular approximation on the mean Earth sphere
//! (R = 6,371,008.8 m): `d = R · √((Δλ · cos φ̄)² + Δφ²)`, with `cos φ̄` (the cosine of the mean
//! latitude) read from a table of whole degrees in millionths and linearly interpolated, and an
//! integer square root. No floats, so every machine gets the same metres.
//!
//! Accuracy against the great-circle (haversine) distance, measured on real city pairs:
//! within 0.2 % for pairs inside China up to ~2,000 km (Shanghai–Beijing 1,067.8 km for
//! 1,067.3 km; Shanghai–Hangzhou 164.9 km for 164.9 km; Shanghai–Yinchuan +0.2 %), about 1 %
//! at 3,000 km (Ürümqi–Harbin). It overestimates long east–west hops at higher latitudes:
//! +13 % Shanghai–London, +25 % Shanghai–New York. The ledger uses distances for thresholds of
//! tens to hundreds of kilometres (geofences, "far from the sale place") and for travel speed,
//! whose default threshold leaves room for that overestimate (see `state::ScanRules`).

use jitrace_types::tx::{GeoPoint, Geofence};

/// The side of a scan cell, in micro-degrees: 0.05°, about 5.6 km north–south and 4.8 km
/// east–west at Shanghai's latitude. Scans carry cell centres only.
pub const CELL_MICRO: i32 = 50_000;

/// `cos(d°)` in millionths for d = 0..=90.
const COS_MICRO: [i64; 91] = [
    1000000, 999848, 999391, 998630, 997564, 996195, 994522, 992546, 990268, 987688, 984808,
    981627, 978148, 974370, 970296, 965926, 961262, 956305, 951057, 945519, 939693, 933580, 927184,
    920505, 913545, 906308, 898794, 891007, 882948, 874620, 866025, 857167, 848048, 838671, 829038,
    819152, 809017, 798636, 788011, 777146, 766044, 754710, 743145, 731354, 719340, 707107, 694658,
    681998, 669131, 656059, 642788, 629320, 615661, 601815, 587785, 573576, 559193, 544639, 529919,
    515038, 500000, 484810, 469472, 453990, 438371, 422618, 406737, 390731, 374607, 358368, 342020,
    325568, 309017, 292372, 275637, 258819, 241922, 224951, 207912, 190809, 173648, 156434, 139173,
    121869, 104528, 87156, 69756, 52336, 34899, 17452, 0,
];

const MICRO: i64 = 1_000_000;

/// Metres per degree of arc on the mean sphere, times 100: 111,195.08 m.
const CENTIMETRES_PER_DEGREE: u128 = 11_119_508;

/// The cosine of a latitude (micro-degrees, any sign), in millionths.
pub fn cos_micro(lat_micro: i64) -> i64 {
    let lat = lat_micro.unsigned_abs().min(90 * MICRO as u64) as i64;
    let (deg, frac) = ((lat / MICRO) as usize, lat % MICRO);
    if deg >= 90 {
        return 0;
    }
    let (lo, hi) = (COS_MICRO[deg], COS_MICRO[deg + 1]);
    lo + (hi - lo) * frac / MICRO
}

/// The distance between two points on the globe in metres (rounded), by the equirectangular
/// approximation (see the module docs for its accuracy). Longitude differences wrap at the
/// antimeridian. Points off the globe give a meaningless but deterministic answer.
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> u64 {
    let dlat = i64::from(b.lat_micro) - i64::from(a.lat_micro);
    let mut dlon = i64::from(b.lon_micro) - i64::from(a.lon_micro);
    if dlon > 180 * MICRO {
        dlon -= 360 * MICRO;
    } else if dlon < -180 * MICRO {
        dlon += 360 * MICRO;
    }
    let mean_lat = (i64::from(a.lat_micro) + i64::from(b.lat_micro)) / 2;
    let x = dlon * cos_micro(mean_lat) / MICRO;
    let squared = (x.unsigned_abs() as u128).pow(2) + (dlat.unsigned_abs() as u128).pow(2);
    let arc_micro = squared.isqrt();
    let metres = (arc_micro * CENTIMETRES_PER_DEGREE + 50_000_000) / 100_000_000;
    u64::try_from(metres).unwrap_or(u64::MAX)
}

/// The centre of the scan cell holding `point`: each coordinate rounded to the nearest
/// multiple of [`CELL_MICRO`] (halves away from minus infinity), kept on the globe.
pub fn cell_of(point: GeoPoint) -> GeoPoint {
    let round = |v: i32, max: i32| {
        let v = i64::from(v);
        let cell = i64::from(CELL_MICRO);
        let rounded = (v + cell / 2).div_euclid(cell) * cell;
        rounded.clamp(-i64::from(max), i64::from(max)) as i32
    };
    GeoPoint {
        lat_micro: round(point.lat_micro, GeoPoint::MAX_LAT),
        lon_micro: round(point.lon_micro, GeoPoint::MAX_LON),
    }
}

/// Whether `point` is a cell centre (both coordinates multiples of [`CELL_MICRO`]).
pub fn is_cell(point: GeoPoint) -> bool {
    point.lat_micro.rem_euclid(CELL_MICRO) == 0 && point.lon_micro.rem_euclid(CELL_MICRO) == 0
}

/// Whether `point` lies inside `fence` (on the edge counts as inside).
pub fn within(fence: &Geofence, point: GeoPoint) -> bool {
    distance_m(fence.centre, point) <= u64::from(fence.radius_m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint {
            lat_micro: (lat * 1e6).round() as i32,
            lon_micro: (lon * 1e6).round() as i32,
        }
    }

    const SHANGHAI: (f64, f64) = (31.2304, 121.4737);
    const BEIJING: (f64, f64) = (39.9042, 116.4074);
    const HANGZHOU: (f64, f64) = (30.2741, 120.1551);
    const YINCHUAN: (f64, f64) = (38.4872, 106.2309);
    const GUANGZHOU: (f64, f64) = (23.1291, 113.2644);

    /// Great-circle distance in metres (test oracle only: floats never reach the ledger).
    fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (la1, lo1, la2, lo2) = (
            a.0.to_radians(),
            a.1.to_radians(),
            b.0.to_radians(),
            b.1.to_radians(),
        );
        let h = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6_371_008.8 * h.sqrt().asin()
    }

    fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
        distance_m(p(a.0, a.1), p(b.0, b.1)) as f64 / 1000.0
    }

    #[test]
    fn known_city_pairs() {
        // Great-circle distances between the city centres, within a few per cent.
        let cases = [
            (SHANGHAI, BEIJING, 1_067.0),
            (SHANGHAI, HANGZHOU, 165.0),
            (SHANGHAI, GUANGZHOU, 1_212.0),
            (BEIJING, YINCHUAN, 890.0),
        ];
        for (a, b, want) in cases {
            let got = km(a, b);
            assert!(
                (got - want).abs() / want < 0.02,
                "{a:?}-{b:?}: {got} km, want about {want}"
            );
        }
    }

    #[test]
    fn within_a_quarter_per_cent_of_great_circle_inside_china() {
        let cities = [SHANGHAI, BEIJING, HANGZHOU, YINCHUAN, GUANGZHOU];
        for a in cities {
            for b in cities {
                if a == b {
                    assert_eq!(km(a, b), 0.0);
                    continue;
                }
                let truth = haversine(a, b) / 1000.0;
                let got = km(a, b);
                assert!(
                    (got - truth).abs() / truth < 0.0025,
                    "{a:?}-{b:?}: {got} km, great circle {truth} km"
                );
                assert_eq!(km(a, b), km(b, a), "symmetric");
            }
        }
    }

    #[test]
    fn cosine_table_matches_floats() {
        for deg_tenths in 0..=900 {
            let lat = i64::from(deg_tenths) * 100_000;
            let want = (f64::from(deg_tenths) / 10.0).to_radians().cos() * 1e6;
            let got = cos_micro(lat) as f64;
            assert!((got - want).abs() < 50.0, "{deg_tenths}: {got} vs {want}");
            assert_eq!(cos_micro(-lat), cos_micro(lat));
        }
    }

    #[test]
    fn antimeridian_wraps() {
        let west = GeoPoint {
            lat_micro: 0,
            lon_micro: 179_900_000,
        };
        let east = GeoPoint {
            lat_micro: 0,
            lon_micro: -179_900_000,
        };
        let d = distance_m(west, east);
        assert!((22_000..22_500).contains(&d), "{d}");
    }

    #[test]
    fn extremes_do_not_overflow() {
        let corners = [
            GeoPoint {
                lat_micro: 90_000_000,
                lon_micro: 180_000_000,
            },
            GeoPoint {
                lat_micro: -90_000_000,
                lon_micro: -180_000_000,
            },
            GeoPoint {
                lat_micro: i32::MAX,
                lon_micro: i32::MIN,
            },
        ];
        for a in corners {
            for b in corners {
                let _ = distance_m(a, b);
            }
        }
        let pole_to_pole = distance_m(corners[0], corners[1]);
        assert!((20_000_000..20_030_000).contains(&pole_to_pole));
    }

    #[test]
    fn cells() {
        let shanghai = p(SHANGHAI.0, SHANGHAI.1);
        let cell = cell_of(shanghai);
        assert_eq!(
            cell,
            GeoPoint {
                lat_micro: 31_250_000,
                lon_micro: 121_450_000
            }
        );
        assert!(is_cell(cell) && !is_cell(shanghai));
        assert!(distance_m(cell, shanghai) < 4_000);
        assert_eq!(cell_of(cell), cell);
        let south_west = cell_of(GeoPoint {
            lat_micro: -33_868_800,
            lon_micro: -70_669_300,
        });
        assert_eq!(
            south_west,
            GeoPoint {
                lat_micro: -33_850_000,
                lon_micro: -70_650_000
            }
        );
        let edge = cell_of(GeoPoint {
            lat_micro: 89_999_999,
            lon_micro: -179_999_999,
        });
        assert!(edge.is_valid() && is_cell(edge));
    }

    #[test]
    fn geofences() {
        let fence = Geofence {
            centre: p(SHANGHAI.0, SHANGHAI.1),
            radius_m: 50_000,
        };
        assert!(within(&fence, p(31.1434, 121.8052))); // Pudong airport, ~33 km
        assert!(!within(&fence, p(HANGZHOU.0, HANGZHOU.1)));
    }
}
