//! A file's content as stored: data blobs laid over the data regions (the
//! complement of its holes). Chunking ran over the concatenated data
//! regions, so one blob may straddle a hole; a [`Piece`] is the part of a
//! blob that lands in one region.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::FormatError;
use crate::format::tree::Node;
use crate::id::BlobId;
use crate::repo::{BlobLocation, MasterIndex, Repository};

/// Part of a file: zeros, or bytes of one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A hole of `len` bytes at `offset`.
    Hole { offset: u64, len: u64 },
    /// `len` bytes from `blob` (index into the file's content) starting at
    /// `start`, written at `offset`.
    Data {
        blob: usize,
        start: u64,
        len: u64,
        offset: u64,
    },
}

/// A file's blobs with their locations, and its pieces in file order.
#[derive(Debug)]
pub(crate) struct Layout {
    pub blobs: Vec<(BlobId, BlobLocation)>,
    pub pieces: Vec<Piece>,
}

fn mismatch(path: &str, msg: String) -> Error {
    Error::corrupt("tree", path, FormatError::Invalid { what: "file", msg })
}

/// Lays out `node`'s content. `path` names the file in errors.
pub(crate) fn layout(index: &MasterIndex, node: &Node, path: &str) -> Result<Layout> {
    layout_of(index, &node.content, &node.holes, node.size, path)
}

/// [`layout`] of a file given by its parts: data blobs, holes and size.
pub(crate) fn layout_of(
    index: &MasterIndex,
    content: &[BlobId],
    holes: &[(u64, u64)],
    size: u64,
    path: &str,
) -> Result<Layout> {
    let mut blobs = Vec::with_capacity(content.len());
    for id in content {
        let loc = index
            .lookup(id)
            .filter(|l| l.blob_type == BlobType::Data)
            .ok_or_else(|| {
                Error::NotFound(format!("data blob {id} of {path} is not in the index"))
            })?;
        blobs.push((*id, loc));
    }
    let data: u64 = blobs.iter().map(|b| u64::from(b.1.raw_length)).sum();
    let outside_holes = size.saturating_sub(holes.iter().map(|h| h.1).sum());
    if data != outside_holes {
        return Err(mismatch(
            path,
            format!("blobs hold {data} bytes, the file has {outside_holes} outside holes"),
        ));
    }
    let mut pieces = Vec::new();
    let mut b = 0usize;
    let mut used = 0u64; // bytes of blob b already placed
    let mut pos = 0u64;
    let mut place = |start: u64, end: u64, pieces: &mut Vec<Piece>| {
        let mut off = start;
        while off < end {
            let raw = u64::from(blobs[b].1.raw_length);
            let take = (raw - used).min(end - off);
            if take > 0 {
                pieces.push(Piece::Data {
                    blob: b,
                    start: used,
                    len: take,
                    offset: off,
                });
            }
            off += take;
            used += take;
            if used == raw {
                b += 1;
                used = 0;
            }
        }
    };
    for &(off, len) in holes {
        place(pos, off, &mut pieces);
        pieces.push(Piece::Hole { offset: off, len });
        pos = off + len;
    }
    place(pos, size, &mut pieces);
    Ok(Layout { blobs, pieces })
}

const WINDOW: usize = 8;

/// Reads a file's content from the repository in order, holes as zeros,
/// loading blobs a window at a time in parallel. Every blob is verified
/// against its id.
pub(crate) struct ContentReader {
    repo: Repository,
    layout: Layout,
    next_piece: usize,
    cur: Option<(Arc<Vec<u8>>, u64, u64)>, // blob bytes, position, end
    hole_left: u64,
    loaded: VecDeque<(usize, Arc<Vec<u8>>)>,
}

impl ContentReader {
    pub(crate) fn new(repo: &Repository, layout: Layout) -> Self {
        Self {
            repo: repo.clone(),
            layout,
            next_piece: 0,
            cur: None,
            hole_left: 0,
            loaded: VecDeque::new(),
        }
    }

    fn blob(&mut self, i: usize) -> Result<Arc<Vec<u8>>> {
        while self.loaded.front().is_some_and(|(j, _)| *j < i) {
            self.loaded.pop_front();
        }
        if let Some((_, b)) = self.loaded.front() {
            return Ok(Arc::clone(b));
        }
        let end = (i + WINDOW).min(self.layout.blobs.len());
        let fetched: Vec<Vec<u8>> = self.layout.blobs[i..end]
            .par_iter()
            .map(|(id, loc)| self.repo.load_blob_at(id, loc))
            .collect::<Result<_>>()?;
        self.loaded = (i..end).zip(fetched.into_iter().map(Arc::new)).collect();
        Ok(Arc::clone(&self.loaded[0].1))
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.hole_left > 0 {
                let n = usize::try_from(self.hole_left)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                buf[..n].fill(0);
                self.hole_left -= n as u64;
                return Ok(n);
            }
            if let Some((b, pos, end)) = &mut self.cur {
                if *pos < *end {
                    let n = usize::try_from(*end - *pos)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let p = usize::try_from(*pos).map_err(io::Error::other)?;
                    buf[..n].copy_from_slice(&b[p..p + n]);
                    *pos += n as u64;
                    return Ok(n);
                }
                self.cur = None;
            }
            let Some(piece) = self.layout.pieces.get(self.next_piece).copied() else {
                return Ok(0);
            };
            self.next_piece += 1;
            match piece {
                Piece::Hole { len, .. } => self.hole_left = len,
                Piece::Data {
                    blob, start, len, ..
                } => {
                    let b = self.blob(blob).map_err(io::Error::other)?;
                    self.cur = Some((b, start, start + len));
                }
            }
        }
    }
}

/// A reader of a file node's whole content (holes as zeros).
pub(crate) fn reader(repo: &Repository, node: &Node, path: &str) -> Result<ContentReader> {
    let index = repo.index()?;
    Ok(ContentReader::new(repo, layout(&index, node, path)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::index::{IndexBlob, IndexPack};
    use crate::format::tree::NodeKind;
    use crate::id::{Id, PackId};

    #[test]
    fn blobs_straddle_holes() {
        let ids: Vec<BlobId> = (0..2u8).map(|i| BlobId(Id::hash_of(&[i]))).collect();
        let pack = IndexPack {
            id: PackId(Id::hash_of(b"p")),
            blobs: ids
                .iter()
                .map(|id| IndexBlob {
                    blob_type: BlobType::Data,
                    id: *id,
                    offset: 0,
                    length: 10,
                    raw_length: 7,
                })
                .collect(),
        };
        let index = MasterIndex::from_packs([&pack]);
        let mut n = Node::new(b"f", NodeKind::File);
        n.size = 20;
        n.holes = vec![(4, 4), (14, 2)];
        n.content = ids;
        let l = layout(&index, &n, "/f").unwrap();
        let data = |blob, start, len, offset| Piece::Data {
            blob,
            start,
            len,
            offset,
        };
        let want = vec![
            data(0, 0, 4, 0),
            Piece::Hole { offset: 4, len: 4 },
            data(0, 4, 3, 8),
            data(1, 0, 3, 11),
            Piece::Hole { offset: 14, len: 2 },
            data(1, 3, 4, 16),
        ];
        assert_eq!(l.pieces, want);
        n.size = 21;
        assert!(layout(&index, &n, "/f").is_err());
    }
}
