//! A tiny built-in 3×5 bitmap font for chart labels: digits, capital letters (lowercase is
//! drawn as capitals) and `. - _ / : % ( ) + = ?`; anything else is drawn as `?`.

use image::{Rgb, RgbImage};

/// Glyph rows top to bottom, 3 columns each, `#` = ink.
const GLYPHS: [(char, [&str; 5]); 48] = [
    ('0', ["###", "#.#", "#.#", "#.#", "###"]),
    ('1', [".#.", "##.", ".#.", ".#.", "###"]),
    ('2', ["###", "..#", "###", "#..", "###"]),
    ('3', ["###", "..#", "###", "..#", "###"]),
    ('4', ["#.#", "#.#", "###", "..#", "..#"]),
    ('5', ["###", "#..", "###", "..#", "###"]),
    ('6', ["###", "#..", "###", "#.#", "###"]),
    ('7', ["###", "..#", "..#", "..#", "..#"]),
    ('8', ["###", "#.#", "###", "#.#", "###"]),
    ('9', ["###", "#.#", "###", "..#", "###"]),
    ('A', [".#.", "#.#", "###", "#.#", "#.#"]),
    ('B', ["##.", "#.#", "##.", "#.#", "##."]),
    ('C', [".##", "#..", "#..", "#..", ".##"]),
    ('D', ["##.", "#.#", "#.#", "#.#", "##."]),
    ('E', ["###", "#..", "##.", "#..", "###"]),
    ('F', ["###", "#..", "##.", "#..", "#.."]),
    ('G', [".##", "#..", "#.#", "#.#", ".##"]),
    ('H', ["#.#", "#.#", "###", "#.#", "#.#"]),
    ('I', ["###", ".#.", ".#.", ".#.", "###"]),
    ('J', ["..#", "..#", "..#", "#.#", ".#."]),
    ('K', ["#.#", "#.#", "##.", "#.#", "#.#"]),
    ('L', ["#..", "#..", "#..", "#..", "###"]),
    ('M', ["#.#", "###", "###", "#.#", "#.#"]),
    ('N', ["##.", "#.#", "#.#", "#.#", "#.#"]),
    ('O', [".#.", "#.#", "#.#", "#.#", ".#."]),
    ('P', ["##.", "#.#", "##.", "#..", "#.."]),
    ('Q', [".#.", "#.#", "#.#", "##.", ".##"]),
    ('R', ["##.", "#.#", "##.", "#.#", "#.#"]),
    ('S', [".##", "#..", ".#.", "..#", "##."]),
    ('T', ["###", ".#.", ".#.", ".#.", ".#."]),
    ('U', ["#.#", "#.#", "#.#", "#.#", "###"]),
    ('V', ["#.#", "#.#", "#.#", "#.#", ".#."]),
    ('W', ["#.#", "#.#", "###", "###", "#.#"]),
    ('X', ["#.#", "#.#", ".#.", "#.#", "#.#"]),
    ('Y', ["#.#", "#.#", ".#.", ".#.", ".#."]),
    ('Z', ["###", "..#", ".#.", "#..", "###"]),
    ('.', ["...", "...", "...", "...", ".#."]),
    ('-', ["...", "...", "###", "...", "..."]),
    ('_', ["...", "...", "...", "...", "###"]),
    ('/', ["..#", "..#", ".#.", "#..", "#.."]),
    (':', ["...", ".#.", "...", ".#.", "..."]),
    ('%', ["#.#", "..#", ".#.", "#..", "#.#"]),
    ('(', [".#.", "#..", "#..", "#..", ".#."]),
    (')', [".#.", "..#", "..#", "..#", ".#."]),
    ('+', ["...", ".#.", "###", ".#.", "..."]),
    ('=', ["...", "###", "...", "###", "..."]),
    (' ', ["...", "...", "...", "...", "..."]),
    ('?', ["###", "..#", ".#.", "...", ".#."]),
];

/// Horizontal advance of one character at `scale` (3 columns + 1 of spacing).
pub fn char_advance(scale: u32) -> u32 {
    4 * scale
}

/// Height of a line of text at `scale`.
pub fn line_height(scale: u32) -> u32 {
    5 * scale
}

/// Width of `text` in pixels at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * char_advance(scale)
}

fn glyph(c: char) -> &'static [&'static str; 5] {
    let c = c.to_ascii_uppercase();
    let unknown = &GLYPHS[GLYPHS.len() - 1].1;
    GLYPHS.iter().find(|(g, _)| *g == c).map_or(unknown, |(_, rows)| rows)
}

/// Draws `text` with its top-left corner at `(x, y)`; pixels outside the image are skipped.
pub fn draw_text(image: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
    let s = i64::from(scale);
    for (i, c) in text.chars().enumerate() {
        let ox = x + i as i64 * i64::from(char_advance(scale));
        for (row, bits) in glyph(c).iter().enumerate() {
            for (col, b) in bits.bytes().enumerate() {
                if b != b'#' {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        let (px, py) = (ox + col as i64 * s + dx, y + row as i64 * s + dy);
                        if px >= 0 && py >= 0 && px < i64::from(image.width()) && py < i64::from(image.height()) {
                            image.put_pixel(px as u32, py as u32, Rgb(color));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_well_formed_and_unique() {
        for (i, (c, rows)) in GLYPHS.iter().enumerate() {
            assert!(rows.iter().all(|r| r.len() == 3 && r.bytes().all(|b| b == b'#' || b == b'.')), "{c}");
            assert!(GLYPHS[i + 1..].iter().all(|(d, _)| d != c), "{c} twice");
        }
        assert_eq!(glyph('a'), glyph('A'));
        assert_eq!(glyph('~'), glyph('?'));
    }

    #[test]
    fn draws_a_one_at_scale_two() {
        let mut img = RgbImage::new(8, 10);
        draw_text(&mut img, 0, 0, "1", 2, [255, 0, 0]);
        // Row 0 of '1' is ".#.": pixels x 2..4 of rows 0..2 are inked, x 0..2 are not.
        assert_eq!(img.get_pixel(2, 0).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(3, 1).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        // Bottom row "###" spans x 0..6 at y 8..10.
        assert_eq!(img.get_pixel(5, 9).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(6, 9).0, [0, 0, 0]);
        assert_eq!(text_width("12", 2), 16);
        // Off-image text is clipped, not a panic.
        draw_text(&mut img, -5, 7, "W", 3, [1, 2, 3]);
    }
}
