//! Every outbox topic, and the worker that delivers it.

/// CDN invalidations ([`crate::services::invalidations::Invalidations`]).
pub const CDN_INVALIDATION: &str = "cdn.invalidate";
/// Notices to a report's reporter ([`crate::services::notifications::Notifications`]).
pub const REPORT_NOTICE: &str = "notify.report";
/// Signed events to other services ([`crate::services::events::EventDelivery`]).
pub const EVENT_DELIVERY: &str = "event.deliver";
