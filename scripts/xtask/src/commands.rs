//! `build`, `image` and `run`: compile the bare-metal binaries, pack a system
//! image, and boot it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::architecture::{Architecture, KernelFormat};
use crate::qemu::{self, Accelerator, Boot, Ending};
use crate::workspace::{self, KERNEL_PACKAGE, Workspace};

/// `cargo build --release --target <triple>` of the kernel and of every
/// entity package; returns the built binaries.
pub fn build(workspace: &Workspace, architecture: Architecture) -> Result<Vec<PathBuf>> {
    let packages = workspace.bare_metal_packages();
    if !packages
        .iter()
        .any(|package| package.name == KERNEL_PACKAGE)
    {
        bail!("the workspace has no {KERNEL_PACKAGE} package");
    }
    let mut command = workspace::cargo(&workspace.root);
    command.args([
        "build",
        "--release",
        "--target",
        architecture.kernel_target(),
    ]);
    for package in &packages {
        command.args(["--package", &package.name]);
    }
    println!("xtask: {}", qemu::describe_command(&command));
    let status = command.status().context("could not run cargo build")?;
    if !status.success() {
        bail!("cargo build of the kernel and the entities for {architecture} failed ({status})");
    }
    if architecture.kernel_format() == KernelFormat::Arm64Image {
        let boot_file = workspace.kernel_boot_file(architecture);
        crate::kernel_image::write(&workspace.kernel_binary(architecture), &boot_file)?;
        println!(
            "xtask: wrote {}",
            relative(&workspace.root, &boot_file).display()
        );
    }
    let mut binaries = build_std_entities(workspace, architecture)?;
    for package in &packages {
        for binary in &package.binaries {
            let path = workspace.binary_directory(architecture).join(binary);
            if !path.is_file() {
                bail!("cargo build succeeded but {} is missing", path.display());
            }
            println!(
                "xtask: built {}",
                relative(&workspace.root, &path).display()
            );
            binaries.push(path);
        }
    }
    Ok(binaries)
}

/// Builds the std entities (system servers written as Rust std programs, such as the file
/// VFS) for `<arch>-unknown-linux-musl` against the sysroot, which is built first; returns
/// their binaries.
fn build_std_entities(workspace: &Workspace, architecture: Architecture) -> Result<Vec<PathBuf>> {
    let packages: Vec<_> = workspace.std_entities().collect();
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let sysroot = crate::sysroot::build(workspace, architecture)?;
    let mut command = workspace::cargo(&workspace.root);
    command
        .args([
            "build",
            "--release",
            "--target",
            crate::sysroot::user_target(architecture),
        ])
        .env("CARGO_TARGET_DIR", workspace.std_target_directory())
        .env(
            "RUSTFLAGS",
            crate::sysroot::rust_flags(&sysroot, architecture).join(" "),
        );
    for package in &packages {
        command.args(["--package", &package.name]);
    }
    println!("xtask: {}", qemu::describe_command(&command));
    let status = command.status().context("could not run cargo build")?;
    if !status.success() {
        bail!("cargo build of the std entities for {architecture} failed ({status})");
    }
    let mut binaries = Vec::new();
    for package in packages {
        for binary in &package.binaries {
            let path = workspace.std_binary_directory(architecture).join(binary);
            if !path.is_file() {
                bail!("cargo build succeeded but {} is missing", path.display());
            }
            println!(
                "xtask: built {}",
                relative(&workspace.root, &path).display()
            );
            binaries.push(path);
        }
    }
    Ok(binaries)
}

/// The description of `system`: `systems/<system>.toml`.
pub fn system_description(workspace: &Workspace, system: &str) -> Result<PathBuf> {
    let path = workspace.systems_directory().join(format!("{system}.toml"));
    if path.is_file() {
        return Ok(path);
    }
    let known = system_names(workspace).unwrap_or_default();
    let known = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    bail!(
        "there is no system {system:?}: {} does not exist (systems: {known})",
        path.display()
    )
}

/// The names of the systems in `systems/`, sorted.
pub fn system_names(workspace: &Workspace) -> Result<Vec<String>> {
    let directory = workspace.systems_directory();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&directory)
        .with_context(|| format!("could not read {}", directory.display()))?
    {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && let Some(stem) = path.file_stem()
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The image of `system`: `build/<arch>/<system>.img`.
pub fn image_path(workspace: &Workspace, architecture: Architecture, system: &str) -> PathBuf {
    workspace
        .output_directory(architecture)
        .join(format!("{system}.img"))
}

/// The console log of the last boot of `system`: `build/<arch>/<system>.log`.
pub fn log_path(workspace: &Workspace, architecture: Architecture, system: &str) -> PathBuf {
    workspace
        .output_directory(architecture)
        .join(format!("{system}.log"))
}

/// Packs the image of `system` from the binaries already built, writes it to
/// `build/<arch>/<system>.img` and prints the image tool's summary.
///
/// The image tool resolves each binary that the description names through
/// the resolver: only entity binaries built for `architecture` are offered.
pub fn image(workspace: &Workspace, architecture: Architecture, system: &str) -> Result<PathBuf> {
    let description = system_description(workspace, system)?;
    pack(workspace, architecture, &description, system)
}

/// Packs the description at `description` (whose system is named `system`) into
/// `build/<arch>/<system>.img`, as [`image`] does for a description in `systems/`.
pub fn pack(
    workspace: &Workspace,
    architecture: Architecture,
    description: &Path,
    system: &str,
) -> Result<PathBuf> {
    let description = description.to_path_buf();
    let interfaces = workspace.interfaces_directory();
    let directory = description
        .parent()
        .map_or_else(|| workspace.root.clone(), Path::to_path_buf);
    let resolve = |binary: septa_image::Binary<'_>| match binary {
        septa_image::Binary::Crate(name) => workspace.entity_binary(architecture, name),
        septa_image::Binary::Program(path) => {
            let path = directory.join(path.replace("{arch}", architecture.name()));
            path.is_file().then_some(path)
        }
    };
    let built = septa_image::build(&description, &interfaces, &resolve)
        .map_err(|diagnostic| anyhow!("the image tool rejected system {system}:\n{diagnostic}"))?;
    let output = image_path(workspace, architecture, system);
    if let Some(directory) = output.parent() {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("could not create {}", directory.display()))?;
    }
    std::fs::write(&output, &built.bytes)
        .with_context(|| format!("could not write {}", output.display()))?;
    print!("{}", built.summary);
    if !built.summary.is_empty() && !built.summary.ends_with('\n') {
        println!();
    }
    println!(
        "xtask: wrote {} ({} bytes)",
        relative(&workspace.root, &output).display(),
        built.bytes.len()
    );
    Ok(output)
}

/// What a boot does with a system's disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskUse {
    /// Start from a new disk (blank, or freshly formatted with `disk_format`).
    Fresh,
    /// Keep the disk of the boots before, making it only when missing or of another size:
    /// what a file system wrote and flushed is there again.
    Keep,
}

/// Boots an image already built, with its console log in
/// `build/<arch>/<system>.log`. A system whose description in `systems/`
/// says `[system] disk = <size>` boots with a disk of that size,
/// `build/<arch>/<system>-disk.img`, as a virtio block device: blank, or FAT32 with
/// `disk_format = "fat32"`, made anew or kept as `disk_use` says.
pub fn boot(
    workspace: &Workspace,
    architecture: Architecture,
    system: &str,
    accelerator: Accelerator,
    timeout: Duration,
    interactive: bool,
    disk_use: DiskUse,
) -> Result<qemu::Outcome> {
    let kernel = workspace.kernel_boot_file(architecture);
    let image = image_path(workspace, architecture, system);
    qemu::require_file(&kernel, "the kernel")?;
    qemu::require_file(&image, "the image")?;
    let log = log_path(workspace, architecture, system);
    let mut extra_arguments = Vec::new();
    let description = workspace.systems_directory().join(format!("{system}.toml"));
    if description.is_file() {
        let text = std::fs::read_to_string(&description)
            .with_context(|| format!("could not read {}", description.display()))?;
        let size = qemu::disk_size(&text)
            .with_context(|| format!("in {}", relative(&workspace.root, &description).display()))?;
        if let Some(size) = size {
            let disk = workspace
                .output_directory(architecture)
                .join(format!("{system}-disk.img"));
            let kept = disk_use == DiskUse::Keep
                && std::fs::metadata(&disk).is_ok_and(|metadata| metadata.len() == size);
            if !kept {
                qemu::blank_disk(&disk, size)?;
                if qemu::disk_is_fat(&text)? {
                    qemu::format_fat(&disk)?;
                }
            }
            extra_arguments = qemu::disk_arguments(&disk);
        }
    }
    let outcome = qemu::boot(&Boot {
        architecture,
        accelerator,
        kernel,
        initrd: Some(image),
        extra_arguments,
        timeout,
        log: log.clone(),
        interactive,
    })?;
    println!(
        "xtask: system {system}: {} after {:.1} s (console log: {})",
        outcome.ending.describe(),
        outcome.elapsed.as_secs_f64(),
        relative(&workspace.root, &log).display()
    );
    Ok(outcome)
}

/// `run`: build, pack and boot `system`; returns the system's exit status.
pub fn run(
    workspace: &Workspace,
    architecture: Architecture,
    system: &str,
    accelerator: Accelerator,
    timeout: Duration,
) -> Result<i32> {
    system_description(workspace, system)?;
    build(workspace, architecture)?;
    image(workspace, architecture, system)?;
    let outcome = boot(
        workspace,
        architecture,
        system,
        accelerator,
        timeout,
        true,
        DiskUse::Keep,
    )?;
    if let Ending::QemuFailed { .. } | Ending::Killed { .. } = outcome.ending {
        bail!("system {system} did not run: {}", outcome.ending.describe());
    }
    Ok(outcome.ending.status())
}

/// `path` relative to `root` when it is inside it, for shorter messages.
pub fn relative<'a>(root: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(root).unwrap_or(path)
}
