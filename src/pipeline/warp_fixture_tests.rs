//! Box → crop → affine → warp on committed COCO image regions (`crop_<case>.png`) against
//! `tests/data/eval/make_warp_fixture.py`: mmpose's centre/scale and warp matrix, a numpy float
//! bilinear resampler, and `cv2.warpAffine(INTER_LINEAR)`.
//!
//! Tolerances: centre/scale within 1e−4 px; matrix within 1e−4 (mmpose builds it from float32
//! points); warped pixels within 0.01 grey levels of the numpy resampler (the matrix rounding
//! moves samples by ~1e−4 px; measured ≤ 0.003) and within 1 grey level of OpenCV (which
//! rounds sample positions to 1/32 px, weights to fixed point and the result to uint8;
//! measured ≤ 0.5).

use std::path::PathBuf;

use serde::Deserialize;

use super::config::{ChannelOrder, InputConfig, Layout};
use super::{load_rgb, warp_into, Affine2x3, BBox, CropBox, CropProtocol};

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    image: String,
    region_in_image: [u32; 4],
    bbox: [f32; 4],
    protocol: CropProtocol,
    input: [usize; 2],
    udp: bool,
    center: [f64; 2],
    scale: [f64; 2],
    matrix: [[f64; 3]; 2],
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval")
}

#[test]
fn crops_match_mmpose_numpy_and_opencv() {
    let text = std::fs::read_to_string(dir().join("warp_cases.json")).unwrap();
    let cases: Cases = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.cases.len(), 3);
    let mut zero_border_pixels = 0;
    for c in &cases.cases {
        let image = load_rgb(&dir().join(format!("crop_{}.png", c.name))).unwrap();
        let [x, y, w, h] = c.bbox;
        let crop = CropBox::from_bbox(&BBox::new(x, y, w, h, 1.0), c.protocol, 1.25, c.input);
        for i in 0..2 {
            assert!((f64::from(crop.center[i]) - c.center[i]).abs() < 1e-4, "{} centre", c.name);
            assert!((f64::from(crop.scale[i]) - c.scale[i]).abs() < 1e-4, "{} scale", c.name);
        }
        let m = if c.udp {
            Affine2x3::image_to_input_udp(&crop, c.input)
        } else {
            Affine2x3::image_to_input(&crop, c.input)
        };
        for (r, er) in m.m.iter().zip(&c.matrix) {
            for (v, e) in r.iter().zip(er) {
                assert!((v - e).abs() < 1e-4, "{} matrix {:?} vs {:?}", c.name, m.m, c.matrix);
            }
        }
        let input = InputConfig {
            name: "input".into(),
            width: c.input[0],
            height: c.input[1],
            layout: Layout::Nhwc,
            channels: ChannelOrder::Rgb,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let mut out = vec![0.0f32; input.len()];
        warp_into(&image, &m, &input, &mut out).unwrap();

        let bytes = std::fs::read(dir().join(format!("warp_{}.ref.f32", c.name))).unwrap();
        let reference: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let opencv = std::fs::read(dir().join(format!("warp_{}.cv2.u8", c.name))).unwrap();
        assert_eq!((reference.len(), opencv.len()), (out.len(), out.len()));
        let max_ref = out.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        let max_cv = out.iter().zip(&opencv).map(|(a, &b)| (a - f32::from(b)).abs()).fold(0.0, f32::max);
        eprintln!("{}: max |qpose − numpy| {max_ref}, max |qpose − cv2| {max_cv}", c.name);
        assert!(max_ref <= 0.01, "{}: {max_ref}", c.name);
        assert!(max_cv <= 1.0, "{}: {max_cv}", c.name);
        // Samples entirely outside the image are exactly 0 in both.
        for (a, b) in out.iter().zip(&reference) {
            assert_eq!(*a == 0.0, *b == 0.0, "{}: zero border", c.name);
        }
        zero_border_pixels += reference.iter().filter(|&&v| v == 0.0).count();
    }
    // Two of the boxes reach past the image edge.
    assert!(zero_border_pixels > 100, "{zero_border_pixels}");
}

/// The committed JPEG decodes (with the `image` crate) to within 2 grey levels of the
/// libjpeg-turbo pixels in the PNG region cut from it.
#[test]
fn jpeg_decoding_is_close_to_libjpeg() {
    let text = std::fs::read_to_string(dir().join("warp_cases.json")).unwrap();
    let cases: Cases = serde_json::from_str(&text).unwrap();
    let c = cases.cases.iter().find(|c| c.image == "000000113488.jpg").unwrap();
    let jpeg = load_rgb(&dir().join(&c.image)).unwrap();
    let png = load_rgb(&dir().join(format!("crop_{}.png", c.name))).unwrap();
    let [x0, y0, x1, y1] = c.region_in_image;
    assert_eq!((png.width(), png.height()), (x1 - x0, y1 - y0));
    let mut worst = 0;
    for (x, y, p) in png.enumerate_pixels() {
        let q = jpeg.get_pixel(x + x0, y + y0);
        for ch in 0..3 {
            worst = worst.max(p.0[ch].abs_diff(q.0[ch]));
        }
    }
    assert!(worst <= 2, "{worst}");
}
