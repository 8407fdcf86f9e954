//! f32 kernels by layer shape, on the depthwise and pointwise layers of MobileNetV2 0.75x at
//! 192x192 (`qpose inspect --layers models/zoo/mbv2_0.75x_simcc_192x192_fp32.onnx`), each
//! distinct shape once. Throughput is reported in MACs ("elements" in criterion's output).
//!
//! * `depthwise/nhwc_<isa>`: qpose's `DepthwiseF32` (NHWC, channels vectorised, FMA, ReLU6
//!   fused) on every ISA this CPU has.
//! * `depthwise/nchw_<routine>`: the same convolution in NCHW, one output row at a time along
//!   W, the way tract does it: the interior of each row through tract-linalg's
//!   `depthwise_w_f32` routine (when this CPU has one), the padded border columns scalar, then
//!   the ReLU6 clamp over the row while it is in L1. `nchw_scalar` is the same walk with a
//!   plain loop for the interior.
//! * `pointwise/{nhwc,nchw}`: a 1x1 convolution as `GemmF32` (`C[cout, hw] = W · X + bias`,
//!   ReLU6), reading NHWC activations (B k-contiguous, `C^T` stored channels-last) or NCHW
//!   activations (B n-contiguous, `C` stored planar). Same kernel, same packed weights; only
//!   the strides differ.
//! * `pointwise/nhwc_own_<isa>`: qpose's `PointwiseF32` (what a float 1x1 convolution runs
//!   where the ISA has it), NHWC in and out, the same weights, checked against `nhwc`.
//!
//! Before any timing, every layout variant is checked against the NHWC result.
//!
//! `cargo bench --bench kernels [-- FILTER]`, pinned: `taskset -c 1 cargo bench ...`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qpose::exec::{AlignedBuf, Memory, Region, Slot};
use qpose::kernels::depthwise_f32::{DepthwiseF32, Geometry};
use qpose::kernels::gemm_f32::GemmF32;
use qpose::kernels::isa::Isa;
#[cfg(target_arch = "x86_64")]
use qpose::kernels::pointwise_f32::PointwiseF32;
use qpose::ops::Clamp;
use std::hint::black_box;
use std::time::Duration;

const RELU6: Clamp = Clamp { min: 0.0, max: 6.0 };

/// Depthwise 3x3, pad 1 layers of mbv2 0.75x 192x192: (channels, input H = W, stride).
const DEPTHWISE: &[(usize, usize, usize)] = &[
    (24, 96, 1),
    (96, 96, 2),
    (144, 48, 1),
    (144, 48, 2),
    (144, 24, 1),
    (144, 24, 2),
    (288, 12, 1),
    (432, 12, 1),
    (432, 12, 2),
    (720, 6, 1),
];

/// Pointwise layers of mbv2 0.75x 192x192 (and the SimCC head's 1x1 conv):
/// (C_out = m, C_in = k, H*W = n).
const POINTWISE: &[(usize, usize, usize)] = &[
    (16, 24, 9216),
    (96, 16, 9216),
    (24, 96, 2304),
    (144, 24, 2304),
    (24, 144, 2304),
    (24, 144, 576),
    (144, 24, 576),
    (48, 144, 144),
    (288, 48, 144),
    (48, 288, 144),
    (72, 288, 144),
    (432, 72, 144),
    (72, 432, 144),
    (120, 432, 36),
    (720, 120, 36),
    (120, 720, 36),
    (240, 720, 36),
    (1280, 240, 36),
    (17, 1280, 36),
];

/// Deterministic values in [lo, hi).
fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (s >> 40) as f32 / (1u64 << 24) as f32 * (hi - lo)
        })
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{what}: element {i} is {g}, expected {w}");
    }
}

/// `depthwise_w_f32`'s contract: `output[i] = bias + sum_t taps[t] * input[offsets[t] + i *
/// in_stride]` for `i < len`.
type RowFn = unsafe fn(*const f32, *mut f32, &[f32], &[isize], f32, usize, isize);

/// The plain-loop row kernel, for machines without a tract routine and as a scalar baseline.
unsafe fn row_scalar(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
    in_stride: isize,
) {
    for i in 0..len {
        let mut sum = bias;
        for (t, o) in taps.iter().zip(offsets) {
            // SAFETY: the caller keeps every read inside the input plane.
            sum += t * unsafe { *input.offset(o + i as isize * in_stride) };
        }
        // SAFETY: the caller provides `len` writable outputs.
        unsafe { *output.add(i) = sum };
    }
}

/// A pointwise layout: (name, B, b_k_stride, b_n_stride, c_m_stride, c_n_stride).
type Layout<'a> = (&'static str, &'a [f32], usize, usize, usize, usize);

/// A 3x3, pad 1 depthwise convolution on one NCHW image, row by row along W.
struct NchwDepthwise {
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    s: usize,
    /// `[C, 3, 3]`, ONNX order.
    weights: Vec<f32>,
    bias: Vec<f32>,
    clamp: Clamp,
    row: RowFn,
}

impl NchwDepthwise {
    fn run(&self, x: &[f32], y: &mut [f32]) {
        let (h, w, oh, ow, s) = (self.h, self.w, self.oh, self.ow, self.s);
        assert!(x.len() >= self.c * h * w && y.len() >= self.c * oh * ow);
        // Output columns whose three taps are all inside the row: ox*s - 1 >= 0 and
        // ox*s + 1 <= w - 1.
        let ox_lo = 1usize.div_ceil(s);
        let ox_hi = ((w - 2) / s + 1).min(ow);
        for ch in 0..self.c {
            let xp = &x[ch * h * w..(ch + 1) * h * w];
            let yp = &mut y[ch * oh * ow..(ch + 1) * oh * ow];
            let k = &self.weights[ch * 9..ch * 9 + 9];
            let b = self.bias[ch];
            for oy in 0..oh {
                let iy0 = (oy * s) as isize - 1;
                let mut taps = [0f32; 9];
                let mut offsets = [0isize; 9];
                let mut n = 0;
                for ky in 0..3 {
                    let iy = iy0 + ky as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..3 {
                        taps[n] = k[ky * 3 + kx];
                        offsets[n] = iy * w as isize + kx as isize;
                        n += 1;
                    }
                }
                let out = &mut yp[oy * ow..(oy + 1) * ow];
                if ox_hi > ox_lo {
                    let start = (ox_lo * s - 1) as isize;
                    // SAFETY: interior columns read inside the plane (rows checked above,
                    // columns by ox_lo..ox_hi); `out` has ow >= ox_hi elements.
                    unsafe {
                        (self.row)(
                            xp.as_ptr().offset(start),
                            out.as_mut_ptr().add(ox_lo),
                            &taps[..n],
                            &offsets[..n],
                            b,
                            ox_hi - ox_lo,
                            s as isize,
                        )
                    };
                }
                for ox in (0..ox_lo).chain(ox_hi..ow) {
                    let mut sum = b;
                    for ky in 0..3 {
                        let iy = iy0 + ky as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for kx in 0..3 {
                            let ix = (ox * s + kx) as isize - 1;
                            if ix >= 0 && ix < w as isize {
                                sum += k[ky * 3 + kx] * xp[iy as usize * w + ix as usize];
                            }
                        }
                    }
                    out[ox] = sum;
                }
                for v in out.iter_mut() {
                    *v = v.max(self.clamp.min).min(self.clamp.max);
                }
            }
        }
    }
}

fn depthwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("depthwise");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let mut nchw_rows: Vec<(&str, RowFn)> = vec![("nchw_scalar", row_scalar as RowFn)];
    match tract_linalg::routines::depthwise_w_f32() {
        Some(f) => nchw_rows.push(("nchw_tract", f)),
        None => eprintln!("depthwise: tract-linalg has no depthwise_w_f32 routine for this CPU"),
    }
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
        let weights = values(ch * 9, 1, -0.5, 0.5);
        let bias = values(ch, 2, -0.5, 0.5);
        // Post-ReLU6-like activations: non-negative, some clipped to zero.
        let x_nhwc: Vec<f32> = values(hw * hw * ch, 3, -1.0, 4.0).into_iter().map(|v| v.max(0.0)).collect();
        let mut x_nchw = vec![0f32; x_nhwc.len()];
        for p in 0..hw * hw {
            for k in 0..ch {
                x_nchw[k * hw * hw + p] = x_nhwc[p * ch + k];
            }
        }
        let macs = (out * out * ch * 9) as u64;
        let id = format!("c{ch}_{hw}x{hw}_s{s}");
        group.throughput(Throughput::Elements(macs));

        let mut reference = None;
        for isa in Isa::available() {
            let mut dw = DepthwiseF32::new(g, &weights, Some(&bias), RELU6, isa);
            let mut y = vec![0f32; out * out * ch];
            dw.run(&x_nhwc, &mut y);
            match &reference {
                None => reference = Some(y.clone()),
                Some(r) => assert_close(&format!("nhwc_{} {id}", isa.name()), &y, r),
            }
            group.bench_function(BenchmarkId::new(format!("nhwc_{}", isa.name()), &id), |b| {
                b.iter(|| dw.run(black_box(&x_nhwc), black_box(&mut y)))
            });
        }
        let reference = reference.expect("scalar is always available");
        for &(name, row) in &nchw_rows {
            let conv = NchwDepthwise {
                c: ch,
                h: hw,
                w: hw,
                oh: out,
                ow: out,
                s,
                weights: weights.clone(),
                bias: bias.clone(),
                clamp: RELU6,
                row,
            };
            let mut y = vec![0f32; out * out * ch];
            conv.run(&x_nchw, &mut y);
            let mut y_nhwc = vec![0f32; y.len()];
            for p in 0..out * out {
                for k in 0..ch {
                    y_nhwc[p * ch + k] = y[k * out * out + p];
                }
            }
            assert_close(&format!("{name} {id}"), &y_nhwc, &reference);
            group.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| conv.run(black_box(&x_nchw), black_box(&mut y)))
            });
        }
    }
    group.finish();
}

fn pointwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("pointwise");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for &(m, k, n) in POINTWISE {
        let a = values(m * k, 4, -0.2, 0.2);
        let bias = values(m, 5, -0.5, 0.5);
        let mut gemm = GemmF32::new(&a, m, k, n, Some(&bias), RELU6).expect("GEMM plans");
        // The same activations in both layouts: NHWC [n, k] and NCHW [k, n].
        let x_nhwc: Vec<f32> = values(n * k, 6, -1.0, 4.0).into_iter().map(|v| v.max(0.0)).collect();
        let mut x_nchw = vec![0f32; x_nhwc.len()];
        for p in 0..n {
            for kk in 0..k {
                x_nchw[kk * n + p] = x_nhwc[p * k + kk];
            }
        }
        let id = format!("m{m}_k{k}_n{n}");
        group.throughput(Throughput::Elements((m * k * n) as u64));
        eprintln!("pointwise/{id}: kernel {}", gemm.kernel_name());

        let mut arena = AlignedBuf::zeroed(m * n * 4);
        let consts = AlignedBuf::zeroed(0);
        let slot = Slot { region: Region::Arena, offset: 0, bytes: m * n * 4 };
        let layouts: [Layout; 2] = [("nhwc", &x_nhwc, 1, k, 1, m), ("nchw", &x_nchw, n, 1, n, 1)];
        // Check: both layouts give the same matrix.
        let mut results = Vec::new();
        for &(_, b, bks, bns, cms, cns) in &layouts {
            let mem = Memory::new(&mut arena, &consts);
            gemm.run(n, b, bks, bns, &mem, slot, 0, cms, cns);
            let c: &[f32] = mem.read(slot);
            // As [m][n].
            results.push((0..m * n).map(|e| c[(e / n) * cms + (e % n) * cns]).collect::<Vec<f32>>());
        }
        assert_close(&format!("pointwise nchw {id}"), &results[1], &results[0]);

        let mem = Memory::new(&mut arena, &consts);
        for &(name, b, bks, bns, cms, cns) in &layouts {
            group.bench_function(BenchmarkId::new(name, &id), |bench| {
                bench.iter(|| gemm.run(n, black_box(b), bks, bns, &mem, slot, 0, cms, cns))
            });
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(own) = PointwiseF32::new(&a, m, k, Some(&bias), RELU6, Isa::best()) {
            // C^T, [n][m], as the NHWC GEMM stores it.
            let mut y = vec![0f32; n * m];
            own.run(&x_nhwc, n, &mut y);
            let want: Vec<f32> = (0..m * n).map(|e| results[0][(e % m) * n + e / m]).collect();
            assert_close(&format!("pointwise own {id}"), &y, &want);
            group.bench_function(BenchmarkId::new(format!("nhwc_own_{}", own.isa().name()), &id), |bench| {
                bench.iter(|| own.run(black_box(&x_nhwc), n, black_box(&mut y)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, depthwise, pointwise);
criterion_main!(benches);
