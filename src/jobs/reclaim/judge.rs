//! Whether an item of a plan still stands, judged on the user as the provider has it now: a plan
//! is approved once, and people sign in, accounts come back and groups change meanwhile.

use chrono::{DateTime, Utc};

use crate::codes::Code;
use crate::domain::reclaim_plans::PlanItem;
use crate::domain::reports::FindingKind;
use crate::providers::LicenseState;

/// What to do about one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The finding holds and the license is the user's own only: remove it.
    Remove,
    /// Nothing to change; the item ends with this outcome.
    Leave(ItemOutcome),
}

/// How an item ended, as its row and the API report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemOutcome {
    pub code: Code,
    pub message: String,
    pub hint: String,
}

impl ItemOutcome {
    pub fn new(code: Code, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn stale(message: impl Into<String>) -> Self {
        Self::new(
            Code::SkippedStale,
            message,
            "nothing was changed; a new plan judges this user again",
        )
    }
}

/// What the provider said about the user, and what the product knows besides.
pub struct Facts<'a> {
    pub state: &'a LicenseState,
    /// Latest sign-in before this counts as inactive (the plan's inactive days, from now).
    pub cutoff: DateTime<Utc>,
    /// A worker took this item before and may have sent the removal without hearing back.
    pub taken_before: bool,
    /// An admin accepted the finding after the plan was made.
    pub accepted_since: bool,
}

pub fn judge(item: &PlanItem, facts: &Facts<'_>) -> Verdict {
    let Some(license) = facts.state.license(&item.sku_external_id) else {
        return Verdict::Leave(if facts.taken_before {
            ItemOutcome::new(
                Code::AlreadyRemoved,
                "the license was gone when the item was taken up again: the earlier attempt \
                 removed it and its answer was lost, or someone removed it meanwhile",
                "its seat is free; undo restores it like a removal",
            )
        } else {
            ItemOutcome::stale("the user no longer holds the license")
        });
    };
    if facts.accepted_since {
        return Verdict::Leave(ItemOutcome::stale(
            "an admin accepted this finding after the plan was made",
        ));
    }
    let groups = license.paths.group_ids();
    if !groups.is_empty() {
        return Verdict::Leave(ItemOutcome::new(
            Code::InheritedFromGroup,
            format!(
                "the license now also comes from group(s) {}: removing the user's own \
                 assignment would free no seat",
                groups.join(", ")
            ),
            "remove the user from the group(s), or take the license off the group, at the \
             provider",
        ));
    }
    if let Some(error) = license.paths.error() {
        return Verdict::Leave(ItemOutcome::stale(format!(
            "the license is now in an error state ({})",
            error.as_str()
        )));
    }
    match finding_still_holds(item, facts) {
        Ok(()) => Verdict::Remove,
        Err(why) => Verdict::Leave(ItemOutcome::stale(why)),
    }
}

fn finding_still_holds(item: &PlanItem, facts: &Facts<'_>) -> Result<(), String> {
    let state = facts.state;
    let latest = [
        state.sign_in.last_interactive,
        state.sign_in.last_non_interactive,
        state.sign_in.last_successful,
    ]
    .into_iter()
    .flatten()
    .max();
    let signed_in = |at: DateTime<Utc>| format!("the user signed in on {}", at.format("%Y-%m-%d"));
    match FindingKind::parse("findingKind", &item.finding_kind) {
        Ok(FindingKind::DisabledAccount) if state.account_enabled => {
            Err("the account was enabled again".into())
        }
        Ok(FindingKind::InactiveUser) => match latest {
            None => Err("the user's sign-in dates could not be read".into()),
            Some(at) if at >= facts.cutoff => Err(signed_in(at)),
            Some(_) => Ok(()),
        },
        Ok(FindingKind::NeverSignedIn) => latest.map_or(Ok(()), |at| Err(signed_in(at))),
        Ok(FindingKind::OverlappingAssignment) => {
            let container = item.contained_in_sku_external_id.as_deref();
            match container.and_then(|sku| state.license(sku)) {
                Some(_) => Ok(()),
                None => Err("the user no longer holds the license that included this one".into()),
            }
        }
        Ok(_) => Ok(()),
        Err(_) => Err(format!("unknown finding kind {:?}", item.finding_kind)),
    }
}
