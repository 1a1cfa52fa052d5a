//! Helpers shared by the end-to-end tests of the binary.

use std::time::{Duration, Instant};

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
