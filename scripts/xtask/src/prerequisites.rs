//! Host prerequisites: Rust targets and Debian packages that a command needs,
//! checked and installed before the command does anything else.
//!
//! The list is data ([`required`]): each command names what it needs per
//! architecture, and [`ensure`] installs what is missing, running
//! `apt-get update` at most once per invocation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::architecture::Architecture;
use crate::sysroot;

/// A command of the build tool that has prerequisites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// `build` and `image`: compile the kernel and the entities.
    Build,
    /// `run`, `test` and `bench`: compile and boot under QEMU.
    Boot,
    /// `sysroot`: build musl, libposix and the C toolchain files.
    Sysroot,
    /// `test`: boot, and build the sysroot and the POSIX test programs (with CMake).
    Test,
}

/// One thing the host must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prerequisite {
    /// A Rust target of the pinned toolchain, added with `rustup target add`.
    RustTarget(&'static str),
    /// A program on `PATH`, installed from a Debian package.
    Program {
        program: &'static str,
        debian_package: &'static str,
    },
    /// A file at a fixed path (a library, say), installed from a Debian package.
    File {
        path: &'static str,
        debian_package: &'static str,
    },
}

/// What `task` needs on the host for `architectures`.
pub fn required(task: Task, architectures: &[Architecture]) -> Vec<Prerequisite> {
    if task == Task::Sysroot {
        return sysroot_required(architectures);
    }
    if task == Task::Test {
        // Booting already needs the sysroot's tools (the std entities link against it).
        let mut list = required(Task::Boot, architectures);
        list.push(Prerequisite::Program {
            program: "cmake",
            debian_package: "cmake",
        });
        // The file VFS's FAT tests make and check images with mkfs.fat and fsck.fat.
        list.push(Prerequisite::Program {
            program: "mkfs.fat",
            debian_package: "dosfstools",
        });
        return list;
    }
    let mut list: Vec<Prerequisite> = architectures
        .iter()
        .map(|architecture| Prerequisite::RustTarget(architecture.kernel_target()))
        .collect();
    // Building includes the std entities (the file VFS), which link against the sysroot.
    list.extend(sysroot_required(architectures));
    if task == Task::Boot {
        list.extend(
            architectures
                .iter()
                .map(|architecture| Prerequisite::Program {
                    program: architecture.qemu_program(),
                    debian_package: architecture.qemu_package(),
                }),
        );
        list.extend(HOST_TOOLCHAIN.iter().cloned());
    }
    let mut unique = Vec::new();
    for prerequisite in list {
        if !unique.contains(&prerequisite) {
            unique.push(prerequisite);
        }
    }
    unique
}

/// The rest of the host toolchain `run` and `test` set up, whichever architecture they boot:
/// the C compiler and linker the sysroot wraps (`<arch>-septa-cc`). Installed only when
/// missing.
const HOST_TOOLCHAIN: [Prerequisite; 2] = [
    Prerequisite::Program {
        program: "clang-19",
        debian_package: "clang-19",
    },
    Prerequisite::Program {
        program: "ld.lld-19",
        debian_package: "lld-19",
    },
];

/// What `sysroot` needs: the Rust target of libposix and of user programs, the LLVM tools
/// that build musl and put libposix into libc.a, `make` and `patch` for musl's build, and
/// the GCC runtime the sysroot links with (see `sysroot::gcc_runtime`).
fn sysroot_required(architectures: &[Architecture]) -> Vec<Prerequisite> {
    let mut list: Vec<Prerequisite> = architectures
        .iter()
        .map(|architecture| Prerequisite::RustTarget(sysroot::user_target(*architecture)))
        .collect();
    list.extend(HOST_TOOLCHAIN.iter().cloned());
    list.extend(SYSROOT_TOOLS.iter().cloned());
    list.extend(architectures.iter().map(|architecture| {
        let runtime = sysroot::gcc_runtime(*architecture);
        Prerequisite::File {
            path: runtime.library,
            debian_package: runtime.debian_package,
        }
    }));
    list
}

/// The tools `sysroot` runs besides clang and lld.
const SYSROOT_TOOLS: [Prerequisite; 6] = [
    Prerequisite::Program {
        program: "llvm-ar-19",
        debian_package: "llvm-19",
    },
    Prerequisite::Program {
        program: "llvm-ranlib-19",
        debian_package: "llvm-19",
    },
    Prerequisite::Program {
        program: "llvm-nm-19",
        debian_package: "llvm-19",
    },
    Prerequisite::Program {
        program: "llvm-objcopy-19",
        debian_package: "llvm-19",
    },
    Prerequisite::Program {
        program: "make",
        debian_package: "make",
    },
    Prerequisite::Program {
        program: "patch",
        debian_package: "patch",
    },
];

/// Checks every prerequisite and installs the missing ones.
pub fn ensure(root: &Path, prerequisites: &[Prerequisite]) -> Result<()> {
    let mut installer = Installer {
        package_lists_updated: false,
    };
    for prerequisite in prerequisites {
        match prerequisite {
            Prerequisite::RustTarget(target) => ensure_rust_target(root, target)?,
            Prerequisite::Program {
                program,
                debian_package,
            } => {
                if find_program(program).is_none() {
                    installer.install(program, debian_package)?;
                }
            }
            Prerequisite::File {
                path,
                debian_package,
            } => {
                if !Path::new(path).exists() {
                    installer.install(path, debian_package)?;
                }
            }
        }
    }
    Ok(())
}

fn ensure_rust_target(root: &Path, target: &str) -> Result<()> {
    // Run from the workspace root so that rustup picks the toolchain pinned
    // in rust-toolchain.toml, not the user's default.
    let by_hand = format!("rustup target add {target}");
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not run rustup to check for the Rust target {target}; install the target by hand: {by_hand}"))?;
    if !output.status.success() {
        bail!(
            "`rustup target list --installed` failed ({}); install the target by hand: {by_hand}",
            output.status
        );
    }
    let installed = String::from_utf8_lossy(&output.stdout);
    if installed.lines().any(|line| line.trim() == target) {
        return Ok(());
    }
    println!("xtask: adding the Rust target {target}");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .current_dir(root)
        .status()
        .with_context(|| format!("could not run rustup; run by hand: {by_hand}"))?;
    if !status.success() {
        bail!("could not add the Rust target {target} ({status}); run by hand: {by_hand}");
    }
    Ok(())
}

struct Installer {
    package_lists_updated: bool,
}

impl Installer {
    /// Installs `package`, which provides `what`: a program on `PATH` or an absolute path.
    fn install(&mut self, what: &str, package: &str) -> Result<()> {
        let by_hand = format!("apt-get update && apt-get install -y {package} (as root)");
        let present = || {
            if what.starts_with('/') {
                Path::new(what).exists()
            } else {
                find_program(what).is_some()
            }
        };
        if what.starts_with('/') {
            println!("xtask: {what} is missing; installing the Debian package {package}");
        } else {
            println!("xtask: {what} is not on PATH; installing the Debian package {package}");
        }
        if !self.package_lists_updated {
            run_apt(&["update"])
                .with_context(|| format!("could not install {package}; run by hand: {by_hand}"))?;
            self.package_lists_updated = true;
        }
        run_apt(&["install", "-y", "--no-install-recommends", package])
            .with_context(|| format!("could not install {package}; run by hand: {by_hand}"))?;
        if !present() {
            bail!("installed {package} but {what} is still missing; run by hand: {by_hand}");
        }
        Ok(())
    }
}

/// Runs `apt-get` non-interactively; fails with the command line when it fails.
pub fn run_apt(arguments: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(arguments)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("could not run apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", arguments.join(" "));
    }
    Ok(())
}

/// The first executable called `program` on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_needs_the_rust_targets_and_the_sysroot_tools() {
        let list = required(Task::Build, &[Architecture::X86_64]);
        assert_eq!(list[0], Prerequisite::RustTarget("x86_64-unknown-none"));
        // The std entities (the file VFS) link against the sysroot.
        assert!(list.contains(&Prerequisite::RustTarget("x86_64-unknown-linux-musl")));
        assert!(list.iter().any(|item| matches!(
            item,
            Prerequisite::Program {
                program: "llvm-ar-19",
                ..
            }
        )));
        assert!(!list.iter().any(|item| matches!(
            item,
            Prerequisite::Program {
                program: "qemu-system-x86_64",
                ..
            }
        )));
    }

    #[test]
    fn booting_also_needs_qemu_and_lists_each_prerequisite_once() {
        let list = required(Task::Boot, &Architecture::ALL);
        for program in [
            "qemu-system-x86_64",
            "qemu-system-aarch64",
            "clang-19",
            "ld.lld-19",
        ] {
            let count = list
                .iter()
                .filter(|item| {
                    matches!(item, Prerequisite::Program { program: name, .. } if *name == program)
                })
                .count();
            assert_eq!(count, 1, "{program}");
        }
    }

    #[test]
    fn the_sysroot_needs_the_musl_targets_llvm_and_the_gcc_runtime() {
        let list = required(Task::Sysroot, &Architecture::ALL);
        assert_eq!(
            list[..2],
            [
                Prerequisite::RustTarget("x86_64-unknown-linux-musl"),
                Prerequisite::RustTarget("aarch64-unknown-linux-musl"),
            ]
        );
        for program in [
            "clang-19",
            "ld.lld-19",
            "llvm-ar-19",
            "llvm-objcopy-19",
            "make",
        ] {
            assert!(
                list.iter().any(|prerequisite| matches!(
                    prerequisite,
                    Prerequisite::Program { program: name, .. } if *name == program
                )),
                "{program}"
            );
        }
        assert!(list.contains(&Prerequisite::File {
            path: "/usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a",
            debian_package: "libgcc-12-dev-arm64-cross",
        }));
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("surely-not-a-program-on-any-path").is_none());
    }
}
