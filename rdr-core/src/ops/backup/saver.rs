//! The backup pipeline behind the walker: chunk and hash on the calling
//! thread, drop known blobs, then compress and seal new ones on worker
//! threads and hand them to the packer, which uploads on its own threads.
//!
//! Memory is bounded: the chunk queue holds at most `QUEUE_BYTES` of
//! chunks (or a single larger one), the packer bounds the bytes waiting for
//! upload, and open packs are staged by the backend (on disk for a local
//! repository) rather than held in memory. The queue is bounded in bytes,
//! not chunks: a tree of small files needs many small chunks queued to keep
//! the seal workers busy (a 2-chunk queue left a fifth of the CPU idle).
//!
//! Crash safety: index files are written while the backup runs (every
//! `FLUSH_PACKS` packs or `flush_interval`), each naming only packs whose
//! upload finished, so an interrupted backup leaves indexed data that the
//! next run deduplicates against.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::chunk::Chunker;
use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::index::{IndexFile, IndexPack};
use crate::format::tree::Tree;
use crate::id::BlobId;
use crate::ops::progress::Progress;
use crate::repo::{DedupSet, MasterIndex, Packer, PackerOptions, Repository};

/// Write an index file once this many packs are uploaded and unindexed.
const FLUSH_PACKS: usize = 64;

/// Chunks the chunker of a long stream may cut ahead of the hashing.
const CHUNKS_AHEAD: usize = 4;
/// Bytes of chunks waiting for the seal workers.
const QUEUE_BYTES: usize = 4 << 20;
/// Chunks waiting for the seal workers, at most.
const QUEUE_CHUNKS: usize = 1024;

/// The queue's byte budget: the walker takes a chunk's bytes before
/// queueing it, a worker gives them back when it picks the chunk up.
#[derive(Default)]
struct Budget {
    queued: Mutex<usize>,
    freed: Condvar,
}

impl Budget {
    /// Waits until `n` more bytes fit (one chunk always fits an empty
    /// queue) or `stop()` says no worker is left to make room.
    fn take(&self, n: usize, stop: impl Fn() -> bool) {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        while *queued > 0 && *queued + n > QUEUE_BYTES && !stop() {
            queued = self
                .freed
                .wait_timeout(queued, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *queued += n;
    }

    fn give(&self, n: usize) {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        *queued = queued.saturating_sub(n);
        self.freed.notify_one();
    }
}

struct Job {
    id: BlobId,
    /// (a view: a copied blob is its pack read's buffer, never copied out)
    data: bytes::Bytes,
}

/// Counters shared with the workers.
#[derive(Default)]
pub(crate) struct Counters {
    pub data_blobs: AtomicU64,
    pub tree_blobs: AtomicU64,
    pub bytes_added: AtomicU64,
    pub bytes_added_stored: AtomicU64,
}

pub(crate) struct Saver {
    repo: Repository,
    index: Arc<MasterIndex>,
    dedup: DedupSet,
    packer: Option<Arc<Packer>>,
    tx: Option<Sender<Job>>,
    budget: Arc<Budget>,
    workers: Vec<JoinHandle<()>>,
    error: Arc<Mutex<Option<Error>>>,
    pub counters: Arc<Counters>,
    pending: Vec<IndexPack>,
    /// The chunker's working buffer, reused from file to file.
    chunk_buf: Vec<u8>,
    last_flush: Instant,
    flush_interval: Duration,
}

fn take_error(slot: &Mutex<Option<Error>>) -> Option<Error> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

impl Saver {
    /// `dry_run`: blobs are sealed and counted but never stored.
    pub(crate) fn new(
        repo: &Repository,
        threads: usize,
        dry_run: bool,
        flush_interval: Duration,
    ) -> Result<Self> {
        let index = repo.index()?;
        let threads = threads.max(1);
        let packer = (!dry_run).then(|| Arc::new(repo.packer(PackerOptions::default())));
        let (tx, rx) = bounded::<Job>(QUEUE_CHUNKS);
        let budget = Arc::new(Budget::default());
        let error = Arc::new(Mutex::new(None));
        let counters = Arc::new(Counters::default());
        let workers = (0..threads)
            .map(|i| {
                let rx: Receiver<Job> = rx.clone();
                let repo = repo.clone();
                let packer = packer.clone();
                let error = Arc::clone(&error);
                let counters = Arc::clone(&counters);
                let budget = Arc::clone(&budget);
                std::thread::Builder::new()
                    .name(format!("rdr-seal-{i}"))
                    .spawn(move || {
                        // one buffer per worker: sealing allocates nothing
                        let mut sealed = Vec::new();
                        for job in rx {
                            budget.give(job.data.len());
                            repo.seal_blob_into(BlobType::Data, &job.id, &job.data, &mut sealed);
                            let raw = job.data.len() as u64;
                            let res = match &packer {
                                Some(p) => p.add(BlobType::Data, job.id, &sealed, raw as u32),
                                None => Ok(()),
                            };
                            match res {
                                Ok(()) => {
                                    counters.data_blobs.fetch_add(1, Ordering::Relaxed);
                                    counters.bytes_added.fetch_add(raw, Ordering::Relaxed);
                                    counters
                                        .bytes_added_stored
                                        .fetch_add(sealed.len() as u64, Ordering::Relaxed);
                                }
                                Err(e) => {
                                    error
                                        .lock()
                                        .unwrap_or_else(PoisonError::into_inner)
                                        .get_or_insert(e);
                                }
                            }
                        }
                    })
                    .map_err(|e| Error::io("starting a worker thread", e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            repo: repo.clone(),
            index,
            dedup: DedupSet::default(),
            packer,
            tx: Some(tx),
            budget,
            workers,
            error,
            counters,
            pending: Vec::new(),
            chunk_buf: Vec::new(),
            last_flush: Instant::now(),
            flush_interval,
        })
    }

    /// Whether every blob is already in the repository (reusable).
    pub(crate) fn all_known(&self, ids: &[BlobId]) -> bool {
        ids.iter().all(|id| self.index.contains_live(id))
    }

    /// Whether the destination has the blob, or this session stores it.
    pub(crate) fn knows(&self, id: &BlobId) -> bool {
        self.index.contains_live(id) || self.dedup.contains(id)
    }

    /// Stores a data blob given whole, whose id in this repository is
    /// `id`, if it is new.
    pub(crate) fn save_data_as(&mut self, id: BlobId, data: bytes::Bytes) -> Result<()> {
        if self.is_new(&id) {
            self.queue(id, data)?;
        }
        self.check()?;
        self.maybe_flush()
    }

    /// Hands a new data blob to the seal workers, within the queue's budget.
    fn queue(&self, id: BlobId, data: bytes::Bytes) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| Error::InvalidInput("saver finished".into()))?;
        let workers = &self.workers;
        self.budget
            .take(data.len(), || workers.iter().all(JoinHandle::is_finished));
        tx.send(Job { id, data })
            .map_err(|_| Error::InvalidInput("seal workers stopped".into()))
    }

    /// First claim of a blob not in the index.
    fn is_new(&self, id: &BlobId) -> bool {
        !self.index.contains_live(id) && self.dedup.claim(id)
    }

    fn check(&self) -> Result<()> {
        match take_error(&self.error) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Chunks a stream and stores its new chunks. Returns the chunk ids
    /// and the byte count. I/O errors of the reader come back as the
    /// inner `Err` (a warning for a file; fatal for a stream).
    pub(crate) fn save_stream(
        &mut self,
        reader: impl Read,
        progress: &dyn Progress,
    ) -> Result<std::result::Result<(Vec<BlobId>, u64), std::io::Error>> {
        let repo = self.repo.clone();
        let buf = std::mem::take(&mut self.chunk_buf);
        let mut chunker = Chunker::with_buffer(repo.chunker(), reader, buf);
        let chunks = std::iter::from_fn(|| chunker.next_chunk().transpose());
        let res = self.save_chunks(chunks, None, progress);
        self.chunk_buf = chunker.into_buffer();
        res
    }

    /// [`Self::save_stream`] for one long stream: the chunker runs on a
    /// thread of its own, a few chunks ahead, while this thread hashes the
    /// chunks (and, with `whole`, the stream itself) and queues the new
    /// ones. On one thread, reading, cutting and both hashes took turns
    /// and bound a 652 MB dump's backup (docs/performance.md).
    pub(crate) fn save_long_stream(
        &mut self,
        reader: impl Read + Send,
        whole: Option<&mut blake3::Hasher>,
        progress: &dyn Progress,
    ) -> Result<std::result::Result<(Vec<BlobId>, u64), std::io::Error>> {
        let repo = self.repo.clone();
        let buf = std::mem::take(&mut self.chunk_buf);
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
            let cutter = std::thread::Builder::new()
                .name("rdr-chunker".into())
                .spawn_scoped(s, move || {
                    let mut chunker = Chunker::with_buffer(repo.chunker(), reader, buf);
                    while let Some(c) = chunker.next_chunk().transpose() {
                        let failed = c.is_err();
                        if tx.send(c).is_err() || failed {
                            break;
                        }
                    }
                    chunker.into_buffer()
                })
                .map_err(|e| Error::io("starting the chunker thread", e))?;
            let res = self.save_chunks(rx.iter(), whole, progress);
            // a consumer that stopped early closes the channel: the
            // chunker ends at its next chunk
            drop(rx);
            if let Ok(buf) = cutter.join() {
                self.chunk_buf = buf;
            }
            res
        })
    }

    fn save_chunks(
        &mut self,
        chunks: impl Iterator<Item = std::io::Result<Vec<u8>>>,
        mut whole: Option<&mut blake3::Hasher>,
        progress: &dyn Progress,
    ) -> Result<std::result::Result<(Vec<BlobId>, u64), std::io::Error>> {
        let mut ids = Vec::new();
        let mut total = 0u64;
        for chunk in chunks {
            if progress.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            if let Some(h) = whole.as_deref_mut() {
                h.update(&chunk);
            }
            let id = self.repo.blob_id(&chunk);
            total += chunk.len() as u64;
            progress.advance(0, chunk.len() as u64);
            if self.is_new(&id) {
                self.queue(id, chunk.into())?;
            }
            ids.push(id);
            self.check()?;
            self.maybe_flush()?;
        }
        if progress.is_cancelled() {
            return Err(Error::Cancelled);
        }
        Ok(Ok((ids, total)))
    }

    /// Stores a tree blob (if new) and returns its id.
    pub(crate) fn save_tree(&mut self, tree: &Tree) -> Result<BlobId> {
        let bytes = tree.encode();
        let id = self.repo.blob_id(&bytes);
        if self.is_new(&id) {
            let sealed = self.repo.seal_blob(BlobType::Tree, &id, &bytes);
            let c = &self.counters;
            c.tree_blobs.fetch_add(1, Ordering::Relaxed);
            c.bytes_added
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            c.bytes_added_stored
                .fetch_add(sealed.len() as u64, Ordering::Relaxed);
            if let Some(p) = &self.packer {
                let raw = u32::try_from(bytes.len())
                    .map_err(|_| Error::InvalidInput("directory listing above 4 GiB".into()))?;
                p.add(BlobType::Tree, id, &sealed, raw)?;
            }
        }
        self.maybe_flush()?;
        Ok(id)
    }

    /// Writes an index file for uploaded packs when enough have gathered
    /// or the interval has passed.
    pub(crate) fn maybe_flush(&mut self) -> Result<()> {
        let Some(p) = &self.packer else {
            return Ok(());
        };
        self.pending.extend(p.drain_uploaded());
        let due = self.pending.len() >= FLUSH_PACKS
            || (!self.pending.is_empty() && self.last_flush.elapsed() >= self.flush_interval);
        if due {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let mut file = IndexFile::new();
            file.packs = std::mem::take(&mut self.pending);
            self.repo.save_index(&file)?;
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    fn stop_workers(&mut self) {
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }

    /// Waits for the workers, uploads the partial packs and writes the last
    /// index file. Also used after a cancel or an error, so that what was
    /// uploaded is indexed for the next run.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.stop_workers();
        let worker_err = take_error(&self.error);
        let mut upload_err = None;
        if let Some(p) = self.packer.take() {
            let packer = Arc::try_unwrap(p)
                .map_err(|_| Error::InvalidInput("packer still shared".into()))?;
            match packer.finish() {
                Ok(rest) => self.pending.extend(rest),
                Err(e) => upload_err = Some(e),
            }
            self.flush()?;
        }
        match worker_err.or(upload_err) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(b: &Budget) -> usize {
        *b.queued.lock().unwrap()
    }

    #[test]
    fn budget_bounds_queued_bytes() {
        let b = Arc::new(Budget::default());
        // an empty queue takes a chunk larger than the budget
        b.take(QUEUE_BYTES * 2, || false);
        assert_eq!(queued(&b), QUEUE_BYTES * 2);
        // over budget with no worker left: the walker does not wait forever
        b.take(1, || true);
        assert_eq!(queued(&b), QUEUE_BYTES * 2 + 1);
        b.give(QUEUE_BYTES * 2 + 1);
        assert_eq!(queued(&b), 0);
        // a full queue: the next chunk goes in once a worker takes one out
        b.take(QUEUE_BYTES, || false);
        let waiter = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.take(10, || false))
        };
        b.give(QUEUE_BYTES);
        waiter.join().unwrap();
        assert_eq!(queued(&b), 10);
    }
}
