//! The POSIX programs of `cargo xtask test`: C files, a CMake project and a Rust std program,
//! built with the sysroot and each booted alone with `exec`, their `[check]` lines counted.
//!
//! Every program under `tests/posix/` is compiled with `<arch>-septa-cc`; the CMake project in
//! `tests/cmake-project/` is configured with the sysroot's toolchain file; the Rust program in
//! `tests/rust-std/` is built for `<arch>-unknown-linux-musl` with [`sysroot::rust_flags`].
//! A program that does not build, prints a `FAIL`, falls short of its `PLAN` or exits with a
//! status other than 0 is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::architecture::Architecture;
use crate::checks::{self, Tally};
use crate::exec::{self, Program};
use crate::sysroot;
use crate::workspace::Workspace;

/// How long one program may run.
const TIMEOUT: Duration = Duration::from_secs(180);

/// Arguments every program gets (`environment.c` and the Rust program check them).
const ARGUMENTS: [&str; 3] = ["alpha", "two words", "gamma"];
/// Environment every program gets besides the default.
const ENVIRONMENT: [&str; 1] = ["SEPTA_TEST_VALUE=forty-two"];

/// Flags of every C test program.
const C_FLAGS: [&str; 6] = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread"];

/// Where the programs land: `build/<arch>/posix-tests/` (system descriptions name the ones
/// that run inside a system as `../build/{arch}/posix-tests/<name>`).
pub fn output_directory(workspace: &Workspace, architecture: Architecture) -> PathBuf {
    workspace.output_directory(architecture).join("posix-tests")
}

/// Builds the POSIX programs on `architecture`, adding build failures to `tally`; returns the
/// programs that run alone. The programs of `tests/posix/in-system/` are built too, for the
/// test systems that name them, and are not returned.
pub fn build(workspace: &Workspace, architecture: Architecture, tally: &mut Tally) -> Vec<PathBuf> {
    let sysroot = match sysroot::build(workspace, architecture) {
        Ok(sysroot) => sysroot,
        Err(error) => {
            println!("xtask: {error:#}");
            tally.fail(format!("sysroot for {architecture}: {error:#}"));
            return Vec::new();
        }
    };
    let output = output_directory(workspace, architecture);
    let mut programs = Vec::new();
    match c_programs(workspace, architecture, &sysroot, "tests/posix", &output) {
        Ok(built) => programs.extend(built),
        Err(error) => tally.fail(format!("C programs for {architecture}: {error:#}")),
    }
    if let Err(error) = c_programs(
        workspace,
        architecture,
        &sysroot,
        "tests/posix/in-system",
        &output,
    ) {
        tally.fail(format!(
            "C programs of test systems for {architecture}: {error:#}"
        ));
    }
    match cmake_project(workspace, &sysroot, &output) {
        Ok(program) => programs.push(program),
        Err(error) => tally.fail(format!("CMake project for {architecture}: {error:#}")),
    }
    match rust_program(workspace, architecture, &sysroot, &output) {
        Ok(program) => programs.push(program),
        Err(error) => tally.fail(format!("Rust std program for {architecture}: {error:#}")),
    }
    programs
}

/// Boots each program alone and counts its checks.
pub fn run(
    workspace: &Workspace,
    architecture: Architecture,
    programs: &[PathBuf],
    tally: &mut Tally,
) {
    for path in programs {
        run_program(workspace, architecture, path, tally);
    }
}

/// Compiles every `<directory>/*.c` into `output`.
fn c_programs(
    workspace: &Workspace,
    architecture: Architecture,
    sysroot: &Path,
    directory: &str,
    output: &Path,
) -> Result<Vec<PathBuf>> {
    let source_directory = workspace.root.join(directory);
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&source_directory)
        .with_context(|| format!("could not read {}", source_directory.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()?;
    sources.retain(|path| path.extension().is_some_and(|extension| extension == "c"));
    sources.sort();
    std::fs::create_dir_all(output)
        .with_context(|| format!("could not create {}", output.display()))?;
    let compiler = sysroot
        .join("bin")
        .join(format!("{}-septa-cc", architecture.name()));
    let mut programs = Vec::new();
    for source in sources {
        let stem = source
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let program = output.join(&stem);
        let mut command = Command::new(&compiler);
        command.args(C_FLAGS).arg("-o").arg(&program).arg(&source);
        run_tool(&mut command)?;
        programs.push(program);
    }
    Ok(programs)
}

/// Configures and builds `tests/cmake-project` with the sysroot's toolchain file.
fn cmake_project(workspace: &Workspace, sysroot: &Path, output: &Path) -> Result<PathBuf> {
    let build = output.join("cmake-project");
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(workspace.root.join("tests/cmake-project"))
        .arg("-B")
        .arg(&build)
        .arg(format!(
            "-DCMAKE_TOOLCHAIN_FILE={}",
            sysroot.join("share/septa/toolchain.cmake").display()
        ))
        .arg("-DCMAKE_BUILD_TYPE=Release");
    run_tool(&mut configure)?;
    let mut compile = Command::new("cmake");
    compile.arg("--build").arg(&build);
    run_tool(&mut compile)?;
    let program = build.join("cmake-hello");
    if !program.is_file() {
        bail!("the CMake build did not produce {}", program.display());
    }
    Ok(program)
}

/// Builds `tests/rust-std` for `<arch>-unknown-linux-musl` against the sysroot.
fn rust_program(
    workspace: &Workspace,
    architecture: Architecture,
    sysroot: &Path,
    output: &Path,
) -> Result<PathBuf> {
    let target = sysroot::user_target(architecture);
    let target_directory = output.join("rust-std");
    let mut command = crate::workspace::cargo(&workspace.root.join("tests/rust-std"));
    command
        .args(["build", "--release", "--target", target])
        .arg("--manifest-path")
        .arg(workspace.root.join("tests/rust-std/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_directory)
        .env(
            "RUSTFLAGS",
            sysroot::rust_flags(sysroot, architecture).join(" "),
        );
    run_tool(&mut command)?;
    let program = target_directory
        .join(target)
        .join("release/septa-rust-std-test");
    if !program.is_file() {
        bail!("cargo did not produce {}", program.display());
    }
    Ok(program)
}

/// Runs a build tool, showing its command line; its output goes to the terminal.
fn run_tool(command: &mut Command) -> Result<()> {
    println!("xtask: {}", crate::qemu::describe_command(command));
    let status = command
        .status()
        .with_context(|| format!("could not run {:?}", command.get_program()))?;
    if !status.success() {
        bail!(
            "`{}` failed ({status})",
            crate::qemu::describe_command(command)
        );
    }
    Ok(())
}

/// Boots one program alone and counts its checks.
fn run_program(workspace: &Workspace, architecture: Architecture, path: &Path, tally: &mut Tally) {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = format!("{name} on {architecture}");
    println!("xtask: == program {label}");
    let program = Program {
        path: path.to_path_buf(),
        arguments: ARGUMENTS
            .iter()
            .map(|argument| (*argument).to_owned())
            .collect(),
        environment: ENVIRONMENT
            .iter()
            .map(|setting| (*setting).to_owned())
            .collect(),
    };
    let outcome = match exec::boot(workspace, architecture, &program, TIMEOUT, false) {
        Ok(outcome) => outcome,
        Err(error) => {
            println!("xtask: {error:#}");
            tally.fail(format!("program {label}: not booted: {error:#}"));
            return;
        }
    };
    let console = checks::tally_console(outcome.console.iter().map(String::as_str));
    println!(
        "xtask: program {label}: {}; checks: {} passed, {} failed",
        outcome.ending.describe(),
        console.passed,
        console.failures.len()
    );
    tally.add_console(&label, &console);
    if console.passed == 0 && console.failures.is_empty() {
        tally.fail(format!("program {label}: reported no checks"));
    }
    if !outcome.ending.is_success() {
        tally.fail(format!("program {label}: {}", outcome.ending.describe()));
    }
}
