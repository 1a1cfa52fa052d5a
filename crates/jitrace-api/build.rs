//! Rebuilds the crate when a file is added to or removed from the folders `assets.rs` embeds:
//! rust-embed tracks the files it found, not the folders.

fn main() {
    for dir in ["../../web/js", "../../web/vendor", "../../web/icons"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
