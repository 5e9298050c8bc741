//! Rule matching: whether some grant rule covers a structurally valid message.

use crate::structure::{Body, Value};
use crate::{Condition, DenyReason, Message, Policy, Predicate, Rule};

/// Grants a request when a rule for its source, target, interface and method has every
/// condition holding.
///
/// Every covering rule is tried, so a later rule can grant what an earlier one's conditions
/// refused. When none grants, the reason names the first failing condition of the first covering
/// rule: that is the rule the policy author most likely meant, and a stable choice makes audit
/// lines comparable between runs.
pub(crate) fn grant_request(
    policy: &Policy,
    message: &Message<'_>,
    body: &Body<'_, '_>,
) -> Result<(), DenyReason> {
    let mut first_failure = None;
    let covering = policy.rules.iter().filter(|rule| {
        rule.source == message.source && rule.target == message.target && covers_call(rule, message)
    });
    for rule in covering {
        match rule
            .conditions
            .iter()
            .find(|condition| !holds(condition, body))
        {
            None => return Ok(()),
            Some(condition) => {
                first_failure.get_or_insert(condition.field);
            }
        }
    }
    Err(match first_failure {
        Some(field) => DenyReason::ConditionFailed { field },
        None => DenyReason::NoRule,
    })
}

/// Grants a reply when some rule lets the reply's target (the client) call its interface and
/// method on the reply's source (the server).
///
/// Conditions are not evaluated: they constrain request fields, which the reply does not carry,
/// and the kernel only lets a server reply to a request it delivered.
pub(crate) fn grant_reply(policy: &Policy, message: &Message<'_>) -> Result<(), DenyReason> {
    let granted = policy.rules.iter().any(|rule| {
        rule.source == message.target && rule.target == message.source && covers_call(rule, message)
    });
    if granted {
        Ok(())
    } else {
        Err(DenyReason::NoRule)
    }
}

/// Whether `rule` names the message's interface and its method (or every method).
fn covers_call(rule: &Rule, message: &Message<'_>) -> bool {
    rule.interface == message.header.interface
        && rule
            .method
            .is_none_or(|method| method == message.header.method)
}

/// Whether `condition` holds of the message body. A missing field, or a predicate on a field of
/// the wrong kind, never holds: a policy that does not fit its interface must fail closed.
fn holds(condition: &Condition, body: &Body<'_, '_>) -> bool {
    match (&condition.predicate, body.field(condition.field)) {
        (Predicate::Prefix(prefix), Some(Value::Slice(bytes))) => bytes.starts_with(prefix),
        (Predicate::Range { minimum, maximum }, Some(Value::Integer(value))) => {
            *minimum <= value && value <= *maximum
        }
        _ => false,
    }
}
