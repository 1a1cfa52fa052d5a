//! `jitrace testnet`: a local network of separate node processes on loopback.

use crate::node::{GenesisOptions, NodeConfig, write_network};
use anyhow::{Context as _, Result, bail};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The node configs of a network directory, validators first, in name order.
pub fn node_configs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut nodes: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let config = entry.path().join("config.toml");
            config.exists().then_some((name, config))
        })
        .collect();
    nodes.sort_by_key(|(name, _)| (!name.starts_with("validator"), name.len(), name.clone()));
    if nodes.is_empty() {
        bail!(
            "{} holds no node configs (run `jitrace genesis` first)",
            dir.display()
        );
    }
    Ok(nodes)
}

struct Processes(Vec<(String, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            // Ask politely (SIGTERM), then make sure.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        for (_, child) in &mut self.0 {
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Generates the network in `options.out` if it has none, starts every node, and waits for
/// Ctrl-C (or a node's exit), then stops them all.
pub fn run(options: GenesisOptions) -> Result<()> {
    if !options.out.join("genesis.toml").exists() {
        write_network(&options)?;
    }
    let nodes = node_configs(&options.out)?;
    let exe = std::env::current_exe()?;
    let mut processes = Processes(Vec::new());
    println!("{:<14} {:<28} log", "node", "API");
    for (name, config_path) in &nodes {
        let config = NodeConfig::load(config_path)?;
        let log_path = options.out.join(name).join("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(config_path)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        println!(
            "{:<14} http://{:<21} {}",
            name,
            config.http,
            log_path.display()
        );
        processes.0.push((name.clone(), child));
    }
    println!();
    println!(
        "operator key: {}",
        options.out.join("operator.key").display()
    );
    println!(
        "Ctrl-C stops every node; `jitrace testnet --dir {}` starts them again.",
        options.out.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    for (name, child) in &mut processes.0 {
                        if let Some(status) = child.try_wait()? {
                            bail!("{name} exited ({status}); see its node.log");
                        }
                    }
                }
            }
        }
    })
}
