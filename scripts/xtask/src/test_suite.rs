//! `cargo xtask test`: host unit tests, then every test system booted under
//! QEMU, closing with one `N passed, N failed` line.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::architecture::Architecture;
use crate::checks::{self, Tally};
use crate::commands;
use crate::host_tests;
use crate::posix_tests;
use crate::qemu::Accelerator;
use crate::workspace::Workspace;

/// How long a test system may run when its description does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A system whose description says `[system] test = true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestSystem {
    pub name: String,
    pub timeout: Duration,
    /// How many times it boots on one disk (`[system] boots`, default 1).
    pub boots: u64,
}

/// Reads `[system] boots` loosely (the image tool validates it): default 1.
pub fn boots(text: &str) -> u64 {
    toml::from_str::<toml::Value>(text)
        .ok()
        .and_then(|value| value.get("system")?.get("boots")?.as_integer())
        .and_then(|boots| u64::try_from(boots).ok())
        .unwrap_or(1)
        .max(1)
}

/// Reads the test settings of a system description: `None` when it is not a
/// test system, else its timeout (`[system] timeout_seconds`, default 300).
///
/// The description is read loosely, as any TOML value: the image tool owns
/// its schema and validates it; here only `test` and `timeout_seconds` matter.
pub fn test_settings(text: &str) -> Result<Option<Duration>> {
    let value: toml::Value = toml::from_str(text).context("not valid TOML")?;
    let system = value.get("system");
    let is_test = system
        .and_then(|system| system.get("test"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    if !is_test {
        return Ok(None);
    }
    let timeout = match system.and_then(|system| system.get("timeout_seconds")) {
        None => DEFAULT_TIMEOUT,
        Some(toml::Value::Integer(seconds)) if *seconds > 0 => {
            Duration::from_secs(u64::try_from(*seconds).unwrap_or(u64::MAX))
        }
        Some(other) => anyhow::bail!(
            "[system] timeout_seconds must be a positive whole number of seconds, not {other}"
        ),
    };
    Ok(Some(timeout))
}

/// Finds the test systems; a description that cannot be read is a failure.
fn test_systems(workspace: &Workspace, tally: &mut Tally) -> Result<Vec<TestSystem>> {
    let directory = workspace.systems_directory();
    if !directory.is_dir() {
        return Ok(Vec::new());
    }
    let mut systems = Vec::new();
    for name in commands::system_names(workspace)? {
        let path = directory.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()));
        let settings = text
            .as_ref()
            .map_err(|error| anyhow::anyhow!("{error:#}"))
            .and_then(|text| test_settings(text).map(|timeout| (timeout, boots(text))));
        match settings {
            Ok((Some(timeout), boots)) => systems.push(TestSystem {
                name,
                timeout,
                boots,
            }),
            Ok((None, _)) => {}
            Err(error) => tally.fail(format!("systems/{name}.toml: {error:#}")),
        }
    }
    Ok(systems)
}

/// Runs every test. Returns whether everything passed; the closing line has
/// been printed.
pub fn run(workspace: &Workspace, architectures: &[Architecture]) -> Result<bool> {
    let mut tally = Tally::default();

    println!("xtask: == host unit tests");
    host_tests::run(workspace, &mut tally)?;

    let systems = test_systems(workspace, &mut tally)?;
    let names: Vec<&str> = systems.iter().map(|system| system.name.as_str()).collect();
    for &architecture in architectures {
        println!(
            "xtask: == system tests on {architecture}: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );

        // The bare-metal binaries are built even when no system test uses
        // them: a kernel or entity that does not compile is a failure.
        let built = match commands::build(workspace, architecture) {
            Ok(_) => true,
            Err(error) => {
                println!("xtask: {error:#}");
                tally.fail(format!("build for {architecture}: {error:#}"));
                false
            }
        };

        // The POSIX programs are built first: some test systems run them.
        println!("xtask: == POSIX programs for {architecture}");
        let programs = if built {
            posix_tests::build(workspace, architecture, &mut tally)
        } else {
            tally.fail(format!(
                "POSIX programs on {architecture}: not built: the build failed"
            ));
            Vec::new()
        };

        for system in &systems {
            run_system(workspace, architecture, system, built, &mut tally);
        }

        println!("xtask: == POSIX programs on {architecture}");
        posix_tests::run(workspace, architecture, &programs, &mut tally);
    }

    if !tally.failures.is_empty() {
        println!("xtask: == failures");
        for failure in &tally.failures {
            // An image tool diagnostic spans lines: indent all but the first.
            println!("FAIL {}", failure.replace('\n', "\n     "));
        }
    }
    println!("{}", tally.summary_line());
    Ok(tally.failed == 0)
}

fn run_system(
    workspace: &Workspace,
    architecture: Architecture,
    system: &TestSystem,
    built: bool,
    tally: &mut Tally,
) {
    let name = &system.name;
    let label = format!("{name} on {architecture}");
    println!(
        "xtask: == system {label} (timeout {} s)",
        system.timeout.as_secs()
    );
    if !built {
        tally.fail(format!("system {label}: not booted: the build failed"));
        return;
    }
    if let Err(error) = commands::image(workspace, architecture, name) {
        println!("xtask: {error:#}");
        tally.fail(format!("system {label}: no image: {error:#}"));
        return;
    }
    // A system booted several times keeps its disk after the first boot, and each boot's
    // entities say which boot they believe it is (`[check] BOOT n`).
    for boot in 1..=system.boots {
        let label = if system.boots > 1 {
            format!("{name} on {architecture}, boot {boot} of {}", system.boots)
        } else {
            label.clone()
        };
        let disk_use = if boot == 1 {
            commands::DiskUse::Fresh
        } else {
            commands::DiskUse::Keep
        };
        let outcome = match commands::boot(
            workspace,
            architecture,
            name,
            Accelerator::Tcg,
            system.timeout,
            false,
            disk_use,
        ) {
            Ok(outcome) => outcome,
            Err(error) => {
                println!("xtask: {error:#}");
                tally.fail(format!("system {label}: not booted: {error:#}"));
                return;
            }
        };
        let console = checks::tally_console(outcome.console.iter().map(String::as_str));
        println!(
            "xtask: system {label}: {}; checks: {} passed, {} failed",
            outcome.ending.describe(),
            console.passed,
            console.failures.len()
        );
        tally.add_console(&label, &console);
        if let Err(problem) = check_fat_disk(workspace, architecture, name) {
            tally.fail(format!("system {label}: {problem}"));
        }
        if let Some(wrong) = console.boots.iter().find(|number| **number != boot) {
            tally.fail(format!(
                "system {label}: an entity said this was boot {wrong} (state from the boots \
                 before was not there?)"
            ));
        }
        if !outcome.ending.is_success() {
            tally.fail(format!("system {label}: {}", outcome.ending.describe()));
            return;
        }
    }
}

/// After a boot of a system whose disk is FAT32 (`disk_format = "fat32"`), checks the image
/// with `fsck.fat -n`. The system powers off without unmounting, so the dirty bit (and its copy
/// in the backup boot sector) and a stale free-cluster count are expected and FAT is built to
/// tolerate them; any other finding (lost clusters, bad entries, cross-links) is a failure.
fn check_fat_disk(
    workspace: &Workspace,
    architecture: Architecture,
    system: &str,
) -> Result<(), String> {
    let description = workspace.systems_directory().join(format!("{system}.toml"));
    let Ok(text) = std::fs::read_to_string(&description) else {
        return Ok(());
    };
    if !crate::qemu::disk_is_fat(&text).unwrap_or(false) {
        return Ok(());
    }
    let disk = workspace
        .output_directory(architecture)
        .join(format!("{system}-disk.img"));
    let output = std::process::Command::new("fsck.fat")
        .arg("-n")
        .arg(&disk)
        .output()
        .map_err(|error| format!("could not run fsck.fat: {error}"))?;
    let report = String::from_utf8_lossy(&output.stdout);
    let findings = unexpected_fsck_findings(&report);
    if findings.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fsck.fat -n {}: {}",
            disk.display(),
            findings.join("; ")
        ))
    }
}

/// The lines of an `fsck.fat -n` report that an unclean power-off does not explain.
fn unexpected_fsck_findings(report: &str) -> Vec<&str> {
    const EXPECTED: [&str; 11] = [
        "fsck.fat ",
        "There are differences between boot sector and its backup.",
        "This is mostly harmless. Differences: (offset:original/backup)",
        "65:01/00",
        "Not automatically fixing this.",
        "Dirty bit is set. Fs was not properly unmounted and some data may be corrupt.",
        "Automatically removing dirty bit.",
        "Free cluster summary wrong",
        "Auto-correcting.",
        "Leaving filesystem unchanged.",
        "Free cluster summary uninitialized",
    ];
    report
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .filter(|line| !EXPECTED.iter().any(|expected| line.starts_with(expected)))
        .filter(|line| {
            !(line.contains(": ") && line.contains(" files, ") && line.ends_with(" clusters"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclean_power_off_is_not_a_finding_but_damage_is() {
        let clean_but_dirty = "fsck.fat 4.2 (2021-01-31)\nThere are differences between boot sector and its backup.\nThis is mostly harmless. Differences: (offset:original/backup)\n  65:01/00\n  Not automatically fixing this.\nDirty bit is set. Fs was not properly unmounted and some data may be corrupt.\n Automatically removing dirty bit.\nFree cluster summary wrong (80627 vs. really 80274)\n  Auto-correcting.\n\nLeaving filesystem unchanged.\nbuild/x86_64/a-disk.img: 4 files, 354/80628 clusters\n";
        assert!(unexpected_fsck_findings(clean_but_dirty).is_empty());
        let damaged = "fsck.fat 4.2 (2021-01-31)\n/DATA/X.BIN\n  Contains a free cluster (7). Assuming EOF.\nReclaimed 3 unused clusters (1536 bytes).\n";
        assert_eq!(
            unexpected_fsck_findings(damaged),
            [
                "/DATA/X.BIN",
                "Contains a free cluster (7). Assuming EOF.",
                "Reclaimed 3 unused clusters (1536 bytes)."
            ]
        );
    }

    #[test]
    fn reads_test_settings_loosely() {
        let text = "[system]\nname = \"demo\"\ntest = true\nunknown = [1, 2]\n\n[[entity]]\nname = \"x\"\n";
        assert_eq!(test_settings(text).unwrap(), Some(DEFAULT_TIMEOUT));
        let text = "[system]\ntest = true\ntimeout_seconds = 30\n";
        assert_eq!(test_settings(text).unwrap(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn systems_are_not_tests_unless_they_say_so() {
        assert_eq!(test_settings("[system]\nname = \"demo\"\n").unwrap(), None);
        assert_eq!(test_settings("[system]\ntest = false\n").unwrap(), None);
        assert_eq!(test_settings("test = true\n").unwrap(), None);
        assert_eq!(test_settings("").unwrap(), None);
    }

    #[test]
    fn rejects_bad_descriptions() {
        assert!(test_settings("[system\n").is_err());
        assert!(test_settings("[system]\ntest = true\ntimeout_seconds = \"soon\"\n").is_err());
        assert!(test_settings("[system]\ntest = true\ntimeout_seconds = 0\n").is_err());
    }
}
