//! Diagnostics: an error that names the file, the line, what is wrong and how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A mistake in an input file.
///
/// Displays as `<file>:<line>: error: <message>` followed by a line `  fix: <fix>`; the line is
/// left out when the mistake concerns the whole file (for example when it cannot be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the caller named it.
    pub file: PathBuf,
    /// The 1-based line, when the mistake has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl Diagnostic {
    /// A diagnostic about `file` as a whole.
    pub fn whole_file(file: &Path, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: None,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A diagnostic at the line holding byte `span.start` of `text`, the contents of `file`.
    pub fn at(
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: Some(line_of(text, span.start)),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A diagnostic for a TOML syntax error, or for a key or value the format does not have;
    /// `documentation` names the file that describes the format.
    pub fn from_toml(
        file: &Path,
        text: &str,
        error: &toml::de::Error,
        documentation: &str,
    ) -> Self {
        // The toml crate's messages may span several lines ("invalid table header\nexpected
        // ..."); a diagnostic keeps to one.
        let message = error.message().trim().replace('\n', "; ");
        let fix = if message.starts_with("unknown field") {
            format!("remove the key or correct its spelling; {documentation} lists the keys")
        } else if message.starts_with("missing field") {
            format!("add the missing key to the table that starts here; see {documentation}")
        } else if message.starts_with("unknown variant") {
            "use one of the values the message lists".to_string()
        } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
            format!("give the key a value of the type the message names; see {documentation}")
        } else {
            "correct the TOML syntax at this line".to_string()
        };
        let line = error.span().map(|span| line_of(text, span.start));
        Diagnostic {
            file: file.to_path_buf(),
            line,
            message,
            fix,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                formatter,
                "{}:{}: error: {}",
                self.file.display(),
                line,
                self.message
            )?,
            None => write!(
                formatter,
                "{}: error: {}",
                self.file.display(),
                self.message
            )?,
        }
        write!(formatter, "\n  fix: {}", self.fix)
    }
}

impl std::error::Error for Diagnostic {}

/// The 1-based line of byte `offset` in `text` (offsets past the end give the last line).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 99), 3);
    }

    #[test]
    fn displays_file_line_and_fix() {
        let diagnostic = Diagnostic::at(Path::new("x.toml"), "a\nb", 2..3, "bad", "do good");
        assert_eq!(
            diagnostic.to_string(),
            "x.toml:2: error: bad\n  fix: do good"
        );
        let diagnostic = Diagnostic::whole_file(Path::new("x.toml"), "gone", "restore it");
        assert_eq!(
            diagnostic.to_string(),
            "x.toml: error: gone\n  fix: restore it"
        );
    }
}
