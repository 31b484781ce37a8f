//! Throughput of the backup hot path: chunking, keyed hashing,
//! compress + seal, and pack assembly + upload to memory.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rdr_benches::{full_run, random_bytes, text_bytes};
use rdr_core::chunk::{Chunker, ChunkerConfig, ChunkerParams};
use rdr_core::codec;
use rdr_core::crypto::hash::blob_id;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::repo::PackerOptions;
use rdr_core::{BlobType, InitOptions, LockHolder, NewKey, Repository, Storage};

fn size() -> usize {
    if full_run() { 64 << 20 } else { 1 << 20 }
}

fn chunking(c: &mut Criterion) {
    let key = MasterKey::from_secret([1; 32]);
    let cfg = ChunkerConfig::new(ChunkerParams::default(), &key.chunker).unwrap();
    let data = random_bytes(size(), 1);
    let mut g = c.benchmark_group("chunking");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("split_slice 1MiB avg", |b| {
        b.iter(|| black_box(cfg.split_slice(black_box(&data)).len()))
    });
    g.bench_function("stream 1MiB avg", |b| {
        b.iter(|| Chunker::new(&cfg, black_box(&data[..])).count())
    });
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let key = MasterKey::from_secret([1; 32]);
    let chunk = random_bytes(1 << 20, 2);
    let mut g = c.benchmark_group("keyed_hash");
    g.throughput(Throughput::Bytes(chunk.len() as u64));
    g.bench_function("blake3 keyed 1MiB", |b| {
        b.iter(|| blob_id(&key.id, black_box(&chunk)))
    });
    g.finish();
}

fn sealing(c: &mut Criterion) {
    let key = MasterKey::from_secret([1; 32]);
    let random = random_bytes(1 << 20, 3);
    let text = text_bytes(1 << 20);
    let mut g = c.benchmark_group("compress_seal");
    g.throughput(Throughput::Bytes(1 << 20));
    for (name, data) in [("random 1MiB", &random), ("text 1MiB", &text)] {
        let id = blob_id(&key.id, data);
        g.bench_function(format!("seal {name} zstd3"), |b| {
            b.iter(|| codec::seal_blob(&key, BlobType::Data, &id, black_box(data), 3))
        });
        let sealed = codec::seal_blob(&key, BlobType::Data, &id, data, 3);
        g.bench_function(format!("open {name} zstd3"), |b| {
            b.iter(|| {
                codec::open_blob(
                    &key,
                    BlobType::Data,
                    &id,
                    black_box(&sealed),
                    data.len() as u32,
                )
                .unwrap()
            })
        });
    }
    g.bench_function("seal random 1MiB no compression", |b| {
        let id = blob_id(&key.id, &random);
        b.iter(|| codec::seal_blob(&key, BlobType::Data, &id, black_box(&random), 0))
    });
    g.finish();
}

fn pack_writing(c: &mut Criterion) {
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let repo = Repository::init(
        &Storage::memory().unwrap(),
        &InitOptions::default(),
        &key,
        &LockHolder::current(),
    )
    .unwrap();
    let total = size();
    let chunks: Vec<(rdr_core::BlobId, Vec<u8>)> = (0..total / (1 << 20))
        .map(|i| {
            let d = random_bytes(1 << 20, 10 + i as u8);
            let id = repo.blob_id(&d);
            (id, repo.seal_blob(BlobType::Data, &id, &d))
        })
        .collect();
    let mut g = c.benchmark_group("pack_writing");
    g.throughput(Throughput::Bytes(total as u64));
    g.sample_size(10);
    g.bench_function("packer add+upload (memory backend, 16 MiB packs)", |b| {
        b.iter(|| {
            let p = repo.packer(PackerOptions::default());
            for (id, s) in &chunks {
                p.add(BlobType::Data, *id, s, 1 << 20).unwrap();
            }
            p.finish().unwrap().len()
        })
    });
    g.finish();
}

criterion_group!(benches, chunking, hashing, sealing, pack_writing);
criterion_main!(benches);
