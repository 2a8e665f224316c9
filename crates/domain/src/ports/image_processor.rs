//! Decoding, stripping and rendering images.

use crate::image::ImageType;
use crate::processing::ProcessError;
use crate::processing::Processed;
use crate::processing::VariantPresets;
use async_trait::async_trait;
use bytes::Bytes;

/// Decodes, sanitises and renders images.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImageProcessor: Send + Sync {
    /// Processes a whole upload whose structure and header passed verification (`kind`
    /// is its type by magic bytes, its header's pixel area is at most `max_pixels`, its
    /// decoding cost within the budget). Runs off the async workers; the caller bounds how
    /// many run at once. Work stops at `deadline`, checked between frames and stages.
    ///
    /// # Errors
    /// `Undecodable` when the bytes do not decode (or a frame exceeds `max_pixels`);
    /// `OverDeadline` when `deadline` passed before the work was done; `Failed` when the
    /// processor fails.
    async fn process(
        &self,
        bytes: Bytes,
        kind: ImageType,
        presets: &VariantPresets,
        max_pixels: u64,
        deadline: std::time::Instant,
    ) -> Result<Processed, ProcessError>;
}
