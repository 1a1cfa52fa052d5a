//! `jitrace`: run a Jitrace node, manage keys, verify a chain, and drive every ledger
//! transaction from the command line (signing locally).

mod b2b;
mod bench;
mod cli;
mod codes;
mod demo;
mod demo_b2b;
mod genesis;
mod items;
mod node;
mod testnet;
mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

/// A node allocates and frees many small buffers on several threads (transactions, blocks,
/// messages); mimalloc does that with less contention and fewer page faults than the system
/// allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Jitrace: a consortium blockchain that exposes counterfeits and traces supply chains.
#[derive(Parser)]
#[command(name = "jitrace", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a one-validator development chain with demo data and the API on localhost.
    Dev {
        /// Where the chain keeps its data (created and seeded with demo data if empty).
        #[arg(long, default_value = ".jitrace/dev")]
        data_dir: PathBuf,
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Do not seed demo data into a new chain.
        #[arg(long)]
        no_demo: bool,
        /// Size of each of the node's two page caches (state, consensus engine) in MiB
        /// [default: 256]; the node holds about twice this in memory from the start.
        #[arg(long, value_name = "MIB")]
        cache_mib: Option<usize>,
    },
    /// Write a network: genesis, and a config and key per node.
    Genesis {
        #[command(flatten)]
        network: NetworkArgs,
    },
    /// Run one node of a network from its config file.
    Node {
        /// The node's config.toml (written by `jitrace genesis`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Start a local network: every node its own process on loopback (generated if missing).
    Testnet {
        #[command(flatten)]
        network: NetworkArgs,
    },
    /// Manage key files.
    #[command(subcommand)]
    Keys(cli::KeysCommand),
    /// Show the node's chain id, finalised height, latest block and state root.
    Status,
    /// Add a console user to a stopped node's data directory, with a member key file of their
    /// organisation (sealed with the password in $JITRACE_CONSOLE_PASSWORD, at least 10
    /// characters). A network's first platform admin is made so; then the console makes more.
    ConsoleUser {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Sign-in name (a-z, 0-9, '.', '_', '@', '-').
        #[arg(long)]
        name: String,
        /// The name the console shows.
        #[arg(long)]
        display_name: String,
        /// The organisation the user acts for.
        #[arg(long)]
        org: String,
        /// Console role: admin, operator or viewer.
        #[arg(long, default_value = "admin")]
        role: String,
        /// The user's member key file (hex seed), e.g. the operator's key for a platform admin.
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Re-check every stored block, certificate and state root of a stopped node.
    VerifyChain {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Check a product code as a consumer's scan would: the verdict, the product and its path.
    Verify {
        /// The code's GS1 Digital Link URL (as printed in the QR code).
        url: String,
        /// Where you are (decimal degrees), for the distance to the item's latest known place.
        #[arg(long, allow_hyphen_values = true)]
        lat: Option<f64>,
        #[arg(long, allow_hyphen_values = true)]
        lon: Option<f64>,
    },
    /// Transactions: show a receipt.
    #[command(subcommand)]
    Tx(cli::TxCommand),
    /// Blocks: show one.
    #[command(subcommand)]
    Block(cli::BlockCommand),
    /// Organisations: register, add or remove members, show, list.
    #[command(subcommand)]
    Org(cli::OrgCommand),
    /// Licences: issue, revoke, show.
    #[command(subcommand)]
    Licence(cli::LicenceCommand),
    /// Products: register, update, show.
    #[command(subcommand)]
    Product(cli::ProductCommand),
    /// Code-signing keys of a brand: register, revoke.
    #[command(subcommand)]
    CodeKey(cli::CodeKeyCommand),
    /// Code batches: issue a serial range under a licence, show.
    #[command(subcommand)]
    Batch(cli::BatchCommand),
    /// Channel grants of a brand: grant, revoke.
    #[command(subcommand)]
    Channel(items::ChannelCommand),
    /// An item's life by its printed code: events, sale, voiding, ownership tickets, stolen
    /// reports, scans, show.
    #[command(subcommand)]
    Item(items::ItemCommand),
    /// Product codes: issue signed codes with label sheets, check one offline.
    #[command(subcommand)]
    Codes(codes::CodesCommand),
    /// B2B: authorise suppliers for part types with their specifications, revoke.
    #[command(subcommand)]
    Supplier(b2b::SupplierCommand),
    /// B2B: a lot's technical record.
    #[command(subcommand)]
    Lot(b2b::LotCommand),
    /// B2B: pack codes onto an SSCC pallet.
    Pallet {
        #[arg(long)]
        org: String,
        #[arg(long)]
        sscc: jitrace_types::Sscc,
        /// The codes' URLs.
        #[arg(required = true)]
        codes: Vec<String>,
    },
    /// B2B: the receiving gate (receive or check parts) and its log.
    #[command(subcommand)]
    Gate(b2b::GateCommand),
    /// B2B: install parts into an item (--add), take them out (--remove), or both.
    Assemble {
        #[arg(long)]
        org: String,
        /// The item's code URL (commissioned by the assembly if new).
        #[arg(long)]
        parent: String,
        /// A part: GTIN:SERIAL or its URL (repeatable).
        #[arg(long)]
        add: Vec<String>,
        #[arg(long)]
        remove: Vec<String>,
    },
    /// B2B: an organisation's flows of goods: how many of its codes are in transit to it, in
    /// stock, held or installed (as holder) and where the codes it issued are (as issuer); with
    /// --role, a page of those codes.
    Flows {
        #[arg(long)]
        org: String,
        /// `holder` or `issuer`: list the codes in this role.
        #[arg(long)]
        role: Option<String>,
        /// Only codes in this status (`in_stock`, `installed`, ...).
        #[arg(long, requires = "role")]
        status: Option<String>,
        /// The cursor a previous page printed.
        #[arg(long, requires = "role")]
        after: Option<String>,
        /// Most codes (at most 1,000).
        #[arg(long, requires = "role")]
        limit: Option<usize>,
    },
    /// B2B: start, show or close a recall.
    #[command(subcommand)]
    Recall(b2b::RecallCommand),
    /// B2B: trace an item back to its parts and suppliers, or a lot forward to its items.
    #[command(subcommand)]
    Trace(b2b::TraceCommand),
    /// Measure this machine: signature verification and ledger execution over the state store.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(clap::Args)]
struct NetworkArgs {
    /// How many validators (n = 3f + 1 tolerates f faulty ones).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// How many observers (non-voting full nodes that serve reads).
    #[arg(long, default_value_t = 0)]
    observers: usize,
    /// The network's directory.
    #[arg(long = "dir", alias = "out", default_value = ".jitrace/testnet")]
    dir: PathBuf,
    /// The address nodes listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Node i serves HTTP on BASE+i and p2p on BASE+100+i.
    #[arg(long, default_value_t = 9000)]
    base_port: u16,
    /// The chain id (default: derived from the operator key).
    #[arg(long)]
    chain_id: Option<String>,
}

impl NetworkArgs {
    fn options(self) -> node::GenesisOptions {
        node::GenesisOptions {
            validators: self.validators,
            observers: self.observers,
            out: self.dir,
            host: self.host,
            base_port: self.base_port,
            chain_id: self.chain_id,
        }
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Sign transactions, then time their verification and their execution in blocks.
    Execute {
        /// How many transactions.
        #[arg(long, default_value_t = 20_000)]
        txs: usize,
        /// Transactions per block.
        #[arg(long, default_value_t = 1_000)]
        block_size: usize,
    },
    /// Run a local network of node processes and a load generator; report finalised tx/s and
    /// submit-to-finalised latency, beside this machine's single-core signature verification rate.
    Chain {
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Seconds of load.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Offered transactions per second (open loop); without it, as fast as the nodes admit.
        #[arg(long)]
        rate: Option<u64>,
        /// Signer accounts.
        #[arg(long, default_value_t = 256)]
        accounts: usize,
    },
    /// Sign COUNT product codes to CSV; compare with this machine's Ed25519 signing rate.
    Codes(codes::BenchCodesArgs),
    /// Trace queries over a large B2B history: ITEMS finished items of PARTS parts each, built in
    /// QMDB on disk; backward traces from random items, forward from a lot and a part type.
    Trace {
        #[arg(long, default_value_t = 100_000)]
        items: u64,
        #[arg(long, default_value_t = 50)]
        parts: u64,
        #[arg(long, default_value_t = 5_000)]
        lot_size: u64,
        #[arg(long, default_value_t = 1_000)]
        samples: usize,
    },
    /// Verdict requests per second against a running node (`jitrace dev`), beside a trivial
    /// endpoint of the same server in the same run.
    Verdict {
        /// A code's path or URL on that node (default: the sold demo code of `jitrace dev`).
        #[arg(long)]
        code: Option<String>,
        /// The dev node's data directory, to find the demo code.
        #[arg(long, default_value = ".jitrace/dev")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Also this many different codes of the same batch, each asked once (signed with the
        /// dev node's `keys/brand-code.key`); 0: skip.
        #[arg(long, default_value_t = 5_000)]
        distinct: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runs_node = matches!(cli.command, Command::Dev { .. } | Command::Node { .. });
    if runs_node {
        // A node with a dead actor is worse than a stopped one: any panic stops the process,
        // and a restart recovers from disk.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default_hook(info);
            std::process::exit(101);
        }));
    }
    let json = cli.global.json;
    init_logging(runs_node);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let body = serde_json::json!({ "error": format!("{e:#}") });
                println!("{body}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(node: bool) {
    let default = if node { "info,commonware=warn" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("JITRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Dev {
            data_dir,
            http,
            no_demo,
            cache_mib,
        } => node::run_dev(node::DevOptions {
            data_dir,
            http,
            demo: !no_demo,
            cache_mib,
        }),
        Command::ConsoleUser {
            data_dir,
            name,
            display_name,
            org,
            role,
            key_file,
        } => node::add_console_user(&node::ConsoleUserOptions {
            data_dir,
            name,
            display_name,
            org,
            role,
            key_file,
        }),
        Command::VerifyChain { data_dir } => {
            let report = verify::verify_chain(&data_dir, !global.json)?;
            verify::print(&report, global.json)
        }
        Command::Keys(command) => cli::keys(&global, command),
        Command::Codes(command) => codes::run(&global, command),
        Command::Bench(BenchCommand::Codes(args)) => codes::bench(&global, args),
        Command::Bench(BenchCommand::Verdict {
            code,
            data_dir,
            requests,
            concurrency,
            distinct,
        }) => {
            let code = match code {
                Some(code) => code,
                None => std::fs::read_to_string(data_dir.join("demo-codes.txt"))
                    .ok()
                    .and_then(|text| {
                        text.lines()
                            .find_map(|l| l.strip_prefix("sold").map(|p| p.trim().to_string()))
                    })
                    .ok_or_else(|| {
                        anyhow::anyhow!("no --code, and no demo codes in {}", data_dir.display())
                    })?,
            };
            let path = match code.find("/01/") {
                Some(i) => code[i..].to_string(),
                None => code,
            };
            let codes = if distinct == 0 {
                Vec::new()
            } else {
                bench::distinct_codes(&global.node, &data_dir, &path, distinct)?
            };
            let report = bench::verdict_bench(&global.node, &path, &codes, requests, concurrency)?;
            if !global.json {
                println!(
                    "command: jitrace bench verdict --requests {requests} --concurrency {concurrency} --distinct {distinct} (node {})",
                    global.node
                );
            }
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Genesis { network } => {
            let options = network.options();
            let nodes = node::write_network(&options)?;
            println!("wrote {}", options.out.join("genesis.toml").display());
            for (name, config) in nodes {
                println!("  {name:<14} jitrace node --config {}", config.display());
            }
            Ok(())
        }
        Command::Node { config } => node::run_configured(&config),
        Command::Testnet { network } => testnet::run(network.options()),
        Command::Bench(BenchCommand::Chain {
            validators,
            duration,
            rate,
            accounts,
        }) => {
            let report = bench::chain_bench(bench::ChainBenchOptions {
                validators,
                duration: std::time::Duration::from_secs(duration),
                rate,
                accounts,
            })?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let rate_arg = rate.map(|r| format!(" --rate {r}")).unwrap_or_default();
                println!(
                    "command: jitrace bench chain --validators {validators} --duration {duration}{rate_arg} --accounts {accounts}"
                );
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Trace {
            items,
            parts,
            lot_size,
            samples,
        }) => {
            let r = bench::trace_bench(items, parts, lot_size, samples)?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "command: jitrace bench trace --items {items} --parts {parts} --lot-size {lot_size} --samples {samples}"
                );
                println!(
                    "state: {} items x {} parts = {} part codes, built in {:.1} s",
                    r.items, r.parts_per_item, r.part_codes, r.build_seconds
                );
                println!(
                    "backward trace ({} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    r.back_samples, r.back_ms_p50, r.back_ms_p99, r.back_ms_max
                );
                println!(
                    "forward from a lot: {} items in {:.1} ms ({:.1} us per item)",
                    r.forward_lot_items, r.forward_lot_ms, r.forward_lot_us_per_item
                );
                println!(
                    "forward from a part type: {} items in {:.1} ms ({:.1} us per item)",
                    r.forward_product_items, r.forward_product_ms, r.forward_product_us_per_item
                );
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Execute { txs, block_size }) => {
            let report = bench::execute_bench(txs, block_size)?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("command: jitrace bench execute --txs {txs} --block-size {block_size}");
                println!(
                    "ed25519 verify, one by one, one core : {:>10.0} /s",
                    report.verify_per_sec_single_core
                );
                println!(
                    "ed25519 verify, batched, one core    : {:>10.0} /s",
                    report.batch_verify_per_sec_single_core
                );
                println!(
                    "ledger execution over QMDB (on disk) : {:>10.0} tx/s",
                    report.execute_per_sec
                );
                println!(
                    "per block of {block_size:<5}              : {:>10.1} ms",
                    report.per_block_ms
                );
                println!(
                    "product updates by 256 members, signatures verified at admission: {:>10.0} tx/s ({:.1} ms a block)",
                    report.update_per_sec, report.update_per_block_ms
                );
            }
            Ok(())
        }
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                match command {
                    Command::Status => cli::status(&global).await,
                    Command::Verify { url, lat, lon } => cli::verify(&global, &url, lat, lon).await,
                    Command::Tx(c) => cli::tx(&global, c).await,
                    Command::Block(c) => cli::block(&global, c).await,
                    Command::Org(c) => cli::org(&global, c).await,
                    Command::Licence(c) => cli::licence(&global, c).await,
                    Command::Product(c) => cli::product(&global, c).await,
                    Command::CodeKey(c) => cli::code_key(&global, c).await,
                    Command::Batch(c) => cli::batch(&global, c).await,
                    Command::Supplier(c) => b2b::supplier(&global, c).await,
                    Command::Lot(c) => b2b::lot(&global, c).await,
                    Command::Pallet { org, sscc, codes } => {
                        b2b::pallet(&global, org, sscc, codes).await
                    }
                    Command::Gate(c) => b2b::gate(&global, c).await,
                    Command::Assemble {
                        org,
                        parent,
                        add,
                        remove,
                    } => b2b::assemble(&global, org, parent, add, remove).await,
                    Command::Flows {
                        org,
                        role,
                        status,
                        after,
                        limit,
                    } => b2b::flows(&global, org, role, status, after, limit).await,
                    Command::Recall(c) => b2b::recall(&global, c).await,
                    Command::Trace(c) => b2b::trace(&global, c).await,
                    Command::Channel(c) => items::channel(&global, c).await,
                    Command::Item(c) => items::item(&global, c).await,
                    Command::Dev { .. }
                    | Command::Genesis { .. }
                    | Command::Node { .. }
                    | Command::Testnet { .. }
                    | Command::VerifyChain { .. }
                    | Command::ConsoleUser { .. }
                    | Command::Keys(_)
                    | Command::Codes(_)
                    | Command::Bench(_) => {
                        unreachable!("handled above")
                    }
                }
            })
        }
    }
}
