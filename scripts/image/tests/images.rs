//! Building valid systems: what lands in the boot image, and the summary.

use septa_abi::rights;
use septa_boot_image::{CapabilityImage, ObjectImage};
use septa_monitor::{Condition, Predicate, Rule};
use std::path::{Path, PathBuf};

fn resolve(binary: septa_image::Binary<'_>) -> Option<PathBuf> {
    let (septa_image::Binary::Crate(name) | septa_image::Binary::Program(name)) = binary;
    let path = Path::new("tests/binaries").join(name);
    path.is_file().then_some(path)
}

fn interfaces() -> &'static Path {
    Path::new("../../interfaces/definitions")
}

fn build(path: &str) -> septa_image::BuiltImage {
    septa_image::build(Path::new(path), interfaces(), &resolve)
        .unwrap_or_else(|diagnostic| panic!("{diagnostic}"))
}

fn capability(name: &str, object: ObjectImage, rights: u32) -> CapabilityImage {
    CapabilityImage {
        name: name.to_string(),
        object,
        rights,
    }
}

#[test]
fn demo_builds_every_part_of_the_image() {
    let built = build("tests/systems/demo.toml");
    let image = septa_boot_image::decode(&built.bytes).expect("the image decodes");

    assert_eq!(image.name, "demo");
    let names: Vec<&str> = image
        .entities
        .iter()
        .map(|entity| entity.name.as_str())
        .collect();
    assert_eq!(names, ["echo", "client", "tester"]);
    assert_eq!(image.exit_with, Some(1));
    assert!(!image.audit_only);
    assert_eq!(image.endpoint_count, 2);
    assert_eq!(image.notification_count, 1);
    assert_eq!(image.shared_memory_sizes, [64 * 1024]);

    let echo = &image.entities[0];
    assert_eq!(
        echo.elf,
        std::fs::read("tests/binaries/echo-server").expect("binary")
    );
    assert_eq!(echo.arguments, ["echo-server"]);
    assert_eq!((echo.priority, echo.memory_limit), (20, 4 << 20));
    assert_eq!(
        echo.capabilities,
        [
            capability("endpoint", ObjectImage::Endpoint(0), rights::RECEIVE),
            capability(
                "ready",
                ObjectImage::Notification(0),
                rights::SIGNAL | rights::WAIT
            ),
            capability("bulk", ObjectImage::SharedMemory(0), rights::MAP_READ),
        ]
    );

    let client = &image.entities[1];
    assert_eq!(client.arguments, ["demo-client", "--verbose"]);
    assert_eq!((client.priority, client.memory_limit), (5, 2 << 20));
    assert_eq!(
        client.capabilities,
        [
            capability("echo", ObjectImage::Endpoint(0), rights::SEND),
            capability("test", ObjectImage::Endpoint(1), rights::SEND),
            capability("ready", ObjectImage::Notification(0), rights::WAIT),
            capability(
                "bulk",
                ObjectImage::SharedMemory(0),
                rights::MAP_READ | rights::MAP_WRITE
            ),
        ]
    );

    let tester = &image.entities[2];
    assert_eq!((tester.priority, tester.memory_limit), (10, 4 << 20));
    assert_eq!(
        tester.capabilities,
        [capability(
            "endpoint",
            ObjectImage::Endpoint(1),
            rights::RECEIVE
        )]
    );

    let policy = &image.policy;
    assert_eq!(policy.entity_names, ["echo", "client", "tester"]);
    let interface_names: Vec<&str> = policy
        .interfaces
        .iter()
        .map(|interface| interface.name.as_str())
        .collect();
    assert_eq!(interface_names, ["Block", "Echo", "File", "SystemTest"]);
    assert_eq!(
        policy.rules,
        [
            Rule {
                source: 1,
                target: 0,
                interface: 1,
                method: Some(0),
                conditions: vec![]
            },
            Rule {
                source: 1,
                target: 0,
                interface: 1,
                method: Some(3),
                conditions: vec![
                    Condition {
                        field: 0,
                        predicate: Predicate::Prefix(b"/etc/".to_vec())
                    },
                    Condition {
                        field: 1,
                        predicate: Predicate::Range {
                            minimum: 0,
                            maximum: 3
                        }
                    },
                ],
            },
            Rule {
                source: 1,
                target: 2,
                interface: 2,
                method: None,
                conditions: vec![]
            },
        ]
    );
}

#[test]
fn demo_summary_lists_entities_handles_rules_and_tests() {
    let built = build("tests/systems/demo.toml");
    let expected_start = "\
system `demo`: 3 entities, 2 endpoints, 1 notification, 1 shared-memory region
  entity 0 `echo` (echo-server): priority 20, memory 4 MiB, serves Echo
    handle 1 `endpoint`: endpoint 0, receive
    handle 2 `ready`: notification 0, signal+wait
    handle 3 `bulk`: shared memory 0, map-read
  entity 1 `client` (demo-client): priority 5, memory 2 MiB, its exit ends the system
    handle 1 `echo`: endpoint 0, send
    handle 2 `test`: endpoint 1, send
    handle 3 `ready`: notification 0, wait
    handle 4 `bulk`: shared memory 0, map-read+map-write
  entity 2 `tester` (demo-client): priority 10, memory 4 MiB, serves SystemTest
    handle 1 `endpoint`: endpoint 1, receive
policy: 4 interfaces, 3 rules, enforced (default deny)
policy tests: 7 passed
image: ";
    assert!(
        built.summary.starts_with(expected_start),
        "{}",
        built.summary
    );
    assert!(
        built
            .summary
            .ends_with(&format!("image: {} bytes", built.bytes.len()))
    );
}

#[test]
fn devices_become_capabilities_after_the_others() {
    let built = build("tests/systems/devices.toml");
    let image = septa_boot_image::decode(&built.bytes).expect("the image decodes");
    assert_eq!(
        image.entities[0].capabilities,
        [
            capability("done", ObjectImage::Notification(0), rights::WAIT),
            capability("virtio-blk", ObjectImage::VirtioDevice(2), 0),
            capability("virtio-rng", ObjectImage::VirtioDevice(4), 0),
        ]
    );
    assert!(
        built.summary.contains(
            "    handle 2 `virtio-blk`: virtio-blk device (virtio id 2), bound at boot\n    \
             handle 3 `virtio-rng`: virtio-rng device (virtio id 4), bound at boot\n"
        ),
        "{}",
        built.summary
    );
    assert_eq!(
        image.entities[1].capabilities,
        [capability(
            "done",
            ObjectImage::Notification(0),
            rights::SIGNAL
        )]
    );
}

#[test]
fn minimal_takes_every_default() {
    let built = build("tests/systems/minimal.toml");
    let image = septa_boot_image::decode(&built.bytes).expect("the image decodes");
    let client = &image.entities[0];
    assert_eq!((client.priority, client.memory_limit), (10, 4 << 20));
    assert!(client.capabilities.is_empty());
    assert_eq!(image.exit_with, None);
    assert!(image.policy.rules.is_empty());
    assert_eq!(image.endpoint_count, 0);
}

#[test]
fn audit_mode_is_carried_into_the_image() {
    let directory = std::env::temp_dir().join(format!("septa-image-audit-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let description = directory.join("audited.toml");
    std::fs::write(
        &description,
        "[system]\nname = \"audited\"\naudit_only = true\n\n[[entity]]\nname = \"client\"\n\
         binary = \"demo-client\"\n",
    )
    .expect("writable");
    let resolve_absolute = |binary: septa_image::Binary<'_>| {
        let (septa_image::Binary::Crate(name) | septa_image::Binary::Program(name)) = binary;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/binaries")
            .join(name);
        path.is_file().then_some(path)
    };
    let built = septa_image::build(&description, interfaces(), &resolve_absolute)
        .unwrap_or_else(|diagnostic| panic!("{diagnostic}"));
    let image = septa_boot_image::decode(&built.bytes).expect("decodes");
    assert!(image.audit_only);
    assert!(
        built
            .summary
            .contains("audit only (denials are recorded, not enforced)")
    );
    std::fs::remove_dir_all(&directory).expect("removable");
}

#[test]
fn a_missing_description_names_the_file() {
    let diagnostic = septa_image::build(
        Path::new("tests/systems/absent.toml"),
        interfaces(),
        &resolve,
    )
    .expect_err("there is no such file");
    assert!(
        diagnostic
            .to_string()
            .starts_with("tests/systems/absent.toml: error: cannot read the system description:")
    );
    assert_eq!(diagnostic.line, None);
}

#[test]
fn an_unreadable_binary_names_the_entity() {
    let resolve_missing = |binary: septa_image::Binary<'_>| {
        let (septa_image::Binary::Crate(name) | septa_image::Binary::Program(name)) = binary;
        Some(PathBuf::from("tests/binaries/missing").join(name))
    };
    let diagnostic = septa_image::build(
        Path::new("tests/systems/minimal.toml"),
        interfaces(),
        &resolve_missing,
    )
    .expect_err("the binary does not exist");
    let text = diagnostic.to_string();
    assert!(
        text.starts_with(
            "tests/systems/minimal.toml:8: error: cannot read binary `demo-client` of entity \
             `client` at tests/binaries/missing/demo-client:"
        ),
        "{text}"
    );
    assert!(text.ends_with("\n  fix: build the entity programs first (cargo xtask build)"));
}

#[test]
fn interface_definition_errors_name_the_definition_file() {
    let diagnostic = septa_image::build(
        Path::new("tests/systems/minimal.toml"),
        Path::new("../idl/tests/fixtures/duplicate_interface_id"),
        &resolve,
    )
    .expect_err("the definitions clash");
    assert_eq!(
        diagnostic.file,
        Path::new("../idl/tests/fixtures/duplicate_interface_id/second.toml")
    );
}

#[test]
fn every_system_in_the_tree_builds() {
    // Any binary name resolves to a stand-in: this checks the descriptions and their policy
    // tests; `cargo xtask image` checks the binaries exist.
    let stand_in = |_: septa_image::Binary<'_>| Some(PathBuf::from("tests/binaries/demo-client"));
    let mut built = 0;
    for entry in std::fs::read_dir("../../systems").expect("the systems directory exists") {
        let path = entry.expect("readable").path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
        {
            septa_image::build(&path, interfaces(), &stand_in)
                .unwrap_or_else(|diagnostic| panic!("{diagnostic}"));
            built += 1;
        }
    }
    assert!(built > 0, "systems/ holds at least one description");
}

#[test]
fn programs_environment_stack_and_routes_land_in_the_image() {
    let directory = std::env::temp_dir().join(format!("septa-image-routes-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let description = directory.join("routed.toml");
    // Routes written inline, and as an implicit table (`[entity.routes.mounts]`, as the toml
    // crate writes them for `cargo xtask exec`).
    std::fs::write(
        &description,
        r#"[system]
name = "routed"

[[entity]]
name = "program"
program = "tool"
arguments = ["-v"]
environment = { HOME = "/", LANG = "C" }
stack = "1 MiB"
memory = "8 MiB"
routes = { mounts = { "/" = "vfs", "/data" = "vfs" } }

[[entity]]
name = "vfs"
binary = "echo-server"
serves = ["File"]

[entity.routes.mounts]
"/" = "vfs"

[[connection]]
client = "program"
server = "vfs"

[[connection]]
client = "vfs"
server = "vfs"
"#,
    )
    .expect("writable");
    let resolve = |binary: septa_image::Binary<'_>| {
        let (septa_image::Binary::Crate(name) | septa_image::Binary::Program(name)) = binary;
        let name = if name == "tool" { "demo-client" } else { name };
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/binaries")
            .join(name);
        path.is_file().then_some(path)
    };
    let built = septa_image::build(&description, interfaces(), &resolve)
        .unwrap_or_else(|diagnostic| panic!("{diagnostic}"));
    let image = septa_boot_image::decode(&built.bytes).expect("decodes");
    let program = &image.entities[0];
    assert_eq!(program.arguments, ["tool", "-v"]);
    assert_eq!(program.environment, ["HOME=/", "LANG=C"]);
    assert_eq!(program.stack_size, 1 << 20);
    let prefixes: Vec<&str> = program
        .routes
        .iter()
        .map(|route| route.prefix.as_str())
        .collect();
    assert_eq!(prefixes, ["/", "/data"]);
    assert!(
        program
            .routes
            .iter()
            .all(|route| route.kind == septa_abi::startup::route::MOUNT)
    );
    let capability = &program.capabilities[program.routes[0].capability as usize];
    assert_eq!(capability.name, "vfs");
    assert_eq!(image.entities[1].routes.len(), 1);
    // One bulk region per client and file VFS, named by both mounts, held by the server under
    // the client's number.
    let bulk: Vec<Option<u32>> = program.routes.iter().map(|route| route.bulk).collect();
    assert!(bulk[0].is_some() && bulk[0] == bulk[1], "{bulk:?}");
    let region = &program.capabilities[bulk[0].unwrap_or(0) as usize];
    assert_eq!(region.name, "vfs.bulk");
    let septa_boot_image::ObjectImage::SharedMemory(index) = region.object else {
        panic!("the bulk capability is {:?}", region.object);
    };
    assert_eq!(
        image.shared_memory_sizes[index as usize],
        septa_abi::startup::FILE_BULK_SIZE as u64
    );
    let held = image.entities[1]
        .capabilities
        .iter()
        .find(|capability| capability.name == "bulk.0")
        .expect("the server holds the program's region");
    assert_eq!(held.object, region.object);
    let rights = septa_abi::rights::MAP_READ | septa_abi::rights::MAP_WRITE;
    assert_eq!((region.rights, held.rights), (rights, rights));
    std::fs::remove_dir_all(&directory).expect("removable");
}
