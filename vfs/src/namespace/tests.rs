//! Path walks: mounts, symbolic links and their limits.

use super::*;
use crate::ramfs::{MemoryBudget, Ramfs};

const NOW: Timestamp = Timestamp::new(100, 0);

/// A namespace with a ramfs at each prefix.
fn namespace(prefixes: &[&str]) -> Namespace {
    let budget = MemoryBudget::new(1 << 24);
    let mut table = MountTable::new();
    for prefix in prefixes {
        table
            .add(prefix, Box::new(Ramfs::new(budget.clone(), NOW)))
            .unwrap();
    }
    Namespace::new(table, NOW)
}

/// Creates what `path` names: a directory if it ends in `/`, a symbolic link if `link` is
/// given, else a file. The parent must exist.
fn make(namespace: &mut Namespace, path: &str, link: Option<&str>) -> Location {
    let resolved = namespace.resolve(path, false).unwrap();
    assert_eq!(resolved.target, None, "{path} exists already");
    let parent = resolved.link.as_ref().unwrap().parent.unwrap();
    let name = resolved.link.unwrap().name;
    let file_system = namespace.file_system_mut(parent.mount).unwrap();
    let inode = match link {
        Some(target) => file_system.symlink(parent.inode, &name, target, NOW),
        None if resolved.directory_required => {
            file_system.make_directory(parent.inode, &name, 0o755, NOW)
        }
        None => file_system.create(parent.inode, &name, 0o644, NOW),
    }
    .unwrap();
    Location {
        mount: parent.mount,
        inode,
    }
}

fn target(namespace: &Namespace, path: &str) -> Result<Option<Location>> {
    namespace
        .resolve(path, true)
        .map(|resolved| resolved.target)
}

fn resolved_path(namespace: &Namespace, path: &str) -> String {
    namespace.resolve(path, true).unwrap().path
}

#[test]
fn the_root_and_missing_names() {
    let namespace = namespace(&["/"]);
    let root = namespace.resolve("/", true).unwrap();
    assert_eq!(root.path, "/");
    assert_eq!(root.link, None);
    assert_eq!(root.target, Some(Location { mount: 0, inode: 1 }));
    let missing = namespace.resolve("/missing", true).unwrap();
    assert_eq!(missing.target, None);
    assert_eq!(missing.link.unwrap().name, "missing");
    assert_eq!(
        namespace.resolve("/missing/deeper", true),
        Err(Errno::ENOENT)
    );
}

#[test]
fn mounts_serve_their_prefix_and_show_as_directories() {
    let mut namespace = namespace(&["/", "/tmp", "/tmp/deep"]);
    let file = make(&mut namespace, "/tmp/file", None);
    assert_eq!(file.mount, 1);
    let deep = make(&mut namespace, "/tmp/deep/file", None);
    assert_eq!(deep.mount, 2);
    let root_file = make(&mut namespace, "/tmpfile", None);
    assert_eq!(root_file.mount, 0);
    // The mount point is the mounted root, and a directory in the file system below.
    let tmp = target(&namespace, "/tmp").unwrap().unwrap();
    assert_eq!(tmp, Location { mount: 1, inode: 1 });
    assert!(namespace.is_mount_root(tmp));
    let root = namespace.file_system(0).unwrap();
    assert!(root.lookup(1, "tmp").is_ok());
    let tmp_file_system = namespace.file_system(1).unwrap();
    assert!(tmp_file_system.lookup(1, "deep").is_ok());
    assert_ne!(namespace.device(0), namespace.device(1));
}

#[test]
fn without_a_root_mount_the_way_to_a_mount_is_walkable() {
    let mut namespace = namespace(&["/srv/data"]);
    let file = make(&mut namespace, "/srv/data/file", None);
    assert_eq!(file.mount, 0);
    assert_eq!(target(&namespace, "/srv/data/file").unwrap(), Some(file));
    assert_eq!(target(&namespace, "/srv").unwrap(), None);
    assert_eq!(target(&namespace, "/").unwrap(), None);
    assert_eq!(target(&namespace, "/etc/passwd"), Err(Errno::ENOENT));
    let elsewhere = namespace.resolve("/srv/other", true).unwrap();
    assert_eq!(elsewhere.link.unwrap().parent, None);
}

#[test]
fn symbolic_links_are_followed_relative_and_absolute() {
    let mut namespace = namespace(&["/", "/tmp"]);
    make(&mut namespace, "/a/", None);
    make(&mut namespace, "/a/b/", None);
    let file = make(&mut namespace, "/a/b/file", None);
    make(&mut namespace, "/relative", Some("a/b"));
    make(&mut namespace, "/absolute", Some("/a/b/file"));
    make(&mut namespace, "/a/b/up", Some("../.."));
    make(&mut namespace, "/a/dot", Some("./b/./file"));
    make(&mut namespace, "/tmp/to-root", Some("/a"));
    make(&mut namespace, "/a/b/to-tmp", Some("../../tmp"));
    assert_eq!(target(&namespace, "/relative/file").unwrap(), Some(file));
    assert_eq!(target(&namespace, "/absolute").unwrap(), Some(file));
    assert_eq!(resolved_path(&namespace, "/absolute"), "/a/b/file");
    assert_eq!(target(&namespace, "/a/dot").unwrap(), Some(file));
    // `..` in a link goes up from where the link is, physically.
    assert_eq!(resolved_path(&namespace, "/a/b/up"), "/");
    assert_eq!(resolved_path(&namespace, "/relative/up/a"), "/a");
    // Links cross mounts both ways.
    assert_eq!(
        target(&namespace, "/tmp/to-root/b/file").unwrap(),
        Some(file)
    );
    assert_eq!(resolved_path(&namespace, "/a/b/to-tmp"), "/tmp");
    assert_eq!(
        target(&namespace, "/a/b/to-tmp").unwrap(),
        Some(Location { mount: 1, inode: 1 })
    );
    // Not following the final link names the link itself.
    let link = namespace.resolve("/absolute", false).unwrap();
    assert_eq!(link.path, "/absolute");
    let kind = namespace.metadata(link.target.unwrap()).unwrap().kind;
    assert_eq!(kind, FileKind::SymbolicLink);
    // A dangling link resolves to where its target would be created.
    make(&mut namespace, "/dangling", Some("a/new-file"));
    let dangling = namespace.resolve("/dangling", true).unwrap();
    assert_eq!(dangling.target, None);
    assert_eq!(dangling.path, "/a/new-file");
    assert_eq!(dangling.link.unwrap().name, "new-file");
}

#[test]
fn link_loops_stop_at_forty() {
    let mut namespace = namespace(&["/"]);
    let file = make(&mut namespace, "/file", None);
    // A chain of 40 links resolves; 41 is ELOOP.
    make(&mut namespace, "/link0", Some("file"));
    for index in 1..=40 {
        let previous = format!("link{}", index - 1);
        make(&mut namespace, &format!("/link{index}"), Some(&previous));
    }
    assert_eq!(target(&namespace, "/link39").unwrap(), Some(file));
    assert_eq!(target(&namespace, "/link40"), Err(Errno::ELOOP));
    make(&mut namespace, "/self", Some("self"));
    assert_eq!(target(&namespace, "/self"), Err(Errno::ELOOP));
    make(&mut namespace, "/ping", Some("pong/x"));
    make(&mut namespace, "/pong", Some("ping/y"));
    assert_eq!(target(&namespace, "/ping"), Err(Errno::ELOOP));
    // Not following the final component, a loop is just a link.
    assert!(namespace.resolve("/self", false).is_ok());
}

#[test]
fn walks_report_linux_errors() {
    let mut namespace = namespace(&["/"]);
    make(&mut namespace, "/file", None);
    make(&mut namespace, "/directory/", None);
    make(&mut namespace, "/to-directory", Some("directory"));
    make(&mut namespace, "/to-file", Some("file"));
    assert_eq!(target(&namespace, "/file/x"), Err(Errno::ENOTDIR));
    assert_eq!(target(&namespace, "/to-file/x"), Err(Errno::ENOTDIR));
    assert_eq!(target(&namespace, "/file/"), Err(Errno::ENOTDIR));
    assert_eq!(target(&namespace, "/missing/x"), Err(Errno::ENOENT));
    // A trailing slash follows the final link even when told not to.
    let through = namespace.resolve("/to-directory/", false).unwrap();
    assert_eq!(through.path, "/directory");
    assert_eq!(namespace.resolve("/to-file/", false), Err(Errno::ENOTDIR));
    let long_name = "n".repeat(256);
    make(&mut namespace, "/long", Some(&long_name));
    assert_eq!(target(&namespace, "/long"), Err(Errno::ENAMETOOLONG));
    // A link whose expansion grows the path past PATH_MAX: directories 20 deep (4,022 bytes),
    // a link to the 19th level, and a client path through it that would reach 4,223 bytes.
    let component = "c".repeat(200);
    let mut deep = String::from("/c");
    make(&mut namespace, "/c/", None);
    let mut nineteenth = String::new();
    for level in 1..=20 {
        deep.push('/');
        deep.push_str(&component);
        make(&mut namespace, &format!("{deep}/"), None);
        if level == 19 {
            nineteenth = deep.clone();
        }
    }
    assert_eq!(deep.len(), 4022);
    make(&mut namespace, "/grow", Some(&nineteenth));
    let through = format!("/grow/{component}");
    assert_eq!(resolved_path(&namespace, &through), deep);
    let past = format!("/grow/{component}/{component}");
    assert_eq!(target(&namespace, &past), Err(Errno::ENAMETOOLONG));
}

#[test]
fn client_paths_cannot_escape_by_spelling() {
    let namespace = namespace(&["/", "/tmp"]);
    for path in [
        "/a/../..",
        "/tmp/../etc",
        "//etc",
        "/tmp//x",
        "/tmp/./x",
        "tmp/x",
        "/tmp/\0/../etc",
    ] {
        assert_eq!(
            namespace.resolve(path, true),
            Err(Errno::EINVAL),
            "{path:?}"
        );
    }
    let overlong = format!("/tmp/{}", "x/".repeat(2100));
    assert_eq!(namespace.resolve(&overlong, true), Err(Errno::ENAMETOOLONG));
    assert_eq!(namespace.resolve("", true), Err(Errno::ENOENT));
}
