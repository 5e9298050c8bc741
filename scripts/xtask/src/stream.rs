//! Streaming a child process's output: shown as it arrives, logged, and kept
//! as lines for parsing.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::Mutex;

/// Copies `source` to `sink` chunk by chunk as it arrives (so a prompt
/// without a line end still shows), appends it to `log` if there is one, and
/// returns its lines without their line ends (`\n` or `\r\n`).
pub fn forward(
    mut source: impl Read,
    mut sink: impl Write,
    log: Option<&Mutex<File>>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = Vec::new();
    let mut buffer = [0_u8; 8192];
    loop {
        let count = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buffer[..count];
        // The reader must keep draining the pipe even if our own output is
        // closed, or the child would block: write errors are ignored.
        let _ = sink.write_all(chunk);
        let _ = sink.flush();
        if let Some(Ok(mut log)) = log.map(Mutex::lock) {
            let _ = log.write_all(chunk);
        }
        pending.extend_from_slice(chunk);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push(line_text(&line));
        }
    }
    if !pending.is_empty() {
        lines.push(line_text(&pending));
    }
    if let Some(Ok(mut log)) = log.map(Mutex::lock) {
        let _ = log.flush();
    }
    lines
}

fn line_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_a_partial_last_line() {
        let mut sink = Vec::new();
        let lines = forward(&b"one\r\ntwo\n\nprompt> "[..], &mut sink, None);
        assert_eq!(lines, ["one", "two", "", "prompt> "]);
        assert_eq!(sink, b"one\r\ntwo\n\nprompt> ");
    }

    #[test]
    fn writes_the_log() {
        let path =
            std::env::temp_dir().join(format!("xtask-stream-test-{}.log", std::process::id()));
        let log = Mutex::new(File::create(&path).unwrap());
        let lines = forward(&b"a\nb\n"[..], std::io::sink(), Some(&log));
        drop(log);
        let written = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(lines, ["a", "b"]);
        assert_eq!(written, b"a\nb\n");
    }
}
