//! int8 kernels by layer shape, on the depthwise and pointwise layers of MobileNetV2 0.5x at
//! 192x192 (`qpose inspect --layers models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx`), each
//! distinct shape once. Throughput is reported in MACs ("elements" in criterion's output).
//!
//! * `depthwise_i8/<isa>`: `DepthwiseI8`, 3x3 pad 1, NHWC, u8 activations (zero point 3),
//!   s8 weights, u8 outputs clamped like a fused ReLU6.
//! * `pointwise_i8/<isa>`: `QGemm` as a 1x1 convolution over NHWC activations: column `j` is
//!   pixel `j`'s `k` channels widened to i16 minus the zero point (what `QConv` feeds it),
//!   outputs channel-contiguous.
//!
//! Every ISA this CPU has is timed; before any timing, each one's output is checked to be
//! bit-identical to the scalar kernel's.
//!
//! `cargo bench --bench kernels_i8 [-- FILTER]`, pinned: `taskset -c 1 cargo bench ...`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qpose::kernels::depthwise_f32::Geometry;
use qpose::kernels::depthwise_i8::DepthwiseI8;
use qpose::kernels::isa::Isa;
use qpose::kernels::qgemm::QGemm;
use qpose::kernels::requant::{Output, Requant};
use std::hint::black_box;
use std::time::Duration;

/// Depthwise 3x3, pad 1 layers of mbv2 0.5x 192x192: (channels, input H = W, stride).
const DEPTHWISE: &[(usize, usize, usize)] =
    &[(16, 96, 1), (48, 96, 2), (96, 48, 1), (96, 48, 2), (96, 24, 1), (192, 12, 1), (288, 12, 1), (480, 6, 1)];

/// Pointwise layers of mbv2 0.5x 192x192 with at least 16 output channels:
/// (C_out = m, C_in = k, H*W = n).
const POINTWISE: &[(usize, usize, usize)] = &[
    (48, 8, 9216),
    (16, 48, 2304),
    (96, 16, 2304),
    (16, 96, 2304),
    (96, 16, 576),
    (32, 96, 144),
    (192, 32, 144),
    (32, 192, 144),
    (288, 48, 144),
    (48, 288, 144),
    (480, 80, 36),
    (80, 480, 36),
    (160, 480, 36),
    (1280, 160, 36),
];

/// Input zero point of the u8 activations.
const ZX: i32 = 3;

/// Deterministic bytes, then mapped into `range`.
fn values(n: usize, seed: u64, range: std::ops::RangeInclusive<i32>) -> Vec<i32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let span = (range.end() - range.start() + 1) as u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            range.start() + ((s >> 32) % span) as i32
        })
        .collect()
}

/// Per-channel requantization to u8 (zero point 0, clamped to [0, 200] like a fused ReLU6)
/// with int32 biases, scales around 1 / (8 · k).
fn requant(m: usize, k: usize) -> Requant {
    let bias = values(m, 11, -2000..=2000);
    let mult = values(m, 12, 50..=150).iter().map(|&v| v as f32 / (800.0 * k as f32)).collect();
    Requant::new(bias, mult, vec![0.0; m], Output::Int8 { zero_point: 0, lo: 0, hi: 200, signed: false })
}

fn depthwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("depthwise_i8");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for &(ch, hw, s) in DEPTHWISE {
        let out = (hw - 1) / s + 1;
        let g = Geometry {
            h: hw,
            w: hw,
            c: ch,
            oh: out,
            ow: out,
            kh: 3,
            kw: 3,
            stride: [s, s],
            dilation: [1, 1],
            pad_tl: [1, 1],
        };
        let weights = values(ch * 9, 1, -127..=127);
        let x: Vec<u8> = values(hw * hw * ch, 3, 0..=255).iter().map(|&v| v as u8).collect();
        let id = format!("c{ch}_{hw}x{hw}_s{s}");
        group.throughput(Throughput::Elements((out * out * ch * 9) as u64));
        let mut reference = None;
        for isa in Isa::available() {
            let mut dw = DepthwiseI8::new(g, &weights, requant(ch, 9), ZX, false, isa);
            let mut y = vec![0u8; out * out * ch];
            let mut scratch = vec![0u8; DepthwiseI8::scratch_bytes(&g)];
            dw.run(&x, &mut y, &mut scratch);
            match &reference {
                None => reference = Some(y.clone()),
                Some(r) => assert!(&y == r, "depthwise_i8 {id}: {} differs from scalar", dw.isa().name()),
            }
            group.bench_function(BenchmarkId::new(dw.isa().name(), &id), |b| {
                b.iter(|| dw.run(black_box(&x), black_box(&mut y), &mut scratch))
            });
        }
    }
    group.finish();
}

fn pointwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("pointwise_i8");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for &(m, k, n) in POINTWISE {
        let w = values(m * k, 4, -127..=127);
        let x: Vec<u8> = values(n * k, 6, 0..=255).iter().map(|&v| v as u8).collect();
        let id = format!("m{m}_k{k}_n{n}");
        group.throughput(Throughput::Elements((m * k * n) as u64));
        let mut reference = None;
        for isa in Isa::available() {
            let mut gemm = QGemm::new(&w, m, k, -ZX..=255 - ZX, requant(m, k), isa);
            let name = gemm.isa().name();
            let mut y = vec![0u8; n * m];
            let mut run = |y: &mut [u8]| {
                let fill = |j: usize, d: &mut [i16]| {
                    d.iter_mut().zip(&x[j * k..][..k]).for_each(|(d, &b)| *d = b as i16 - ZX as i16)
                };
                gemm.run(n, fill, y, m)
            };
            run(&mut y);
            match &reference {
                None => reference = Some(y.clone()),
                Some(r) => assert!(&y == r, "pointwise_i8 {id}: {} differs from scalar", isa.name()),
            }
            group.bench_function(BenchmarkId::new(name, &id), |b| b.iter(|| run(black_box(&mut y))));
        }
    }
    group.finish();
}

criterion_group!(benches, depthwise, pointwise);
criterion_main!(benches);
