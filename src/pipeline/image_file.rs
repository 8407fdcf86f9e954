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
