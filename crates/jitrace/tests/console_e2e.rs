//! The PC console in a real browser against the real binary (`jitrace dev`): sign-in with a
//! wrong password and a lock-out, the platform admin creating an organisation with its first
//! user, issuing and revoking licences, the paged, filtered and sorted organisation table, the
//! explorer, the node screen, the language switch, and the new user signing in on a phone.
//! The browser is driven by `web/e2e/console.mjs` (playwright-core with Debian's Chromium);
//! screenshots go to `$JITRACE_SCREENSHOTS` when set (README's `docs/screenshots/console-*`
//! are made so), else to a temporary directory. The ledger is then checked through the API.

mod common;

use common::{
    console_password as password, free_addr, run_browser_script, screenshots_dir, start, wait_demo,
};
use jitrace_client::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_console_platform_screens_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let node = start(&data_dir, &free_addr());
    let client = Client::new(&node.url);
    wait_demo(&client, &data_dir).await;
    common::eventually(
        "the console users",
        std::time::Duration::from_secs(30),
        || async { data_dir.join("console-admin.txt").exists() },
    )
    .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data_dir.join("console-admin.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "console-admin.txt is readable by others"
        );
    }
    // The store holds no password and no key in the clear.
    let store = std::fs::read(data_dir.join("console.redb")).unwrap();
    let admin_password = password(&data_dir, "admin");
    assert!(
        !store
            .windows(admin_password.len())
            .any(|w| w == admin_password.as_bytes())
    );
    let operator_seed = hex::decode(
        std::fs::read_to_string(data_dir.join("keys/operator.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert!(!store.windows(32).any(|w| w == operator_seed.as_slice()));

    let screenshots = screenshots_dir(tmp.path());
    let lock_password = password(&data_dir, "retailer-admin");
    let result = run_browser_script(
        "e2e/console.mjs",
        vec![
            ("NODE_URL", node.url.clone()),
            ("ADMIN_PASSWORD", admin_password),
            ("LOCK_USER", "retailer-admin".into()),
            ("LOCK_PASSWORD", lock_password),
            ("SCREENSHOTS", screenshots.display().to_string()),
        ],
    )
    .await;

    // The ledger agrees with what the console showed: the organisation exists with the new
    // user's key as its member and the licence, issued by the platform admin's key.
    let org = client.org(result["org"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        org.members,
        vec![result["key"].as_str().unwrap().to_string()]
    );
    let licence = result["licence"].as_str().unwrap();
    assert!(org.licences.iter().any(|l| l == licence), "{org:?}");
    let tx = client
        .tx(&jitrace_types::Hash::from_hex(result["tx"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    let operator = jitrace_types::SecretKey::from_hex(
        std::fs::read_to_string(data_dir.join("keys/operator.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(tx.signer, Some(operator.public_key().to_hex()));
    assert_eq!(tx.kind.as_deref(), Some("register_org"));
    drop(node);
}

#[test]
fn console_user_command_seals_the_key_file_for_a_new_user() {
    let tmp = tempfile::tempdir().unwrap();
    let key = jitrace_types::SecretKey::generate();
    let key_file = tmp.path().join("operator.key");
    std::fs::write(&key_file, key.to_hex()).unwrap();
    let data_dir = tmp.path().join("node");
    let run = |password: Option<&str>, name: &str| {
        let mut command = std::process::Command::new(common::BIN);
        command
            .args(["console-user", "--data-dir"])
            .arg(&data_dir)
            .args([
                "--name",
                name,
                "--display-name",
                "Ops",
                "--org",
                "platform",
                "--key-file",
            ])
            .arg(&key_file)
            .env_remove("JITRACE_CONSOLE_PASSWORD");
        if let Some(password) = password {
            command.env("JITRACE_CONSOLE_PASSWORD", password);
        }
        command.output().unwrap()
    };
    let missing = run(None, "ops");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("JITRACE_CONSOLE_PASSWORD"));
    let added = run(Some("a long password"), "ops");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(
        !run(Some("a long password"), "ops").status.success(),
        "a second ops"
    );
    let console = jitrace_console::Console::open(&data_dir.join("console.redb")).unwrap();
    let signed = console.sign_in("ops", "a long password", 1).unwrap();
    assert_eq!(signed.session.key.public_key(), key.public_key());
}
