use async_graphql::{ID, InputObject, Object};
use chrono::{DateTime, NaiveDate, Utc};

use super::report::FindingKind;
use crate::domain::acceptances;

/// An admin's decision to keep a license a finding would take away, with why and until when.
/// While it holds, the finding is listed as accepted and counts in no total; it lapses the day
/// after `expiresOn`, or when the finding becomes one of another kind.
pub struct FindingAcceptance(pub acceptances::Acceptance);

#[Object]
impl FindingAcceptance {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn provider_id(&self) -> ID {
        ID(self.0.provider_id.to_string())
    }

    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }

    async fn user_principal_name(&self) -> &str {
        &self.0.user_principal_name
    }

    async fn sku_id(&self) -> ID {
        ID(self.0.license_sku_id.to_string())
    }

    async fn sku_display_name(&self) -> &str {
        &self.0.sku_display_name
    }

    /// The kind of finding accepted, as a string of `FindingKind`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The subject of the admin who accepted it.
    async fn accepted_by(&self) -> &str {
        &self.0.accepted_by
    }

    async fn accepted_at(&self) -> DateTime<Utc> {
        self.0.accepted_at
    }

    /// The last day it holds (UTC).
    async fn expires_on(&self) -> NaiveDate {
        self.0.expires_on
    }

    /// False once its last day has passed.
    async fn in_force(&self) -> bool {
        self.0.in_force(Utc::now().date_naive())
    }
}

impl From<acceptances::Acceptance> for FindingAcceptance {
    fn from(acceptance: acceptances::Acceptance) -> Self {
        Self(acceptance)
    }
}

/// Keep one user's license though a finding names it.
#[derive(InputObject)]
pub struct AcceptFindingInput {
    /// The finding's `user { id }`.
    pub user_id: ID,
    /// The finding's `sku { id }`.
    pub sku_id: ID,
    /// The finding's kind: a finding of another kind later is not covered.
    pub kind: FindingKind,
    /// Why the license stays, for whoever looks next (at most 500 characters).
    pub reason: String,
    /// The last day the acceptance holds: today at the earliest, two years ahead at the most.
    pub expires_on: NaiveDate,
}
