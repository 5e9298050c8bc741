//! Directory listings as Linux programs read them: `struct linux_dirent64` records for
//! `getdents64` (and x86_64's older `struct linux_dirent` for `getdents`), packed from the File
//! interface's [`DirectoryEntry`] records.
//!
//! A `linux_dirent64` is `d_ino` (u64), `d_off` (i64: where the listing continues after this
//! entry, the entry's `next_cookie`), `d_reclen` (u16), `d_type` (u8) and the name with its
//! NUL, padded to 8 bytes. The older `linux_dirent` has no `d_type` field after `d_reclen`: the
//! type is the record's last byte instead. Both are at least as long as the interface's record
//! for the same name; entries that come back beyond what the program's buffer takes wait for
//! the next call, which starts at the cookie after the last entry given.

use septa_interfaces::file_records::DirectoryEntry;

/// Which record a call fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `struct linux_dirent64` (`getdents64`).
    Modern,
    /// `struct linux_dirent` (x86_64's `getdents`).
    Legacy,
}

/// Bytes before the name: `d_ino`, `d_off`, `d_reclen`, and `d_type` in the modern record.
fn header_size(format: Format) -> usize {
    match format {
        Format::Modern => 19,
        Format::Legacy => 18,
    }
}

/// Bytes the record for a name of `length` bytes takes: header, name, NUL (and the legacy
/// record's type byte), rounded up to 8.
pub fn record_size(format: Format, length: usize) -> usize {
    let trailer = match format {
        Format::Modern => 1,
        Format::Legacy => 2,
    };
    (header_size(format) + length + trailer).next_multiple_of(8)
}

/// Whether a server's name can be given to a program: not empty, no NUL, no slash.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&0) && !name.contains(&b'/')
}

/// Packs entries from the start of `entries` into `output` while they fit; returns the bytes
/// written and how many entries they hold.
pub fn pack(entries: &[DirectoryEntry<'_>], format: Format, output: &mut [u8]) -> (usize, usize) {
    let mut written = 0;
    let mut used = 0;
    for entry in entries {
        let size = record_size(format, entry.name.len());
        let Some(record) = output.get_mut(written..written + size) else {
            break;
        };
        record.fill(0);
        record[0..8].copy_from_slice(&entry.inode.to_ne_bytes());
        record[8..16].copy_from_slice(&entry.next_cookie.to_ne_bytes());
        record[16..18].copy_from_slice(&(size as u16).to_ne_bytes());
        let name_start = header_size(format);
        record[name_start..name_start + entry.name.len()].copy_from_slice(entry.name);
        match format {
            Format::Modern => record[18] = entry.kind,
            Format::Legacy => record[size - 1] = entry.kind,
        }
        written += size;
        used += 1;
    }
    (written, used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn entry(inode: u64, next_cookie: u64, kind: u8, name: &[u8]) -> DirectoryEntry<'_> {
        DirectoryEntry {
            inode,
            next_cookie,
            kind,
            name,
        }
    }

    /// The records of a buffer: (inode, offset, type, name), read as a C program would.
    fn records(bytes: &[u8], format: Format) -> Vec<(u64, u64, u8, Vec<u8>)> {
        let mut result = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let record = &bytes[at..];
            let length = u16::from_ne_bytes([record[16], record[17]]) as usize;
            assert_eq!(length % 8, 0);
            let name_start = header_size(format);
            let name_end = name_start + record[name_start..].iter().position(|b| *b == 0).unwrap();
            let kind = match format {
                Format::Modern => record[18],
                Format::Legacy => record[length - 1],
            };
            result.push((
                u64::from_ne_bytes(record[0..8].try_into().unwrap()),
                u64::from_ne_bytes(record[8..16].try_into().unwrap()),
                kind,
                record[name_start..name_end].to_vec(),
            ));
            at += length;
        }
        result
    }

    #[test]
    fn records_match_linux_dirent64() {
        // `offsetof(struct dirent, d_name)` is 19; "." takes 24 bytes, a 5-byte name 32.
        assert_eq!(record_size(Format::Modern, 1), 24);
        assert_eq!(record_size(Format::Modern, 4), 24);
        assert_eq!(record_size(Format::Modern, 5), 32);
        assert_eq!(record_size(Format::Legacy, 4), 24);
        assert_eq!(record_size(Format::Legacy, 5), 32);
        assert_eq!(record_size(Format::Legacy, 6), 32);
        let entries = [
            entry(1, 1, libc::DT_DIR, b"."),
            entry(2, 2, libc::DT_DIR, b".."),
            entry(9, 3, libc::DT_REG, b"notes.txt"),
            entry(12, 4, libc::DT_LNK, b"link"),
        ];
        let mut buffer = [0xffu8; 256];
        let (written, used) = pack(&entries, Format::Modern, &mut buffer);
        assert_eq!(used, 4);
        assert_eq!(written, 24 + 24 + 32 + 24);
        assert_eq!(
            records(&buffer[..written], Format::Modern),
            [
                (1, 1, libc::DT_DIR, b".".to_vec()),
                (2, 2, libc::DT_DIR, b"..".to_vec()),
                (9, 3, libc::DT_REG, b"notes.txt".to_vec()),
                (12, 4, libc::DT_LNK, b"link".to_vec()),
            ]
        );
        let (written, used) = pack(&entries, Format::Legacy, &mut buffer);
        assert_eq!(used, 4);
        let legacy = records(&buffer[..written], Format::Legacy);
        assert_eq!(legacy[2], (9, 3, libc::DT_REG, b"notes.txt".to_vec()));
    }

    #[test]
    fn packing_stops_at_the_first_entry_that_does_not_fit() {
        let entries = [
            entry(1, 10, libc::DT_REG, b"a"),
            entry(2, 20, libc::DT_REG, b"a-longer-name"),
            entry(3, 30, libc::DT_REG, b"b"),
        ];
        let mut buffer = [0u8; 40];
        assert_eq!(pack(&entries, Format::Modern, &mut buffer), (24, 1));
        assert_eq!(pack(&entries, Format::Modern, &mut buffer[..23]), (0, 0));
        assert_eq!(pack(&entries[2..], Format::Modern, &mut buffer), (24, 1));
        assert_eq!(pack(&[], Format::Modern, &mut buffer), (0, 0));
    }

    #[test]
    fn names_programs_cannot_take_are_refused() {
        assert!(valid_name(b"file"));
        assert!(!valid_name(b""));
        assert!(!valid_name(b"a/b"));
        assert!(!valid_name(b"a\0b"));
    }
}
