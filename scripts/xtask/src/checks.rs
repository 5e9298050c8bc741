//! The result protocol of system tests and the tally that ends `cargo xtask test`.
//!
//! A test entity reports on the console, one line per check:
//!
//! ```text
//! [check] PLAN 3
//! [check] PASS echo-round-trip
//! [check] FAIL open-denied: expected EACCES, got 0
//! ```
//!
//! `PLAN <n>` is optional and says how many results are coming; results that
//! never arrive (the system crashed, hung or forgot them) count as failures
//! named "missing check". Several entities of one system may each print a
//! plan: the plans add up. `BOOT <n>` says which boot the entity believes this is, for systems
//! booted several times on one disk (`[system] boots`): a system that says another number than
//! the boot it is fails, so state that did not survive a reboot cannot pass for a first boot.
//! The marker may follow a prefix (for example a tag
//! the kernel puts before an entity's console output), so it is searched for
//! anywhere in the line.

/// The marker that starts a check line.
pub const MARKER: &str = "[check] ";

/// One check line, as read from the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckLine<'a> {
    Pass {
        name: &'a str,
    },
    Fail {
        name: &'a str,
        detail: &'a str,
    },
    Plan {
        count: u64,
    },
    Boot {
        number: u64,
    },
    /// A line with the marker that does not follow the protocol: reported as
    /// a failure so that a typo in a test cannot hide a result.
    Malformed {
        text: &'a str,
    },
}

/// Reads one console line; `None` when it is not a check line.
pub fn parse_line(line: &str) -> Option<CheckLine<'_>> {
    let start = line.find(MARKER)?;
    let text = line[start + MARKER.len()..]
        .trim_end_matches(['\r', '\n'])
        .trim();
    let malformed = CheckLine::Malformed { text };
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim();
    let check = match verb {
        "PASS" if !rest.is_empty() => CheckLine::Pass { name: rest },
        "FAIL" if !rest.is_empty() => match rest.split_once(':') {
            Some((name, detail)) if !name.trim().is_empty() => CheckLine::Fail {
                name: name.trim(),
                detail: detail.trim(),
            },
            Some(_) => malformed,
            None => CheckLine::Fail {
                name: rest,
                detail: "",
            },
        },
        "PLAN" => match rest.parse() {
            Ok(count) => CheckLine::Plan { count },
            Err(_) => malformed,
        },
        "BOOT" => match rest.parse() {
            Ok(number) => CheckLine::Boot { number },
            Err(_) => malformed,
        },
        _ => malformed,
    };
    Some(check)
}

/// The outcome of the checks one system printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsoleChecks {
    pub passed: u64,
    /// One entry per failed check, missing ones included.
    pub failures: Vec<String>,
    /// The sum of the `PLAN` lines, if there was any.
    pub planned: Option<u64>,
    /// The boot numbers the `BOOT` lines gave.
    pub boots: Vec<u64>,
}

/// The failure name given to each planned result that never arrived.
pub const MISSING: &str = "missing check";

/// Tallies the check lines of one console log.
pub fn tally_console<'a>(lines: impl IntoIterator<Item = &'a str>) -> ConsoleChecks {
    let mut checks = ConsoleChecks::default();
    let mut reported = 0_u64;
    for line in lines {
        match parse_line(line) {
            None => {}
            Some(CheckLine::Pass { .. }) => {
                checks.passed += 1;
                reported += 1;
            }
            Some(CheckLine::Fail { name, detail }) => {
                reported += 1;
                checks.failures.push(if detail.is_empty() {
                    name.to_owned()
                } else {
                    format!("{name}: {detail}")
                });
            }
            Some(CheckLine::Plan { count }) => {
                checks.planned = Some(checks.planned.unwrap_or(0) + count);
            }
            Some(CheckLine::Boot { number }) => checks.boots.push(number),
            Some(CheckLine::Malformed { text }) => {
                checks
                    .failures
                    .push(format!("malformed check line: {MARKER}{text}"));
            }
        }
    }
    if let Some(planned) = checks.planned {
        for _ in reported..planned {
            checks.failures.push(MISSING.to_owned());
        }
    }
    checks
}

/// The closing line of `cargo xtask test`, alone on its line.
pub fn summary_line(passed: u64, failed: u64) -> String {
    format!("{passed} passed, {failed} failed")
}

/// The running total of `cargo xtask test`: host unit tests and system checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    /// What failed, one line each, printed again before the closing line.
    pub failures: Vec<String>,
}

impl Tally {
    /// Records one failure that counts once.
    pub fn fail(&mut self, description: impl Into<String>) {
        self.failed += 1;
        self.failures.push(description.into());
    }

    /// Adds the checks of one system, naming the failures after it.
    pub fn add_console(&mut self, system: &str, checks: &ConsoleChecks) {
        self.passed += checks.passed;
        for failure in &checks.failures {
            self.fail(format!("{system}: {failure}"));
        }
    }

    /// The closing line for this tally.
    pub fn summary_line(&self) -> String {
        summary_line(self.passed, self.failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_lines_are_collected() {
        let console = ["[check] BOOT 2", "[check] PASS kept", "[check] BOOT two"];
        let checks = tally_console(console);
        assert_eq!(checks.boots, [2]);
        assert_eq!(checks.passed, 1);
        assert_eq!(checks.failures, ["malformed check line: [check] BOOT two"]);
    }

    #[test]
    fn parses_pass_fail_and_plan() {
        assert_eq!(
            parse_line("[check] PASS echo"),
            Some(CheckLine::Pass { name: "echo" })
        );
        assert_eq!(
            parse_line("[check] FAIL open-denied: expected EACCES, got 0\r"),
            Some(CheckLine::Fail {
                name: "open-denied",
                detail: "expected EACCES, got 0"
            })
        );
        assert_eq!(
            parse_line("[check] FAIL no-detail"),
            Some(CheckLine::Fail {
                name: "no-detail",
                detail: ""
            })
        );
        assert_eq!(
            parse_line("[check] PLAN 12"),
            Some(CheckLine::Plan { count: 12 })
        );
    }

    #[test]
    fn finds_the_marker_after_a_prefix() {
        assert_eq!(
            parse_line("[echo-test] [check] PASS round-trip"),
            Some(CheckLine::Pass { name: "round-trip" })
        );
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(parse_line("Septa booting"), None);
        assert_eq!(parse_line("[checked] PASS x"), None);
        assert_eq!(parse_line(""), None);
    }

    #[test]
    fn reports_malformed_lines() {
        for line in [
            "[check] PASS",
            "[check] PLAN many",
            "[check] SKIP x",
            "[check] FAIL : why",
        ] {
            assert!(
                matches!(parse_line(line), Some(CheckLine::Malformed { .. })),
                "{line:?} should be malformed"
            );
        }
    }

    #[test]
    fn tallies_a_console() {
        let console = [
            "Septa 0.1.0",
            "[check] PLAN 3",
            "[check] PASS a",
            "[check] FAIL b: wrong errno",
            "[check] PASS c",
        ];
        let checks = tally_console(console);
        assert_eq!(checks.passed, 2);
        assert_eq!(checks.failures, ["b: wrong errno"]);
        assert_eq!(checks.planned, Some(3));
    }

    #[test]
    fn counts_missing_results_as_failed() {
        let checks = tally_console(["[check] PLAN 4", "[check] PASS a"]);
        assert_eq!(checks.passed, 1);
        assert_eq!(checks.failures, [MISSING, MISSING, MISSING]);
    }

    #[test]
    fn plans_of_several_entities_add_up() {
        let checks = tally_console(["[check] PLAN 1", "[check] PLAN 2", "[check] PASS a"]);
        assert_eq!(checks.planned, Some(3));
        assert_eq!(checks.failures.len(), 2);
    }

    #[test]
    fn extra_results_beyond_the_plan_are_kept() {
        let checks = tally_console(["[check] PLAN 1", "[check] PASS a", "[check] PASS b"]);
        assert_eq!(checks.passed, 2);
        assert!(checks.failures.is_empty());
    }

    #[test]
    fn without_a_plan_nothing_is_missing() {
        let checks = tally_console(["[check] PASS a"]);
        assert_eq!(
            (checks.passed, checks.failures.len(), checks.planned),
            (1, 0, None)
        );
    }

    #[test]
    fn summary_line_format() {
        assert_eq!(summary_line(12, 0), "12 passed, 0 failed");
        let mut tally = Tally {
            passed: 3,
            ..Tally::default()
        };
        tally.add_console(
            "demo",
            &tally_console(["[check] PLAN 2", "[check] FAIL x: y"]),
        );
        tally.fail("system demo: timed out after 300 s");
        assert_eq!(tally.summary_line(), "3 passed, 3 failed");
        assert_eq!(
            tally.failures,
            [
                "demo: x: y",
                "demo: missing check",
                "system demo: timed out after 300 s"
            ]
        );
    }
}
