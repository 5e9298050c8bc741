//! The policy: `[[policy.grant]]` tables compiled into monitor rules, and `[[policy.test]]`
//! tables run against the compiled policy with [`Policy::check`], exactly as the kernel will.

use crate::description::{Expectation, PolicySection, PredicateSection, TestSection};
use crate::system::{Entity, EntityNames, Source, listing};
use septa_abi::MessageHeader;
use septa_abi::layout::{self, FieldKind};
use septa_idl::{Diagnostic, Interface, Method, kind_name};
use septa_monitor::{Condition, DenyReason, Direction, Message, Policy, Predicate, Rule, Verdict};
use std::path::Path;
use toml::Spanned;

/// Resolves `Interface.method` or `Interface.*` to the interface and the method (`None` for
/// every method).
fn resolve_call<'a>(
    source: &Source<'_>,
    call: &Spanned<String>,
    interfaces: &'a [Interface],
    directory: &Path,
) -> Result<(&'a Interface, Option<&'a Method>), Diagnostic> {
    let text = call.get_ref();
    let Some((interface_name, method_name)) = text.split_once('.') else {
        return Err(source.error(
            call.span(),
            format!("`{text}` does not name a call"),
            "write `Interface.method`, or `Interface.*` for every method, for example `Echo.ping`",
        ));
    };
    let Some(interface) = interfaces
        .iter()
        .find(|interface| interface.name == interface_name)
    else {
        return Err(source.error(
            call.span(),
            format!("unknown interface `{interface_name}` in `{text}`"),
            format!(
                "use an interface defined in {}: {}",
                directory.display(),
                listing(interfaces.iter().map(|interface| interface.name.as_str()))
            ),
        ));
    };
    if method_name == "*" {
        return Ok((interface, None));
    }
    match interface.method(method_name) {
        Some(method) => Ok((interface, Some(method))),
        None => Err(source.error(
            call.span(),
            format!("interface `{interface_name}` has no method `{method_name}`"),
            format!(
                "use one of its methods, {}, or `{interface_name}.*`",
                listing(interface.methods.iter().map(|method| method.name.as_str()))
            ),
        )),
    }
}

/// The request field `name` of `method`, with its index.
fn request_field<'a>(
    source: &Source<'_>,
    name: &Spanned<String>,
    interface: &Interface,
    method: &'a Method,
) -> Result<(u32, &'a septa_idl::Field), Diagnostic> {
    match method.request_field(name.get_ref()) {
        Some((index, field)) => Ok((u32::try_from(index).unwrap_or(u32::MAX), field)),
        None => Err(source.error(
            name.span(),
            format!(
                "`{}.{}` has no request field `{}`",
                interface.name,
                method.name,
                name.get_ref()
            ),
            format!(
                "use one of its request fields: {}",
                listing(method.request.iter().map(|field| field.name.as_str()))
            ),
        )),
    }
}

/// The values an integer field of `kind` can hold.
fn integer_bounds(kind: FieldKind) -> (i128, i128) {
    match kind {
        FieldKind::U32 => (0, i128::from(u32::MAX)),
        FieldKind::I32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
        FieldKind::U64 => (0, i128::from(u64::MAX)),
        FieldKind::I64 | FieldKind::Bytes | FieldKind::String => {
            (i128::from(i64::MIN), i128::from(i64::MAX))
        }
    }
}

/// Compiles the grants into the monitor's policy.
pub(crate) fn compile(
    source: &Source<'_>,
    section: &PolicySection,
    entities: &[Entity],
    names: &EntityNames<'_>,
    connections: &[(u32, u32)],
    interfaces: &[Interface],
    directory: &Path,
) -> Result<Policy, Diagnostic> {
    let mut rules = Vec::new();
    for grant in &section.grant {
        let caller = names.find(source, &grant.source, "grant")?;
        let callee = names.find(source, &grant.target, "grant")?;
        let (interface, method) = resolve_call(source, &grant.call, interfaces, directory)?;
        let target = &entities[callee as usize];
        if !target.serves.contains(&interface.name) {
            return Err(source.error(
                grant.call.span(),
                format!(
                    "entity `{}` does not serve `{}`",
                    target.name, interface.name
                ),
                format!(
                    "add \"{}\" to `serves` of entity `{}`, or grant an interface it serves: {}",
                    interface.name,
                    target.name,
                    listing(target.serves.iter().map(String::as_str))
                ),
            ));
        }
        if !connections.contains(&(caller, callee)) {
            let caller_name = &entities[caller as usize].name;
            return Err(source.error(
                grant.source.span(),
                format!(
                    "`{caller_name}` has no connection to `{}`, so it cannot be granted `{}` on it",
                    target.name,
                    grant.call.get_ref()
                ),
                format!(
                    "add a [[connection]] with client = \"{caller_name}\" and server = \"{}\"",
                    target.name
                ),
            ));
        }

        let mut conditions = Vec::new();
        if let Some((first, _)) = grant.conditions.iter().next() {
            let Some(method) = method else {
                return Err(source.error(
                    first.span(),
                    format!(
                        "conditions need a single method, but `{}` names every method of `{}`",
                        grant.call.get_ref(),
                        interface.name
                    ),
                    format!(
                        "name the method the conditions apply to, for example `{}.{}`",
                        interface.name,
                        interface
                            .methods
                            .first()
                            .map_or("method", |method| method.name.as_str())
                    ),
                ));
            };
            for (name, predicate) in &grant.conditions {
                let (index, field) = request_field(source, name, interface, method)?;
                let predicate =
                    compile_predicate(source, name, predicate, interface, method, field)?;
                conditions.push(Condition {
                    field: index,
                    predicate,
                });
            }
            conditions.sort_by_key(|condition| condition.field);
        }

        rules.push(Rule {
            source: caller,
            target: callee,
            interface: interface.id,
            method: method.map(|method| method.id),
            conditions,
        });
    }
    Ok(Policy {
        entity_names: entities.iter().map(|entity| entity.name.clone()).collect(),
        interfaces: interfaces.iter().map(Interface::descriptor).collect(),
        rules,
    })
}

fn compile_predicate(
    source: &Source<'_>,
    name: &Spanned<String>,
    predicate: &Spanned<PredicateSection>,
    interface: &Interface,
    method: &Method,
    field: &septa_idl::Field,
) -> Result<Predicate, Diagnostic> {
    let call = format!("{}.{}", interface.name, method.name);
    let field_name = name.get_ref();
    let kind = kind_name(field.kind);
    match predicate.get_ref() {
        PredicateSection::Prefix(prefix) => {
            if !field.kind.is_slice() {
                return Err(source.error(
                    predicate.span(),
                    format!(
                        "`prefix` needs a string or bytes field, but `{field_name}` of `{call}` \
                         is {kind}"
                    ),
                    "use `range = [minimum, maximum]` on an integer field",
                ));
            }
            Ok(Predicate::Prefix(prefix.as_bytes().to_vec()))
        }
        PredicateSection::Range([minimum, maximum]) => {
            if field.kind.is_slice() {
                return Err(source.error(
                    predicate.span(),
                    format!(
                        "`range` needs an integer field, but `{field_name}` of `{call}` is {kind}"
                    ),
                    "use `prefix = \"...\"` on a string or bytes field",
                ));
            }
            if minimum > maximum {
                return Err(source.error(
                    predicate.span(),
                    format!("range [{minimum}, {maximum}] on `{field_name}` is empty"),
                    "write the smaller bound first",
                ));
            }
            let (lowest, highest) = integer_bounds(field.kind);
            let (minimum, maximum) = (i128::from(*minimum), i128::from(*maximum));
            if minimum < lowest || maximum > highest {
                return Err(source.error(
                    predicate.span(),
                    format!(
                        "range [{minimum}, {maximum}] goes beyond what the {kind} field \
                         `{field_name}` can hold"
                    ),
                    format!("keep both bounds from {lowest} to {highest}"),
                ));
            }
            Ok(Predicate::Range { minimum, maximum })
        }
    }
}

/// A test's value for one request field.
enum TestValue {
    Integer(i128),
    Slice(Vec<u8>),
}

/// Runs every policy test against `policy`; returns how many passed (all of them).
pub(crate) fn run_tests(
    source: &Source<'_>,
    section: &PolicySection,
    entities: &[Entity],
    names: &EntityNames<'_>,
    policy: &Policy,
    interfaces: &[Interface],
    directory: &Path,
) -> Result<usize, Diagnostic> {
    for test in &section.test {
        run_test(source, test, entities, names, policy, interfaces, directory)?;
    }
    Ok(section.test.len())
}

fn run_test(
    source: &Source<'_>,
    test: &TestSection,
    entities: &[Entity],
    names: &EntityNames<'_>,
    policy: &Policy,
    interfaces: &[Interface],
    directory: &Path,
) -> Result<(), Diagnostic> {
    let caller = names.find(source, &test.source, "policy test")?;
    let callee = names.find(source, &test.target, "policy test")?;
    let (interface, method) = resolve_call(source, &test.call, interfaces, directory)?;
    let Some(method) = method else {
        return Err(source.error(
            test.call.span(),
            format!(
                "a policy test makes one call, but `{}` names every method of `{}`",
                test.call.get_ref(),
                interface.name
            ),
            format!(
                "name the method to call, for example `{}.{}`",
                interface.name,
                interface
                    .methods
                    .first()
                    .map_or("method", |method| method.name.as_str())
            ),
        ));
    };

    let mut values: Vec<TestValue> = method
        .request
        .iter()
        .map(|field| {
            if field.kind.is_slice() {
                TestValue::Slice(Vec::new())
            } else {
                TestValue::Integer(0)
            }
        })
        .collect();
    for (name, value) in &test.fields {
        let (index, field) = request_field(source, name, interface, method)?;
        values[index as usize] = test_value(source, name, value, interface, method, field)?;
    }

    let (fixed, arena) = encode(method, &values);
    let header = MessageHeader {
        interface: interface.id,
        method: method.id,
        fixed_size: u32::try_from(fixed.len()).unwrap_or(u32::MAX),
        arena_size: u32::try_from(arena.len()).unwrap_or(u32::MAX),
        handle_count: 0,
        status: 0,
        sender: caller,
        reserved: 0,
    };
    let message = Message {
        source: caller,
        target: callee,
        direction: Direction::Request,
        header,
        fixed: &fixed,
        arena: &arena,
    };
    let verdict = policy.check(&message).verdict;
    let expected = *test.expect.get_ref();
    let passed = match verdict {
        Verdict::Grant => expected == Expectation::Grant,
        Verdict::Deny(_) => expected == Expectation::Deny,
    };
    if passed {
        return Ok(());
    }

    // The fields the test gives, in the method's order.
    let mut given: Vec<(usize, String)> = test
        .fields
        .iter()
        .map(|(name, value)| {
            let position = method
                .request_field(name.get_ref())
                .map_or(0, |(index, _)| index);
            (
                position,
                format!("{} = {}", name.get_ref(), value.get_ref()),
            )
        })
        .collect();
    given.sort();
    let arguments: Vec<String> = given.into_iter().map(|(_, argument)| argument).collect();
    let call = format!(
        "`{}` calling {}.{}({}) on `{}`",
        entities[caller as usize].name,
        interface.name,
        method.name,
        arguments.join(", "),
        entities[callee as usize].name
    );
    Err(match verdict {
        Verdict::Deny(reason) => source.error(
            test.expect.span(),
            format!(
                "policy test failed: {call} is denied ({}), but the test expects grant",
                deny_reason(reason, method)
            ),
            "add or widen a [[policy.grant]] that allows this call, or expect \"deny\"",
        ),
        Verdict::Grant => source.error(
            test.expect.span(),
            format!("policy test failed: {call} is granted, but the test expects deny"),
            "narrow the [[policy.grant]] that allows this call (for example with `where`), or \
             expect \"grant\"",
        ),
    })
}

/// Why the monitor denied a test's call, in words.
fn deny_reason(reason: DenyReason, method: &Method) -> String {
    let field_name = |field: u32| {
        method
            .request
            .get(field as usize)
            .map_or("?", |field| field.name.as_str())
            .to_string()
    };
    match reason {
        DenyReason::NoRule => "no grant matches its source, target and method".to_string(),
        DenyReason::ConditionFailed { field } => {
            format!("the condition on `{}` does not hold", field_name(field))
        }
        DenyReason::BadString { field } => {
            format!("`{}` is not UTF-8 without NUL", field_name(field))
        }
        other => format!("the monitor finds the message malformed: {other:?}"),
    }
}

/// Checks a test's value for `field` and converts it.
fn test_value(
    source: &Source<'_>,
    name: &Spanned<String>,
    value: &Spanned<toml::Value>,
    interface: &Interface,
    method: &Method,
    field: &septa_idl::Field,
) -> Result<TestValue, Diagnostic> {
    let kind = kind_name(field.kind);
    let mismatch = |fix: String| {
        source.error(
            value.span(),
            format!(
                "field `{}` of `{}.{}` is {kind}, but the test gives {}",
                name.get_ref(),
                interface.name,
                method.name,
                value.get_ref()
            ),
            fix,
        )
    };
    match (field.kind, value.get_ref()) {
        (FieldKind::String | FieldKind::Bytes, toml::Value::String(text)) => {
            Ok(TestValue::Slice(text.as_bytes().to_vec()))
        }
        (FieldKind::Bytes, toml::Value::Array(items)) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|item| item.as_integer().and_then(|byte| u8::try_from(byte).ok()))
                .collect();
            bytes.map(TestValue::Slice).ok_or_else(|| {
                mismatch("give a string, or an array of integers from 0 to 255".to_string())
            })
        }
        (FieldKind::String, _) => Err(mismatch("give a string".to_string())),
        (FieldKind::Bytes, _) => Err(mismatch(
            "give a string, or an array of integers from 0 to 255".to_string(),
        )),
        (integer, value) => {
            let (lowest, highest) = integer_bounds(integer);
            match value.as_integer().map(i128::from) {
                Some(number) if (lowest..=highest).contains(&number) => {
                    Ok(TestValue::Integer(number))
                }
                _ => Err(mismatch(format!(
                    "give an integer from {lowest} to {highest}"
                ))),
            }
        }
    }
}

/// Lays a request out per [`septa_abi::layout`]: the fixed part and the arena.
fn encode(method: &Method, values: &[TestValue]) -> (Vec<u8>, Vec<u8>) {
    let kinds = method.request_kinds();
    let mut fixed = vec![0u8; layout::fixed_size(&kinds)];
    let mut arena = Vec::new();
    for (index, (kind, value)) in kinds.iter().zip(values).enumerate() {
        let offset = layout::field_offset(&kinds, index).unwrap_or(0);
        let bytes: Vec<u8> = match (kind, value) {
            (FieldKind::U32 | FieldKind::I32, TestValue::Integer(number)) => {
                (*number as u32).to_le_bytes().to_vec()
            }
            (FieldKind::U64 | FieldKind::I64, TestValue::Integer(number)) => {
                (*number as u64).to_le_bytes().to_vec()
            }
            (_, TestValue::Slice(slice)) => {
                let start = u32::try_from(arena.len()).unwrap_or(u32::MAX);
                let length = u32::try_from(slice.len()).unwrap_or(u32::MAX);
                arena.extend_from_slice(slice);
                [start.to_le_bytes(), length.to_le_bytes()].concat()
            }
            (_, TestValue::Integer(_)) => Vec::new(),
        };
        fixed[offset..offset + bytes.len()].copy_from_slice(&bytes);
    }
    (fixed, arena)
}
