//! Inspecting, decoding, stripping and rendering images.

use crate::image::ImageType;
use crate::processing::Processed;
use crate::processing::VariantPresets;
use crate::processing::{InspectError, Inspection, ProcessError};
use async_trait::async_trait;
use bytes::Bytes;

/// Decodes, sanitises and renders images.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImageProcessor: Send + Sync {
    /// Reads what `bytes` are without decoding a pixel: the first bytes of an object of
    /// `size` bytes (at least [`INSPECT_HEAD_LEN`](crate::processing::INSPECT_HEAD_LEN) of
    /// them when it is larger), or all of it when `bytes.len() == size`. From a head it
    /// reports the type, the dimensions and a lower bound of the decoding cost; from the
    /// whole object it also proves the file whole (not cut short) and reports every
    /// frame and the exact cost. Cheap and bounded by `bytes`: the caller runs it before
    /// it takes a processing turn.
    ///
    /// # Errors
    /// `NotAnImage` for bytes of no accepted type, a header that cannot be read, or
    /// (whole) a file cut short or whose structure does not add up.
    fn inspect(&self, bytes: &[u8], size: u64) -> Result<Inspection, InspectError>;

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
