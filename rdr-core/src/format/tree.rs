//! Tree blobs: one per directory, a sorted list of nodes (docs/format.md,
//! "Trees"). Decoding validates every name, so a hostile tree can never make
//! a restore write outside its target (`..`, `/` or empty names are refused).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::{FormatError, from_cbor, to_cbor};
use crate::id::BlobId;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A regular file (content is a list of data blobs).
    File,
    /// A directory (its entries are in `subtree`).
    Dir,
    /// A symbolic link (`target`).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device (`rdev`).
    Chardev,
    /// A block device (`rdev`).
    Blockdev,
    /// A unix socket (recorded, not restored).
    Socket,
}

impl NodeKind {
    /// A one-letter code as `ls -l` shows it.
    #[must_use]
    pub fn letter(self) -> char {
        match self {
            Self::File => '-',
            Self::Dir => 'd',
            Self::Symlink => 'l',
            Self::Fifo => 'p',
            Self::Chardev => 'c',
            Self::Blockdev => 'b',
            Self::Socket => 's',
        }
    }
}

/// One extended attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    /// Attribute name (bytes).
    pub name: ByteBuf,
    /// Attribute value (bytes).
    pub value: ByteBuf,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A directory entry with its metadata. Times are nanoseconds since the
/// Unix epoch; `mode` holds the permission bits (`& 0o7777`). Access times
/// are not recorded (they change on every read and would make every tree
/// new); restore sets atime to mtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// File name, byte-exact (need not be UTF-8).
    pub name: ByteBuf,
    /// Kind of entry.
    pub kind: NodeKind,
    /// Permission bits, including setuid/setgid/sticky.
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Owner name, when the id resolved on the backed-up host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group name, when the id resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Modification time (ns).
    pub mtime: i64,
    /// Status change time (ns).
    pub ctime: i64,
    /// Logical size in bytes (files), target length (symlinks), else 0.
    pub size: u64,
    /// Device of the backed-up file system.
    pub dev: u64,
    /// Inode number.
    pub inode: u64,
    /// Hard link count at backup time.
    pub links: u64,
    /// Device number of a device node.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rdev: u64,
    /// Symlink target, byte-exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ByteBuf>,
    /// Data blobs of a file's data regions, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<BlobId>,
    /// Holes of a sparse file as (offset, length), sorted, not overlapping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holes: Vec<(u64, u64)>,
    /// Tree blob of a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<BlobId>,
    /// Extended attributes, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
}

impl Node {
    /// A node of the given kind and name with every other field zero.
    #[must_use]
    pub fn new(name: &[u8], kind: NodeKind) -> Self {
        Self {
            name: ByteBuf::from(name.to_vec()),
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            user: None,
            group: None,
            mtime: 0,
            ctime: 0,
            size: 0,
            dev: 0,
            inode: 0,
            links: 0,
            rdev: 0,
            target: None,
            content: Vec::new(),
            holes: Vec::new(),
            subtree: None,
            xattrs: Vec::new(),
        }
    }

    /// Bytes of the file held in data blobs (size minus holes).
    #[must_use]
    pub fn data_bytes(&self) -> u64 {
        let holes: u64 = self.holes.iter().map(|h| h.1).sum();
        self.size.saturating_sub(holes)
    }

    /// Whether metadata other than content differs (mode, owner, times,
    /// xattrs, target, device).
    #[must_use]
    pub fn metadata_differs(&self, other: &Self) -> bool {
        self.mode != other.mode
            || self.uid != other.uid
            || self.gid != other.gid
            || self.mtime != other.mtime
            || self.xattrs != other.xattrs
            || self.target != other.target
            || self.rdev != other.rdev
    }
}

/// A directory listing: nodes sorted by name bytes, names unique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// Entries, sorted by name.
    pub nodes: Vec<Node>,
}

/// Checks a file name from a tree: non-empty, not `.` or `..`, no `/` or NUL.
///
/// # Errors
/// [`FormatError::Invalid`] describing the name.
pub fn check_name(name: &[u8]) -> Result<(), FormatError> {
    let bad = name.is_empty()
        || name == b"."
        || name == b".."
        || name.contains(&b'/')
        || name.contains(&0);
    if bad {
        return Err(FormatError::Invalid {
            what: "tree",
            msg: format!("unsafe entry name {:?}", String::from_utf8_lossy(name)),
        });
    }
    Ok(())
}

impl Tree {
    /// Sorts nodes by name (the encoder requires it).
    pub fn sort(&mut self) {
        self.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// Finds a node by name.
    #[must_use]
    pub fn get(&self, name: &[u8]) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.as_slice().cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// CBOR encoding (nodes must be sorted and valid).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes and validates a tree.
    ///
    /// # Errors
    /// [`FormatError`] for bad CBOR, unsafe names, unsorted or duplicate
    /// names, or inconsistent fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let tree: Self = from_cbor("tree", bytes)?;
        tree.validate()?;
        Ok(tree)
    }

    fn validate(&self) -> Result<(), FormatError> {
        let invalid = |msg: String| FormatError::Invalid { what: "tree", msg };
        for (i, n) in self.nodes.iter().enumerate() {
            check_name(&n.name)?;
            if i > 0 && self.nodes[i - 1].name >= n.name {
                return Err(invalid("entries are not sorted or not unique".into()));
            }
            let name = String::from_utf8_lossy(&n.name);
            match n.kind {
                NodeKind::Dir if n.subtree.is_none() => {
                    return Err(invalid(format!("directory {name:?} has no subtree")));
                }
                NodeKind::Symlink if n.target.is_none() => {
                    return Err(invalid(format!("symlink {name:?} has no target")));
                }
                _ => {}
            }
            if n.kind != NodeKind::File && (!n.content.is_empty() || !n.holes.is_empty()) {
                return Err(invalid(format!("non-file {name:?} has content")));
            }
            let mut end = 0u64;
            for &(off, len) in &n.holes {
                let stop = off.checked_add(len).filter(|&s| s <= n.size);
                match stop {
                    Some(s) if off >= end && len > 0 => end = s,
                    _ => return Err(invalid(format!("file {name:?} has bad holes"))),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn file(name: &[u8]) -> Node {
        let mut n = Node::new(name, NodeKind::File);
        n.size = 10;
        n.content = vec![BlobId(Id::hash_of(name))];
        n
    }

    #[test]
    fn round_trip() {
        let mut t = Tree {
            nodes: vec![file(b"b\xff"), file(b"a")],
        };
        t.nodes[0].holes = vec![(0, 2), (4, 6)];
        t.nodes[0].xattrs = vec![Xattr {
            name: ByteBuf::from(b"user.x".to_vec()),
            value: ByteBuf::from(vec![0, 1]),
        }];
        t.sort();
        let back = Tree::decode(&t.encode()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.get(b"b\xff").unwrap().data_bytes(), 2);
        assert!(back.get(b"c").is_none());
    }

    #[test]
    fn hostile_names_and_order_rejected() {
        for bad in [&b".."[..], b".", b"", b"a/b", b"a\0"] {
            let t = Tree {
                nodes: vec![file(bad)],
            };
            assert!(Tree::decode(&t.encode()).is_err(), "{bad:?}");
        }
        let t = Tree {
            nodes: vec![file(b"b"), file(b"a")],
        };
        assert!(Tree::decode(&t.encode()).is_err());
        let t = Tree {
            nodes: vec![file(b"a"), file(b"a")],
        };
        assert!(Tree::decode(&t.encode()).is_err());
    }

    #[test]
    fn inconsistent_nodes_rejected() {
        let mut f = file(b"a");
        f.holes = vec![(5, 10)];
        assert!(Tree::decode(&Tree { nodes: vec![f] }.encode()).is_err());
        let d = Node::new(b"d", NodeKind::Dir);
        assert!(Tree::decode(&Tree { nodes: vec![d] }.encode()).is_err());
        let mut l = Node::new(b"l", NodeKind::Symlink);
        l.content = vec![BlobId(Id::hash_of(b"x"))];
        assert!(Tree::decode(&Tree { nodes: vec![l] }.encode()).is_err());
    }
}
