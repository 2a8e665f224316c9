//! Every port: what the domain needs from the outside world, one trait a file. Each
//! method's `# Errors` says what it returns on which failure; adapters translate their
//! own errors into these. With the `mock` feature, mockall generates `Mock<Port>` for
//! each.

mod accounts;
mod audit_log;
mod cdn;
mod clock;
mod event_publisher;
mod identity_provider;
mod image_observer;
mod image_processor;
mod images;
mod invalidator;
mod login_states;
mod notifier;
mod object_store;
mod outbox;
mod read_signer;
mod reports;
mod repositories;
mod sessions;

pub use accounts::AccountRepository;
#[cfg(feature = "mock")]
pub use accounts::MockAccountRepository;
pub use audit_log::AuditLog;
#[cfg(feature = "mock")]
pub use audit_log::MockAuditLog;
pub use cdn::Cdn;
#[cfg(feature = "mock")]
pub use cdn::MockCdn;
pub use clock::Clock;
#[cfg(feature = "mock")]
pub use clock::MockClock;
pub use event_publisher::EventPublisher;
#[cfg(feature = "mock")]
pub use event_publisher::MockEventPublisher;
pub use identity_provider::IdentityProvider;
#[cfg(feature = "mock")]
pub use identity_provider::MockIdentityProvider;
pub use image_observer::ImageObserver;
pub use image_processor::ImageProcessor;
#[cfg(feature = "mock")]
pub use image_processor::MockImageProcessor;
pub use images::ImageRepository;
#[cfg(feature = "mock")]
pub use images::MockImageRepository;
pub use invalidator::Invalidator;
#[cfg(feature = "mock")]
pub use invalidator::MockInvalidator;
pub use login_states::LoginStateRepository;
#[cfg(feature = "mock")]
pub use login_states::MockLoginStateRepository;
#[cfg(feature = "mock")]
pub use notifier::MockNotifier;
pub use notifier::Notifier;
#[cfg(feature = "mock")]
pub use object_store::MockObjectStore;
pub use object_store::ObjectStore;
#[cfg(feature = "mock")]
pub use outbox::MockOutbox;
pub use outbox::Outbox;
#[cfg(feature = "mock")]
pub use read_signer::MockReadSigner;
pub use read_signer::ReadSigner;
#[cfg(feature = "mock")]
pub use reports::MockReportRepository;
pub use reports::ReportRepository;
pub use repositories::Repositories;
#[cfg(feature = "mock")]
pub use sessions::MockSessionRepository;
pub use sessions::SessionRepository;
