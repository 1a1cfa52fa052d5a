//! Conventions that keep the workspace honest: every library opens with a `//!` purpose, and
//! crates depend only on the layers below them (the table in ARCHITECTURE.md).

use std::{collections::BTreeMap, path::Path};

/// Which internal crates each crate may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("jitrace-types", &[]),
    ("jitrace-ledger", &["jitrace-types"]),
    ("jitrace-store", &["jitrace-types"]),
    (
        "jitrace-chain",
        &["jitrace-types", "jitrace-ledger", "jitrace-store"],
    ),
    ("jitrace-client", &["jitrace-types"]),
    ("jitrace-console", &["jitrace-types"]),
    ("jitrace-labels", &[]),
    (
        "jitrace-api",
        &[
            "jitrace-console",
            "jitrace-types",
            "jitrace-ledger",
            "jitrace-store",
            "jitrace-chain",
            "jitrace-client",
            "jitrace-labels",
        ],
    ),
    (
        "jitrace",
        &[
            "jitrace-types",
            "jitrace-ledger",
            "jitrace-store",
            "jitrace-chain",
            "jitrace-client",
            "jitrace-api",
            "jitrace-console",
            "jitrace-labels",
        ],
    ),
];

/// Crates that must do no IO: no tokio, no filesystem or network crates.
const PURE: &[&str] = &["jitrace-types", "jitrace-ledger"];
const IO_CRATES: &[&str] = &[
    "tokio",
    "redb",
    "reqwest",
    "axum",
    "commonware-runtime",
    "commonware-storage",
];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// `[dependencies]` names of a crate's manifest (not dev-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let manifest =
        std::fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let value: toml::Value = toml::from_str(&manifest).unwrap();
    value
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_crate_is_in_the_layer_table_and_depends_downward_only() {
    let allowed: BTreeMap<_, _> = ALLOWED.iter().copied().collect();
    let crates: Vec<String> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for krate in &crates {
        let Some(ok) = allowed.get(krate.as_str()) else {
            panic!(
                "crate {krate} is missing from the layer table (tests/tidy.rs and ARCHITECTURE.md)"
            );
        };
        for dep in dependencies(krate)
            .iter()
            .filter(|d| d.starts_with("jitrace"))
        {
            assert!(
                ok.contains(&dep.as_str()),
                "{krate} must not depend on {dep} (see ARCHITECTURE.md)"
            );
        }
    }
    for krate in PURE {
        for dep in dependencies(krate) {
            assert!(
                !IO_CRATES.contains(&dep.as_str()),
                "pure crate {krate} depends on {dep}"
            );
        }
    }
}

#[test]
fn every_library_opens_with_a_purpose_line() {
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        for root in ["src/lib.rs", "src/main.rs"] {
            let path = dir.join(root);
            if let Ok(text) = std::fs::read_to_string(&path) {
                assert!(
                    text.starts_with("//! "),
                    "{} must open with a `//!` purpose line",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn architecture_names_every_crate() {
    let architecture = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    for (krate, _) in ALLOWED {
        assert!(
            architecture.contains(&format!("`{krate}`")),
            "ARCHITECTURE.md does not mention {krate}"
        );
    }
}
