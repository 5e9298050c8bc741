//! The ramfs alone, through the `FileSystem` trait: kinds, link counts, removal while open,
//! rename, listings and the budget.

use super::*;

const T0: Timestamp = Timestamp::new(1000, 0);
const T1: Timestamp = Timestamp::new(2000, 5);

fn ramfs() -> Ramfs {
    Ramfs::new(MemoryBudget::new(1 << 20), T0)
}

fn names(file_system: &Ramfs, directory: InodeNumber, cookie: u64) -> Vec<(String, u64)> {
    let mut listed = Vec::new();
    file_system
        .read_directory(directory, cookie, &mut |item| {
            listed.push((item.name.to_owned(), item.next_cookie));
            true
        })
        .unwrap();
    listed
}

fn name_list(file_system: &Ramfs, directory: InodeNumber) -> Vec<String> {
    names(file_system, directory, 0)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn files_directories_and_links_have_their_kinds() {
    let mut file_system = ramfs();
    let root = file_system.root();
    let file = file_system.create(root, "file", 0o644, T1).unwrap();
    let directory = file_system.make_directory(root, "dir", 0o755, T1).unwrap();
    let link = file_system.symlink(root, "link", "file", T1).unwrap();
    assert_eq!(file_system.metadata(file).unwrap().kind, FileKind::Regular);
    assert_eq!(
        file_system.metadata(directory).unwrap().kind,
        FileKind::Directory
    );
    let link_metadata = file_system.metadata(link).unwrap();
    assert_eq!(link_metadata.kind, FileKind::SymbolicLink);
    assert_eq!(link_metadata.size, 4);
    assert_eq!(link_metadata.permissions, 0o777);
    assert_eq!(file_system.read_link(link).unwrap(), "file");
    assert_eq!(file_system.read_link(file), Err(Errno::EINVAL));
    assert_eq!(file_system.lookup(root, "file"), Ok(file));
    assert_eq!(file_system.lookup(directory, ".."), Ok(root));
    assert_eq!(file_system.lookup(root, "missing"), Err(Errno::ENOENT));
    assert_eq!(file_system.lookup(file, "x"), Err(Errno::ENOTDIR));
    assert_eq!(
        file_system.create(root, "file", 0o644, T1),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        file_system.make_directory(root, "link", 0o755, T1),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        file_system.create(file, "x", 0o644, T1),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        file_system.create(root, "a/b", 0o644, T1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        file_system.symlink(root, "empty", "", T1),
        Err(Errno::ENOENT)
    );
    // Times: the new file's three, the parent's modification and change.
    let metadata = file_system.metadata(file).unwrap();
    assert_eq!(
        (metadata.access, metadata.modify, metadata.change),
        (T1, T1, T1)
    );
    let root_metadata = file_system.metadata(root).unwrap();
    assert_eq!((root_metadata.access, root_metadata.modify), (T0, T1));
}

#[test]
fn link_counts_follow_subdirectories() {
    let mut file_system = ramfs();
    let root = file_system.root();
    assert_eq!(file_system.metadata(root).unwrap().links, 2);
    let first = file_system.make_directory(root, "a", 0o755, T1).unwrap();
    file_system.make_directory(root, "b", 0o755, T1).unwrap();
    file_system.create(root, "f", 0o644, T1).unwrap();
    assert_eq!(file_system.metadata(root).unwrap().links, 4);
    assert_eq!(file_system.metadata(first).unwrap().links, 2);
    file_system
        .make_directory(first, "inner", 0o755, T1)
        .unwrap();
    assert_eq!(file_system.metadata(first).unwrap().links, 3);
    // Moving `inner` from `a` to the root moves its `..`.
    file_system
        .rename(first, "inner", root, "inner", T1)
        .unwrap();
    assert_eq!(file_system.metadata(first).unwrap().links, 2);
    assert_eq!(file_system.metadata(root).unwrap().links, 5);
    file_system.remove_directory(root, "inner", T1).unwrap();
    assert_eq!(file_system.metadata(root).unwrap().links, 4);
}

#[test]
fn unlinked_open_files_stay_readable_until_the_last_release() {
    let mut file_system = ramfs();
    let root = file_system.root();
    let file = file_system.create(root, "doomed", 0o644, T1).unwrap();
    file_system.write_at(file, 0, b"still here", T1).unwrap();
    file_system.open(file).unwrap();
    file_system.open(file).unwrap();
    let used = file_system.budget().used();
    file_system.unlink(root, "doomed", T1).unwrap();
    assert_eq!(file_system.lookup(root, "doomed"), Err(Errno::ENOENT));
    assert_eq!(file_system.metadata(file).unwrap().links, 0);
    let mut buffer = [0u8; 32];
    assert_eq!(file_system.read_at(file, 0, &mut buffer), Ok(10));
    assert_eq!(&buffer[..10], b"still here");
    assert_eq!(file_system.write_at(file, 10, b"!", T1), Ok(1));
    file_system.release(file);
    assert!(file_system.metadata(file).is_ok());
    file_system.release(file);
    assert_eq!(file_system.metadata(file), Err(Errno::ENOENT));
    assert!(file_system.budget().used() < used);
    assert_eq!(file_system.budget().used(), 0);
    assert_eq!(file_system.inode_count(), 1);
}

#[test]
fn removed_open_directories_list_nothing_and_take_no_names() {
    let mut file_system = ramfs();
    let root = file_system.root();
    let directory = file_system.make_directory(root, "d", 0o755, T1).unwrap();
    file_system.open(directory).unwrap();
    file_system.remove_directory(root, "d", T1).unwrap();
    assert_eq!(file_system.metadata(directory).unwrap().links, 0);
    assert!(name_list(&file_system, directory).is_empty());
    assert_eq!(
        file_system.create(directory, "new", 0o644, T1),
        Err(Errno::ENOENT)
    );
    file_system.release(directory);
    assert_eq!(file_system.metadata(directory), Err(Errno::ENOENT));
}

#[test]
fn unlink_and_rmdir_check_kinds_and_emptiness() {
    let mut file_system = ramfs();
    let root = file_system.root();
    let directory = file_system.make_directory(root, "d", 0o755, T1).unwrap();
    file_system.create(directory, "f", 0o644, T1).unwrap();
    file_system.symlink(root, "l", "d", T1).unwrap();
    assert_eq!(file_system.unlink(root, "d", T1), Err(Errno::EISDIR));
    assert_eq!(
        file_system.remove_directory(root, "d", T1),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(
        file_system.remove_directory(root, "l", T1),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(file_system.unlink(root, "missing", T1), Err(Errno::ENOENT));
    assert_eq!(
        file_system.remove_directory(directory, "f", T1),
        Err(Errno::ENOTDIR)
    );
    file_system.unlink(root, "l", T1).unwrap();
    file_system.unlink(directory, "f", T1).unwrap();
    file_system.remove_directory(root, "d", T1).unwrap();
    assert_eq!(name_list(&file_system, root), vec![".", ".."]);
    assert_eq!(file_system.budget().used(), 0);
}

#[test]
fn rename_replaces_as_posix_says() {
    let mut file_system = ramfs();
    let root = file_system.root();
    let first = file_system.create(root, "one", 0o644, T1).unwrap();
    let second = file_system.create(root, "two", 0o644, T1).unwrap();
    let empty = file_system
        .make_directory(root, "empty", 0o755, T1)
        .unwrap();
    let full = file_system.make_directory(root, "full", 0o755, T1).unwrap();
    file_system.create(full, "inside", 0o644, T1).unwrap();
    let other = file_system
        .make_directory(root, "other", 0o755, T1)
        .unwrap();

    // A file onto a file: the target goes, the source takes its name.
    file_system.rename(root, "one", root, "two", T1).unwrap();
    assert_eq!(file_system.lookup(root, "two"), Ok(first));
    assert_eq!(file_system.lookup(root, "one"), Err(Errno::ENOENT));
    assert_eq!(file_system.metadata(second), Err(Errno::ENOENT));
    // Onto itself: nothing happens.
    file_system.rename(root, "two", root, "two", T1).unwrap();
    assert_eq!(file_system.lookup(root, "two"), Ok(first));
    // Kinds must agree.
    assert_eq!(
        file_system.rename(root, "two", root, "empty", T1),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        file_system.rename(root, "other", root, "two", T1),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        file_system.rename(root, "other", root, "full", T1),
        Err(Errno::ENOTEMPTY)
    );
    // A directory onto an empty directory.
    file_system
        .rename(root, "other", root, "empty", T1)
        .unwrap();
    assert_eq!(file_system.lookup(root, "empty"), Ok(other));
    assert_eq!(file_system.metadata(empty), Err(Errno::ENOENT));
    // Into itself or below itself.
    assert_eq!(
        file_system.rename(root, "full", full, "x", T1),
        Err(Errno::EINVAL)
    );
    let inner = file_system
        .make_directory(full, "inner", 0o755, T1)
        .unwrap();
    assert_eq!(
        file_system.rename(root, "full", inner, "x", T1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        file_system.rename(root, "missing", root, "x", T1),
        Err(Errno::ENOENT)
    );
    // Across directories, with a new name.
    file_system
        .rename(full, "inside", inner, "moved", T1)
        .unwrap();
    assert!(file_system.lookup(inner, "moved").is_ok());
    assert_eq!(file_system.metadata(root).unwrap().links, 4);
}

#[test]
fn listings_have_stable_cookies() {
    let mut file_system = ramfs();
    let root = file_system.root();
    for name in ["a", "b", "c", "d"] {
        file_system.create(root, name, 0o644, T1).unwrap();
    }
    let listed = names(&file_system, root, 0);
    assert_eq!(
        listed
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        vec![".", "..", "a", "b", "c", "d"]
    );
    // Continue after "b": removing "a" and "b" and adding "e" changes nothing before the
    // cookie; "c" and "d" are still listed once, "e" after them.
    let after_b = listed[3].1;
    file_system.unlink(root, "a", T1).unwrap();
    file_system.unlink(root, "b", T1).unwrap();
    file_system.create(root, "e", 0o644, T1).unwrap();
    let rest: Vec<String> = names(&file_system, root, after_b)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(rest, vec!["c", "d", "e"]);
    // Stopping early: the visitor says when.
    let mut first_two = Vec::new();
    file_system
        .read_directory(root, 0, &mut |item| {
            first_two.push(item.name.to_owned());
            first_two.len() < 2
        })
        .unwrap();
    assert_eq!(first_two, vec![".", ".."]);
    let file = file_system.lookup(root, "c").unwrap();
    assert_eq!(
        file_system.read_directory(file, 0, &mut |_| true),
        Err(Errno::ENOTDIR)
    );
    // A cookie far past the end lists nothing.
    assert!(names(&file_system, root, u64::MAX).is_empty());
}

#[test]
fn reads_and_writes_respect_kinds() {
    let mut file_system = ramfs();
    let root = file_system.root();
    let directory = file_system.make_directory(root, "d", 0o755, T1).unwrap();
    let link = file_system.symlink(root, "l", "d", T1).unwrap();
    let mut buffer = [0u8; 4];
    assert_eq!(
        file_system.read_at(directory, 0, &mut buffer),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        file_system.write_at(directory, 0, b"x", T1),
        Err(Errno::EISDIR)
    );
    assert_eq!(file_system.truncate(directory, 0, T1), Err(Errno::EISDIR));
    assert_eq!(
        file_system.read_at(link, 0, &mut buffer),
        Err(Errno::EINVAL)
    );
    let file = file_system.create(root, "f", 0o644, T0).unwrap();
    file_system.write_at(file, 0, b"abcdef", T1).unwrap();
    assert_eq!(file_system.metadata(file).unwrap().modify, T1);
    file_system.truncate(file, 3, T1).unwrap();
    assert_eq!(file_system.metadata(file).unwrap().size, 3);
    assert_eq!(file_system.metadata(file).unwrap().blocks, 8);
    let later = Timestamp::new(3000, 0);
    file_system
        .set_times(file, Some(Timestamp::new(5, 6)), None, later)
        .unwrap();
    let metadata = file_system.metadata(file).unwrap();
    assert_eq!(metadata.access, Timestamp::new(5, 6));
    assert_eq!(metadata.modify, T1);
    assert_eq!(metadata.change, later);
    assert_eq!(file_system.sync(file), Ok(()));
}

#[test]
fn a_full_budget_is_enospc_everywhere() {
    let budget = MemoryBudget::new(INODE_COST * 3);
    let mut file_system = Ramfs::new(budget.clone(), T0);
    let root = file_system.root();
    let file = file_system.create(root, "a", 0o644, T1).unwrap();
    file_system.create(root, "b", 0o644, T1).unwrap();
    assert_eq!(file_system.create(root, "c", 0o644, T1), Err(Errno::ENOSPC));
    assert_eq!(
        file_system.make_directory(root, "d", 0o755, T1),
        Err(Errno::ENOSPC)
    );
    assert_eq!(
        file_system.write_at(file, 0, b"data", T1),
        Err(Errno::ENOSPC)
    );
    // Freeing makes room again, and a failed call changed nothing.
    assert_eq!(name_list(&file_system, root), vec![".", "..", "a", "b"]);
    file_system.unlink(root, "b", T1).unwrap();
    assert!(file_system.create(root, "c", 0o644, T1).is_ok());
}
