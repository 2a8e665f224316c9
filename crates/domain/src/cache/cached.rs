//! [`Cached`]: the ports behind the read caches. Hot reads answered from memory when fresh,
//! every write dropping what it changes.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ReadCaches;
use crate::Email;
use crate::account::{
    Account, AccountId, AccountUpdate, Identity, IdentityId, LinkedIdentity, MaybeCached,
    NewAccount,
};
use crate::audit::NewAuditEntry;
use crate::clock::SystemClock;
use crate::error::{
    CreateAccountError, LinkIdentityError, RepositoryError, UnlinkIdentityError, UpdateAccountError,
};
use crate::image::{Image, ImageFilter, ImageId, ImageStatus, NewImage, ReadyImage, Variant};
use crate::outbox::NewJob;
use crate::page::Page;
use crate::ports::AccountRepository;
use crate::ports::Clock;
use crate::ports::ImageRepository;
use crate::ports::ReportRepository;
use crate::ports::SessionRepository;
use crate::report::{
    CreateReportError, NewReport, Report, ReportCategory, ReportChange, ReportEvent, ReportFilter,
    ReportId, ReportStatus,
};
use crate::session::{NewSession, Principal, Session, SessionId, TokenHash};
use crate::storage::ObjectKey;

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

    async fn withdraw(
        &self,
        id: AccountId,
        at: OffsetDateTime,
        audit: Option<NewAuditEntry>,
        enqueue: Vec<NewJob>,
    ) -> Result<(), UpdateAccountError> {
        self.around(
            |c| c.forget_account(id),
            self.inner.withdraw(id, at, audit, enqueue),
        )
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
        enqueue: Vec<NewJob>,
    ) -> Result<Option<Image>, RepositoryError> {
        self.around(
            |c| c.forget_image(id),
            self.inner.mark_ready(id, ready, enqueue),
        )
        .await
    }

    async fn name_variants(
        &self,
        id: ImageId,
        variants: Vec<Variant>,
    ) -> Result<bool, RepositoryError> {
        self.around(
            |c| c.forget_image(id),
            self.inner.name_variants(id, variants),
        )
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

    async fn mark_deleted(
        &self,
        id: ImageId,
        from: ImageStatus,
        at: OffsetDateTime,
        audit: Option<NewAuditEntry>,
        enqueue: Vec<NewJob>,
    ) -> Result<bool, RepositoryError> {
        self.around(
            |c| c.forget_image(id),
            self.inner.mark_deleted(id, from, at, audit, enqueue),
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
        enqueue: Vec<NewJob>,
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
        enqueue: Vec<NewJob>,
    ) -> Result<Option<Report>, RepositoryError> {
        // A decision that suspends the target revokes its sessions: its principals go.
        match change.suspend.as_ref().map(|s| s.account) {
            Some(target) => {
                self.around(
                    |c| c.forget_account(target),
                    self.inner.update(id, expected, change, enqueue),
                )
                .await
            }
            None => self.inner.update(id, expected, change, enqueue).await,
        }
    }

    async fn events(&self, id: ReportId) -> Result<Vec<ReportEvent>, RepositoryError> {
        self.inner.events(id).await
    }
}

#[cfg(test)]
#[cfg(feature = "mock")]
mod tests;
