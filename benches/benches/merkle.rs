//! Merkle core benchmarks: tree building against `rs_merkle` on the same
//! leaves and the same hash functions, batched against one-at-a-time BLAKE3
//! node hashing, proof generation, single / bulk / multi-proof verification.
//!
//! `cargo bench -p proofmark-benches --bench merkle`; set
//! `PROOFMARK_BENCH_BIG=1` to add the 2^24-leaf builds (several minutes,
//! about 4 GB of memory for rs_merkle).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::marker::PhantomData;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use proofmark_merkle::{
    Blake3, Hash, InclusionCheck, MerkleTree, MerkleTreeBuilder, Parallelism, Proof, ProofEnvelope,
    Sha256Rfc6962, Suite, SuiteId, root_from_leaf_hashes, verify_inclusion, verify_inclusion_bulk,
    verify_multi,
};

/// Our suites as `rs_merkle` hashers: an odd node is carried up, as rs_merkle does.
struct Rs<S>(PhantomData<S>);

impl<S> Clone for Rs<S> {
    fn clone(&self) -> Self {
        Rs(PhantomData)
    }
}

impl<S: Suite> rs_merkle::Hasher for Rs<S> {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        S::hash_leaf(data)
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => S::hash_node(left, right),
            None => *left,
        }
    }
}

/// splitmix64 for deterministic indices.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn leaves<S: Suite>(n: u64) -> Vec<Hash> {
    (0..n).map(|i| S::hash_leaf(&i.to_le_bytes())).collect()
}

/// `count` distinct sorted random indices below `n`.
fn random_indices(n: u64, count: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    let mut v: Vec<u64> = Vec::with_capacity(count);
    while v.len() < count {
        v.push(rng.next_u64() % n);
        if v.len() == count {
            v.sort_unstable();
            v.dedup();
        }
    }
    v
}

fn build_group<S: Suite>(c: &mut Criterion, log2: u32) {
    let n = 1u64 << log2;
    let data = leaves::<S>(n);
    let mut g = c.benchmark_group(format!("build/{}/2^{log2}", S::NAME));
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if log2 >= 24 { 60 } else { 10 }));
    g.bench_function("proofmark tree", |b| {
        b.iter_batched(
            || data.clone(),
            |l| MerkleTree::<S>::from_leaf_hashes(l).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("proofmark root only", |b| {
        b.iter(|| root_from_leaf_hashes::<S>(black_box(&data)).unwrap())
    });
    g.bench_function("proofmark tree, 1 thread", |b| {
        let builder = MerkleTreeBuilder::new().with_parallelism(Parallelism::Sequential);
        b.iter_batched(
            || data.clone(),
            |l| builder.build::<S>(l).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rs_merkle from_leaves", |b| {
        b.iter(|| rs_merkle::MerkleTree::<Rs<S>>::from_leaves(black_box(&data)))
    });
    g.finish();
}

/// Sequential against parallel building around `PARALLEL_MIN_LEAVES`.
fn threshold(c: &mut Criterion) {
    let mut g = c.benchmark_group("threshold/blake3");
    for log2 in [11u32, 12, 13, 14, 15, 16] {
        let n = 1u64 << log2;
        let data = leaves::<Blake3>(n);
        g.throughput(Throughput::Elements(n));
        for (name, p) in [
            ("sequential", Parallelism::Sequential),
            ("parallel", Parallelism::Parallel),
        ] {
            let builder = MerkleTreeBuilder::new().with_parallelism(p);
            g.bench_with_input(
                BenchmarkId::new(name, format!("2^{log2}")),
                &data,
                |b, d| b.iter(|| builder.root::<Blake3>(black_box(d)).unwrap()),
            );
        }
    }
    g.finish();
}

fn build(c: &mut Criterion) {
    build_group::<Blake3>(c, 20);
    build_group::<Sha256Rfc6962>(c, 20);
    if std::env::var_os("PROOFMARK_BENCH_BIG").is_some() {
        build_group::<Blake3>(c, 24);
        build_group::<Sha256Rfc6962>(c, 24);
    }
}

fn node_hashing(c: &mut Criterion) {
    const NODES: usize = 4096;
    let children = leaves::<Blake3>(2 * NODES as u64);
    let mut out = vec![[0u8; 32]; NODES];
    let mut g = c.benchmark_group("node-hash");
    g.throughput(Throughput::Elements(NODES as u64));
    g.bench_function("blake3 batched (hash_nodes)", |b| {
        b.iter(|| Blake3::hash_nodes(black_box(&children), &mut out))
    });
    g.bench_function("blake3 one at a time (hash_node)", |b| {
        b.iter(|| {
            for (pair, slot) in black_box(&children).chunks_exact(2).zip(out.iter_mut()) {
                *slot = Blake3::hash_node(&pair[0], &pair[1]);
            }
        })
    });
    g.bench_function("blake3 one at a time (blake3::keyed_hash)", |b| {
        let key = proofmark_merkle::NODE_KEY;
        b.iter(|| {
            let mut block = [0u8; 64];
            for (pair, slot) in black_box(&children).chunks_exact(2).zip(out.iter_mut()) {
                block[..32].copy_from_slice(&pair[0]);
                block[32..].copy_from_slice(&pair[1]);
                *slot = *blake3::keyed_hash(&key, &block).as_bytes();
            }
        })
    });
    g.bench_function("sha256-rfc6962 (hash_nodes)", |b| {
        b.iter(|| Sha256Rfc6962::hash_nodes(black_box(&children), &mut out))
    });
    g.finish();

    let mut g = c.benchmark_group("leaf-hash");
    for len in [64usize, 256, 1024] {
        let data: Vec<u8> = (0..len * NODES).map(|i| i as u8).collect();
        g.throughput(Throughput::Elements(NODES as u64));
        g.bench_with_input(BenchmarkId::new("blake3 batched", len), &data, |b, d| {
            b.iter(|| Blake3::hash_leaves_same_len(black_box(d), len, &mut out))
        });
        g.bench_with_input(
            BenchmarkId::new("blake3 one at a time", len),
            &data,
            |b, d| {
                b.iter(|| {
                    for (record, slot) in black_box(d).chunks_exact(len).zip(out.iter_mut()) {
                        *slot = Blake3::hash_leaf(record);
                    }
                })
            },
        );
    }
    g.finish();
}

fn proofs<S: Suite>(c: &mut Criterion) {
    let n = 1u64 << 20;
    let data = leaves::<S>(n);
    let tree = MerkleTree::<S>::from_leaf_hashes(data.clone()).unwrap();
    let sparse = MerkleTreeBuilder::new()
        .with_stored_min_height(4)
        .build::<S>(data.clone())
        .unwrap();
    let root = tree.root();
    let mut rng = SplitMix64(1);
    let mut g = c.benchmark_group(format!("proofs/{}/2^20", S::NAME));

    g.bench_function("inclusion proof", |b| {
        b.iter(|| tree.inclusion_proof(rng.next_u64() % n).unwrap())
    });
    g.bench_function("inclusion proof, levels >= 4 stored", |b| {
        b.iter(|| sparse.inclusion_proof(rng.next_u64() % n).unwrap())
    });
    let proof = tree.inclusion_proof(123_457).unwrap();
    let leaf = data[123_457];
    g.bench_function("verify inclusion", |b| {
        b.iter(|| {
            verify_inclusion::<S>(black_box(&leaf), 123_457, n, &proof.hashes, &root).unwrap()
        })
    });
    g.bench_function("consistency proof", |b| {
        b.iter(|| tree.consistency_proof(1 + rng.next_u64() % n).unwrap())
    });

    let indices = random_indices(n, 10_000, 7);
    let bulk = tree.inclusion_proofs(&indices).unwrap();
    let checks: Vec<InclusionCheck<'_>> = bulk
        .iter()
        .map(|p| InclusionCheck::new(&data[p.index as usize], p, &root))
        .collect();
    g.throughput(Throughput::Elements(checks.len() as u64));
    g.bench_function("verify 10000 inclusion proofs, bulk (rayon)", |b| {
        b.iter(|| verify_inclusion_bulk::<S>(black_box(&checks)))
    });
    g.bench_function("verify 10000 inclusion proofs, one by one", |b| {
        b.iter(|| {
            for c in black_box(&checks) {
                verify_inclusion::<S>(c.leaf_hash, c.index, c.size, c.proof, c.root).unwrap();
            }
        })
    });
    for count in [100usize, 10_000] {
        let idx = random_indices(n, count, 11);
        let picked: Vec<Hash> = idx.iter().map(|&i| data[i as usize]).collect();
        let multi = tree.multi_proof(&idx).unwrap();
        g.throughput(Throughput::Elements(count as u64));
        g.bench_function(format!("multi proof, {count} leaves"), |b| {
            b.iter(|| tree.multi_proof(black_box(&idx)).unwrap())
        });
        g.bench_function(format!("verify multi proof, {count} leaves"), |b| {
            b.iter(|| verify_multi::<S>(&idx, &picked, n, &multi.hashes, &root).unwrap())
        });
    }
    g.finish();
}

/// Prints how much smaller multi-proofs are than the single proofs they replace.
fn proof_sizes(_: &mut Criterion) {
    let n = 1u64 << 20;
    let tree = MerkleTree::<Blake3>::from_leaf_hashes(leaves::<Blake3>(n)).unwrap();
    for count in [100usize, 10_000] {
        let idx = random_indices(n, count, 11);
        let multi = tree.multi_proof(&idx).unwrap();
        let singles = tree.inclusion_proofs(&idx).unwrap();
        let single_hashes: usize = singles.iter().map(|p| p.hashes.len()).sum();
        let single_bytes: usize = singles
            .iter()
            .map(|p| {
                ProofEnvelope::new(SuiteId::Blake3, Proof::Inclusion(p.clone()))
                    .to_bytes()
                    .len()
            })
            .sum();
        let multi_bytes = ProofEnvelope::new(SuiteId::Blake3, Proof::Multi(multi.clone()))
            .to_bytes()
            .len();
        println!(
            "proof size, {count} random leaves of 2^20: multi-proof {} hashes / {} bytes, \
             single proofs {} hashes / {} bytes: {:.1}% of the hashes, {:.1}% of the bytes",
            multi.hashes.len(),
            multi_bytes,
            single_hashes,
            single_bytes,
            100.0 * multi.hashes.len() as f64 / single_hashes as f64,
            100.0 * multi_bytes as f64 / single_bytes as f64,
        );
    }
    println!(
        "blake3 backend: {}, rayon threads: {}",
        proofmark_merkle::blake3_backend(),
        rayon::current_num_threads()
    );
}

fn all_proofs(c: &mut Criterion) {
    proofs::<Blake3>(c);
    proofs::<Sha256Rfc6962>(c);
}

criterion_group!(
    benches,
    proof_sizes,
    node_hashing,
    build,
    threshold,
    all_proofs
);
criterion_main!(benches);
