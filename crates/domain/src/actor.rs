//! Who is asking: an account with its roles, or another service.

use crate::account::{AccountId, Role};

/// Who is asking: an account through its session, or another service through its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Account {
        id: AccountId,
        roles: crate::account::Roles,
    },
    Service {
        name: String,
    },
}

impl Actor {
    pub fn account_id(&self) -> Option<AccountId> {
        match self {
            Self::Account { id, .. } => Some(*id),
            Self::Service { .. } => None,
        }
    }

    pub fn has(&self, role: Role) -> bool {
        match self {
            Self::Account { roles, .. } => roles.contains(role),
            Self::Service { .. } => role == Role::Server,
        }
    }

    pub fn is(&self, id: AccountId) -> bool {
        self.account_id() == Some(id)
    }

    /// STAFF or ADMIN.
    pub fn is_staff(&self) -> bool {
        self.has(Role::Staff) || self.has(Role::Admin)
    }

    /// The roles to show, `SERVER` for services.
    pub fn roles(&self) -> crate::account::Roles {
        match self {
            Self::Account { roles, .. } => roles.clone(),
            Self::Service { .. } => crate::account::Roles::from_iter([Role::Server]),
        }
    }
}
