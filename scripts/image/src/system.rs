//! Validation and compilation of a description into the parts of a boot image.
//!
//! Every check that can fail names the line of the offending key and a fix. The order of the
//! checks follows the file's order (system, entities, connections, notifications, shared
//! memory, grants, tests), so the first mistake in the file is usually the one reported.

use crate::description::{Access, Description, EntitySection, RoutesSection};
use crate::policy;
use crate::size::{self, PAGE_SIZE};
use septa_abi::{device, rights, startup};
use septa_boot_image::{CapabilityImage, ObjectImage, RouteImage};
use septa_idl::{Diagnostic, Interface};
use septa_monitor::Policy;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Priority of an entity that does not give one.
pub(crate) const DEFAULT_PRIORITY: u8 = 10;
/// Highest priority.
pub(crate) const PRIORITY_MAX: i64 = 31;
/// Memory limit of an entity that does not give one.
pub(crate) const DEFAULT_MEMORY: u64 = 4 << 20;
/// Name of the capability a serving entity receives requests on.
pub(crate) const ENDPOINT_CAPABILITY: &str = "endpoint";
/// Where the description format is documented, for fixes.
pub(crate) const DOCUMENTATION: &str = "docs/system-description.md";

/// The description's file and text: what diagnostics point into.
pub(crate) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// A diagnostic at the line of `span`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::at(self.file, self.text, span, message, fix)
    }

    /// The line of `span`, for messages that point back at an earlier definition.
    pub(crate) fn line(&self, span: Range<usize>) -> usize {
        septa_idl::line_of(self.text, span.start)
    }
}

/// A validated system, ready to encode.
pub(crate) struct System {
    pub name: String,
    pub entities: Vec<Entity>,
    pub endpoint_count: u32,
    pub notification_count: u32,
    pub shared_memory_sizes: Vec<u64>,
    pub policy: Policy,
    pub exit_with: Option<u32>,
    pub audit_only: bool,
    pub tests_passed: usize,
}

/// A validated entity.
pub(crate) struct Entity {
    pub name: String,
    pub binary: String,
    pub binary_path: PathBuf,
    pub arguments: Vec<String>,
    /// `NAME=value` strings.
    pub environment: Vec<String>,
    pub stack_size: u64,
    pub routes: Vec<RouteImage>,
    pub priority: u8,
    pub memory_limit: u64,
    pub serves: Vec<String>,
    /// The endpoint it receives on, when it serves an interface.
    pub endpoint: Option<u32>,
    pub capabilities: Vec<CapabilityImage>,
    /// Where each capability comes from in the description, to report name clashes.
    capability_spans: Vec<Range<usize>>,
}

/// Names of entities, connections, notifications and regions: lower-case ASCII letters, digits,
/// `-` and `_`, starting with a letter (they become capability and program names).
fn is_valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|first| first.is_ascii_lowercase())
        && name.chars().all(|character| {
            character.is_ascii_lowercase()
                || character.is_ascii_digit()
                || character == '-'
                || character == '_'
        })
}

/// A quoted, comma-separated list for fixes: `` `a`, `b` ``.
pub(crate) fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// Checks a name against [`is_valid_name`].
fn check_name(source: &Source<'_>, name: &Spanned<String>, what: &str) -> Result<(), Diagnostic> {
    if is_valid_name(name.get_ref()) {
        return Ok(());
    }
    Err(source.error(
        name.span(),
        format!("{what} name `{}` is not a valid name", name.get_ref()),
        "use lower-case letters, digits, `-` and `_`, starting with a letter, for example \
         `echo-server`",
    ))
}

/// Compiles a parsed description. `interfaces` are every interface definition of the tree;
/// `resolve_binary` maps an entity's `binary` to the file to load.
pub(crate) fn compile(
    source: &Source<'_>,
    description: &Description,
    interfaces: &[Interface],
    interfaces_directory: &Path,
    resolve_binary: &dyn Fn(Binary<'_>) -> Option<PathBuf>,
) -> Result<System, Diagnostic> {
    let system = &description.system;
    check_name(source, &system.name, "system")?;
    let stem = source
        .file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned());
    if let Some(stem) = stem.filter(|stem| stem != system.name.get_ref()) {
        return Err(source.error(
            system.name.span(),
            format!(
                "system name `{}` does not match the file name `{stem}.toml`",
                system.name.get_ref()
            ),
            format!(
                "name the system `{stem}`, or rename the file to `{}.toml`",
                system.name.get_ref()
            ),
        ));
    }
    if let Some(disk) = &system.disk {
        check_disk(source, disk)?;
    }
    if let Some(format) = &system.disk_format {
        if !DISK_FORMATS.contains(&format.get_ref().as_str()) {
            return Err(source.error(
                format.span(),
                format!("disk format `{}` is not known", format.get_ref()),
                format!("use one of {}", listing(DISK_FORMATS.iter().copied())),
            ));
        }
        if system.disk.is_none() {
            return Err(source.error(
                format.span(),
                "`disk_format` without a `disk`",
                "add `disk = \"64 MiB\"` (a size) to [system]",
            ));
        }
    }
    if let Some(boots) = &system.boots
        && !(1..=BOOTS_MAX).contains(boots.get_ref())
    {
        return Err(source.error(
            boots.span(),
            format!("{} boots is out of range", boots.get_ref()),
            format!("boot a system from 1 to {BOOTS_MAX} times"),
        ));
    }
    if description.entity.is_empty() {
        return Err(source.error(
            system.name.span(),
            format!("system `{}` has no entities", system.name.get_ref()),
            "describe at least one [[entity]] with a `name` and a `binary` or `program`",
        ));
    }

    let mut entities: Vec<Entity> = Vec::new();
    let mut entity_spans: Vec<Range<usize>> = Vec::new();
    let mut endpoint_count: u32 = 0;
    for section in &description.entity {
        let entity = compile_entity(
            source,
            section,
            interfaces,
            interfaces_directory,
            resolve_binary,
            &mut endpoint_count,
        )?;
        if let Some(index) = entities.iter().position(|other| other.name == entity.name) {
            return Err(source.error(
                section.name.span(),
                format!(
                    "entity `{}` is already defined at line {}",
                    entity.name,
                    source.line(entity_spans[index].clone())
                ),
                "give each entity a distinct name",
            ));
        }
        entities.push(entity);
        entity_spans.push(section.name.span());
    }
    let names: Vec<String> = entities.iter().map(|entity| entity.name.clone()).collect();
    let resolver = EntityNames { names: &names };

    let exit_with = match &system.exit_with {
        Some(name) => Some(resolver.find(source, name, "`exit_with`")?),
        None => None,
    };

    // Connections: a SEND capability on the server's endpoint, named after the server.
    let mut connected: Vec<(u32, u32, Range<usize>)> = Vec::new();
    for section in &description.connection {
        let client = resolver.find(source, &section.client, "connection")?;
        let server = resolver.find(source, &section.server, "connection")?;
        let server_entity = &entities[server as usize];
        let Some(endpoint) = server_entity.endpoint else {
            return Err(source.error(
                section.server.span(),
                format!(
                    "entity `{}` serves no interface, so `{}` cannot connect to it",
                    server_entity.name, entities[client as usize].name
                ),
                format!(
                    "connect to an entity that serves an interface, or give `{}` a `serves` list",
                    server_entity.name
                ),
            ));
        };
        if let Some((_, _, span)) = connected
            .iter()
            .find(|(from, to, _)| (*from, *to) == (client, server))
        {
            return Err(source.error(
                section.client.span(),
                format!(
                    "`{}` is already connected to `{}` at line {}",
                    entities[client as usize].name,
                    server_entity.name,
                    source.line(span.clone())
                ),
                "remove one of the two connections",
            ));
        }
        let name = match &section.name {
            Some(name) => {
                check_name(source, name, "connection")?;
                name.get_ref().clone()
            }
            None => server_entity.name.clone(),
        };
        let span = section
            .name
            .as_ref()
            .map_or(section.server.span(), Spanned::span);
        add_capability(
            source,
            &mut entities[client as usize],
            CapabilityImage {
                name,
                object: ObjectImage::Endpoint(endpoint),
                rights: rights::SEND,
            },
            span,
        )?;
        connected.push((client, server, section.client.span()));
    }

    // Notifications: one capability per entity that signals or waits, with the union of rights.
    for (index, section) in description.notification.iter().enumerate() {
        check_name(source, &section.name, "notification")?;
        let earlier = description.notification[..index]
            .iter()
            .map(|other| &other.name);
        check_unique(source, &section.name, earlier, "notification")?;
        let mut holders: Vec<(u32, u32, Range<usize>)> = Vec::new();
        for (list, right) in [
            (&section.signal, rights::SIGNAL),
            (&section.wait, rights::WAIT),
        ] {
            for name in list {
                let entity = resolver.find(source, name, "notification")?;
                match holders.iter_mut().find(|(holder, _, _)| *holder == entity) {
                    Some((_, held, _)) => *held |= right,
                    None => holders.push((entity, right, name.span())),
                }
            }
        }
        let object = ObjectImage::Notification(u32::try_from(index).unwrap_or(u32::MAX));
        for (entity, held, span) in holders {
            let capability = CapabilityImage {
                name: section.name.get_ref().clone(),
                object,
                rights: held,
            };
            add_capability(source, &mut entities[entity as usize], capability, span)?;
        }
    }

    // Shared memory: one capability per entity that maps the region.
    let mut shared_memory_sizes = Vec::new();
    for (index, section) in description.shared_memory.iter().enumerate() {
        check_name(source, &section.name, "shared memory")?;
        let earlier = description.shared_memory[..index]
            .iter()
            .map(|other| &other.name);
        check_unique(source, &section.name, earlier, "shared memory")?;
        let region = section.name.get_ref();
        let bytes = whole_pages(
            source,
            &section.size,
            "size",
            &format!("shared memory `{region}`"),
            "64 KiB",
        )?;
        let object = ObjectImage::SharedMemory(u32::try_from(index).unwrap_or(u32::MAX));
        for (name, access) in &section.map {
            let entity = resolver.find(source, name, "shared memory map")?;
            let held = match access.get_ref() {
                Access::Read => rights::MAP_READ,
                Access::ReadWrite => rights::MAP_READ | rights::MAP_WRITE,
            };
            let capability = CapabilityImage {
                name: region.clone(),
                object,
                rights: held,
            };
            add_capability(
                source,
                &mut entities[entity as usize],
                capability,
                name.span(),
            )?;
        }
        shared_memory_sizes.push(bytes);
    }

    // Devices: one capability per kind an entity drives, named after the kind.
    for (index, section) in description.entity.iter().enumerate() {
        compile_devices(source, section, &mut entities[index])?;
    }

    for (index, section) in description.entity.iter().enumerate() {
        if let Some(routes) = &section.routes {
            let compiled = compile_routes(source, routes, index, &entities, &resolver)?;
            entities[index].routes = compiled;
            add_bulk_regions(
                source,
                routes,
                index,
                &mut entities,
                &resolver,
                &mut shared_memory_sizes,
            )?;
        }
    }

    let connections: Vec<(u32, u32)> = connected
        .iter()
        .map(|(client, server, _)| (*client, *server))
        .collect();
    let policy = policy::compile(
        source,
        &description.policy,
        &entities,
        &resolver,
        &connections,
        interfaces,
        interfaces_directory,
    )?;
    let tests_passed = policy::run_tests(
        source,
        &description.policy,
        &entities,
        &resolver,
        &policy,
        interfaces,
        interfaces_directory,
    )?;

    Ok(System {
        name: system.name.get_ref().clone(),
        entities,
        endpoint_count,
        notification_count: u32::try_from(description.notification.len()).unwrap_or(u32::MAX),
        shared_memory_sizes,
        policy,
        exit_with,
        audit_only: system.audit_only,
        tests_passed,
    })
}

/// A size that must be a positive number of whole pages: the `label` (`memory`, `size`) of
/// `owner` (`entity `echo``), with `example` shown in the fix for a malformed one.
fn whole_pages(
    source: &Source<'_>,
    value: &Spanned<toml::Value>,
    label: &str,
    owner: &str,
    example: &str,
) -> Result<u64, Diagnostic> {
    let Some(bytes) = size::parse(value.get_ref()) else {
        return Err(source.error(
            value.span(),
            format!("{label} {} of {owner} is not a size", value.get_ref()),
            format!(
                "write a number of bytes, or a string such as \"{example}\" (units B, KiB, MiB, \
                 GiB)"
            ),
        ));
    };
    if bytes == 0 || !bytes.is_multiple_of(PAGE_SIZE) {
        let rounded = bytes.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
        return Err(source.error(
            value.span(),
            format!(
                "{label} {} of {owner} is not a positive multiple of 4 KiB",
                size::display(bytes)
            ),
            format!("round it up to {}", size::display(rounded)),
        ));
    }
    Ok(bytes)
}

/// How `cargo xtask` can prepare a disk: blank, or formatted FAT32.
const DISK_FORMATS: [&str; 2] = ["raw", "fat32"];

/// Most boots of one test system on one disk.
const BOOTS_MAX: i64 = 4;

/// Bytes in a disk sector: a disk's size is a whole number of them.
const SECTOR_SIZE: u64 = 512;

/// Checks `[system] disk`: a positive whole number of sectors.
fn check_disk(source: &Source<'_>, disk: &Spanned<toml::Value>) -> Result<(), Diagnostic> {
    match size::parse(disk.get_ref()) {
        Some(bytes) if bytes > 0 && bytes.is_multiple_of(SECTOR_SIZE) => Ok(()),
        Some(bytes) => Err(source.error(
            disk.span(),
            format!(
                "disk of {} is not a positive multiple of {SECTOR_SIZE} bytes",
                size::display(bytes)
            ),
            format!(
                "round it up to {}",
                size::display(bytes.div_ceil(SECTOR_SIZE).max(1) * SECTOR_SIZE)
            ),
        )),
        None => Err(source.error(
            disk.span(),
            format!("disk {} is not a size", disk.get_ref()),
            "write a number of bytes, or a string such as \"16 MiB\" (units B, KiB, MiB, GiB)",
        )),
    }
}

/// Gives `entity` a capability for each kind of device its `devices` lists, named after the
/// kind, whose object is the kind's virtio device id.
fn compile_devices(
    source: &Source<'_>,
    section: &EntitySection,
    entity: &mut Entity,
) -> Result<(), Diagnostic> {
    for (index, kind) in section.devices.iter().enumerate() {
        let name = kind.get_ref();
        let Some(device_id) = device::kind_id(name) else {
            return Err(source.error(
                kind.span(),
                format!(
                    "entity `{}` asks for unknown device kind `{name}`",
                    entity.name
                ),
                format!(
                    "use one of the virtio kinds: {}",
                    listing(device::KINDS.iter().map(|(kind, _)| *kind))
                ),
            ));
        };
        if section.devices[..index]
            .iter()
            .any(|earlier| earlier.get_ref() == name)
        {
            return Err(source.error(
                kind.span(),
                format!(
                    "entity `{}` lists device `{name}` twice in `devices`",
                    entity.name
                ),
                "list each kind once: an entity drives at most one device of a kind",
            ));
        }
        add_capability(
            source,
            entity,
            CapabilityImage {
                name: name.clone(),
                object: ObjectImage::VirtioDevice(device_id),
                rights: 0,
            },
            kind.span(),
        )?;
    }
    Ok(())
}

/// Rejects a second object (notification, region) of the same name.
fn check_unique<'a>(
    source: &Source<'_>,
    name: &Spanned<String>,
    mut earlier: impl Iterator<Item = &'a Spanned<String>>,
    what: &str,
) -> Result<(), Diagnostic> {
    if let Some(other) = earlier.find(|other| other.get_ref() == name.get_ref()) {
        return Err(source.error(
            name.span(),
            format!(
                "{what} `{}` is already defined at line {}",
                name.get_ref(),
                source.line(other.span())
            ),
            format!("give each {what} a distinct name"),
        ));
    }
    Ok(())
}

/// Adds a capability, rejecting a second one of the same name in the same entity (the runtime
/// finds capabilities by name).
fn add_capability(
    source: &Source<'_>,
    entity: &mut Entity,
    capability: CapabilityImage,
    span: Range<usize>,
) -> Result<(), Diagnostic> {
    if let Some(index) = entity
        .capabilities
        .iter()
        .position(|other| other.name == capability.name)
    {
        return Err(source.error(
            span,
            format!(
                "entity `{}` would hold two capabilities named `{}` (the other comes from line {})",
                entity.name,
                capability.name,
                source.line(entity.capability_spans[index].clone())
            ),
            "give the connection a distinct `name`, or rename the notification or shared memory \
             (a device's capability has its kind's name)",
        ));
    }
    entity.capabilities.push(capability);
    entity.capability_spans.push(span);
    Ok(())
}

fn compile_entity(
    source: &Source<'_>,
    section: &EntitySection,
    interfaces: &[Interface],
    interfaces_directory: &Path,
    resolve_binary: &dyn Fn(Binary<'_>) -> Option<PathBuf>,
    endpoint_count: &mut u32,
) -> Result<Entity, Diagnostic> {
    check_name(source, &section.name, "entity")?;
    let name = section.name.get_ref().clone();

    let priority = match &section.priority {
        None => DEFAULT_PRIORITY,
        Some(priority) => match u8::try_from(*priority.get_ref()) {
            Ok(value) if i64::from(value) <= PRIORITY_MAX => value,
            _ => {
                return Err(source.error(
                    priority.span(),
                    format!(
                        "priority {} of entity `{name}` is out of range",
                        priority.get_ref()
                    ),
                    format!("use a priority from 0 (lowest) to {PRIORITY_MAX} (highest)"),
                ));
            }
        },
    };

    let memory_limit = match &section.memory {
        None => DEFAULT_MEMORY,
        Some(memory) => whole_pages(
            source,
            memory,
            "memory",
            &format!("entity `{name}`"),
            "4 MiB",
        )?,
    };

    let mut serves: Vec<String> = Vec::new();
    for served in &section.serves {
        let interface = served.get_ref();
        if !interfaces.iter().any(|known| &known.name == interface) {
            return Err(source.error(
                served.span(),
                format!("entity `{name}` serves unknown interface `{interface}`"),
                format!(
                    "use an interface defined in {}: {}",
                    interfaces_directory.display(),
                    listing(interfaces.iter().map(|known| known.name.as_str()))
                ),
            ));
        }
        if serves.contains(interface) {
            return Err(source.error(
                served.span(),
                format!("entity `{name}` lists interface `{interface}` twice in `serves`"),
                "list each interface once",
            ));
        }
        serves.push(interface.clone());
    }

    let (binary, binary_path) = match (&section.binary, &section.program) {
        (Some(binary), None) => {
            let Some(path) = resolve_binary(Binary::Crate(binary.get_ref())) else {
                return Err(source.error(
                    binary.span(),
                    format!(
                        "binary `{}` of entity `{name}` was not found",
                        binary.get_ref()
                    ),
                    "name an entity program that xtask builds (a crate under entities/), and \
                     check its spelling",
                ));
            };
            (binary.get_ref().clone(), path)
        }
        (None, Some(program)) => {
            let Some(path) = resolve_binary(Binary::Program(program.get_ref())) else {
                return Err(source.error(
                    program.span(),
                    format!(
                        "program `{}` of entity `{name}` was not found",
                        program.get_ref()
                    ),
                    "give the path of an executable built with the sysroot, relative to the \
                     description's directory (`{arch}` stands for the architecture)",
                ));
            };
            let program_name = Path::new(program.get_ref())
                .file_name()
                .map_or_else(|| name.clone(), |file| file.to_string_lossy().into_owned());
            (program_name, path)
        }
        (Some(binary), Some(_)) => {
            return Err(source.error(
                binary.span(),
                format!("entity `{name}` has both a `binary` and a `program`"),
                "keep `binary` for a Septa entity crate or `program` for a C or Rust std \
                 executable, not both",
            ));
        }
        (None, None) => {
            return Err(source.error(
                section.name.span(),
                format!("entity `{name}` has neither a `binary` nor a `program`"),
                "add `binary = \"<entity crate>\"` or `program = \"<path to an executable>\"`",
            ));
        }
    };

    let stack_size = match &section.stack {
        None => startup::STACK_SIZE as u64,
        Some(stack) => whole_pages(source, stack, "stack", &format!("entity `{name}`"), "1 MiB")?,
    };
    if stack_size > startup::STACK_SIZE_MAX as u64 || stack_size >= memory_limit {
        let span = section
            .stack
            .as_ref()
            .map_or(section.name.span(), Spanned::span);
        return Err(source.error(
            span,
            format!(
                "stack of {stack_size} bytes for entity `{name}` does not fit: at most {} MiB, \
                 and less than its memory ({memory_limit} bytes)",
                startup::STACK_SIZE_MAX >> 20
            ),
            "lower `stack`, or raise `memory`",
        ));
    }

    let mut environment = Vec::new();
    for (key, value) in &section.environment {
        let valid_key = !key.get_ref().is_empty()
            && !key.get_ref().contains(['=', '\0'])
            && !value.get_ref().contains('\0');
        if !valid_key {
            return Err(source.error(
                key.span(),
                format!(
                    "environment variable `{}` of entity `{name}` is malformed",
                    key.get_ref()
                ),
                "use a non-empty name without `=`, and no NUL character in name or value",
            ));
        }
        environment.push(format!("{}={}", key.get_ref(), value.get_ref()));
    }
    let strings: usize = environment
        .iter()
        .chain(&section.arguments)
        .map(|text| text.len() + 1)
        .sum::<usize>()
        + binary.len()
        + 1;
    if strings > startup::STRINGS_MAX {
        return Err(source.error(
            section.name.span(),
            format!("arguments and environment of entity `{name}` take {strings} bytes"),
            format!("keep them under {} bytes", startup::STRINGS_MAX),
        ));
    }

    let mut entity = Entity {
        name: name.clone(),
        binary: binary.clone(),
        binary_path,
        arguments: std::iter::once(binary.clone())
            .chain(section.arguments.iter().cloned())
            .collect(),
        environment,
        stack_size,
        routes: Vec::new(),
        priority,
        memory_limit,
        serves,
        endpoint: None,
        capabilities: Vec::new(),
        capability_spans: Vec::new(),
    };
    if !entity.serves.is_empty() {
        let endpoint = *endpoint_count;
        *endpoint_count += 1;
        entity.endpoint = Some(endpoint);
        entity.capabilities.push(CapabilityImage {
            name: ENDPOINT_CAPABILITY.to_string(),
            object: ObjectImage::Endpoint(endpoint),
            rights: rights::RECEIVE,
        });
        entity.capability_spans.push(section.serves[0].span());
    }
    Ok(entity)
}

/// What an entity's executable is, for the resolver the caller supplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary<'a> {
    /// `binary`: a Septa entity crate built by xtask.
    Crate(&'a str),
    /// `program`: a path to a C or Rust std executable, as written in the description.
    Program(&'a str),
}

/// Longest mount prefix, in bytes.
const MOUNT_PREFIX_MAX: usize = 255;

/// Compiles `[entity.routes]` of entity `index`: each route names a server the entity is
/// connected to, and becomes a record pointing at that connection's capability.
fn compile_routes(
    source: &Source<'_>,
    routes: &RoutesSection,
    index: usize,
    entities: &[Entity],
    resolver: &EntityNames<'_>,
) -> Result<Vec<RouteImage>, Diagnostic> {
    let entity = &entities[index];
    let capability_of = |server: &Spanned<String>| -> Result<u32, Diagnostic> {
        let identity = resolver.find(source, server, "routes")?;
        let endpoint = entities[identity as usize].endpoint;
        entity
            .capabilities
            .iter()
            .position(|capability| {
                endpoint.is_some_and(|endpoint| {
                    capability.object == ObjectImage::Endpoint(endpoint)
                        && capability.rights & rights::SEND != 0
                })
            })
            .map(|position| position as u32)
            .ok_or_else(|| {
                source.error(
                    server.span(),
                    format!(
                        "entity `{}` routes to `{}` but is not connected to it",
                        entity.name,
                        server.get_ref()
                    ),
                    format!(
                        "add a [[connection]] with client = \"{}\" and server = \"{}\"",
                        entity.name,
                        server.get_ref()
                    ),
                )
            })
    };
    let mut compiled = Vec::new();
    for (prefix, server) in &routes.mounts {
        let text = prefix.get_ref();
        let normalised = text.starts_with('/')
            && text.len() <= MOUNT_PREFIX_MAX
            && (text == "/"
                || (!text.ends_with('/')
                    && text[1..]
                        .split('/')
                        .all(|part| !part.is_empty() && part != "." && part != "..")))
            && !text.contains('\0');
        if !normalised {
            return Err(source.error(
                prefix.span(),
                format!(
                    "mount prefix `{text}` of entity `{}` is not a normalised absolute path",
                    entity.name
                ),
                format!(
                    "write it like \"/\" or \"/data/app\": absolute, no `.` or `..`, no repeated \
                     or trailing `/`, at most {MOUNT_PREFIX_MAX} bytes"
                ),
            ));
        }
        compiled.push(RouteImage {
            kind: startup::route::MOUNT,
            capability: capability_of(server)?,
            bulk: None,
            prefix: text.clone(),
        });
    }
    for (kind, server) in [
        (startup::route::UNIX, &routes.unix),
        (startup::route::INET, &routes.inet),
    ] {
        if let Some(server) = server {
            compiled.push(RouteImage {
                kind,
                capability: capability_of(server)?,
                bulk: None,
                prefix: String::new(),
            });
        }
    }
    Ok(compiled)
}

/// Gives entity `index` a shared-memory region of [`startup::FILE_BULK_SIZE`] bytes with each
/// file VFS it mounts, for file data: the client holds it as `<server>.bulk` and the route
/// names it; the server holds it as `bulk.<client identity>` ([`startup::CLIENT_BULK_PREFIX`]),
/// which is how it finds the region of the entity the kernel says is calling.
fn add_bulk_regions(
    source: &Source<'_>,
    routes: &RoutesSection,
    index: usize,
    entities: &mut [Entity],
    resolver: &EntityNames<'_>,
    shared_memory_sizes: &mut Vec<u64>,
) -> Result<(), Diagnostic> {
    let mut served: Vec<u32> = Vec::new();
    for server in routes.mounts.values() {
        let identity = resolver.find(source, server, "routes")?;
        if served.contains(&identity) {
            continue;
        }
        served.push(identity);
        let region = u32::try_from(shared_memory_sizes.len()).unwrap_or(u32::MAX);
        shared_memory_sizes.push(startup::FILE_BULK_SIZE as u64);
        let capability = |name: String| CapabilityImage {
            name,
            object: ObjectImage::SharedMemory(region),
            rights: rights::MAP_READ | rights::MAP_WRITE,
        };
        let client_name = format!("{}.bulk", server.get_ref());
        add_capability(
            source,
            &mut entities[index],
            capability(client_name),
            server.span(),
        )?;
        let held = u32::try_from(entities[index].capabilities.len() - 1).unwrap_or(u32::MAX);
        let server_name = format!("{}{index}", startup::CLIENT_BULK_PREFIX);
        add_capability(
            source,
            &mut entities[identity as usize],
            capability(server_name),
            server.span(),
        )?;
        let endpoint = entities[identity as usize].endpoint;
        let client = &mut entities[index];
        for route in &mut client.routes {
            let serves = endpoint.is_some_and(|endpoint| {
                client.capabilities[route.capability as usize].object
                    == ObjectImage::Endpoint(endpoint)
            });
            if route.kind == startup::route::MOUNT && serves {
                route.bulk = Some(held);
            }
        }
    }
    Ok(())
}

/// Entity names in description order: an entity's identity is its index.
pub(crate) struct EntityNames<'a> {
    pub names: &'a [String],
}

impl EntityNames<'_> {
    /// The identity of the entity `name` refers to, or a diagnostic naming `context`.
    pub(crate) fn find(
        &self,
        source: &Source<'_>,
        name: &Spanned<String>,
        context: &str,
    ) -> Result<u32, Diagnostic> {
        match self.names.iter().position(|known| known == name.get_ref()) {
            Some(index) => Ok(u32::try_from(index).unwrap_or(u32::MAX)),
            None => Err(source.error(
                name.span(),
                format!("unknown entity `{}` in {context}", name.get_ref()),
                format!(
                    "name an entity described by an [[entity]] table: {}",
                    listing(self.names.iter().map(String::as_str))
                ),
            )),
        }
    }
}
