//! The POSIX paths of the bench: `bench/posix/bench.c`, one source built for Linux against
//! upstream musl and for Septa with the sysroot, and the table that compares them.
//!
//! Both builds use musl 1.2.3 from the same checksummed tarball, configured the same way and
//! compiled with clang-19 and linked with lld against the same libgcc: for Linux unchanged
//! ([`crate::sysroot::build_linux_musl`], `build/<arch>/linux-musl/`), for Septa with its
//! system-call layer routed into libposix (the sysroot, `build/<arch>/sysroot/`). So a ratio
//! compares the systems under the C library, not two C libraries.
//!
//! On Linux the program is `/posix-bench` in the initramfs, run by `/init` after its own
//! figures; on Septa it is the application entity of a system generated as `cargo xtask exec`
//! generates one ([`crate::exec::description`]), packed into `build/<arch>/posix-bench-<clock>.img`
//! and booted with the bench's own machine settings. Its figures are named `posix-…` on both.
//!
//! Its file calls (`posix-file-…`) work in `/tmp/bench-files`: on Linux in the initramfs, on
//! Septa on the ramfs of `exec`'s file VFS, each call an IPC round trip through the monitor.
//! They have a table of their own ([`render_files`]), each row with its own goal.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::report::{self, Runs, Septa, format_quantity, format_ratio};
use crate::architecture::Architecture;
use crate::commands;
use crate::exec::{self, Program};
use crate::sysroot;
use crate::workspace::Workspace;

/// The benchmark's source, relative to the workspace root.
pub const SOURCE: &str = "bench/posix/bench.c";
/// The program's path in Linux's initramfs (bench/linux/bench.c runs `/posix-bench`).
pub const INITRAMFS_PATH: &str = "posix-bench";
/// The stem of Septa's generated system and image, followed by the clock's name.
const SYSTEM: &str = "posix-bench";
/// The program's 2-instruction loop, the instruction-count check of each system.
pub const LOOP_FIGURE: &str = "posix-loop-2insn";
/// The directory the program's file calls work in, on both systems.
const FILE_DIRECTORY: &str = "/tmp/bench-files";
/// The data one file call moves on Septa, in KiB: a window of the bulk region, which libposix
/// cuts into one window per File client of its pool (`vfs::CLIENTS`, 8) of
/// `septa_abi::startup::FILE_BULK_SIZE` (512 KiB).
const FILE_WINDOW_KIB: usize = 64;
/// The goal: each path within this many times Linux's.
pub const GOAL_RATIO: f64 = 1.2;

/// The figures of the table, in order, with their labels.
pub const FIGURES: [(&str, &str); 5] = [
    ("posix-clock-gettime", "`clock_gettime(CLOCK_MONOTONIC)`"),
    ("posix-malloc-free", "`malloc(64)` then `free`"),
    (
        "posix-mutex-uncontended",
        "mutex lock and unlock, uncontended",
    ),
    (
        "posix-mutex-contended",
        "mutex lock and unlock, two threads contending",
    ),
    (
        "posix-thread-create-join",
        "`pthread_create` then `pthread_join`",
    ),
];

/// The file calls, in order, with their labels and goals (at most this many times Linux's):
/// the bulk reads no slower than Linux, the metadata calls within twice. The ratio of
/// `pwrite` is shown against no goal.
pub const FILE_FIGURES: [(&str, &str, Option<f64>); 8] = [
    (
        "posix-file-open-close",
        "`open` then `close` of an existing file",
        Some(2.0),
    ),
    ("posix-file-stat", "`stat`", Some(2.0)),
    ("posix-file-fstat", "`fstat`", Some(2.0)),
    ("posix-file-pread-1", "`pread` of 1 byte", None),
    ("posix-file-pread-4k", "`pread` of 4 KiB", Some(1.0)),
    ("posix-file-pwrite-4k", "`pwrite` of 4 KiB", None),
    (
        "posix-file-read-mib",
        "sequential `read` of a 4 MiB file in 1 MiB calls, per MiB",
        Some(1.0),
    ),
    (
        "posix-file-create-unlink",
        "`open(O_CREAT \\| O_EXCL)`, `close`, `unlink` of a new file",
        Some(2.0),
    ),
];

/// Compiler flags of both builds.
const C_FLAGS: [&str; 4] = ["-O2", "-pthread", "-Wall", "-Wextra"];

/// Whether a figure is one of this program's (and so not of Linux's IPC table).
pub fn is_posix_figure(name: &str) -> bool {
    name.starts_with("posix-")
}

/// The compiler command that builds the Linux program: clang-19 for `<arch>-linux-musl`
/// against the upstream musl installation, linked as the sysroot's wrapper links (static,
/// lld, libgcc, no unwinder).
fn linux_compile_command(
    root: &Path,
    architecture: Architecture,
    musl: &Path,
    program: &Path,
) -> Command {
    let mut command = Command::new("clang-19");
    command
        .arg(format!("--target={}", sysroot::c_target(architecture)))
        .arg("--sysroot")
        .arg(musl)
        .args([
            "-static",
            "-fuse-ld=lld",
            "--rtlib=libgcc",
            "--unwindlib=none",
        ])
        .args(C_FLAGS)
        .arg("-o")
        .arg(program)
        .arg(root.join(SOURCE));
    command
}

/// The compiler command that builds Septa's program with the sysroot's wrapper.
fn septa_compile_command(
    root: &Path,
    architecture: Architecture,
    sysroot: &Path,
    program: &Path,
) -> Command {
    let mut command = Command::new(
        sysroot
            .join("bin")
            .join(format!("{}-septa-cc", architecture.name())),
    );
    command
        .args(C_FLAGS)
        .arg("-o")
        .arg(program)
        .arg(root.join(SOURCE));
    command
}

/// A program built, and the command that built it (as typed, for the report).
#[derive(Clone, Debug)]
pub struct Built {
    pub program: PathBuf,
    pub command: String,
}

/// Builds upstream musl if needed and the Linux program into `output`.
pub fn build_for_linux(
    workspace: &Workspace,
    architecture: Architecture,
    output: &Path,
) -> Result<Built> {
    let musl = sysroot::build_linux_musl(workspace, architecture)?;
    let program = output.join("posix-bench");
    let mut command = linux_compile_command(&workspace.root, architecture, &musl, &program);
    compile(&mut command, output)?;
    Ok(Built {
        program,
        command: super::display_command(&command, &workspace.root),
    })
}

/// Builds the sysroot if needed and Septa's program into `output`.
pub fn build_for_septa(
    workspace: &Workspace,
    architecture: Architecture,
    output: &Path,
) -> Result<Built> {
    let sysroot = sysroot::build(workspace, architecture)?;
    let program = output.join("posix-bench");
    let mut command = septa_compile_command(&workspace.root, architecture, &sysroot, &program);
    compile(&mut command, output)?;
    Ok(Built {
        program,
        command: super::display_command(&command, &workspace.root),
    })
}

fn compile(command: &mut Command, output: &Path) -> Result<()> {
    std::fs::create_dir_all(output)
        .with_context(|| format!("could not create {}", output.display()))?;
    let description = crate::qemu::describe_command(command);
    let status = command
        .status()
        .with_context(|| format!("could not run {description}"))?;
    if !status.success() {
        bail!("`{description}` failed ({status})");
    }
    Ok(())
}

/// Packs the system that runs Septa's `program` with `environment` (the iteration choice)
/// into `build/<arch>/posix-bench-<clock>.img`; its description is written beside it.
pub fn pack_septa(
    workspace: &Workspace,
    architecture: Architecture,
    program: &Path,
    environment: Vec<String>,
    clock: &str,
) -> Result<PathBuf> {
    let system = format!("{SYSTEM}-{clock}");
    let program = Program {
        path: std::path::absolute(program)
            .with_context(|| format!("could not resolve {}", program.display()))?,
        arguments: Vec::new(),
        environment,
    };
    let text = septa_description(&program, &system)?;
    let directory = workspace.output_directory(architecture);
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("could not create {}", directory.display()))?;
    let description = directory.join(format!("{system}.toml"));
    std::fs::write(&description, text)
        .with_context(|| format!("could not write {}", description.display()))?;
    commands::pack(workspace, architecture, &description, &system)
}

/// `exec`'s description of a system running `program`, named `system` (the image tool wants
/// the name of the file).
fn septa_description(program: &Program, system: &str) -> Result<String> {
    let mut description: toml::Table = toml::from_str(&exec::description(program)?)
        .context("exec wrote a system description that is not TOML")?;
    description
        .get_mut("system")
        .and_then(toml::Value::as_table_mut)
        .context("exec wrote a system description without [system]")?
        .insert("name".into(), system.into());
    let text = toml::to_string(&description).context("could not write a system description")?;
    Ok(format!(
        "# Generated by `cargo xtask bench`: {SOURCE} and the default servers, as `exec` runs it.\n{text}"
    ))
}

/// What the POSIX table is made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Posix {
    /// How Linux's program was built, or why it was not.
    pub linux_build: Result<String, String>,
    /// How Septa's program was built, or why it was not.
    pub septa_build: Result<String, String>,
    /// The command line of Septa's wall-clock boot.
    pub septa_command: Option<String>,
    /// Septa's figures; Linux's are in the Linux boots' consoles.
    pub septa: Septa,
}

/// How a ratio compares with the goal: the ratio as the table shows it, to two decimals, so
/// that a row never reads "1.20, not met".
fn verdict(septa: Option<f64>, linux: Option<f64>, goal: f64) -> Option<bool> {
    match (septa, linux) {
        (Some(septa), Some(linux)) if linux > 0.0 => {
            Some((septa / linux * 100.0).round() <= goal * 100.0)
        }
        _ => None,
    }
}

fn verdict_text(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "–",
    }
}

/// The summary line: how many paths meet the goal, by each measure.
pub fn goal_line(linux: &Runs, posix: &Posix) -> String {
    let figures: Vec<(&str, f64)> = FIGURES
        .iter()
        .map(|&(name, _)| (name, GOAL_RATIO))
        .collect();
    count_line(
        &format!("POSIX paths without a server <= {GOAL_RATIO} x Linux:"),
        &figures,
        linux,
        posix,
    )
}

/// The summary line of the file calls that have a goal.
pub fn file_goal_line(linux: &Runs, posix: &Posix) -> String {
    let figures: Vec<(&str, f64)> = FILE_FIGURES
        .iter()
        .filter_map(|&(name, _, goal)| Some((name, goal?)))
        .collect();
    count_line(
        "File calls (bulk reads <= 1 x Linux, metadata <= 2 x):",
        &figures,
        linux,
        posix,
    )
}

/// `prefix`, then how many of `figures` meet their goals, by each measure.
fn count_line(prefix: &str, figures: &[(&str, f64)], linux: &Runs, posix: &Posix) -> String {
    let septa = match &posix.septa {
        Septa::Measured(runs) => runs,
        Septa::Unavailable(reason) => return format!("{prefix} not measured ({reason})"),
    };
    let count = |measure: &dyn Fn(&Runs, &str) -> Option<f64>| {
        let verdicts: Vec<bool> = figures
            .iter()
            .filter_map(|&(name, goal)| verdict(measure(septa, name), measure(linux, name), goal))
            .collect();
        (verdicts.iter().filter(|&&met| met).count(), verdicts.len())
    };
    let (time_met, time_measured) = count(&|runs, name| runs.nanoseconds(name));
    let (instructions_met, instructions_measured) = count(&|runs, name| runs.instructions(name));
    if time_measured == 0 {
        return format!("{prefix} not measured (no `posix-…` figures on both systems)");
    }
    let mut line =
        format!("{prefix} {time_met} of {time_measured} paths meet it in wall-clock time");
    if instructions_measured > 0 {
        line.push_str(&format!(
            ", {instructions_met} of {instructions_measured} in guest instructions"
        ));
    }
    line
}

/// The "POSIX paths without a server" part of an architecture's section.
pub fn render(linux: &Runs, posix: &Posix) -> String {
    let mut out = String::from("#### POSIX paths without a server\n\n");
    out.push_str(&format!(
        "`{SOURCE}`, the same source on both systems, static against musl 1.2.3: upstream on \
         Linux, with libposix on Septa. Goal: each path within {GOAL_RATIO} x Linux. Ratios \
         are Septa's figure over Linux's.\n\n"
    ));
    out.push_str("| Setting | Value |\n| --- | --- |\n");
    let mut row = |key: &str, value: String| {
        out.push_str(&format!("| {key} | {} |\n", value.replace('|', "\\|")));
    };
    let build = |built: &Result<String, String>| match built {
        Ok(command) => format!("`{command}`"),
        Err(reason) => format!("not built: {reason}"),
    };
    row("Linux program", build(&posix.linux_build));
    row("Septa program", build(&posix.septa_build));
    row(
        "Septa command line",
        posix
            .septa_command
            .as_ref()
            .map_or_else(|| "–".to_owned(), |command| format!("`{command}`")),
    );
    let septa_runs = match &posix.septa {
        Septa::Measured(runs) => Some(runs),
        Septa::Unavailable(_) => None,
    };
    let loop_figure = |runs: Option<&Runs>, measure: fn(&Runs, &str) -> Option<f64>, scale| {
        runs.and_then(|runs| measure(runs, LOOP_FIGURE))
            .map_or_else(|| "–".to_owned(), |value| format!("{:.3}", value / scale))
    };
    row(
        "Instruction-count check",
        format!(
            "the program's own 2-instruction loop read {} ns per instruction on Linux, {} on Septa",
            loop_figure(Some(linux), Runs::instructions, 2.0),
            loop_figure(septa_runs, Runs::instructions, 2.0),
        ),
    );
    row(
        "TCG speed",
        format!(
            "the same loop took {} ns per iteration on Linux, {} on Septa (wall clock: TCG's \
             speed on the same code, which has varied up to fourfold between boots of one image)",
            loop_figure(Some(linux), Runs::nanoseconds, 1.0),
            loop_figure(septa_runs, Runs::nanoseconds, 1.0),
        ),
    );
    out.push('\n');

    let septa = match &posix.septa {
        Septa::Measured(runs) => runs,
        Septa::Unavailable(reason) => {
            out.push_str(&format!("Septa's POSIX program not measured: {reason}.\n"));
            return out;
        }
    };
    out.push_str(
        "| Operation | Linux ns/op | Septa ns/op | Ratio | Goal | Linux instructions/op | Septa instructions/op | Ratio | Goal |\n\
         | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |\n",
    );
    for (name, label) in FIGURES {
        out.push_str(&format!(
            "| {label} | {} |\n",
            figure_cells(linux, septa, name, Some(GOAL_RATIO))
        ));
    }
    for error in septa
        .wall
        .errors
        .iter()
        .chain(septa.icount.iter().flat_map(|console| &console.errors))
    {
        out.push_str(&format!("\nSepta's POSIX program reported: {error}\n"));
    }
    out
}

/// The cells after the label of one figure's row: both measures, each as Linux's figure,
/// Septa's, the ratio and the verdict against `goal` (a dash without one).
fn figure_cells(linux: &Runs, septa: &Runs, name: &str, goal: Option<f64>) -> String {
    let (linux_time, septa_time) = (linux.nanoseconds(name), septa.nanoseconds(name));
    let (linux_count, septa_count) = (linux.instructions(name), septa.instructions(name));
    format!(
        "{} | {} | {} | {} | {} | {} | {} | {}",
        format_quantity(linux_time),
        format_quantity(septa_time),
        format_ratio(septa_time, linux_time),
        verdict_text(goal.and_then(|goal| verdict(septa_time, linux_time, goal))),
        format_quantity(linux_count),
        format_quantity(septa_count),
        format_ratio(septa_count, linux_count),
        verdict_text(goal.and_then(|goal| verdict(septa_count, linux_count, goal))),
    )
}

/// The "File operations" table of an architecture's section: the program's `posix-file-…`
/// figures, each against its own goal.
pub fn render_files(linux: &Runs, posix: &Posix) -> String {
    let mut out = String::from(
        "#### File operations (ramfs through the file VFS, against Linux's initramfs)\n\n",
    );
    out.push_str(&format!(
        "The same program, in `{FILE_DIRECTORY}`: on Linux in the initramfs, on Septa on the \
         file VFS's ramfs, each call one IPC round trip through the monitor (and one per \
         {window} KiB of data, which moves through the shared bulk region). Goals: the bulk \
         reads no slower than Linux, the metadata calls within 2 x; a dash, no goal. Ratios are \
         Septa's figure over Linux's.\n\n",
        window = FILE_WINDOW_KIB
    ));
    let Septa::Measured(septa) = &posix.septa else {
        out.push_str("Septa's POSIX program not measured (see above).\n");
        return out;
    };
    out.push_str(
        "| Operation | Goal | Linux ns/op | Septa ns/op | Ratio | Met | Linux instructions/op | Septa instructions/op | Ratio | Met |\n\
         | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |\n",
    );
    for (name, label, goal) in FILE_FIGURES {
        out.push_str(&format!(
            "| {label} | {} | {} |\n",
            goal.map_or_else(|| "–".to_owned(), |goal| format!("<= {goal} x")),
            figure_cells(linux, septa, name, goal)
        ));
    }
    out
}

/// Septa's POSIX boots of one clock as one console, with a missing `BENCH-END` as an error.
pub fn check_septa_console(mut console: report::Console) -> report::Console {
    if !console.ended {
        console
            .errors
            .push(format!("{SOURCE} ended without BENCH-END"));
    }
    console
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{Console, Figure};

    fn console(figures: &[(&str, u64, u64)]) -> Console {
        Console {
            figures: figures
                .iter()
                .map(|&(name, iterations, total_nanoseconds)| Figure {
                    name: name.to_owned(),
                    iterations,
                    total_nanoseconds,
                })
                .collect(),
            ended: true,
            ..Console::default()
        }
    }

    fn linux() -> Runs {
        Runs {
            wall: console(&[
                ("null-syscall", 10, 5000),
                ("posix-clock-gettime", 1000, 50_000),
                ("posix-thread-create-join", 10, 200_000),
            ]),
            icount: Some(console(&[
                ("posix-clock-gettime", 1000, 40_000),
                ("posix-thread-create-join", 10, 100_000),
                ("posix-loop-2insn", 1000, 2004),
            ])),
        }
    }

    fn posix(septa: Septa) -> Posix {
        Posix {
            linux_build: Ok("clang-19 --target=x86_64-linux-musl".to_owned()),
            septa_build: Err("the sysroot failed".to_owned()),
            septa_command: None,
            septa,
        }
    }

    fn measured() -> Septa {
        Septa::Measured(Runs {
            wall: console(&[
                ("posix-clock-gettime", 1000, 40_000),
                ("posix-thread-create-join", 10, 600_000),
            ]),
            icount: Some(console(&[
                ("posix-clock-gettime", 1000, 46_000),
                ("posix-thread-create-join", 10, 110_000),
                ("posix-loop-2insn", 1000, 2000),
            ])),
        })
    }

    #[test]
    fn posix_figures_are_told_apart() {
        assert!(is_posix_figure("posix-malloc-free"));
        assert!(!is_posix_figure("pipe"));
        assert!(FIGURES.iter().all(|(name, _)| is_posix_figure(name)));
        assert!(is_posix_figure(LOOP_FIGURE));
    }

    #[test]
    fn rows_give_both_ratios_and_verdicts() {
        let text = render(&linux(), &posix(measured()));
        // clock_gettime: 40 against 50 ns (0.80), 46 against 40 instructions (1.15).
        assert!(
            text.contains(
                "| `clock_gettime(CLOCK_MONOTONIC)` | 50.0 | 40.0 | 0.80 | met | 40.0 | 46.0 | 1.15 | met |"
            ),
            "{text}"
        );
        // thread create and join: 60000 against 20000 ns, 11000 against 10000 instructions.
        assert!(
            text.contains(
                "| `pthread_create` then `pthread_join` | 20000 | 60000 | 3.00 | **not met** | 10000 | 11000 | 1.10 | met |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| `malloc(64)` then `free` | – | – | – | – | – | – | – | – |"),
            "{text}"
        );
        assert!(text.contains("not built: the sysroot failed"), "{text}");
        assert!(
            text.contains("read 1.002 ns per instruction on Linux, 1.000 on Septa"),
            "{text}"
        );
        assert_eq!(
            goal_line(&linux(), &posix(measured())),
            "POSIX paths without a server <= 1.2 x Linux: 1 of 2 paths meet it in wall-clock time, \
             2 of 2 in guest instructions"
        );
    }

    #[test]
    fn file_rows_are_judged_against_their_own_goals() {
        let linux = Runs {
            wall: console(&[
                ("posix-file-stat", 100, 100_000),
                ("posix-file-pread-4k", 100, 100_000),
                ("posix-file-pwrite-4k", 100, 100_000),
            ]),
            icount: None,
        };
        let septa = Septa::Measured(Runs {
            wall: console(&[
                ("posix-file-stat", 100, 190_000),
                ("posix-file-pread-4k", 100, 110_000),
                ("posix-file-pwrite-4k", 100, 500_000),
            ]),
            icount: None,
        });
        let text = render_files(&linux, &posix(septa.clone()));
        assert!(
            text.contains("| `stat` | <= 2 x | 1000 | 1900 | 1.90 | met | – | – | – | – |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| `pread` of 4 KiB | <= 1 x | 1000 | 1100 | 1.10 | **not met** | – | – | – | – |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| `pwrite` of 4 KiB | – | 1000 | 5000 | 5.00 | – | – | – | – | – |"),
            "{text}"
        );
        assert!(
            FILE_FIGURES
                .iter()
                .all(|(name, _, _)| name.starts_with("posix-file-"))
        );
        assert_eq!(
            file_goal_line(&linux, &posix(septa)),
            "File calls (bulk reads <= 1 x Linux, metadata <= 2 x): 1 of 2 paths meet it in \
             wall-clock time"
        );
    }

    #[test]
    fn the_goal_is_judged_on_the_ratio_shown() {
        assert_eq!(verdict(Some(67.7), Some(56.3), GOAL_RATIO), Some(true)); // 1.2025 shows as 1.20
        assert_eq!(verdict(Some(67.9), Some(56.3), GOAL_RATIO), Some(false)); // 1.206 shows as 1.21
        assert_eq!(verdict(Some(1.0), None, GOAL_RATIO), None);
        assert_eq!(verdict(Some(1.0), Some(0.0), GOAL_RATIO), None);
    }

    #[test]
    fn an_unmeasured_septa_is_said_so() {
        let unavailable = posix(Septa::Unavailable("no sysroot".to_owned()));
        let text = render(&linux(), &unavailable);
        assert!(
            text.contains("Septa's POSIX program not measured: no sysroot."),
            "{text}"
        );
        assert_eq!(
            goal_line(&linux(), &unavailable),
            "POSIX paths without a server <= 1.2 x Linux: not measured (no sysroot)"
        );
    }

    #[test]
    fn a_septa_console_without_its_end_is_an_error() {
        let mut unfinished = console(&[]);
        unfinished.ended = false;
        assert_eq!(
            check_septa_console(unfinished).errors,
            ["bench/posix/bench.c ended without BENCH-END"]
        );
        assert!(check_septa_console(console(&[])).errors.is_empty());
    }

    #[test]
    fn the_septa_system_is_exec_s_under_its_own_name() {
        let program = Program {
            path: PathBuf::from("/b/posix-bench"),
            arguments: Vec::new(),
            environment: vec!["bench_target_ms=100".to_owned()],
        };
        let text = septa_description(&program, "posix-bench-icount").unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(value["system"]["name"].as_str(), Some("posix-bench-icount"));
        assert_eq!(value["system"]["exit_with"].as_str(), Some("program"));
        let entity = &value["entity"][0];
        assert_eq!(entity["program"].as_str(), Some("/b/posix-bench"));
        assert_eq!(
            entity["environment"]["bench_target_ms"].as_str(),
            Some("100")
        );
        assert!(
            text.starts_with("# Generated by `cargo xtask bench`"),
            "{text}"
        );
    }

    #[test]
    fn the_linux_program_is_linked_like_the_sysroot_wrapper_links() {
        let command = linux_compile_command(
            Path::new("/w"),
            Architecture::Aarch64,
            Path::new("/w/build/aarch64/linux-musl/install"),
            Path::new("/o/posix-bench"),
        );
        assert_eq!(
            super::super::display_command(&command, Path::new("/w")),
            "clang-19 --target=aarch64-linux-musl --sysroot build/aarch64/linux-musl/install \
             -static -fuse-ld=lld --rtlib=libgcc --unwindlib=none -O2 -pthread -Wall -Wextra \
             -o /o/posix-bench bench/posix/bench.c"
        );
    }
}
