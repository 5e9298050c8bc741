//! The image tool: validates a system description, compiles its policy and builds the boot image.
//!
//! A system is described by one declarative TOML file (`systems/<name>.toml`, format in
//! `docs/system-description.md`): its entities, the connections between them, notifications,
//! shared memory, and a default-deny policy with tests. [`build`] reads it with the interface
//! definitions (parsed by `septa-idl`), validates everything, compiles the grants into the
//! security monitor's [`Policy`](septa_monitor::Policy), runs the policy tests against that
//! policy with the monitor's own `check`, and encodes a [`septa_boot_image::BootImage`].
//!
//! Every mistake is a [`Diagnostic`] naming the file, the line and the fix. `cargo xtask image`
//! is the command-line front end; this crate does no printing of its own.
#![forbid(unsafe_code)]

mod description;
mod policy;
mod size;
mod system;

pub use septa_idl::Diagnostic;
pub use system::Binary;

use septa_boot_image::{BootImage, EntityImage};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use system::{DOCUMENTATION, Source, System};

/// Reads a size as a description writes it (`"16 MiB"`, or a number of bytes), for the build
/// tool's reading of the keys it owns (`[system] disk`); `None` when it is not one.
pub fn parse_size(value: &toml::Value) -> Option<u64> {
    size::parse(value)
}

/// A built boot image and a human-readable account of what is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// The encoded image ([`septa_boot_image::encode`]), handed to the kernel as its boot module.
    pub bytes: Vec<u8>,
    /// Entities, their capabilities (with handles), rule count and policy tests passed.
    pub summary: String,
}

/// Builds the boot image described by the file `description`.
///
/// `interfaces` is the directory of interface definitions (`interfaces/definitions`).
/// `resolve_binary` maps an entity's `binary` to the ELF file to load, or `None` when there is
/// no such program; the file is read and embedded in the image.
pub fn build(
    description: &Path,
    interfaces: &Path,
    resolve_binary: &dyn Fn(Binary<'_>) -> Option<PathBuf>,
) -> Result<BuiltImage, Diagnostic> {
    let text = std::fs::read_to_string(description).map_err(|error| {
        Diagnostic::whole_file(
            description,
            format!("cannot read the system description: {error}"),
            "check the path; descriptions live in systems/<name>.toml",
        )
    })?;
    let parsed: description::Description = toml::from_str(&text)
        .map_err(|error| Diagnostic::from_toml(description, &text, &error, DOCUMENTATION))?;
    let definitions = septa_idl::parse_directory(interfaces)?;
    let source = Source {
        file: description,
        text: &text,
    };
    let system = system::compile(&source, &parsed, &definitions, interfaces, resolve_binary)?;

    let mut binaries: Vec<Vec<u8>> = Vec::with_capacity(system.entities.len());
    for (entity, section) in system.entities.iter().zip(&parsed.entity) {
        let bytes = std::fs::read(&entity.binary_path).map_err(|error| {
            let span = section
                .binary
                .as_ref()
                .or(section.program.as_ref())
                .map_or(section.name.span(), toml::Spanned::span);
            source.error(
                span,
                format!(
                    "cannot read binary `{}` of entity `{}` at {}: {error}",
                    entity.binary,
                    entity.name,
                    entity.binary_path.display()
                ),
                "build the entity programs first (cargo xtask build)",
            )
        })?;
        binaries.push(bytes);
    }

    let image = BootImage {
        name: system.name.clone(),
        entities: system
            .entities
            .iter()
            .zip(&binaries)
            .map(|(entity, elf)| EntityImage {
                name: entity.name.clone(),
                elf,
                arguments: entity.arguments.clone(),
                environment: entity.environment.clone(),
                stack_size: entity.stack_size,
                routes: entity.routes.clone(),
                priority: entity.priority,
                memory_limit: entity.memory_limit,
                capabilities: entity.capabilities.clone(),
            })
            .collect(),
        endpoint_count: system.endpoint_count,
        notification_count: system.notification_count,
        shared_memory_sizes: system.shared_memory_sizes.clone(),
        policy: system.policy.clone(),
        exit_with: system.exit_with,
        audit_only: system.audit_only,
    };
    let bytes = septa_boot_image::encode(&image);
    let summary = summary(&system, bytes.len());
    Ok(BuiltImage { bytes, summary })
}

/// The account of a built system that `cargo xtask image` prints.
fn summary(system: &System, image_size: usize) -> String {
    let count = |count: usize, one: &str, many: &str| {
        if count == 1 {
            format!("1 {one}")
        } else {
            format!("{count} {many}")
        }
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "system `{}`: {}, {}, {}, {}",
        system.name,
        count(system.entities.len(), "entity", "entities"),
        count(system.endpoint_count as usize, "endpoint", "endpoints"),
        count(
            system.notification_count as usize,
            "notification",
            "notifications"
        ),
        count(
            system.shared_memory_sizes.len(),
            "shared-memory region",
            "shared-memory regions"
        ),
    );
    for (identity, entity) in system.entities.iter().enumerate() {
        let mut notes = format!(
            "priority {}, memory {}",
            entity.priority,
            size::display(entity.memory_limit)
        );
        if !entity.serves.is_empty() {
            let _ = write!(notes, ", serves {}", entity.serves.join(", "));
        }
        if system.exit_with == Some(identity as u32) {
            notes.push_str(", its exit ends the system");
        }
        let _ = writeln!(
            text,
            "  entity {identity} `{}` ({}): {notes}",
            entity.name, entity.binary
        );
        for (index, capability) in entity.capabilities.iter().enumerate() {
            let _ = write!(
                text,
                "    handle {} `{}`: {}",
                index + 1,
                capability.name,
                object_name(capability.object),
            );
            // A device capability carries no rights: holding it is the permission.
            if capability.rights != 0 {
                let _ = write!(text, ", {}", rights_names(capability.rights));
            }
            text.push('\n');
        }
    }
    let _ = writeln!(
        text,
        "policy: {}, {}, {}",
        count(system.policy.interfaces.len(), "interface", "interfaces"),
        count(system.policy.rules.len(), "rule", "rules"),
        if system.audit_only {
            "audit only (denials are recorded, not enforced)"
        } else {
            "enforced (default deny)"
        }
    );
    let _ = writeln!(text, "policy tests: {} passed", system.tests_passed);
    let _ = write!(text, "image: {image_size} bytes");
    text
}

fn object_name(object: septa_boot_image::ObjectImage) -> String {
    match object {
        septa_boot_image::ObjectImage::Endpoint(index) => format!("endpoint {index}"),
        septa_boot_image::ObjectImage::Notification(index) => format!("notification {index}"),
        septa_boot_image::ObjectImage::SharedMemory(index) => format!("shared memory {index}"),
        septa_boot_image::ObjectImage::VirtioDevice(id) => {
            let kind = septa_abi::device::kind_name(id).unwrap_or("virtio");
            format!("{kind} device (virtio id {id}), bound at boot")
        }
    }
}

fn rights_names(held: u32) -> String {
    use septa_abi::rights;
    let names: Vec<&str> = [
        (rights::SEND, "send"),
        (rights::RECEIVE, "receive"),
        (rights::SIGNAL, "signal"),
        (rights::WAIT, "wait"),
        (rights::MAP_READ, "map-read"),
        (rights::MAP_WRITE, "map-write"),
    ]
    .iter()
    .filter(|(right, _)| held & right != 0)
    .map(|(_, name)| *name)
    .collect();
    names.join("+")
}
