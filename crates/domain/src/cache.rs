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
//!   for a summary ([`AccountRepository::find_summary`]), and say when they were.
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
use crate::account::{
    Account, AccountId, AccountRepository, AccountUpdate, Identity, IdentityId, LinkedIdentity,
    MaybeCached, NewAccount,
};
use crate::clock::{Clock, SystemClock};
use crate::error::{
    CreateAccountError, LinkIdentityError, RepositoryError, UnlinkIdentityError, UpdateAccountError,
};
use crate::image::{
    Image, ImageFilter, ImageId, ImageRepository, ImageStatus, NewImage, ReadyImage,
};
use crate::report::{
    CreateReportError, Enqueue, NewReport, Page, Report, ReportCategory, ReportChange, ReportEvent,
    ReportFilter, ReportId, ReportRepository, ReportStatus,
};
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

    /// Changes every entry for which `matches` is true, in place: for a write whose effect
    /// on the entry is known (a session touched), so that it need not be read again.
    pub fn update_where(
        &self,
        mut matches: impl FnMut(&K, &V) -> bool,
        mut change: impl FnMut(&mut V),
    ) {
        let mut e = self.lock();
        for (k, (_, v)) in &mut e.map {
            if matches(k, v) {
                change(v);
            }
        }
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

/// A repository whose hot reads are answered from [`ReadCaches`] when fresh and whose
/// writes invalidate them. Wrap the store once and hand the wrapper to every service, so
/// that no write path can forget to invalidate and no service needs to know of caching.
#[derive(Clone)]
pub struct Cached<R> {
    inner: R,
    caches: ReadCaches,
    /// Decides when entries expire.
    clock: Arc<dyn Clock>,
}

impl<R> std::fmt::Debug for Cached<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("caches", &self.caches)
            .finish_non_exhaustive()
    }
}

impl<R> Cached<R> {
    /// `inner` behind `caches`, whose entries expire by the system clock.
    pub fn new(inner: R, caches: ReadCaches) -> Self {
        Self {
            inner,
            caches,
            clock: Arc::new(SystemClock),
        }
    }

    /// Entries expire by `clock` (the services' clock, in tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
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
impl<R: AccountRepository> AccountRepository for Cached<R> {
    async fn create(&self, new: NewAccount) -> Result<Account, CreateAccountError> {
        self.inner.create(new).await
    }

    async fn find_by_id(&self, id: AccountId) -> Result<Option<Account>, RepositoryError> {
        self.inner.find_by_id(id).await
    }

    /// From `summaries` while fresh; only live accounts are kept.
    async fn find_summary(
        &self,
        id: AccountId,
    ) -> Result<Option<MaybeCached<Account>>, RepositoryError> {
        let now = self.clock.now();
        if let Some(value) = self.caches.summaries.get(&id, now) {
            return Ok(Some(MaybeCached {
                value,
                cached: true,
            }));
        }
        let ticket = self.caches.summaries.ticket();
        let found = self.inner.find_by_id(id).await?;
        if let Some(account) = &found
            && !account.is_withdrawn()
        {
            self.caches
                .summaries
                .insert(ticket, id, account.clone(), now);
        }
        Ok(found.map(|value| MaybeCached {
            value,
            cached: false,
        }))
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
        email: Option<Email>,
        at: OffsetDateTime,
    ) -> Result<(), LinkIdentityError> {
        self.inner.link_identity(account, identity, email, at).await
    }

    async fn identities(&self, id: AccountId) -> Result<Vec<LinkedIdentity>, RepositoryError> {
        self.inner.identities(id).await
    }

    // No cached read holds identities.
    async fn unlink_identity(
        &self,
        id: AccountId,
        identity: IdentityId,
    ) -> Result<(), UnlinkIdentityError> {
        self.inner.unlink_identity(id, identity).await
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
impl<R: SessionRepository> SessionRepository for Cached<R> {
    async fn insert(&self, new: NewSession) -> Result<Session, RepositoryError> {
        self.inner.insert(new).await
    }

    /// From `principals` while fresh and still active at `now`.
    async fn find_active_by_token_hash(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<(Session, Account)>, RepositoryError> {
        if let Some(p) = self.caches.principals.get(hash, now)
            && p.session.is_active(now)
        {
            return Ok(Some((p.session, p.account)));
        }
        let ticket = self.caches.principals.ticket();
        let found = self.inner.find_active_by_token_hash(hash, now).await?;
        if let Some((session, account)) = &found {
            let principal = Principal {
                session: session.clone(),
                account: account.clone(),
            };
            self.caches.principals.insert(ticket, *hash, principal, now);
        }
        Ok(found)
    }

    /// The cached session learns its new activity, so the next request finds it touched.
    async fn touch(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError> {
        self.inner.touch(id, now, idle_expires_at).await?;
        self.caches.principals.update_where(
            |_, p| p.session.id == id,
            |p| {
                p.session.last_seen_at = now;
                p.session.idle_expires_at = idle_expires_at;
            },
        );
        Ok(())
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
impl<R: ImageRepository> ImageRepository for Cached<R> {
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

    /// A ready image's record from `images` while fresh: it changes only when the image
    /// stops being ready, and every such change made here drops it.
    async fn find_by_key(&self, key: &ObjectKey) -> Result<Option<Image>, RepositoryError> {
        let now = self.clock.now();
        if let Some(image) = self.caches.images.get(key, now) {
            return Ok(Some(image));
        }
        let ticket = self.caches.images.ticket();
        let found = self.inner.find_by_key(key).await?;
        if let Some(image) = &found
            && image.status == ImageStatus::Ready
        {
            self.caches
                .images
                .insert(ticket, key.clone(), image.clone(), now);
        }
        Ok(found)
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

#[async_trait]
impl<R: ReportRepository> ReportRepository for Cached<R> {
    /// From `categories` while fresh: only migrations change them.
    async fn categories(&self) -> Result<Vec<ReportCategory>, RepositoryError> {
        let now = self.clock.now();
        if let Some(c) = self.caches.categories.get(&(), now) {
            return Ok(c);
        }
        let ticket = self.caches.categories.ticket();
        let c = self.inner.categories().await?;
        self.caches.categories.insert(ticket, (), c.clone(), now);
        Ok(c)
    }

    async fn create(
        &self,
        new: NewReport,
        enqueue: Vec<Enqueue>,
    ) -> Result<Report, CreateReportError> {
        self.inner.create(new, enqueue).await
    }

    async fn find(&self, id: ReportId) -> Result<Option<Report>, RepositoryError> {
        self.inner.find(id).await
    }

    async fn list(
        &self,
        filter: ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, u64), RepositoryError> {
        self.inner.list(filter, page).await
    }

    async fn count_since(
        &self,
        reporter: AccountId,
        since: OffsetDateTime,
        at_most: u64,
    ) -> Result<u64, RepositoryError> {
        self.inner.count_since(reporter, since, at_most).await
    }

    async fn update(
        &self,
        id: ReportId,
        expected: ReportStatus,
        change: ReportChange,
        enqueue: Vec<Enqueue>,
    ) -> Result<Option<Report>, RepositoryError> {
        self.inner.update(id, expected, change, enqueue).await
    }

    async fn events(&self, id: ReportId) -> Result<Vec<ReportEvent>, RepositoryError> {
        self.inner.events(id).await
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

#[cfg(test)]
#[cfg(feature = "mock")]
mod decorator_tests {
    //! [`Cached`] answers the hot reads from memory and keeps them honest.
    use time::macros::datetime;

    use super::*;
    use crate::clock::MockClock;
    use crate::image::{Channel, MockImageRepository};

    const T0: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn clock() -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now().return_const(T0);
        Arc::new(c)
    }

    fn image(status: ImageStatus) -> Image {
        Image {
            original_filename: None,
            checksum_sha256: None,
            id: ImageId::new(1),
            key: ObjectKey::parse("chat/a.png").expect("key"),
            channel: Channel::Chat,
            status,
            uploader: AccountId::new(1),
            content_type: None,
            declared_length: None,
            size: None,
            etag: None,
            width: None,
            height: None,
            metadata: serde_json::Map::new(),
            created_at: T0,
            confirmed_at: None,
            expires_at: None,
        }
    }

    fn cached(repo: MockImageRepository) -> Cached<MockImageRepository> {
        Cached::new(repo, ReadCaches::new(CachePolicy::default())).with_clock(clock())
    }

    #[tokio::test]
    async fn a_ready_image_is_read_once_until_it_changes_and_a_pending_one_every_time() {
        let key = ObjectKey::parse("chat/a.png").expect("key");
        let mut repo = MockImageRepository::new();
        repo.expect_find_by_key()
            .times(2)
            .returning(|_| Ok(Some(image(ImageStatus::Ready))));
        repo.expect_transition().returning(|_, _, _, _| Ok(true));
        let repo = cached(repo);
        for _ in 0..3 {
            assert!(repo.find_by_key(&key).await.expect("read").is_some());
        }
        repo.transition(
            ImageId::new(1),
            ImageStatus::Ready,
            ImageStatus::Deleted,
            T0,
        )
        .await
        .expect("write");
        // The write dropped it: read again (the second expected read).
        repo.find_by_key(&key).await.expect("read");

        let mut pending = MockImageRepository::new();
        pending
            .expect_find_by_key()
            .times(3)
            .returning(|_| Ok(Some(image(ImageStatus::Pending))));
        let pending = cached(pending);
        for _ in 0..3 {
            pending.find_by_key(&key).await.expect("read");
        }
    }
}
