//! One bad description per validation error, each asserting the exact diagnostic.
//!
//! Fixtures live in `tests/fixtures/<name>.toml`; each holds one mistake in an otherwise valid
//! description. `every_fixture_is_asserted` keeps this list and the directory in step.

use std::path::{Path, PathBuf};

/// Binaries for the fixtures: stand-in files under `tests/binaries/`.
fn resolve(binary: septa_image::Binary<'_>) -> Option<PathBuf> {
    let (septa_image::Binary::Crate(name) | septa_image::Binary::Program(name)) = binary;
    let path = Path::new("tests/binaries").join(name);
    path.is_file().then_some(path)
}

/// The diagnostic `build` gives for `tests/fixtures/<name>.toml`.
fn diagnostic_for(name: &str) -> String {
    // Paths relative to the package root, where cargo runs tests, keep messages stable.
    let path = Path::new("tests/fixtures").join(format!("{name}.toml"));
    match septa_image::build(&path, Path::new("../../interfaces/definitions"), &resolve) {
        Ok(image) => panic!("{name} was accepted:\n{}", image.summary),
        Err(diagnostic) => diagnostic.to_string(),
    }
}

/// Declares one test per fixture, and the list of fixtures the directory must match.
macro_rules! fixtures {
    ($($name:ident => $expected:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(diagnostic_for(stringify!($name)), $expected);
            }
        )*

        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
    };
}

#[test]
fn every_fixture_is_asserted() {
    let mut present: Vec<String> = std::fs::read_dir("tests/fixtures")
        .expect("the fixtures directory exists")
        .map(|entry| {
            let path = entry.expect("readable").path();
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    present.sort();
    let mut asserted: Vec<String> = FIXTURES.iter().map(|name| name.to_string()).collect();
    asserted.sort();
    assert_eq!(present, asserted);
}

fixtures! {
    bad_entity_name =>
        "tests/fixtures/bad_entity_name.toml:7: error: entity name `Echo Server` is not a valid \
         name\n  \
         fix: use lower-case letters, digits, `-` and `_`, starting with a letter, for example \
         `echo-server`";
    bad_memory_size =>
        "tests/fixtures/bad_memory_size.toml:9: error: memory \"4 MB\" of entity `echo` is not a \
         size\n  \
         fix: write a number of bytes, or a string such as \"4 MiB\" (units B, KiB, MiB, GiB)";
    binary_not_found =>
        "tests/fixtures/binary_not_found.toml:8: error: binary `echo-srv` of entity `echo` was \
         not found\n  \
         fix: name an entity program that xtask builds (a crate under entities/), and check its \
         spelling";
    capability_name_clash =>
        "tests/fixtures/capability_name_clash.toml:22: error: entity `client` would hold two \
         capabilities named `echo` (the other comes from line 17)\n  \
         fix: give the connection a distinct `name`, or rename the notification or shared memory \
         (a device's capability has its kind's name)";
    connection_to_non_server =>
        "tests/fixtures/connection_to_non_server.toml:21: error: entity `client` serves no \
         interface, so `echo` cannot connect to it\n  \
         fix: connect to an entity that serves an interface, or give `client` a `serves` list";
    connection_unknown_entity =>
        "tests/fixtures/connection_unknown_entity.toml:20: error: unknown entity `clint` in \
         connection\n  \
         fix: name an entity described by an [[entity]] table: `echo`, `client`";
    device_listed_twice =>
        "tests/fixtures/device_listed_twice.toml:9: error: entity `driver` lists device \
         `virtio-blk` twice in `devices`\n  \
         fix: list each kind once: an entity drives at most one device of a kind";
    device_unknown_kind =>
        "tests/fixtures/device_unknown_kind.toml:9: error: entity `driver` asks for unknown \
         device kind `virtio-blok`\n  \
         fix: use one of the virtio kinds: `virtio-net`, `virtio-blk`, `virtio-console`, \
         `virtio-rng`, `virtio-gpu`, `virtio-input`, `virtio-vsock`";
    disk_not_a_size =>
        "tests/fixtures/disk_not_a_size.toml:5: error: disk \"16 MB\" is not a size\n  \
         fix: write a number of bytes, or a string such as \"16 MiB\" (units B, KiB, MiB, GiB)";
    disk_size =>
        "tests/fixtures/disk_size.toml:5: error: disk of 1000 bytes is not a positive multiple \
         of 512 bytes\n  \
         fix: round it up to 1 KiB";
    duplicate_connection =>
        "tests/fixtures/duplicate_connection.toml:20: error: `client` is already connected to \
         `echo` at line 16\n  \
         fix: remove one of the two connections";
    duplicate_entity =>
        "tests/fixtures/duplicate_entity.toml:20: error: entity `echo` is already defined at line \
         7\n  \
         fix: give each entity a distinct name";
    duplicate_notification =>
        "tests/fixtures/duplicate_notification.toml:24: error: notification `ready` is already \
         defined at line 20\n  \
         fix: give each notification a distinct name";
    exit_with_unknown =>
        "tests/fixtures/exit_with_unknown.toml:5: error: unknown entity `clint` in `exit_with`\n  \
         fix: name an entity described by an [[entity]] table: `echo`, `client`";
    grant_bad_call =>
        "tests/fixtures/grant_bad_call.toml:22: error: `Echo` does not name a call\n  \
         fix: write `Interface.method`, or `Interface.*` for every method, for example \
         `Echo.ping`";
    grant_bad_predicate =>
        "tests/fixtures/grant_bad_predicate.toml:23: error: unknown variant `starts`, expected \
         `prefix` or `range`\n  \
         fix: use one of the values the message lists";
    grant_conditions_on_every_method =>
        "tests/fixtures/grant_conditions_on_every_method.toml:23: error: conditions need a single \
         method, but `Echo.*` names every method of `Echo`\n  \
         fix: name the method the conditions apply to, for example `Echo.ping`";
    grant_empty_range =>
        "tests/fixtures/grant_empty_range.toml:23: error: range [3, 0] on `flags` is empty\n  \
         fix: write the smaller bound first";
    grant_interface_not_served =>
        "tests/fixtures/grant_interface_not_served.toml:22: error: entity `echo` does not serve \
         `SystemTest`\n  \
         fix: add \"SystemTest\" to `serves` of entity `echo`, or grant an interface it serves: \
         `Echo`";
    grant_prefix_on_integer =>
        "tests/fixtures/grant_prefix_on_integer.toml:23: error: `prefix` needs a string or bytes \
         field, but `flags` of `Echo.open` is u32\n  \
         fix: use `range = [minimum, maximum]` on an integer field";
    grant_range_beyond_type =>
        "tests/fixtures/grant_range_beyond_type.toml:23: error: range [-1, 3] goes beyond what \
         the u32 field `flags` can hold\n  \
         fix: keep both bounds from 0 to 4294967295";
    grant_range_on_string =>
        "tests/fixtures/grant_range_on_string.toml:23: error: `range` needs an integer field, but \
         `path` of `Echo.open` is string\n  \
         fix: use `prefix = \"...\"` on a string or bytes field";
    grant_unknown_entity =>
        "tests/fixtures/grant_unknown_entity.toml:21: error: unknown entity `ecko` in grant\n  \
         fix: name an entity described by an [[entity]] table: `echo`, `client`";
    grant_unknown_field =>
        "tests/fixtures/grant_unknown_field.toml:23: error: `Echo.open` has no request field \
         `pth`\n  \
         fix: use one of its request fields: `path`, `flags`";
    grant_unknown_interface =>
        "tests/fixtures/grant_unknown_interface.toml:22: error: unknown interface `Ecko` in \
         `Ecko.ping`\n  \
         fix: use an interface defined in ../../interfaces/definitions: `Block`, `Echo`, `File`, `SystemTest`";
    grant_unknown_method =>
        "tests/fixtures/grant_unknown_method.toml:22: error: interface `Echo` has no method \
         `pong`\n  \
         fix: use one of its methods, `ping`, `greet`, `add`, `open`, `transfer`, or `Echo.*`";
    grant_without_connection =>
        "tests/fixtures/grant_without_connection.toml:20: error: `echo` has no connection to \
         `echo`, so it cannot be granted `Echo.ping` on it\n  \
         fix: add a [[connection]] with client = \"echo\" and server = \"echo\"";
    interface_served_twice =>
        "tests/fixtures/interface_served_twice.toml:9: error: entity `echo` lists interface \
         `Echo` twice in `serves`\n  \
         fix: list each interface once";
    memory_not_page_multiple =>
        "tests/fixtures/memory_not_page_multiple.toml:9: error: memory 5000 bytes of entity \
         `echo` is not a positive multiple of 4 KiB\n  \
         fix: round it up to 8 KiB";
    missing_key =>
        "tests/fixtures/missing_key.toml:7: error: entity `echo` has neither a `binary` nor a \
         `program`\n  \
         fix: add `binary = \"<entity crate>\"` or `program = \"<path to an executable>\"`";
    mount_prefix_not_normalised =>
        "tests/fixtures/mount_prefix_not_normalised.toml:16: error: mount prefix `/data/../etc` \
         of entity `client` is not a normalised absolute path\n  \
         fix: write it like \"/\" or \"/data/app\": absolute, no `.` or `..`, no repeated or \
         trailing `/`, at most 255 bytes";
    route_without_connection =>
        "tests/fixtures/route_without_connection.toml:16: error: entity `client` routes to `vfs` \
         but is not connected to it\n  \
         fix: add a [[connection]] with client = \"client\" and server = \"vfs\"";
    binary_and_program =>
        "tests/fixtures/binary_and_program.toml:8: error: entity `client` has both a `binary` and \
         a `program`\n  \
         fix: keep `binary` for a Septa entity crate or `program` for a C or Rust std \
         executable, not both";
    disk_format_unknown =>
        "tests/fixtures/disk_format_unknown.toml:6: error: disk format `ext4` is not known\n  \
         fix: use one of `raw`, `fat32`";
    boots_out_of_range =>
        "tests/fixtures/boots_out_of_range.toml:5: error: 9 boots is out of range\n  \
         fix: boot a system from 1 to 4 times";
    environment_malformed =>
        "tests/fixtures/environment_malformed.toml:9: error: environment variable `A=B` of entity \
         `client` is malformed\n  \
         fix: use a non-empty name without `=`, and no NUL character in name or value";
    no_entities =>
        "tests/fixtures/no_entities.toml:4: error: system `no_entities` has no entities\n  \
         fix: describe at least one [[entity]] with a `name` and a `binary` or `program`";
    notification_unknown_entity =>
        "tests/fixtures/notification_unknown_entity.toml:22: error: unknown entity `clint` in \
         notification\n  \
         fix: name an entity described by an [[entity]] table: `echo`, `client`";
    priority_out_of_range =>
        "tests/fixtures/priority_out_of_range.toml:9: error: priority 40 of entity `echo` is out \
         of range\n  \
         fix: use a priority from 0 (lowest) to 31 (highest)";
    shared_memory_bad_access =>
        "tests/fixtures/shared_memory_bad_access.toml:22: error: unknown variant `write`, \
         expected `read` or `read-write`\n  \
         fix: use one of the values the message lists";
    shared_memory_size =>
        "tests/fixtures/shared_memory_size.toml:21: error: size 5000 bytes of shared memory \
         `bulk` is not a positive multiple of 4 KiB\n  \
         fix: round it up to 8 KiB";
    shared_memory_unknown_entity =>
        "tests/fixtures/shared_memory_unknown_entity.toml:22: error: unknown entity `clint` in \
         shared memory map\n  \
         fix: name an entity described by an [[entity]] table: `echo`, `client`";
    syntax =>
        "tests/fixtures/syntax.toml:6: error: invalid table header; expected `.`, `]]`\n  \
         fix: correct the TOML syntax at this line";
    system_name_mismatch =>
        "tests/fixtures/system_name_mismatch.toml:4: error: system name `demo` does not match the \
         file name `system_name_mismatch.toml`\n  \
         fix: name the system `system_name_mismatch`, or rename the file to `demo.toml`";
    test_bad_expectation =>
        "tests/fixtures/test_bad_expectation.toml:23: error: unknown variant `allow`, expected \
         `grant` or `deny`\n  \
         fix: use one of the values the message lists";
    test_condition_failed =>
        "tests/fixtures/test_condition_failed.toml:30: error: policy test failed: `client` \
         calling Echo.open(path = \"/home/user\", flags = 0) on `echo` is denied (the condition \
         on `path` does not hold), but the test expects grant\n  \
         fix: add or widen a [[policy.grant]] that allows this call, or expect \"deny\"";
    test_every_method =>
        "tests/fixtures/test_every_method.toml:22: error: a policy test makes one call, but \
         `Echo.*` names every method of `Echo`\n  \
         fix: name the method to call, for example `Echo.ping`";
    test_expected_deny =>
        "tests/fixtures/test_expected_deny.toml:30: error: policy test failed: `client` calling \
         Echo.open(path = \"/etc/passwd\") on `echo` is granted, but the test expects deny\n  \
         fix: narrow the [[policy.grant]] that allows this call (for example with `where`), or \
         expect \"grant\"";
    test_expected_grant =>
        "tests/fixtures/test_expected_grant.toml:24: error: policy test failed: `client` calling \
         Echo.ping(value = 1) on `echo` is denied (no grant matches its source, target and \
         method), but the test expects grant\n  \
         fix: add or widen a [[policy.grant]] that allows this call, or expect \"deny\"";
    test_field_type =>
        "tests/fixtures/test_field_type.toml:23: error: field `flags` of `Echo.open` is u32, but \
         the test gives \"read\"\n  \
         fix: give an integer from 0 to 4294967295";
    test_integer_out_of_range =>
        "tests/fixtures/test_integer_out_of_range.toml:23: error: field `flags` of `Echo.open` is \
         u32, but the test gives -1\n  \
         fix: give an integer from 0 to 4294967295";
    test_unknown_entity =>
        "tests/fixtures/test_unknown_entity.toml:20: error: unknown entity `clint` in policy test\n  \
         fix: name an entity described by an [[entity]] table: `echo`, `client`";
    test_unknown_field =>
        "tests/fixtures/test_unknown_field.toml:23: error: `Echo.open` has no request field `pth`\n  \
         fix: use one of its request fields: `path`, `flags`";
    unknown_interface_served =>
        "tests/fixtures/unknown_interface_served.toml:9: error: entity `echo` serves unknown \
         interface `Ecko`\n  \
         fix: use an interface defined in ../../interfaces/definitions: `Block`, `Echo`, `File`, `SystemTest`";
    unknown_key =>
        "tests/fixtures/unknown_key.toml:9: error: unknown field `prority`, expected one of \
         `name`, `binary`, `program`, `arguments`, `environment`, `priority`, `memory`, `stack`, \
         `serves`, `routes`, `devices`\n  \
         fix: remove the key or correct its spelling; docs/system-description.md lists the keys";
}
