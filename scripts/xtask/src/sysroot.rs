//! `sysroot`: musl built from Debian's source with libposix inside, and the compiler wrapper,
//! pkg-config wrapper, CMake toolchain file and Meson cross file around it, in
//! `build/<arch>/sysroot/` (docs/build.md, "Sysroot").
//!
//! Three steps, each cheap when nothing changed:
//!
//! 1. musl: the recipe `libposix/musl/recipe.toml` names Debian's source package and pins its
//!    checksums; the tree is unpacked, changed (patches, removed files, overlay) and built with
//!    clang-19 out of tree in `build/<arch>/musl/`. The build is kept until the recipe, a patch,
//!    an overlay file or the compiler changes (a hash of all of them in
//!    `build/<arch>/musl/recipe-hash`).
//! 2. libposix: `cargo build --release --package septa-libposix --target <arch>-unknown-linux-musl`.
//!    Its static library carries its own copies of `core` and `compiler_builtins`, whose
//!    symbols a Rust program linked against the same libc.a also defines. So the library is
//!    linked into one relocatable object in which every symbol except the exported ones
//!    (`__septa_*`, `septa_*`) is made local, and that one object joins musl's libc.a.
//! 3. The sysroot is assembled from musl's installation, libc.a, Septa's headers
//!    (`include/septa/`), the compiler runtime (Debian's libgcc for GCC 12 and the crt begin
//!    and end objects), the unwinder of Rust's musl target (for Rust `std` programs), and the
//!    files generated from the templates in `libposix/sysroot/`. Only files whose contents
//!    changed are rewritten, so builds against the sysroot do not redo work needlessly; files
//!    a previous run wrote and this one does not are removed (the list is
//!    `share/septa/manifest`), and anything else installed into the sysroot is left alone.
//!
//! [`build_linux_musl`] builds the same tarball without any of Septa's changes, for the
//! Linux side of `cargo xtask bench`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::architecture::Architecture;
use crate::commands::relative;
use crate::debian_source::{self, SourcePackage};
use crate::qemu::describe_command;
use crate::workspace::{self, Workspace};

/// The musl recipe, relative to the workspace root.
const RECIPE: &str = "libposix/musl/recipe.toml";
/// The recipe's patches.
const PATCHES: &str = "libposix/musl/patches";
/// Files copied over the musl tree, at the same relative paths.
const OVERLAY: &str = "libposix/musl/overlay";
/// The templates of the generated wrappers and build-system files.
const TEMPLATES: &str = "libposix/sysroot";
/// Septa's own C headers, installed as `include/septa/`.
const SEPTA_HEADERS: &str = "include/septa";

/// Changed whenever the way musl is configured or built here changes, so that the next run
/// rebuilds it although the recipe did not change.
const MUSL_BUILD_PROCEDURE: &str = "1";

/// The package of libposix.
const LIBPOSIX_PACKAGE: &str = "septa-libposix";
/// The static library cargo makes of it.
const LIBPOSIX_ARCHIVE: &str = "libsepta_libposix.a";
/// Names a static library to use instead of building septa-libposix: a stand-in to try the
/// sysroot with, or a libposix built elsewhere.
pub const LIBPOSIX_ARCHIVE_VARIABLE: &str = "SEPTA_LIBPOSIX_ARCHIVE";
/// Symbols of libposix whose names start so stay global in libc.a: the contract with musl
/// and Septa's own C interface. Every other symbol of libposix becomes local.
const EXPORTED_PREFIXES: [&str; 2] = ["__septa_", "septa_"];
/// The functions musl's overlay calls, which libposix must define.
const CONTRACT: [&str; 4] = [
    "__septa_syscall",
    "__septa_clone",
    "__septa_unmapself",
    "__septa_clock_gettime",
];

/// What musl installs in `lib/` besides libc.a, copied as it is: the start files and the
/// empty libraries that let `-lm`, `-lpthread` and the others work (their contents are in
/// libc.a).
const MUSL_LIBRARY_FILES: [&str; 13] = [
    "crt1.o",
    "crti.o",
    "crtn.o",
    "rcrt1.o",
    "Scrt1.o",
    "libm.a",
    "libpthread.a",
    "librt.a",
    "libdl.a",
    "libutil.a",
    "libxnet.a",
    "libcrypt.a",
    "libresolv.a",
];

/// The compiler runtime: the builtins clang calls (128-bit integer division, aarch64's
/// 128-bit `long double` arithmetic such as `__addtf3`, outline atomics) and the objects
/// clang puts around every link (constructors, `__dso_handle`).
const GCC_RUNTIME_FILES: [&str; 6] = [
    "libgcc.a",
    "crtbegin.o",
    "crtbeginS.o",
    "crtbeginT.o",
    "crtend.o",
    "crtendS.o",
];

/// Where a Debian package of GCC 12 keeps the runtime for one architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GccRuntime {
    pub directory: &'static str,
    /// libgcc.a in [`GccRuntime::directory`], the file that shows the package is installed.
    pub library: &'static str,
    pub debian_package: &'static str,
}

/// The Rust target of user-space programs and of libposix: `<arch>-unknown-linux-musl`.
pub fn user_target(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-unknown-linux-musl",
        Architecture::Aarch64 => "aarch64-unknown-linux-musl",
    }
}

/// The clang target and musl's `--target`: `<arch>-linux-musl`.
pub fn c_target(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-linux-musl",
        Architecture::Aarch64 => "aarch64-linux-musl",
    }
}

/// The compiler runtime of `architecture` on an x86_64 Debian host.
///
/// libgcc, not compiler-rt: Debian ships compiler-rt's builtins (libclang-rt-19-dev) for the
/// host architecture only, while GCC's runtime comes for both, from the host compiler's
/// package and from the cross package. musl itself is made to be linked with libgcc. Only
/// libgcc.a and the crt objects are taken: Debian's libgcc_eh.a needs glibc's
/// `_dl_find_object`, which musl lacks.
pub fn gcc_runtime(architecture: Architecture) -> GccRuntime {
    match architecture {
        Architecture::X86_64 => GccRuntime {
            directory: "/usr/lib/gcc/x86_64-linux-gnu/12",
            library: "/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a",
            debian_package: "libgcc-12-dev",
        },
        Architecture::Aarch64 => GccRuntime {
            directory: "/usr/lib/gcc-cross/aarch64-linux-gnu/12",
            library: "/usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a",
            debian_package: "libgcc-12-dev-arm64-cross",
        },
    }
}

/// The sysroot of `architecture`: `build/<arch>/sysroot/`.
pub fn directory(workspace: &Workspace, architecture: Architecture) -> PathBuf {
    workspace.output_directory(architecture).join("sysroot")
}

/// The rustc options that build a Rust `std` program for `<arch>-unknown-linux-musl`
/// against `sysroot` instead of the musl that Rust bundles with that target.
///
/// - the sysroot's compiler wrapper links, so the program gets the sysroot's crt1.o, libc.a
///   (with libposix) and libgcc.a, and the wrapper's static, non-PIE, 4 KiB-aligned layout;
/// - `link-self-contained=no` keeps Rust's own crt objects and libc.a out of the link;
/// - `relocation-model=static` with `crt-static` gives an ET_EXEC, the only kind of
///   executable the kernel loads (Rust's default for the target is a static PIE).
///
/// The `unwind` crate of Rust's musl targets asks for `-lunwind`: the sysroot's lib/ has
/// the libunwind.a of Rust's own target, so nothing else is needed.
pub fn rust_flags(sysroot: &Path, architecture: Architecture) -> Vec<String> {
    let linker = sysroot
        .join("bin")
        .join(format!("{}-septa-cc", architecture.name()));
    vec![
        "-C".to_owned(),
        format!("linker={}", linker.display()),
        "-C".to_owned(),
        "link-self-contained=no".to_owned(),
        "-C".to_owned(),
        "relocation-model=static".to_owned(),
        "-C".to_owned(),
        "target-feature=+crt-static".to_owned(),
    ]
}

/// `cargo xtask sysroot`: builds the sysroot and says how to use it.
pub fn run(workspace: &Workspace, architecture: Architecture) -> Result<()> {
    let sysroot = build(workspace, architecture)?;
    let shown = relative(&workspace.root, &sysroot);
    println!(
        "xtask: C: {}/bin/{architecture}-septa-cc hello.c -o hello",
        shown.display()
    );
    println!(
        "xtask: Rust std: RUSTFLAGS=\"{}\" cargo build --target {}",
        rust_flags(&sysroot, architecture).join(" "),
        user_target(architecture)
    );
    Ok(())
}

/// Builds (or brings up to date) the sysroot of `architecture` and returns its directory.
pub fn build(workspace: &Workspace, architecture: Architecture) -> Result<PathBuf> {
    let recipe = Recipe::load(&workspace.root)?;
    let musl = build_musl(workspace, architecture, &recipe, MuslFlavour::Septa)?;
    let libposix = libposix_archive(workspace, architecture)?;
    let work = workspace.output_directory(architecture).join("libposix");
    fs::create_dir_all(&work).with_context(|| format!("could not create {}", work.display()))?;
    let object = libposix_object(&libposix, &musl.join("lib/libc.a"), &work)?;
    let files = sysroot_files(workspace, architecture, &musl, &object, &work)?;
    let sysroot = directory(workspace, architecture);
    let (written, unchanged) = install(&sysroot, &files)?;
    println!(
        "xtask: sysroot for {architecture}: {} ({written} files written, {unchanged} unchanged)",
        relative(&workspace.root, &sysroot).display()
    );
    Ok(sysroot)
}

/// The musl recipe: the `[source]` table (see [`SourcePackage`]) and the `[build]` table.
#[derive(Clone, Debug)]
struct Recipe {
    /// The file's text, part of the cache key.
    text: String,
    source: SourcePackage,
    /// The file of `source` unpacked as the tree.
    tarball: String,
    /// Patch files in `patches/`, applied in order.
    patches: Vec<String>,
    /// Paths in the tree deleted after patching.
    remove: Vec<String>,
}

impl Recipe {
    fn load(root: &Path) -> Result<Self> {
        let path = root.join(RECIPE);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        Self::parse(text).with_context(|| format!("{} is not a valid recipe", path.display()))
    }

    fn parse(text: String) -> Result<Self> {
        let table: toml::Table = toml::from_str(&text)?;
        let source = SourcePackage::from_recipe(&table)?;
        let build = table
            .get("build")
            .and_then(toml::Value::as_table)
            .context("the recipe has no [build] table")?;
        let tarball = build
            .get("tarball")
            .and_then(toml::Value::as_str)
            .context("[build] has no string `tarball`")?
            .to_owned();
        source.file(&tarball)?;
        let strings = |key: &str| -> Result<Vec<String>> {
            let mut list = Vec::new();
            for value in build
                .get(key)
                .and_then(toml::Value::as_array)
                .with_context(|| format!("[build] has no array `{key}`"))?
            {
                let text = value.as_str().with_context(|| {
                    format!("[build] {key} holds something other than a string")
                })?;
                check_relative(text).with_context(|| format!("[build] {key}"))?;
                list.push(text.to_owned());
            }
            Ok(list)
        };
        let patches = strings("patches")?;
        let remove = strings("remove")?;
        Ok(Recipe {
            text,
            source,
            tarball,
            patches,
            remove,
        })
    }
}

/// Refuses absolute paths and paths that climb out with `..`.
fn check_relative(path: &str) -> Result<()> {
    let inside = !path.is_empty()
        && Path::new(path)
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if !inside {
        bail!("{path:?} is not a plain relative path");
    }
    Ok(())
}

/// Which musl to build from the recipe's tarball.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MuslFlavour {
    /// With the recipe's patches, removals and overlay: the sysroot's, in `build/<arch>/musl/`.
    Septa,
    /// The tarball as it is, for Linux, in `build/<arch>/linux-musl/`: the C library the
    /// bench links its Linux POSIX program with, so that a ratio compares the systems, not
    /// two C libraries.
    Upstream,
}

/// Builds the unchanged upstream musl of the recipe for Linux (same tarball, checksums,
/// configuration and compiler as the sysroot's musl; none of Septa's changes) and returns its
/// installation, `build/<arch>/linux-musl/install/`. The compiler runtime the sysroot uses
/// (libgcc.a and the crt begin and end objects) is copied into its `lib/`, so
/// `clang-19 --target=<arch>-linux-musl --sysroot=<installation> -static -fuse-ld=lld
/// --rtlib=libgcc --unwindlib=none` links against it as the sysroot's wrapper does.
pub fn build_linux_musl(workspace: &Workspace, architecture: Architecture) -> Result<PathBuf> {
    let recipe = Recipe::load(&workspace.root)?;
    let installation = build_musl(workspace, architecture, &recipe, MuslFlavour::Upstream)?;
    let runtime = gcc_runtime(architecture);
    for name in GCC_RUNTIME_FILES {
        let source = Path::new(runtime.directory).join(name);
        let bytes = fs::read(&source).with_context(|| {
            format!(
                "could not read {} (Debian package {})",
                source.display(),
                runtime.debian_package
            )
        })?;
        let destination = installation.join("lib").join(name);
        if fs::read(&destination).ok().as_deref() != Some(bytes.as_slice()) {
            write_file(&destination, &bytes, 0o644)?;
        }
    }
    Ok(installation)
}

/// Builds musl unless the build in `build/<arch>/musl/` (`linux-musl/` for the upstream
/// flavour) is from the same recipe; returns its installation directory.
fn build_musl(
    workspace: &Workspace,
    architecture: Architecture,
    recipe: &Recipe,
    flavour: MuslFlavour,
) -> Result<PathBuf> {
    let root = &workspace.root;
    let directory = workspace
        .output_directory(architecture)
        .join(match flavour {
            MuslFlavour::Septa => "musl",
            MuslFlavour::Upstream => "linux-musl",
        });
    let installation = directory.join("install");
    let stamp = directory.join("recipe-hash");
    let key = musl_key(root, architecture, recipe, flavour)?;
    if fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str())
        && installation.join("lib/libc.a").is_file()
    {
        println!(
            "xtask: musl for {architecture} is up to date ({})",
            relative(root, &installation).display()
        );
        return Ok(installation);
    }

    let downloads = root.join("build/sources").join(format!(
        "{}_{}",
        recipe.source.package, recipe.source.version
    ));
    debian_source::fetch(&recipe.source, &downloads)?;
    if directory.exists() {
        fs::remove_dir_all(&directory)
            .with_context(|| format!("could not remove {}", directory.display()))?;
    }
    let tree = directory.join("source");
    // Checked again right before unpacking, whatever happened to the files since the fetch.
    debian_source::verify(&recipe.source, &downloads)?;
    debian_source::unpack(&downloads.join(&recipe.tarball), &tree)?;
    if flavour == MuslFlavour::Septa {
        apply_changes(root, recipe, &tree)?;
    }

    let objects = directory.join("objects");
    fs::create_dir_all(&objects)
        .with_context(|| format!("could not create {}", objects.display()))?;
    let log = directory.join("build.log");
    println!(
        "xtask: building {}musl {} for {architecture} (log: {})",
        match flavour {
            MuslFlavour::Septa => "",
            MuslFlavour::Upstream => "upstream ",
        },
        recipe.source.version,
        relative(root, &log).display()
    );
    let target = c_target(architecture);
    let mut configure = Command::new(tree.join("configure"));
    configure
        .arg(format!("--target={target}"))
        .arg(format!("--prefix={}", installation.display()))
        .arg("--disable-shared")
        .arg(format!("CC=clang-19 --target={target}"))
        .arg("AR=llvm-ar-19")
        .arg("RANLIB=llvm-ranlib-19")
        .current_dir(&objects);
    run_logged(&mut configure, &log)?;
    let jobs = std::thread::available_parallelism().map_or(1, usize::from);
    run_logged(
        Command::new("make")
            .arg(format!("-j{jobs}"))
            .current_dir(&objects),
        &log,
    )?;
    run_logged(
        Command::new("make").arg("install").current_dir(&objects),
        &log,
    )?;
    fs::write(&stamp, &key).with_context(|| format!("could not write {}", stamp.display()))?;
    Ok(installation)
}

/// The hash that decides whether a musl build can be kept: everything that goes into it.
fn musl_key(
    root: &Path,
    architecture: Architecture,
    recipe: &Recipe,
    flavour: MuslFlavour,
) -> Result<String> {
    let compiler = Command::new("clang-19")
        .arg("--version")
        .output()
        .context("could not run clang-19")?;
    let mut description = Vec::new();
    let mut part = |name: &str, bytes: &[u8]| {
        description.extend_from_slice(format!("\n{name} {}\n", bytes.len()).as_bytes());
        description.extend_from_slice(bytes);
    };
    part("procedure", MUSL_BUILD_PROCEDURE.as_bytes());
    part("architecture", architecture.name().as_bytes());
    part("compiler", &compiler.stdout);
    part("recipe", recipe.text.as_bytes());
    if flavour == MuslFlavour::Upstream {
        part("flavour", b"upstream");
        return debian_source::sha256_bytes(&description);
    }
    for patch in &recipe.patches {
        let path = root.join(PATCHES).join(patch);
        let bytes =
            fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
        part(&format!("patch {patch}"), &bytes);
    }
    for (path, bytes) in tree_files(&root.join(OVERLAY))? {
        part(&format!("overlay {}", path.display()), &bytes);
    }
    debian_source::sha256_bytes(&description)
}

/// Applies the recipe's patches, removals and overlay to the unpacked tree.
fn apply_changes(root: &Path, recipe: &Recipe, tree: &Path) -> Result<()> {
    for patch in &recipe.patches {
        let path = root.join(PATCHES).join(patch);
        let status = Command::new("patch")
            .args(["--strip=1", "--forward", "--batch", "--silent", "--input"])
            .arg(&path)
            .arg("--directory")
            .arg(tree)
            .status()
            .context("could not run patch")?;
        if !status.success() {
            bail!("{} does not apply ({status})", path.display());
        }
    }
    for file in &recipe.remove {
        let path = tree.join(file);
        fs::remove_file(&path).with_context(|| {
            format!("the recipe removes {file}, but the source tree has no such file")
        })?;
    }
    for (path, bytes) in tree_files(&root.join(OVERLAY))? {
        let destination = tree.join(&path);
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
        }
        fs::write(&destination, bytes)
            .with_context(|| format!("could not write {}", destination.display()))?;
    }
    Ok(())
}

/// Runs `command` with its output appended to `log`; on failure, shows the log's end.
fn run_logged(command: &mut Command, log: &Path) -> Result<()> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("could not open {}", log.display()))?;
    let description = describe_command(command);
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("could not run {description}"))?;
    if !status.success() {
        bail!(
            "`{description}` failed ({status}); the end of {}:\n{}",
            log.display(),
            log_tail(log, 4096)
        );
    }
    Ok(())
}

/// The last `bytes` bytes of a log, from a line start.
fn log_tail(log: &Path, bytes: u64) -> String {
    let Ok(mut file) = fs::File::open(log) else {
        return String::new();
    };
    let length = file.metadata().map_or(0, |metadata| metadata.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(bytes)));
    let mut tail = Vec::new();
    let _ = file.read_to_end(&mut tail);
    let text = String::from_utf8_lossy(&tail);
    match text.split_once('\n') {
        Some((_, rest)) if length > bytes => rest.to_owned(),
        _ => text.into_owned(),
    }
}

/// The static library of libposix for `architecture`.
fn libposix_archive(workspace: &Workspace, architecture: Architecture) -> Result<PathBuf> {
    if let Some(archive) = std::env::var_os(LIBPOSIX_ARCHIVE_VARIABLE) {
        let archive = PathBuf::from(archive);
        println!(
            "xtask: libposix: using {} ({LIBPOSIX_ARCHIVE_VARIABLE})",
            archive.display()
        );
        if !archive.is_file() {
            bail!(
                "{LIBPOSIX_ARCHIVE_VARIABLE} names {}, which is not a file",
                archive.display()
            );
        }
        return Ok(archive);
    }
    let target = user_target(architecture);
    let mut command = workspace::cargo(&workspace.root);
    command.args([
        "build",
        "--release",
        "--package",
        LIBPOSIX_PACKAGE,
        "--target",
        target,
    ]);
    println!("xtask: {}", describe_command(&command));
    let status = command.status().context("could not run cargo build")?;
    if !status.success() {
        bail!("cargo build of {LIBPOSIX_PACKAGE} for {target} failed ({status})");
    }
    let archive = workspace
        .target_directory
        .join(target)
        .join("release")
        .join(LIBPOSIX_ARCHIVE);
    if !archive.is_file() {
        bail!(
            "cargo built {LIBPOSIX_PACKAGE} but made no {}: its [lib] needs \
             crate-type = [\"staticlib\", \"rlib\"] (to try the sysroot before libposix \
             builds, set {LIBPOSIX_ARCHIVE_VARIABLE} to a stand-in static library)",
            archive.display()
        );
    }
    Ok(archive)
}

/// Whether a symbol of libposix stays global in libc.a.
fn is_exported(symbol: &str) -> bool {
    EXPORTED_PREFIXES
        .iter()
        .any(|prefix| symbol.starts_with(prefix))
}

/// Links libposix's static library into `work/libposix.o`, one relocatable object whose
/// only global definitions are the exported symbols.
///
/// `ld.lld -r` with `-u` for each exported symbol takes what they need from the library, as
/// a final link would; `llvm-objcopy --keep-global-symbol` then makes every other definition
/// local, so libposix's `core` and `compiler_builtins` cannot clash with a Rust program's.
fn libposix_object(archive: &Path, musl_libc: &Path, work: &Path) -> Result<PathBuf> {
    let exported: Vec<String> = symbols(
        Command::new("llvm-nm-19")
            .args(["--defined-only", "--extern-only", "--format=just-symbols"])
            .arg(archive),
    )?
    .into_iter()
    .filter(|symbol| is_exported(symbol))
    .collect();
    let missing: Vec<&str> = CONTRACT
        .iter()
        .copied()
        .filter(|symbol| !exported.iter().any(|defined| defined == symbol))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} does not define {}, which musl calls",
            archive.display(),
            missing.join(", ")
        );
    }
    let object = work.join("libposix.o");
    let mut link = Command::new("ld.lld-19");
    link.arg("-r").arg("-o").arg(&object);
    for symbol in &exported {
        link.arg("-u").arg(symbol);
    }
    link.arg(archive);
    run_tool(&mut link)?;
    let mut localise = Command::new("llvm-objcopy-19");
    localise.arg("--wildcard");
    for prefix in EXPORTED_PREFIXES {
        localise.arg(format!("--keep-global-symbol={prefix}*"));
    }
    localise.arg(&object);
    run_tool(&mut localise)?;
    // Whatever libposix still needs from outside must come from musl: anything else (a Rust
    // symbol, the `rust_eh_personality` that the prebuilt `compiler_builtins` refers to)
    // would make every link against libc.a fail, or bind to a Rust program's own copy.
    let provided = symbols(
        Command::new("llvm-nm-19")
            .args(["--defined-only", "--extern-only", "--format=just-symbols"])
            .arg(musl_libc),
    )?;
    let unresolved: Vec<String> = strong_undefined_symbols(&object)?
        .into_iter()
        .filter(|symbol| provided.binary_search(symbol).is_err())
        .collect();
    if !unresolved.is_empty() {
        let hint = if unresolved
            .iter()
            .any(|symbol| symbol == "rust_eh_personality")
        {
            " (libposix, whose panics abort, must define rust_eh_personality itself)"
        } else {
            ""
        };
        bail!(
            "libposix needs symbols that musl does not define: {}{hint}",
            unresolved.join(", ")
        );
    }
    Ok(object)
}

/// Runs a tool; fails with its command line.
fn run_tool(command: &mut Command) -> Result<()> {
    let description = describe_command(command);
    let status = command
        .status()
        .with_context(|| format!("could not run {description}"))?;
    if !status.success() {
        bail!("`{description}` failed ({status})");
    }
    Ok(())
}

/// The symbol names `llvm-nm --format=just-symbols` prints, without archive member headers.
fn symbols(command: &mut Command) -> Result<Vec<String>> {
    let stdout = tool_output(command)?;
    let mut names: Vec<String> = stdout
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.ends_with(':'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The symbols an object needs and does not define, without the weak ones (which may stay
/// undefined).
fn strong_undefined_symbols(object: &Path) -> Result<Vec<String>> {
    let listing = tool_output(
        Command::new("llvm-nm-19")
            .arg("--undefined-only")
            .arg(object),
    )?;
    Ok(parse_strong_undefined(&listing))
}

/// Runs a tool and returns its standard output; its standard error (llvm-nm's notes about
/// archive members without symbols, say) is shown only when it fails.
fn tool_output(command: &mut Command) -> Result<String> {
    let description = describe_command(command);
    let output = command
        .output()
        .with_context(|| format!("could not run {description}"))?;
    if !output.status.success() {
        bail!(
            "`{description}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads `llvm-nm --undefined-only` lines (`U name` or `w name`), keeping the `U` ones.
fn parse_strong_undefined(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["U", name] => Some(name.to_owned()),
                _ => None,
            },
        )
        .collect()
}

/// One file of the sysroot.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SysrootFile {
    bytes: Vec<u8>,
    executable: bool,
}

impl SysrootFile {
    fn data(bytes: Vec<u8>) -> Self {
        SysrootFile {
            bytes,
            executable: false,
        }
    }

    fn program(bytes: Vec<u8>) -> Self {
        SysrootFile {
            bytes,
            executable: true,
        }
    }
}

/// Every file of the sysroot, by path relative to it.
fn sysroot_files(
    workspace: &Workspace,
    architecture: Architecture,
    musl: &Path,
    libposix_object: &Path,
    work: &Path,
) -> Result<BTreeMap<PathBuf, SysrootFile>> {
    let root = &workspace.root;
    let mut files = BTreeMap::new();
    let read =
        |path: &Path| fs::read(path).with_context(|| format!("could not read {}", path.display()));

    for (path, bytes) in tree_files(&musl.join("include"))? {
        files.insert(Path::new("include").join(path), SysrootFile::data(bytes));
    }
    let septa_headers = root.join(SEPTA_HEADERS);
    if septa_headers.is_dir() {
        for (path, bytes) in tree_files(&septa_headers)? {
            files.insert(
                Path::new("include/septa").join(path),
                SysrootFile::data(bytes),
            );
        }
    }

    let library = Path::new("lib");
    for name in MUSL_LIBRARY_FILES {
        let bytes = read(&musl.join("lib").join(name))?;
        files.insert(library.join(name), SysrootFile::data(bytes));
    }
    let libc = work.join("libc.a");
    fs::copy(musl.join("lib/libc.a"), &libc)
        .with_context(|| format!("could not copy musl's libc.a to {}", libc.display()))?;
    run_tool(
        Command::new("llvm-ar-19")
            .arg("rs")
            .arg(&libc)
            .arg(libposix_object),
    )?;
    files.insert(library.join("libc.a"), SysrootFile::data(read(&libc)?));

    let runtime = gcc_runtime(architecture);
    for name in GCC_RUNTIME_FILES {
        let path = Path::new(runtime.directory).join(name);
        let bytes = fs::read(&path).with_context(|| {
            format!(
                "could not read {} (Debian package {})",
                path.display(),
                runtime.debian_package
            )
        })?;
        files.insert(library.join(name), SysrootFile::data(bytes));
    }
    files.insert(
        library.join("libunwind.a"),
        SysrootFile::data(read(&rust_unwinder(root, architecture)?)?),
    );

    let arch = architecture.name();
    let sysroot = directory(workspace, architecture);
    let sysroot = sysroot
        .to_str()
        .with_context(|| format!("the sysroot's path {} is not UTF-8", sysroot.display()))?;
    let substitutions = [
        ("ARCH", arch),
        ("TRIPLE", c_target(architecture)),
        ("SYSROOT", sysroot),
    ];
    let generated = [
        ("cc.in", format!("bin/{arch}-septa-cc"), true),
        (
            "pkg-config.in",
            format!("bin/{arch}-septa-pkg-config"),
            true,
        ),
        (
            "toolchain.cmake.in",
            "share/septa/toolchain.cmake".to_owned(),
            false,
        ),
        (
            "cross.meson.in",
            "share/septa/cross.meson".to_owned(),
            false,
        ),
    ];
    for (template, destination, executable) in generated {
        let path = root.join(TEMPLATES).join(template);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let bytes = fill_template(&text, &substitutions)
            .with_context(|| format!("template {}", path.display()))?
            .into_bytes();
        let file = if executable {
            SysrootFile::program(bytes)
        } else {
            SysrootFile::data(bytes)
        };
        files.insert(PathBuf::from(destination), file);
    }
    Ok(files)
}

/// The libunwind.a of Rust's own `<arch>-unknown-linux-musl` target, which Rust `std`
/// programs link (`-lunwind`) for panics and backtraces.
fn rust_unwinder(root: &Path, architecture: Architecture) -> Result<PathBuf> {
    // From the workspace root, so that rustup picks the toolchain of rust-toolchain.toml.
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("could not run rustc --print sysroot")?;
    if !output.status.success() {
        bail!("rustc --print sysroot failed ({})", output.status);
    }
    let target = user_target(architecture);
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        .join("lib/rustlib")
        .join(target)
        .join("lib/self-contained/libunwind.a");
    if !path.is_file() {
        bail!(
            "{} is missing; add the Rust target: rustup target add {target}",
            path.display()
        );
    }
    Ok(path)
}

/// Replaces each `@NAME@` of `substitutions` in a template; fails on an `@NAME@` left over.
fn fill_template(template: &str, substitutions: &[(&str, &str)]) -> Result<String> {
    let mut text = template.to_owned();
    for (name, value) in substitutions {
        text = text.replace(&format!("@{name}@"), value);
    }
    let mut rest = text.as_str();
    while let Some(start) = rest.find('@') {
        let after = &rest[start + 1..];
        let name_length = after
            .find(|character: char| !(character.is_ascii_uppercase() || character == '_'))
            .unwrap_or(after.len());
        if name_length > 0 && after[name_length..].starts_with('@') {
            bail!("@{}@ is not a known substitution", &after[..name_length]);
        }
        rest = after;
    }
    Ok(text)
}

/// Every file under `directory`, by path relative to it, sorted.
fn tree_files(directory: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative_directory) = pending.pop() {
        let absolute = directory.join(&relative_directory);
        for entry in fs::read_dir(&absolute)
            .with_context(|| format!("could not read {}", absolute.display()))?
        {
            let entry = entry?;
            let path = relative_directory.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                let bytes = fs::read(entry.path())
                    .with_context(|| format!("could not read {}", entry.path().display()))?;
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The list of files the last run wrote, relative to the sysroot.
const MANIFEST: &str = "share/septa/manifest";

/// Writes `files` into `sysroot`, each only if its contents or mode differ, and removes the
/// files the previous run wrote that are no longer wanted; returns (written, unchanged).
fn install(sysroot: &Path, files: &BTreeMap<PathBuf, SysrootFile>) -> Result<(usize, usize)> {
    let mut written = 0;
    let mut unchanged = 0;
    for (path, file) in files {
        let destination = sysroot.join(path);
        let mode = if file.executable { 0o755 } else { 0o644 };
        let same = fs::metadata(&destination)
            .is_ok_and(|metadata| metadata.permissions().mode() & 0o777 == mode)
            && fs::read(&destination).is_ok_and(|bytes| bytes == file.bytes);
        if same {
            unchanged += 1;
            continue;
        }
        write_file(&destination, &file.bytes, mode)?;
        written += 1;
    }
    let manifest_path = sysroot.join(MANIFEST);
    let previous = fs::read_to_string(&manifest_path).unwrap_or_default();
    for stale in previous.lines().filter(|line| !line.is_empty()) {
        if check_relative(stale).is_ok() && !files.contains_key(Path::new(stale)) {
            match fs::remove_file(sysroot.join(stale)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error).with_context(|| format!("could not remove {stale}"));
                }
                _ => {}
            }
        }
    }
    let mut manifest = String::new();
    for path in files.keys() {
        let _ = writeln!(manifest, "{}", path.display());
    }
    if previous != manifest {
        write_file(&manifest_path, manifest.as_bytes(), 0o644)?;
    }
    Ok((written, unchanged))
}

/// Writes a file through a temporary file and a rename, so that no reader sees half of it.
fn write_file(destination: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let parent = destination
        .parent()
        .context("a sysroot file without a directory")?;
    fs::create_dir_all(parent).with_context(|| format!("could not create {}", parent.display()))?;
    let mut temporary = destination.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    fs::write(&temporary, bytes)
        .with_context(|| format!("could not write {}", temporary.display()))?;
    fs::set_permissions(&temporary, fs::Permissions::from_mode(mode))
        .with_context(|| format!("could not set the mode of {}", temporary.display()))?;
    fs::rename(&temporary, destination)
        .with_context(|| format!("could not write {}", destination.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipe_in_the_tree_is_valid() {
        let recipe = Recipe::load(&workspace::root()).unwrap();
        assert_eq!(recipe.source.package, "musl");
        assert_eq!(recipe.tarball, "musl_1.2.3.orig.tar.gz");
        assert!(recipe.remove.iter().all(|path| path.ends_with(".s")));
        for patch in &recipe.patches {
            assert!(
                workspace::root().join(PATCHES).join(patch).is_file(),
                "{patch}"
            );
        }
    }

    #[test]
    fn recipes_with_paths_outside_the_tree_are_refused() {
        let text = |remove: &str| {
            format!(
                "[source]\npackage = \"musl\"\nversion = \"1\"\nfiles = [{{ name = \"a.tar.gz\", \
                 sha256 = \"{}\" }}]\n[build]\ntarball = \"a.tar.gz\"\npatches = []\nremove = [{remove}]\n",
                "0".repeat(64)
            )
        };
        assert!(Recipe::parse(text("\"src/a.s\"")).is_ok());
        for bad in ["\"../a.s\"", "\"/etc/passwd\"", "\"\"", "\"src/../../a\""] {
            assert!(Recipe::parse(text(bad)).is_err(), "{bad}");
        }
        let unknown_tarball = text("").replace("tarball = \"a.tar.gz\"", "tarball = \"b.tar.gz\"");
        assert!(Recipe::parse(unknown_tarball).is_err());
    }

    #[test]
    fn templates_are_filled_and_checked() {
        let filled = fill_template(
            "x @ARCH@-septa-cc @TRIPLE@ a@b.c @@ @lower@",
            &[("ARCH", "x86_64"), ("TRIPLE", "x86_64-linux-musl")],
        )
        .unwrap();
        assert_eq!(
            filled,
            "x x86_64-septa-cc x86_64-linux-musl a@b.c @@ @lower@"
        );
        assert!(fill_template("@UNKNOWN@", &[]).is_err());
    }

    #[test]
    fn every_template_is_filled_for_every_architecture() {
        let root = workspace::root();
        for architecture in Architecture::ALL {
            let substitutions = [
                ("ARCH", architecture.name()),
                ("TRIPLE", c_target(architecture)),
                ("SYSROOT", "/s"),
            ];
            for template in [
                "cc.in",
                "pkg-config.in",
                "toolchain.cmake.in",
                "cross.meson.in",
            ] {
                let text = fs::read_to_string(root.join(TEMPLATES).join(template)).unwrap();
                let filled = fill_template(&text, &substitutions).unwrap();
                assert!(filled.contains(architecture.name()), "{template}");
            }
        }
    }

    #[test]
    fn the_runtime_library_is_in_the_runtime_directory() {
        for architecture in Architecture::ALL {
            let runtime = gcc_runtime(architecture);
            assert_eq!(
                Path::new(runtime.library),
                Path::new(runtime.directory).join("libgcc.a")
            );
        }
    }

    #[test]
    fn exports_only_septa_symbols() {
        assert!(is_exported("__septa_syscall"));
        assert!(is_exported("septa_ipc_call"));
        assert!(!is_exported("__addtf3"));
        assert!(!is_exported("_ZN4core9panicking5panic17h0123456789abcdefE"));
        assert!(CONTRACT.iter().all(|symbol| is_exported(symbol)));
    }

    #[test]
    fn reads_strong_undefined_symbols() {
        let listing = "                 U memcpy\n                 w __cxa_thread_atexit_impl\n\
                       \n                 U rust_eh_personality\n";
        assert_eq!(
            parse_strong_undefined(listing),
            ["memcpy", "rust_eh_personality"]
        );
    }

    #[test]
    fn rust_programs_link_with_the_sysroot_wrapper() {
        let flags = rust_flags(Path::new("/s"), Architecture::Aarch64);
        assert_eq!(
            flags,
            [
                "-C",
                "linker=/s/bin/aarch64-septa-cc",
                "-C",
                "link-self-contained=no",
                "-C",
                "relocation-model=static",
                "-C",
                "target-feature=+crt-static"
            ]
        );
    }

    #[test]
    fn installs_only_what_changed_and_removes_what_is_gone() {
        let sysroot =
            std::env::temp_dir().join(format!("septa-sysroot-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&sysroot);
        let mut files = BTreeMap::new();
        files.insert(
            PathBuf::from("bin/cc"),
            SysrootFile::program(b"#!/bin/sh\n".to_vec()),
        );
        files.insert(
            PathBuf::from("lib/old.a"),
            SysrootFile::data(b"old".to_vec()),
        );
        assert_eq!(install(&sysroot, &files).unwrap(), (2, 0));
        assert_eq!(install(&sysroot, &files).unwrap(), (0, 2));
        let mode = fs::metadata(sysroot.join("bin/cc"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);

        fs::write(sysroot.join("lib/port.a"), b"installed by a port").unwrap();
        files.remove(Path::new("lib/old.a"));
        files.insert(
            PathBuf::from("bin/cc"),
            SysrootFile::program(b"#!/bin/sh\nexit\n".to_vec()),
        );
        assert_eq!(install(&sysroot, &files).unwrap(), (1, 0));
        assert!(!sysroot.join("lib/old.a").exists());
        assert!(sysroot.join("lib/port.a").exists());
        assert_eq!(
            fs::read_to_string(sysroot.join(MANIFEST)).unwrap(),
            "bin/cc\n"
        );
        fs::remove_dir_all(&sysroot).unwrap();
    }
}
