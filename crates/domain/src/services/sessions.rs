//! Starting, resolving and revoking server-side sessions.

use std::sync::Arc;

use time::Duration;

use crate::account::AccountId;
use crate::error::RepositoryError;
use crate::ports::Clock;
use crate::ports::SessionRepository;
use crate::session::Principal;
use crate::session::{NewSession, Session, SessionId, SessionToken};

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long expires.
    pub idle_ttl: Duration,
    /// A session expires this long after login, however active.
    pub absolute_ttl: Duration,
    /// Activity is written back at most this often per session, so that authenticating a
    /// request is a read, not a write, on the hot path.
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::days(7),
            absolute_ttl: Duration::days(30),
            touch_interval: Duration::minutes(1),
        }
    }
}

/// What the client told us about itself when the session started, for the session list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMeta {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl SessionMeta {
    const MAX_USER_AGENT: usize = 256;

    pub fn new(user_agent: Option<&str>, ip: Option<&str>) -> Self {
        let clean = |s: &str, max: usize| -> String {
            s.chars().filter(|c| !c.is_control()).take(max).collect()
        };
        Self {
            user_agent: user_agent
                .map(|ua| clean(ua, Self::MAX_USER_AGENT))
                .filter(|s| !s.is_empty()),
            ip: ip.map(|ip| clean(ip, 64)).filter(|s| !s.is_empty()),
        }
    }
}

/// A session just started, with the token to hand to the client (the only time it exists).
#[derive(Debug)]
pub struct StartedSession {
    pub token: SessionToken,
    pub session: Session,
}

/// The sessions service.
#[derive(Clone)]
pub struct Sessions {
    repo: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(
        repo: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            repo,
            clock,
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Starts a session for `account` with a fresh token.
    ///
    /// # Errors
    /// `RepositoryError` when the session cannot be stored.
    #[tracing::instrument(skip(self, meta), err(level = "info"))]
    pub async fn start(
        &self,
        account: AccountId,
        meta: SessionMeta,
    ) -> Result<StartedSession, RepositoryError> {
        let now = self.clock.now();
        let token = SessionToken::generate();
        let absolute = now + self.policy.absolute_ttl;
        let session = self
            .repo
            .insert(NewSession {
                id: SessionId::random(),
                account_id: account,
                token_hash: token.hash(),
                created_at: now,
                idle_expires_at: (now + self.policy.idle_ttl).min(absolute),
                absolute_expires_at: absolute,
                user_agent: meta.user_agent,
                ip: meta.ip,
            })
            .await?;
        Ok(StartedSession { token, session })
    }

    /// The active session this token belongs to and its live account, if any. Extends the
    /// idle expiry (never past the absolute one) when the session was last seen more than
    /// `touch_interval` ago.
    ///
    /// Behind [`crate::Cached`], a principal resolved less than the session cache's TTL ago
    /// is answered from memory (still checked against both expiries here); revocations and
    /// account changes made in this process drop it at once.
    ///
    /// # Errors
    /// `RepositoryError` when the store fails.
    pub async fn authenticate(
        &self,
        token: &SessionToken,
    ) -> Result<Option<Principal>, RepositoryError> {
        let now = self.clock.now();
        let hash = token.hash();
        let Some((mut session, account)) = self.repo.find_active_by_token_hash(&hash, now).await?
        else {
            return Ok(None);
        };
        // The adapter promised only active sessions; an adapter bug must not let a revoked
        // or expired session in, so check again here where the rule lives.
        // A suspension revokes the account's sessions when it is set; a session that
        // escaped (a cached principal on another replica) is refused here all the same.
        if !session.is_active(now)
            || account.is_withdrawn()
            || account.active_suspension(now).is_some()
            || account.id != session.account_id
        {
            return Ok(None);
        }
        if now - session.last_seen_at >= self.policy.touch_interval {
            let idle = (now + self.policy.idle_ttl).min(session.absolute_expires_at);
            self.repo.touch(session.id, now, idle).await?;
            session.last_seen_at = now;
            session.idle_expires_at = idle;
        }
        Ok(Some(Principal { session, account }))
    }

    /// Revokes one of `account`'s sessions; `false` when it has no such unrevoked session.
    ///
    /// # Errors
    /// `RepositoryError` when the store fails.
    pub async fn revoke(&self, account: AccountId, id: SessionId) -> Result<bool, RepositoryError> {
        self.repo.revoke(account, id, self.clock.now()).await
    }

    /// Revokes every session of `account`.
    ///
    /// # Errors
    /// `RepositoryError` when the store fails.
    pub async fn revoke_all(&self, account: AccountId) -> Result<u64, RepositoryError> {
        self.repo.revoke_all(account, self.clock.now()).await
    }

    /// `account`'s active sessions, most recently seen first.
    ///
    /// # Errors
    /// `RepositoryError` when the store fails.
    pub async fn list(&self, account: AccountId) -> Result<Vec<Session>, RepositoryError> {
        self.repo.list_active(account, self.clock.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::cache::{CachePolicy, Cached, ReadCaches};
    use crate::ports::MockClock;
    use crate::ports::MockSessionRepository;
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00:00.5 UTC);

    fn clock_at(t: time::OffsetDateTime) -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now().return_const(t);
        Arc::new(c)
    }

    fn stored(last_seen: time::OffsetDateTime, idle: time::OffsetDateTime) -> Session {
        Session {
            id: SessionId::random(),
            account_id: AccountId::new(7),
            created_at: last_seen,
            last_seen_at: last_seen,
            idle_expires_at: idle,
            absolute_expires_at: NOW + Duration::days(2),
            revoked_at: None,
            user_agent: None,
            ip: None,
        }
    }

    fn account(id: i64, withdrawn: bool) -> Account {
        Account {
            withdrawn_at: withdrawn.then_some(NOW),
            ..Account::bare(id, NOW)
        }
    }

    fn with_account(s: Session) -> Option<(Session, Account)> {
        let a = account(s.account_id.get(), false);
        Some((s, a))
    }

    #[tokio::test]
    async fn start_stores_only_the_hash_with_both_expiries() {
        let mut repo = MockSessionRepository::new();
        let policy = SessionPolicy::default();
        repo.expect_insert()
            .withf(move |n| {
                n.account_id == AccountId::new(7)
                    && n.created_at == NOW
                    && n.idle_expires_at == NOW + policy.idle_ttl
                    && n.absolute_expires_at == NOW + policy.absolute_ttl
                    && n.user_agent.as_deref() == Some("curl")
            })
            .times(1)
            .returning(|n| {
                Ok(Session {
                    id: n.id,
                    account_id: n.account_id,
                    created_at: n.created_at,
                    last_seen_at: n.created_at,
                    idle_expires_at: n.idle_expires_at,
                    absolute_expires_at: n.absolute_expires_at,
                    revoked_at: None,
                    user_agent: n.user_agent,
                    ip: n.ip,
                })
            });
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), policy);
        let started = sessions
            .start(AccountId::new(7), SessionMeta::new(Some("curl"), None))
            .await
            .expect("start");
        assert_eq!(started.token.expose().len(), 43);
        assert_eq!(started.session.account_id, AccountId::new(7));
    }

    #[tokio::test]
    async fn idle_expiry_never_passes_the_absolute_one() {
        let mut repo = MockSessionRepository::new();
        let policy = SessionPolicy {
            idle_ttl: Duration::days(10),
            absolute_ttl: Duration::days(1),
            touch_interval: Duration::minutes(1),
        };
        repo.expect_insert()
            .withf(|n| n.idle_expires_at == n.absolute_expires_at)
            .times(1)
            .returning(|_| Err(RepositoryError::Unexpected("stop here".into())));
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), policy);
        assert!(
            sessions
                .start(AccountId::new(1), SessionMeta::default())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn authenticate_looks_up_by_hash_and_skips_the_write_when_recently_seen() {
        let token = SessionToken::generate();
        let hash = token.hash();
        let session = stored(NOW - Duration::seconds(5), NOW + Duration::hours(1));
        let expected = session.clone();
        let mut repo = MockSessionRepository::new();
        repo.expect_find_active_by_token_hash()
            .with(eq(hash), eq(NOW))
            .times(1)
            .returning(move |_, _| Ok(with_account(session.clone())));
        repo.expect_touch().never();
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), SessionPolicy::default());
        let got = sessions.authenticate(&token).await.expect("ok");
        assert_eq!(
            got.map(|p| (p.session, p.account.id)),
            Some((expected, AccountId::new(7)))
        );
    }

    #[tokio::test]
    async fn authenticate_extends_idle_expiry_when_seen_long_ago() {
        let token = SessionToken::generate();
        let session = stored(NOW - Duration::minutes(5), NOW + Duration::hours(1));
        let id = session.id;
        let absolute = session.absolute_expires_at;
        let mut repo = MockSessionRepository::new();
        repo.expect_find_active_by_token_hash()
            .returning(move |_, _| Ok(with_account(session.clone())));
        // idle_ttl of 7 days would pass the absolute expiry 2 days out: capped there.
        repo.expect_touch()
            .with(eq(id), eq(NOW), eq(absolute))
            .times(1)
            .returning(|_, _, _| Ok(()));
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), SessionPolicy::default());
        let got = sessions
            .authenticate(&token)
            .await
            .expect("ok")
            .expect("some")
            .session;
        assert_eq!(got.last_seen_at, NOW);
        assert_eq!(got.idle_expires_at, absolute);
    }

    #[tokio::test]
    async fn authenticate_refuses_inactive_sessions_and_withdrawn_or_mismatched_accounts() {
        let token = SessionToken::generate();
        let mut revoked = stored(NOW, NOW + Duration::hours(1));
        revoked.revoked_at = Some(NOW - Duration::seconds(1));
        let expired = stored(NOW - Duration::hours(2), NOW);
        let live = stored(NOW, NOW + Duration::hours(1));
        let withdrawn = Some((live.clone(), account(7, true)));
        let someone_else = Some((live, account(8, false)));
        for found in [
            with_account(revoked),
            with_account(expired),
            withdrawn,
            someone_else,
        ] {
            let mut repo = MockSessionRepository::new();
            repo.expect_find_active_by_token_hash()
                .returning(move |_, _| Ok(found.clone()));
            repo.expect_touch().never();
            let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), SessionPolicy::default());
            assert_eq!(sessions.authenticate(&token).await.expect("ok"), None);
        }
    }

    #[tokio::test]
    async fn authenticate_passes_store_failures_on() {
        let mut repo = MockSessionRepository::new();
        repo.expect_find_active_by_token_hash()
            .returning(|_, _| Err(RepositoryError::Unavailable("down".into())));
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), SessionPolicy::default());
        assert!(matches!(
            sessions.authenticate(&SessionToken::generate()).await,
            Err(RepositoryError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_failed_touch_fails_the_authentication() {
        let session = stored(NOW - Duration::hours(1), NOW + Duration::hours(1));
        let mut repo = MockSessionRepository::new();
        repo.expect_find_active_by_token_hash()
            .returning(move |_, _| Ok(with_account(session.clone())));
        repo.expect_touch()
            .returning(|_, _, _| Err(RepositoryError::Unavailable("down".into())));
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), SessionPolicy::default());
        assert!(
            sessions
                .authenticate(&SessionToken::generate())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn revocation_is_scoped_to_the_account_and_timestamped() {
        let id = SessionId::random();
        let mut repo = MockSessionRepository::new();
        repo.expect_revoke()
            .with(eq(AccountId::new(7)), eq(id), eq(NOW))
            .times(1)
            .returning(|_, _, _| Ok(true));
        repo.expect_revoke_all()
            .with(eq(AccountId::new(7)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(3));
        let sessions = Sessions::new(Arc::new(repo), clock_at(NOW), SessionPolicy::default());
        assert!(sessions.revoke(AccountId::new(7), id).await.expect("ok"));
        assert_eq!(sessions.revoke_all(AccountId::new(7)).await.expect("ok"), 3);
    }

    /// Sessions over `repo` wrapped the way the service wires it: invalidating caches.
    fn cached(repo: MockSessionRepository) -> Sessions {
        let caches = ReadCaches::new(CachePolicy::default());
        let repo = Arc::new(Cached::new(repo, caches).with_clock(clock_at(NOW)));
        Sessions::new(repo, clock_at(NOW), SessionPolicy::default())
    }

    #[tokio::test]
    async fn a_resolved_token_is_answered_from_the_cache_until_its_session_is_revoked() {
        let token = SessionToken::generate();
        let session = stored(NOW - Duration::seconds(5), NOW + Duration::hours(1));
        let id = session.id;
        let mut repo = MockSessionRepository::new();
        let mut seq = mockall::Sequence::new();
        // Three authentications, two lookups: the second is a hit, the third follows the
        // revocation.
        repo.expect_find_active_by_token_hash()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(with_account(session.clone())));
        repo.expect_revoke()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(true));
        repo.expect_find_active_by_token_hash()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        let sessions = cached(repo);
        assert!(sessions.authenticate(&token).await.unwrap().is_some());
        assert!(sessions.authenticate(&token).await.unwrap().is_some());
        assert!(sessions.revoke(AccountId::new(7), id).await.unwrap());
        assert_eq!(sessions.authenticate(&token).await.unwrap(), None);
    }

    #[tokio::test]
    async fn revoking_all_of_an_accounts_sessions_empties_its_cached_principals() {
        let token = SessionToken::generate();
        let session = stored(NOW - Duration::seconds(5), NOW + Duration::hours(1));
        let mut repo = MockSessionRepository::new();
        let mut seq = mockall::Sequence::new();
        repo.expect_find_active_by_token_hash()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(with_account(session.clone())));
        repo.expect_revoke_all()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(1));
        repo.expect_find_active_by_token_hash()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        let sessions = cached(repo);
        assert!(sessions.authenticate(&token).await.unwrap().is_some());
        sessions.revoke_all(AccountId::new(7)).await.unwrap();
        assert_eq!(sessions.authenticate(&token).await.unwrap(), None);
    }

    #[test]
    fn meta_is_cleaned_and_bounded() {
        let m = SessionMeta::new(Some(&format!("a\u{0}b{}", "x".repeat(500))), Some(""));
        assert_eq!(m.user_agent.as_deref().map(str::len), Some(256));
        assert!(!m.user_agent.unwrap_or_default().contains('\u{0}'));
        assert_eq!(m.ip, None);
    }
}
