//! Reading the audit log: ADMIN only.

use std::sync::Arc;

use crate::account::Role;
use crate::actor::Actor;
use crate::audit::{AuditEntry, AuditFilter};
use crate::error::RepositoryError;
use crate::page::Page;
use crate::ports::AuditLog;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("not allowed")]
    Forbidden,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// The audit log's reader.
#[derive(Clone)]
pub struct AuditTrail {
    log: Arc<dyn AuditLog>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail").finish_non_exhaustive()
    }
}

impl AuditTrail {
    pub fn new(log: Arc<dyn AuditLog>) -> Self {
        Self { log }
    }

    /// A page of entries matching `filter`, newest first, and how many match: for ADMIN
    /// accounts (a service token is not an ADMIN).
    ///
    /// # Errors
    /// `Forbidden`, `Repository`.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEntry>, u64), AuditError> {
        if actor.account_id().is_none() || !actor.has(Role::Admin) {
            return Err(AuditError::Forbidden);
        }
        Ok(self.log.list(filter, page).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountId, Roles};
    use crate::ports::MockAuditLog;

    #[tokio::test]
    async fn only_admin_accounts_read_the_log() {
        let mut log = MockAuditLog::new();
        log.expect_list().times(1).returning(|_, _| Ok((vec![], 0)));
        let trail = AuditTrail::new(Arc::new(log));
        let page = Page::parse(None, None).expect("page");
        let account = |roles: &[Role]| Actor::Account {
            id: AccountId::new(1),
            roles: roles.iter().copied().collect::<Roles>(),
        };
        for refused in [
            account(&[Role::User]),
            account(&[Role::User, Role::Staff]),
            Actor::Service {
                name: "chat".into(),
            },
        ] {
            assert!(matches!(
                trail.list(&refused, AuditFilter::default(), page).await,
                Err(AuditError::Forbidden)
            ));
        }
        let admin = account(&[Role::User, Role::Admin]);
        assert!(
            trail
                .list(&admin, AuditFilter::default(), page)
                .await
                .is_ok()
        );
    }
}
