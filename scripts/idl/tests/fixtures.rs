//! One bad definition per validation error, each asserting the exact diagnostic.

use std::path::Path;

/// The diagnostic `parse_file` gives for `tests/fixtures/<name>`.
fn diagnostic_for(name: &str) -> String {
    // Relative to the package root, where cargo runs tests, so that messages are stable.
    let path = Path::new("tests/fixtures").join(name);
    match septa_idl::parse_file(&path) {
        Ok(interface) => panic!("{name} was accepted: {interface:?}"),
        Err(diagnostic) => diagnostic.to_string(),
    }
}

/// The diagnostic `parse_directory` gives for `tests/fixtures/<name>/`.
fn directory_diagnostic_for(name: &str) -> String {
    let path = Path::new("tests/fixtures").join(name);
    match septa_idl::parse_directory(&path) {
        Ok(interfaces) => panic!("{name} was accepted: {interfaces:?}"),
        Err(diagnostic) => diagnostic.to_string(),
    }
}

macro_rules! fixture {
    ($test:ident, $file:literal, $expected:expr) => {
        #[test]
        fn $test() {
            assert_eq!(diagnostic_for($file), $expected);
        }
    };
}

macro_rules! directory_fixture {
    ($test:ident, $directory:literal, $expected:expr) => {
        #[test]
        fn $test() {
            assert_eq!(directory_diagnostic_for($directory), $expected);
        }
    };
}

fixture!(
    syntax_error,
    "syntax.toml",
    "tests/fixtures/syntax.toml:6: error: invalid table header; expected `.`, `]]`\n  \
     fix: correct the TOML syntax at this line"
);

fixture!(
    unknown_key,
    "unknown_key.toml",
    "tests/fixtures/unknown_key.toml:10: error: unknown field `requests`, expected one of `name`, \
     `id`, `description`, `request`, `reply`\n  \
     fix: remove the key or correct its spelling; interfaces/README.md lists the keys"
);

fixture!(
    missing_key,
    "missing_key.toml",
    "tests/fixtures/missing_key.toml:1: error: missing field `id`\n  \
     fix: add the missing key to the table that starts here; see interfaces/README.md"
);

fixture!(
    interface_name_not_camel_case,
    "interface_name.toml",
    "tests/fixtures/interface_name.toml:2: error: interface name `file_system` is not CamelCase\n  \
     fix: name the interface in CamelCase, for example `FileSystem`"
);

fixture!(
    interface_module_reserved,
    "reserved_module.toml",
    "tests/fixtures/reserved_module.toml:2: error: interface name `Wire` would make a module \
     named `wire`, which is reserved\n  \
     fix: choose another interface name"
);

fixture!(
    method_name_not_snake_case,
    "method_name.toml",
    "tests/fixtures/method_name.toml:7: error: method name `getValue` is not snake_case\n  \
     fix: name the method in snake_case, for example `get_value`"
);

fixture!(
    field_name_keyword,
    "keyword_name.toml",
    "tests/fixtures/keyword_name.toml:10: error: field name `type` is a Rust keyword\n  \
     fix: choose a field name that is not a keyword"
);

fixture!(
    method_name_reserved,
    "reserved_method.toml",
    "tests/fixtures/reserved_method.toml:7: error: method name `new` is reserved: the generated \
     client's constructor is `new`\n  \
     fix: choose another method name"
);

fixture!(
    request_field_named_sender,
    "sender_field.toml",
    "tests/fixtures/sender_field.toml:10: error: request field `sender` of `forward` clashes with \
     the `sender` parameter every server method receives\n  \
     fix: rename the field, for example `source`"
);

fixture!(
    unknown_field_type,
    "unknown_type.toml",
    "tests/fixtures/unknown_type.toml:10: error: unknown field type `u16` for field `value`\n  \
     fix: use one of u32, i32, u64, i64, bytes, string"
);

fixture!(
    duplicate_method_name,
    "duplicate_method_name.toml",
    "tests/fixtures/duplicate_method_name.toml:12: error: method `ping` clashes with method \
     `ping` defined at line 7\n  \
     fix: give each method a distinct name"
);

fixture!(
    duplicate_method_id,
    "duplicate_method_id.toml",
    "tests/fixtures/duplicate_method_id.toml:13: error: method id 0 of `pong` is already used by \
     `ping` at line 7\n  \
     fix: give each method its own id, for example 1"
);

fixture!(
    duplicate_field_name,
    "duplicate_field.toml",
    "tests/fixtures/duplicate_field.toml:10: error: field `value` appears twice in the request of \
     `add`\n  \
     fix: give each field of a request or reply a distinct name"
);

fixture!(
    fixed_part_too_large,
    "fixed_part_too_large.toml",
    "tests/fixtures/fixed_part_too_large.toml:10: error: the request of `big` needs a fixed part \
     of 1032 bytes, more than the 1024 a message allows\n  \
     fix: carry the data in bytes or string fields, which live in the arena, or split the method"
);

directory_fixture!(
    duplicate_interface_id,
    "duplicate_interface_id",
    "tests/fixtures/duplicate_interface_id/second.toml:3: error: interface id 7 of `Second` is \
     already used by `First` in tests/fixtures/duplicate_interface_id/first.toml\n  \
     fix: give each interface its own id, for example 8"
);

directory_fixture!(
    duplicate_interface_name,
    "duplicate_interface_name",
    "tests/fixtures/duplicate_interface_name/second.toml:2: error: interface `Storage` clashes \
     with interface `Storage` in tests/fixtures/duplicate_interface_name/first.toml\n  \
     fix: give each interface a distinct name"
);

#[test]
fn every_fixture_is_asserted() {
    // A new fixture without a test would silently assert nothing; list them here too.
    let asserted = [
        "syntax.toml",
        "unknown_key.toml",
        "missing_key.toml",
        "interface_name.toml",
        "reserved_module.toml",
        "method_name.toml",
        "keyword_name.toml",
        "reserved_method.toml",
        "sender_field.toml",
        "unknown_type.toml",
        "duplicate_method_name.toml",
        "duplicate_method_id.toml",
        "duplicate_field.toml",
        "fixed_part_too_large.toml",
        "duplicate_interface_id",
        "duplicate_interface_name",
    ];
    let mut present: Vec<String> = std::fs::read_dir("tests/fixtures")
        .expect("fixtures exist")
        .map(|entry| {
            entry
                .expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    present.sort();
    let mut asserted: Vec<String> = asserted.iter().map(|name| name.to_string()).collect();
    asserted.sort();
    assert_eq!(present, asserted);
}

#[test]
fn the_real_definitions_are_valid() {
    let directory = Path::new("../../interfaces/definitions");
    let interfaces =
        septa_idl::parse_directory(directory).unwrap_or_else(|error| panic!("{error}"));
    assert!(interfaces.len() >= 2);
}
