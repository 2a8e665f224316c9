//! Images: upload limits and lifetimes, retention's sweeper, per-account limits.

use std::time::Duration;

use clap::Args;

use super::seconds;

/// The images settings.
#[derive(Debug, Clone, Args)]
pub struct ImagesConfig {
    /// Channels whose images are private (read only through signed, expiring URLs by
    /// their uploader, STAFF, ADMIN and services), comma-separated. Applies to images
    /// confirmed from then on.
    #[arg(
        long,
        env = "IMAGE_PRIVATE_CHANNELS",
        default_value = "report,scan,my",
        global = true
    )]
    pub image_private_channels: String,

    /// Seconds a private image's signed URL works.
    #[arg(
        long,
        env = "PRIVATE_URL_TTL_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub private_url_ttl_secs: u64,

    /// The variants every confirmed image gets, as WebP: `name=WIDTHxHEIGHT:cover|fit`,
    /// comma-separated (cover crops to fill the box, fit keeps the whole image; never
    /// enlarged). Empty for none. Applies to images confirmed from then on.
    #[arg(
        long,
        env = "IMAGE_VARIANTS",
        default_value = "thumb=320x320:cover,medium=1280x1280:fit",
        global = true
    )]
    pub image_variants: String,

    /// Quality of the variants' WebP encoding, 0 to 100 (libvips' default is 75).
    #[arg(
        long,
        env = "IMAGE_VARIANT_QUALITY",
        default_value_t = 75,
        global = true
    )]
    pub image_variant_quality: u8,

    /// Images decoded at once by this process; 0: one per core. Each holds one upload's
    /// bytes and pixels (see docs/images.md for the memory to plan).
    #[arg(
        long,
        env = "IMAGE_PROCESSING_CONCURRENCY",
        default_value_t = 0,
        global = true
    )]
    pub image_processing_concurrency: usize,

    /// Confirmations that may wait for a turn to decode; more are answered 503 with
    /// Retry-After.
    #[arg(
        long,
        env = "IMAGE_PROCESSING_QUEUE",
        default_value_t = 256,
        global = true
    )]
    pub image_processing_queue: usize,

    /// The most pixel work one upload's decoding may take: pixels × scans for a JPEG,
    /// canvas × frames for an animated WebP, every frame's pixels for a GIF. Checked from
    /// the file's structure before decoding.
    #[arg(
        long,
        env = "IMAGE_DECODE_BUDGET",
        default_value_t = 500_000_000,
        global = true
    )]
    pub image_decode_budget: u64,

    /// The most frames an animated GIF or WebP may have.
    #[arg(long, env = "IMAGE_MAX_FRAMES", default_value_t = 1000, global = true)]
    pub image_max_frames: u64,

    /// Seconds processing one upload may take; past them it is rejected and its turn
    /// freed.
    #[arg(
        long,
        env = "IMAGE_PROCESSING_DEADLINE_SECS",
        default_value_t = 20,
        global = true
    )]
    pub image_processing_deadline_secs: u64,

    /// Largest image accepted, in bytes.
    #[arg(long, env = "IMAGE_MAX_BYTES", default_value_t = 10 * 1024 * 1024, global = true)]
    pub image_max_bytes: u64,

    /// Largest width × height accepted (decompression bombs are refused).
    #[arg(
        long,
        env = "IMAGE_MAX_PIXELS",
        default_value_t = 50_000_000,
        global = true
    )]
    pub image_max_pixels: u64,

    /// Seconds a presigned upload URL works.
    #[arg(
        long,
        env = "UPLOAD_URL_TTL_SECS",
        default_value_t = 300,
        global = true
    )]
    pub upload_url_ttl_secs: u64,

    /// Seconds a pending upload waits for its bytes before it expires.
    #[arg(
        long,
        env = "PENDING_UPLOAD_TTL_SECS",
        default_value_t = 900,
        global = true
    )]
    pub pending_upload_ttl_secs: u64,

    /// Seconds between sweeper runs; 0 turns the in-process sweeper off.
    #[arg(long, env = "SWEEP_INTERVAL_SECS", default_value_t = 60, global = true)]
    pub sweep_interval_secs: u64,

    /// A staged object whose record no longer waits for it is removed once older than this
    /// many seconds. Objects no record names are never removed.
    #[arg(long, env = "ORPHAN_GRACE_SECS", default_value_t = 3600, global = true)]
    pub orphan_grace_secs: u64,

    /// Uploads one account may have waiting for their bytes at once (429
    /// `UPLOAD_LIMIT_EXCEEDED` beyond); 0 lifts the limit.
    #[arg(long, env = "UPLOAD_MAX_PENDING", default_value_t = 20, global = true)]
    pub upload_max_pending: u64,

    /// Uploads one account may be issued in an hour (429 `UPLOAD_LIMIT_EXCEEDED` beyond);
    /// 0 lifts the limit.
    #[arg(
        long,
        env = "UPLOAD_URLS_PER_HOUR",
        default_value_t = 300,
        global = true
    )]
    pub upload_urls_per_hour: u64,

    /// Bytes of ready images one account may keep (`QUOTA_EXCEEDED` beyond); 0 lifts the
    /// limit. Default 2 GiB.
    #[arg(long, env = "UPLOAD_QUOTA_BYTES", default_value_t = 2 << 30, global = true)]
    pub upload_quota_bytes: u64,
}

impl ImagesConfig {
    pub fn policy(&self) -> domain::services::ImagePolicy {
        domain::services::ImagePolicy {
            max_size: self.image_max_bytes,
            presign_ttl: Duration::from_secs(self.upload_url_ttl_secs),
            pending_ttl: seconds(self.pending_upload_ttl_secs),
            max_pixels: self.image_max_pixels,
            orphan_grace: seconds(self.orphan_grace_secs),
            limits: domain::UploadLimits {
                pending: (self.upload_max_pending > 0).then_some(self.upload_max_pending),
                per_hour: (self.upload_urls_per_hour > 0).then_some(self.upload_urls_per_hour),
                stored_bytes: (self.upload_quota_bytes > 0).then_some(self.upload_quota_bytes),
                undeclared: self.image_max_bytes,
            },
            private_channels: self.private_channels(),
            private_url_ttl: seconds(self.private_url_ttl_secs.max(1)),
            // Refused at start-up when it does not parse.
            variants: self.variants().unwrap_or_default(),
            processing: self.processing(),
            ..domain::services::ImagePolicy::default()
        }
    }

    /// `IMAGE_VARIANTS`, parsed.
    ///
    /// # Errors
    /// Why it does not parse.
    pub fn variants(&self) -> Result<domain::processing::VariantPresets, domain::ParseError> {
        self.image_variants.parse()
    }

    /// `IMAGE_PROCESSING_CONCURRENCY` and `IMAGE_PROCESSING_QUEUE`.
    pub fn processing(&self) -> domain::services::ProcessingLimits {
        let default = domain::services::ProcessingLimits::default();
        domain::services::ProcessingLimits {
            concurrency: match self.image_processing_concurrency {
                0 => default.concurrency,
                n => n,
            },
            queue: self.image_processing_queue,
            decode_budget: self.image_decode_budget,
            max_frames: self.image_max_frames,
            deadline: std::time::Duration::from_secs(self.image_processing_deadline_secs.max(1)),
            ..default
        }
    }

    /// The processor of confirmed images.
    pub fn processor(&self) -> imaging::Pipeline {
        imaging::Pipeline::new(f32::from(self.image_variant_quality.min(100)))
    }

    /// `IMAGE_PRIVATE_CHANNELS`, parsed (unknown names are refused at start-up).
    pub fn private_channels(&self) -> std::collections::BTreeSet<domain::Channel> {
        self.image_private_channels
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .filter_map(|c| c.parse().ok())
            .collect()
    }

    /// Names in `IMAGE_PRIVATE_CHANNELS` that are no channel.
    pub fn unknown_private_channels(&self) -> Vec<String> {
        self.image_private_channels
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.parse::<domain::Channel>().is_err())
            .map(str::to_owned)
            .collect()
    }
}
