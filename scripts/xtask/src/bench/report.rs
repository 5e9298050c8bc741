//! Reading the `BENCH` lines a guest prints, and turning two systems'
//! figures into the markdown tables of `docs/benchmarks.md`, one section per
//! architecture.
//!
//! The console protocol, shared by Linux's `bench/linux/bench.c` and Septa's
//! benchmark system:
//!
//! ```text
//! BENCH <name> <iterations> <total_nanoseconds>
//! INFO <key> <free text>
//! BENCH-ERROR <free text>
//! BENCH-END
//! ```
//!
//! Anything else on the console (kernel messages) is ignored.

use std::fmt::Write as _;

use super::posix::{self, Posix};
use crate::architecture::Architecture;

/// The figure a 2-instruction loop gives; see [`Runs::instruction_check`].
pub const LOOP_FIGURE: &str = "loop-2insn";
/// Instructions in one iteration of [`LOOP_FIGURE`]'s loop (`dec`, `jnz` on
/// x86_64; `subs`, `b.ne` on aarch64).
const LOOP_INSTRUCTIONS: f64 = 2.0;
/// How far the loop's measured count may stray from 2 per iteration before
/// instruction counts are flagged: the timer interrupt and `clock_gettime`
/// add a little.
const LOOP_TOLERANCE: f64 = 0.02;

/// Linux's figures the Septa ones are compared with.
pub const LINUX_NULL_SYSCALL: &str = "null-syscall";
pub const LINUX_PIPE: &str = "pipe";
pub const LINUX_FUTEX: &str = "futex";
/// Septa's figure the goal is about.
pub const SEPTA_IPC_NULL: &str = "ipc-null";
/// The goal: an IPC round trip within this many Linux null system calls.
pub const GOAL_RATIO: f64 = 3.0;

/// One `BENCH` line: `iterations` operations took `total_nanoseconds`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub name: String,
    pub iterations: u64,
    pub total_nanoseconds: u64,
}

impl Figure {
    /// Nanoseconds per operation; under `-icount shift=0`, guest
    /// instructions per operation.
    pub fn per_operation(&self) -> f64 {
        self.total_nanoseconds as f64 / self.iterations as f64
    }
}

/// Reads one console line: `None` if it is not a `BENCH` line, an error if
/// it is one but malformed.
pub fn parse_bench_line(line: &str) -> Option<Result<Figure, String>> {
    let rest = line.trim().strip_prefix("BENCH ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let [name, iterations, total] = fields[..] else {
        return Some(Err(format!(
            "expected `BENCH <name> <iterations> <total_nanoseconds>`, got `{}`",
            line.trim()
        )));
    };
    let number = |text: &str, what: &str| {
        text.parse::<u64>().map_err(|_| {
            format!(
                "`{text}` is not a whole number of {what} in `{}`",
                line.trim()
            )
        })
    };
    let figure = number(iterations, "iterations").and_then(|iterations| {
        if iterations == 0 {
            return Err(format!("zero iterations in `{}`", line.trim()));
        }
        Ok(Figure {
            name: name.to_owned(),
            iterations,
            total_nanoseconds: number(total, "nanoseconds")?,
        })
    });
    Some(figure)
}

/// Everything one boot printed in the protocol.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Console {
    pub figures: Vec<Figure>,
    /// `INFO` lines, in order: (key, text).
    pub information: Vec<(String, String)>,
    /// `BENCH-ERROR` lines and malformed `BENCH` lines.
    pub errors: Vec<String>,
    /// Whether `BENCH-END` was seen.
    pub ended: bool,
}

impl Console {
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Console {
        let mut console = Console::default();
        for line in lines {
            let line = line.as_ref().trim();
            if line == "BENCH-END" {
                console.ended = true;
            } else if let Some(error) = line.strip_prefix("BENCH-ERROR") {
                console.errors.push(error.trim().to_owned());
            } else if let Some(information) = line.strip_prefix("INFO ") {
                let (key, text) = information.split_once(' ').unwrap_or((information, ""));
                console
                    .information
                    .push((key.to_owned(), text.trim().to_owned()));
            } else {
                match parse_bench_line(line) {
                    Some(Ok(figure)) => console.figures.push(figure),
                    Some(Err(error)) => console.errors.push(error),
                    None => {}
                }
            }
        }
        console
    }

    /// Several boots of one system as one: for each figure the fastest boot's
    /// (host load only ever slows an emulated guest down), the first boot's
    /// information, and every boot's errors.
    pub fn best_of(consoles: &[Console]) -> Console {
        let mut best = Console {
            ended: !consoles.is_empty(),
            ..Console::default()
        };
        for console in consoles {
            if best.information.is_empty() {
                best.information = console.information.clone();
            }
            best.errors.extend(console.errors.iter().cloned());
            best.ended &= console.ended;
            for figure in &console.figures {
                match best
                    .figures
                    .iter_mut()
                    .find(|kept| kept.name == figure.name)
                {
                    Some(kept) if figure.per_operation() < kept.per_operation() => {
                        *kept = figure.clone()
                    }
                    Some(_) => {}
                    None => best.figures.push(figure.clone()),
                }
            }
        }
        best
    }

    pub fn figure(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.name == name)
    }

    pub fn information(&self, key: &str) -> Option<&str> {
        self.information
            .iter()
            .find(|(candidate, _)| candidate == key)
            .map(|(_, text)| text.as_str())
    }
}

/// One system's two boots: wall clock, and guest instructions.
#[derive(Clone, Debug, PartialEq)]
pub struct Runs {
    pub wall: Console,
    /// The boot under `-icount shift=0`, unless it was skipped.
    pub icount: Option<Console>,
}

impl Runs {
    pub fn nanoseconds(&self, name: &str) -> Option<f64> {
        self.wall.figure(name).map(Figure::per_operation)
    }

    pub fn instructions(&self, name: &str) -> Option<f64> {
        self.icount
            .as_ref()?
            .figure(name)
            .map(Figure::per_operation)
    }

    /// Guest instructions counted per actual instruction by the 2-instruction
    /// loop under icount: 1.0 means icount's 1 ns per instruction holds.
    pub fn instruction_check(&self) -> Option<f64> {
        self.instructions(LOOP_FIGURE)
            .map(|per_iteration| per_iteration / LOOP_INSTRUCTIONS)
    }

    /// Guest instructions TCG ran per nanosecond of guest time, from the
    /// loop in the wall-clock run.
    pub fn tcg_speed(&self) -> Option<f64> {
        self.nanoseconds(LOOP_FIGURE)
            .map(|per_iteration| LOOP_INSTRUCTIONS / per_iteration)
    }
}

/// Septa's side: measured, or why not.
#[derive(Clone, Debug, PartialEq)]
pub enum Septa {
    Measured(Runs),
    Unavailable(String),
}

/// What one architecture's part of the run was: shown above its tables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Setting {
    pub date: String,
    /// How long this architecture's part of the run took.
    pub duration_seconds: u64,
    pub qemu_version: String,
    pub host_cpu: String,
    /// The guest's `-cpu` model, as on the machine line.
    pub cpu_model: String,
    /// The Debian package the kernel came from, for example
    /// `linux-image-6.1.0-56-amd64 6.1.192-2`.
    pub linux_package: String,
    pub linux_command: String,
    pub septa_command: Option<String>,
    /// How many wall-clock boots of each system the figures are the best of.
    pub wall_boots: usize,
    /// The argument added for the instruction-count boots, if they ran.
    pub icount_argument: Option<String>,
    /// The two instructions of the calibration loop, for example `dec; jnz`.
    pub loop_instructions: String,
}

/// Everything one architecture's section is made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub architecture: Architecture,
    pub setting: Setting,
    pub linux: Runs,
    pub septa: Septa,
    /// The POSIX paths: Linux's figures are in `linux`, Septa's here.
    pub posix: Posix,
}

/// A readable label for a figure's name.
pub fn label(name: &str) -> String {
    match name {
        "null-syscall" => "null system call (`getppid`)".to_owned(),
        "pipe" => "pipe round trip, 1 byte, two processes".to_owned(),
        "unix-stream" => "AF_UNIX stream round trip, 1 byte, two processes".to_owned(),
        "futex" => "futex round trip, two threads".to_owned(),
        "ipc-null" => "IPC round trip, empty message, monitor on".to_owned(),
        "ipc-4k" => "IPC round trip, 4 KiB message, monitor on".to_owned(),
        "septa-null-syscall" => "null system call".to_owned(),
        other => format!("`{other}`"),
    }
}

/// A per-operation quantity with as many decimals as are meaningful.
pub fn format_quantity(value: Option<f64>) -> String {
    match value {
        None => "–".to_owned(),
        Some(value) if value >= 100.0 => format!("{value:.0}"),
        Some(value) if value >= 10.0 => format!("{value:.1}"),
        Some(value) => format!("{value:.2}"),
    }
}

/// `numerator / denominator` as `2.31`, or a dash when either is missing.
pub fn format_ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(numerator), Some(denominator)) if denominator > 0.0 => {
            format!("{:.2}", numerator / denominator)
        }
        _ => "–".to_owned(),
    }
}

/// The goal line: how Septa's empty-message IPC round trip compares with
/// three Linux null system calls.
pub fn goal_line(linux: &Runs, septa: &Septa) -> String {
    let prefix = format!("IPC round trip <= {GOAL_RATIO:.0} x Linux null system call:");
    let runs = match septa {
        Septa::Measured(runs) => runs,
        Septa::Unavailable(reason) => return format!("{prefix} not measured ({reason})"),
    };
    let (Some(ipc), Some(syscall)) = (
        runs.nanoseconds(SEPTA_IPC_NULL),
        linux.nanoseconds(LINUX_NULL_SYSCALL),
    ) else {
        return format!(
            "{prefix} not measured (no `{SEPTA_IPC_NULL}` or `{LINUX_NULL_SYSCALL}` figure)"
        );
    };
    let ratio = ipc / syscall;
    let mut line = format!("{prefix} measured {ratio:.2} x");
    if let (Some(ipc), Some(syscall)) = (
        runs.instructions(SEPTA_IPC_NULL),
        linux.instructions(LINUX_NULL_SYSCALL),
    ) {
        let _ = write!(line, " ({:.2} x in guest instructions)", ipc / syscall);
    }
    if ratio <= GOAL_RATIO {
        line.push_str(": met");
    } else {
        let _ = write!(
            line,
            ": not met, {:.2} x slower than the goal",
            ratio / GOAL_RATIO
        );
    }
    line
}

/// One architecture's section of `docs/benchmarks.md`, also printed to
/// stdout.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let setting = &report.setting;
    let linux = &report.linux;
    let _ = writeln!(
        out,
        "### {}: results of {}\n",
        report.architecture, setting.date
    );
    let _ = writeln!(out, "**{}**\n", goal_line(linux, &report.septa));
    let _ = writeln!(out, "**{}**\n", posix::goal_line(linux, &report.posix));
    let _ = writeln!(out, "**{}**\n", posix::file_goal_line(linux, &report.posix));
    let _ = writeln!(
        out,
        "Generated by `cargo xtask bench`, this architecture's part in {} s; every figure is from the same run.\n",
        setting.duration_seconds
    );

    out.push_str("| Setting | Value |\n| --- | --- |\n");
    let mut row = |key: &str, value: &str| {
        let _ = writeln!(out, "| {key} | {} |", value.replace('|', "\\|"));
    };
    row("QEMU", &setting.qemu_version);
    row("Host CPU", &setting.host_cpu);
    row(
        "Guest CPU",
        &format!("`-cpu {}`, one CPU (`-smp 1`)", setting.cpu_model),
    );
    row("Linux kernel package", &setting.linux_package);
    if let Some(release) = linux.wall.information("kernel") {
        row("Linux `uname`", release);
    }
    row(
        "Linux command line",
        &format!("`{}`", setting.linux_command),
    );
    if let Some(cmdline) = linux.wall.information("cmdline") {
        row("Linux `/proc/cmdline`", &format!("`{cmdline}`"));
    }
    for (key, what) in [
        ("meltdown", "Linux `vulnerabilities/meltdown`"),
        (
            "kpti",
            "Linux page-table isolation (KPTI), from its kernel log",
        ),
        (
            "kpti-inputs",
            "Linux kernel log on E0PD and KASLR (without E0PD, arm64 Linux uses KPTI to hide a randomised kernel)",
        ),
        ("spectre_v2", "Linux `vulnerabilities/spectre_v2`"),
        ("clocksource", "Linux clock source"),
    ] {
        if let Some(text) = linux.wall.information(key) {
            row(what, text);
        }
    }
    match &setting.septa_command {
        Some(command) => row("Septa command line", &format!("`{command}`")),
        None => row("Septa command line", "–"),
    }
    row(
        "Wall-clock figures",
        &format!(
            "best of {} boots of each system, Linux and Septa alternating (host load only slows a guest down)",
            setting.wall_boots
        ),
    );
    if let Some(speed) = linux.tcg_speed() {
        row(
            "TCG speed",
            &format!("{speed:.2} guest instructions per ns on a register loop (Linux guest)"),
        );
    }
    match (&setting.icount_argument, linux.instruction_check()) {
        (None, _) => row("Instruction counts", "skipped (`--skip-icount`)"),
        (Some(argument), Some(check)) => {
            let verdict = if (check - 1.0).abs() <= LOOP_TOLERANCE {
                "holds"
            } else {
                "does NOT hold: instruction counts are suspect"
            };
            row(
                "Instruction counts",
                &format!(
                    "second boot with `{argument}`, 1 ns of guest time per guest instruction; \
                     check: a `{}` loop read {check:.3} ns per instruction on Linux, the assumption {verdict}",
                    setting.loop_instructions
                ),
            );
        }
        (Some(argument), None) => row(
            "Instruction counts",
            &format!("second boot with `{argument}`; the loop check did not report"),
        ),
    }
    if let Septa::Measured(septa) = &report.septa {
        let check = match septa.instruction_check() {
            Some(check) => {
                format!("{check:.3} ns per instruction on Septa's own `{LOOP_FIGURE}` loop")
            }
            None if setting.icount_argument.is_some() => format!(
                "not checked: Septa printed no `{LOOP_FIGURE}` figure, so its instruction counts assume \
                 its clock runs on QEMU's virtual clock"
            ),
            None => "–".to_owned(),
        };
        row("Septa instruction-count check", &check);
    }
    out.push('\n');

    out.push_str("#### Linux\n\n");
    out.push_str(
        "| Operation | Iterations | ns/op | Instructions/op |\n| --- | ---: | ---: | ---: |\n",
    );
    for figure in linux
        .wall
        .figures
        .iter()
        .filter(|figure| figure.name != LOOP_FIGURE && !posix::is_posix_figure(&figure.name))
    {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            label(&figure.name),
            figure.iterations,
            format_quantity(Some(figure.per_operation())),
            format_quantity(linux.instructions(&figure.name)),
        );
    }
    out.push('\n');

    out.push_str("#### Septa\n\n");
    match &report.septa {
        Septa::Unavailable(reason) => {
            let _ = writeln!(out, "Septa bench image not available: {reason}.");
        }
        Septa::Measured(septa) => {
            out.push_str(
                "Ratios are Septa's figure over Linux's: wall-clock time, then guest instructions in brackets.\n\n",
            );
            out.push_str(
                "| Operation | Iterations | ns/op | Instructions/op | x Linux null syscall | x Linux pipe | x Linux futex |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            );
            for figure in septa
                .wall
                .figures
                .iter()
                .filter(|figure| figure.name != LOOP_FIGURE)
            {
                let ratios = [LINUX_NULL_SYSCALL, LINUX_PIPE, LINUX_FUTEX].map(|baseline| {
                    format!(
                        "{} ({})",
                        format_ratio(septa.nanoseconds(&figure.name), linux.nanoseconds(baseline)),
                        format_ratio(
                            septa.instructions(&figure.name),
                            linux.instructions(baseline)
                        ),
                    )
                });
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    label(&figure.name),
                    figure.iterations,
                    format_quantity(Some(figure.per_operation())),
                    format_quantity(septa.instructions(&figure.name)),
                    ratios[0],
                    ratios[1],
                    ratios[2],
                );
            }
            if septa.wall.figures.is_empty() {
                out.push_str("| (Septa printed no `BENCH` line) | | | | | | |\n");
            }
            for error in septa
                .wall
                .errors
                .iter()
                .chain(septa.icount.iter().flat_map(|console| &console.errors))
            {
                let _ = writeln!(out, "\nSepta reported: {error}");
            }
        }
    }
    out.push('\n');
    out.push_str(&posix::render(linux, &report.posix));
    out.push('\n');
    out.push_str(&posix::render_files(linux, &report.posix));
    out
}

/// Marks the generated part of `docs/benchmarks.md`.
pub const BEGIN_MARKER: &str = "<!-- bench:begin -->";
pub const END_MARKER: &str = "<!-- bench:end -->";

/// The start of the generated part, before the architectures' sections.
const RESULTS_HEADING: &str = "## Results\n\n\
    One section per architecture. `cargo xtask bench` measures every architecture and rewrites \
    every section; `cargo xtask bench --arch <arch>` rewrites only that architecture's and keeps \
    the others as they were, so the date heading each section says when it was measured.\n";

/// The markers around one architecture's section inside the generated part.
fn section_markers(architecture: Architecture) -> (String, String) {
    (
        format!("<!-- bench:{architecture}:begin -->"),
        format!("<!-- bench:{architecture}:end -->"),
    )
}

/// The text between `begin` and `end` in `text`, if both are there in order.
fn between<'a>(text: &'a str, begin: &str, end: &str) -> Option<(usize, &'a str, usize)> {
    let start = text.find(begin)?;
    let finish = start + text[start..].find(end)?;
    Some((
        start,
        &text[start + begin.len()..finish],
        finish + end.len(),
    ))
}

/// `docs/benchmarks.md` with its generated part rebuilt: a section for each
/// architecture in `sections`, in [`Architecture::ALL`]'s order, and for
/// every other architecture the section the document already had, if any.
/// Everything outside the markers stays as it was written by hand.
pub fn update_document(
    existing: Option<&str>,
    sections: &[(Architecture, String)],
    default_introduction: &str,
) -> String {
    let (before, previous, after) = match existing {
        None => (format!("{}\n\n", default_introduction.trim_end()), "", ""),
        Some(existing) => match between(existing, BEGIN_MARKER, END_MARKER) {
            Some((start, previous, finish)) => {
                let after = &existing[finish..];
                (
                    existing[..start].to_owned(),
                    previous,
                    after.strip_prefix('\n').unwrap_or(after),
                )
            }
            None => (format!("{}\n\n", existing.trim_end()), "", ""),
        },
    };
    let mut generated = format!("{BEGIN_MARKER}\n{RESULTS_HEADING}");
    for architecture in Architecture::ALL {
        let (begin, end) = section_markers(architecture);
        let section = match sections
            .iter()
            .find(|(measured, _)| *measured == architecture)
        {
            Some((_, text)) => Some(text.as_str()),
            None => between(previous, &begin, &end).map(|(_, text, _)| text),
        };
        if let Some(section) = section {
            let _ = write!(generated, "\n{begin}\n{}\n{end}\n", section.trim());
        }
    }
    format!("{before}{generated}{END_MARKER}\n{after}")
}

/// The civil date (UTC) of a Unix time, as `YYYY-MM-DD`.
///
/// Howard Hinnant's `civil_from_days`, so the build tool needs no date crate.
pub fn date_of(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(name: &str, iterations: u64, total_nanoseconds: u64) -> Figure {
        Figure {
            name: name.to_owned(),
            iterations,
            total_nanoseconds,
        }
    }

    fn console(figures: Vec<Figure>) -> Console {
        Console {
            figures,
            ended: true,
            ..Console::default()
        }
    }

    #[test]
    fn parses_bench_lines() {
        assert_eq!(
            parse_bench_line("BENCH pipe 4929 515523355"),
            Some(Ok(figure("pipe", 4929, 515523355)))
        );
        // Serial consoles end lines with \r; surrounding blanks are tolerated.
        assert_eq!(
            parse_bench_line("  BENCH ipc-4k 10 20\r"),
            Some(Ok(figure("ipc-4k", 10, 20)))
        );
        assert_eq!(parse_bench_line("[    1.6] clocksource: Switched"), None);
        assert_eq!(parse_bench_line("BENCH-END"), None);
        assert_eq!(parse_bench_line("INFO meltdown Not affected"), None);
    }

    #[test]
    fn rejects_malformed_bench_lines() {
        for line in [
            "BENCH pipe 10",
            "BENCH pipe 10 20 30",
            "BENCH pipe ten 20",
            "BENCH pipe 10 -5",
            "BENCH pipe 0 20",
            "BENCH pipe 10 99999999999999999999999",
        ] {
            assert!(matches!(parse_bench_line(line), Some(Err(_))), "{line}");
        }
    }

    #[test]
    fn reads_a_whole_console() {
        let lines = [
            "[    1.45] Run /init as init process",
            "INFO kernel 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2",
            "INFO meltdown Not affected",
            "BENCH null-syscall 877114 492251439",
            "BENCH broken",
            "BENCH-ERROR fork: Out of memory",
            "BENCH-END",
        ];
        let console = Console::parse(&lines);
        assert_eq!(console.figures, [figure("null-syscall", 877114, 492251439)]);
        assert_eq!(console.information("meltdown"), Some("Not affected"));
        assert_eq!(
            console.information("kernel"),
            Some("6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2")
        );
        assert_eq!(console.errors.len(), 2);
        assert!(console.errors[1].contains("Out of memory"));
        assert!(console.ended);
        assert!(!Console::parse(&["BENCH pipe 1 2"]).ended);
    }

    #[test]
    fn best_of_takes_each_figures_fastest_boot() {
        let first = Console {
            information: vec![("kernel".to_owned(), "6.1".to_owned())],
            ..console(vec![figure("a", 10, 100), figure("b", 10, 100)])
        };
        let second = Console {
            errors: vec!["late".to_owned()],
            ended: false,
            ..console(vec![
                figure("b", 20, 100),
                figure("a", 20, 400),
                figure("c", 1, 1),
            ])
        };
        let best = Console::best_of(&[first, second]);
        assert_eq!(
            best.figures,
            [
                figure("a", 10, 100),
                figure("b", 20, 100),
                figure("c", 1, 1)
            ]
        );
        assert_eq!(best.information("kernel"), Some("6.1"));
        assert_eq!(best.errors, ["late"]);
        assert!(!best.ended);
        assert!(!Console::best_of(&[]).ended);
    }

    #[test]
    fn per_operation_divides() {
        assert_eq!(figure("x", 4, 10).per_operation(), 2.5);
    }

    #[test]
    fn formats_quantities_and_ratios() {
        assert_eq!(format_quantity(Some(561.2)), "561");
        assert_eq!(format_quantity(Some(12.345)), "12.3");
        assert_eq!(format_quantity(Some(2.0014)), "2.00");
        assert_eq!(format_quantity(None), "–");
        assert_eq!(format_ratio(Some(1683.0), Some(561.0)), "3.00");
        assert_eq!(format_ratio(Some(1.0), Some(3.0)), "0.33");
        assert_eq!(format_ratio(None, Some(1.0)), "–");
        assert_eq!(format_ratio(Some(1.0), Some(0.0)), "–");
    }

    fn linux() -> Runs {
        Runs {
            wall: Console {
                information: vec![("kpti".to_owned(), "off".to_owned())],
                ..console(vec![
                    figure("null-syscall", 1000, 500_000),
                    figure("pipe", 100, 10_000_000),
                    figure("futex", 100, 2_000_000),
                    figure("loop-2insn", 1000, 1000),
                    figure("posix-clock-gettime", 1000, 40_000),
                ])
            },
            icount: Some(console(vec![
                figure("null-syscall", 1000, 300_000),
                figure("pipe", 100, 1_300_000),
                figure("futex", 100, 1_000_000),
                figure("loop-2insn", 1000, 2002),
            ])),
        }
    }

    fn septa(ipc_null_total: u64) -> Septa {
        Septa::Measured(Runs {
            wall: console(vec![
                figure("ipc-null", 1000, ipc_null_total),
                figure("ipc-4k", 1000, 4_000_000),
            ]),
            icount: Some(console(vec![
                figure("ipc-null", 1000, 900_000),
                figure("ipc-4k", 1000, 2_000_000),
            ])),
        })
    }

    #[test]
    fn goal_line_states_the_ratio_and_verdict() {
        assert_eq!(
            goal_line(&linux(), &septa(2_000_000)),
            "IPC round trip <= 3 x Linux null system call: measured 4.00 x (3.00 x in guest instructions): \
             not met, 1.33 x slower than the goal"
        );
        assert_eq!(
            goal_line(&linux(), &septa(1_000_000)),
            "IPC round trip <= 3 x Linux null system call: measured 2.00 x (3.00 x in guest instructions): met"
        );
        assert_eq!(
            goal_line(
                &linux(),
                &Septa::Unavailable("no systems/bench.toml".to_owned())
            ),
            "IPC round trip <= 3 x Linux null system call: not measured (no systems/bench.toml)"
        );
    }

    #[test]
    fn icount_check_and_tcg_speed_come_from_the_loop() {
        let linux = linux();
        assert!((linux.instruction_check().unwrap() - 1.001).abs() < 1e-9);
        assert_eq!(linux.tcg_speed(), Some(2.0));
        let without = Runs {
            icount: None,
            ..linux
        };
        assert_eq!(without.instruction_check(), None);
        assert_eq!(without.instructions("pipe"), None);
    }

    fn report(septa: Septa) -> Report {
        Report {
            architecture: Architecture::X86_64,
            setting: Setting {
                date: "2026-11-21".to_owned(),
                duration_seconds: 42,
                qemu_version: "QEMU emulator version 7.2.22".to_owned(),
                host_cpu: "Some CPU".to_owned(),
                cpu_model: "max".to_owned(),
                linux_package: "linux-image-6.1.0-56-amd64 6.1.192-2".to_owned(),
                linux_command: "qemu-system-x86_64 -M microvm".to_owned(),
                septa_command: None,
                wall_boots: 3,
                icount_argument: Some("-icount shift=0".to_owned()),
                loop_instructions: "dec; jnz".to_owned(),
            },
            linux: linux(),
            septa,
            posix: Posix {
                linux_build: Ok("clang-19".to_owned()),
                septa_build: Ok("x86_64-septa-cc".to_owned()),
                septa_command: None,
                septa: Septa::Unavailable("not booted".to_owned()),
            },
        }
    }

    #[test]
    fn table_has_linux_rows_and_septa_ratios() {
        let text = render(&report(septa(2_000_000)));
        assert!(text.contains("### x86_64: results of 2026-11-21"), "{text}");
        assert!(
            text.contains("| Guest CPU | `-cpu max`, one CPU (`-smp 1`) |"),
            "{text}"
        );
        assert!(
            text.contains("| Linux page-table isolation (KPTI), from its kernel log | off |"),
            "{text}"
        );
        // Only arm64's program reports the kernel log on E0PD and KASLR.
        assert!(!text.contains("E0PD"), "{text}");
        assert!(
            text.contains("| null system call (`getppid`) | 1000 | 500 | 300 |"),
            "{text}"
        );
        assert!(
            text.contains("| pipe round trip, 1 byte, two processes | 100 | 100000 | 13000 |"),
            "{text}"
        );
        // The loop is a check, not a figure; the POSIX figures have their own table.
        assert!(!text.contains("| `loop-2insn`"), "{text}");
        assert!(!text.contains("| `posix-clock-gettime`"), "{text}");
        assert!(
            text.contains("#### POSIX paths without a server")
                && text.contains("| Linux program | `clang-19` |")
                && text.contains("Septa's POSIX program not measured: not booted."),
            "{text}"
        );
        assert!(
            text.contains(
                "a `dec; jnz` loop read 1.001 ns per instruction on Linux, the assumption holds"
            ),
            "{text}"
        );
        // ipc-null: 2000 ns, 900 instructions; null syscall 500 ns / 300;
        // pipe 100000 / 13000; futex 20000 / 10000.
        assert!(
            text.contains(
                "| IPC round trip, empty message, monitor on | 1000 | 2000 | 900 | 4.00 (3.00) | 0.02 (0.07) | 0.10 (0.09) |"
            ),
            "{text}"
        );
        assert!(text.contains("measured 4.00 x"), "{text}");
    }

    #[test]
    fn table_says_when_septa_is_missing() {
        let text = render(&report(Septa::Unavailable(
            "systems/bench.toml does not exist".to_owned(),
        )));
        assert!(
            text.contains("Septa bench image not available: systems/bench.toml does not exist."),
            "{text}"
        );
        assert!(text.contains("not measured"), "{text}");
    }

    #[test]
    fn table_without_icount_has_dashes() {
        let mut report = report(septa(1_000_000));
        report.linux.icount = None;
        report.setting.icount_argument = None;
        let text = render(&report);
        assert!(
            text.contains("| null system call (`getppid`) | 1000 | 500 | – |"),
            "{text}"
        );
        assert!(text.contains("skipped (`--skip-icount`)"), "{text}");
    }

    /// The generated part with these sections, as [`update_document`] writes it.
    fn generated(sections: &[(&str, &str)]) -> String {
        let mut text = format!("{BEGIN_MARKER}\n{RESULTS_HEADING}");
        for (architecture, section) in sections {
            text.push_str(&format!(
                "\n<!-- bench:{architecture}:begin -->\n{section}\n<!-- bench:{architecture}:end -->\n"
            ));
        }
        text + END_MARKER + "\n"
    }

    #[test]
    fn document_keeps_the_hand_written_parts() {
        let existing =
            "# Benchmarks\n\nIntro.\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\nOutro.\n";
        let new = [(Architecture::X86_64, "new\n".to_owned())];
        assert_eq!(
            update_document(Some(existing), &new, "unused"),
            format!(
                "# Benchmarks\n\nIntro.\n\n{}\nOutro.\n",
                generated(&[("x86_64", "new")])
            )
        );
        assert_eq!(
            update_document(Some("# Mine\n"), &new, "unused"),
            format!("# Mine\n\n{}", generated(&[("x86_64", "new")]))
        );
        assert_eq!(
            update_document(None, &new, "# Benchmarks\n"),
            format!("# Benchmarks\n\n{}", generated(&[("x86_64", "new")]))
        );
    }

    #[test]
    fn document_sections_go_in_architecture_order() {
        let both = [
            (Architecture::Aarch64, "arm".to_owned()),
            (Architecture::X86_64, "x86".to_owned()),
        ];
        assert_eq!(
            update_document(None, &both, "# B\n"),
            format!(
                "# B\n\n{}",
                generated(&[("x86_64", "x86"), ("aarch64", "arm")])
            )
        );
    }

    #[test]
    fn document_keeps_the_sections_not_measured() {
        let existing = format!(
            "# B\n\n{}\nOutro.\n",
            generated(&[("x86_64", "old x86"), ("aarch64", "old arm")])
        );
        let arm = [(Architecture::Aarch64, "new arm".to_owned())];
        assert_eq!(
            update_document(Some(&existing), &arm, "unused"),
            format!(
                "# B\n\n{}\nOutro.\n",
                generated(&[("x86_64", "old x86"), ("aarch64", "new arm")])
            )
        );
        // A document from before the sections keeps nothing of the old table.
        let old = "# B\n\n<!-- bench:begin -->\n## Results of 2026-11-21\n<!-- bench:end -->\n";
        assert_eq!(
            update_document(Some(old), &arm, "unused"),
            format!("# B\n\n{}", generated(&[("aarch64", "new arm")]))
        );
    }

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(951_782_400), "2000-02-29");
        assert_eq!(date_of(1_700_000_000), "2023-11-14");
    }
}
