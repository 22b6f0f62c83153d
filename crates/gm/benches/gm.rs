//! Criterion benchmarks of the operations `sscard bench gm` compares with
//! OpenSSL: SM3, SM4-CTR, SM4-GCM over 8 KiB, SM2 sign and verify.

// A failed check here is a test failure: panicking is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sscard_gm::sm2::{self, Sm2PrivateKey, DEFAULT_USER_ID};
use sscard_gm::sm4::{self, Sm4Key};

const LEN: usize = 8192;

fn symmetric(c: &mut Criterion) {
    let data = vec![0x5a; LEN];
    let key = Sm4Key::from_slice(&[0x11; 16]).unwrap();
    let mut group = c.benchmark_group("8KiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.bench_function("sm3", |b| b.iter(|| sscard_gm::sm3::digest(&data)));
    group.bench_function("sm4-ctr", |b| {
        b.iter(|| sm4::ctr_apply(&key, &[0; 16], &data).unwrap())
    });
    group.bench_function("sm4-gcm", |b| {
        b.iter(|| sm4::gcm_encrypt(&key, &[0; 12], &[], &data).unwrap())
    });
    group.finish();
}

fn sm2_ops(c: &mut Criterion) {
    let key = Sm2PrivateKey::generate().unwrap();
    let public = key.public_key();
    let message = [0x42u8; 32];
    let sig = sm2::sign(&key, DEFAULT_USER_ID, &message).unwrap();
    c.bench_function("sm2-sign", |b| {
        b.iter(|| sm2::sign(&key, DEFAULT_USER_ID, &message).unwrap())
    });
    c.bench_function("sm2-verify", |b| {
        b.iter(|| sm2::verify(&public, DEFAULT_USER_ID, &message, &sig).unwrap())
    });
}

criterion_group!(benches, symmetric, sm2_ops);
criterion_main!(benches);
