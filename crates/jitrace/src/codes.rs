//! `jitrace codes`: sign product codes for a serial range (CSV, PDF label sheets, SVG) and check
//! one code offline; `jitrace bench codes`: how fast this machine issues codes.
//!
//! Signing happens here, where the brand's code-signing key is, never in the ledger. Codes are
//! signed on every core: serials are cut into chunks, worker `t` of `T` takes chunks
//! `t, t+T, t+2T, ...` and hands each finished chunk to the writer through its own two-slot
//! channel, so the writer gets them in order and memory stays bounded whatever the count.
//!
//! Labels (PDF sheets, SVGs) are drawn by `jitrace_labels` from the signed codes; this module
//! picks the font of `--name` (`--font`, else `JITRACE_LABEL_FONT`, else the first system font
//! in [`jitrace_labels::SYSTEM_FONTS`] that shows every character), says on stderr what a name
//! loses when no font can show it, writes the files and reports.

use crate::{cli::Global, genesis::read_key};
use anyhow::{Context as _, Result, anyhow, bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use jitrace_labels::{
    FontPath, LabelName, LabelOutputs, LabelText, NameNote, SYSTEM_FONTS, ordered_parallel,
};
use jitrace_types::{
    DigitalLink, Gtin, PublicKey, SecretKey,
    code::{code_message, code_uri, parse_code, sign_code},
    gs1::validate_lot,
    keys::domain,
    tx::{MAX_BATCH_SIZE, MAX_CHAIN_ID_LEN},
};
use serde::Serialize;
use std::{
    fmt::Write as _,
    fs::File,
    io::{BufWriter, IsTerminal as _, Write},
    path::{Path, PathBuf},
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
        .map(|name| label_name(name, args.font.as_ref(), SYSTEM_FONTS))
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
    let a4_path =
        matches!(args.pdf, PdfChoice::A4 | PdfChoice::Both).then(|| args.out.join("labels-a4.pdf"));
    let roll_path = matches!(args.pdf, PdfChoice::Roll | PdfChoice::Both)
        .then(|| args.out.join("labels-roll.pdf"));
    let svg_dir = args.svg.then(|| args.out.join("svg"));
    let bar = progress_bar(global, keep as u64, "labels");
    let pdfs = write_label_files(
        &kept,
        &text,
        LabelFiles {
            a4: a4_path.as_deref(),
            roll: roll_path.as_deref(),
            svg_dir: svg_dir.as_deref(),
            pdf_labels: usize::try_from(pdf_labels)?,
            svg_labels: usize::try_from(svg_labels)?,
        },
        threads,
        &bar,
    )?;
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
        svg_dir: svg_dir.as_ref().map(|d| d.display().to_string()),
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
            Ok::<(), anyhow::Error>(())
        },
    )?;
    out.into_inner()
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error()))?
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(kept)
}

// ---------------------------------------------------------------- labels

/// Says how `--name` is printed (see [`LabelName::choose`]), with a note on stderr when
/// characters are left out and how to print them.
fn label_name(name: &str, font: Option<&FontPath>, system_fonts: &[&str]) -> Result<LabelName> {
    ensure!(
        name.chars().count() <= jitrace_types::tx::MAX_NAME_LEN,
        "--name is longer than {} characters",
        jitrace_types::tx::MAX_NAME_LEN
    );
    let printed = LabelName::choose(name, font, system_fonts).context("--font")?;
    let omitted = if printed.text.is_empty() {
        "labels omit the name".to_owned()
    } else {
        format!("labels print {:?}", printed.text)
    };
    match &printed.note {
        None => {}
        Some(NameNote::StandardOnly) => eprintln!(
            "note: --font none: Helvetica cannot show every character of --name; {omitted}"
        ),
        Some(NameNote::NoFont) => eprintln!(
            "note: Helvetica cannot show every character of --name and no system font can \
             either; {omitted}. To print it, pass --font PATH (a TTF/OTF/TTC font that has the \
             characters, e.g. NotoSansCJK-Regular.ttc for Chinese, Japanese or Korean) or set \
             JITRACE_LABEL_FONT, or install a font such as fonts-noto-cjk (apt-get install \
             fonts-noto-cjk)"
        ),
        Some(NameNote::FontShowsNone { font }) => {
            eprintln!("note: the font {font} shows no character of --name; {omitted}")
        }
        Some(NameNote::FontMissesSome { font }) => {
            eprintln!("note: the font {font} cannot show every character of --name; {omitted}")
        }
    }
    Ok(printed)
}

/// Where `codes issue` writes labels.
struct LabelFiles<'a> {
    a4: Option<&'a Path>,
    roll: Option<&'a Path>,
    svg_dir: Option<&'a Path>,
    /// The first this many codes get PDF labels, ...
    pdf_labels: usize,
    /// ... and the first this many an SVG file.
    svg_labels: usize,
}

/// Writes the PDFs and SVGs of `codes` (in serial order) to files. Returns each PDF with its
/// pages.
fn write_label_files(
    codes: &[(u64, String)],
    text: &LabelText,
    files: LabelFiles<'_>,
    threads: usize,
    bar: &ProgressBar,
) -> Result<Vec<(PathBuf, u64)>> {
    let create = |path: Option<&Path>| -> Result<Option<BufWriter<File>>> {
        match path {
            Some(path) if files.pdf_labels > 0 => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                Ok(Some(BufWriter::with_capacity(1 << 20, file)))
            }
            _ => Ok(None),
        }
    };
    let (a4, roll) = (create(files.a4)?, create(files.roll)?);
    if let Some(dir) = files.svg_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let write_svg = |serial: u64, svg: &str| -> std::io::Result<()> {
        let dir = files.svg_dir.unwrap_or(Path::new("."));
        std::fs::write(dir.join(format!("{serial}.svg")), svg)
    };
    let want = LabelOutputs {
        a4,
        roll,
        pdf_labels: files.pdf_labels,
        svg: files
            .svg_dir
            .map(|_| &write_svg as jitrace_labels::SvgSink<'_>),
        svg_labels: files.svg_labels,
    };
    let out = files
        .a4
        .or(files.roll)
        .or(files.svg_dir)
        .and_then(Path::parent)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let written = jitrace_labels::write_labels(codes, text, want, threads, |n| bar.inc(n as u64))
        .with_context(|| format!("cannot write the labels in {out}"))?;
    let mut pdfs = Vec::new();
    for (pdf, path) in [(written.a4, files.a4), (written.roll, files.roll)] {
        if let (Some(pdf), Some(path)) = (pdf, path) {
            pdf.out
                .into_inner()
                .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error()))?
                .sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
            pdfs.push((path.to_owned(), pdf.pages));
        }
    }
    Ok(pdfs)
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
}
