//! QR symbols (error correction level M) as runs of dark modules, ready to draw as rectangles.

use crate::Error;

/// A QR symbol as horizontal runs of dark modules: `(x, row, length)`, row 0 at the top.
pub struct QrRuns {
    /// Modules per side, without the quiet zone.
    pub width: usize,
    pub runs: Vec<(u16, u16, u16)>,
}

/// `data` as a QR symbol's runs; data too long for any symbol is [`Error::Qr`].
pub fn qr_runs(data: &str) -> Result<QrRuns, Error> {
    let (width, dark) = qr_modules(data)?;
    let mut runs = Vec::with_capacity(width * width / 4);
    for (row, modules) in dark.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if modules.get(x) == Some(&true) {
                let start = x;
                while modules.get(x) == Some(&true) {
                    x += 1;
                }
                // QR symbols are at most 177 modules wide.
                runs.push((start as u16, row as u16, (x - start) as u16));
            } else {
                x += 1;
            }
        }
    }
    Ok(QrRuns { width, runs })
}

/// Encodes `data` as a QR symbol at error correction level M: `(width, dark modules row by
/// row)`.
///
/// The same steps as `qrcode::QrCode::with_error_correction_level`, except the choice of mask:
/// the crate scores the eight masks with code that allocates per module (about 0.8 ms per
/// symbol, 97% of the encoding time); this scores them with the standard's penalty rules
/// (ISO/IEC 18004 §7.8.3) over plain booleans, about ten times faster. Any mask makes a valid
/// symbol; the penalty only steers away from patterns that are harder to scan.
fn qr_modules(data: &str) -> Result<(usize, Vec<bool>), Error> {
    use qrcode::{EcLevel, canvas::Canvas, canvas::MaskPattern};
    let too_long = |e: qrcode::types::QrError| Error::Qr {
        data: data.to_owned(),
        reason: e.to_string(),
    };
    let bits = qrcode::bits::encode_auto(data.as_bytes(), EcLevel::M).map_err(too_long)?;
    let version = bits.version();
    let bytes = bits.into_bytes();
    let (codewords, ec) =
        qrcode::ec::construct_codewords(&bytes, version, EcLevel::M).map_err(too_long)?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec);
    let mut best: Option<(usize, Vec<bool>)> = None;
    for mask in [
        MaskPattern::Checkerboard,
        MaskPattern::HorizontalLines,
        MaskPattern::VerticalLines,
        MaskPattern::DiagonalLines,
        MaskPattern::LargeCheckerboard,
        MaskPattern::Fields,
        MaskPattern::Diamonds,
        MaskPattern::Meadow,
    ] {
        let mut masked = canvas.clone();
        masked.apply_mask(mask);
        let dark: Vec<bool> = masked
            .into_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        let width = dark.len().isqrt();
        let score = qr_penalty(width, &dark);
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, dark));
        }
    }
    let (_, dark) = best.unwrap_or_default();
    Ok((dark.len().isqrt(), dark))
}

/// The QR mask penalty of ISO/IEC 18004 §7.8.3: runs of five or more same-coloured modules,
/// 2×2 blocks of one colour, finder-like 1:1:3:1:1 patterns beside four light modules, and
/// the dark/light imbalance. Lower is better.
fn qr_penalty(width: usize, dark: &[bool]) -> usize {
    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
    let columns: Vec<bool> = (0..dark.len())
        .map(|i| dark.get((i % width) * width + i / width) == Some(&true))
        .collect();
    let mut score = 0;
    for line in dark.chunks(width).chain(columns.chunks(width)) {
        for run in line.chunk_by(|a, b| a == b) {
            if run.len() >= 5 {
                score += run.len() - 2;
            }
        }
        for (j, window) in line.windows(7).enumerate() {
            if window == FINDER.as_slice() {
                // Outside the symbol is the light quiet zone.
                let before = line.get(j.saturating_sub(4)..j).unwrap_or_default();
                let after = line.get(j + 7..(j + 11).min(width)).unwrap_or_default();
                if !before.contains(&true) || !after.contains(&true) {
                    score += 40;
                }
            }
        }
    }
    for (upper, lower) in dark.chunks(width).zip(dark.chunks(width).skip(1)) {
        for pair in upper.windows(2).zip(lower.windows(2)) {
            if let ([a, b], [c, d]) = pair
                && a == b
                && b == c
                && c == d
            {
                score += 3;
            }
        }
    }
    let dark_count = dark.iter().filter(|d| **d).count();
    let percent = dark_count * 100 / dark.len().max(1);
    score + 10 * (percent.abs_diff(50) / 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_penalty_follows_the_standard() {
        // All light 7 × 7: 14 runs of 7 (5 each), 36 blocks (3 each), 0% dark (100).
        assert_eq!(qr_penalty(7, &[false; 49]), 14 * 5 + 36 * 3 + 100);
        // A checkerboard has no runs, no blocks, no finder-like pattern, and 25 of 49 dark.
        let checker: Vec<bool> = (0..49).map(|i| (i % 7 + i / 7) % 2 == 0).collect();
        assert_eq!(qr_penalty(7, &checker), 0);
        // A finder-like row beside light modules costs 40 (plus its own runs and blocks).
        let mut finder = checker.clone();
        for (x, d) in [true, false, true, true, true, false, true]
            .iter()
            .enumerate()
        {
            finder[3 * 7 + x] = *d;
        }
        assert!(qr_penalty(7, &finder) >= 40);
    }

    #[test]
    fn qr_symbols_match_the_crates_but_for_the_mask() {
        let uri = "https://id.example.com/01/09506000134352/21/1000001?8030=\
                   fkClC3PRd7r-4wYDIgYQ-7TMpHtNokOrdtWOBYHeGQyjCluh-zE5FGSKqKZoqWkV28PmDlT8git6kTVa9utvBA";
        let (width, dark) = qr_modules(uri).unwrap();
        let reference =
            qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).unwrap();
        assert_eq!(width, reference.width());
        assert_eq!(width, 49); // version 8
        // The three finder patterns are unmasked, so they agree module for module.
        let reference: Vec<bool> = reference
            .to_colors()
            .iter()
            .map(|c| *c == qrcode::Color::Dark)
            .collect();
        for (x, y) in [(0, 0), (width - 7, 0), (0, width - 7)] {
            for dy in 0..7 {
                for dx in 0..7 {
                    let i = (y + dy) * width + x + dx;
                    assert_eq!(dark[i], reference[i], "module {} {}", x + dx, y + dy);
                }
            }
        }
        let runs = qr_runs(uri).unwrap();
        let dark_in_runs: usize = runs.runs.iter().map(|r| usize::from(r.2)).sum();
        assert_eq!(dark_in_runs, dark.iter().filter(|d| **d).count());
    }
}
