//! Generates the interface modules from every definition file in `definitions/`.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let definitions = Path::new(&manifest).join("definitions");
    // The directory itself, so that adding or removing a file regenerates too.
    println!("cargo::rerun-if-changed={}", definitions.display());
    if let Ok(entries) = std::fs::read_dir(&definitions) {
        for entry in entries.flatten() {
            println!("cargo::rerun-if-changed={}", entry.path().display());
        }
    }

    let interfaces = match septa_idl::parse_directory(&definitions) {
        Ok(interfaces) => interfaces,
        Err(diagnostic) => {
            // One `cargo::error` per line keeps the file, line and fix readable in cargo's output.
            for line in diagnostic.to_string().lines() {
                println!("cargo::error={line}");
            }
            std::process::exit(1);
        }
    };
    let source = septa_idl::generate(&interfaces);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("interfaces.rs"), source).expect("OUT_DIR is writable");
}
