//! Short-lived, in-process read caches for the hottest reads, kept by one decorator,
//! [`Cached`], that implements the ports: services read and write through it and never
//! know a cache exists.
//!
//! Three things are read far more often than they change: who a session token belongs to
//! (every authenticated request), an account's summary, and a ready image's record (which
//! does not change until the image is deleted). [`ReadCaches`] keeps each for a bounded
//! time (and report categories, which only migrations change). Correctness rests on two
//! rules:
//!
//! - **Every write in this process invalidates.** The repositories the services use are
//!   wrapped in [`Cached`], which answers the cached reads (a token's session and account,
//!   a ready image's record, an account's summary, the report categories) from memory when fresh and drops the
//!   affected entries whenever a session is revoked, an account is updated or withdrawn,
//!   or an image changes state, whichever service or route did it. A read that started
//!   before such a write never stores what it read (each cache counts its invalidations,
//!   see [`TtlCache::ticket`]). Account summaries are cached too, for the reads that ask
//!   for a summary ([`crate::AccountRepository::find_summary`]), and say when they were.
//! - **Writes in other processes are seen within the TTL.** Another replica's logout, or an
//!   operator's `server accounts grant`, takes effect here after at most the session TTL
//!   (seconds); another replica's profile edit or image deletion after at most the read
//!   TTL. A TTL of zero turns a cache off.

mod cached;
mod ttl;

pub use cached::Cached;
pub use ttl::{Ticket, TtlCache};

use time::Duration;

use crate::account::{Account, AccountId};
use crate::image::{Image, ImageId};
use crate::report::ReportCategory;
use crate::session::{Principal, SessionId, TokenHash};
use crate::storage::ObjectKey;

/// How long the caches keep what they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Token → session and account. Bounds how long a logout or role change made by
    /// another process takes to reach this one.
    pub session_ttl: Duration,
    /// Account summaries and ready images' records.
    pub read_ttl: Duration,
    /// Entries per cache.
    pub capacity: usize,
}

impl CachePolicy {
    /// No caching at all.
    pub const OFF: Self = Self {
        session_ttl: Duration::ZERO,
        read_ttl: Duration::ZERO,
        capacity: 0,
    };
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            session_ttl: Duration::seconds(2),
            read_ttl: Duration::seconds(30),
            capacity: 10_000,
        }
    }
}

/// The service's read caches, shared by the services that read them and the
/// [`Cached`] repositories that keep them fresh. Cloning shares them.
#[derive(Clone)]
pub struct ReadCaches {
    pub principals: TtlCache<TokenHash, Principal>,
    pub summaries: TtlCache<AccountId, Account>,
    pub images: TtlCache<ObjectKey, Image>,
    /// Report categories: reference data that only migrations change.
    pub categories: TtlCache<(), Vec<ReportCategory>>,
}

impl std::fmt::Debug for ReadCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCaches")
            .field("principals", &self.principals.len())
            .field("summaries", &self.summaries.len())
            .field("images", &self.images.len())
            .finish()
    }
}

impl Default for ReadCaches {
    fn default() -> Self {
        Self::new(CachePolicy::OFF)
    }
}

impl ReadCaches {
    pub fn new(policy: CachePolicy) -> Self {
        Self {
            principals: TtlCache::new(policy.session_ttl, policy.capacity),
            summaries: TtlCache::new(policy.read_ttl, policy.capacity),
            images: TtlCache::new(policy.read_ttl, policy.capacity),
            categories: TtlCache::new(policy.read_ttl, policy.capacity),
        }
    }

    /// Everything cached about `account`: its sessions and its summary.
    pub fn forget_account(&self, account: AccountId) {
        self.principals.remove_where(|_, p| p.account.id == account);
        self.summaries.remove(&account);
    }

    /// One session.
    pub fn forget_session(&self, session: SessionId) {
        self.principals.remove_where(|_, p| p.session.id == session);
    }

    /// Everything cached about one image.
    pub fn forget_image(&self, image: ImageId) {
        self.images.remove_where(|_, i| i.id == image);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::macros::datetime;

    use crate::session::Session;

    const T0: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn cache(capacity: usize) -> TtlCache<u32, &'static str> {
        TtlCache::new(Duration::seconds(2), capacity)
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = cache(10);
        c.insert(c.ticket(), 1, "a", T0);
        assert_eq!(c.get(&1, T0 + Duration::milliseconds(1999)), Some("a"));
        assert_eq!(c.get(&1, T0 + Duration::seconds(2)), None);
        assert!(c.is_empty(), "an expired entry is dropped when seen");
    }

    #[test]
    fn a_read_that_started_before_an_invalidation_is_not_stored() {
        let c = cache(10);
        let before = c.ticket();
        c.remove(&1);
        c.insert(before, 1, "stale", T0);
        assert_eq!(c.get(&1, T0), None);
        c.insert(c.ticket(), 1, "fresh", T0);
        assert_eq!(c.get(&1, T0), Some("fresh"));
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let c = cache(3);
        for k in 0..3 {
            c.insert(c.ticket(), k, "v", T0);
        }
        // Full of live entries: the next insert starts over rather than grow.
        c.insert(c.ticket(), 3, "v", T0 + Duration::seconds(1));
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&3, T0 + Duration::seconds(1)), Some("v"));
        // Expired entries go first.
        c.insert(c.ticket(), 4, "v", T0 + Duration::seconds(2));
        c.insert(c.ticket(), 5, "v", T0 + Duration::seconds(2));
        c.insert(
            c.ticket(),
            6,
            "v",
            T0 + Duration::seconds(3) + Duration::milliseconds(1),
        );
        assert_eq!(c.len(), 3, "key 3 expired and made room");
    }

    #[test]
    fn a_zero_ttl_or_capacity_holds_nothing() {
        for c in [
            TtlCache::new(Duration::ZERO, 10),
            cache(0),
            TtlCache::disabled(),
        ] {
            c.insert(c.ticket(), 1, "a", T0);
            assert_eq!(c.get(&1, T0), None);
        }
    }

    #[test]
    fn forgetting_an_account_drops_its_sessions_and_summary_only() {
        use crate::session::SessionId;
        let caches = ReadCaches::new(CachePolicy::default());
        let account = |id: i64| Account::bare(id, T0);
        let principal = |id: i64| Principal {
            session: Session {
                id: SessionId::random(),
                account_id: AccountId::new(id),
                created_at: T0,
                last_seen_at: T0,
                idle_expires_at: T0 + Duration::hours(1),
                absolute_expires_at: T0 + Duration::hours(1),
                revoked_at: None,
                user_agent: None,
                ip: None,
            },
            account: account(id),
        };
        let (mine, theirs) = (TokenHash::of("mine"), TokenHash::of("theirs"));
        let p = &caches.principals;
        p.insert(p.ticket(), mine, principal(1), T0);
        p.insert(p.ticket(), theirs, principal(2), T0);
        let s = &caches.summaries;
        s.insert(s.ticket(), AccountId::new(1), account(1), T0);
        s.insert(s.ticket(), AccountId::new(2), account(2), T0);
        caches.forget_account(AccountId::new(1));
        assert_eq!(p.get(&mine, T0), None);
        assert_eq!(s.get(&AccountId::new(1), T0), None);
        assert!(p.get(&theirs, T0).is_some());
        assert!(s.get(&AccountId::new(2), T0).is_some());
    }
}
