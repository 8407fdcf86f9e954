//! A small horizontal bar chart rendered to an image (per-layer SQNR and the like): one row per
//! bar with its label on the left and its value on the right, in the built-in bitmap font.

use image::{Rgb, RgbImage};

use super::font::{draw_text, line_height, text_width};

const SCALE: u32 = 2;
const ROW: u32 = 16;
const BAR_AREA: u32 = 480;
const MARGIN: u32 = 8;
/// Labels longer than this are cut (the full names belong in the accompanying report).
const MAX_LABEL_CHARS: usize = 32;
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [20, 20, 20];
const BAR: [u8; 3] = [70, 120, 200];
const NEGATIVE_BAR: [u8; 3] = [210, 80, 60];

/// Renders `bars` (label, value) under `title`. Bars start at 0 and extend right for positive
/// values, left (in another colour) for negative ones; non-finite values get no bar.
pub fn render_bar_chart(title: &str, bars: &[(&str, f64)]) -> RgbImage {
    let labels: Vec<String> = bars.iter().map(|(l, _)| l.chars().take(MAX_LABEL_CHARS).collect()).collect();
    let values: Vec<String> = bars.iter().map(|(_, v)| format!("{v:.1}")).collect();
    let label_w = labels.iter().map(|l| text_width(l, SCALE)).max().unwrap_or(0) + MARGIN;
    let value_w = values.iter().map(|v| text_width(v, SCALE)).max().unwrap_or(0) + MARGIN;
    let width = (MARGIN + label_w + BAR_AREA + MARGIN + value_w).max(MARGIN * 2 + text_width(title, SCALE));
    let top = MARGIN + line_height(SCALE) + MARGIN;
    let height = top + ROW * bars.len() as u32 + MARGIN;
    let mut img = RgbImage::from_pixel(width, height, Rgb(BACKGROUND));
    draw_text(&mut img, i64::from(MARGIN), i64::from(MARGIN), title, SCALE, INK);

    let finite = bars.iter().map(|b| b.1).filter(|v| v.is_finite());
    let lo = finite.clone().fold(0.0f64, f64::min);
    let hi = finite.fold(0.0f64, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x_bars = MARGIN + label_w;
    let to_x = |v: f64| f64::from(x_bars) + (v - lo) / span * f64::from(BAR_AREA);
    let zero = to_x(0.0);
    for (i, ((_, v), (label, text))) in bars.iter().zip(labels.iter().zip(&values)).enumerate() {
        let y = top + ROW * i as u32;
        let text_y = i64::from(y + (ROW - line_height(SCALE)) / 2);
        draw_text(&mut img, i64::from(MARGIN), text_y, label, SCALE, INK);
        if v.is_finite() {
            let (a, b) = if *v >= 0.0 { (zero, to_x(*v)) } else { (to_x(*v), zero) };
            let color = if *v >= 0.0 { BAR } else { NEGATIVE_BAR };
            fill_rect(
                &mut img,
                a.round() as u32,
                y + 2,
                (b.round() as u32).max(a.round() as u32 + 1),
                y + ROW - 2,
                color,
            );
        }
        let x_value = x_bars + BAR_AREA + MARGIN;
        draw_text(&mut img, i64::from(x_value), text_y, text, SCALE, INK);
    }
    // The zero axis.
    fill_rect(&mut img, zero.round() as u32, top, zero.round() as u32 + 1, height - MARGIN, INK);
    img
}

/// Fills `[x0, x1) × [y0, y1)`, clipped to the image.
fn fill_rect(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, color: [u8; 3]) {
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            img.put_pixel(x, y, Rgb(color));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_negative_bars_go_left() {
        let img = render_bar_chart("SQNR DB", &[("conv1", 40.0), ("conv2", 20.0), ("fc", -10.0), ("bad", f64::NAN)]);
        // Range [-10, 40] over 480 px: zero at 96 px right of the bar origin.
        let label_w = text_width("conv1", SCALE) + MARGIN;
        let x0 = MARGIN + label_w;
        let top = MARGIN + line_height(SCALE) + MARGIN;
        let mid = |row: u32| top + ROW * row + ROW / 2;
        // conv1 reaches the far end, conv2 stops half-way between zero and the end.
        assert_eq!(img.get_pixel(x0 + 479, mid(0)).0, BAR);
        assert_eq!(img.get_pixel(x0 + 96 + 191, mid(1)).0, BAR);
        assert_eq!(img.get_pixel(x0 + 96 + 194, mid(1)).0, BACKGROUND);
        // fc extends left of zero, to the bar origin.
        assert_eq!(img.get_pixel(x0 + 1, mid(2)).0, NEGATIVE_BAR);
        // NaN: no bar right of the zero axis.
        assert_eq!(img.get_pixel(x0 + 100, mid(3)).0, BACKGROUND);
        assert!(img.width() > x0 + BAR_AREA);
    }

    #[test]
    fn empty_chart_is_just_the_title() {
        let img = render_bar_chart("", &[]);
        assert!(img.width() > 0 && img.height() > 0);
    }
}
