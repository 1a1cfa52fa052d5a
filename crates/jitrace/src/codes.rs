//! `jitrace codes`: sign product codes for a serial range (CSV, PDF label sheets, SVG) and check
//! one code offline; `jitrace bench codes`: how fast this machine issues codes.
//!
//! Signing happens here, where the brand's code-signing key is, never in the ledger. Codes are
//! signed on every core: serials are cut into chunks, worker `t` of `T` takes chunks
//! `t, t+T, t+2T, ...` and hands each finished chunk to the writer through its own two-slot
//! channel, so the writer gets them in order and memory stays bounded whatever the count.
//!
//! Labels: QR modules are drawn as filled rectangles straight into the PDF content streams (no
//! raster images), and the PDF is streamed to disk page by page with a hand-written
//! cross-reference table, so a label sheet never sits in memory as a whole. Serials, GTIN and
//! lot use the standard Helvetica fonts (no embedding). So does the product name when the
//! fonts' WinAnsi encoding can show it (ASCII, Latin-1 and a few typographic signs); any other
//! name (CJK, Greek, ...) is printed in a TrueType/OpenType font (`--font`, else
//! `JITRACE_LABEL_FONT`, else the first system font in [`label_font::SYSTEM_FONTS`] that shows
//! every character), subset to the name's characters and embedded once per PDF as a Type0
//! font (Identity-H, with a ToUnicode CMap so the name can be searched and copied). The name
//! is wrapped once per label size before the pages are drawn, so the font adds no per-label
//! work. Without such a font, the characters WinAnsi lacks are left out, with a note on how to
//! add one.

mod label_font;

use crate::{cli::Global, genesis::read_key};
use anyhow::{Context as _, Result, anyhow, bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use jitrace_types::{
    DigitalLink, Gtin, PublicKey, SecretKey,
    code::{code_message, code_uri, parse_code, sign_code},
    gs1::validate_lot,
    keys::domain,
    tx::{MAX_BATCH_SIZE, MAX_CHAIN_ID_LEN},
};
use label_font::{FontPath, LabelFont, Outlines};
use pdf_writer::{Chunk, Content, Filter, Name, Rect, Ref, Str, TextStr};
use serde::Serialize;
use std::{
    fmt::Write as _,
    fs::File,
    io::{BufWriter, IsTerminal as _, Write},
    path::{Path, PathBuf},
    sync::mpsc,
    time::Instant,
};

// ---------------------------------------------------------------- command line

#[derive(Subcommand)]
pub enum CodesCommand {
    /// Sign codes for serials FIRST .. FIRST+COUNT of a product: DIR/codes.csv, PDF label
    /// sheets (QR code, serial, product name) and optionally one SVG per code.
    Issue(IssueArgs),
    /// Check a code's signature offline against the brand's code-signing public key.
    Verify {
        /// The scanned code, e.g. https://id.example/01/09506000134352/21/1?8030=...
        uri: String,
        /// The brand's code-signing public key (hex).
        #[arg(long)]
        code_key_pub: PublicKey,
        /// The chain the code was issued for.
        #[arg(long)]
        chain_id: String,
    },
}

/// Which PDF label sheets to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PdfChoice {
    /// A4 sheets of 3 × 8 labels (66 × 34 mm).
    A4,
    /// One 50 × 30 mm label per page, for roll label printers.
    Roll,
    /// Both sheets.
    Both,
    /// No PDF.
    None,
}

#[derive(Args)]
pub struct IssueArgs {
    /// The product's GTIN (8, 12, 13 or 14 digits).
    #[arg(long)]
    product: Gtin,
    /// The first serial of the range.
    #[arg(long, default_value_t = 1)]
    first: u64,
    /// How many codes.
    #[arg(long)]
    count: u64,
    /// The code-signing secret key file (see `jitrace keys new`).
    #[arg(long)]
    code_key: PathBuf,
    /// The chain the codes are for (default: asked from the node given by --node).
    #[arg(long)]
    chain_id: Option<String>,
    /// The resolver the printed URIs point to, e.g. https://id.example.com
    #[arg(long)]
    resolver: String,
    /// The output directory (created; must be new or empty).
    #[arg(long)]
    out: PathBuf,
    /// The batch/lot (GS1 AI 10), printed on the labels and written to the CSV.
    #[arg(long)]
    lot: Option<String>,
    /// The product name printed on labels. Names beyond ASCII and Latin-1 (CJK, ...) need a
    /// font: see --font.
    #[arg(long)]
    name: Option<String>,
    /// The font for a --name that Helvetica cannot show: a TTF, OTF or TTC file; PATH#INDEX
    /// picks a face of a collection (by default the one that suits the name, e.g. the SC face
    /// of Noto Sans CJK for Chinese). Default: common system fonts (fonts-noto-cjk, WenQuanYi,
    /// AR PL, Droid Sans Fallback, DejaVu Sans). `none`: Helvetica only. The font is subset to
    /// the name's characters and embedded.
    #[arg(long, env = "JITRACE_LABEL_FONT", value_name = "PATH[#INDEX]")]
    font: Option<FontPath>,
    /// PDF label sheets to write.
    #[arg(long, value_enum, default_value_t = PdfChoice::Both)]
    pdf: PdfChoice,
    /// Most labels per PDF: the first N codes of the range (the CSV always has every code).
    #[arg(long, default_value_t = 10_000)]
    pdf_limit: u64,
    /// Also write DIR/svg/{serial}.svg per code.
    #[arg(long)]
    svg: bool,
    /// Most SVG files: the first N codes of the range.
    #[arg(long, default_value_t = 10_000)]
    svg_limit: u64,
    /// Signing threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
pub struct BenchCodesArgs {
    /// How many codes to sign and write to CSV (in a temporary directory).
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(global: &Global, command: CodesCommand) -> Result<()> {
    match command {
        CodesCommand::Issue(args) => issue(global, args),
        CodesCommand::Verify {
            uri,
            code_key_pub,
            chain_id,
        } => verify(global, &uri, &code_key_pub, &chain_id),
    }
}

fn threads(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

fn progress_bar(global: &Global, len: u64, what: &str) -> ProgressBar {
    if global.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>8} [{bar:32}] {human_pos}/{human_len} {per_sec:>12} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

// ---------------------------------------------------------------- codes issue

/// What is signed: everything but the serial.
struct CodeSpec<'a> {
    key: &'a SecretKey,
    chain_id: &'a str,
    gtin: Gtin,
    resolver: &'a str,
    /// The lot as a CSV field (quoted if needed); empty without a lot.
    lot_csv: String,
}

#[derive(Serialize)]
struct IssueReport {
    gtin: String,
    lot: Option<String>,
    first_serial: u64,
    last_serial: u64,
    count: u64,
    chain_id: String,
    code_key: String,
    resolver: String,
    csv: String,
    pdf: Vec<PdfReport>,
    svg_files: u64,
    svg_dir: Option<String>,
    /// The embedded font that prints the product name (none: Helvetica).
    font: Option<String>,
    threads: usize,
    sign_seconds: f64,
    codes_per_sec: f64,
    labels_seconds: f64,
    elapsed_seconds: f64,
    /// The transaction that registers this range on chain.
    register: String,
}

#[derive(Serialize)]
struct PdfReport {
    file: String,
    labels: u64,
    pages: u64,
    /// Labels not printed because of --pdf-limit.
    skipped: u64,
}

fn issue(global: &Global, args: IssueArgs) -> Result<()> {
    let started = Instant::now();
    // Every check comes before the first file is written.
    ensure!(
        (1..=MAX_BATCH_SIZE).contains(&args.count),
        "--count must be 1 to {MAX_BATCH_SIZE}, got {}",
        args.count
    );
    let last = args
        .first
        .checked_add(args.count - 1)
        .ok_or_else(|| anyhow!("--first {} + --count {} overflows", args.first, args.count))?;
    if let Some(lot) = &args.lot {
        validate_lot(lot).context("--lot")?;
    }
    DigitalLink::item(args.resolver.as_str(), args.product, "1")
        .validate()
        .with_context(|| format!("--resolver {:?} is not usable", args.resolver))?;
    let key = read_key(&args.code_key).context("--code-key")?;
    let chain_id = match args.chain_id {
        Some(id) => id,
        None => chain_id_from_node(&global.node)?,
    };
    ensure!(
        (1..=MAX_CHAIN_ID_LEN).contains(&chain_id.len()),
        "the chain id must be 1 to {MAX_CHAIN_ID_LEN} bytes"
    );
    let name = args
        .name
        .as_deref()
        .map(|name| label_name(name, args.font.as_ref(), label_font::SYSTEM_FONTS))
        .transpose()?
        .filter(|n| !n.text.is_empty());
    prepare_out_dir(&args.out)?;

    let pdf_labels = if args.pdf == PdfChoice::None {
        0
    } else {
        args.count.min(args.pdf_limit)
    };
    let svg_labels = if args.svg {
        args.count.min(args.svg_limit)
    } else {
        0
    };
    let threads = threads(args.threads);
    let spec = CodeSpec {
        key: &key,
        chain_id: &chain_id,
        gtin: args.product,
        resolver: &args.resolver,
        lot_csv: args.lot.as_deref().map(csv_field).unwrap_or_default(),
    };

    // Codes.
    let csv_path = args.out.join("codes.csv");
    let bar = progress_bar(global, args.count, "signing");
    let sign_started = Instant::now();
    let keep = usize::try_from(pdf_labels.max(svg_labels))?;
    let kept = write_codes_csv(
        &spec, args.first, args.count, threads, &csv_path, keep, &bar,
    )?;
    let sign_seconds = sign_started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // Labels.
    let labels_started = Instant::now();
    let font = name
        .as_ref()
        .and_then(|n| n.font.as_ref())
        .map(|(_, source)| source.clone());
    let text = LabelText {
        name,
        gtin: args.product.to_string(),
        lot: args.lot.clone(),
    };
    let want = LabelOutputs {
        a4: matches!(args.pdf, PdfChoice::A4 | PdfChoice::Both)
            .then(|| args.out.join("labels-a4.pdf")),
        roll: matches!(args.pdf, PdfChoice::Roll | PdfChoice::Both)
            .then(|| args.out.join("labels-roll.pdf")),
        svg_dir: args.svg.then(|| args.out.join("svg")),
        pdf_labels: usize::try_from(pdf_labels)?,
        svg_labels: usize::try_from(svg_labels)?,
    };
    let bar = progress_bar(global, keep as u64, "labels");
    let pdfs = write_labels(&kept, &text, &want, threads, &bar)?;
    bar.finish_and_clear();
    let labels_seconds = labels_started.elapsed().as_secs_f64();

    let elapsed = started.elapsed().as_secs_f64();
    let report = IssueReport {
        gtin: args.product.to_string(),
        lot: args.lot.clone(),
        first_serial: args.first,
        last_serial: last,
        count: args.count,
        chain_id,
        code_key: key.public_key().to_hex(),
        resolver: args.resolver.trim_end_matches('/').to_owned(),
        csv: csv_path.display().to_string(),
        pdf: pdfs
            .into_iter()
            .map(|(file, pages)| PdfReport {
                file: file.display().to_string(),
                labels: pdf_labels,
                pages,
                skipped: args.count - pdf_labels,
            })
            .collect(),
        svg_files: svg_labels,
        svg_dir: want.svg_dir.as_ref().map(|d| d.display().to_string()),
        font,
        threads,
        sign_seconds,
        codes_per_sec: rate(args.count, sign_seconds),
        labels_seconds,
        elapsed_seconds: elapsed,
        register: format!(
            "jitrace batch issue --org ORG --licence LICENCE --gtin {} --lot {} --first {} \
             --count {} --code-key {}",
            args.product,
            args.lot.as_deref().unwrap_or("LOT"),
            args.first,
            args.count,
            key.public_key()
        ),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_issue_report(&report, args.pdf_limit, args.svg_limit);
    }
    Ok(())
}

fn print_issue_report(r: &IssueReport, pdf_limit: u64, svg_limit: u64) {
    let lot = r
        .lot
        .as_deref()
        .map(|l| format!(", lot {l}"))
        .unwrap_or_default();
    println!(
        "issued {} codes for GTIN {}, serials {}..={}{lot}, chain {}",
        r.count, r.gtin, r.first_serial, r.last_serial, r.chain_id
    );
    println!("  {:<40} {} codes", r.csv, r.count);
    for pdf in &r.pdf {
        let cap = if pdf.skipped > 0 {
            format!(
                " (capped by --pdf-limit {pdf_limit}: {} codes only in the CSV)",
                pdf.skipped
            )
        } else {
            String::new()
        };
        println!(
            "  {:<40} {} labels, {} pages{cap}",
            pdf.file, pdf.labels, pdf.pages
        );
    }
    if let Some(dir) = &r.svg_dir {
        let cap = if r.svg_files < r.count {
            format!(" (capped by --svg-limit {svg_limit})")
        } else {
            String::new()
        };
        println!("  {:<40} {} files{cap}", format!("{dir}/"), r.svg_files);
    }
    if let Some(font) = &r.font {
        println!("  product name in {font} (subset, embedded)");
    }
    println!(
        "signed and written in {:.2} s ({:.0} codes/s on {} threads); labels {:.2} s; total {:.2} s",
        r.sign_seconds, r.codes_per_sec, r.threads, r.labels_seconds, r.elapsed_seconds
    );
    println!("register the range on chain:\n  {}", r.register);
}

fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn chain_id_from_node(node: &str) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime
        .block_on(jitrace_client::Client::new(node).status())
        .map_err(|e| {
            anyhow!(
                "no --chain-id given, and the node at {node} did not answer ({e}); pass \
                 --chain-id or --node"
            )
        })?;
    Ok(status.chain_id)
}

/// Creates `dir`, which must not exist or be empty, so that no earlier output is mixed in.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("--out {} is not a readable directory", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "--out {} is not empty; refusing to mix codes into an existing directory",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// A CSV field, quoted when it holds a comma, quote or line break (GS1 lots may hold `"` and `,`).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Codes per chunk: big enough to amortise the hand-off, small enough to keep memory low.
const CSV_CHUNK: u64 = 2048;

struct CsvChunk {
    text: String,
    codes: u64,
    /// `(serial, uri)` of the codes among the first `keep` of the range.
    kept: Vec<(u64, String)>,
}

/// Signs serials `first .. first + count` on `threads` threads and writes `gtin,serial,lot,uri`
/// rows to `path` in serial order. Returns the first `keep` codes as `(serial, uri)`.
fn write_codes_csv(
    spec: &CodeSpec<'_>,
    first: u64,
    count: u64,
    threads: usize,
    path: &Path,
    keep: usize,
    bar: &ProgressBar,
) -> Result<Vec<(u64, String)>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(b"gtin,serial,lot,uri\n")?;
    let chunks = usize::try_from(count.div_ceil(CSV_CHUNK))?;
    let gtin = spec.gtin.to_string();
    let keep_below = first.saturating_add(keep as u64);
    let mut kept = Vec::with_capacity(keep);
    ordered_parallel(
        chunks,
        threads,
        |chunk| {
            let start = first + chunk as u64 * CSV_CHUNK;
            let end = (start + CSV_CHUNK).min(first + count);
            let mut text = String::with_capacity((end - start) as usize * 180);
            let mut kept = Vec::new();
            let mut serial = String::with_capacity(20);
            for n in start..end {
                serial.clear();
                let _ = write!(serial, "{n}");
                let sig = sign_code(spec.key, spec.chain_id, &spec.gtin, &serial);
                let uri = code_uri(spec.resolver, &spec.gtin, &serial, &sig);
                for part in [&gtin, ",", &serial, ",", &spec.lot_csv, ",", &uri, "\n"] {
                    text.push_str(part);
                }
                if n < keep_below {
                    kept.push((n, uri));
                }
            }
            CsvChunk {
                text,
                codes: end - start,
                kept,
            }
        },
        |chunk| {
            out.write_all(chunk.text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            kept.extend(chunk.kept);
            bar.inc(chunk.codes);
            Ok(())
        },
    )?;
    out.into_inner()
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error()))?
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(kept)
}

/// Runs `work(0..jobs)` on `threads` threads and hands the results to `sink` in job order.
///
/// Worker `t` takes jobs `t, t+threads, ...` and sends each result on its own channel of two
/// slots, so no worker runs more than a few jobs ahead of the sink. When `sink` fails, the
/// channels close and the workers stop after their current job.
fn ordered_parallel<T: Send>(
    jobs: usize,
    threads: usize,
    work: impl Fn(usize) -> T + Sync,
    mut sink: impl FnMut(T) -> Result<()>,
) -> Result<()> {
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
                .ok_or_else(|| anyhow!("a worker thread stopped unexpectedly"))?;
            sink(result)?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- labels: text

/// A product name as the labels print it.
struct LabelName {
    /// The characters printed, runs of whitespace collapsed to one space.
    text: String,
    /// Whether characters were left out because no font could show them.
    dropped: bool,
    /// The embedded font that prints it and where it came from; `None`: Helvetica.
    font: Option<(LabelFont, String)>,
}

impl LabelName {
    /// The characters of `name` that `can_show` accepts.
    fn keep(name: &str, can_show: impl Fn(char) -> bool) -> Self {
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
        }
    }
}

/// Says how `--name` is printed, choosing the font: Helvetica when it shows every character
/// (or `--font none`), else `font` (from `--font` or `JITRACE_LABEL_FONT`), else the first of
/// `system_fonts` that shows every character. Notes on stderr say what is left out and how to
/// fix it.
fn label_name(name: &str, font: Option<&FontPath>, system_fonts: &[&str]) -> Result<LabelName> {
    ensure!(
        name.chars().count() <= jitrace_types::tx::MAX_NAME_LEN,
        "--name is longer than {} characters",
        jitrace_types::tx::MAX_NAME_LEN
    );
    let standard = LabelName::keep(name, |c| winansi(c).is_some());
    if !standard.dropped {
        return Ok(standard);
    }
    let omitted = |printed: &LabelName| {
        if printed.text.is_empty() {
            "labels omit the name".to_owned()
        } else {
            format!("labels print {:?}", printed.text)
        }
    };
    let file = match font {
        Some(font) if font.is_none() => {
            eprintln!(
                "note: --font none: Helvetica cannot show every character of --name; {}",
                omitted(&standard)
            );
            return Ok(standard);
        }
        Some(font) => Some(font.load(name).context("--font")?),
        None => label_font::discover(name, system_fonts),
    };
    let Some(file) = file else {
        eprintln!(
            "note: Helvetica cannot show every character of --name and no system font can \
             either; {}. To print it, pass --font PATH (a TTF/OTF/TTC font that has the \
             characters, e.g. NotoSansCJK-Regular.ttc for Chinese, Japanese or Korean) or set \
             JITRACE_LABEL_FONT, or install a font such as fonts-noto-cjk (apt-get install \
             fonts-noto-cjk)",
            omitted(&standard)
        );
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
        eprintln!(
            "note: the font {source} shows no character of --name; {}",
            omitted(&standard)
        );
        return Ok(standard);
    }
    if printed.dropped {
        eprintln!(
            "note: the font {source} cannot show every character of --name; {}",
            omitted(&printed)
        );
    }
    let subset = LabelFont::subset(&file.data, file.face.index, &printed.text)
        .with_context(|| format!("the font {source}"))?;
    printed.font = Some((subset, source));
    Ok(printed)
}

/// The WinAnsiEncoding byte of `c`, if the standard fonts can show it.
fn winansi(c: char) -> Option<u8> {
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
fn glyph_width(b: u8, bold: bool) -> f32 {
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
enum Metrics<'a> {
    /// Helvetica, or Helvetica-Bold, in WinAnsi.
    Standard { bold: bool },
    /// The embedded font of the product name.
    Embedded(&'a LabelFont),
}

impl Metrics<'_> {
    const REGULAR: Self = Self::Standard { bold: false };
    const BOLD: Self = Self::Standard { bold: true };

    /// The advance of `c` in 1/1000 em.
    fn advance(self, c: char) -> f32 {
        match self {
            // Characters outside WinAnsi are never drawn; 0x80 measures them as 1 em.
            Self::Standard { bold } => glyph_width(winansi(c).unwrap_or(0x80), bold),
            Self::Embedded(font) => font.advance(c),
        }
    }

    /// `text` as the bytes of a PDF text string in this font.
    fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Self::Standard { .. } => text.chars().filter_map(winansi).collect(),
            Self::Embedded(font) => font.encode(text),
        }
    }
}

fn text_width(text: &str, size: f32, metrics: Metrics<'_>) -> f32 {
    text.chars().map(|c| metrics.advance(c)).sum::<f32>() * size / 1000.0
}

/// Whether a line may break before and after `c` without a space: CJK ideographs, kana,
/// CJK punctuation and full-width forms (Chinese and Japanese put no spaces between words).
fn breaks_anywhere(c: char) -> bool {
    matches!(c,
        '\u{2e80}'..='\u{a4cf}' | '\u{f900}'..='\u{faff}' | '\u{fe30}'..='\u{fe4f}'
        | '\u{ff00}'..='\u{ffef}' | '\u{20000}'..='\u{3ffff}')
}

/// The pieces lines are made of: words, and single CJK characters. `(after a space, piece)`.
fn line_pieces(text: &str) -> Vec<(bool, &str)> {
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
fn wrap(text: &str, size: f32, width: f32, max_lines: usize, metrics: Metrics<'_>) -> Vec<String> {
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
fn fit_size(text: &str, size: f32, width: f32, metrics: Metrics<'_>) -> f32 {
    let at_one = text_width(text, 1.0, metrics);
    if at_one <= 0.0 {
        return size;
    }
    (width / at_one).clamp(4.0, size)
}

// ---------------------------------------------------------------- labels: layout and drawing

const MM: f32 = 72.0 / 25.4;

/// Where things go on one label, in points.
struct LabelLayout {
    width: f32,
    height: f32,
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
const A4: (f32, f32) = (210.0 * MM, 297.0 * MM);
const A4_COLUMNS: usize = 3;
const A4_ROWS: usize = 8;
const A4_PER_PAGE: usize = A4_COLUMNS * A4_ROWS;
const A4_MARGIN: (f32, f32) = (6.0 * MM, 12.5 * MM);
const A4_LABEL: LabelLayout = LabelLayout {
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
const ROLL_LABEL: LabelLayout = LabelLayout {
    width: 50.0 * MM,
    height: 30.0 * MM,
    pad: 1.5 * MM,
    qr: 27.0 * MM,
    serial_size: 8.0,
    name_size: 6.0,
    name_lines: 3,
    small_size: 5.5,
};
/// Modules of white around the symbol, as the QR standard asks.
const QUIET_ZONE: usize = 4;

/// The text printed beside every QR code.
struct LabelText {
    name: Option<LabelName>,
    gtin: String,
    lot: Option<String>,
}

/// The product name broken into lines for one label size and encoded in its font, once
/// before the labels are drawn.
struct NameLines {
    font: Name<'static>,
    lines: Vec<Vec<u8>>,
}

impl NameLines {
    fn new(name: Option<&LabelName>, layout: &LabelLayout) -> Self {
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

/// A QR symbol as horizontal runs of dark modules: `(x, row, length)`, row 0 at the top.
struct QrRuns {
    width: usize,
    runs: Vec<(u16, u16, u16)>,
}

fn qr_runs(data: &str) -> Result<QrRuns> {
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
fn qr_modules(data: &str) -> Result<(usize, Vec<bool>)> {
    use qrcode::{EcLevel, canvas::Canvas, canvas::MaskPattern};
    let too_long = |e| anyhow!("cannot make a QR code of {data:?}: {e}");
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
    let (_, dark) = best.ok_or_else(|| anyhow!("no QR mask"))?;
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

const FONT: Name<'static> = Name(b"F1");
const FONT_BOLD: Name<'static> = Name(b"F2");
/// The embedded font of a product name Helvetica cannot show.
const FONT_NAME: Name<'static> = Name(b"F3");

/// Draws one label with its lower-left corner at `(x, y)`.
fn draw_label(
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

/// A PDF written to disk object by object: one indirect object per [`Chunk`], its offset
/// noted, and the cross-reference table written at the end. Memory holds one page at a time
/// plus 10 bytes of offset per object.
struct PdfStream {
    out: BufWriter<File>,
    path: PathBuf,
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

impl PdfStream {
    /// Starts the PDF at `path`, with the standard fonts and `name_font` (embedded here, once).
    fn create(
        path: &Path,
        page_size: (f32, f32),
        title: &str,
        name_font: Option<&LabelFont>,
    ) -> Result<Self> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut pdf = Self {
            out: BufWriter::with_capacity(1 << 20, file),
            path: path.to_owned(),
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
    fn embed_font(&mut self, font: &LabelFont) -> Result<Ref> {
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
                    stream.pair(Name(b"Length1"), i32::try_from(font.program.len())?);
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

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes `chunk`, which must hold exactly the one indirect object `id`.
    fn object(&mut self, id: Ref, chunk: &Chunk) -> Result<()> {
        let slot = usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.offsets.get_mut(i))
            .ok_or_else(|| anyhow!("PDF object {} was never allocated", id.get()))?;
        *slot = Some(self.written);
        self.raw(chunk.as_bytes())
    }

    /// Adds a page with the (Flate-compressed) content stream `content`.
    fn page(&mut self, content: &[u8]) -> Result<()> {
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

    /// Writes the page tree, catalog and cross-reference table. Returns the page count.
    fn finish(mut self) -> Result<u64> {
        let mut chunk = Chunk::new();
        {
            let mut pages = chunk.pages(self.pages);
            pages
                .kids(self.page_refs.iter().copied())
                .count(i32::try_from(self.page_refs.len())?);
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
            let offset = offset.ok_or_else(|| anyhow!("PDF object {} was never written", i + 1))?;
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
        let file = self
            .out
            .into_inner()
            .map_err(|e| anyhow!("cannot write {}: {}", self.path.display(), e.error()))?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(self.page_refs.len() as u64)
    }
}

/// Zlib-compresses a content stream (PDF's FlateDecode): QR rectangles shrink about fourfold.
fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::new(6),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

// ---------------------------------------------------------------- labels: the pass

struct LabelOutputs {
    a4: Option<PathBuf>,
    roll: Option<PathBuf>,
    svg_dir: Option<PathBuf>,
    /// The first this many codes get PDF labels, ...
    pdf_labels: usize,
    /// ... and the first this many an SVG file.
    svg_labels: usize,
}

/// One A4 page's worth of labels, rendered by a worker (which writes their SVG files itself,
/// so that file creation runs in parallel too).
struct LabelBatch {
    codes: usize,
    a4_page: Option<Vec<u8>>,
    roll_pages: Vec<Vec<u8>>,
}

/// Writes the PDFs and SVGs for `codes` (in serial order). Returns each PDF with its pages.
fn write_labels(
    codes: &[(u64, String)],
    text: &LabelText,
    want: &LabelOutputs,
    threads: usize,
    bar: &ProgressBar,
) -> Result<Vec<(PathBuf, u64)>> {
    let title = format!("Jitrace labels, GTIN {}", text.gtin);
    let name_font = text
        .name
        .as_ref()
        .and_then(|n| n.font.as_ref())
        .map(|(font, _)| font);
    let mut a4 = match &want.a4 {
        Some(path) if want.pdf_labels > 0 => Some(PdfStream::create(path, A4, &title, name_font)?),
        _ => None,
    };
    let mut roll = match &want.roll {
        Some(path) if want.pdf_labels > 0 => Some(PdfStream::create(
            path,
            (ROLL_LABEL.width, ROLL_LABEL.height),
            &title,
            name_font,
        )?),
        _ => None,
    };
    let a4_name = NameLines::new(text.name.as_ref(), &A4_LABEL);
    let roll_name = NameLines::new(text.name.as_ref(), &ROLL_LABEL);
    if let Some(dir) = &want.svg_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let (do_a4, do_roll) = (a4.is_some(), roll.is_some());
    let jobs = codes.len().div_ceil(A4_PER_PAGE);
    ordered_parallel(
        jobs,
        threads,
        |job| -> Result<LabelBatch> {
            let start = job * A4_PER_PAGE;
            let batch = codes
                .get(start..(start + A4_PER_PAGE).min(codes.len()))
                .unwrap_or_default();
            let mut a4_content = Content::new();
            let mut roll_pages = Vec::new();
            for (i, (serial, uri)) in batch.iter().enumerate() {
                let index = start + i;
                let qr = qr_runs(uri)?;
                if index < want.pdf_labels {
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
                        roll_pages.push(deflate(&content.finish()));
                    }
                }
                if let Some(dir) = &want.svg_dir
                    && index < want.svg_labels
                {
                    let path = dir.join(format!("{serial}.svg"));
                    std::fs::write(&path, label_svg(&qr, *serial))
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
            }
            let a4_page = (do_a4 && start < want.pdf_labels).then(|| deflate(&a4_content.finish()));
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
            bar.inc(batch.codes as u64);
            Ok(())
        },
    )?;
    let mut written = Vec::new();
    if let (Some(pdf), Some(path)) = (a4, &want.a4) {
        written.push((path.clone(), pdf.finish()?));
    }
    if let (Some(pdf), Some(path)) = (roll, &want.roll) {
        written.push((path.clone(), pdf.finish()?));
    }
    Ok(written)
}

/// One code as SVG: the QR symbol (0.5 mm modules, quiet zone included) over its serial.
fn label_svg(qr: &QrRuns, serial: u64) -> String {
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

// ---------------------------------------------------------------- codes verify

#[derive(Serialize)]
struct VerifyReport {
    ok: bool,
    gtin: String,
    serial: String,
    chain_id: String,
    code_key: String,
}

fn verify(global: &Global, uri: &str, key: &PublicKey, chain_id: &str) -> Result<()> {
    let code = parse_code(uri).context("cannot read the code")?;
    code.verify(key, chain_id)
        .map_err(|e| anyhow!("signature_invalid: {e}"))?;
    let report = VerifyReport {
        ok: true,
        gtin: code.gtin.to_string(),
        serial: code.serial,
        chain_id: chain_id.to_owned(),
        code_key: key.to_hex(),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "ok: GTIN {} serial {} carries a valid signature by {} for chain {}",
            report.gtin, report.serial, report.code_key, report.chain_id
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- bench codes

#[derive(Serialize)]
struct BenchReport {
    command: String,
    threads: usize,
    /// Raw Ed25519 signatures per second on every core (code-sized messages).
    sign_per_sec: f64,
    /// The same, measured before and after the issue run.
    sign_per_sec_before: f64,
    sign_per_sec_after: f64,
    sign_sample: u64,
    /// Codes per second signed, formatted and written to CSV (`jitrace codes issue`'s path).
    issue_per_sec: f64,
    issue_count: u64,
    issue_seconds: f64,
    csv_bytes: u64,
    /// issue_per_sec / sign_per_sec.
    ratio: f64,
    /// 1,000,000 codes in under 10 s, or at least 80% of the signing rate.
    target_met: bool,
}

/// Signs about `count` code messages on `threads` threads; returns (signatures, seconds).
fn sign_rate(
    key: &SecretKey,
    chain_id: &str,
    gtin: &Gtin,
    threads: usize,
    count: u64,
) -> (u64, f64) {
    let per_thread = count.div_ceil(threads as u64);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads as u64 {
            scope.spawn(move || {
                let mut last = 0u8;
                for i in 0..per_thread {
                    let serial = (t * per_thread + i + 1_000_000).to_string();
                    let message = code_message(chain_id, gtin, &serial);
                    last ^= key.sign(domain::PRODUCT_CODE, &message).0[0];
                }
                std::hint::black_box(last);
            });
        }
    });
    (per_thread * threads as u64, started.elapsed().as_secs_f64())
}

pub fn bench(global: &Global, args: BenchCodesArgs) -> Result<()> {
    ensure!(args.count > 0, "--count must be at least 1");
    let threads = threads(args.threads);
    let key = SecretKey::from_seed(7);
    let gtin = Gtin::parse("09506000134352")?;
    let chain_id = "jitrace-bench";

    // Ed25519 signing alone, on every core: half before and half after the issue run, so
    // that a change in the machine's load during the run shows and evens out.
    let sample = args.count.clamp(20_000, 200_000) / 2;
    let before = sign_rate(&key, chain_id, &gtin, threads, sample);

    // The issue path: sign, format, write CSV.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("codes.csv");
    let spec = CodeSpec {
        key: &key,
        chain_id,
        gtin,
        resolver: "https://id.jitrace.dev",
        lot_csv: "L1".into(),
    };
    let bar = progress_bar(global, args.count, "codes");
    let started = Instant::now();
    write_codes_csv(&spec, 1_000_000, args.count, threads, &path, 0, &bar)?;
    let issue_seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let issue_per_sec = rate(args.count, issue_seconds);
    let after = sign_rate(&key, chain_id, &gtin, threads, sample);
    let sign_sample = before.0 + after.0;
    let sign_per_sec = rate(sign_sample, before.1 + after.1);
    let ratio = if sign_per_sec > 0.0 {
        issue_per_sec / sign_per_sec
    } else {
        0.0
    };
    let report = BenchReport {
        command: format!("jitrace bench codes --count {}", args.count),
        threads,
        sign_per_sec,
        sign_per_sec_before: rate(before.0, before.1),
        sign_per_sec_after: rate(after.0, after.1),
        sign_sample,
        issue_per_sec,
        issue_count: args.count,
        issue_seconds,
        csv_bytes: std::fs::metadata(&path)?.len(),
        ratio,
        target_met: issue_per_sec >= 100_000.0 || ratio >= 0.8,
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("command: {}", report.command);
        println!(
            "ed25519 sign, {} threads              : {:>10.0} /s (before {:.0}, after {:.0})",
            threads, report.sign_per_sec, report.sign_per_sec_before, report.sign_per_sec_after
        );
        println!(
            "codes signed + written to CSV        : {:>10.0} /s ({} codes in {:.2} s, {} MB)",
            report.issue_per_sec,
            report.issue_count,
            report.issue_seconds,
            report.csv_bytes / 1_000_000
        );
        println!(
            "ratio                                : {:>10.2}   (target: 1M codes < 10 s or >= 0.80: {})",
            report.ratio,
            if report.target_met { "met" } else { "NOT met" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("L1"), "L1");
        assert_eq!(csv_field("A,B"), "\"A,B\"");
        assert_eq!(csv_field("A\"B"), "\"A\"\"B\"");
    }

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
        // A name Helvetica shows needs no font, whatever --font says.
        let name = label_name(
            "Château Margaux",
            Some(&"/no/such/font.ttf".parse().unwrap()),
            &[NOTO],
        );
        assert!(name.unwrap().font.is_none());
        // `--font none` keeps Helvetica; a font that cannot be read is an error.
        let name = label_name("贵州 Moutai", Some(&"none".parse().unwrap()), &[NOTO]).unwrap();
        assert_eq!((name.text.as_str(), name.font.is_none()), ("Moutai", true));
        let err = label_name("贵州", Some(&"/no/such/font.ttf".parse().unwrap()), &[]);
        assert!(format!("{:#}", err.err().unwrap()).contains("/no/such/font.ttf"));
        // No --font: the first system font that shows the name, else Helvetica.
        assert!(
            Path::new(NOTO).exists(),
            "{NOTO} is missing: apt-get install fonts-noto-cjk"
        );
        let name = label_name("贵州 Moutai", None, &["/no/such/font.ttf"]).unwrap();
        assert_eq!((name.text.as_str(), name.font.is_none()), ("Moutai", true));
        let name = label_name("贵州 Moutai", None, &["/no/such/font.ttf", NOTO]).unwrap();
        assert_eq!(name.text, "贵州 Moutai");
        assert!(name.font.unwrap().1.starts_with(NOTO));
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
        let name =
            label_name("翡翠谷  干红葡萄酒 2024", Some(&noto.parse().unwrap()), &[]).unwrap();
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

    #[test]
    fn ordered_parallel_keeps_order_and_stops_on_error() {
        let mut seen = Vec::new();
        ordered_parallel(
            100,
            4,
            |i| i * 2,
            |v| {
                seen.push(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        let err = ordered_parallel(
            1000,
            3,
            |i| i,
            |v| if v == 10 { bail!("stop") } else { Ok(()) },
        );
        assert!(err.is_err());
    }
}
