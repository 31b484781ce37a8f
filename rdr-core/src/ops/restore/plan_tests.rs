//! Restore planning without storage: trees from a map, an index built in
//! memory; what the plan creates and where each blob's bytes go.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::RestoreOptions;
use super::jobs::{PackGrouper, Target};
use super::plan::{Plan, plan as make_plan};
use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::index::{IndexBlob, IndexPack};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::{BlobId, Id, PackId};
use crate::ops::nav::Trees;
use crate::repo::MasterIndex;

struct MemTrees(HashMap<BlobId, Tree>);

impl Trees for MemTrees {
    fn tree(&self, id: &BlobId) -> Result<Tree> {
        self.0
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("tree {id}")))
    }
}

fn bid(n: u8) -> BlobId {
    BlobId(Id([n; 32]))
}

fn dir(name: &str, tree: u8) -> Node {
    let mut n = Node::new(name.as_bytes(), NodeKind::Dir);
    n.mode = 0o755;
    n.subtree = Some(bid(tree));
    n
}

fn file(name: &str, size: u64, content: &[u8]) -> Node {
    let mut n = Node::new(name.as_bytes(), NodeKind::File);
    n.mode = 0o644;
    n.size = size;
    n.links = 1;
    n.content = content.iter().map(|&b| bid(b)).collect();
    n
}

fn tree(nodes: Vec<Node>) -> Tree {
    let mut t = Tree { nodes };
    t.sort();
    t
}

/// `/srv/db/{base, big.tmp}`, `/srv/www/{index.html, link, hard1, hard2,
/// sparse}`: index.html shares base's blob, hard1/hard2 are one inode,
/// sparse starts with a 100-byte hole.
fn fixture() -> MemTrees {
    let mut link = Node::new(b"link", NodeKind::Symlink);
    link.target = Some(b"index.html".to_vec().into());
    let hard = |name: &str| {
        let mut n = file(name, 30, &[22]);
        n.links = 2;
        n.dev = 7;
        n.inode = 99;
        n
    };
    let mut sparse = file("sparse", 300, &[23]);
    sparse.holes = vec![(0, 100)];
    MemTrees(HashMap::from([
        (bid(1), tree(vec![dir("srv", 2)])),
        (bid(2), tree(vec![dir("db", 3), dir("www", 4)])),
        (
            bid(3),
            tree(vec![file("base", 10, &[20]), file("big.tmp", 40, &[21])]),
        ),
        (
            bid(4),
            tree(vec![
                file("index.html", 10, &[20]),
                link,
                hard("hard1"),
                hard("hard2"),
                sparse,
            ]),
        ),
    ]))
}

fn opts(include: &[&str], exclude: &[&str]) -> RestoreOptions {
    let mut o = RestoreOptions::new("/restore");
    o.include = include.iter().map(|s| (*s).to_owned()).collect();
    o.exclude = exclude.iter().map(|s| (*s).to_owned()).collect();
    o
}

fn paths(plan: &Plan) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>) {
    (
        plan.dirs.iter().map(|d| d.path.clone()).collect(),
        plan.files.iter().map(|f| f.path.clone()).collect(),
        plan.others.iter().map(|o| o.path.clone()).collect(),
    )
}

fn p(s: &str) -> PathBuf {
    Path::new("/restore").join(s)
}

#[test]
fn a_whole_snapshot_plans_every_entry_under_the_target() {
    let plan = make_plan(&fixture(), bid(1), "", &opts(&[], &[])).unwrap();
    let (dirs, files, others) = paths(&plan);
    assert_eq!(dirs, [p("srv"), p("srv/db"), p("srv/www")]);
    assert_eq!(
        files,
        [
            p("srv/db/base"),
            p("srv/db/big.tmp"),
            p("srv/www/hard1"),
            p("srv/www/index.html"),
            p("srv/www/sparse"),
        ]
    );
    assert_eq!(others, [p("srv/www/link")]);
    assert_eq!(plan.links, [(p("srv/www/hard1"), p("srv/www/hard2"))]);
}

#[test]
fn includes_and_excludes_select_entries_and_the_directories_leading_to_them() {
    let plan = make_plan(&fixture(), bid(1), "", &opts(&["/srv/db"], &["*.tmp"])).unwrap();
    let (dirs, files, others) = paths(&plan);
    assert_eq!(
        dirs,
        [p("srv"), p("srv/db")],
        "www leads to nothing selected"
    );
    assert_eq!(files, [p("srv/db/base")]);
    assert!(others.is_empty() && plan.links.is_empty());

    let plan = plan_of(&["index.html"], &[]);
    assert_eq!(paths(&plan).1, [p("srv/www/index.html")]);
    assert_eq!(paths(&plan).0, [p("srv"), p("srv/www")]);
}

fn plan_of(include: &[&str], exclude: &[&str]) -> Plan {
    make_plan(&fixture(), bid(1), "", &opts(include, exclude)).unwrap()
}

#[test]
fn a_subpath_lands_directly_in_the_target() {
    let plan = make_plan(&fixture(), bid(1), "/srv/www", &opts(&[], &[])).unwrap();
    let (dirs, files, others) = paths(&plan);
    assert!(dirs.is_empty());
    assert_eq!(files, [p("hard1"), p("index.html"), p("sparse")]);
    assert_eq!(others, [p("link")]);
    // a single file restores under its own name
    let plan = make_plan(&fixture(), bid(1), "/srv/db/base", &opts(&[], &[])).unwrap();
    assert_eq!(paths(&plan).1, [p("base")]);
    let missing = plan_err("/srv/nope");
    assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
}

fn plan_err(subpath: &str) -> Error {
    match make_plan(&fixture(), bid(1), subpath, &opts(&[], &[])) {
        Ok(_) => panic!("{subpath} planned"),
        Err(e) => e,
    }
}

fn index() -> MasterIndex {
    let blob = |n: u8, offset: u32, raw_length: u32| IndexBlob {
        blob_type: BlobType::Data,
        id: bid(n),
        offset,
        length: raw_length + 40,
        raw_length,
    };
    MasterIndex::from_packs(&[
        IndexPack {
            id: PackId(Id([0xa0; 32])),
            blobs: vec![blob(21, 0, 40), blob(20, 200, 10)],
        },
        IndexPack {
            id: PackId(Id([0xb0; 32])),
            blobs: vec![blob(22, 0, 30), blob(23, 500, 200)],
        },
    ])
}

#[test]
fn blobs_are_grouped_by_pack_in_offset_order_with_every_target() {
    let plan = plan_of(&[], &[]);
    let index = index();
    let mut g = PackGrouper::default();
    for (i, f) in plan.files.iter().enumerate() {
        g.add_file(i, &f.layout(&index, "f").unwrap());
    }
    let packs = g.finish();
    let ids: Vec<(PackId, Vec<BlobId>)> = packs
        .iter()
        .map(|(p, b)| (*p, b.iter().map(|j| j.id).collect()))
        .collect();
    assert_eq!(
        ids,
        [
            (PackId(Id([0xa0; 32])), vec![bid(21), bid(20)]),
            (PackId(Id([0xb0; 32])), vec![bid(22), bid(23)]),
        ]
    );
    let t = |file, start, len, offset| Target {
        file,
        start,
        len,
        offset,
    };
    // base and index.html share one blob: read once, written twice
    assert_eq!(packs[0].1[1].targets, [t(0, 0, 10, 0), t(3, 0, 10, 0)]);
    // the sparse file's data goes after its hole, which is not written
    assert_eq!(packs[1].1[1].targets, [t(4, 0, 200, 100)]);
}

#[test]
fn a_file_whose_blob_is_not_indexed_is_named() {
    let plan = plan_of(&[], &[]);
    let empty = MasterIndex::from_packs(&[]);
    let err = plan.files[0].layout(&empty, "srv/db/base").unwrap_err();
    assert!(err.to_string().contains("srv/db/base"), "{err}");
}
