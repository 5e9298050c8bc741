//! Snapshot test of the generated code: `echo.toml` must generate `snapshots/echo.rs` exactly.
//!
//! After an intended change to the generator, refresh the snapshot with
//! `SEPTA_UPDATE_SNAPSHOTS=1 cargo test -p septa-idl` and review its diff.

use std::path::Path;

#[test]
fn echo_generates_the_snapshot() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let definition = manifest.join("../../interfaces/definitions/echo.toml");
    let interface = septa_idl::parse_file(&definition).unwrap_or_else(|error| panic!("{error}"));
    let generated = septa_idl::generate(&[interface]);

    let snapshot = manifest.join("tests/snapshots/echo.rs");
    if std::env::var_os("SEPTA_UPDATE_SNAPSHOTS").is_some_and(|value| value == "1") {
        std::fs::write(&snapshot, &generated).expect("the snapshot directory is writable");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; create it with SEPTA_UPDATE_SNAPSHOTS=1",
            snapshot.display()
        )
    });
    if generated != expected {
        let line = generated
            .lines()
            .zip(expected.lines())
            .position(|(generated, expected)| generated != expected)
            .unwrap_or_else(|| generated.lines().count().min(expected.lines().count()));
        panic!(
            "generated code differs from {} from line {}:\n  generated: {:?}\n  snapshot:  {:?}\n\
             if the change is intended, run with SEPTA_UPDATE_SNAPSHOTS=1 and review the diff",
            snapshot.display(),
            line + 1,
            generated.lines().nth(line).unwrap_or("<end>"),
            expected.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

#[test]
fn echo_descriptor_matches_the_definition() {
    use septa_abi::layout::FieldKind;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let interfaces = septa_idl::parse_directory(&manifest.join("../../interfaces/definitions"))
        .unwrap_or_else(|error| panic!("{error}"));
    let echo = interfaces
        .iter()
        .find(|interface| interface.name == "Echo")
        .expect("Echo exists");
    let descriptor = echo.descriptor();
    assert_eq!(descriptor.id, 1);
    let open = descriptor
        .methods
        .iter()
        .find(|method| method.name == "open")
        .expect("open");
    assert_eq!(open.id, 3);
    let kinds: Vec<FieldKind> = open.request.iter().map(|field| field.kind).collect();
    assert_eq!(kinds, [FieldKind::String, FieldKind::U32]);
    assert_eq!(open.request[0].name, "path");
    assert_eq!(open.reply.len(), 1);

    let test = interfaces
        .iter()
        .find(|interface| interface.name == "SystemTest")
        .expect("test");
    assert_eq!(test.id, 2);
    assert_eq!(test.module_name(), "system_test");
    let null = test.method("null").expect("null");
    assert!(null.request.is_empty() && null.reply.is_empty());
}
