//! The font that prints product names the standard PDF fonts cannot show (CJK, Greek, ...):
//! which font file ([`FontPath`], [`discover`]), which face of a collection ([`choose_face`]),
//! and its subset for the labels ([`LabelFont::subset`]), ready to embed as a Type0 font with
//! Identity-H encoding.
//!
//! Subsetting and measuring are pure (bytes in, bytes out); only [`FontPath::load`] and
//! [`discover`] read files.

use crate::Error;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    str::FromStr,
};
use ttf_parser::{Face, RawFace, Tag, name_id};

/// Fonts tried, in order, when the caller names none (`jitrace codes issue`: neither `--font`
/// nor `JITRACE_LABEL_FONT`; the console's label PDFs always): Debian and
/// Ubuntu paths (`fonts-noto-cjk`, `fonts-wqy-*`, `fonts-arphic-*`, `fonts-droid-fallback`,
/// `fonts-dejavu-core`), then Fedora/Arch and macOS ones. The first that can show every
/// character of the name wins.
pub const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

/// A font file as a user names it: `PATH`, or `PATH#INDEX` for one face of a
/// collection (`.ttc`). The value `none` means "no embedded font".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FontPath {
    pub path: PathBuf,
    pub index: Option<u32>,
}

impl FromStr for FontPath {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `#INDEX` only when what follows the last `#` is a number, so `a#b.ttf` stays a path.
        if let Some((path, index)) = s.rsplit_once('#')
            && let Ok(index) = index.parse()
        {
            return Ok(Self {
                path: path.into(),
                index: Some(index),
            });
        }
        Ok(Self {
            path: s.into(),
            index: None,
        })
    }
}

impl FontPath {
    /// Whether this is `none`: print with the standard fonts only.
    pub fn is_none(&self) -> bool {
        self.index.is_none() && self.path.as_os_str() == "none"
    }

    /// Reads the file and picks its face: the given index, or the one that suits `text` best.
    pub fn load(&self, text: &str) -> Result<FontFile, Error> {
        let data = std::fs::read(&self.path).map_err(|source| Error::FontRead {
            path: self.path.clone(),
            source,
        })?;
        let face = match self.index {
            Some(index) => {
                let face = Face::parse(&data, index).map_err(|e| Error::FontUnusable {
                    path: self.path.clone(),
                    reason: format!("has no usable face {index}: {e}"),
                })?;
                FaceChoice {
                    index,
                    covered: coverage(&face, text),
                    family: family(&face),
                }
            }
            None => choose_face(&data, text).ok_or_else(|| Error::FontUnusable {
                path: self.path.clone(),
                reason: "is not a TrueType/OpenType font or collection".into(),
            })?,
        };
        Ok(FontFile {
            path: self.path.clone(),
            data,
            face,
        })
    }
}

/// A font file in memory and the face chosen from it.
pub struct FontFile {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub face: FaceChoice,
}

impl FontFile {
    /// Whether the chosen face has a glyph for every non-space character of `text`.
    pub fn covers(&self, text: &str) -> bool {
        self.face.covered == printing_chars(text)
    }

    /// Whether the chosen face has a glyph for `c`.
    pub fn can_show(&self, c: char) -> bool {
        Face::parse(&self.data, self.face.index).is_ok_and(|f| f.glyph_index(c).is_some())
    }
}

/// One face of a font file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaceChoice {
    pub index: u32,
    /// How many non-space characters of the text it can show.
    pub covered: usize,
    pub family: String,
}

/// The first of `candidates` that exists and can show every character of `text`.
pub fn discover<P: AsRef<Path>>(text: &str, candidates: &[P]) -> Option<FontFile> {
    candidates.iter().find_map(|path| {
        let font = FontPath {
            path: path.as_ref().to_owned(),
            index: None,
        };
        font.load(text).ok().filter(|f| f.covers(text))
    })
}

/// The face of `data` (a font or a collection) that suits `text` best: the most characters
/// shown, then the face of the text's script (the SC face of Noto Sans CJK for Chinese, JP
/// with kana, KR with hangul), then proportional over monospaced faces, then the first.
pub fn choose_face(data: &[u8], text: &str) -> Option<FaceChoice> {
    let faces = ttf_parser::fonts_in_collection(data).unwrap_or(1);
    let region = region_suffix(text);
    (0..faces)
        .filter_map(|index| {
            let face = Face::parse(data, index).ok()?;
            let family = family(&face);
            let words: Vec<&str> = family.split_whitespace().collect();
            let fits_region = words.contains(&region);
            let proportional = !face.is_monospaced() && !words.contains(&"Mono");
            let covered = coverage(&face, text);
            Some((
                (covered, fits_region, proportional),
                FaceChoice {
                    index,
                    covered,
                    family,
                },
            ))
        })
        // `max_by_key` keeps the last of equals; the first face wins ties instead.
        .rev()
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, choice)| choice)
}

/// The suffix CJK font families give the face of `text`'s script.
fn region_suffix(text: &str) -> &'static str {
    if text
        .chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}'))
    {
        "JP"
    } else if text
        .chars()
        .any(|c| matches!(c, '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}' | '\u{ac00}'..='\u{d7af}'))
    {
        "KR"
    } else {
        "SC"
    }
}

fn printing_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn coverage(face: &Face<'_>, text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace() && face.glyph_index(*c).is_some())
        .count()
}

fn name(face: &Face<'_>, ids: &[u16]) -> Option<String> {
    ids.iter().find_map(|&id| {
        face.names()
            .into_iter()
            .filter(|n| n.name_id == id)
            .find_map(|n| n.to_string())
    })
}

fn family(face: &Face<'_>) -> String {
    name(face, &[name_id::TYPOGRAPHIC_FAMILY, name_id::FAMILY]).unwrap_or_default()
}

/// How the glyphs are drawn, which decides the PDF font type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outlines {
    /// `glyf` outlines: CIDFontType2, the program in FontFile2.
    TrueType,
    /// CFF outlines (e.g. Noto Sans CJK): CIDFontType0, the bare CFF table in FontFile3.
    Cff,
}

/// A font subset to the characters of the labels, with what the PDF needs to embed it.
///
/// CIDs are the subset's glyph ids (the subsetter makes CFF fonts CID-keyed with CID = glyph
/// id), so text is encoded as two-byte CIDs under Identity-H.
pub struct LabelFont {
    /// The PostScript name with its subset tag, e.g. `ABCDEF+NotoSansCJKsc-Regular`.
    pub base_font: String,
    pub outlines: Outlines,
    /// The font program: a TrueType font, or a CFF table.
    pub program: Vec<u8>,
    /// Character to `(CID, advance in 1/1000 em)`.
    pub glyphs: BTreeMap<char, (u16, f32)>,
    /// In 1/1000 em: `[x_min, y_min, x_max, y_max]`.
    pub bbox: [f32; 4],
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
    pub italic_angle: f32,
    pub stem_v: f32,
}

/// Width of a character the font lacks (never drawn: such characters are left out first).
const MISSING_WIDTH: f32 = 1000.0;

impl LabelFont {
    /// Subsets face `index` of `data` to the characters of `text` (those it has) and `.` for
    /// the ellipsis of a truncated line. The error says why the font cannot be used.
    pub fn subset(data: &[u8], index: u32, text: &str) -> Result<Self, String> {
        let face = Face::parse(data, index).map_err(|e| format!("cannot parse the font: {e}"))?;
        let outlines = if face.tables().glyf.is_some() {
            Outlines::TrueType
        } else if face.tables().cff.is_some() {
            Outlines::Cff
        } else {
            return Err(
                "the font has neither TrueType nor CFF outlines (CFF2 is not supported)".into(),
            );
        };
        let scale = 1000.0 / f32::from(face.units_per_em());
        let mut remapper = subsetter::GlyphRemapper::new();
        let mut glyphs = BTreeMap::new();
        for c in text.chars().chain(['.']) {
            if let Some(gid) = face.glyph_index(c)
                && !glyphs.contains_key(&c)
            {
                let advance = face.glyph_hor_advance(gid).unwrap_or(0);
                glyphs.insert(c, (remapper.remap(gid.0), f32::from(advance) * scale));
            }
        }
        if !text
            .chars()
            .any(|c| !c.is_whitespace() && glyphs.contains_key(&c))
        {
            return Err("the font has none of the characters".into());
        }
        let subset = subsetter::subset(data, index, &remapper)
            .map_err(|e| format!("cannot subset the font: {e}"))?;
        let program = match outlines {
            Outlines::TrueType => subset,
            Outlines::Cff => RawFace::parse(&subset, 0)
                .ok()
                .and_then(|raw| raw.table(Tag::from_bytes(b"CFF ")))
                .ok_or("the subset font has no CFF table")?
                .to_vec(),
        };
        let postscript = name(&face, &[name_id::POST_SCRIPT_NAME])
            .unwrap_or_else(|| family(&face))
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>();
        let rect = face.global_bounding_box();
        let ascent = f32::from(face.ascender()) * scale;
        Ok(Self {
            base_font: format!("{}+{postscript}", subset_tag(&glyphs)),
            outlines,
            program,
            bbox: [rect.x_min, rect.y_min, rect.x_max, rect.y_max].map(|v| f32::from(v) * scale),
            ascent,
            descent: f32::from(face.descender()) * scale,
            cap_height: face
                .capital_height()
                .map_or(ascent, |h| f32::from(h) * scale),
            italic_angle: face.italic_angle(),
            // The usual estimate from the weight class, as PDF producers without hinting data do.
            stem_v: 10.0 + 0.244 * (f32::from(face.weight().to_number()) - 50.0),
            glyphs,
        })
    }

    /// The advance of `c`, in 1/1000 em.
    pub fn advance(&self, c: char) -> f32 {
        self.glyphs.get(&c).map_or(MISSING_WIDTH, |&(_, w)| w)
    }

    /// `text` as Identity-H bytes: each character's CID, big-endian. Characters outside the
    /// subset are left out.
    pub fn encode(&self, text: &str) -> Vec<u8> {
        text.chars()
            .filter_map(|c| self.glyphs.get(&c))
            .flat_map(|&(cid, _)| cid.to_be_bytes())
            .collect()
    }
}

/// Six capital letters that name the subset (PDF 32000 §9.6.4), from its characters, so the
/// same name gives the same tag.
fn subset_tag(glyphs: &BTreeMap<char, (u16, f32)>) -> String {
    // FNV-1a: stable across runs and Rust versions, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in glyphs.keys() {
        for b in u32::from(*c).to_le_bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 8)) % 26) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fonts the tests use; `.ci/run` installs them (`fonts-noto-cjk`, `fonts-dejavu-core`).
    const NOTO_CJK: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
    const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    fn system_font(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "{path}: {e}; the label-font tests need fonts-noto-cjk and fonts-dejavu-core \
                 (apt-get install fonts-noto-cjk fonts-dejavu-core; .ci/run installs them)"
            )
        })
    }

    #[test]
    fn font_paths_take_a_face_index() {
        let p: FontPath = "/f/NotoSansCJK-Regular.ttc#2".parse().unwrap();
        assert_eq!(p.path, Path::new("/f/NotoSansCJK-Regular.ttc"));
        assert_eq!(p.index, Some(2));
        let p: FontPath = "/f/a#b.ttf".parse().unwrap();
        assert_eq!((p.path.to_str(), p.index), (Some("/f/a#b.ttf"), None));
        assert!("none".parse::<FontPath>().unwrap().is_none());
        assert!(!"none#1".parse::<FontPath>().unwrap().is_none());
    }

    #[test]
    fn collections_pick_the_face_of_the_script() {
        let data = system_font(NOTO_CJK);
        let face = |text| choose_face(&data, text).unwrap();
        // Noto Sans CJK: JP, KR, SC, TC, HK, then the Mono faces.
        assert_eq!(face("翡翠谷 干红葡萄酒").family, "Noto Sans CJK SC");
        assert_eq!(face("翡翠谷 干红葡萄酒").covered, 8);
        assert_eq!(face("ひらがな").family, "Noto Sans CJK JP");
        assert_eq!(face("한국어").family, "Noto Sans CJK KR");
        let dejavu = system_font(DEJAVU);
        assert_eq!(choose_face(&dejavu, "翡翠").unwrap().covered, 0);
        assert_eq!(choose_face(b"not a font", "x"), None);
    }

    #[test]
    fn discovery_takes_the_first_font_that_shows_everything() {
        system_font(NOTO_CJK);
        system_font(DEJAVU);
        let candidates = ["/nonexistent/font.ttf", DEJAVU, NOTO_CJK];
        let found = discover("翡翠谷 2024", &candidates).unwrap();
        assert_eq!(found.path, Path::new(NOTO_CJK));
        assert_eq!(found.face.family, "Noto Sans CJK SC");
        let found = discover("Ωμέγα Κρασί", &candidates).unwrap();
        assert_eq!(found.path, Path::new(DEJAVU));
        assert!(discover("翡翠谷", &candidates[..2]).is_none());
        // An explicit face index is kept, even if another face would suit better.
        let font = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#0"
            .parse::<FontPath>()
            .unwrap()
            .load("翡翠")
            .unwrap();
        assert_eq!(font.face.family, "Noto Sans CJK JP");
        assert!(font.covers("翡翠") && font.can_show('翡') && !font.can_show('\u{e000}'));
    }

    #[test]
    fn subsets_keep_only_the_labels_glyphs() {
        let data = system_font(NOTO_CJK);
        let face = choose_face(&data, "翡翠谷").unwrap();
        let font = LabelFont::subset(&data, face.index, "翡翠谷 干红葡萄酒 2024").unwrap();
        assert_eq!(font.outlines, Outlines::Cff);
        assert!(
            font.base_font.ends_with("+NotoSansCJKsc-Regular"),
            "{}",
            font.base_font
        );
        assert!(font.program.len() < 40_000, "{} bytes", font.program.len());
        // 11 distinct characters, the space and '.'; CIDs from 1 (0 is .notdef).
        assert_eq!(font.glyphs.len(), 13);
        let mut cids: Vec<u16> = font.glyphs.values().map(|g| g.0).collect();
        cids.sort_unstable();
        assert_eq!(cids, (1..=13).collect::<Vec<_>>());
        assert_eq!(font.advance('翡'), 1000.0);
        assert!(font.advance('2') > 400.0 && font.advance('2') < 700.0);
        assert_eq!(font.encode("翡翠").len(), 4);
        assert_eq!(font.encode("翡x"), font.encode("翡"));
        // The same text gives the same subset name.
        let again = LabelFont::subset(&data, face.index, "翡翠谷 干红葡萄酒 2024").unwrap();
        assert_eq!(again.base_font, font.base_font);

        let dejavu = system_font(DEJAVU);
        let font = LabelFont::subset(&dejavu, 0, "Ωμέγα").unwrap();
        assert_eq!(font.outlines, Outlines::TrueType);
        let parsed = Face::parse(&font.program, 0).unwrap();
        // .notdef, five letters, '.', and the parts of composite glyphs such as έ.
        assert!((7..=12).contains(&parsed.number_of_glyphs()));
        assert!(font.program.len() < dejavu.len() / 20);
        assert!(LabelFont::subset(&dejavu, 0, "翡翠").is_err());
    }
}
