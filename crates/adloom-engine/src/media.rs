//! Images advertisers upload for their pins. An upload must be a PNG,
//! JPEG or WebP within [`MAX_IMAGE_BYTES`] and [`MAX_SIDE`] pixels a side;
//! it is decoded and encoded again, so that what adloom serves is an image
//! it made (never the bytes an advertiser chose, which could be a polyglot
//! file or carry a photo's EXIF, such as where it was taken), and kept in
//! the store under the digest of what is served, so that every node serves
//! it.
//!
//! A pin may instead name its image by URL. By default adloom passes such a
//! URL on as it is (adloom may run where the advertiser's host is out of
//! reach); with the operator's `fetch_pin_images`, an [`ImageFetcher`]
//! fetches it when the pin is made, and it is checked and kept as an upload
//! is, so that people's browsers never contact the advertiser's host.

use std::io::Cursor;

use adloom_core::campaign::Pin;
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

/// Fetches an image a pin names by URL. The binary's client is the one
/// implementation; it refuses addresses inside the operator's network
/// (a pin's URL is the advertiser's to choose, and adloom's network is not
/// theirs to reach).
#[async_trait::async_trait]
pub trait ImageFetcher: Send + Sync + 'static {
    /// The image's bytes (at most [`MAX_IMAGE_BYTES`]), or why not, in
    /// words for the advertiser.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// The path adloom serves a kept image at.
pub fn media_path(id: &str) -> String {
    format!("/media/{id}")
}

impl Engine {
    /// With the operator's `fetch_pin_images`: fetches the image `pin`
    /// names, keeps it as an upload, and points the pin at adloom's copy.
    /// Without it, or for an image adloom already serves, does nothing.
    pub async fn keep_pin_image(&self, account: &str, pin: &mut Pin) -> Result<(), EngineError> {
        const FIELD: &str = "media_source.url";
        let Some(fetcher) = &self.image_fetcher else {
            return Ok(());
        };
        if self.serves_itself(&pin.image_url) {
            return Ok(());
        }
        let bytes = fetcher
            .fetch(&pin.image_url)
            .await
            .map_err(|reason| Invalid::new(FIELD, format!("could not be fetched: {reason}")))?;
        let id = self
            .upload_image(account, bytes)
            .await
            .map_err(|e| match e {
                EngineError::Invalid(invalid) => EngineError::Invalid(Invalid::new(
                    FIELD,
                    format!("the image {}", invalid.reason),
                )),
                other => other,
            })?;
        pin.image_url = self.media_url(&id);
        Ok(())
    }

    /// Where adloom serves the kept image `id`: under its public address
    /// when it has one.
    pub fn media_url(&self, id: &str) -> String {
        let origin = self.config.review.own_origin.as_deref().unwrap_or_default();
        format!("{}{}", origin.trim_end_matches('/'), media_path(id))
    }

    /// Whether `url` is an image adloom keeps.
    fn serves_itself(&self, url: &str) -> bool {
        url.strip_prefix(&self.media_url(""))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    }

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
