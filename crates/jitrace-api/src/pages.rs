//! What is not JSON: the landing page, Prometheus metrics, and the JSON answers for unknown
//! routes and methods.

use crate::{ApiError, Shared};
use axum::{
    extract::State,
    http::{HeaderValue, Method, Uri, header},
    response::{Html, IntoResponse, Response},
};
use std::fmt::Write as _;

/// The landing page: what this is and where to go.
pub(crate) async fn index(State(api): State<Shared>) -> Html<String> {
    let chain_id = escape_html(&api.chain_id);
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jitrace API — {chain_id}</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #222; }}
  code {{ background: #f3f3f3; padding: 0 .25rem; border-radius: 3px; }}
  li {{ margin: .4rem 0; }}
</style>
</head>
<body>
<h1>Jitrace API</h1>
<p>This node serves the anti-counterfeiting and traceability chain <code>{chain_id}</code>.
Public data (organisations, licences, products, code batches, blocks) is readable by anyone;
changes are signed transactions submitted to <code>POST /v1/tx</code>.</p>
<ul>
  <li><a href="/docs">Interactive API documentation</a></li>
  <li><a href="/openapi.json">OpenAPI document</a> (<code>/openapi.json</code>)</li>
  <li><a href="/v1/status">Chain status</a> (<code>/v1/status</code>)</li>
  <li><a href="/v1/orgs">Organisations</a> (<code>/v1/orgs</code>)</li>
  <li><a href="/metrics">Metrics</a> (<code>/metrics</code>, Prometheus text format)</li>
</ul>
</body>
</html>
"#
    ))
}

pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How many peers the p2p network is connected to, from the engine's metrics.
pub(crate) fn connected_peers(engine_metrics: &str) -> u64 {
    engine_metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            let name = name.split('{').next()?;
            (name.ends_with(PEERS_METRIC)).then(|| value.trim().parse::<f64>().ok())?
        })
        .map(|v| v.max(0.0) as u64)
        .sum()
}

/// The engine's gauge of connected peers (the p2p router's).
const PEERS_METRIC: &str = "network_tracker_directory_reserved";

/// Prometheus metrics in the text exposition format: ours, then the engine's.
pub(crate) async fn metrics(State(api): State<Shared>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let tip = *api.tip.borrow();
    let engine = (api.engine_metrics)();
    let stats = &api.exec_stats;
    let gauges = [
        (
            "jitrace_height",
            "Height of the latest finalised block.",
            tip.map_or(0, |t| t.height),
        ),
        (
            "jitrace_finalized_height",
            "Height of the latest finalised block (the node serves finalised state only).",
            tip.map_or(0, |t| t.height),
        ),
        (
            "jitrace_view",
            "Consensus view (round) of the latest finalised block.",
            tip.map_or(0, |t| t.view),
        ),
        (
            "jitrace_peers",
            "Connected peers.",
            connected_peers(&engine),
        ),
        (
            "jitrace_blocks_executed_total",
            "Blocks executed (proposed or verified); with jitrace_block_execution_micros_total gives the mean execution time.",
            stats.blocks.load(Relaxed),
        ),
        (
            "jitrace_block_execution_micros_total",
            "Microseconds spent executing blocks.",
            stats.micros.load(Relaxed),
        ),
        (
            "jitrace_block_txs_executed_total",
            "Transactions executed in blocks (proposed or verified).",
            stats.txs.load(Relaxed),
        ),
        (
            "jitrace_block_signatures_checked_total",
            "Transaction signatures checked while executing blocks: those not already checked on admission to this node's mempool.",
            stats.signatures.load(Relaxed),
        ),
        (
            "jitrace_mempool_size",
            "Transactions waiting in the mempool.",
            u64::try_from(api.mempool.len()).unwrap_or(u64::MAX),
        ),
        (
            "jitrace_tx_total",
            "Transactions included in finalised blocks (rate() of it is tx/s).",
            tip.map_or(0, |t| t.tx_count),
        ),
    ];
    let mut text = String::new();
    for (name, help, value) in gauges {
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        );
    }
    text.push_str(&engine);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// Liveness: the node's HTTP server answers (load balancers and benchmarks use it).
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Unknown routes.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

/// Known routes, wrong method.
pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
