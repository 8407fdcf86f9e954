//! Sub-pixel refinement of a heatmap maximum, in heatmap pixels: mmpose's `refine_keypoints`
//! (quarter offset), `refine_keypoints_dark` (DARK) and `refine_keypoints_dark_udp` (UDP).
//! Each works on one `h × w` map (row-major) whose maximum is at integer `(x, y)`.

use super::blur::GaussianKernel;

/// One heatmap, `h` rows of `w` values.
#[derive(Clone, Copy)]
pub struct Map<'a> {
    pub data: &'a [f32],
    pub h: usize,
    pub w: usize,
}

impl Map<'_> {
    fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.w + x]
    }
}

/// mmpose `refine_keypoints`: moves a quarter pixel towards the higher neighbour on each axis.
/// x moves only when `1 < x < w − 1` and `0 < y < h`; y only when `1 < y < h − 1` and
/// `0 < x < w` (so x = 1 or y = 1 never move: mmpose's strict bounds). No move on equality.
pub fn refine_quarter(map: Map<'_>, x: usize, y: usize) -> (f32, f32) {
    let (w, h) = (map.w, map.h);
    let dx = if 1 < x && x < w - 1 && 0 < y && y < h { map.at(x + 1, y) - map.at(x - 1, y) } else { 0.0 };
    let dy = if 1 < y && y < h - 1 && 0 < x && x < w { map.at(x, y + 1) - map.at(x, y - 1) } else { 0.0 };
    (x as f32 + 0.25 * sign(dx), y as f32 + 0.25 * sign(dy))
}

/// `np.sign`: −1, 0 or 1 (0 for NaN is fine here: NaN never moves a keypoint).
fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Blurs `map` into `modulated` (zero border, rescaled to the original max) and applies
/// `f` (log after clamping) to every value.
fn modulate(
    map: Map<'_>,
    kernel: &GaussianKernel,
    modulated: &mut Vec<f32>,
    tmp: &mut Vec<f32>,
    f: impl Fn(f32) -> f32,
) {
    modulated.clear();
    modulated.extend_from_slice(map.data);
    kernel.blur_2d(modulated, map.h, map.w, tmp);
    modulated.iter_mut().for_each(|v| *v = f(*v));
}

/// mmpose `refine_keypoints_dark`: on the blurred map, `log(max(h, 1e−10))`; when
/// `1 < x < w − 2` and `1 < y < h − 2`, one Newton step with central differences at
/// spacing 2 for the second derivatives (`dxx = ¼(l[x+2] − 2l[x] + l[x−2])`), skipped when the
/// Hessian is singular.
pub fn refine_dark(
    map: Map<'_>,
    x: usize,
    y: usize,
    kernel: &GaussianKernel,
    modulated: &mut Vec<f32>,
    tmp: &mut Vec<f32>,
) -> (f32, f32) {
    let (w, h) = (map.w, map.h);
    if !(1 < x && x + 2 < w && 1 < y && y + 2 < h) {
        return (x as f32, y as f32);
    }
    modulate(map, kernel, modulated, tmp, |v| v.max(1e-10).ln());
    let l = |dx: isize, dy: isize| -> f64 {
        let (xx, yy) = ((x as isize + dx) as usize, (y as isize + dy) as usize);
        f64::from(modulated[yy * w + xx])
    };
    let gx = 0.5 * (l(1, 0) - l(-1, 0));
    let gy = 0.5 * (l(0, 1) - l(0, -1));
    let dxx = 0.25 * (l(2, 0) - 2.0 * l(0, 0) + l(-2, 0));
    let dxy = 0.25 * (l(1, 1) - l(1, -1) - l(-1, 1) + l(-1, -1));
    let dyy = 0.25 * (l(0, 2) - 2.0 * l(0, 0) + l(0, -2));
    let det = dxx * dyy - dxy * dxy;
    if det == 0.0 {
        return (x as f32, y as f32);
    }
    // offset = −H⁻¹·g with H⁻¹ = [[dyy, −dxy], [−dxy, dxx]] / det.
    let ox = -(dyy * gx - dxy * gy) / det;
    let oy = -(-dxy * gx + dxx * gy) / det;
    ((x as f64 + ox) as f32, (y as f64 + oy) as f32)
}

/// mmpose `refine_keypoints_dark_udp`: on the blurred map, `log(clip(h, 1e−3, 50))`, edges
/// extended by one pixel; first derivatives by central differences, `dxx = l[x+1] − 2l[x] +
/// l[x−1]`, the cross term from the four half-neighbourhood differences, then
/// `(x, y) −= (H + ε·I)⁻¹·g` with ε the f32 machine epsilon.
pub fn refine_dark_udp(
    map: Map<'_>,
    x: usize,
    y: usize,
    kernel: &GaussianKernel,
    modulated: &mut Vec<f32>,
    tmp: &mut Vec<f32>,
) -> (f32, f32) {
    let (w, h) = (map.w, map.h);
    modulate(map, kernel, modulated, tmp, |v| v.clamp(1e-3, 50.0).ln());
    let l = |dx: isize, dy: isize| -> f64 {
        let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
        let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
        f64::from(modulated[yy * w + xx])
    };
    let i = l(0, 0);
    let (ix1, ix1_) = (l(1, 0), l(-1, 0));
    let (iy1, iy1_) = (l(0, 1), l(0, -1));
    let (ix1y1, ix1_y1_) = (l(1, 1), l(-1, -1));
    let gx = 0.5 * (ix1 - ix1_);
    let gy = 0.5 * (iy1 - iy1_);
    let dxx = ix1 - 2.0 * i + ix1_;
    let dyy = iy1 - 2.0 * i + iy1_;
    let dxy = 0.5 * (ix1y1 - ix1 - iy1 + 2.0 * i - ix1_ - iy1_ + ix1_y1_);
    let eps = f64::from(f32::EPSILON);
    let (a, b, d) = (dxx + eps, dxy, dyy + eps);
    let det = a * d - b * b;
    // A singular (H + εI) makes numpy raise; keep the integer maximum instead.
    if det == 0.0 || !det.is_finite() {
        return (x as f32, y as f32);
    }
    let ox = (d * gx - b * gy) / det;
    let oy = (-b * gx + a * gy) / det;
    ((x as f64 - ox) as f32, (y as f64 - oy) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect()
    }

    #[test]
    fn quarter_offset_moves_towards_the_higher_neighbour() {
        let d = map_with(5, 5, |x, y| match (x, y) {
            (2, 2) => 1.0,
            (3, 2) => 0.5,
            (2, 1) => 0.4,
            _ => 0.0,
        });
        let m = Map { data: &d, h: 5, w: 5 };
        assert_eq!(refine_quarter(m, 2, 2), (2.25, 1.75));
    }

    #[test]
    fn quarter_offset_border_rules() {
        // x = 1 never moves even with a strong right neighbour; y = 0 blocks the x move.
        let d = map_with(5, 5, |x, _| x as f32);
        let m = Map { data: &d, h: 5, w: 5 };
        assert_eq!(refine_quarter(m, 1, 2), (1.0, 2.0));
        assert_eq!(refine_quarter(m, 2, 0), (2.0, 0.0));
        assert_eq!(refine_quarter(m, 2, 1), (2.25, 1.0));
        assert_eq!(refine_quarter(m, 4, 2), (4.0, 2.0));
    }

    #[test]
    fn dark_recovers_a_gaussian_peak_without_blur() {
        // An exact Gaussian (σ = 2) at (5.3, 4.6): its log is a parabola, so a Newton step from
        // the nearest pixel lands on the centre. A 1-tap kernel leaves the map unblurred.
        let (cx, cy) = (5.3f64, 4.6f64);
        let d = map_with(11, 10, |x, y| (-((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)) / 8.0).exp() as f32);
        let k = GaussianKernel::new(1).unwrap();
        let (x, y) = refine_dark(Map { data: &d, h: 10, w: 11 }, 5, 5, &k, &mut Vec::new(), &mut Vec::new());
        assert!((x - 5.3).abs() < 1e-4 && (y - 4.6).abs() < 1e-4, "{x} {y}");
    }

    #[test]
    fn dark_skips_near_the_border() {
        let d = vec![1.0f32; 25];
        let k = GaussianKernel::new(3).unwrap();
        let m = Map { data: &d, h: 5, w: 5 };
        assert_eq!(refine_dark(m, 2, 2, &k, &mut Vec::new(), &mut Vec::new()), (2.0, 2.0));
    }

    #[test]
    fn udp_recovers_a_gaussian_peak_without_blur() {
        // With spacing-1 differences the step is exact for a parabola too (up to ε).
        let (cx, cy) = (3.8f64, 6.25f64);
        let d = map_with(9, 12, |x, y| (-((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)) / 8.0).exp() as f32);
        let k = GaussianKernel::new(1).unwrap();
        let m = Map { data: &d, h: 12, w: 9 };
        let (x, y) = refine_dark_udp(m, 4, 6, &k, &mut Vec::new(), &mut Vec::new());
        assert!((x - 3.8).abs() < 1e-4 && (y - 6.25).abs() < 1e-4, "{x} {y}");
    }
}
