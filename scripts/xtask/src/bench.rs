//! `cargo xtask bench`: Septa's IPC round trip and its POSIX paths against
//! Linux, booted in the same QEMU machine in the same run (design.md,
//! section 7), on each architecture.
//!
//! Clocks inside a TCG guest are emulated, so an absolute time means little;
//! every Septa figure is therefore printed as a ratio to a Linux figure
//! measured minutes apart on the same emulator, host and machine line
//! ([`crate::qemu::machine_arguments`]). For each architecture in turn
//! (x86_64, then aarch64; `--arch` picks one):
//!
//! 1. Linux: `bench/linux/bench.c` compiled static with gcc (a cross gcc for
//!    aarch64), packed as `/init` of a newc initramfs ([`cpio`]), booted on the
//!    kernel of Debian's `linux-image-amd64` or `linux-image-arm64` ([`linux`]).
//!    It measures a null system call and 1-byte pipe, AF_UNIX and futex round
//!    trips, then runs `/posix-bench` beside it: the POSIX program below,
//!    built against upstream musl.
//! 2. Septa: `systems/bench.toml`, built and packed like `cargo xtask image
//!    bench` ([`septa`]); its entity measures IPC round trips with an empty and
//!    a 4 KiB message, monitor on.
//! 3. The POSIX paths ([`posix`]): `bench/posix/bench.c`, one source, static
//!    against musl 1.2.3 on both systems (upstream for Linux, with libposix
//!    for Septa; same tarball, compiler and libgcc), measures
//!    `clock_gettime`, `malloc`/`free`, an uncontended and a contended mutex,
//!    and thread creation and join, then file calls in `/tmp/bench-files`
//!    (Linux's initramfs; on Septa the file VFS's ramfs, over IPC). On Septa
//!    it runs alone in a system generated as `cargo xtask exec` generates
//!    one, booted with the bench's machine settings. The goals: each path
//!    without a server within 1.2 times Linux; bulk file reads no slower than
//!    Linux, metadata calls within twice.
//!
//!    Each round boots Linux, Septa's IPC system and Septa's POSIX system, in
//!    that order; three rounds, and each wall-clock figure is the best of its
//!    boots ([`WALL_BOOTS`]); a Linux boot that hangs in its TSC calibration
//!    is retried ([`LINUX_ATTEMPTS`]).
//! 4. The same rounds once more with `-icount shift=0`: QEMU then advances
//!    the guest clock by exactly 1 ns per guest instruction, so nanoseconds
//!    per operation read inside the guest are guest instructions per
//!    operation. Every program checks this with a loop of known length.
//! 5. The architecture's tables ([`report`]) go to stdout and into
//!    `docs/benchmarks.md`, one section per architecture between markers that
//!    keep the hand-written text around them; an architecture not measured in
//!    this run keeps its earlier section.
//!
//! Every guest speaks one console protocol, `BENCH <name> <iterations>
//! <total_nanoseconds>`, the POSIX program's names starting with `posix-`;
//! figures are never timed assertions in tests. A side that cannot be built
//! or booted (Septa's image, either POSIX program) is reported as such in the
//! tables and the rest is still measured; only a failing Linux baseline fails
//! the architecture.

mod cpio;
mod linux;
mod posix;
mod report;
mod septa;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use crate::architecture::Architecture;
use crate::prerequisites::{self, Task};
use crate::qemu::{self, Accelerator, Boot, Ending};
use crate::workspace::{self, Workspace};

use linux::Baseline;
use posix::Posix;
use report::{Console, Report, Runs, Setting};

/// Options of `cargo xtask bench`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BenchOptions {
    /// Benchmark this architecture only, keeping the other architectures'
    /// earlier figures in docs/benchmarks.md. Without it, every architecture,
    /// one after the other.
    #[arg(long = "arch", value_name = "ARCH", value_enum)]
    pub architecture: Option<Architecture>,
    /// Run every Linux figure for exactly this many iterations, instead of
    /// calibrating each to about half a second of guest time. Septa's bench
    /// entity chooses its own counts.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Skip the second boots under `-icount shift=0` that count guest
    /// instructions per operation (saves about a third of the run time).
    #[arg(long)]
    pub skip_icount: bool,
}

/// Boots of Linux tried before giving up. Under TCG, x86_64 Linux's
/// calibration of the TSC against the PIT sometimes fails ("tsc: Unable to
/// calibrate against PIT", probably because its sanity check rejects a window
/// in which one PIT read took ten times another, which host scheduling
/// provokes; microvm has no HPET or ACPI PM timer to fall back on). The kernel
/// then marks the TSC unstable and spins in `calibrate_delay` waiting for a
/// timer tick that never comes, silently with `quiet`. Seen in about one
/// wall-clock boot in five to twenty, never under icount; a new boot
/// calibrates afresh. The log of each failed boot is kept beside the good one.
const LINUX_ATTEMPTS: u32 = 5;
/// How long Septa's bench system may take.
const SEPTA_TIMEOUT: Duration = Duration::from_secs(300);
/// Guest time each calibrated Linux figure runs for. Instruction counts are
/// deterministic, so the icount boot can afford shorter runs.
const WALL_TARGET_MILLISECONDS: u64 = 500;
const ICOUNT_TARGET_MILLISECONDS: u64 = 100;
/// Wall-clock boots of each system, alternating, of which each figure's best
/// is kept: the host is shared, and its load made the same figure vary by
/// half between runs. Instruction counts need one boot.
const WALL_BOOTS: usize = 3;
/// Added to the machine line for the instruction-count boots.
const ICOUNT_ARGUMENTS: [&str; 2] = ["-icount", "shift=0"];
/// Linux's command line after `console=`. `quiet` keeps the console to the
/// protocol; `panic=-1` reboots at once on a panic (for example if /init fails
/// before it reaches the exit port), which `-no-reboot` turns into QEMU
/// exiting. The mitigations are Linux's defaults: nothing here turns them on
/// or off.
const LINUX_COMMAND_LINE: &str = "quiet panic=-1";

/// Where the hand-written and generated benchmark text lives.
const DOCUMENT: &str = "docs/benchmarks.md";
/// The top of `docs/benchmarks.md` when it does not exist yet.
const DEFAULT_INTRODUCTION: &str =
    "# Benchmarks\n\nWritten by `cargo xtask bench`; edit above the markers only.\n";

/// The two kinds of boot of each system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// Guest time tracks host time: nanoseconds per operation.
    Wall,
    /// `-icount shift=0`: guest instructions per operation.
    Instructions,
}

impl Clock {
    fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall",
            Clock::Instructions => "icount",
        }
    }

    fn extra_arguments(self) -> Vec<String> {
        match self {
            Clock::Wall => Vec::new(),
            Clock::Instructions => ICOUNT_ARGUMENTS
                .iter()
                .map(|&argument| argument.to_owned())
                .collect(),
        }
    }
}

/// Runs the benchmarks of each architecture asked for, prints their tables
/// and rewrites their sections of `docs/benchmarks.md`. An architecture whose
/// Linux baseline fails keeps its earlier section; the others are still
/// written, and the command then fails.
pub fn run(options: &BenchOptions) -> Result<()> {
    let started = Instant::now();
    let architectures = architectures(options.architecture);
    let root = workspace::root();
    prerequisites::ensure(&root, &prerequisites::required(Task::Boot, &architectures))?;
    let workspace = Workspace::load()?;

    let mut sections = Vec::new();
    let mut failures = Vec::new();
    for &architecture in &architectures {
        println!("xtask: bench: {architecture}");
        match measure(&root, &workspace, architecture, options) {
            Ok(report) => sections.push((architecture, report::render(&report))),
            Err(error) => {
                println!("xtask: bench: {architecture} failed: {error:#}");
                failures.push(format!("{architecture}: {error:#}"));
            }
        }
    }

    for (_, section) in &sections {
        println!("\n{section}");
    }
    if !sections.is_empty() {
        let document = root.join(DOCUMENT);
        let existing = std::fs::read_to_string(&document).ok();
        let updated = report::update_document(existing.as_deref(), &sections, DEFAULT_INTRODUCTION);
        std::fs::write(&document, updated)
            .with_context(|| format!("could not write {}", document.display()))?;
        let written: Vec<&str> = sections
            .iter()
            .map(|(architecture, _)| architecture.name())
            .collect();
        println!(
            "xtask: wrote {DOCUMENT}, {} ({} s in all)",
            written.join(" and "),
            started.elapsed().as_secs()
        );
    }
    if !failures.is_empty() {
        bail!(
            "the bench failed on {} (earlier figures, if any, kept in {DOCUMENT}): {}",
            failures.len(),
            failures.join("; ")
        );
    }
    Ok(())
}

/// Benchmarks Linux and Septa on one architecture.
fn measure(
    root: &Path,
    workspace: &Workspace,
    architecture: Architecture,
    options: &BenchOptions,
) -> Result<Report> {
    let started = Instant::now();
    let baseline = linux::baseline(architecture);
    let packages = root.join("build").join("bench");
    let work = packages.join(architecture.name());
    let linux_posix = posix::build_for_linux(workspace, architecture, &work.join("posix-linux"));
    if let Err(error) = &linux_posix {
        println!("xtask: the Linux POSIX program is not available: {error:#}");
    }
    let linux = linux::prepare(
        root,
        &baseline,
        &work.join("linux"),
        &packages,
        linux_posix
            .as_ref()
            .ok()
            .map(|built| built.program.as_path()),
    )?;
    let septa = septa::prepare(workspace, architecture);
    if let Err(reason) = &septa {
        println!("xtask: Septa bench image not available: {reason}");
    }
    let septa_posix = match &septa {
        Err(reason) => Err(format!("Septa was not built: {reason}")),
        Ok(_) => posix::build_for_septa(workspace, architecture, &work.join("posix-septa"))
            .map_err(|error| format!("{error:#}")),
    };
    if let Err(reason) = &septa_posix {
        println!("xtask: Septa's POSIX program is not available: {reason}");
    }

    let clocks: &[Clock] = if options.skip_icount {
        &[Clock::Wall]
    } else {
        &[Clock::Wall, Clock::Instructions]
    };
    let mut linux_runs = Vec::new();
    let mut septa_runs = Vec::new();
    let mut posix_runs = Vec::new();
    let mut posix_command = None;
    for &clock in clocks {
        let (target, boots) = match clock {
            Clock::Wall => (WALL_TARGET_MILLISECONDS, WALL_BOOTS),
            Clock::Instructions => (ICOUNT_TARGET_MILLISECONDS, 1),
        };
        let append = linux_command_line(&baseline, options.iterations, target);
        let mut linux_boot = linux_boot(architecture, &linux, &append, clock, &work);
        linux_boot.timeout = linux_timeout(clock, options.iterations);
        let posix_boot = septa_posix.clone().and_then(|built| {
            let image = posix::pack_septa(
                workspace,
                architecture,
                &built.program,
                iteration_environment(options.iterations, target),
                clock.name(),
            )
            .map_err(|error| format!("packing the POSIX system failed: {error:#}"))?;
            Ok(septa_boot(
                architecture,
                &workspace.kernel_boot_file(architecture),
                &image,
                clock,
                work.join(format!("septa-posix-{}.log", clock.name())),
            ))
        });
        if let (Clock::Wall, Ok(boot)) = (clock, &posix_boot) {
            posix_command = Some(display_command(&qemu::boot_command(boot), root));
        }
        let mut linux_consoles = Vec::new();
        let mut septa_consoles = Boots::default();
        let mut posix_consoles = Boots::default();
        for round in 1..=boots {
            println!(
                "xtask: bench: {architecture} {} boot {round} of {boots}",
                clock.name()
            );
            linux_consoles.push(boot_linux(&baseline, &linux_boot)?);
            if let Ok(septa) = &septa {
                septa_consoles.boot(&septa_boot(
                    architecture,
                    &septa.kernel,
                    &septa.image,
                    clock,
                    work.join(format!("septa-{}.log", clock.name())),
                ));
            }
            if let Ok(boot) = &posix_boot {
                posix_consoles.boot(boot);
            }
        }
        linux_runs.push(Console::best_of(&linux_consoles));
        if septa.is_ok() {
            septa_runs.push(septa_consoles.best());
        }
        posix_runs.push(match &posix_boot {
            Ok(_) => posix_consoles.best().map(posix::check_septa_console),
            Err(reason) => Err(reason.clone()),
        });
    }

    let mut linux_runs = linux_runs.into_iter();
    let linux_runs = Runs {
        wall: linux_runs.next().context("no Linux boot ran")?,
        icount: linux_runs.next(),
    };
    let septa_result = match &septa {
        Err(reason) => report::Septa::Unavailable(reason.clone()),
        Ok(_) => combine_septa(septa_runs),
    };
    let posix = Posix {
        linux_build: linux_posix
            .map(|built| built.command)
            .map_err(|error| format!("{error:#}")),
        septa_command: posix_command,
        septa: match &septa_posix {
            Err(reason) => report::Septa::Unavailable(reason.clone()),
            Ok(_) => combine_septa(posix_runs),
        },
        septa_build: septa_posix.map(|built| built.command),
    };

    let wall_append = linux_command_line(&baseline, options.iterations, WALL_TARGET_MILLISECONDS);
    let septa_command = septa.as_ref().ok().map(|septa| {
        display_command(
            &qemu::boot_command(&septa_boot(
                architecture,
                &septa.kernel,
                &septa.image,
                Clock::Wall,
                work.join("septa-wall.log"),
            )),
            root,
        )
    });
    let setting = Setting {
        date: report::date_of(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        ),
        duration_seconds: started.elapsed().as_secs(),
        qemu_version: qemu_version(architecture),
        host_cpu: host_cpu(),
        cpu_model: cpu_model(architecture),
        linux_package: format!(
            "{} (what Debian's `{}` depends on)",
            linux.package, baseline.meta_package
        ),
        linux_command: display_command(
            &qemu::boot_command(&linux_boot(
                architecture,
                &linux,
                &wall_append,
                Clock::Wall,
                &work,
            )),
            root,
        ),
        septa_command,
        wall_boots: WALL_BOOTS,
        icount_argument: (!options.skip_icount).then(|| ICOUNT_ARGUMENTS.join(" ")),
        loop_instructions: baseline.loop_instructions.to_owned(),
    };
    Ok(Report {
        architecture,
        setting,
        linux: linux_runs,
        septa: septa_result,
        posix,
    })
}

/// The boots of one Septa system under one clock: their consoles, and the first failure,
/// after which that system is not booted again.
#[derive(Default)]
struct Boots {
    consoles: Vec<Console>,
    failure: Option<String>,
}

impl Boots {
    fn boot(&mut self, boot: &Boot) {
        if self.failure.is_some() {
            return;
        }
        match boot_septa(boot) {
            Ok(console) => self.consoles.push(console),
            Err(reason) => self.failure = Some(reason),
        }
    }

    /// The best of the boots, with the failure among its errors; `Err` if none printed a
    /// figure.
    fn best(self) -> Result<Console, String> {
        match self.failure {
            Some(reason) if self.consoles.is_empty() => Err(reason),
            failure => {
                let mut console = Console::best_of(&self.consoles);
                console.errors.extend(failure);
                Ok(console)
            }
        }
    }
}

/// The architectures to benchmark: the one asked for, or all of them.
fn architectures(choice: Option<Architecture>) -> Vec<Architecture> {
    match choice {
        Some(architecture) => vec![architecture],
        None => Architecture::ALL.to_vec(),
    }
}

/// Linux's command line: `bench_…=` words reach `/init` as environment
/// variables (the kernel passes on `name=value` words it does not know).
fn linux_command_line(
    baseline: &Baseline,
    iterations: Option<u64>,
    target_milliseconds: u64,
) -> String {
    let console = baseline.console;
    match iterations {
        Some(iterations) => {
            format!("console={console} {LINUX_COMMAND_LINE} bench_iterations={iterations}")
        }
        None => {
            format!("console={console} {LINUX_COMMAND_LINE} bench_target_ms={target_milliseconds}")
        }
    }
}

fn linux_boot(
    architecture: Architecture,
    linux: &linux::Linux,
    append: &str,
    clock: Clock,
    work: &Path,
) -> Boot {
    let mut extra_arguments = vec!["-append".to_owned(), append.to_owned()];
    extra_arguments.extend(clock.extra_arguments());
    Boot {
        architecture,
        accelerator: Accelerator::Tcg,
        kernel: linux.kernel.clone(),
        initrd: Some(linux.initramfs.clone()),
        extra_arguments,
        timeout: linux_timeout(clock, None),
        log: work.join(format!("linux-{}.log", clock.name())),
        interactive: false,
    }
}

/// A boot of a Septa image on the bench's machine line, with the clock's arguments.
fn septa_boot(
    architecture: Architecture,
    kernel: &Path,
    image: &Path,
    clock: Clock,
    log: PathBuf,
) -> Boot {
    Boot {
        architecture,
        accelerator: Accelerator::Tcg,
        kernel: kernel.to_path_buf(),
        initrd: Some(image.to_path_buf()),
        extra_arguments: clock.extra_arguments(),
        timeout: SEPTA_TIMEOUT,
        log,
        interactive: false,
    }
}

/// The environment that carries the iteration choice to the POSIX program on Septa, as
/// Linux's command line carries it to `/init` and its child.
fn iteration_environment(iterations: Option<u64>, target_milliseconds: u64) -> Vec<String> {
    vec![match iterations {
        Some(iterations) => format!("bench_iterations={iterations}"),
        None => format!("bench_target_ms={target_milliseconds}"),
    }]
}

/// How long a Linux boot may take before QEMU is killed. Kept short, as a
/// boot that hangs (see [`LINUX_ATTEMPTS`]) costs this much: a calibrated
/// boot, POSIX program and its file calls included, takes about 15 to 17 s
/// (x86_64), so this leaves a factor of about three for a loaded host. Fixed
/// iteration counts add time: all nineteen figures together take about 4 ms
/// per iteration of guest time (`posix-file-read-mib` about 3 ms,
/// `posix-file-create-unlink` 0.1 ms, `posix-thread-create-join` 0.4 to
/// 0.6 ms), given three times that here.
fn linux_timeout(clock: Clock, iterations: Option<u64>) -> Duration {
    let calibrated = match clock {
        Clock::Wall => Duration::from_secs(45),
        Clock::Instructions => Duration::from_secs(75),
    };
    let per_iteration = Duration::from_millis(12);
    calibrated
        + per_iteration.saturating_mul(u32::try_from(iterations.unwrap_or(0)).unwrap_or(u32::MAX))
}

/// Boots Linux; it must print every figure and `BENCH-END` with the
/// baseline's clock source, then power off. A boot that failed for a reason
/// that a new boot cures (see [`LINUX_ATTEMPTS`]) is tried again.
fn boot_linux(baseline: &Baseline, boot: &Boot) -> Result<Console> {
    let mut attempt = 1;
    loop {
        let outcome = qemu::boot(boot)?;
        let console = Console::parse(&outcome.console);
        let Some(problem) = linux_boot_problem(baseline, &outcome.ending, &console) else {
            println!(
                "xtask: Linux benchmark boot took {:.1} s",
                outcome.elapsed.as_secs_f64()
            );
            return Ok(console);
        };
        if !problem.transient || attempt == LINUX_ATTEMPTS {
            bail!(
                "the Linux benchmark failed: {} (attempt {attempt} of {LINUX_ATTEMPTS}); console log: {}",
                problem.description,
                boot.log.display()
            );
        }
        let kept = boot.log.with_extension(format!("failed-{attempt}.log"));
        let _ = std::fs::rename(&boot.log, &kept);
        println!(
            "xtask: Linux {}; booting again (that log: {})",
            problem.description,
            kept.display()
        );
        attempt += 1;
    }
}

/// What went wrong with a Linux boot.
#[derive(Debug, PartialEq, Eq)]
struct BootProblem {
    description: String,
    /// Whether a new boot may not have the problem.
    transient: bool,
}

/// `None` if the boot gave trustworthy figures.
fn linux_boot_problem(
    baseline: &Baseline,
    ending: &Ending,
    console: &Console,
) -> Option<BootProblem> {
    let transient = |description: String| {
        Some(BootProblem {
            description,
            transient: true,
        })
    };
    if matches!(ending, Ending::TimedOut { .. }) && console.information.is_empty() {
        return transient(format!(
            "{} before /init printed anything (on x86_64, the kernel's TSC calibration failing?)",
            ending.describe()
        ));
    }
    // Figures timed by jiffies would be meaningless: the cycle counter must be
    // the clock (on x86_64 `tsc-early` until the kernel re-registers the TSC,
    // a second or so in; a failed TSC calibration leaves jiffies).
    let expected = baseline.clock_source;
    if let Some(clocksource) = console
        .information("clocksource")
        .filter(|&source| !source.starts_with(expected))
    {
        return transient(format!("ran on clock source {clocksource}, not {expected}"));
    }
    if console.ended && console.errors.is_empty() && *ending == baseline.powered_off {
        return None;
    }
    let errors: String = console
        .errors
        .iter()
        .map(|error| format!("; {error}"))
        .collect();
    let end = if console.ended { "" } else { "; no BENCH-END" };
    // On aarch64 a power-off and a reset both end QEMU with 0: say so rather
    // than "machine reset".
    let ended = if *ending == baseline.powered_off && *ending == Ending::Reset {
        "QEMU exited with 0 (a power-off or a reset)".to_owned()
    } else {
        ending.describe()
    };
    Some(BootProblem {
        description: format!("{ended}{errors}{end}"),
        transient: false,
    })
}

/// Boots Septa; whatever it printed is kept, and a bad ending is recorded
/// with the figures rather than stopping the bench.
fn boot_septa(boot: &Boot) -> Result<Console, String> {
    let outcome = qemu::boot(boot).map_err(|error| format!("could not boot Septa: {error:#}"))?;
    let mut console = Console::parse(&outcome.console);
    if !outcome.ending.is_success() {
        console.errors.push(format!(
            "{} (console log: {})",
            outcome.ending.describe(),
            boot.log.display()
        ));
    }
    if console.figures.is_empty() {
        return Err(format!(
            "the bench system printed no BENCH line ({}; console log: {})",
            outcome.ending.describe(),
            boot.log.display()
        ));
    }
    println!(
        "xtask: Septa benchmark boot took {:.1} s",
        outcome.elapsed.as_secs_f64()
    );
    Ok(console)
}

fn combine_septa(consoles: Vec<Result<Console, String>>) -> report::Septa {
    let mut consoles = consoles.into_iter();
    let wall = match consoles.next() {
        Some(Ok(console)) => console,
        Some(Err(reason)) => return report::Septa::Unavailable(reason),
        None => return report::Septa::Unavailable("Septa was not booted".to_owned()),
    };
    let icount = consoles.next().map(|result| {
        result.unwrap_or_else(|reason| Console {
            errors: vec![format!("icount boot: {reason}")],
            ..Console::default()
        })
    });
    report::Septa::Measured(Runs { wall, icount })
}

/// A command as one would type it: arguments with blanks quoted, paths under
/// the workspace shown relative to it.
fn display_command(command: &Command, root: &Path) -> String {
    let prefix = format!("{}/", root.display());
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| {
            let text = part.to_string_lossy();
            let text = text.strip_prefix(&prefix).unwrap_or(&text);
            if text.contains(' ') {
                format!("\"{text}\"")
            } else {
                text.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first line of `qemu-system-… --version`.
fn qemu_version(architecture: Architecture) -> String {
    Command::new(qemu::machine_program(architecture))
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The guest's `-cpu` model on the machine line of `architecture`.
fn cpu_model(architecture: Architecture) -> String {
    qemu::machine_arguments(architecture, Accelerator::Tcg)
        .windows(2)
        .find(|pair| pair[0] == "-cpu")
        .map(|pair| pair[1].clone())
        .unwrap_or_else(|| "(QEMU's default)".to_owned())
}

/// The host's CPU model and count, from /proc/cpuinfo.
fn host_cpu() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let count = text
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    format!("{model} ({count} host CPUs)")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn default_options_are_the_command_line_defaults() {
        use clap::{Args, FromArgMatches};
        let matches =
            BenchOptions::augment_args(clap::Command::new("bench")).get_matches_from(["bench"]);
        let parsed = BenchOptions::from_arg_matches(&matches).unwrap();
        let default = BenchOptions::default();
        assert_eq!(
            (parsed.architecture, parsed.iterations, parsed.skip_icount),
            (default.architecture, None, false)
        );
    }

    #[test]
    fn every_architecture_is_benchmarked_unless_one_is_named() {
        use clap::{Args, FromArgMatches};
        assert_eq!(
            architectures(None),
            [Architecture::X86_64, Architecture::Aarch64]
        );
        assert_eq!(
            architectures(Some(Architecture::Aarch64)),
            [Architecture::Aarch64]
        );
        let parse = |arguments: &[&str]| {
            let matches = BenchOptions::augment_args(clap::Command::new("bench"))
                .try_get_matches_from(arguments)?;
            BenchOptions::from_arg_matches(&matches)
        };
        assert_eq!(
            parse(&["bench", "--arch", "aarch64"]).unwrap().architecture,
            Some(Architecture::Aarch64)
        );
        assert!(parse(&["bench", "--arch", "sparc"]).is_err());
    }

    #[test]
    fn linux_command_line_carries_the_console_and_the_iteration_choice() {
        let x86_64 = linux::baseline(Architecture::X86_64);
        assert_eq!(
            linux_command_line(&x86_64, None, 500),
            "console=ttyS0 quiet panic=-1 bench_target_ms=500"
        );
        assert_eq!(
            linux_command_line(&x86_64, Some(1000), 500),
            "console=ttyS0 quiet panic=-1 bench_iterations=1000"
        );
        assert_eq!(
            linux_command_line(&linux::baseline(Architecture::Aarch64), None, 100),
            "console=ttyAMA0 quiet panic=-1 bench_target_ms=100"
        );
    }

    #[test]
    fn cpu_models_come_from_the_machine_line() {
        assert_eq!(cpu_model(Architecture::X86_64), "max");
        assert_eq!(cpu_model(Architecture::Aarch64), "max,pauth-impdef=on");
    }

    #[test]
    fn commands_are_displayed_as_typed() {
        let root = PathBuf::from("/w");
        let mut command = Command::new("qemu-system-x86_64");
        command.args([
            "-kernel",
            "/w/build/bench/vmlinuz",
            "-append",
            "console=ttyS0 quiet",
        ]);
        assert_eq!(
            display_command(&command, &root),
            "qemu-system-x86_64 -kernel build/bench/vmlinuz -append \"console=ttyS0 quiet\""
        );
    }

    #[test]
    fn linux_timeouts_grow_with_fixed_iterations() {
        assert_eq!(linux_timeout(Clock::Wall, None), Duration::from_secs(45));
        assert_eq!(
            linux_timeout(Clock::Instructions, None),
            Duration::from_secs(75)
        );
        assert_eq!(
            linux_timeout(Clock::Wall, Some(10_000)),
            Duration::from_secs(165)
        );
        assert!(linux_timeout(Clock::Wall, Some(u64::MAX)) > Duration::from_secs(1_000_000));
    }

    #[test]
    fn linux_boot_problems() {
        let x86_64 = &linux::baseline(Architecture::X86_64);
        let good = Console::parse(&["INFO clocksource tsc", "BENCH pipe 1 2", "BENCH-END"]);
        let off = Ending::PoweredOff { status: 0 };
        assert_eq!(linux_boot_problem(x86_64, &off, &good), None);
        assert!(linux_boot_problem(x86_64, &Ending::Reset, &good).is_some());

        let hung = linux_boot_problem(
            x86_64,
            &Ending::TimedOut {
                after: Duration::from_secs(120),
            },
            &Console::default(),
        );
        assert!(hung.unwrap().transient);
        let jiffies = Console::parse(&[
            "INFO clocksource refined-jiffies",
            "BENCH pipe 1 2",
            "BENCH-END",
        ]);
        let problem = linux_boot_problem(x86_64, &off, &jiffies).unwrap();
        assert!(
            problem.transient && problem.description.contains("refined-jiffies"),
            "{problem:?}"
        );

        let failed = Console::parse(&["INFO kernel 6.1", "BENCH-ERROR fork: Out of memory"]);
        let problem =
            linux_boot_problem(x86_64, &Ending::PoweredOff { status: 1 }, &failed).unwrap();
        assert!(!problem.transient);
        assert_eq!(
            problem.description,
            "exit status 1; fork: Out of memory; no BENCH-END"
        );
        let stuck = linux_boot_problem(
            x86_64,
            &Ending::TimedOut {
                after: Duration::from_secs(120),
            },
            &failed,
        );
        assert!(!stuck.unwrap().transient);
    }

    #[test]
    fn aarch64_linux_ends_with_qemu_status_zero_and_its_console() {
        let aarch64 = &linux::baseline(Architecture::Aarch64);
        let good = Console::parse(&[
            "INFO clocksource arch_sys_counter",
            "BENCH pipe 1 2",
            "BENCH-END",
        ]);
        // PSCI SYSTEM_OFF: QEMU exits with 0, which the runner calls a reset.
        assert_eq!(linux_boot_problem(aarch64, &Ending::Reset, &good), None);
        let failed = Console::parse(&["BENCH-ERROR fork: Out of memory"]);
        let problem = linux_boot_problem(aarch64, &Ending::Reset, &failed).unwrap();
        assert!(!problem.transient);
        assert_eq!(
            problem.description,
            "QEMU exited with 0 (a power-off or a reset); fork: Out of memory; no BENCH-END"
        );
        let jiffies = Console::parse(&["INFO clocksource jiffies", "BENCH-END"]);
        let problem = linux_boot_problem(aarch64, &Ending::Reset, &jiffies).unwrap();
        assert_eq!(
            problem.description,
            "ran on clock source jiffies, not arch_sys_counter"
        );
    }

    #[test]
    fn the_posix_program_on_septa_gets_the_iteration_choice_in_its_environment() {
        assert_eq!(iteration_environment(None, 500), ["bench_target_ms=500"]);
        assert_eq!(
            iteration_environment(Some(1000), 500),
            ["bench_iterations=1000"]
        );
    }

    #[test]
    fn septa_boot_failures_become_reasons() {
        let figure = report::Figure {
            name: "ipc-null".to_owned(),
            iterations: 1,
            total_nanoseconds: 2,
        };
        let wall = Console {
            figures: vec![figure],
            ..Console::default()
        };
        match combine_septa(vec![Ok(wall.clone()), Err("timed out".to_owned())]) {
            report::Septa::Measured(runs) => {
                assert_eq!(runs.wall, wall);
                assert_eq!(runs.icount.unwrap().errors, ["icount boot: timed out"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            combine_septa(vec![Err("no BENCH line".to_owned())]),
            report::Septa::Unavailable("no BENCH line".to_owned())
        );
    }
}
