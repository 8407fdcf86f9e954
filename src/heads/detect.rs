//! Recognises the seed heads (mmpose-style RLE, SimCC and heatmap exports) from the model's
//! output names and shapes, so such models need no config file.

use super::{Activation, HeadConfig, HeatmapDecode};
use crate::{Error, Result};

/// Name and shape of one graph tensor as the model declares it (batch dimension resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, shape: &[usize]) -> TensorSpec {
        TensorSpec { name: name.into(), shape: shape.to_vec() }
    }

    /// The shape without a leading batch dimension of 1.
    fn dims(&self) -> &[usize] {
        match self.shape.as_slice() {
            [1, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        }
    }
}

/// Detects the head from all of the model's outputs; `input` is the network input
/// (width, height) in pixels. Recognised, and only when these are **all** the outputs:
///
/// - RLE: one `[1, K, 4]`, or two `[1, K, 2]` of which exactly one has "sigma" in its name
///   (σ taken as raw logits, as mmpose's `forward()` exports it);
/// - SimCC: two `[1, K, 2·W_in]` and `[1, K, 2·H_in]` (split ratio 2); with a square input the
///   names must tell x from y (containing "x" / "y" after the last `_`, e.g. `simcc_x`);
/// - heatmap: one `[1, K, H_in/4, W_in/4]` (plain MSRA decoding).
///
/// Anything else is an error naming every output and its shape and asking for a config file.
pub fn detect_head(outputs: &[TensorSpec], input: [usize; 2]) -> Result<HeadConfig> {
    detect(outputs, input).ok_or_else(|| {
        let list: Vec<String> = outputs.iter().map(|o| format!("'{}' {:?}", o.name, o.shape)).collect();
        Error::Config(format!(
            "cannot tell the head kind from the outputs {} (input {}×{}); \
             write a model config (`<model>.toml` beside the model) with a [head] table \
             naming the outputs, e.g. kind = \"simcc\", x = \"...\", y = \"...\"",
            list.join(", "),
            input[0],
            input[1]
        ))
    })
}

fn detect(outputs: &[TensorSpec], [w, h]: [usize; 2]) -> Option<HeadConfig> {
    match outputs {
        [o] => match *o.dims() {
            [_, 4] => {
                Some(HeadConfig::Rle { coords: o.name.clone(), sigma: None, sigma_activation: Activation::Sigmoid })
            }
            [_, hh, ww] if hh * 4 == h && ww * 4 == w => Some(HeadConfig::Heatmap {
                output: o.name.clone(),
                decode: HeatmapDecode::Plain,
                blur_kernel: 11,
                flip_shift: None,
            }),
            _ => None,
        },
        [a, b] => {
            let (da, db) = (a.dims(), b.dims());
            let (&[ka, na], &[kb, nb]) = (da, db) else {
                return None;
            };
            if ka != kb {
                return None;
            }
            if (na, nb) == (2, 2) {
                let (sa, sb) = (has_word(&a.name, "sigma"), has_word(&b.name, "sigma"));
                let (coords, sigma) = match (sa, sb) {
                    (false, true) => (a, b),
                    (true, false) => (b, a),
                    _ => return None,
                };
                return Some(HeadConfig::Rle {
                    coords: coords.name.clone(),
                    sigma: Some(sigma.name.clone()),
                    sigma_activation: Activation::Sigmoid,
                });
            }
            let (x, y) = simcc_axes(a, na, b, nb, w, h)?;
            Some(HeadConfig::Simcc { x: x.name.clone(), y: y.name.clone(), split_ratio: 2.0, dark_sigma: None })
        }
        _ => None,
    }
}

/// Which of two `[K, N]` outputs is SimCC x (`N = 2·w`) and which is y (`N = 2·h`).
fn simcc_axes<'a>(
    a: &'a TensorSpec,
    na: usize,
    b: &'a TensorSpec,
    nb: usize,
    w: usize,
    h: usize,
) -> Option<(&'a TensorSpec, &'a TensorSpec)> {
    let fits = |x: usize, y: usize| x == 2 * w && y == 2 * h;
    match (fits(na, nb), fits(nb, na)) {
        (true, false) => Some((a, b)),
        (false, true) => Some((b, a)),
        (true, true) => match (axis_suffix(&a.name), axis_suffix(&b.name)) {
            (Some('x'), Some('y')) => Some((a, b)),
            (Some('y'), Some('x')) => Some((b, a)),
            _ => None,
        },
        (false, false) => None,
    }
}

/// `x` or `y` when the name ends in `x`/`y` after a separator (`simcc_x`, `pred.y`).
fn axis_suffix(name: &str) -> Option<char> {
    let last = name.rsplit(['_', '.', '/', ':', '-']).next()?.to_ascii_lowercase();
    match last.as_str() {
        "x" => Some('x'),
        "y" => Some('y'),
        _ => None,
    }
}

fn has_word(name: &str, word: &str) -> bool {
    name.to_ascii_lowercase().contains(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[usize]) -> TensorSpec {
        TensorSpec::new(name, shape)
    }

    #[test]
    fn rle_separate_and_combined() {
        let h = detect_head(&[spec("sigma", &[1, 17, 2]), spec("coords", &[1, 17, 2])], [192, 256]).unwrap();
        assert_eq!(
            h,
            HeadConfig::Rle {
                coords: "coords".into(),
                sigma: Some("sigma".into()),
                sigma_activation: Activation::Sigmoid
            }
        );
        let h = detect_head(&[spec("out", &[1, 17, 4])], [192, 256]).unwrap();
        assert_eq!(h.kind(), "rle");
        assert!(detect_head(&[spec("a", &[1, 17, 2]), spec("b", &[1, 17, 2])], [192, 256]).is_err());
    }

    #[test]
    fn simcc_by_lengths_then_by_names() {
        let h = detect_head(&[spec("b", &[1, 17, 512]), spec("a", &[1, 17, 384])], [192, 256]).unwrap();
        assert_eq!(h, HeadConfig::Simcc { x: "a".into(), y: "b".into(), split_ratio: 2.0, dark_sigma: None });
        let sq = [spec("simcc_y", &[1, 17, 384]), spec("simcc_x", &[1, 17, 384])];
        let h = detect_head(&sq, [192, 192]).unwrap();
        assert_eq!(h.output_names(), vec!["simcc_x", "simcc_y"]);
        let anon = [spec("o1", &[1, 17, 384]), spec("o2", &[1, 17, 384])];
        assert!(detect_head(&anon, [192, 192]).is_err());
        // Lengths that are not 2× the input are not SimCC.
        assert!(detect_head(&[spec("x", &[1, 17, 192]), spec("y", &[1, 17, 256])], [192, 256]).is_err());
    }

    #[test]
    fn heatmap_at_stride_four() {
        let h = detect_head(&[spec("heatmaps", &[1, 17, 64, 48])], [192, 256]).unwrap();
        assert_eq!(h.kind(), "heatmap");
        assert!(detect_head(&[spec("heatmaps", &[1, 17, 32, 24])], [192, 256]).is_err());
    }

    #[test]
    fn blazepose_outputs_ask_for_a_config() {
        let outs = [
            spec("Identity", &[1, 195]),
            spec("Identity_1", &[1, 1]),
            spec("Identity_2", &[1, 256, 256, 1]),
            spec("Identity_3", &[1, 64, 64, 39]),
            spec("Identity_4", &[1, 117]),
        ];
        let msg = detect_head(&outs, [256, 256]).unwrap_err().to_string();
        assert!(msg.contains("'Identity_3' [1, 64, 64, 39]") && msg.contains("[head]"), "{msg}");
    }
}
