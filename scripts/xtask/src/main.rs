//! `cargo xtask`: the one build tool of Septa (docs/build.md).
//!
//! Every command a developer or CI runs goes through here, so that "it passes
//! locally" means "it passes in CI": `build` compiles the kernel and the
//! entities for the bare-metal target, `image` packs a system description into
//! a boot image, `run` boots one under QEMU, `test` runs the host unit tests
//! and the QEMU system tests, and `bench` compares against Linux in the same
//! emulator. Commands first check their host prerequisites (Rust targets,
//! QEMU) and install what is missing.
#![forbid(unsafe_code)]

mod architecture;
mod bench;
mod checks;
mod commands;
mod debian_source;
mod exec;
mod host_tests;
mod kernel_image;
mod posix_tests;
mod prerequisites;
mod qemu;
mod stream;
mod sysroot;
mod test_suite;
mod workspace;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::architecture::Architecture;
use crate::prerequisites::Task;
use crate::qemu::Accelerator;
use crate::workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The Septa build tool: build, image, run, test, bench.",
    after_help = "See docs/build.md for what each command does and needs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the kernel and every entity package for the bare-metal target.
    ///
    /// Runs `cargo build --release --target <triple>` for septa-kernel and for every
    /// workspace package with `[package.metadata.septa] entity = true`. Binaries land
    /// in target/<triple>/release/.
    Build(ArchitectureOption),
    /// Build, then pack systems/<SYSTEM>.toml into build/<arch>/<SYSTEM>.img.
    ///
    /// The image tool validates the description against interfaces/definitions and
    /// takes the entity binaries from the build; its summary is printed.
    Image {
        /// The system to pack: the name of a file in systems/, without .toml.
        system: String,
        #[command(flatten)]
        architecture: ArchitectureOption,
    },
    /// Build, pack and boot a system under QEMU; exit with the system's exit status.
    ///
    /// The console is streamed to standard output and written to
    /// build/<arch>/<SYSTEM>.log. Exit status: the system's own (0..=125), 126 for a
    /// kernel panic, 127 when the machine reset without powering off (triple fault?),
    /// 124 on timeout.
    Run {
        /// The system to boot: the name of a file in systems/, without .toml.
        #[arg(default_value = "demo")]
        system: String,
        #[command(flatten)]
        architecture: ArchitectureOption,
        /// Use KVM instead of TCG. Not the default: on the project's machines
        /// /dev/kvm mis-runs ring-3 system calls and is slower than TCG.
        #[arg(long)]
        kvm: bool,
        /// Kill QEMU after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 120,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
    },
    /// Run the host unit tests and the QEMU system tests; the last line is `N passed, N failed`.
    ///
    /// Host unit tests: `cargo test` of every workspace package except septa-kernel and
    /// the entities. System tests: every systems/*.toml with `[system] test = true`
    /// (timeout `[system] timeout_seconds`, default 300), booted one after another;
    /// their entities report `[check] PASS <name>`, `[check] FAIL <name>: <detail>`
    /// and optionally `[check] PLAN <n>` on the console. The system tests run on every
    /// architecture unless `--arch` names one. Exits non-zero if anything failed.
    Test {
        /// Run the system tests on this architecture only.
        #[arg(long = "arch", value_name = "ARCH", value_enum)]
        architecture: Option<Architecture>,
    },
    /// Run the benchmarks: Septa against Linux booted in the same QEMU.
    Bench(bench::BenchOptions),
    /// Boot a default system with PROGRAM as its application entity; exit with its status.
    ///
    /// PROGRAM is a static executable built with the sysroot (C, or Rust std for
    /// <arch>-unknown-linux-musl). The system is written to build/<arch>/exec.toml; the
    /// console is streamed to standard output. Exit status: PROGRAM's (0..=125; higher
    /// statuses read as 125), 124 on timeout, 126 for a kernel panic.
    Exec {
        #[command(flatten)]
        architecture: ArchitectureOption,
        /// Add NAME=VALUE to the program's environment (repeatable).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        environment: Vec<String>,
        /// Kill QEMU after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 120,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// The program to run.
        program: std::path::PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<String>,
    },
    /// Build the C sysroot in build/<arch>/sysroot: musl with libposix, compiler wrapper,
    /// pkg-config wrapper, CMake toolchain file and Meson cross file.
    ///
    /// musl comes from Debian's source package as libposix/musl/recipe.toml pins it, and is
    /// rebuilt only when the recipe, its patches or overlay, or the compiler changed;
    /// libposix is built with cargo each time. Then `<arch>-septa-cc hello.c -o hello` gives
    /// a static executable for Septa.
    Sysroot(ArchitectureOption),
}

#[derive(Debug, Args)]
struct ArchitectureOption {
    /// The target architecture.
    #[arg(long = "arch", value_name = "ARCH", value_enum, default_value_t = Architecture::X86_64)]
    architecture: Architecture,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the workspace after the prerequisites of `task` are in place.
fn prepare(task: Task, architectures: &[Architecture]) -> Result<Workspace> {
    prerequisites::ensure(
        &workspace::root(),
        &prerequisites::required(task, architectures),
    )?;
    Workspace::load()
}

fn execute(command: Command) -> Result<ExitCode> {
    match command {
        Command::Build(ArchitectureOption { architecture }) => {
            let workspace = prepare(Task::Build, &[architecture])?;
            commands::build(&workspace, architecture)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Image {
            system,
            architecture: ArchitectureOption { architecture },
        } => {
            let workspace = prepare(Task::Build, &[architecture])?;
            commands::system_description(&workspace, &system)?;
            commands::build(&workspace, architecture)?;
            commands::image(&workspace, architecture, &system)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            system,
            architecture: ArchitectureOption { architecture },
            kvm,
            timeout,
        } => {
            let workspace = prepare(Task::Boot, &[architecture])?;
            let accelerator = if kvm {
                Accelerator::Kvm
            } else {
                Accelerator::Tcg
            };
            let status = commands::run(
                &workspace,
                architecture,
                &system,
                accelerator,
                Duration::from_secs(timeout),
            )?;
            Ok(ExitCode::from(u8::try_from(status).unwrap_or(u8::MAX)))
        }
        Command::Test { architecture } => {
            let architectures = match architecture {
                Some(architecture) => vec![architecture],
                None => Architecture::ALL.to_vec(),
            };
            let workspace = prepare(Task::Test, &architectures)?;
            let passed = test_suite::run(&workspace, &architectures)?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Exec {
            architecture: ArchitectureOption { architecture },
            environment,
            timeout,
            program,
            arguments,
        } => {
            let workspace = prepare(Task::Boot, &[architecture])?;
            let program = exec::Program {
                path: program,
                arguments,
                environment,
            };
            let status = exec::run(
                &workspace,
                architecture,
                &program,
                Duration::from_secs(timeout),
            )?;
            Ok(ExitCode::from(u8::try_from(status).unwrap_or(u8::MAX)))
        }
        Command::Sysroot(ArchitectureOption { architecture }) => {
            let workspace = prepare(Task::Sysroot, &[architecture])?;
            sysroot::run(&workspace, architecture)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(options) => {
            bench::run(&options)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults() {
        let cli = Cli::try_parse_from(["xtask", "run"]).unwrap();
        let Command::Run {
            system,
            architecture,
            kvm,
            timeout,
        } = cli.command
        else {
            panic!("not run");
        };
        assert_eq!(system, "demo");
        assert_eq!(architecture.architecture, Architecture::X86_64);
        assert!(!kvm);
        assert_eq!(timeout, 120);
        assert!(Cli::try_parse_from(["xtask", "run", "--timeout", "0"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "build", "--arch", "sparc"]).is_err());
    }
}
