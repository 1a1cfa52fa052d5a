//! A `jitrace dev` node as its own process, for end-to-end tests of the binary.

use crate::common::{BIN, eventually};
use jitrace_client::Client;
use jitrace_types::Gtin;
use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

pub const RIESLING: &str = "09506000134376";

/// A running node, killed when dropped.
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

/// A free loopback address.
pub fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Starts `jitrace dev` on `data_dir` with its API on `addr` (output in `data_dir`.log).
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

/// Runs a client command against `node`, signing with `key`, with `--json`.
pub fn cli(node: &str, key: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--node", node, "--key"])
        .arg(key)
        .arg("--json")
        .args(args)
        .output()
        .unwrap()
}
