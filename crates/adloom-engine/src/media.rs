//! Images advertisers upload for their pins. An upload must be a PNG,
//! JPEG or WebP within [`MAX_IMAGE_BYTES`] and [`MAX_SIDE`] pixels a side;
//! it is decoded and encoded again, so that what adloom serves is an image
//! it made (never the bytes an advertiser chose, which could be a polyglot
//! file or carry a photo's EXIF, such as where it was taken), and kept in
//! the store under the digest of what is served, so that every node serves
//! it.

use std::io::Cursor;

use adloom_core::Invalid;
use adloom_store::Media;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use crate::{Engine, EngineError};

/// The largest upload taken.
pub const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
/// The widest and tallest image taken, in pixels.
pub const MAX_SIDE: u32 = 6_000;
/// The most memory decoding one image may take (a 6000 × 6000 RGBA image
/// takes 144 MB).
const MAX_DECODE_BYTES: u64 = 160 * 1024 * 1024;
/// The quality photos are encoded at again.
const JPEG_QUALITY: u8 = 85;

/// An image as adloom serves it: its bytes and content type.
#[derive(Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// Checks an upload and encodes it again: photos (JPEG) as JPEG, the rest
/// (PNG, WebP, which may have transparency) as PNG.
pub fn reencode(upload: &[u8]) -> Result<Encoded, Invalid> {
    const FIELD: &str = "image";
    if upload.len() > MAX_IMAGE_BYTES {
        return Err(Invalid::new(
            FIELD,
            format!("is over {} MB", MAX_IMAGE_BYTES / (1024 * 1024)),
        ));
    }
    let reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| Invalid::new(FIELD, "could not be read"))?;
    let format = reader.format();
    if !matches!(
        format,
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)
    ) {
        return Err(Invalid::new(FIELD, "must be a PNG, JPEG or WebP image"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = reader;
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Invalid::new(
            FIELD,
            format!("must be at most {MAX_SIDE} pixels wide and tall"),
        ),
        _ => Invalid::new(FIELD, "is not a whole image: it could not be decoded"),
    })?;
    let mut bytes = Vec::new();
    let content_type = if format == Some(ImageFormat::Jpeg) {
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY))
            .map_err(|_| Invalid::new(FIELD, "could not be encoded"))?;
        "image/jpeg"
    } else {
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|_| Invalid::new(FIELD, "could not be encoded"))?;
        "image/png"
    };
    Ok(Encoded {
        bytes,
        content_type,
    })
}

impl Engine {
    /// Checks, encodes again and keeps an advertiser's upload (decoding on
    /// a blocking thread: a large image takes a while). Returns the kept
    /// image's id.
    pub async fn upload_image(
        &self,
        account: &str,
        upload: Vec<u8>,
    ) -> Result<String, EngineError> {
        let encoded = tokio::task::spawn_blocking(move || reencode(&upload))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the image task failed");
                EngineError::Internal("the image task failed")
            })??;
        let id = hex::encode(Sha256::digest(&encoded.bytes));
        self.store
            .put_media(Media {
                id: id.clone(),
                ad_account_id: account.to_owned(),
                content_type: encoded.content_type.to_owned(),
                bytes: encoded.bytes,
                created_time: self.clock.now(),
            })
            .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    fn encoded(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(
            width,
            height,
            Rgba([200, 30, 40, 255]),
        ));
        let image = match format {
            ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8()),
            _ => image,
        };
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    #[test]
    fn png_jpeg_and_webp_are_encoded_again() {
        for (format, served) in [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::WebP, "image/png"),
        ] {
            let out = reencode(&encoded(format, 40, 30)).unwrap();
            assert_eq!(out.content_type, served, "{format:?}");
            let back = image::load_from_memory(&out.bytes).unwrap();
            assert_eq!((back.width(), back.height()), (40, 30));
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let png = encoded(ImageFormat::Png, 40, 30);
        let cases: [(&[u8], &str); 4] = [
            (
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                "must be a PNG, JPEG or WebP image",
            ),
            (
                b"GIF89a\x01\x00\x01\x00",
                "must be a PNG, JPEG or WebP image",
            ),
            (
                &png[..png.len() / 2],
                "is not a whole image: it could not be decoded",
            ),
            (&[], "must be a PNG, JPEG or WebP image"),
        ];
        for (bytes, reason) in cases {
            assert_eq!(reencode(bytes).unwrap_err().reason, reason);
        }
        let wide = encoded(ImageFormat::Png, MAX_SIDE + 1, 1);
        assert!(reencode(&wide).unwrap_err().reason.contains("pixels"));
        let huge = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(reencode(&huge).unwrap_err().reason.starts_with("is over"));
    }
}
