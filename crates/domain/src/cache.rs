//! Short-lived, in-process read caches for the hottest reads, and the decorators that keep
//! them honest.
//!
//! Three things are read far more often than they change: who a session token belongs to
//! (every authenticated request), an account's summary, and a ready image's record (which
//! does not change until the image is deleted). [`ReadCaches`] keeps each for a bounded
//! time (and report categories, which only migrations change). Correctness rests on two
//! rules:
//!
//! - **Every write in this process invalidates.** The repositories the services use are
//!   wrapped in [`Invalidating`], which drops the affected entries whenever a session is
//!   revoked, an account is updated or withdrawn, or an image changes state, whichever
//!   service or route did it. A read that started before such a write never stores what it
//!   read (each cache counts its invalidations, see [`TtlCache::ticket`]).
//! - **Writes in other processes are seen within the TTL.** Another replica's logout, or an
//!   operator's `server accounts grant`, takes effect here after at most the session TTL
//!   (seconds); another replica's profile edit or image deletion after at most the read
//!   TTL. A TTL of zero turns a cache off.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::Email;
use crate::account::{Account, AccountId, AccountRepository, AccountUpdate, Identity, NewAccount};
use crate::error::{CreateAccountError, LinkIdentityError, RepositoryError, UpdateAccountError};
use crate::image::{
    Image, ImageFilter, ImageId, ImageRepository, ImageStatus, NewImage, ReadyImage,
};
use crate::report::ReportCategory;
use crate::session::{NewSession, Principal, Session, SessionId, SessionRepository, TokenHash};
use crate::storage::ObjectKey;

struct Entries<K, V> {
    map: HashMap<K, (OffsetDateTime, V)>,
    /// Bumped by every invalidation; see [`TtlCache::ticket`].
    generation: u64,
}

/// A bounded map whose entries expire `ttl` after they were stored. Cloning shares it.
pub struct TtlCache<K, V> {
    entries: Arc<Mutex<Entries<K, V>>>,
    ttl: Duration,
    capacity: usize,
}

impl<K, V> Clone for TtlCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            ttl: self.ttl,
            capacity: self.capacity,
        }
    }
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Proof that no invalidation happened since it was taken (see [`TtlCache::ticket`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache holding at most `capacity` entries for `ttl` each; a zero (or negative) TTL or
    /// capacity makes it hold nothing.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(Entries {
                map: HashMap::new(),
                generation: 0,
            })),
            ttl,
            capacity,
        }
    }

    /// A cache that holds nothing.
    pub fn disabled() -> Self {
        Self::new(Duration::ZERO, 0)
    }

    pub fn is_enabled(&self) -> bool {
        self.ttl.is_positive() && self.capacity > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        // Every critical section leaves the map consistent, so a panic elsewhere while
        // holding the lock does not make the data unusable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value stored for `key` if it has not expired at `now`.
    pub fn get(&self, key: &K, now: OffsetDateTime) -> Option<V> {
        if !self.is_enabled() {
            return None;
        }
        let mut e = self.lock();
        match e.map.get(key) {
            Some((expires, v)) if now < *expires => Some(v.clone()),
            Some(_) => {
                e.map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Take this before reading the source of truth, and hand it to [`TtlCache::insert`]:
    /// if anything was invalidated in between, the value read may predate that write and is
    /// not stored.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Stores `value` until `now + ttl`, unless an invalidation happened since `ticket`.
    /// When full, expired entries go first, then everything (a cache miss is only slower).
    pub fn insert(&self, ticket: Ticket, key: K, value: V, now: OffsetDateTime) {
        if !self.is_enabled() {
            return;
        }
        let mut e = self.lock();
        if e.generation != ticket.0 {
            return;
        }
        if e.map.len() >= self.capacity && !e.map.contains_key(&key) {
            e.map.retain(|_, (expires, _)| now < *expires);
            if e.map.len() >= self.capacity {
                e.map.clear();
            }
        }
        e.map.insert(key, (now + self.ttl, value));
    }

    /// Drops `key`.
    pub fn remove(&self, key: &K) {
        let mut e = self.lock();
        e.generation += 1;
        e.map.remove(key);
    }

    /// Drops every entry for which `stale` is true.
    pub fn remove_where(&self, mut stale: impl FnMut(&K, &V) -> bool) {
        let mut e = self.lock();
        e.generation += 1;
        e.map.retain(|k, (_, v)| !stale(k, v));
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
/// [`Invalidating`] repositories that keep them fresh. Cloning shares them.
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

/// A repository whose writes invalidate [`ReadCaches`]. Wrap the store once and hand the
/// wrapper to every service, so that no write path can forget to invalidate.
#[derive(Debug, Clone)]
pub struct Invalidating<R> {
    inner: R,
    caches: ReadCaches,
}

impl<R> Invalidating<R> {
    pub fn new(inner: R, caches: ReadCaches) -> Self {
        Self { inner, caches }
    }

    /// Runs a write with `forget` applied before and after it: a read racing the write can
    /// only store a value taken after the write (the ticket check covers reads that
    /// started before it).
    async fn around<T>(
        &self,
        forget: impl Fn(&ReadCaches) + Send,
        write: impl std::future::Future<Output = T> + Send,
    ) -> T {
        forget(&self.caches);
        let r = write.await;
        forget(&self.caches);
        r
    }
}

#[async_trait]
impl<R: AccountRepository> AccountRepository for Invalidating<R> {
    async fn create(&self, new: NewAccount) -> Result<Account, CreateAccountError> {
        self.inner.create(new).await
    }

    async fn find_by_id(&self, id: AccountId) -> Result<Option<Account>, RepositoryError> {
        self.inner.find_by_id(id).await
    }

    async fn find_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<Account>, RepositoryError> {
        self.inner.find_by_identity(identity).await
    }

    async fn find_by_verified_email(
        &self,
        email: &Email,
    ) -> Result<Option<Account>, RepositoryError> {
        self.inner.find_by_verified_email(email).await
    }

    async fn link_identity(
        &self,
        account: AccountId,
        identity: Identity,
        at: OffsetDateTime,
    ) -> Result<(), LinkIdentityError> {
        self.inner.link_identity(account, identity, at).await
    }

    async fn update(
        &self,
        id: AccountId,
        update: AccountUpdate,
        at: OffsetDateTime,
    ) -> Result<Account, UpdateAccountError> {
        self.around(|c| c.forget_account(id), self.inner.update(id, update, at))
            .await
    }

    async fn withdraw(&self, id: AccountId, at: OffsetDateTime) -> Result<(), UpdateAccountError> {
        self.around(|c| c.forget_account(id), self.inner.withdraw(id, at))
            .await
    }
}

#[async_trait]
impl<R: SessionRepository> SessionRepository for Invalidating<R> {
    async fn insert(&self, new: NewSession) -> Result<Session, RepositoryError> {
        self.inner.insert(new).await
    }

    async fn find_active_by_token_hash(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<(Session, Account)>, RepositoryError> {
        self.inner.find_active_by_token_hash(hash, now).await
    }

    async fn touch(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError> {
        self.inner.touch(id, now, idle_expires_at).await
    }

    async fn revoke(
        &self,
        account: AccountId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        self.around(|c| c.forget_session(id), self.inner.revoke(account, id, at))
            .await
    }

    async fn revoke_all(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<u64, RepositoryError> {
        self.around(
            |c| c.forget_account(account),
            self.inner.revoke_all(account, at),
        )
        .await
    }

    async fn list_active(
        &self,
        account: AccountId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, RepositoryError> {
        self.inner.list_active(account, now).await
    }
}

#[async_trait]
impl<R: ImageRepository> ImageRepository for Invalidating<R> {
    async fn insert(&self, new: NewImage) -> Result<Image, RepositoryError> {
        self.inner.insert(new).await
    }

    async fn insert_within(
        &self,
        new: NewImage,
        limits: crate::image::UploadLimits,
    ) -> Result<Image, crate::image::InsertImageError> {
        self.inner.insert_within(new, limits).await
    }

    async fn find_by_key(&self, key: &ObjectKey) -> Result<Option<Image>, RepositoryError> {
        self.inner.find_by_key(key).await
    }

    async fn mark_ready(
        &self,
        id: ImageId,
        ready: ReadyImage,
    ) -> Result<Option<Image>, RepositoryError> {
        self.around(|c| c.forget_image(id), self.inner.mark_ready(id, ready))
            .await
    }

    async fn transition(
        &self,
        id: ImageId,
        from: ImageStatus,
        to: ImageStatus,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        self.around(
            |c| c.forget_image(id),
            self.inner.transition(id, from, to, at),
        )
        .await
    }

    async fn list(&self, filter: ImageFilter, limit: u64) -> Result<Vec<Image>, RepositoryError> {
        self.inner.list(filter, limit).await
    }

    async fn awaiting_removal(&self, limit: u64) -> Result<Vec<Image>, RepositoryError> {
        self.inner.awaiting_removal(limit).await
    }

    // Only records no longer ready change here: nothing cached (ready images) is affected.
    async fn mark_objects_removed(
        &self,
        id: ImageId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        self.inner.mark_objects_removed(id, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
