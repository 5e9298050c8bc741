//! Linux's side of the bench: Debian's kernel and an initramfs whose `/init`
//! is the static benchmark program `bench/linux/bench.c`, for each
//! architecture ([`Baseline`]), with the POSIX program beside it as
//! `/posix-bench` (built by [`super::posix`]) when it could be built.
//!
//! Kernel packages go to `build/bench/`, fetched once with `apt-get download`
//! and kept; later runs reuse them (and work offline), unless Debian has
//! published a newer kernel. A kernel of another Debian architecture than the
//! host's (arm64 on an amd64 host) needs that architecture added to dpkg,
//! which is done the first time it is needed. The program and its initramfs
//! go to `build/bench/<arch>/linux/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::cpio::{self, Entry, Kind};
use crate::architecture::Architecture;
use crate::qemu::Ending;

/// What differs between the architectures' Linux baselines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Baseline {
    /// Debian's name of the architecture: `amd64`, `arm64`.
    pub debian_architecture: &'static str,
    /// Debian's meta-package that depends on the current kernel package.
    pub meta_package: &'static str,
    /// The C compiler for the benchmark program, and the static C library
    /// it links against.
    pub compiler: &'static str,
    pub static_library: &'static str,
    /// The Debian packages that provide both.
    pub compiler_packages: [&'static str; 2],
    /// The serial console's device, for `console=`.
    pub console: &'static str,
    /// The clock source the figures must be timed by: a cycle counter that
    /// QEMU drives from its virtual clock, so that under icount it counts
    /// instructions. Checked as a prefix (`tsc-early` becomes `tsc`).
    pub clock_source: &'static str,
    /// How QEMU ends when the program powers off after a good run.
    pub powered_off: Ending,
    /// The two instructions of the program's calibration loop.
    pub loop_instructions: &'static str,
}

/// The Linux baseline of `architecture`.
pub fn baseline(architecture: Architecture) -> Baseline {
    match architecture {
        Architecture::X86_64 => Baseline {
            debian_architecture: "amd64",
            meta_package: "linux-image-amd64",
            compiler: "gcc",
            static_library: "/usr/lib/x86_64-linux-gnu/libc.a",
            compiler_packages: ["gcc", "libc6-dev"],
            console: "ttyS0",
            clock_source: "tsc",
            // The program writes its status to the isa-debug-exit port.
            powered_off: Ending::PoweredOff { status: 0 },
            loop_instructions: "dec; jnz",
        },
        Architecture::Aarch64 => Baseline {
            debian_architecture: "arm64",
            meta_package: "linux-image-arm64",
            compiler: "aarch64-linux-gnu-gcc",
            static_library: "/usr/aarch64-linux-gnu/lib/libc.a",
            compiler_packages: ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
            console: "ttyAMA0",
            clock_source: "arch_sys_counter",
            // User space cannot reach the semihosting exit (QEMU honours it
            // from EL1 only), so the program powers off through PSCI
            // SYSTEM_OFF, and QEMU exits with 0, as it does for a reset: the
            // console says whether the run succeeded.
            powered_off: Ending::Reset,
            loop_instructions: "subs; b.ne",
        },
    }
}

/// What is booted for Linux.
#[derive(Clone, Debug)]
pub struct Linux {
    /// `build/bench/linux-image-…/vmlinuz-…`.
    pub kernel: PathBuf,
    /// `build/bench/<arch>/linux/initramfs.cpio`.
    pub initramfs: PathBuf,
    /// The kernel's package and version, for example
    /// `linux-image-6.1.0-56-amd64 6.1.192-2`.
    pub package: String,
}

/// Compiles the program into `output` (`build/bench/<arch>/linux/`), packs
/// the initramfs there with `posix_program` if there is one, and fetches the
/// kernel into `packages` (`build/bench/`).
pub fn prepare(
    root: &Path,
    baseline: &Baseline,
    output: &Path,
    packages: &Path,
    posix_program: Option<&Path>,
) -> Result<Linux> {
    let program = build_program(root, baseline, output)?;
    let initramfs = output.join("initramfs.cpio");
    write_initramfs(&program, posix_program, &initramfs)?;
    let package = fetch_kernel_package(baseline, packages)?;
    let (name, version) = package_identity(&package)?;
    let kernel = extract_kernel(&package, &packages.join(format!("{name}_{version}")))?;
    Ok(Linux {
        kernel,
        initramfs,
        package: format!("{name} {version}"),
    })
}

/// `gcc -static -O2 -pthread bench/linux/bench.c` (or the architecture's
/// cross compiler), installing the compiler and the static glibc from Debian
/// when missing. Always rebuilt: it takes a second.
fn build_program(root: &Path, baseline: &Baseline, output_directory: &Path) -> Result<PathBuf> {
    let compiler = baseline.compiler;
    if crate::prerequisites::find_program(compiler).is_none()
        || !Path::new(baseline.static_library).is_file()
    {
        println!(
            "xtask: installing {} for the Linux benchmark program",
            baseline.compiler_packages.join(" ")
        );
        apt(&["update"])?;
        let mut arguments = vec!["install", "-y", "--no-install-recommends"];
        arguments.extend(baseline.compiler_packages);
        apt(&arguments)?;
    }
    std::fs::create_dir_all(output_directory)
        .with_context(|| format!("could not create {}", output_directory.display()))?;
    let source = root.join("bench").join("linux").join("bench.c");
    let program = output_directory.join("init");
    let status = Command::new(compiler)
        .args(["-static", "-O2", "-pthread", "-Wall", "-Wextra", "-o"])
        .arg(&program)
        .arg(&source)
        .status()
        .with_context(|| format!("could not run {compiler}"))?;
    if !status.success() {
        bail!("compiling {} failed ({status})", source.display());
    }
    Ok(program)
}

/// The newc archive: `/init` and the mount points and console it uses, and
/// the POSIX program that `/init` runs, if given.
fn write_initramfs(program: &Path, posix_program: Option<&Path>, output: &Path) -> Result<()> {
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("could not read {}", path.display()))
    };
    let contents = read(program)?;
    let directory = |path: &str, permissions| Entry {
        path: path.to_owned(),
        permissions,
        kind: Kind::Directory,
    };
    let mut entries = vec![
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
    ];
    if let Some(posix_program) = posix_program {
        entries.push(Entry {
            path: super::posix::INITRAMFS_PATH.to_owned(),
            permissions: 0o755,
            kind: Kind::File {
                contents: read(posix_program)?,
            },
        });
    }
    let archive = cpio::archive(&entries);
    std::fs::write(output, archive).with_context(|| format!("could not write {}", output.display()))
}

/// The `.deb` of the kernel that the baseline's meta-package currently
/// depends on, in `work`: downloaded unless already there. When apt cannot
/// say which kernel is current (no package lists, no network), the newest
/// cached one of the architecture is used.
fn fetch_kernel_package(baseline: &Baseline, work: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(work)
        .with_context(|| format!("could not create {}", work.display()))?;
    let architecture = baseline.debian_architecture;
    let kernel_package = match current_kernel_package(baseline) {
        Ok(name) => name,
        Err(error) => {
            if let Some(cached) = newest_cached_package(work, "linux-image-", architecture)? {
                println!("xtask: {error:#}; using the cached {}", cached.display());
                return Ok(cached);
            }
            return Err(error);
        }
    };
    let prefix = format!("{kernel_package}_");
    if let Some(cached) = newest_cached_package(work, &prefix, architecture)? {
        return Ok(cached);
    }
    println!(
        "xtask: downloading {kernel_package} ({architecture}) into {}",
        work.display()
    );
    let qualified = format!("{kernel_package}:{architecture}");
    let status = Command::new("apt-get")
        // Root's download into a directory the _apt user cannot write to:
        // tell apt not to drop privileges, rather than warn about it.
        .args(["-o", "APT::Sandbox::User=root", "download", &qualified])
        .current_dir(work)
        .stdin(Stdio::null())
        .status()
        .context("could not run apt-get download")?;
    if !status.success() {
        bail!("`apt-get download {qualified}` failed ({status})");
    }
    newest_cached_package(work, &prefix, architecture)?.with_context(|| {
        format!(
            "apt-get download {qualified} left no .deb in {}",
            work.display()
        )
    })
}

/// `linux-image-<abi>-<arch>`: what the meta-package depends on. If apt does
/// not know it yet, the Debian architecture is added to dpkg when it is
/// neither the host's nor already added, and the package lists are updated.
fn current_kernel_package(baseline: &Baseline) -> Result<String> {
    if let Some(name) = kernel_dependency(baseline)? {
        return Ok(name);
    }
    let architecture = baseline.debian_architecture;
    if !dpkg_knows_architecture(architecture)? {
        println!(
            "xtask: adding the Debian architecture {architecture} to dpkg for {}",
            baseline.meta_package
        );
        let status = Command::new("dpkg")
            .args(["--add-architecture", architecture])
            .status()
            .context("could not run dpkg")?;
        if !status.success() {
            bail!(
                "`dpkg --add-architecture {architecture}` failed ({status}); run it by hand as root"
            );
        }
    }
    println!(
        "xtask: apt does not know {}:{architecture}; running apt-get update",
        baseline.meta_package
    );
    apt(&["update"])?;
    kernel_dependency(baseline)?.with_context(|| {
        format!(
            "apt knows no package {}:{architecture}",
            baseline.meta_package
        )
    })
}

/// Whether dpkg installs packages of `architecture`: the host's own, or one
/// added with `dpkg --add-architecture`.
fn dpkg_knows_architecture(architecture: &str) -> Result<bool> {
    let mut known = Vec::new();
    for option in ["--print-architecture", "--print-foreign-architectures"] {
        let output = Command::new("dpkg")
            .arg(option)
            .output()
            .context("could not run dpkg")?;
        known.extend(
            String::from_utf8_lossy(&output.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    Ok(known.iter().any(|known| known == architecture))
}

fn kernel_dependency(baseline: &Baseline) -> Result<Option<String>> {
    let output = Command::new("apt-cache")
        .arg("depends")
        .arg(format!(
            "{}:{}",
            baseline.meta_package, baseline.debian_architecture
        ))
        .stderr(Stdio::null())
        .output()
        .context("could not run apt-cache")?;
    Ok(parse_kernel_dependency(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

/// Reads `apt-cache depends linux-image-<arch>:<arch>`, without the
/// architecture apt appends to the names of a foreign architecture's packages:
///
/// ```text
/// linux-image-arm64:arm64
///   Depends: linux-image-6.1.0-56-arm64:arm64
/// ```
fn parse_kernel_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|name| name.starts_with("linux-image-") && !name.starts_with('<'))
        .map(|name| name.split_once(':').map_or(name, |(name, _)| name))
        .map(str::to_owned)
}

/// The most recently written `.deb` of the Debian `architecture` in
/// `directory` whose name starts with `prefix` (`<name>_<version>_<arch>.deb`).
fn newest_cached_package(
    directory: &Path,
    prefix: &str,
    architecture: &str,
) -> Result<Option<PathBuf>> {
    newest_file(directory, prefix, &format!("_{architecture}.deb"))
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
        // A foreign architecture's packages are named with it.
        let text = "linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-56-arm64:arm64\n";
        assert_eq!(
            parse_kernel_dependency(text).as_deref(),
            Some("linux-image-6.1.0-56-arm64")
        );
        // A virtual package is shown in angle brackets; it cannot be downloaded.
        assert_eq!(
            parse_kernel_dependency("linux-image-amd64\n  Depends: <linux-image-x>\n"),
            None
        );
        assert_eq!(parse_kernel_dependency(""), None);
    }

    #[test]
    fn every_architecture_has_a_baseline() {
        let x86_64 = baseline(Architecture::X86_64);
        let aarch64 = baseline(Architecture::Aarch64);
        assert_eq!(
            (x86_64.debian_architecture, x86_64.meta_package),
            ("amd64", "linux-image-amd64")
        );
        assert_eq!(
            (aarch64.debian_architecture, aarch64.meta_package),
            ("arm64", "linux-image-arm64")
        );
        assert_eq!(aarch64.compiler, "aarch64-linux-gnu-gcc");
        assert_eq!((x86_64.console, aarch64.console), ("ttyS0", "ttyAMA0"));
        // Only x86_64 Linux can hand its exit status to QEMU.
        assert!(x86_64.powered_off.is_success());
        assert_eq!(aarch64.powered_off, Ending::Reset);
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
            (6, "linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb"),
        ] {
            let file = std::fs::File::create(directory.join(name)).unwrap();
            file.set_modified(epoch + std::time::Duration::from_secs(seconds))
                .unwrap();
        }
        let newest = newest_cached_package(&directory, "linux-image-", "amd64")
            .unwrap()
            .unwrap();
        let exact = newest_cached_package(&directory, "linux-image-6.1.0-9-amd64_", "amd64")
            .unwrap()
            .unwrap();
        let arm64 = newest_cached_package(&directory, "linux-image-", "arm64")
            .unwrap()
            .unwrap();
        let none = newest_cached_package(&directory, "linux-image-7", "amd64").unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        // The arm64 package is newer, but not of the architecture asked for.
        assert!(newest.ends_with("linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"));
        assert!(exact.ends_with("linux-image-6.1.0-9-amd64_6.1.20-1_amd64.deb"));
        assert!(arm64.ends_with("linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb"));
        assert_eq!(none, None);
    }
}
