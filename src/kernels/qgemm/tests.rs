//! Every ISA variant of the int8 GEMM against a naive i64 reference: random shapes, zero
//! points, signedness, outputs at both rails, float outputs.

use super::*;
use crate::kernels::requant::Output;
use proptest::prelude::*;

fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s >> 33
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_isa_matches_the_reference(m in 1usize..40, k in 1usize..70, n in 1usize..15, seed in any::<u64>(),
                                       signed_out in any::<bool>(), float_out in any::<bool>(), narrow in any::<bool>(), raw in any::<bool>()) {
        let mut r = lcg(seed);
        let x: Vec<i16> = (0..n * k).map(|_| (r() % 511) as i16 - 255).collect();
        let w: Vec<i32> = (0..m * k).map(|_| (r() % 511) as i32 - 255).collect();
        let bias: Vec<i32> = (0..m).map(|_| (r() % 20001) as i32 - 10000).collect();
        let mult: Vec<f32> = (0..m).map(|_| (r() % 1000 + 1) as f32 * 1e-6).collect();
        let offset: Vec<f32> = (0..m).map(|_| (r() % 200) as f32 * 0.37 - 37.0).collect();
        let out = if raw {
            Output::I32
        } else if float_out {
            Output::F32 { lo: if narrow { 0.0 } else { f32::NEG_INFINITY }, hi: if narrow { 6.0 } else { f32::INFINITY } }
        } else if signed_out {
            Output::Int8 { zero_point: (r() % 50) as i32 - 25, lo: if narrow { -100 } else { -128 }, hi: 127, signed: true }
        } else {
            Output::Int8 { zero_point: (r() % 256) as i32, lo: 0, hi: if narrow { 200 } else { 255 }, signed: false }
        };
        let requant = Requant::new(bias.clone(), mult.clone(), offset.clone(), out);
        let size = out.size();
        let ldo = m + 3;
        // Naive reference.
        let mut want = vec![0u8; n * ldo * size];
        for j in 0..n {
            let accs: Vec<i32> = (0..m).map(|c| (0..k).map(|kk| x[j * k + kk] as i64 * w[c * k + kk] as i64).sum::<i64>() as i32).collect();
            requant.store(0, &accs, &mut want[j * ldo * size..(j * ldo + m) * size]);
        }
        for isa in Isa::available() {
            let mut g = QGemm::new(&w, m, k, requant.clone(), isa);
            let mut got = vec![0u8; n * ldo * size];
            g.run(n, |j, dst| dst.copy_from_slice(&x[j * k..(j + 1) * k]), &mut got, ldo);
            prop_assert_eq!(&got, &want, "{:?}", g.isa());
        }
    }
}
