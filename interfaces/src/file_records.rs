//! The records the File interface carries in `bytes` fields: a file's status (`stat`,
//! `fstat`) and directory entries (`read_directory`), encoded once here for the client
//! (libposix) and the server (the file VFS).

use alloc::vec::Vec;

/// What `stat` reports of a file, in Linux's terms (mode bits, types and times as `struct stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStatus {
    pub inode: u64,
    /// File type and permission bits (`S_IFREG | 0o644`, ...).
    pub mode: u32,
    pub links: u32,
    pub user: u32,
    pub group: u32,
    pub size: i64,
    /// 512-byte blocks allocated.
    pub blocks: i64,
    pub block_size: u32,
    pub device: u64,
    pub access_seconds: i64,
    pub access_nanoseconds: u32,
    pub modify_seconds: i64,
    pub modify_nanoseconds: u32,
    pub change_seconds: i64,
    pub change_nanoseconds: u32,
}

/// Bytes of an encoded [`FileStatus`].
pub const FILE_STATUS_SIZE: usize = 92;

impl FileStatus {
    /// Little-endian encoding, fields in declaration order.
    pub fn to_bytes(&self) -> [u8; FILE_STATUS_SIZE] {
        let mut bytes = [0u8; FILE_STATUS_SIZE];
        let mut writer = Writer {
            bytes: &mut bytes,
            at: 0,
        };
        writer.put(&self.inode.to_le_bytes());
        writer.put(&self.mode.to_le_bytes());
        writer.put(&self.links.to_le_bytes());
        writer.put(&self.user.to_le_bytes());
        writer.put(&self.group.to_le_bytes());
        writer.put(&self.size.to_le_bytes());
        writer.put(&self.blocks.to_le_bytes());
        writer.put(&self.block_size.to_le_bytes());
        writer.put(&self.device.to_le_bytes());
        writer.put(&self.access_seconds.to_le_bytes());
        writer.put(&self.access_nanoseconds.to_le_bytes());
        writer.put(&self.modify_seconds.to_le_bytes());
        writer.put(&self.modify_nanoseconds.to_le_bytes());
        writer.put(&self.change_seconds.to_le_bytes());
        writer.put(&self.change_nanoseconds.to_le_bytes());
        bytes
    }

    /// Decodes [`FileStatus::to_bytes`]; `None` when the length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<FileStatus> {
        if bytes.len() != FILE_STATUS_SIZE {
            return None;
        }
        let mut reader = Reader { bytes, at: 0 };
        Some(FileStatus {
            inode: reader.u64(),
            mode: reader.u32(),
            links: reader.u32(),
            user: reader.u32(),
            group: reader.u32(),
            size: reader.u64() as i64,
            blocks: reader.u64() as i64,
            block_size: reader.u32(),
            device: reader.u64(),
            access_seconds: reader.u64() as i64,
            access_nanoseconds: reader.u32(),
            modify_seconds: reader.u64() as i64,
            modify_nanoseconds: reader.u32(),
            change_seconds: reader.u64() as i64,
            change_nanoseconds: reader.u32(),
        })
    }
}

/// One directory entry of `read_directory`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryEntry<'a> {
    pub inode: u64,
    /// The cookie that continues the listing after this entry.
    pub next_cookie: u64,
    /// The entry's type, as `d_type` (`DT_REG` 8, `DT_DIR` 4, `DT_LNK` 10, ...).
    pub kind: u8,
    pub name: &'a [u8],
}

/// Bytes of an entry's fixed part: inode, next cookie, kind and the name's length.
pub const DIRECTORY_ENTRY_HEADER: usize = 19;

impl DirectoryEntry<'_> {
    /// Appends the entry to `output`: inode u64, next cookie u64, kind u8, name length u16,
    /// then the name (records are back to back, unaligned).
    pub fn encode(&self, output: &mut Vec<u8>) {
        output.extend_from_slice(&self.inode.to_le_bytes());
        output.extend_from_slice(&self.next_cookie.to_le_bytes());
        output.push(self.kind);
        output.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        output.extend_from_slice(self.name);
    }

    /// Bytes this entry takes encoded.
    pub fn encoded_size(&self) -> usize {
        DIRECTORY_ENTRY_HEADER + self.name.len()
    }

    /// Decodes the entries of a `read_directory` reply; stops at the first malformed one,
    /// reporting it as `Err` with the entries before it.
    pub fn decode_all(
        mut bytes: &[u8],
    ) -> Result<Vec<DirectoryEntry<'_>>, Vec<DirectoryEntry<'_>>> {
        let mut entries = Vec::new();
        while !bytes.is_empty() {
            if bytes.len() < DIRECTORY_ENTRY_HEADER {
                return Err(entries);
            }
            let mut reader = Reader { bytes, at: 0 };
            let inode = reader.u64();
            let next_cookie = reader.u64();
            let kind = bytes[16];
            let length = u16::from_le_bytes([bytes[17], bytes[18]]) as usize;
            let Some(name) = bytes.get(DIRECTORY_ENTRY_HEADER..DIRECTORY_ENTRY_HEADER + length)
            else {
                return Err(entries);
            };
            entries.push(DirectoryEntry {
                inode,
                next_cookie,
                kind,
                name,
            });
            bytes = &bytes[DIRECTORY_ENTRY_HEADER + length..];
        }
        Ok(entries)
    }
}

struct Writer<'a> {
    bytes: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, value: &[u8]) {
        self.bytes[self.at..self.at + value.len()].copy_from_slice(value);
        self.at += value.len();
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut value = [0u8; N];
        value.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        value
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips() {
        let status = FileStatus {
            inode: 7,
            mode: 0o100644,
            links: 1,
            size: -1,
            modify_nanoseconds: 999_999_999,
            change_seconds: i64::MIN,
            ..FileStatus::default()
        };
        assert_eq!(FileStatus::from_bytes(&status.to_bytes()), Some(status));
        assert_eq!(FileStatus::from_bytes(&[0; FILE_STATUS_SIZE - 1]), None);
    }

    #[test]
    fn entries_round_trip_and_stop_at_damage() {
        let mut bytes = Vec::new();
        let first = DirectoryEntry {
            inode: 1,
            next_cookie: 1,
            kind: 4,
            name: b".",
        };
        let second = DirectoryEntry {
            inode: 9,
            next_cookie: 2,
            kind: 8,
            name: b"notes.txt",
        };
        first.encode(&mut bytes);
        second.encode(&mut bytes);
        assert_eq!(bytes.len(), first.encoded_size() + second.encoded_size());
        assert_eq!(
            DirectoryEntry::decode_all(&bytes),
            Ok(alloc::vec![first.clone(), second])
        );
        assert_eq!(
            DirectoryEntry::decode_all(&bytes[..bytes.len() - 1]),
            Err(alloc::vec![first])
        );
    }
}
