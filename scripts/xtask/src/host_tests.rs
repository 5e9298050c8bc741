//! Host unit tests: `cargo test` of every workspace package that runs on the
//! host, with its results read from libtest's closing lines.

use std::process::Stdio;
use std::thread;

use anyhow::{Context, Result};

use crate::checks::Tally;
use crate::stream;
use crate::workspace::{self, Workspace};

/// The counts of one libtest `test result:` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestResult {
    pub passed: u64,
    pub failed: u64,
}

/// Reads `test result: ok. 3 passed; 1 failed; 0 ignored; ...`.
pub fn parse_test_result(line: &str) -> Option<TestResult> {
    let rest = line.trim().strip_prefix("test result: ")?;
    // "ok. 3 passed; 0 failed; ..." or "FAILED. 1 passed; 2 failed; ..."
    let (_, counts) = rest.split_once(". ")?;
    let mut result = TestResult::default();
    let mut seen = (false, false);
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(word)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match word {
            "passed" => (result.passed, seen.0) = (number, true),
            "failed" => (result.failed, seen.1) = (number, true),
            _ => {}
        }
    }
    (seen.0 && seen.1).then_some(result)
}

/// Reads `test module::name ... FAILED` and gives the test's name.
pub fn parse_failed_test(line: &str) -> Option<&str> {
    line.trim_end()
        .strip_prefix("test ")?
        .strip_suffix(" ... FAILED")
}

/// Reads cargo's `error: could not compile `name` (lib test) due to ...`
/// and gives `name` with the target in brackets.
pub fn parse_compile_error(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("error: could not compile ")?;
    Some(rest.split(" due to").next().unwrap_or(rest).trim())
}

/// What one `cargo test` run reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostResults {
    pub passed: u64,
    pub failed: u64,
    pub failed_tests: Vec<String>,
    pub compile_errors: Vec<String>,
}

impl HostResults {
    /// Reads cargo's standard output and standard error.
    pub fn read(stdout: &[String], stderr: &[String]) -> Self {
        let mut results = HostResults::default();
        for line in stdout {
            if let Some(result) = parse_test_result(line) {
                results.passed += result.passed;
                results.failed += result.failed;
            } else if let Some(name) = parse_failed_test(line) {
                results.failed_tests.push(name.to_owned());
            }
        }
        for line in stderr {
            if let Some(what) = parse_compile_error(line) {
                results.compile_errors.push(what.to_owned());
            }
        }
        results
    }

    /// Adds these results to the tally. A run that failed without saying
    /// which test or crate failed still counts as one failure.
    pub fn add_to(&self, package: &str, tally: &mut Tally, cargo_succeeded: bool) {
        tally.passed += self.passed;
        tally.failed += self.failed;
        for name in &self.failed_tests {
            tally.failures.push(format!("{package}: test {name}"));
        }
        for what in &self.compile_errors {
            tally.fail(format!("{package}: could not compile {what}"));
        }
        if !cargo_succeeded && self.failed == 0 && self.compile_errors.is_empty() {
            tally.fail(format!(
                "{package}: cargo test failed (see its output above)"
            ));
        }
    }
}

/// Runs the host unit tests, streaming cargo's output, and adds the results
/// to `tally`.
///
/// Each package gets its own `cargo test`: cargo stops at the first crate
/// that does not compile, and one broken crate must not hide the results of
/// all the others.
pub fn run(workspace: &Workspace, tally: &mut Tally) -> Result<()> {
    for package in workspace.host_test_packages() {
        run_package(workspace, &package.name, tally)?;
    }
    Ok(())
}

fn run_package(workspace: &Workspace, package: &str, tally: &mut Tally) -> Result<()> {
    let mut command = workspace::cargo(&workspace.root);
    // --no-fail-fast: a failing test binary must not hide the package's others.
    command.args(["test", "--no-fail-fast", "--package", package]);
    println!("xtask: == host unit tests of {package}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not run cargo test")?;
    let stdout = child
        .stdout
        .take()
        .context("cargo test has no standard output")?;
    let stderr = child
        .stderr
        .take()
        .context("cargo test has no standard error")?;
    let stdout = thread::spawn(move || stream::forward(stdout, std::io::stdout(), None));
    let stderr = thread::spawn(move || stream::forward(stderr, std::io::stderr(), None));
    let status = child.wait().context("could not wait for cargo test")?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let results = HostResults::read(&stdout, &stderr);
    println!(
        "xtask: host unit tests of {package}: {} passed, {} failed{}",
        results.passed,
        results.failed,
        if results.compile_errors.is_empty() {
            ""
        } else {
            "; it does not compile"
        }
    );
    results.add_to(package, tally, status.success());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_lines() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.02s"
            ),
            Some(TestResult {
                passed: 12,
                failed: 0
            })
        );
        assert_eq!(
            parse_test_result(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s"
            ),
            Some(TestResult {
                passed: 3,
                failed: 2
            })
        );
        assert_eq!(parse_test_result("test result: garbage"), None);
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(parse_test_result("test foo ... ok"), None);
    }

    #[test]
    fn parses_failed_test_lines() {
        assert_eq!(
            parse_failed_test("test rules::tests::denies ... FAILED"),
            Some("rules::tests::denies")
        );
        assert_eq!(
            parse_failed_test("test src/lib.rs - route (line 10) ... FAILED"),
            Some("src/lib.rs - route (line 10)")
        );
        assert_eq!(parse_failed_test("test rules::tests::grants ... ok"), None);
    }

    #[test]
    fn parses_compile_errors() {
        assert_eq!(
            parse_compile_error(
                "error: could not compile `septa-monitor` (lib test) due to 2 previous errors"
            ),
            Some("`septa-monitor` (lib test)")
        );
        assert_eq!(
            parse_compile_error("error: test failed, to rerun pass `-p x --lib`"),
            None
        );
    }

    #[test]
    fn adds_up_a_cargo_test_run() {
        let stdout: Vec<String> = [
            "running 2 tests",
            "test a ... ok",
            "test b ... FAILED",
            "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "running 4 tests",
            "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ]
        .map(String::from)
        .to_vec();
        let results = HostResults::read(&stdout, &[]);
        assert_eq!((results.passed, results.failed), (5, 1));
        let mut tally = Tally::default();
        results.add_to("septa-vfs", &mut tally, false);
        assert_eq!(tally.summary_line(), "5 passed, 1 failed");
        assert_eq!(tally.failures, ["septa-vfs: test b"]);
    }

    #[test]
    fn a_failed_run_without_results_counts_once() {
        let stderr =
            vec!["error: could not compile `x` (lib test) due to 1 previous error".to_owned()];
        let mut tally = Tally::default();
        HostResults::read(&[], &stderr).add_to("x", &mut tally, false);
        assert_eq!(tally.failures, ["x: could not compile `x` (lib test)"]);
        assert_eq!((tally.passed, tally.failed), (0, 1));
        let mut tally = Tally::default();
        HostResults::read(&[], &[]).add_to("x", &mut tally, false);
        assert_eq!((tally.passed, tally.failed), (0, 1));
        let mut tally = Tally::default();
        HostResults::read(&[], &[]).add_to("x", &mut tally, true);
        assert_eq!((tally.passed, tally.failed), (0, 0));
    }
}
