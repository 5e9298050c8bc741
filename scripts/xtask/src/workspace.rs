//! What the build tool knows about the workspace: its packages, which of them
//! are entities, and where builds, images and logs go.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::architecture::{Architecture, KernelFormat};

/// The package of the kernel binary.
pub const KERNEL_PACKAGE: &str = "septa-kernel";

/// The root of the workspace this build tool was compiled in.
///
/// `cargo xtask` always runs the xtask of the tree it is invoked in, so the
/// compile-time location is the right one and does not depend on the current
/// directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A `cargo` command run from the workspace root, using the same cargo that
/// runs the build tool (so the toolchain pinned in `rust-toolchain.toml`).
pub fn cargo(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(root);
    command
}

/// One package of the workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// `[package.metadata.septa] entity = true`: a bare-metal user-mode
    /// program that goes into system images.
    pub is_entity: bool,
    /// `[package.metadata.septa] bare-metal = true`: a library for the
    /// bare-metal target only, left out of host tests.
    pub is_bare_metal_library: bool,
    /// `[package.metadata.septa] std-entity = true`: a Rust std program built
    /// for `<arch>-unknown-linux-musl` against the sysroot (a system server
    /// that needs std, such as the file VFS); host-tested like a library.
    pub is_std_entity: bool,
    /// The names of the package's binary targets.
    pub binaries: Vec<String>,
}

/// The workspace as `cargo metadata --no-deps` describes it.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_directory: PathBuf,
    pub packages: Vec<Package>,
}

impl Workspace {
    /// Asks cargo for the workspace's packages.
    pub fn load() -> Result<Self> {
        let root = root();
        let output = cargo(&root)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .context("could not run `cargo metadata`")?;
        if !output.status.success() {
            bail!(
                "`cargo metadata` failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text =
            String::from_utf8(output.stdout).context("`cargo metadata` printed non-UTF-8")?;
        Self::from_metadata(&text)
    }

    /// Reads the JSON printed by `cargo metadata --format-version 1 --no-deps`.
    ///
    /// The JSON is read loosely: only the fields used here must be present.
    pub fn from_metadata(json: &str) -> Result<Self> {
        let metadata: Value =
            serde_json::from_str(json).context("`cargo metadata` output is not JSON")?;
        let root = metadata["workspace_root"]
            .as_str()
            .context("`cargo metadata` output has no workspace_root")?;
        let target_directory = metadata["target_directory"]
            .as_str()
            .context("`cargo metadata` output has no target_directory")?;
        let mut packages = Vec::new();
        for package in metadata["packages"]
            .as_array()
            .context("`cargo metadata` output has no packages")?
        {
            let name = package["name"]
                .as_str()
                .context("a package without a name")?;
            let is_entity = package["metadata"]["septa"]["entity"].as_bool() == Some(true);
            // `bare-metal = true`: a library only meaningful on the bare-metal target (the
            // entity runtime, with its own `_start` and panic handler), so not host-tested.
            let is_bare_metal_library =
                package["metadata"]["septa"]["bare-metal"].as_bool() == Some(true);
            let is_std_entity = package["metadata"]["septa"]["std-entity"].as_bool() == Some(true);
            let binaries = package["targets"]
                .as_array()
                .map(|targets| {
                    targets
                        .iter()
                        .filter(|target| {
                            target["kind"]
                                .as_array()
                                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
                        })
                        .filter_map(|target| target["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            packages.push(Package {
                name: name.to_owned(),
                is_entity,
                is_bare_metal_library,
                is_std_entity,
                binaries,
            });
        }
        packages.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(Workspace {
            root: PathBuf::from(root),
            target_directory: PathBuf::from(target_directory),
            packages,
        })
    }

    /// The entity packages, which are built for the bare-metal target.
    pub fn entities(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|package| package.is_entity)
    }

    /// The std entity packages, built against the sysroot.
    pub fn std_entities(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|package| package.is_std_entity)
    }

    /// Where std entities are built: a target directory of their own, so their rustc flags
    /// (the sysroot's linker) do not rebuild what shares their target triple (libposix).
    pub fn std_target_directory(&self) -> PathBuf {
        self.target_directory.join("std-entities")
    }

    /// Where the std entities of `architecture` land.
    pub fn std_binary_directory(&self, architecture: Architecture) -> PathBuf {
        self.std_target_directory()
            .join(crate::sysroot::user_target(architecture))
            .join("release")
    }

    /// The packages built for the bare-metal target: the kernel and the
    /// entities.
    pub fn bare_metal_packages(&self) -> Vec<&Package> {
        self.packages
            .iter()
            .filter(|package| package.is_entity || package.name == KERNEL_PACKAGE)
            .collect()
    }

    /// The packages whose unit tests run on the host: everything but the
    /// kernel binary and the entities, which are `no_std` binaries.
    pub fn host_test_packages(&self) -> Vec<&Package> {
        self.packages
            .iter()
            .filter(|package| {
                !package.is_entity
                    && !package.is_bare_metal_library
                    && package.name != KERNEL_PACKAGE
            })
            .collect()
    }

    /// Where `cargo build --release --target <triple>` puts binaries.
    pub fn binary_directory(&self, architecture: Architecture) -> PathBuf {
        self.target_directory
            .join(architecture.kernel_target())
            .join("release")
    }

    /// The kernel binary for an architecture.
    pub fn kernel_binary(&self, architecture: Architecture) -> PathBuf {
        self.binary_directory(architecture).join(KERNEL_PACKAGE)
    }

    /// The file QEMU boots as the kernel: the ELF binary itself, or the
    /// flattened image that `build` makes of it (`build/<arch>/septa-kernel.bin`).
    pub fn kernel_boot_file(&self, architecture: Architecture) -> PathBuf {
        match architecture.kernel_format() {
            KernelFormat::Elf => self.kernel_binary(architecture),
            KernelFormat::Arm64Image => self
                .output_directory(architecture)
                .join(format!("{KERNEL_PACKAGE}.bin")),
        }
    }

    /// Where images and console logs go: `build/<arch>/`.
    pub fn output_directory(&self, architecture: Architecture) -> PathBuf {
        self.root.join("build").join(architecture.name())
    }

    /// The system descriptions directory, `systems/`.
    pub fn systems_directory(&self) -> PathBuf {
        self.root.join("systems")
    }

    /// The interface definitions directory, `interfaces/definitions/`.
    pub fn interfaces_directory(&self) -> PathBuf {
        self.root.join("interfaces").join("definitions")
    }

    /// The built entity binary called `name`, if an entity package has a
    /// binary target of that name and it has been built.
    pub fn entity_binary(&self, architecture: Architecture, name: &str) -> Option<PathBuf> {
        let declares = |package: &Package| package.binaries.iter().any(|binary| binary == name);
        let path = if self.entities().any(declares) {
            self.binary_directory(architecture).join(name)
        } else if self.std_entities().any(declares) {
            self.std_binary_directory(architecture).join(name)
        } else {
            return None;
        };
        path.is_file().then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trimmed `cargo metadata --format-version 1 --no-deps` output, with
    /// the kernel, an entity, a library and a package whose metadata has
    /// other keys.
    const SAMPLE: &str = r#"{
      "packages": [
        {"name": "septa-kernel", "id": "path+file:///w/kernel#septa-kernel@0.1.0",
         "metadata": null,
         "targets": [{"kind": ["bin"], "crate_types": ["bin"], "name": "septa-kernel"}]},
        {"name": "echo-server", "metadata": {"septa": {"entity": true}},
         "targets": [{"kind": ["bin"], "name": "echo-server"}]},
        {"name": "septa-monitor", "metadata": null,
         "targets": [{"kind": ["lib"], "name": "septa_monitor"}]},
        {"name": "odd", "metadata": {"septa": {"entity": false}, "docs": {"rs": 1}},
         "targets": [{"kind": ["lib"], "name": "odd"}, {"kind": ["bin"], "name": "odd-tool"}]},
        {"name": "septa-abi", "metadata": {"other": {"entity": true}}, "targets": []}
      ],
      "workspace_members": [],
      "workspace_root": "/w",
      "target_directory": "/w/target",
      "version": 1
    }"#;

    #[test]
    fn finds_entities_from_package_metadata() {
        let workspace = Workspace::from_metadata(SAMPLE).unwrap();
        let entities: Vec<&str> = workspace
            .entities()
            .map(|package| package.name.as_str())
            .collect();
        assert_eq!(entities, ["echo-server"]);
    }

    #[test]
    fn host_tests_skip_the_kernel_and_entities() {
        let workspace = Workspace::from_metadata(SAMPLE).unwrap();
        let names: Vec<&str> = workspace
            .host_test_packages()
            .iter()
            .map(|package| package.name.as_str())
            .collect();
        assert_eq!(names, ["odd", "septa-abi", "septa-monitor"]);
        let bare: Vec<&str> = workspace
            .bare_metal_packages()
            .iter()
            .map(|package| package.name.as_str())
            .collect();
        assert_eq!(bare, ["echo-server", "septa-kernel"]);
    }

    #[test]
    fn reads_binaries_and_paths() {
        let workspace = Workspace::from_metadata(SAMPLE).unwrap();
        let odd = workspace
            .packages
            .iter()
            .find(|package| package.name == "odd")
            .unwrap();
        assert_eq!(odd.binaries, ["odd-tool"]);
        assert_eq!(
            workspace.kernel_binary(Architecture::X86_64),
            Path::new("/w/target/x86_64-unknown-none/release/septa-kernel")
        );
        assert_eq!(
            workspace.output_directory(Architecture::X86_64),
            Path::new("/w/build/x86_64")
        );
    }

    #[test]
    fn rejects_output_that_is_not_metadata() {
        assert!(Workspace::from_metadata("not json").is_err());
        assert!(Workspace::from_metadata("{}").is_err());
    }
}
