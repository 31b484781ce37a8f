//! The master index at scale: memory per blob and lookup time with a
//! synthetic index (10 million blobs under `cargo bench`, 100 thousand
//! under `cargo test`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rdr_benches::full_run;
use rdr_core::format::BlobType;
use rdr_core::format::index::{IndexBlob, IndexPack};
use rdr_core::repo::{BlobIdSet, MasterIndex};
use rdr_core::{BlobId, Id, PackId};

const PER_PACK: u64 = 16;

fn synthetic(n: u64) -> Vec<IndexPack> {
    (0..n / PER_PACK)
        .map(|p| IndexPack {
            id: PackId(Id::hash_of(&(u64::MAX - p).to_le_bytes())),
            blobs: (0..PER_PACK)
                .map(|j| IndexBlob {
                    blob_type: BlobType::Data,
                    id: BlobId(Id::hash_of(&(p * PER_PACK + j).to_le_bytes())),
                    offset: (j as u32) << 20,
                    length: 1 << 20,
                    raw_length: 1 << 20,
                })
                .collect(),
        })
        .collect()
}

fn index(c: &mut Criterion) {
    let n: u64 = if full_run() { 10_000_000 } else { 100_000 };
    let packs = synthetic(n);
    let idx = MasterIndex::from_packs(&packs);
    let ids = BlobIdSet::from_ids(packs.iter().flat_map(|p| p.blobs.iter().map(|b| &b.id)));
    eprintln!(
        "master index: {} blobs, {} packs: {:.2} bytes/blob (full entry, incl. pack table); id set: {:.2} bytes/blob",
        idx.len(),
        idx.packs().len(),
        idx.memory_bytes() as f64 / idx.len() as f64,
        ids.memory_bytes() as f64 / ids.len() as f64
    );
    let probe: Vec<BlobId> = (0..1000u64)
        .map(|i| BlobId(Id::hash_of(&(i * 7919 % n).to_le_bytes())))
        .collect();
    let miss: Vec<BlobId> = (0..1000u64)
        .map(|i| BlobId(Id::hash_of(&(n + i).to_le_bytes())))
        .collect();
    let mut g = c.benchmark_group(format!("index {n} blobs"));
    g.bench_function("lookup hit x1000", |b| {
        b.iter(|| {
            probe
                .iter()
                .filter(|id| idx.lookup(black_box(id)).is_some())
                .count()
        })
    });
    g.bench_function("contains miss x1000", |b| {
        b.iter(|| miss.iter().filter(|id| idx.contains(black_box(id))).count())
    });
    g.bench_function("id set contains x1000", |b| {
        b.iter(|| {
            probe
                .iter()
                .filter(|id| ids.contains(black_box(id)))
                .count()
        })
    });
    g.sample_size(10);
    let small = synthetic(n.min(1_000_000));
    g.bench_function(
        format!("build from {} entries", small.len() as u64 * PER_PACK),
        |b| b.iter(|| MasterIndex::from_packs(black_box(&small)).len()),
    );
    g.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
