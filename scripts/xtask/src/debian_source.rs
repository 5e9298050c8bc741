//! Debian source packages: the pinned `[source]` table of a recipe, fetching with `apt-get
//! source --download-only`, checksum checks and unpacking (design section 5).
//!
//! Upstream code that Septa builds but does not contain (musl, later the ports) comes from
//! Debian's source packages. The machine's apt is configured with `deb` entries only, so
//! [`fetch`] first derives a `deb-src` entry from each of them, in files of our own under
//! `/etc/apt/sources.list.d/`, and runs `apt-get update` when those files change. Every file
//! is then checked against the SHA-256 pinned in the recipe before anything unpacks it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::prerequisites::run_apt;

/// apt's configuration directory of source lists.
const SOURCES_DIRECTORY: &str = "/etc/apt/sources.list.d";
/// The one-line-format list apt reads besides [`SOURCES_DIRECTORY`].
const MAIN_SOURCES_LIST: &str = "/etc/apt/sources.list";
/// Our derived `deb-src` entries, from deb822 `.sources` files.
const DERIVED_SOURCES: &str = "septa-deb-src.sources";
/// Our derived `deb-src` entries, from one-line `.list` files.
const DERIVED_LIST: &str = "septa-deb-src.list";

/// One file of a source package and its pinned SHA-256 (lower-case hexadecimal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub sha256: String,
}

/// A Debian source package at a pinned version: a recipe's `[source]` table.
///
/// ```toml
/// [source]
/// package = "musl"
/// version = "1.2.3-1"
/// files = [
///     { name = "musl_1.2.3.orig.tar.gz", sha256 = "7d5b..." },
/// ]
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePackage {
    pub package: String,
    pub version: String,
    pub files: Vec<SourceFile>,
}

impl SourcePackage {
    /// Reads the `[source]` table of a parsed recipe.
    pub fn from_recipe(recipe: &toml::Table) -> Result<Self> {
        let table = recipe
            .get("source")
            .and_then(toml::Value::as_table)
            .context("the recipe has no [source] table")?;
        let text = |key: &str| -> Result<String> {
            table
                .get(key)
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
                .with_context(|| format!("[source] has no string `{key}`"))
        };
        let package = text("package")?;
        let version = text("version")?;
        let mut files = Vec::new();
        for entry in table
            .get("files")
            .and_then(toml::Value::as_array)
            .context("[source] has no `files` array")?
        {
            let field = |key: &str| -> Result<String> {
                entry
                    .get(key)
                    .and_then(toml::Value::as_str)
                    .map(str::to_owned)
                    .with_context(|| format!("an entry of [source] files has no string `{key}`"))
            };
            let file = SourceFile {
                name: field("name")?,
                sha256: field("sha256")?,
            };
            if file.name.contains('/') || file.name.starts_with('.') {
                bail!(
                    "[source] file name {:?} is not a plain file name",
                    file.name
                );
            }
            if file.sha256.len() != 64
                || !file
                    .sha256
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
            {
                bail!(
                    "[source] file {}: sha256 must be 64 lower-case hexadecimal digits",
                    file.name
                );
            }
            files.push(file);
        }
        if files.is_empty() {
            bail!("[source] lists no files");
        }
        Ok(SourcePackage {
            package,
            version,
            files,
        })
    }

    /// The pinned file called `name`.
    pub fn file(&self, name: &str) -> Result<&SourceFile> {
        self.files
            .iter()
            .find(|file| file.name == name)
            .with_context(|| format!("{name} is not one of the files of [source]"))
    }
}

/// Makes sure every file of `source` is in `directory` with its pinned checksum, fetching
/// the package with apt when one is missing or differs.
pub fn fetch(source: &SourcePackage, directory: &Path) -> Result<()> {
    if verify(source, directory).is_ok() {
        return Ok(());
    }
    std::fs::create_dir_all(directory)
        .with_context(|| format!("could not create {}", directory.display()))?;
    let specification = format!("{}={}", source.package, source.version);
    println!("xtask: fetching the Debian source package {specification}");
    let mut updated = false;
    if write_derived_entries()? {
        update_package_lists();
        updated = true;
    }
    if let Err(error) = download(&specification, directory) {
        if updated {
            return Err(error);
        }
        // The derived entries were already in place, but apt may never have read them.
        update_package_lists();
        download(&specification, directory)?;
    }
    verify(source, directory)
}

/// Checks every file of `source` in `directory` against its pinned checksum.
pub fn verify(source: &SourcePackage, directory: &Path) -> Result<()> {
    for file in &source.files {
        let path = directory.join(&file.name);
        if !path.is_file() {
            bail!("{} is missing", path.display());
        }
        let actual = sha256_file(&path)?;
        if actual != file.sha256 {
            bail!(
                "{} has SHA-256 {actual}, but the recipe pins {}; delete the file to fetch it \
                 again, or update the recipe if Debian really changed it",
                path.display(),
                file.sha256
            );
        }
    }
    Ok(())
}

/// Unpacks `tarball`, whose entries sit under one top-level directory, as `destination`
/// (which must not exist yet).
pub fn unpack(tarball: &Path, destination: &Path) -> Result<()> {
    if destination.exists() {
        bail!("{} already exists", destination.display());
    }
    std::fs::create_dir_all(destination)
        .with_context(|| format!("could not create {}", destination.display()))?;
    let status = Command::new("tar")
        .arg("--extract")
        .arg("--file")
        .arg(tarball)
        .arg("--directory")
        .arg(destination)
        .arg("--strip-components=1")
        .arg("--no-same-owner")
        .status()
        .context("could not run tar")?;
    if !status.success() {
        bail!("tar could not unpack {} ({status})", tarball.display());
    }
    Ok(())
}

/// The SHA-256 of a file, in lower-case hexadecimal, by coreutils' `sha256sum`.
pub fn sha256_file(path: &Path) -> Result<String> {
    let output = Command::new("sha256sum")
        .arg("--binary")
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .context("could not run sha256sum")?;
    if !output.status.success() {
        bail!("sha256sum {} failed ({})", path.display(), output.status);
    }
    first_word(&output.stdout)
}

/// The SHA-256 of `bytes`, in lower-case hexadecimal.
pub fn sha256_bytes(bytes: &[u8]) -> Result<String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not run sha256sum")?;
    child
        .stdin
        .take()
        .context("sha256sum has no standard input")?
        .write_all(bytes)
        .context("could not write to sha256sum")?;
    let output = child
        .wait_with_output()
        .context("could not read from sha256sum")?;
    if !output.status.success() {
        bail!("sha256sum failed ({})", output.status);
    }
    first_word(&output.stdout)
}

fn first_word(output: &[u8]) -> Result<String> {
    let text = String::from_utf8_lossy(output);
    let word = text.split_whitespace().next().unwrap_or_default();
    if word.len() != 64 {
        bail!("sha256sum printed {text:?}");
    }
    Ok(word.to_owned())
}

fn download(specification: &str, directory: &Path) -> Result<()> {
    let status = Command::new("apt-get")
        // The files go to a directory apt's unprivileged `_apt` user may not write; say
        // that downloading as root is meant, rather than have apt warn about it.
        .args(["-o", "APT::Sandbox::User=root", "source", "--download-only"])
        .arg(specification)
        .current_dir(directory)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("could not run apt-get")?;
    if !status.success() {
        bail!(
            "`apt-get source --download-only {specification}` failed ({status}); the deb-src \
             entries derived from this machine's deb entries are in {SOURCES_DIRECTORY}/{DERIVED_SOURCES} \
             and {SOURCES_DIRECTORY}/{DERIVED_LIST}. If Debian no longer has this version, \
             pin the new one in the recipe"
        );
    }
    Ok(())
}

/// `apt-get update`, tolerating failure: a third-party repository without source indexes
/// makes it fail while Debian's own indexes were still read; `apt-get source` then says
/// whether what it needs is there.
fn update_package_lists() {
    if let Err(error) = run_apt(&["update"]) {
        eprintln!("xtask: warning: {error:#}; trying apt-get source all the same");
    }
}

/// Writes the `deb-src` counterparts of the machine's `deb` entries; returns whether a file
/// changed.
fn write_derived_entries() -> Result<bool> {
    let mut stanzas = Vec::new();
    let mut lines = Vec::new();
    for path in source_list_files()? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        if path
            .extension()
            .is_some_and(|extension| extension == "sources")
        {
            stanzas.extend(derive_deb822(&text));
        } else {
            lines.extend(derive_one_line(&text));
        }
    }
    if stanzas.is_empty() && lines.is_empty() {
        bail!(
            "this machine's apt has no `deb` entries to derive deb-src entries from \
             ({MAIN_SOURCES_LIST}, {SOURCES_DIRECTORY}/)"
        );
    }
    let header = "# Written by `cargo xtask` (scripts/xtask/src/debian_source.rs): the deb-src\n\
                  # counterparts of this machine's deb entries, to fetch Debian source packages.\n";
    let mut changed = false;
    for (name, entries, separator) in [
        (DERIVED_SOURCES, stanzas, "\n\n"),
        (DERIVED_LIST, lines, "\n"),
    ] {
        let path = Path::new(SOURCES_DIRECTORY).join(name);
        if entries.is_empty() {
            continue;
        }
        let contents = format!("{header}\n{}\n", entries.join(separator));
        if std::fs::read_to_string(&path).ok().as_deref() == Some(contents.as_str()) {
            continue;
        }
        println!("xtask: writing {}", path.display());
        std::fs::write(&path, contents).with_context(|| {
            format!(
                "could not write {} (apt's configuration needs root); add deb-src entries \
                 for Debian by hand and run apt-get update",
                path.display()
            )
        })?;
        changed = true;
    }
    Ok(changed)
}

/// apt's source lists, except the ones this module writes.
fn source_list_files() -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if Path::new(MAIN_SOURCES_LIST).is_file() {
        files.push(PathBuf::from(MAIN_SOURCES_LIST));
    }
    if let Ok(entries) = std::fs::read_dir(SOURCES_DIRECTORY) {
        let mut listed = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let known = name.ends_with(".sources") || name.ends_with(".list");
            if known && name != DERIVED_SOURCES && name != DERIVED_LIST {
                listed.push(path);
            }
        }
        listed.sort();
        files.extend(listed);
    }
    Ok(files)
}

/// The `deb-src` stanzas for the enabled `deb` stanzas of a deb822 `.sources` file: each
/// stanza again with `Types: deb-src`. A stanza that already has `deb-src` needs none.
pub fn derive_deb822(text: &str) -> Vec<String> {
    let mut derived = Vec::new();
    for stanza in text.split("\n\n") {
        let mut types = Vec::new();
        let mut enabled = true;
        for line in stanza.lines() {
            if let Some((key, value)) = line.split_once(':')
                && !line.starts_with('#')
                && !line.starts_with(char::is_whitespace)
            {
                match key.trim().to_ascii_lowercase().as_str() {
                    "types" => types = value.split_whitespace().map(str::to_owned).collect(),
                    "enabled" => enabled = !value.trim().eq_ignore_ascii_case("no"),
                    _ => {}
                }
            }
        }
        if !enabled
            || !types.iter().any(|kind| kind == "deb")
            || types.iter().any(|kind| kind == "deb-src")
        {
            continue;
        }
        let lines: Vec<String> = stanza
            .trim_matches('\n')
            .lines()
            .map(|line| match line.split_once(':') {
                Some((key, _))
                    if key.trim().eq_ignore_ascii_case("types") && !line.starts_with('#') =>
                {
                    "Types: deb-src".to_owned()
                }
                _ => line.to_owned(),
            })
            .collect();
        derived.push(lines.join("\n"));
    }
    derived
}

/// The `deb-src` lines for the `deb` lines of a one-line-format `.list` file.
pub fn derive_one_line(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("deb "))
        .map(|rest| format!("deb-src {}", rest.trim_start()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_SOURCES: &str = "Types: deb\n\
        # http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
        URIs: http://deb.debian.org/debian\n\
        Suites: bookworm bookworm-updates\n\
        Components: main\n\
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
        \n\
        Types: deb\n\
        URIs: http://deb.debian.org/debian-security\n\
        Suites: bookworm-security\n\
        Components: main\n\
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

    #[test]
    fn derives_one_deb_src_stanza_per_deb_stanza() {
        let derived = derive_deb822(DEBIAN_SOURCES);
        assert_eq!(derived.len(), 2);
        assert!(derived[0].starts_with("Types: deb-src\n# http://snapshot.debian.org/"));
        assert!(derived[0].contains("Suites: bookworm bookworm-updates\n"));
        assert!(
            derived[1].starts_with("Types: deb-src\nURIs: http://deb.debian.org/debian-security\n")
        );
        assert!(derived[1].ends_with("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"));
    }

    #[test]
    fn skips_disabled_stanzas_and_those_with_sources_already() {
        let text = "Types: deb\nURIs: http://a\nSuites: s\nComponents: main\nEnabled: no\n\n\
                    Types: deb deb-src\nURIs: http://b\nSuites: s\nComponents: main\n\n\
                    Types: deb-src\nURIs: http://c\nSuites: s\nComponents: main\n";
        assert!(derive_deb822(text).is_empty());
    }

    #[test]
    fn derives_one_line_entries() {
        let text = "# comment\ndeb [signed-by=/k.gpg] http://deb.debian.org/debian bookworm main\n\
                    deb-src http://x y z\n  deb http://deb.debian.org/debian-security bookworm-security main\n";
        assert_eq!(
            derive_one_line(text),
            [
                "deb-src [signed-by=/k.gpg] http://deb.debian.org/debian bookworm main",
                "deb-src http://deb.debian.org/debian-security bookworm-security main",
            ]
        );
    }

    #[test]
    fn reads_and_checks_the_source_table() {
        let recipe: toml::Table = toml::from_str(
            "[source]\npackage = \"musl\"\nversion = \"1.2.3-1\"\n\
             files = [{ name = \"musl_1.2.3.orig.tar.gz\", sha256 = \"7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4\" }]\n",
        )
        .unwrap();
        let source = SourcePackage::from_recipe(&recipe).unwrap();
        assert_eq!(source.package, "musl");
        assert_eq!(source.version, "1.2.3-1");
        assert_eq!(
            source.file("musl_1.2.3.orig.tar.gz").unwrap().sha256.len(),
            64
        );
        assert!(source.file("other").is_err());

        let bad: toml::Table = toml::from_str(
            "[source]\npackage = \"musl\"\nversion = \"1\"\nfiles = [{ name = \"a\", sha256 = \"ABC\" }]\n",
        )
        .unwrap();
        let error = SourcePackage::from_recipe(&bad).unwrap_err().to_string();
        assert!(
            error.contains("64 lower-case hexadecimal digits"),
            "{error}"
        );
    }

    #[test]
    fn hashes_like_sha256sum() {
        assert_eq!(
            sha256_bytes(b"abc").unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
