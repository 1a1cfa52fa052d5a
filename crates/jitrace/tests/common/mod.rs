//! Helpers shared by the end-to-end tests of the binary.

use jitrace_client::{Client, dto::TxState};
use jitrace_types::{
    Gtin, OrgId, SecretKey,
    tx::{
        Buyer, CodeAction, CodeEvent, CodeId, GeoPoint, Payload, Place, SignedCode, TicketSecret,
    },
};
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// The `jitrace` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_jitrace");

/// Polls `check` every 100 ms until it is true; panics naming `what` after `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The demo's last product (its batch is the last demo transaction).
#[allow(dead_code)]
pub const RIESLING: &str = "09506000134376";

/// A `jitrace dev` process, killed when dropped.
#[allow(dead_code)] // not every test binary uses every helper
pub struct Node {
    pub child: Child,
    pub url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free local address for the node's HTTP API.
#[allow(dead_code)]
pub fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Starts `jitrace dev` in `data_dir`, serving HTTP on `addr`, logging beside the directory.
#[allow(dead_code)]
pub fn start(data_dir: &Path, addr: &str) -> Node {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.with_extension("log"))
        .unwrap();
    let child = Command::new(BIN)
        .args(["dev", "--data-dir"])
        .arg(data_dir)
        .args(["--http", addr])
        .env("JITRACE_LOG", "warn")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the jitrace binary starts");
    Node {
        child,
        url: format!("http://{addr}"),
    }
}

/// Waits until the demo data is seeded: its batches are on chain and the node wrote the demo
/// codes file, its last step.
#[allow(dead_code)]
pub async fn wait_demo(client: &Client, data_dir: &Path) {
    let gtin = Gtin::parse(RIESLING).unwrap();
    eventually("the demo data", Duration::from_secs(120), || async {
        data_dir.join("demo-codes.txt").exists()
            && client
                .batches(&gtin)
                .await
                .map(|b| !b.is_empty())
                .unwrap_or(false)
    })
    .await;
}

/// The path of the demo code of `kind` (`sold`, `unsold`, `cloned`, `forged`) from the data
/// directory's `demo-codes.txt`: `/01/{gtin}/21/{serial}?8030=…`.
#[allow(dead_code)]
pub fn demo_code(data_dir: &Path, kind: &str) -> String {
    let codes = std::fs::read_to_string(data_dir.join("demo-codes.txt")).unwrap();
    codes
        .lines()
        .find_map(|line| line.strip_prefix(kind).map(str::trim))
        .unwrap_or_else(|| panic!("no {kind} demo code"))
        .to_string()
}

/// Runs a client command against `node`, signing with `key`, with `--json`.
#[allow(dead_code)]
pub fn cli(node: &str, key: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--node", node, "--key"])
        .arg(key)
        .arg("--json")
        .args(args)
        .output()
        .unwrap()
}

/// The password `jitrace dev` generated for console user `name` (in `console-admin.txt`).
#[allow(dead_code)]
pub fn console_password(data_dir: &Path, name: &str) -> String {
    std::fs::read_to_string(data_dir.join("console-admin.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no console user {name}"))
        .to_string()
}

/// Where a browser test saves its screenshots: `$JITRACE_SCREENSHOTS` when set (README's are
/// made so), else `scratch`.
#[allow(dead_code)]
pub fn screenshots_dir(scratch: &Path) -> std::path::PathBuf {
    std::env::var_os("JITRACE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| scratch.join("screenshots"))
}

/// The repository's `web/` folder, checked to have its npm packages (playwright-core).
#[allow(dead_code)]
pub fn web_dir() -> PathBuf {
    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web");
    assert!(
        web.join("node_modules/playwright-core").is_dir(),
        "web/node_modules is missing: run `npm ci` in web/ (.ci/run does)"
    );
    web
}

/// Runs a browser script of `web/` (e.g. `e2e/consumer.mjs`) with node and `envs`, fails the
/// test with its output if it fails, and returns its last JSON line.
#[allow(dead_code)]
pub async fn browser(script: &'static str, envs: Vec<(&'static str, String)>) -> serde_json::Value {
    let web = web_dir();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .current_dir(&web)
            .envs(envs)
            .output()
            .expect("node is not installed")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{stdout}");
    serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("the script's result line"),
    )
    .unwrap()
}

/// Debian's Chromium (or `$JITRACE_CHROMIUM`), checked to exist.
#[allow(dead_code)]
pub fn chromium() -> String {
    let chromium = std::env::var("JITRACE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium is missing at {chromium}: `apt-get install -y chromium` (.ci/run does), or set \
         JITRACE_CHROMIUM"
    );
    chromium
}

/// The distributor sells the demo's unsold code with a claim ticket; returns the code's path.
#[allow(dead_code)]
pub async fn sell_with_claim_ticket(
    node: &Node,
    data_dir: &std::path::Path,
    ticket: &TicketSecret,
) -> String {
    let path = demo_code(data_dir, "unsold");
    // `/01/{gtin}/21/{serial}?8030={signature}`
    let (link, signature) = path.split_once("?8030=").unwrap();
    let parts: Vec<&str> = link.split('/').collect();
    let code = CodeId {
        gtin: Gtin::parse(parts[2]).unwrap(),
        serial: parts[4].parse().unwrap(),
    };
    let distributor = SecretKey::from_hex(
        std::fs::read_to_string(data_dir.join("keys/distributor.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let client = Client::new(&node.url);
    let sale = Payload::RecordCodeEvent(CodeEvent {
        code: SignedCode {
            code,
            signature: signature.to_string(),
        },
        org: OrgId::new("east-china-distribution").unwrap(),
        action: CodeAction::Sell {
            buyer: Buyer::ClaimTicket(ticket.public_key().unwrap()),
        },
        place: Place {
            point: Some(GeoPoint {
                lat_micro: 31_230_400,
                lon_micro: 121_473_700,
            }),
            region: Some("CN-SH".into()),
            city: Some("Shanghai".into()),
        },
    });
    let submitted = client.sign_and_submit(&distributor, sale).await.unwrap();
    let hash = submitted.hash.parse().unwrap();
    let receipt = client
        .wait_for_tx(&hash, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxState::Ok, "the sale: {receipt:?}");
    path
}

/// [`browser`] with Chromium (see [`chromium`]) passed as `CHROMIUM`.
#[allow(dead_code)]
pub async fn run_browser_script(
    script: &'static str,
    mut env: Vec<(&'static str, String)>,
) -> serde_json::Value {
    env.push(("CHROMIUM", chromium()));
    browser(script, env).await
}

/// A printed label for `url`: its QR code as a greyscale image (PGM, 8 px a module, a 4-module
/// quiet zone), turned by ffmpeg into the two-second video Chromium's fake camera plays.
#[allow(dead_code)] // the consumer's and the channel's camera tests
pub fn label_video(url: &str, dir: &Path) -> PathBuf {
    let code = qrcode::QrCode::new(url.as_bytes()).unwrap();
    let modules = code.width();
    let colors = code.to_colors();
    let (scale, quiet) = (8, 4);
    let size = (modules + 2 * quiet) * scale;
    let mut image = format!("P5\n{size} {size}\n255\n").into_bytes();
    for y in 0..size {
        for x in 0..size {
            let (mx, my) = (
                (x / scale).wrapping_sub(quiet),
                (y / scale).wrapping_sub(quiet),
            );
            let dark =
                mx < modules && my < modules && colors[my * modules + mx] == qrcode::Color::Dark;
            image.push(if dark { 0 } else { 255 });
        }
    }
    let pgm = dir.join("label.pgm");
    std::fs::write(&pgm, image).unwrap();
    let y4m = dir.join("label.y4m");
    let ffmpeg = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-loop", "1", "-i"])
        .arg(&pgm)
        .args([
            "-vf",
            "scale=360:360:flags=neighbor,pad=640:480:(ow-iw)/2:(oh-ih)/2:white,format=yuv420p",
            "-t",
            "2",
            "-r",
            "10",
        ])
        .arg(&y4m)
        .output()
        .expect("ffmpeg is missing: `apt-get install -y ffmpeg` (.ci/run does)");
    assert!(
        ffmpeg.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&ffmpeg.stderr)
    );
    y4m
}
