//! Septa's side of the bench: the system `systems/bench.toml`, built and
//! packed exactly as `cargo xtask image bench` does.
//!
//! Its entity prints the same protocol as Linux's program (see `report`):
//! `BENCH ipc-null …` for an empty-message IPC round trip and `BENCH ipc-4k …`
//! for a 4 KiB one, both with the monitor on, then powers off.

use std::path::PathBuf;

use crate::architecture::Architecture;
use crate::commands;
use crate::workspace::Workspace;

/// The system description the bench boots: `systems/<SYSTEM>.toml`.
pub const SYSTEM: &str = "bench";

/// What is booted for Septa.
#[derive(Clone, Debug)]
pub struct Septa {
    pub kernel: PathBuf,
    pub image: PathBuf,
}

/// Builds the kernel and the entities and packs the bench system; `Err`
/// carries why Septa cannot be measured, for the table.
pub fn prepare(workspace: &Workspace, architecture: Architecture) -> Result<Septa, String> {
    if let Err(error) = commands::system_description(workspace, SYSTEM) {
        return Err(format!("{error:#}"));
    }
    commands::build(workspace, architecture)
        .map_err(|error| format!("building Septa failed: {error:#}"))?;
    let image = commands::image(workspace, architecture, SYSTEM)
        .map_err(|error| format!("packing systems/{SYSTEM}.toml failed: {error:#}"))?;
    Ok(Septa {
        kernel: workspace.kernel_boot_file(architecture),
        image,
    })
}
