//! Sizes in a description: an integer number of bytes, or a string like `"64 KiB"`.

/// Bytes in a page: the unit of memory limits and shared-memory regions.
pub(crate) const PAGE_SIZE: u64 = 4096;

/// Reads a size: a non-negative TOML integer of bytes, or a string `"<number> <unit>"` with
/// unit `B`, `KiB`, `MiB` or `GiB` (the space is optional). `None` when it is neither, or when
/// it overflows 64 bits.
pub(crate) fn parse(value: &toml::Value) -> Option<u64> {
    match value {
        toml::Value::Integer(bytes) => u64::try_from(*bytes).ok(),
        toml::Value::String(text) => {
            let text = text.trim();
            let digits = text
                .find(|character: char| !character.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(digits);
            let number: u64 = number.parse().ok()?;
            let multiplier: u64 = match unit.trim() {
                "" | "B" => 1,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                _ => return None,
            };
            number.checked_mul(multiplier)
        }
        _ => None,
    }
}

/// A size the way a person writes it: `4 MiB`, `64 KiB`, or bytes when not a round number.
pub(crate) fn display(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> toml::Value {
        toml::Value::String(value.to_string())
    }

    #[test]
    fn reads_sizes() {
        assert_eq!(parse(&toml::Value::Integer(8192)), Some(8192));
        assert_eq!(parse(&text("4 MiB")), Some(4 << 20));
        assert_eq!(parse(&text("64KiB")), Some(64 << 10));
        assert_eq!(parse(&text("1 GiB")), Some(1 << 30));
        assert_eq!(parse(&text("100")), Some(100));
        assert_eq!(parse(&text("100 B")), Some(100));
        assert_eq!(parse(&text("4 MB")), None);
        assert_eq!(parse(&text("MiB")), None);
        assert_eq!(parse(&text("-4 KiB")), None);
        assert_eq!(parse(&text("99999999999999999999 GiB")), None);
        assert_eq!(parse(&toml::Value::Integer(-1)), None);
        assert_eq!(parse(&toml::Value::Boolean(true)), None);
    }

    #[test]
    fn displays_sizes() {
        assert_eq!(display(4 << 20), "4 MiB");
        assert_eq!(display(64 << 10), "64 KiB");
        assert_eq!(display(5000), "5000 bytes");
    }
}
