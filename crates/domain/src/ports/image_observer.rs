//! Who hears of an image becoming ready or gone.

use crate::image::Channel;
use crate::image::RejectKind;

/// Hears what happens to uploads (for metrics); the default hears nothing.
pub trait ImageObserver: Send + Sync {
    fn issued(&self, _channel: Channel) {}
    fn confirmed(&self, _channel: Channel) {}
    fn rejected(&self, _kind: RejectKind) {}
}
