//! Label layouts (A4 sheets of 3 × 8, roll labels of 50 × 30 mm), drawing one label, and a PDF
//! streamed to any writer object by object.

use crate::{
    Error, LabelText, QUIET_ZONE,
    font::{LabelFont, Outlines},
    qr::QrRuns,
    text::{LabelName, Metrics, fit_size, text_width, wrap},
};
use pdf_writer::{Chunk, Content, Filter, Name, Rect, Ref, Str, TextStr};
use std::{fmt::Write as _, io::Write};

/// The two kinds of PDF labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sheet {
    /// A4 sheets of 3 × 8 labels (66 × 34 mm).
    A4,
    /// One 50 × 30 mm label per page, for roll label printers.
    Roll,
}

impl Sheet {
    /// The page size in points.
    pub fn page_size(self) -> (f32, f32) {
        match self {
            Self::A4 => A4,
            Self::Roll => (ROLL_LABEL.width, ROLL_LABEL.height),
        }
    }
}

pub(crate) const MM: f32 = 72.0 / 25.4;

/// Where things go on one label, in points.
pub(crate) struct LabelLayout {
    pub(crate) width: f32,
    pub(crate) height: f32,
    pad: f32,
    /// Side of the QR symbol's square, quiet zone included.
    qr: f32,
    serial_size: f32,
    name_size: f32,
    name_lines: usize,
    small_size: f32,
}

impl LabelLayout {
    /// The width of the text column right of the QR symbol.
    fn text_column(&self) -> f32 {
        self.width - 2.0 * self.pad - self.qr - 1.0 * MM
    }
}

/// A4 sheet: 3 × 8 labels of 66 × 34 mm with 6 mm side and 12.5 mm top/bottom margins.
pub(crate) const A4: (f32, f32) = (210.0 * MM, 297.0 * MM);
pub(crate) const A4_COLUMNS: usize = 3;
pub(crate) const A4_ROWS: usize = 8;
/// Labels on one A4 sheet.
pub const A4_PER_PAGE: usize = A4_COLUMNS * A4_ROWS;
pub(crate) const A4_MARGIN: (f32, f32) = (6.0 * MM, 12.5 * MM);
pub(crate) const A4_LABEL: LabelLayout = LabelLayout {
    width: 66.0 * MM,
    height: 34.0 * MM,
    pad: 2.0 * MM,
    qr: 30.0 * MM,
    serial_size: 10.0,
    name_size: 7.0,
    name_lines: 3,
    small_size: 6.5,
};
/// Roll: one 50 × 30 mm label per page.
pub(crate) const ROLL_LABEL: LabelLayout = LabelLayout {
    width: 50.0 * MM,
    height: 30.0 * MM,
    pad: 1.5 * MM,
    qr: 27.0 * MM,
    serial_size: 8.0,
    name_size: 6.0,
    name_lines: 3,
    small_size: 5.5,
};
/// The product name broken into lines for one label size and encoded in its font, once
/// before the labels are drawn.
pub(crate) struct NameLines {
    pub(crate) font: Name<'static>,
    pub(crate) lines: Vec<Vec<u8>>,
}

impl NameLines {
    pub(crate) fn new(name: Option<&LabelName>, layout: &LabelLayout) -> Self {
        let Some(name) = name else {
            return Self {
                font: FONT,
                lines: Vec::new(),
            };
        };
        let (font, metrics) = match &name.font {
            Some((font, _)) => (FONT_NAME, Metrics::Embedded(font)),
            None => (FONT, Metrics::REGULAR),
        };
        let lines = wrap(
            &name.text,
            layout.name_size,
            layout.text_column(),
            layout.name_lines,
            metrics,
        );
        Self {
            font,
            lines: lines.iter().map(|l| metrics.encode(l)).collect(),
        }
    }
}

const FONT: Name<'static> = Name(b"F1");
const FONT_BOLD: Name<'static> = Name(b"F2");
/// The embedded font of a product name Helvetica cannot show.
pub(crate) const FONT_NAME: Name<'static> = Name(b"F3");

/// Draws one label with its lower-left corner at `(x, y)`.
pub(crate) fn draw_label(
    content: &mut Content,
    layout: &LabelLayout,
    (x, y): (f32, f32),
    qr: &QrRuns,
    serial: u64,
    text: &LabelText,
    name: &NameLines,
) {
    // QR: one unit per module, origin at the symbol's lower-left corner.
    let modules = (qr.width + 2 * QUIET_ZONE) as f32;
    let module = layout.qr / modules;
    let qr_x = x + layout.pad + QUIET_ZONE as f32 * module;
    let qr_y = y + (layout.height - layout.qr) / 2.0 + QUIET_ZONE as f32 * module;
    content.save_state();
    content.transform([module, 0.0, 0.0, module, qr_x, qr_y]);
    let top = qr.width as f32 - 1.0;
    for &(mx, row, len) in &qr.runs {
        content.rect(f32::from(mx), top - f32::from(row), f32::from(len), 1.0);
    }
    content.fill_nonzero();
    content.restore_state();

    // Text column to the right of the QR symbol.
    let tx = x + layout.pad + layout.qr + 1.0 * MM;
    let width = layout.text_column();
    let mut baseline = y + layout.height - layout.pad - layout.serial_size;
    let line = |content: &mut Content, font: Name<'_>, size: f32, bytes: &[u8], at: f32| {
        content
            .begin_text()
            .set_font(font, size)
            .next_line(tx, at)
            .show(Str(bytes))
            .end_text();
    };
    let mut serial_text = format!("SN {serial}");
    if text_width(&serial_text, layout.serial_size, Metrics::BOLD) > width {
        serial_text = serial.to_string();
    }
    let size = fit_size(&serial_text, layout.serial_size, width, Metrics::BOLD);
    line(content, FONT_BOLD, size, serial_text.as_bytes(), baseline);
    baseline -= layout.serial_size * 0.5;

    for name_line in &name.lines {
        baseline -= layout.name_size * 1.2;
        line(content, name.font, layout.name_size, name_line, baseline);
    }
    let mut small = vec![format!("GTIN {}", text.gtin)];
    if let Some(lot) = &text.lot {
        small.push(format!("LOT {lot}"));
    }
    for s in small {
        baseline -= layout.small_size * 1.25;
        if baseline < y + layout.pad {
            break;
        }
        // Drop the "GTIN "/"LOT " prefix before shrinking the value.
        let s = if text_width(&s, layout.small_size, Metrics::REGULAR) <= width {
            s.as_str()
        } else {
            s.split_once(' ').map_or(s.as_str(), |(_, v)| v)
        };
        let size = fit_size(s, layout.small_size, width, Metrics::REGULAR);
        line(content, FONT, size, &Metrics::REGULAR.encode(s), baseline);
    }
}

// ---------------------------------------------------------------- labels: PDF streaming

/// A PDF written to `out` object by object: one indirect object per [`Chunk`], its offset
/// noted, and the cross-reference table written at the end. Memory holds one page at a time
/// plus 10 bytes of offset per object (and whatever `out` keeps: a file's `BufWriter` a
/// buffer, a `Vec` the whole PDF).
pub(crate) struct PdfStream<W> {
    out: W,
    written: u64,
    /// Byte offset of object `i + 1`.
    offsets: Vec<Option<u64>>,
    catalog: Ref,
    pages: Ref,
    info: Ref,
    font: Ref,
    font_bold: Ref,
    /// The embedded font of the product name, if it has one.
    name_font: Option<Ref>,
    page_refs: Vec<Ref>,
    page_size: (f32, f32),
}

impl<W: Write> PdfStream<W> {
    /// Starts the PDF in `out`, with the standard fonts and `name_font` (embedded here, once).
    pub(crate) fn create(
        out: W,
        page_size: (f32, f32),
        title: &str,
        name_font: Option<&LabelFont>,
    ) -> Result<Self, Error> {
        let mut pdf = Self {
            out,
            written: 0,
            offsets: Vec::new(),
            catalog: Ref::new(1),
            pages: Ref::new(2),
            info: Ref::new(3),
            font: Ref::new(4),
            font_bold: Ref::new(5),
            name_font: None,
            page_refs: Vec::new(),
            page_size,
        };
        pdf.offsets.resize(5, None);
        pdf.raw(b"%PDF-1.7\n%\x80\x80\x80\x80\n")?;
        for (id, base) in [
            (pdf.font, Name(b"Helvetica")),
            (pdf.font_bold, Name(b"Helvetica-Bold")),
        ] {
            let mut chunk = Chunk::new();
            chunk
                .type1_font(id)
                .base_font(base)
                .encoding_predefined(Name(b"WinAnsiEncoding"));
            pdf.object(id, &chunk)?;
        }
        let mut chunk = Chunk::new();
        chunk
            .indirect(pdf.info)
            .start::<pdf_writer::writers::DocumentInfo<'_>>()
            .title(TextStr(title))
            .producer(TextStr(concat!("jitrace ", env!("CARGO_PKG_VERSION"))));
        pdf.object(pdf.info, &chunk)?;
        if let Some(font) = name_font {
            pdf.name_font = Some(pdf.embed_font(font)?);
        }
        Ok(pdf)
    }

    /// Writes `font` as a Type0 font with Identity-H encoding (two-byte CIDs), its widths, a
    /// ToUnicode CMap and the subset font program. Returns the Type0 font's reference.
    fn embed_font(&mut self, font: &LabelFont) -> Result<Ref, Error> {
        use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
        let [type0, cid_font, descriptor, to_unicode, program] = [(); 5].map(|()| self.alloc());
        let base_font = Name(font.base_font.as_bytes());
        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };

        let mut chunk = Chunk::new();
        chunk
            .type0_font(type0)
            .base_font(base_font)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_font)
            .to_unicode(to_unicode);
        self.object(type0, &chunk)?;

        let mut by_cid: Vec<(u16, char, f32)> = font
            .glyphs
            .iter()
            .map(|(&c, &(cid, w))| (cid, c, w))
            .collect();
        by_cid.sort_by_key(|g| g.0);
        let mut chunk = Chunk::new();
        {
            let mut cid = chunk.cid_font(cid_font);
            cid.subtype(match font.outlines {
                Outlines::TrueType => CidFontType::Type2,
                Outlines::Cff => CidFontType::Type0,
            })
            .base_font(base_font)
            .system_info(system_info)
            .font_descriptor(descriptor)
            .default_width(0.0);
            if font.outlines == Outlines::TrueType {
                cid.cid_to_gid_map_predefined(Name(b"Identity"));
            }
            let mut widths = cid.widths();
            for &(c, _, w) in &by_cid {
                widths.consecutive(c, [w]);
            }
        }
        self.object(cid_font, &chunk)?;

        let [x0, y0, x1, y1] = font.bbox;
        let mut chunk = Chunk::new();
        {
            let mut d = chunk.font_descriptor(descriptor);
            d.name(base_font)
                .flags(FontFlags::SYMBOLIC)
                .bbox(Rect::new(x0, y0, x1, y1))
                .italic_angle(font.italic_angle)
                .ascent(font.ascent)
                .descent(font.descent)
                .cap_height(font.cap_height)
                .stem_v(font.stem_v);
            match font.outlines {
                Outlines::TrueType => d.font_file2(program),
                Outlines::Cff => d.font_file3(program),
            };
        }
        self.object(descriptor, &chunk)?;

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
        for &(cid, c, _) in &by_cid {
            cmap.pair(cid, c);
        }
        let cmap = cmap.finish();
        let mut chunk = Chunk::new();
        chunk.cmap(to_unicode, &cmap);
        self.object(to_unicode, &chunk)?;

        let compressed = deflate(&font.program);
        let mut chunk = Chunk::new();
        {
            let mut stream = chunk.stream(program, &compressed);
            stream.filter(Filter::FlateDecode);
            match font.outlines {
                Outlines::TrueType => {
                    stream.pair(
                        Name(b"Length1"),
                        i32::try_from(font.program.len()).unwrap_or(i32::MAX),
                    );
                }
                Outlines::Cff => {
                    stream.pair(Name(b"Subtype"), Name(b"CIDFontType0C"));
                }
            }
        }
        self.object(program, &chunk)?;
        Ok(type0)
    }

    fn alloc(&mut self) -> Ref {
        self.offsets.push(None);
        Ref::new(i32::try_from(self.offsets.len()).unwrap_or(i32::MAX))
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out.write_all(bytes).map_err(Error::Write)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes `chunk`, which must hold exactly the one indirect object `id`.
    fn object(&mut self, id: Ref, chunk: &Chunk) -> Result<(), Error> {
        let slot = usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.offsets.get_mut(i))
            .ok_or_else(|| unwritten(id.get()))?;
        *slot = Some(self.written);
        self.raw(chunk.as_bytes())
    }

    /// Adds a page with the (Flate-compressed) content stream `content`.
    pub(crate) fn page(&mut self, content: &[u8]) -> Result<(), Error> {
        let page = self.alloc();
        let stream = self.alloc();
        let (w, h) = self.page_size;
        let mut chunk = Chunk::new();
        chunk
            .page(page)
            .parent(self.pages)
            .media_box(Rect::new(0.0, 0.0, w, h))
            .contents(stream);
        self.object(page, &chunk)?;
        let mut chunk = Chunk::new();
        chunk.stream(stream, content).filter(Filter::FlateDecode);
        self.object(stream, &chunk)?;
        self.page_refs.push(page);
        Ok(())
    }

    /// Writes the page tree, catalog and cross-reference table. Returns the writer (to be
    /// flushed or synced by the caller) and the page count.
    pub(crate) fn finish(mut self) -> Result<crate::WrittenPdf<W>, Error> {
        let mut chunk = Chunk::new();
        {
            let mut pages = chunk.pages(self.pages);
            pages
                .kids(self.page_refs.iter().copied())
                .count(i32::try_from(self.page_refs.len()).unwrap_or(i32::MAX));
            // Fonts are inherited by every page.
            let mut resources = pages.resources();
            let mut fonts = resources.fonts();
            fonts.pair(FONT, self.font).pair(FONT_BOLD, self.font_bold);
            if let Some(name_font) = self.name_font {
                fonts.pair(FONT_NAME, name_font);
            }
        }
        self.object(self.pages, &chunk)?;
        let mut chunk = Chunk::new();
        chunk
            .indirect(self.catalog)
            .start::<pdf_writer::writers::Catalog<'_>>()
            .pages(self.pages);
        self.object(self.catalog, &chunk)?;

        let xref = self.written;
        let mut table = format!("xref\n0 {}\n0000000000 65535 f\r\n", self.offsets.len() + 1);
        for (i, offset) in self.offsets.iter().enumerate() {
            let offset =
                offset.ok_or_else(|| unwritten(i32::try_from(i + 1).unwrap_or(i32::MAX)))?;
            let _ = write!(table, "{offset:010} 00000 n\r\n");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root {} 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            self.offsets.len() + 1,
            self.catalog.get(),
            self.info.get()
        );
        self.raw(table.as_bytes())?;
        Ok(crate::WrittenPdf {
            out: self.out,
            pages: self.page_refs.len() as u64,
        })
    }
}

/// An object allocated but never written: a bug here, reported as a failed write rather than
/// a PDF with a broken cross-reference table.
fn unwritten(id: i32) -> Error {
    Error::Write(std::io::Error::other(format!(
        "PDF object {id} was never written"
    )))
}

/// Zlib-compresses a content stream (PDF's FlateDecode): QR rectangles shrink about fourfold.
pub(crate) fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::new(6),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
