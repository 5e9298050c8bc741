//! Identifier rules and case conversions for interface, method and field names.

use septa_abi::layout::FieldKind;

/// Every field type a definition may name, with its name in the definition language.
pub(crate) const KINDS: [(&str, FieldKind); 6] = [
    ("u32", FieldKind::U32),
    ("i32", FieldKind::I32),
    ("u64", FieldKind::U64),
    ("i64", FieldKind::I64),
    ("bytes", FieldKind::Bytes),
    ("string", FieldKind::String),
];

/// The field kind a definition's `type` names, if any.
pub fn kind_from_name(name: &str) -> Option<FieldKind> {
    KINDS
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, kind)| *kind)
}

/// The name of a field kind in the definition language (`"u32"`, `"string"`, ...).
pub fn kind_name(kind: FieldKind) -> &'static str {
    KINDS
        .iter()
        .find(|(_, candidate)| *candidate == kind)
        .map_or("u32", |(name, _)| name)
}

/// Rust's strict and reserved keywords (edition 2024): names the generated code cannot use.
const KEYWORDS: [&str; 52] = [
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Whether `name` is a Rust keyword.
pub(crate) fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// `CamelCase`: an upper-case ASCII letter, then ASCII letters and digits.
pub(crate) fn is_camel_case(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_uppercase())
        && characters.all(|character| character.is_ascii_alphanumeric())
}

/// `snake_case`: lower-case ASCII words of letters and digits joined by single underscores,
/// starting with a letter.
pub(crate) fn is_snake_case(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|first| first.is_ascii_lowercase())
        && name.split('_').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit())
        })
}

/// `CamelCase` to `snake_case`: `SystemTest` -> `system_test`, `HTTPServer` -> `http_server`.
pub(crate) fn snake_case(name: &str) -> String {
    let characters: Vec<char> = name.chars().collect();
    let mut snake = String::with_capacity(name.len() + 4);
    for (index, character) in characters.iter().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            let previous = characters[index - 1];
            let next_is_lower = characters
                .get(index + 1)
                .is_some_and(char::is_ascii_lowercase);
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower)
            {
                snake.push('_');
            }
        }
        snake.push(character.to_ascii_lowercase());
    }
    snake
}

/// Any name to `CamelCase`: `get_value` -> `GetValue`, `echo` -> `Echo`.
pub(crate) fn camel_case(name: &str) -> String {
    name.split(|character: char| !character.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut characters = word.chars();
            let first = characters.next().map(|first| first.to_ascii_uppercase());
            first.into_iter().chain(characters).collect::<String>()
        })
        .collect()
}

/// `snake_case` to `SHOUTING_CASE`, for constants.
pub(crate) fn shouting_case(name: &str) -> String {
    name.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cases() {
        assert!(is_camel_case("Echo"));
        assert!(is_camel_case("SystemTest2"));
        assert!(!is_camel_case("echo"));
        assert!(!is_camel_case("System_Test"));
        assert!(!is_camel_case(""));
        assert!(is_snake_case("ping"));
        assert!(is_snake_case("read_at_2"));
        assert!(!is_snake_case("Ping"));
        assert!(!is_snake_case("read__at"));
        assert!(!is_snake_case("_read"));
        assert!(!is_snake_case("read_"));
        assert!(!is_snake_case("2read"));
        assert!(!is_snake_case(""));
    }

    #[test]
    fn converts_cases() {
        assert_eq!(snake_case("Echo"), "echo");
        assert_eq!(snake_case("SystemTest"), "system_test");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Fat32Volume"), "fat32_volume");
        assert_eq!(camel_case("get_value"), "GetValue");
        assert_eq!(camel_case("echo"), "Echo");
        assert_eq!(camel_case("file-system"), "FileSystem");
        assert_eq!(shouting_case("get_value"), "GET_VALUE");
    }

    #[test]
    fn kinds_round_trip() {
        for (name, kind) in KINDS {
            assert_eq!(kind_from_name(name), Some(kind));
            assert_eq!(kind_name(kind), name);
        }
        assert_eq!(kind_from_name("u16"), None);
    }
}
