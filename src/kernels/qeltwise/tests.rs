//! Every ISA variant against the scalar definition, over all quantization flavours and
//! lengths around the vector width; the definition itself against a hand-computed case.

use super::*;
use proptest::prelude::*;

#[test]
fn definition_matches_a_hand_computed_add() {
    // dq(130; 0.5, 128) = 1.0, dq(-3; 0.25, 1) = -1.0 → 0.0 → q = zero point 7.
    let q = |scale, zero_point, signed| Quant { scale, zero_point, signed };
    let op = QBinary {
        kind: BinaryKind::Add,
        a: q(0.5, 128, false),
        b: q(0.25, 1, true),
        y: q(0.1, 7, false),
        lo: 0,
        hi: 255,
    };
    assert_eq!(op.one(130, (-3i8) as u8), 7);
    // dq(133) = 2.5, dq(5) = (5 - 1) · 0.25 = 1.0 → 3.5 / 0.1 = 35 → 35 + 7 = 42.
    assert_eq!(op.one(133, 5), 42);
    // dq(2) = 0.25 → 2.75 / 0.1f32 rounds to exactly 27.5 in f32 → half to even: 28 → 35.
    assert_eq!(op.one(133, 2), 35);
    // Saturation at the rail.
    assert_eq!(op.one(255, 127), 255);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_isa_matches_the_definition(n in 0usize..70, seed in any::<u64>(), kind in 0u8..3, sa in any::<bool>(), sb in any::<bool>(), sy in any::<bool>()) {
        let mut s = seed | 1;
        let mut r = move || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 33) as u32 };
        let mut quant = |signed: bool| Quant { scale: (r() % 1000 + 1) as f32 * 1e-3, zero_point: if signed { (r() % 256) as i32 - 128 } else { (r() % 256) as i32 }, signed };
        let kind = [BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul][kind as usize];
        let (qa, qb, qy) = (quant(sa), quant(sb), quant(sy));
        let (lo, hi) = if sy { (-128, 127) } else { (0, 255) };
        let op = QBinary { kind, a: qa, b: qb, y: qy, lo, hi };
        let a: Vec<u8> = (0..n).map(|_| r() as u8).collect();
        let b: Vec<u8> = (0..n).map(|_| r() as u8).collect();
        let want: Vec<u8> = a.iter().zip(&b).map(|(&p, &q)| op.one(p, q)).collect();
        for isa in Isa::available() {
            let mut y = vec![0u8; n];
            op.run(isa, &a, &b, &mut y);
            prop_assert_eq!(&y, &want, "{:?}", isa);
        }
    }
}

#[test]
fn quantize_follows_onnx_on_ties_rails_and_non_finite_values() {
    let q = Quant { scale: 0.5, zero_point: -3, signed: true };
    // 1.25 / 0.5 = 2.5 → 2 (half to even) → -1; 1.75 / 0.5 = 3.5 → 4 → 1.
    assert_eq!(quantize(1.25, q, -128, 127) as i8, -1);
    assert_eq!(quantize(1.75, q, -128, 127) as i8, 1);
    assert_eq!(quantize(f32::INFINITY, q, -128, 127) as i8, 127);
    assert_eq!(quantize(f32::NEG_INFINITY, q, -128, 127) as i8, -128);
    assert_eq!(quantize(f32::NAN, q, -128, 127) as i8, -3);
    // NaN is the zero point clamped to a narrower output range.
    assert_eq!(quantize(f32::NAN, q, 0, 127) as i8, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn quantize_and_dequantize_slices_match_the_definition_on_every_isa(n in 0usize..70, seed in any::<u64>(), signed in any::<bool>()) {
        let mut s = seed | 1;
        let mut r = move || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 33) as u32 };
        let q = Quant { scale: (r() % 1000 + 1) as f32 * 1e-3, zero_point: if signed { (r() % 256) as i32 - 128 } else { (r() % 256) as i32 }, signed };
        let (lo, hi) = if signed { (-128, 127) } else { (0, 255) };
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.5 * q.scale, -1.5 * q.scale, 1e30];
        let x: Vec<f32> = (0..n).map(|i| if r() % 8 == 0 { specials[i % specials.len()] } else { (r() as f32 / u32::MAX as f32 - 0.5) * 600.0 * q.scale }).collect();
        let codes: Vec<u8> = (0..n).map(|_| r() as u8).collect();
        let want_q: Vec<u8> = x.iter().map(|&v| quantize(v, q, lo, hi)).collect();
        let want_dq: Vec<u32> = codes.iter().map(|&c| dequantize(c, q).to_bits()).collect();
        for isa in Isa::available() {
            let mut y = vec![0u8; n];
            quantize_slice(isa, &x, q, lo, hi, &mut y);
            prop_assert_eq!(&y, &want_q, "{:?}", isa);
            let mut f = vec![0f32; n];
            dequantize_slice(isa, &codes, q, &mut f);
            prop_assert_eq!(f.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want_dq.clone(), "{:?}", isa);
        }
    }
}
