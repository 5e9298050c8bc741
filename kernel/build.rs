//! Links the kernel with its architecture's linker script as a fixed-address (non-PIE) ELF.

fn main() {
    let architecture = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let script = format!(
        "{}/src/arch/{architecture}/linker.ld",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::path::Path::new(&script).exists() {
        println!("cargo:rustc-link-arg-bins=-T{script}");
        println!("cargo:rustc-link-arg-bins=--no-pie");
        println!("cargo:rerun-if-changed={script}");
    }
}
