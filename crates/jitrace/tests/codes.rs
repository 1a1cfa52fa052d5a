//! `jitrace codes issue` and `jitrace codes verify` through the real binary: CSV rows that
//! parse and verify, label PDFs and SVGs, Chinese product names in an embedded font, tampered
//! codes rejected, bad input rejected with nothing written.

use jitrace_types::{Gtin, PublicKey, code};
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const BIN: &str = env!("CARGO_BIN_EXE_jitrace");
const GTIN: &str = "09506000134352";
const CHAIN: &str = "test-chain";
const RESOLVER: &str = "https://id.example.com";
const COUNT: usize = 2_000;
const FIRST: u64 = 1_000_001;
/// The font of the CJK label tests, from Debian's fonts-noto-cjk (`.ci/run` installs it).
const NOTO_CJK: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

fn jitrace(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        // No node: nothing may depend on one when --chain-id is given.
        .env("JITRACE_NODE", "http://127.0.0.1:9")
        .output()
        .expect("the jitrace binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh code-signing key file made by `jitrace keys new`, and its public key.
fn new_key(dir: &Path) -> (PathBuf, PublicKey) {
    let path = dir.join("code.key");
    let out = jitrace(&["--json", "keys", "new", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let public = view["public_key"].as_str().unwrap().parse().unwrap();
    (path, public)
}

fn issue_args<'a>(key: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "codes",
        "issue",
        "--product",
        GTIN,
        "--first",
        "1000001",
        "--code-key",
        key,
        "--chain-id",
        CHAIN,
        "--resolver",
        RESOLVER,
        "--out",
        out,
    ]
}

/// Counts `/Type /Page` objects (not `/Pages`) in an uncompressed-object PDF.
fn page_objects(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| w.starts_with(needle) && w[needle.len()] != b's')
        .count()
}

/// The `/Count` of the page tree.
fn page_count(pdf: &[u8]) -> usize {
    let at = find_last(pdf, b"/Count ").expect("a page tree");
    ascii_number(&pdf[at + 7..])
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The decimal number at the start of `bytes`.
fn ascii_number(bytes: &[u8]) -> usize {
    let digits: Vec<u8> = bytes
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    String::from_utf8(digits).unwrap().parse().unwrap()
}

fn check_pdf(path: &Path, pages: usize) {
    let pdf = std::fs::read(path).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.7"), "{}", path.display());
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    assert_eq!(page_objects(&pdf), pages, "{}", path.display());
    assert_eq!(page_count(&pdf), pages, "{}", path.display());
    // The cross-reference table's offsets point at the objects they name.
    let startxref_at = find_last(&pdf, b"startxref\n").unwrap() + 10;
    let startxref: usize = ascii_number(&pdf[startxref_at..]);
    assert!(pdf[startxref..].starts_with(b"xref\n0 "));
    let objects: usize = ascii_number(&pdf[startxref + 7..]);
    let table = &pdf[startxref..];
    let first_entry = table.windows(4).position(|w| w == b" f\r\n").unwrap() + 4;
    for i in 1..objects {
        let entry = &table[first_entry + (i - 1) * 20..first_entry + i * 20];
        let offset: usize = ascii_number(entry);
        let header = format!("{i} 0 obj");
        assert!(
            pdf[offset..].starts_with(header.as_bytes()),
            "{}: object {i} is not at {offset}",
            path.display()
        );
    }
    if let Some(qpdf) = which("qpdf") {
        let out = Command::new(qpdf)
            .arg("--check")
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "qpdf --check: {}", stdout(&out));
    }
    if let Some(pdfinfo) = which("pdfinfo") {
        let out = Command::new(pdfinfo).arg(path).output().unwrap();
        assert!(out.status.success());
        let info = stdout(&out);
        let line = info.lines().find(|l| l.starts_with("Pages:")).unwrap();
        assert_eq!(line["Pages:".len()..].trim(), pages.to_string());
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn issue_writes_codes_that_verify_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = new_key(dir.path());
    let out_dir = dir.path().join("batch");
    let (key_s, out_s) = (key.to_str().unwrap(), out_dir.to_str().unwrap());
    let mut args = issue_args(key_s, out_s);
    args.extend([
        "--count",
        "2000",
        "--lot",
        "L2026,A",
        "--name",
        "Riesling Spätlese 贵州 Trocken",
        // Helvetica only: what it cannot show is left out (the next test embeds a font).
        "--font",
        "none",
        "--svg",
        "--svg-limit",
        "30",
        "--json",
    ]);
    let out = jitrace(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("labels print \"Riesling Spätlese Trocken\""),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["count"], 2000);
    assert_eq!(report["font"], serde_json::Value::Null);
    assert_eq!(report["last_serial"], 1_002_000);
    assert_eq!(report["code_key"], public.to_hex());
    assert_eq!(report["svg_files"], 30);
    assert!(report["codes_per_sec"].as_f64().unwrap() > 0.0);

    // The CSV: a header, then one row per serial in order, each URI a valid signed code.
    let csv = std::fs::read_to_string(out_dir.join("codes.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("gtin,serial,lot,uri"));
    let gtin = Gtin::parse(GTIN).unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), COUNT);
    let mut uris = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let serial = (FIRST + i as u64).to_string();
        let prefix = format!("{GTIN},{serial},\"L2026,A\",");
        let uri = row
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("row {i}: {row}"));
        assert!(uri.starts_with(&format!("{RESOLVER}/01/{GTIN}/21/{serial}?8030=")));
        let scanned = code::parse_code(uri).unwrap();
        assert_eq!(scanned.gtin, gtin);
        assert_eq!(scanned.serial, serial);
        assert_eq!(scanned.signature.as_ref().unwrap().len(), 86);
        scanned.verify(&public, CHAIN).unwrap();
        // Another chain's verifier rejects it.
        assert!(scanned.verify(&public, "other-chain").is_err());
        uris.push(uri.to_owned());
    }

    // `codes verify`: the genuine code passes, tampered ones fail with the reason.
    let genuine = &uris[7];
    let pub_hex = public.to_hex();
    let verify = |uri: &str, chain: &str| {
        jitrace(&[
            "codes",
            "verify",
            uri,
            "--code-key-pub",
            &pub_hex,
            "--chain-id",
            chain,
        ])
    };
    let ok = verify(genuine, CHAIN);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("ok:"), "{}", stdout(&ok));

    let other_serial = genuine.replace("/21/1000008?", "/21/1000009?");
    assert_ne!(&other_serial, genuine);
    let bad = verify(&other_serial, CHAIN);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("signature_invalid"),
        "{}",
        stderr(&bad)
    );

    let sig_at = genuine.find("8030=").unwrap() + 5 + 20;
    let mut tampered = genuine.clone();
    let flipped = if &tampered[sig_at..sig_at + 1] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    let bad = verify(&tampered, CHAIN);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("does not verify"), "{}", stderr(&bad));

    let truncated = &genuine[..genuine.len() - 3];
    let bad = verify(truncated, CHAIN);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("86 characters"), "{}", stderr(&bad));

    let bad = verify(genuine, "other-chain");
    assert!(!bad.status.success());

    let bad = verify("https://id.example.com/00/106141411234567897", CHAIN);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("SSCC"), "{}", stderr(&bad));

    // Label sheets: 2,000 labels, 24 per A4 page, one per roll page.
    check_pdf(&out_dir.join("labels-a4.pdf"), COUNT.div_ceil(24));
    check_pdf(&out_dir.join("labels-roll.pdf"), COUNT);
    if which("pdftotext").is_some() {
        let text = Command::new("pdftotext")
            .arg(out_dir.join("labels-roll.pdf"))
            .arg("-")
            .output()
            .unwrap();
        let text = stdout(&text);
        assert!(text.contains("SN 1000001"), "{text}");
        assert!(text.contains("Spätlese"), "{text}");
        assert!(!text.contains("贵州"));
    }

    // The printed QR codes scan back to the CSV's URIs (when poppler and zbar are installed):
    // the first roll label, and the first row of the A4 sheet cell by cell (zbar misses the
    // odd symbol when it scans 24 at once).
    if which("pdftoppm").is_some() && which("zbarimg").is_some() {
        let mm = |v: f64| ((v / 25.4 * 300.0) as u32).to_string();
        let mut crops = vec![("labels-roll.pdf", None, &uris[0])];
        for (col, uri) in uris.iter().take(3).enumerate() {
            crops.push(("labels-a4.pdf", Some((6.0 + 66.0 * col as f64, 12.5)), uri));
        }
        for (pdf, cell, uri) in crops {
            let png = dir.path().join("label");
            let mut rasterise = Command::new("pdftoppm");
            rasterise.args(["-r", "300", "-f", "1", "-l", "1", "-png", "-singlefile"]);
            if let Some((x, y)) = cell {
                rasterise.args(["-x", &mm(x), "-y", &mm(y), "-W", &mm(66.0), "-H", &mm(34.0)]);
            }
            let status = rasterise.arg(out_dir.join(pdf)).arg(&png).status().unwrap();
            assert!(status.success());
            let scan = Command::new("zbarimg")
                .args(["-q", "--raw"])
                .arg(png.with_extension("png"))
                .output()
                .unwrap();
            assert_eq!(stdout(&scan).trim(), uri.as_str(), "{pdf} {cell:?}");
        }
    }

    // SVGs: capped at 30, the first serials.
    let svgs: Vec<_> = std::fs::read_dir(out_dir.join("svg")).unwrap().collect();
    assert_eq!(svgs.len(), 30);
    let svg = std::fs::read_to_string(out_dir.join("svg/1000001.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains(">1000001</text>"));
    // The top-left finder pattern's first row: 7 dark modules after the 4-module quiet zone.
    assert!(svg.contains("d=\"M4 4h7v1h-7z"), "{svg}");
    assert!(!out_dir.join("svg/1000031.svg").exists());
}

/// The path of `tool`, or a failure that says how to install it: the CJK label test checks
/// text extraction and PDF structure with poppler and qpdf, which `.ci/run` installs.
fn require(tool: &str, package: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| {
        panic!("{tool} is missing: apt-get install {package} (.ci/run installs it)")
    })
}

fn pdf_text(path: &Path) -> String {
    let out = Command::new(require("pdftotext", "poppler-utils"))
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdftotext {}: {}",
        path.display(),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn chinese_names_print_in_an_embedded_subset_font() {
    assert!(
        Path::new(NOTO_CJK).exists(),
        "{NOTO_CJK} is missing: apt-get install fonts-noto-cjk (.ci/run installs it)"
    );
    require("qpdf", "qpdf");
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = new_key(dir.path());
    let out_dir = dir.path().join("batch");
    let mut args = issue_args(key.to_str().unwrap(), out_dir.to_str().unwrap());
    let name = "翡翠谷 干红葡萄酒 2024";
    args.extend([
        "--count", "30", "--name", name, "--font", NOTO_CJK, "--json",
    ]);
    let out = jitrace(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    // Every character printed: no note.
    assert!(!stderr(&out).contains("note"), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["font"],
        format!("{NOTO_CJK}#2 (Noto Sans CJK SC)"),
        "the collection's Simplified Chinese face"
    );

    let (a4, roll) = (
        out_dir.join("labels-a4.pdf"),
        out_dir.join("labels-roll.pdf"),
    );
    check_pdf(&a4, 2);
    check_pdf(&roll, 30);
    for path in [&a4, &roll] {
        let qpdf = Command::new("qpdf")
            .arg("--check")
            .arg(path)
            .output()
            .unwrap();
        assert!(qpdf.status.success(), "qpdf --check: {}", stdout(&qpdf));
        let pdf = std::fs::read(path).unwrap();
        // One subset CFF font per file, searchable through its ToUnicode CMap.
        let count = |needle: &[u8]| pdf.windows(needle.len()).filter(|w| *w == needle).count();
        assert_eq!(count(b"/Subtype /Type0"), 1, "{}", path.display());
        assert_eq!(count(b"/Subtype /CIDFontType0C"), 1);
        assert_eq!(count(b"/Encoding /Identity-H"), 1);
        assert_eq!(count(b"/ToUnicode"), 1);
        assert_eq!(count(b"+NotoSansCJKsc-Regular"), 3);
        // The whole font is 19 MB; the subset holds a dozen glyphs.
        assert!(
            pdf.len() < 150_000,
            "{}: {} bytes",
            path.display(),
            pdf.len()
        );
    }
    // A4 labels hold the name on one line; roll labels wrap it after the ideographs.
    let text = pdf_text(&a4);
    assert_eq!(text.matches(name).count(), 30, "{text}");
    assert!(text.contains("SN 1000030"), "{text}");
    let text = pdf_text(&roll);
    assert_eq!(
        text.matches("翡翠谷 干红葡萄酒\n2024").count(),
        30,
        "{text}"
    );

    // The font may also come from JITRACE_LABEL_FONT, one face of a collection chosen by
    // `#INDEX` (here the Traditional Chinese face, which has these characters too).
    let out_dir = dir.path().join("env");
    let mut args = issue_args(key.to_str().unwrap(), out_dir.to_str().unwrap());
    args.extend(["--count", "3", "--pdf", "roll", "--name", name, "--json"]);
    let out = Command::new(BIN)
        .args(&args)
        .env("JITRACE_LABEL_FONT", format!("{NOTO_CJK}#3"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["font"], format!("{NOTO_CJK}#3 (Noto Sans CJK TC)"));
    check_pdf(&out_dir.join("labels-roll.pdf"), 3);
    let text = pdf_text(&out_dir.join("labels-roll.pdf"));
    assert!(text.contains("翡翠谷 干红葡萄酒"), "{text}");
}

#[test]
fn pdf_limit_and_choice() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = new_key(dir.path());
    let out_dir = dir.path().join("batch");
    let mut args = issue_args(key.to_str().unwrap(), out_dir.to_str().unwrap());
    args.extend(["--count", "100", "--pdf", "roll", "--pdf-limit", "10"]);
    let out = jitrace(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("--pdf-limit 10"), "{}", stdout(&out));
    check_pdf(&out_dir.join("labels-roll.pdf"), 10);
    assert!(!out_dir.join("labels-a4.pdf").exists());
    assert!(!out_dir.join("svg").exists());
    let csv = std::fs::read_to_string(out_dir.join("codes.csv")).unwrap();
    assert_eq!(csv.lines().count(), 101);

    // The output directory must be new or empty.
    let again = jitrace(&args);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = new_key(dir.path());
    let key_s = key.to_str().unwrap();
    let out_dir = dir.path().join("batch");
    let out_s = out_dir.to_str().unwrap();
    let missing = dir.path().join("missing.key");
    let missing = missing.to_str().unwrap();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            {
                let mut a = issue_args(key_s, out_s);
                a[3] = "09506000134353";
                a.extend(["--count", "10"]);
                a
            },
            "check digit",
        ),
        (
            {
                let mut a = issue_args(key_s, out_s);
                a.extend(["--count", "0"]);
                a
            },
            "--count must be 1",
        ),
        (
            {
                let mut a = issue_args(missing, out_s);
                a.extend(["--count", "10"]);
                a
            },
            "cannot read the key file",
        ),
        (
            {
                let mut a = issue_args(key_s, out_s);
                a.extend(["--count", "10", "--lot", "bad lot"]);
                a
            },
            "lot",
        ),
        (
            {
                let mut a = issue_args(key_s, out_s);
                a[11] = "ftp://nowhere";
                a.extend(["--count", "10"]);
                a
            },
            "--resolver",
        ),
        (
            {
                let mut a = issue_args(key_s, out_s);
                a[5] = "18446744073709551615";
                a.extend(["--count", "10"]);
                a
            },
            "overflows",
        ),
        (
            {
                let mut a = issue_args(key_s, out_s);
                a.extend([
                    "--count",
                    "10",
                    "--name",
                    "茅台",
                    "--font",
                    "/no/such/font.ttc",
                ]);
                a
            },
            "cannot read the font /no/such/font.ttc",
        ),
    ];
    for (args, message) in cases {
        let out = jitrace(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
    }

    // Without --chain-id the node is asked, and an unreachable node is a clear error.
    let mut args = issue_args(key_s, out_s);
    args.drain(8..10);
    args.extend(["--count", "10"]);
    let out = jitrace(&args);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--chain-id"), "{}", stderr(&out));
    assert!(!out_dir.exists());
}
