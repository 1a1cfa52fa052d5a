//! Print product-code labels: QR symbols, A4 sheets and roll labels as PDF, and one SVG per code.
//!
//! The input is already signed: each code's serial and printed URI (`jitrace codes issue` and
//! the console sign them), and the text beside every QR symbol ([`LabelText`]: the product name,
//! GTIN and lot). Nothing here knows keys, chains or the command line.
//!
//! QR modules are drawn as filled rectangles straight into the PDF content streams (no raster
//! images, [`qr`]), and a PDF is streamed to its writer page by page with a hand-written
//! cross-reference table ([`pdf`]), so a label sheet never sits in memory as a whole unless the
//! writer is a `Vec`. Serials, GTIN and lot use the standard Helvetica fonts (no embedding). So
//! does the product name when the fonts' WinAnsi encoding can show it (ASCII, Latin-1 and a few
//! typographic signs); any other name (CJK, Greek, ...) is printed in a TrueType/OpenType font
//! ([`LabelName::choose`]: a font file given by the caller, else the first of
//! [`font::SYSTEM_FONTS`] that shows every character), subset to the name's characters and
//! embedded once per PDF as a Type0 font (Identity-H, with a ToUnicode CMap so the name can be
//! searched and copied). The name is wrapped once per label size before the pages are drawn, so
//! the font adds no per-label work. Without such a font, the characters WinAnsi lacks are left
//! out, and [`LabelName::note`] says so.
//!
//! Labels are rendered on several threads ([`ordered_parallel`]), an A4 page's worth a job, and
//! written in serial order.

pub mod font;
pub mod pdf;
pub mod qr;
pub mod text;

pub use font::{FontPath, LabelFont, SYSTEM_FONTS};
pub use pdf::{A4_PER_PAGE, Sheet};
pub use qr::{QrRuns, qr_runs};
pub use text::{LabelName, NameNote};

use pdf::{A4, A4_COLUMNS, A4_LABEL, A4_MARGIN, NameLines, PdfStream, ROLL_LABEL, draw_label};
use pdf_writer::Content;
use std::{fmt::Write as _, io::Write, path::PathBuf, sync::mpsc};

/// What can go wrong making labels. Every variant is the caller's input or the output's writer;
/// none is a bug.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The product name is longer than labels print.
    #[error("the product name is longer than {max} characters")]
    NameTooLong { max: usize },
    /// A font file could not be read.
    #[error("cannot read the font {}", path.display())]
    FontRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A font file is not a font, or has no such face.
    #[error("{} {reason}", path.display())]
    FontUnusable { path: PathBuf, reason: String },
    /// The font could not be subset to the name's characters.
    #[error("the font {font}: {reason}")]
    FontSubset { font: String, reason: String },
    /// A URI too long for a QR symbol.
    #[error("cannot make a QR code of {data:?}: {reason}")]
    Qr { data: String, reason: String },
    /// The PDF's writer failed.
    #[error("cannot write the PDF")]
    Write(#[source] std::io::Error),
    /// The SVG sink failed.
    #[error("cannot write the SVG of serial {serial}")]
    Svg {
        serial: u64,
        #[source]
        source: std::io::Error,
    },
    /// A worker thread stopped without an answer (it panicked).
    #[error("a label worker thread stopped unexpectedly")]
    Worker,
}

/// The text printed beside every QR code.
pub struct LabelText {
    /// The product name, with its font ([`LabelName::choose`]); `None`: no name.
    pub name: Option<LabelName>,
    pub gtin: String,
    pub lot: Option<String>,
}

/// Writes one SVG per code: `(serial, svg text)`. Called on the worker threads.
pub type SvgSink<'a> = &'a (dyn Fn(u64, &str) -> std::io::Result<()> + Sync);

/// What [`write_labels`] writes.
pub struct LabelOutputs<'a, W> {
    /// The A4 sheets' PDF.
    pub a4: Option<W>,
    /// The roll labels' PDF.
    pub roll: Option<W>,
    /// The first this many codes get PDF labels, ...
    pub pdf_labels: usize,
    /// ... and the first this many an SVG ([`label_svg`]) handed to `svg`.
    pub svg: Option<SvgSink<'a>>,
    pub svg_labels: usize,
}

/// A finished PDF: its writer (flushed by the caller) and how many pages it has.
pub struct WrittenPdf<W> {
    pub out: W,
    pub pages: u64,
}

/// The PDFs [`write_labels`] finished.
pub struct Written<W> {
    pub a4: Option<WrittenPdf<W>>,
    pub roll: Option<WrittenPdf<W>>,
}

/// One A4 page's worth of labels, rendered by a worker (which hands their SVGs to the sink
/// itself, so that file creation runs in parallel too).
struct LabelBatch {
    codes: usize,
    a4_page: Option<Vec<u8>>,
    roll_pages: Vec<Vec<u8>>,
}

/// Writes the PDFs and SVGs of `codes` (`(serial, uri)`, in serial order) on `threads`
/// threads; `progress` is told how many codes each finished batch held. A PDF is started only
/// when `pdf_labels > 0`; otherwise its writer is dropped.
pub fn write_labels<W: Write>(
    codes: &[(u64, String)],
    text: &LabelText,
    want: LabelOutputs<'_, W>,
    threads: usize,
    mut progress: impl FnMut(usize),
) -> Result<Written<W>, Error> {
    let title = format!("Jitrace labels, GTIN {}", text.gtin);
    let name_font = text.name.as_ref().and_then(LabelName::embedded_font);
    let pdf_labels = want.pdf_labels.min(codes.len());
    let start = |out: Option<W>, sheet: Sheet| match out {
        Some(out) if pdf_labels > 0 => {
            PdfStream::create(out, sheet.page_size(), &title, name_font).map(Some)
        }
        _ => Ok(None),
    };
    let mut a4 = start(want.a4, Sheet::A4)?;
    let mut roll = start(want.roll, Sheet::Roll)?;
    let a4_name = NameLines::new(text.name.as_ref(), &A4_LABEL);
    let roll_name = NameLines::new(text.name.as_ref(), &ROLL_LABEL);
    let (do_a4, do_roll) = (a4.is_some(), roll.is_some());
    let svg = want.svg;
    let svg_labels = if svg.is_some() { want.svg_labels } else { 0 };
    let labelled = codes.len().min(pdf_labels.max(svg_labels));
    let jobs = labelled.div_ceil(A4_PER_PAGE);
    ordered_parallel(
        jobs,
        threads,
        |job| -> Result<LabelBatch, Error> {
            let start = job * A4_PER_PAGE;
            let batch = codes
                .get(start..(start + A4_PER_PAGE).min(labelled))
                .unwrap_or_default();
            let mut a4_content = Content::new();
            let mut roll_pages = Vec::new();
            for (i, (serial, uri)) in batch.iter().enumerate() {
                let index = start + i;
                let qr = qr_runs(uri)?;
                if index < pdf_labels {
                    if do_a4 {
                        let (col, row) = (i % A4_COLUMNS, i / A4_COLUMNS);
                        let x = A4_MARGIN.0 + col as f32 * A4_LABEL.width;
                        let y = A4.1 - A4_MARGIN.1 - (row + 1) as f32 * A4_LABEL.height;
                        draw_label(
                            &mut a4_content,
                            &A4_LABEL,
                            (x, y),
                            &qr,
                            *serial,
                            text,
                            &a4_name,
                        );
                    }
                    if do_roll {
                        let mut content = Content::new();
                        draw_label(
                            &mut content,
                            &ROLL_LABEL,
                            (0.0, 0.0),
                            &qr,
                            *serial,
                            text,
                            &roll_name,
                        );
                        roll_pages.push(pdf::deflate(&content.finish()));
                    }
                }
                if let Some(svg) = svg
                    && index < svg_labels
                {
                    svg(*serial, &label_svg(&qr, *serial)).map_err(|source| Error::Svg {
                        serial: *serial,
                        source,
                    })?;
                }
            }
            let a4_page = (do_a4 && start < pdf_labels).then(|| pdf::deflate(&a4_content.finish()));
            Ok(LabelBatch {
                codes: batch.len(),
                a4_page,
                roll_pages,
            })
        },
        |batch| {
            let batch = batch?;
            if let (Some(pdf), Some(page)) = (a4.as_mut(), &batch.a4_page) {
                pdf.page(page)?;
            }
            if let Some(pdf) = roll.as_mut() {
                for page in &batch.roll_pages {
                    pdf.page(page)?;
                }
            }
            progress(batch.codes);
            Ok::<(), Error>(())
        },
    )?;
    Ok(Written {
        a4: a4.map(PdfStream::finish).transpose()?,
        roll: roll.map(PdfStream::finish).transpose()?,
    })
}

/// One sheet of `codes` as a PDF in memory, rendered on `threads` threads: what a server
/// answers. Returns the PDF's bytes and its page count.
pub fn pdf_bytes(
    codes: &[(u64, String)],
    text: &LabelText,
    sheet: Sheet,
    threads: usize,
) -> Result<(Vec<u8>, u64), Error> {
    let out = Some(Vec::new());
    let (a4, roll) = match sheet {
        Sheet::A4 => (out, None),
        Sheet::Roll => (None, out),
    };
    let want = LabelOutputs {
        a4,
        roll,
        pdf_labels: codes.len(),
        svg: None,
        svg_labels: 0,
    };
    let written = write_labels(codes, text, want, threads, |_| ())?;
    Ok(written
        .a4
        .or(written.roll)
        .map(|pdf| (pdf.out, pdf.pages))
        .unwrap_or_default())
}

/// Modules of white around the symbol, as the QR standard asks.
pub const QUIET_ZONE: usize = 4;

/// One code as SVG: the QR symbol (0.5 mm modules, quiet zone included) over its serial.
pub fn label_svg(qr: &QrRuns, serial: u64) -> String {
    let side = qr.width + 2 * QUIET_ZONE;
    let height = side + 5;
    let mut svg = String::with_capacity(64 + qr.runs.len() * 16);
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}mm\" height=\"{h}mm\" \
         viewBox=\"0 0 {side} {height}\" shape-rendering=\"crispEdges\">\n\
         <rect width=\"{side}\" height=\"{height}\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
        w = side as f32 / 2.0,
        h = height as f32 / 2.0,
    );
    for &(x, row, len) in &qr.runs {
        let _ = write!(
            svg,
            "M{} {}h{len}v1h-{len}z",
            usize::from(x) + QUIET_ZONE,
            usize::from(row) + QUIET_ZONE
        );
    }
    let _ = write!(
        svg,
        "\"/>\n<text x=\"{}\" y=\"{}\" font-family=\"Helvetica, Arial, sans-serif\" \
         font-size=\"3.2\" text-anchor=\"middle\">{serial}</text>\n</svg>\n",
        side as f32 / 2.0,
        side + 2
    );
    svg
}

/// Runs `work(0..jobs)` on `threads` threads and hands the results to `sink` in job order.
///
/// Worker `t` takes jobs `t, t+threads, ...` and sends each result on its own channel of two
/// slots, so no worker runs more than a few jobs ahead of the sink. When `sink` fails, the
/// channels close and the workers stop after their current job. `jitrace codes issue` signs
/// its CSV the same way.
pub fn ordered_parallel<T: Send, E: From<Error>>(
    jobs: usize,
    threads: usize,
    work: impl Fn(usize) -> T + Sync,
    mut sink: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    let threads = threads.clamp(1, jobs.max(1));
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(threads);
        for t in 0..threads {
            let (tx, rx) = mpsc::sync_channel(2);
            receivers.push(rx);
            let work = &work;
            scope.spawn(move || {
                for job in (t..jobs).step_by(threads) {
                    if tx.send(work(job)).is_err() {
                        break;
                    }
                }
            });
        }
        for job in 0..jobs {
            let result = receivers
                .get(job % threads)
                .and_then(|rx| rx.recv().ok())
                .ok_or(Error::Worker)?;
            sink(result)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_parallel_keeps_order_and_stops_on_error() {
        let mut seen = Vec::new();
        ordered_parallel(
            100,
            4,
            |i| i * 2,
            |v| {
                seen.push(v);
                Ok::<(), Error>(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        let err = ordered_parallel(
            1000,
            3,
            |i| i,
            |v| {
                if v == 10 { Err(Error::Worker) } else { Ok(()) }
            },
        );
        assert!(err.is_err());
    }

    fn text(name: Option<&str>) -> LabelText {
        LabelText {
            name: name.map(|n| LabelName::choose(n, None, &[]).unwrap()),
            gtin: "09506000134352".into(),
            lot: Some("L1".into()),
        }
    }

    #[test]
    fn pdfs_in_memory_have_a_page_per_sheet() {
        let codes: Vec<(u64, String)> = (1..=30)
            .map(|n| {
                (
                    n,
                    format!("https://id.example/01/09506000134352/21/{n}?8030=abc"),
                )
            })
            .collect();
        let (a4, pages) = pdf_bytes(&codes, &text(Some("Riesling")), Sheet::A4, 2).unwrap();
        assert!(a4.starts_with(b"%PDF-1.7"));
        assert!(a4.ends_with(b"%%EOF\n"));
        assert_eq!(pages, 2);
        let (roll, pages) = pdf_bytes(&codes[..3], &text(None), Sheet::Roll, 1).unwrap();
        assert!(roll.starts_with(b"%PDF-1.7"));
        assert_eq!(pages, 3);
        // No codes: an empty answer, not a PDF without pages.
        assert_eq!(pdf_bytes(&[], &text(None), Sheet::A4, 1).unwrap().1, 0);
        // A URI too long for any QR symbol is a typed error.
        let long = vec![(1, "x".repeat(8000))];
        assert!(matches!(
            pdf_bytes(&long, &text(None), Sheet::A4, 1),
            Err(Error::Qr { .. })
        ));
    }
}
