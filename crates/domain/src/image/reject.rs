//! Why an upload was refused, by kind (for metrics and the client's error).

/// Why confirmation rejected an upload, coarsely: for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    TooLarge,
    LengthMismatch,
    EtagMismatch,
    ChecksumMismatch,
    NotAnImage,
    TypeMismatch,
    TooManyPixels,
    /// Over the decoding budget: frames, scans or pixel work.
    TooCostly,
    Undecodable,
    /// Processing passed its deadline.
    TooSlow,
    Changed,
}

impl RejectKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::LengthMismatch => "length_mismatch",
            Self::EtagMismatch => "etag_mismatch",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::NotAnImage => "not_an_image",
            Self::TypeMismatch => "type_mismatch",
            Self::TooManyPixels => "too_many_pixels",
            Self::TooCostly => "too_costly",
            Self::Undecodable => "undecodable",
            Self::TooSlow => "too_slow",
            Self::Changed => "changed",
        }
    }
}
