//! Images: uploads, their variants and the per-account limits. `values` are the parsed
//! fields, `model` the entity; the ports are [`crate::ports::ImageRepository`],
//! [`crate::ports::ObjectStore`] and [`crate::ports::Cdn`], the use cases
//! [`crate::services::Images`].

mod model;
mod reject;
mod values;

pub use model::{
    Image, ImageFilter, InsertImageError, NewImage, ReadyImage, UploadLimit, UploadLimits, Variant,
};
pub use reject::RejectKind;
pub use values::{Channel, ImageId, ImageStatus, ImageType, staging_key, staging_prefix};
