//! The text of a label: the product name and the font that prints it ([`LabelName`]), the
//! standard fonts' encoding and widths, and line breaking that measures before it draws.

use crate::{
    Error,
    font::{self, FontPath, LabelFont},
};

/// Most characters of a product name (the ledger's limit on names).
pub const MAX_NAME_CHARS: usize = 200;

/// A product name as the labels print it.
pub struct LabelName {
    /// The characters printed, runs of whitespace collapsed to one space.
    pub text: String,
    /// Whether characters were left out because no font could show them.
    pub dropped: bool,
    /// The embedded font that prints it and where it came from (`path#face (family)`);
    /// `None`: Helvetica.
    pub font: Option<(LabelFont, String)>,
    /// Why characters were left out, if they were.
    pub note: Option<NameNote>,
}

impl LabelName {
    /// The characters of `name` that `can_show` accepts.
    pub(crate) fn keep(name: &str, can_show: impl Fn(char) -> bool) -> Self {
        let mut text = String::with_capacity(name.len());
        let mut dropped = false;
        for c in name.chars() {
            if c.is_whitespace() {
                // Collapse the whitespace, also what dropped characters leave behind.
                if !text.is_empty() && !text.ends_with(' ') {
                    text.push(' ');
                }
            } else if can_show(c) {
                text.push(c);
            } else {
                dropped = true;
            }
        }
        text.truncate(text.trim_end().len());
        Self {
            text,
            dropped,
            font: None,
            note: None,
        }
    }
}

/// Why a name prints fewer characters than it has, for the caller to tell its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameNote {
    /// Helvetica cannot show every character and the caller asked for no other font.
    StandardOnly,
    /// Helvetica cannot show every character, and no font given or found can either.
    NoFont,
    /// The font found shows none of the characters Helvetica lacks; Helvetica prints the rest.
    FontShowsNone { font: String },
    /// The font cannot show every character; those are left out.
    FontMissesSome { font: String },
}

impl LabelName {
    /// Says how `name` is printed, choosing the font: Helvetica when it shows every character
    /// (or `font` is `none`), else `font`, else the first of `system_fonts` (e.g.
    /// [`crate::SYSTEM_FONTS`]) that shows every character. [`LabelName::note`] says what is left
    /// out; a `font` that cannot be read or used is an error.
    pub fn choose(
        name: &str,
        font: Option<&FontPath>,
        system_fonts: &[&str],
    ) -> Result<LabelName, Error> {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::NameTooLong {
                max: MAX_NAME_CHARS,
            });
        }
        let mut standard = LabelName::keep(name, |c| winansi(c).is_some());
        if !standard.dropped {
            return Ok(standard);
        }
        let file = match font {
            Some(font) if font.is_none() => {
                standard.note = Some(NameNote::StandardOnly);
                return Ok(standard);
            }
            Some(font) => Some(font.load(name)?),
            None => font::discover(name, system_fonts),
        };
        let Some(file) = file else {
            standard.note = Some(NameNote::NoFont);
            return Ok(standard);
        };
        let source = format!(
            "{}#{} ({})",
            file.path.display(),
            file.face.index,
            file.face.family
        );
        let mut printed = LabelName::keep(name, |c| file.can_show(c));
        if printed.text.is_empty() {
            standard.note = Some(NameNote::FontShowsNone { font: source });
            return Ok(standard);
        }
        if printed.dropped {
            printed.note = Some(NameNote::FontMissesSome {
                font: source.clone(),
            });
        }
        let subset =
            LabelFont::subset(&file.data, file.face.index, &printed.text).map_err(|reason| {
                Error::FontSubset {
                    font: source.clone(),
                    reason,
                }
            })?;
        printed.font = Some((subset, source));
        Ok(printed)
    }

    /// The font embedded to print the name, if Helvetica does not.
    pub fn embedded_font(&self) -> Option<&LabelFont> {
        self.font.as_ref().map(|(font, _)| font)
    }
}

/// The WinAnsiEncoding byte of `c`, if the standard fonts can show it.
pub(crate) fn winansi(c: char) -> Option<u8> {
    match c {
        ' '..='~' | '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).ok(),
        '€' => Some(0x80),
        '‚' => Some(0x82),
        '„' => Some(0x84),
        '…' => Some(0x85),
        '‘' => Some(0x91),
        '’' => Some(0x92),
        '“' => Some(0x93),
        '”' => Some(0x94),
        '•' => Some(0x95),
        '–' => Some(0x96),
        '—' => Some(0x97),
        '™' => Some(0x99),
        'Œ' => Some(0x8c),
        'œ' => Some(0x9c),
        'Š' => Some(0x8a),
        'š' => Some(0x9a),
        'Ž' => Some(0x8e),
        'ž' => Some(0x9e),
        'Ÿ' => Some(0x9f),
        _ => None,
    }
}

/// Helvetica's advance widths (1/1000 em) for bytes 0x20..=0x7E, from Adobe's AFM.
const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// Width of one WinAnsi byte in 1/1000 em. Outside ASCII the value is an upper bound of the
/// real width, so text that fits by this measure fits on paper.
pub(crate) fn glyph_width(b: u8, bold: bool) -> f32 {
    let w = match b {
        0x20..=0x7e => HELVETICA_ASCII
            .get(usize::from(b - 0x20))
            .copied()
            .unwrap_or(1000),
        0xc6 | 0xe6 | 0x80..=0x9f => 1000,
        _ => 778,
    };
    // Helvetica-Bold is at most ~10% wider than Helvetica on the glyphs labels use.
    f32::from(w) * if bold { 1.1 } else { 1.0 }
}

/// A label font's advance widths, to measure text before it is drawn.
#[derive(Clone, Copy)]
pub(crate) enum Metrics<'a> {
    /// Helvetica, or Helvetica-Bold, in WinAnsi.
    Standard { bold: bool },
    /// The embedded font of the product name.
    Embedded(&'a LabelFont),
}

impl Metrics<'_> {
    pub(crate) const REGULAR: Self = Self::Standard { bold: false };
    pub(crate) const BOLD: Self = Self::Standard { bold: true };

    /// The advance of `c` in 1/1000 em.
    pub(crate) fn advance(self, c: char) -> f32 {
        match self {
            // Characters outside WinAnsi are never drawn; 0x80 measures them as 1 em.
            Self::Standard { bold } => glyph_width(winansi(c).unwrap_or(0x80), bold),
            Self::Embedded(font) => font.advance(c),
        }
    }

    /// `text` as the bytes of a PDF text string in this font.
    pub(crate) fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Self::Standard { .. } => text.chars().filter_map(winansi).collect(),
            Self::Embedded(font) => font.encode(text),
        }
    }
}

pub(crate) fn text_width(text: &str, size: f32, metrics: Metrics<'_>) -> f32 {
    text.chars().map(|c| metrics.advance(c)).sum::<f32>() * size / 1000.0
}

/// Whether a line may break before and after `c` without a space: CJK ideographs, kana,
/// CJK punctuation and full-width forms (Chinese and Japanese put no spaces between words).
pub(crate) fn breaks_anywhere(c: char) -> bool {
    matches!(c,
        '\u{2e80}'..='\u{a4cf}' | '\u{f900}'..='\u{faff}' | '\u{fe30}'..='\u{fe4f}'
        | '\u{ff00}'..='\u{ffef}' | '\u{20000}'..='\u{3ffff}')
}

/// The pieces lines are made of: words, and single CJK characters. `(after a space, piece)`.
pub(crate) fn line_pieces(text: &str) -> Vec<(bool, &str)> {
    let mut pieces = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut space = true;
        let mut start = 0;
        for (i, c) in word.char_indices() {
            if breaks_anywhere(c) {
                let end = i + c.len_utf8();
                for piece in [&word[start..i], &word[i..end]] {
                    if !piece.is_empty() {
                        pieces.push((space, piece));
                        space = false;
                    }
                }
                start = end;
            }
        }
        if start < word.len() {
            pieces.push((space, &word[start..]));
        }
    }
    pieces
}

/// Breaks `text` into at most `max_lines` lines of at most `width` points, between words and
/// CJK characters; words longer than a line are cut, and text beyond the last line ends in
/// "...".
pub(crate) fn wrap(
    text: &str,
    size: f32,
    width: f32,
    max_lines: usize,
    metrics: Metrics<'_>,
) -> Vec<String> {
    let fits = |s: &str| text_width(s, size, metrics) <= width;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut pieces = line_pieces(text).into_iter().peekable();
    let mut truncated = false;
    'pieces: while let Some((space, piece)) = pieces.next() {
        let mut candidate = line.clone();
        if space && !candidate.is_empty() {
            candidate.push(' ');
        }
        candidate.push_str(piece);
        if fits(&candidate) {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            if lines.len() == max_lines {
                truncated = true;
                break;
            }
        }
        // The piece alone: cut it to lines if it is wider than one (at least a character each).
        let mut rest = piece;
        while !fits(rest) {
            let fit = rest
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .enumerate()
                .take_while(|&(n, end)| n == 0 || fits(&rest[..end]))
                .last()
                .map_or(rest.len(), |(_, end)| end);
            lines.push(rest[..fit].to_owned());
            rest = &rest[fit..];
            if lines.len() == max_lines {
                truncated = !rest.is_empty() || pieces.peek().is_some();
                break 'pieces;
            }
        }
        line = rest.to_owned();
    }
    if !line.is_empty() {
        if lines.len() < max_lines {
            lines.push(line);
        } else {
            truncated = true;
        }
    }
    if truncated && let Some(last) = lines.last_mut() {
        while !last.is_empty() && !fits(&format!("{last}...")) {
            last.pop();
        }
        last.push_str("...");
    }
    lines
}

/// The largest size not above `size` (and not below 4 pt) at which `text` fits in `width`.
pub(crate) fn fit_size(text: &str, size: f32, width: f32, metrics: Metrics<'_>) -> f32 {
    let at_one = text_width(text, 1.0, metrics);
    if at_one <= 0.0 {
        return size;
    }
    (width / at_one).clamp(4.0, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::{FONT_NAME, NameLines, ROLL_LABEL};
    use std::path::Path;

    #[test]
    fn names_keep_what_the_font_can_show() {
        let helvetica = |name| LabelName::keep(name, |c| winansi(c).is_some());
        let name = helvetica("Château  Margaux™ 2015");
        assert!(!name.dropped);
        assert_eq!(name.text, "Château Margaux™ 2015");
        assert_eq!(
            Metrics::REGULAR.encode(&name.text),
            b"Ch\xe2teau Margaux\x99 2015"
        );
        let name = helvetica("贵州茅台酒 Moutai 53%");
        assert!(name.dropped);
        assert_eq!(name.text, "Moutai 53%");
        let name = helvetica("茅台");
        assert!(name.text.is_empty());
        // A name Helvetica shows needs no font, whatever font is given.
        let name = LabelName::choose(
            "Château Margaux",
            Some(&"/no/such/font.ttf".parse().unwrap()),
            &[NOTO],
        );
        assert!(name.unwrap().font.is_none());
        // `none` keeps Helvetica; a font that cannot be read is an error.
        let name =
            LabelName::choose("贵州 Moutai", Some(&"none".parse().unwrap()), &[NOTO]).unwrap();
        assert_eq!((name.text.as_str(), name.font.is_none()), ("Moutai", true));
        assert_eq!(name.note, Some(NameNote::StandardOnly));
        let err = LabelName::choose("贵州", Some(&"/no/such/font.ttf".parse().unwrap()), &[]);
        assert!(format!("{:#}", err.err().unwrap()).contains("/no/such/font.ttf"));
        // No font given: the first system font that shows the name, else Helvetica.
        assert!(
            Path::new(NOTO).exists(),
            "{NOTO} is missing: apt-get install fonts-noto-cjk"
        );
        let name = LabelName::choose("贵州 Moutai", None, &["/no/such/font.ttf"]).unwrap();
        assert_eq!((name.text.as_str(), name.font.is_none()), ("Moutai", true));
        assert_eq!(name.note, Some(NameNote::NoFont));
        let name = LabelName::choose("贵州 Moutai", None, &["/no/such/font.ttf", NOTO]).unwrap();
        assert_eq!(name.text, "贵州 Moutai");
        assert_eq!(name.note, None);
        assert!(name.font.unwrap().1.starts_with(NOTO));
        assert!(matches!(
            LabelName::choose(&"x".repeat(MAX_NAME_CHARS + 1), None, &[]),
            Err(Error::NameTooLong { .. })
        ));
    }

    /// From fonts-noto-cjk, which `.ci/run` installs.
    const NOTO: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

    #[test]
    fn cjk_names_get_an_embedded_font() {
        let noto = NOTO;
        assert!(
            Path::new(noto).exists(),
            "{noto} is missing: apt-get install fonts-noto-cjk (.ci/run installs it)"
        );
        let name = LabelName::choose("翡翠谷  干红葡萄酒 2024", Some(&noto.parse().unwrap()), &[])
            .unwrap();
        assert_eq!(name.text, "翡翠谷 干红葡萄酒 2024");
        assert!(!name.dropped);
        let (font, source) = name.font.as_ref().unwrap();
        assert!(source.contains("#2 (Noto Sans CJK SC)"), "{source}");
        // Ideographs are 1 em wide, so 7 pt text 60 pt wide holds 8 of them and a narrow
        // space a line, and lines break between ideographs where there is no space.
        let metrics = Metrics::Embedded(font);
        assert_eq!(text_width("翡翠谷", 7.0, metrics), 21.0);
        let lines = wrap(&name.text, 7.0, 60.0, 3, metrics);
        assert_eq!(lines, vec!["翡翠谷 干红葡萄酒", "2024"]);
        let lines = wrap(&name.text, 7.0, 50.0, 3, metrics);
        assert_eq!(lines, vec!["翡翠谷 干红葡", "萄酒 2024"]);
        let lines = wrap(&name.text, 7.0, 30.0, 2, metrics);
        assert_eq!(lines, vec!["翡翠谷 干", "红葡萄..."]);
        for line in &lines {
            assert!(text_width(line, 7.0, metrics) <= 30.0, "{line}");
        }
        let lines = NameLines::new(Some(&name), &ROLL_LABEL);
        assert_eq!(lines.font, FONT_NAME);
        assert_eq!(
            lines.lines,
            vec![font.encode("翡翠谷 干红葡萄酒"), font.encode("2024")]
        );
    }

    #[test]
    fn wrapping_fits_and_truncates() {
        let width = 60.0;
        let m = Metrics::REGULAR;
        let lines = wrap("Riesling Spatlese Trocken Mosel", 7.0, width, 2, m);
        assert_eq!(lines, vec!["Riesling Spatlese", "Trocken Mosel"]);
        let lines = wrap(
            "Riesling Spatlese Trocken Mosel Saar Ruwer",
            7.0,
            width,
            2,
            m,
        );
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(text_width(line, 7.0, m) <= width, "{line:?}");
        }
        assert!(lines[1].ends_with("..."));
        let lines = wrap("Short", 7.0, width, 2, m);
        assert_eq!(lines, vec!["Short"]);
        let lines = wrap(&"W".repeat(200), 7.0, width, 3, m);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with("..."));
        assert!(wrap("", 7.0, width, 2, m).is_empty());
        // Mixed text breaks between CJK characters as well as at spaces.
        assert_eq!(
            line_pieces("Moutai 贵州茅台酒 53%"),
            vec![
                (true, "Moutai"),
                (true, "贵"),
                (false, "州"),
                (false, "茅"),
                (false, "台"),
                (false, "酒"),
                (true, "53%")
            ]
        );
        assert_eq!(
            line_pieces("A贵B"),
            vec![(true, "A"), (false, "贵"), (false, "B")]
        );
    }
}
