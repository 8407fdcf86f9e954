//! Reading images for the pipeline and writing PNGs.

use std::path::Path;

use image::RgbImage;

use crate::{Error, Result};

/// Decodes a JPEG or PNG file into 8-bit RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let img = image::open(path).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    Ok(img.to_rgb8())
}

/// Writes `image` as a PNG file.
pub fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    image
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_and_missing_files() {
        let dir = std::env::temp_dir().join(format!("qpose-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.png");
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        save_png(&img, &path).unwrap();
        assert_eq!(load_rgb(&path).unwrap(), img);
        assert!(load_rgb(&dir.join("missing.png")).is_err());
        std::fs::write(dir.join("bad.jpg"), b"not a jpeg").unwrap();
        assert!(load_rgb(&dir.join("bad.jpg")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
