//! Linux's side of the bench: Debian's kernel and an initramfs whose `/init`
//! is the static benchmark program `bench/linux/bench.c`.
//!
//! Everything goes to `build/bench/`. The kernel package is fetched once with
//! `apt-get download` and kept; later runs reuse it (and work offline), unless
//! Debian has published a newer `linux-image-amd64`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::cpio::{self, Entry, Kind};

/// Debian's meta-package that depends on the current kernel package.
const META_PACKAGE: &str = "linux-image-amd64";
/// The C compiler and the static C library for the benchmark program.
const COMPILER: &str = "gcc";
const STATIC_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/libc.a";
const COMPILER_PACKAGES: [&str; 2] = ["gcc", "libc6-dev"];

/// What is booted for Linux.
#[derive(Clone, Debug)]
pub struct Linux {
    /// `build/bench/linux-image-…/vmlinuz-…`.
    pub kernel: PathBuf,
    /// `build/bench/linux/initramfs.cpio`.
    pub initramfs: PathBuf,
    /// The kernel's package and version, for example
    /// `linux-image-6.1.0-56-amd64 6.1.192-2`.
    pub package: String,
}

/// Compiles the program, fetches the kernel and packs the initramfs.
pub fn prepare(root: &Path, work: &Path) -> Result<Linux> {
    let program = build_program(root, &work.join("linux"))?;
    let initramfs = work.join("linux").join("initramfs.cpio");
    write_initramfs(&program, &initramfs)?;
    let package = fetch_kernel_package(work)?;
    let (name, version) = package_identity(&package)?;
    let kernel = extract_kernel(&package, &work.join(format!("{name}_{version}")))?;
    Ok(Linux {
        kernel,
        initramfs,
        package: format!("{name} {version}"),
    })
}

/// `gcc -static -O2 -pthread bench/linux/bench.c`, installing gcc and the
/// static glibc from Debian when missing. Always rebuilt: it takes a second.
fn build_program(root: &Path, output_directory: &Path) -> Result<PathBuf> {
    if crate::prerequisites::find_program(COMPILER).is_none()
        || !Path::new(STATIC_LIBRARY).is_file()
    {
        println!(
            "xtask: installing {} for the Linux benchmark program",
            COMPILER_PACKAGES.join(" ")
        );
        apt(&["update"])?;
        let mut arguments = vec!["install", "-y", "--no-install-recommends"];
        arguments.extend(COMPILER_PACKAGES);
        apt(&arguments)?;
    }
    std::fs::create_dir_all(output_directory)
        .with_context(|| format!("could not create {}", output_directory.display()))?;
    let source = root.join("bench").join("linux").join("bench.c");
    let program = output_directory.join("init");
    let status = Command::new(COMPILER)
        .args(["-static", "-O2", "-pthread", "-Wall", "-Wextra", "-o"])
        .arg(&program)
        .arg(&source)
        .status()
        .with_context(|| format!("could not run {COMPILER}"))?;
    if !status.success() {
        bail!("compiling {} failed ({status})", source.display());
    }
    Ok(program)
}

/// The newc archive: `/init` and the mount points and console it uses.
fn write_initramfs(program: &Path, output: &Path) -> Result<()> {
    let contents =
        std::fs::read(program).with_context(|| format!("could not read {}", program.display()))?;
    let directory = |path: &str, permissions| Entry {
        path: path.to_owned(),
        permissions,
        kind: Kind::Directory,
    };
    let archive = cpio::archive(&[
        directory("dev", 0o755),
        // The kernel opens /dev/console for init's standard streams; without
        // it init would run with none.
        Entry {
            path: "dev/console".to_owned(),
            permissions: 0o600,
            kind: Kind::CharacterDevice { major: 5, minor: 1 },
        },
        directory("proc", 0o555),
        directory("sys", 0o555),
        Entry {
            path: "init".to_owned(),
            permissions: 0o755,
            kind: Kind::File { contents },
        },
    ]);
    std::fs::write(output, archive).with_context(|| format!("could not write {}", output.display()))
}

/// The `.deb` of the kernel that `linux-image-amd64` currently depends on, in
/// `work`: downloaded unless already there. When apt cannot say which kernel
/// is current (no package lists, no network), the newest cached one is used.
fn fetch_kernel_package(work: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(work)
        .with_context(|| format!("could not create {}", work.display()))?;
    let kernel_package = match current_kernel_package() {
        Ok(name) => name,
        Err(error) => {
            if let Some(cached) = newest_cached_package(work, "linux-image-")? {
                println!("xtask: {error:#}; using the cached {}", cached.display());
                return Ok(cached);
            }
            return Err(error);
        }
    };
    let prefix = format!("{kernel_package}_");
    if let Some(cached) = newest_cached_package(work, &prefix)? {
        return Ok(cached);
    }
    println!(
        "xtask: downloading {kernel_package} into {}",
        work.display()
    );
    let status = Command::new("apt-get")
        // Root's download into a directory the _apt user cannot write to:
        // tell apt not to drop privileges, rather than warn about it.
        .args(["-o", "APT::Sandbox::User=root", "download", &kernel_package])
        .current_dir(work)
        .stdin(Stdio::null())
        .status()
        .context("could not run apt-get download")?;
    if !status.success() {
        bail!("`apt-get download {kernel_package}` failed ({status})");
    }
    newest_cached_package(work, &prefix)?.with_context(|| {
        format!(
            "apt-get download {kernel_package} left no .deb in {}",
            work.display()
        )
    })
}

/// `linux-image-<abi>-amd64`: what `linux-image-amd64` depends on, updating
/// the package lists once if apt does not know it yet.
fn current_kernel_package() -> Result<String> {
    if let Some(name) = kernel_dependency()? {
        return Ok(name);
    }
    println!("xtask: apt does not know {META_PACKAGE}; running apt-get update");
    apt(&["update"])?;
    kernel_dependency()?.with_context(|| format!("apt knows no package {META_PACKAGE}"))
}

fn kernel_dependency() -> Result<Option<String>> {
    let output = Command::new("apt-cache")
        .args(["depends", META_PACKAGE])
        .stderr(Stdio::null())
        .output()
        .context("could not run apt-cache")?;
    Ok(parse_kernel_dependency(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

/// Reads `apt-cache depends linux-image-amd64`:
///
/// ```text
/// linux-image-amd64
///   Depends: linux-image-6.1.0-56-amd64
/// ```
fn parse_kernel_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|name| name.starts_with("linux-image-") && !name.starts_with('<'))
        .map(str::to_owned)
}

/// The most recently written `.deb` in `directory` whose name starts with
/// `prefix`.
fn newest_cached_package(directory: &Path, prefix: &str) -> Result<Option<PathBuf>> {
    newest_file(directory, prefix, ".deb")
}

/// The most recently written file of `directory` named `<prefix>…<suffix>`
/// (by name when times are equal). Modification time rather than name order,
/// because kernel ABI numbers do not sort as text (`-9` after `-56`).
fn newest_file(directory: &Path, prefix: &str, suffix: &str) -> Result<Option<PathBuf>> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(directory)
        .with_context(|| format!("could not read {}", directory.display()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(prefix) && name.ends_with(suffix))
        })
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    found.sort();
    Ok(found.pop().map(|(_, path)| path))
}

/// The package name and version recorded in a `.deb`.
fn package_identity(package: &Path) -> Result<(String, String)> {
    let output = Command::new("dpkg-deb")
        .arg("--field")
        .arg(package)
        .args(["Package", "Version"])
        .output()
        .context("could not run dpkg-deb")?;
    if !output.status.success() {
        bail!(
            "`dpkg-deb --field {}` failed ({})",
            package.display(),
            output.status
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |key: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(key)?
                    .strip_prefix(':')
                    .map(|value| value.trim().to_owned())
            })
            .with_context(|| format!("{} has no {key} field", package.display()))
    };
    Ok((field("Package")?, field("Version")?))
}

/// `/boot/vmlinuz-*` from the package, into `directory` (once).
///
/// Only that file is taken out of the package's data archive: `dpkg-deb -x`
/// would also unpack some 400 MB of modules that the initramfs does not use.
fn extract_kernel(package: &Path, directory: &Path) -> Result<PathBuf> {
    if let Some(kernel) = find_kernel(directory)? {
        return Ok(kernel);
    }
    std::fs::create_dir_all(directory)
        .with_context(|| format!("could not create {}", directory.display()))?;
    let mut unpack = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(package)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not run dpkg-deb")?;
    let archive = unpack.stdout.take().context("dpkg-deb has no output")?;
    let status = Command::new("tar")
        .args([
            "--extract",
            "--wildcards",
            "--no-same-owner",
            "--strip-components=2",
            "./boot/vmlinuz-*",
        ])
        .current_dir(directory)
        .stdin(archive)
        .status()
        .context("could not run tar")?;
    let unpacked = unpack.wait().context("could not wait for dpkg-deb")?;
    if !status.success() || !unpacked.success() {
        bail!(
            "could not extract /boot/vmlinuz-* from {} (tar: {status}, dpkg-deb: {unpacked})",
            package.display()
        );
    }
    find_kernel(directory)?
        .with_context(|| format!("{} holds no /boot/vmlinuz-*", package.display()))
}

fn find_kernel(directory: &Path) -> Result<Option<PathBuf>> {
    if !directory.is_dir() {
        return Ok(None);
    }
    newest_file(directory, "vmlinuz-", "")
}

fn apt(arguments: &[&str]) -> Result<()> {
    crate::prerequisites::run_apt(arguments).context("run it by hand as root")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_dependency() {
        let text = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(
            parse_kernel_dependency(text).as_deref(),
            Some("linux-image-6.1.0-56-amd64")
        );
        // A virtual package is shown in angle brackets; it cannot be downloaded.
        assert_eq!(
            parse_kernel_dependency("linux-image-amd64\n  Depends: <linux-image-x>\n"),
            None
        );
        assert_eq!(parse_kernel_dependency(""), None);
    }

    #[test]
    fn picks_the_newest_cached_package() {
        let directory =
            std::env::temp_dir().join(format!("xtask-bench-cache-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        for (seconds, name) in [
            (3, "linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"),
            (1, "linux-image-6.1.0-9-amd64_6.1.20-1_amd64.deb"),
            (2, "linux-image-6.1.0-55-amd64_6.1.190-1_amd64.deb"),
            (4, "linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb.partial"),
            (5, "other_1_amd64.deb"),
        ] {
            let file = std::fs::File::create(directory.join(name)).unwrap();
            file.set_modified(epoch + std::time::Duration::from_secs(seconds))
                .unwrap();
        }
        let newest = newest_cached_package(&directory, "linux-image-")
            .unwrap()
            .unwrap();
        let exact = newest_cached_package(&directory, "linux-image-6.1.0-9-amd64_")
            .unwrap()
            .unwrap();
        let none = newest_cached_package(&directory, "linux-image-7").unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        assert!(newest.ends_with("linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"));
        assert!(exact.ends_with("linux-image-6.1.0-9-amd64_6.1.20-1_amd64.deb"));
        assert_eq!(none, None);
    }
}
