//! The scheduled lifecycle run: for every organization whose policy asks for it, expiry
//! warnings (`token.expiring`, once per window) and the retirement of unused tokens (revoked by
//! the actor `policy` / `revokeUnusedAfterDays`, with the reason). The decisions are
//! [`shared::lifecycle`]'s; this finds the candidates and writes.
//!
//! * **The work grows with the tokens concerned, not the table.** Organizations come from the
//!   sparse `lifecycle` index; warnings read, per organization, only the expiries that crossed
//!   a window since the last complete run (the checkpoint), from the sparse `expiring` index;
//!   retirements read only tokens inactive past the threshold, from the sparse `unused` index,
//!   and each one read is revoked and leaves it. Every read is counted in the report.
//! * **Idempotent.** A warning is a conditional write of the token's `expiryWarning` (its
//!   version), decided on a consistent read: two overlapping runs, or a retried one, write it
//!   once. A retired token is revoked, so it is never retired twice.
//! * **Partial failures.** A token that fails is counted and left for the next run (its
//!   organization's checkpoint does not move); the other tokens and organizations go on. A run
//!   fails as a whole only when the organizations cannot be listed.

use std::collections::HashSet;

use shared::ids::OrgId;
use shared::lifecycle::{self, Checkpoint};
use shared::model::{Actor, ExpiryWarning, OrgStatus, Organization, Token, TokenStatus};
use shared::policy::{ExpiryWarningDays, UnusedDays};
use shared::token::TokenOwner;
use store::StoreError;
use time::OffsetDateTime;

use crate::{UseCaseError, UseCases};

/// The most unused tokens one run retires per organization; the rest are next run's.
pub const MAX_RETIREMENTS_PER_RUN: usize = 1000;

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleReport {
    /// Organizations with a lifecycle policy.
    pub orgs: usize,
    /// Items read (index entries and items), the run's work.
    pub items_read: u64,
    /// Warnings recorded (`token.expiring`).
    pub warned: usize,
    /// Unused tokens revoked.
    pub retired: usize,
    /// Tokens whose stale index keys were removed (expired, revoked or rotated).
    pub untracked: usize,
    /// Tokens or organizations that failed, left for the next run.
    pub failed: usize,
}

enum Acted {
    Warned,
    Retired,
    Untracked,
    Nothing,
}

fn owner_of(token: &Token) -> TokenOwner {
    match &token.account {
        Some(account) => TokenOwner::Account(account.clone()),
        None => TokenOwner::Org,
    }
}

impl UseCases {
    /// One run over every organization with a lifecycle policy, as of now.
    pub async fn run_lifecycle(&self) -> Result<LifecycleReport, UseCaseError> {
        let now = self.now();
        let orgs = self.store.lifecycle_orgs().await?;
        let mut report = LifecycleReport {
            orgs: orgs.items.len(),
            items_read: orgs.read,
            ..LifecycleReport::default()
        };
        for org in &orgs.items {
            if let Err(error) = self.lifecycle_of(org, now, &mut report).await {
                report.failed += 1;
                tracing::warn!(%org, %error, "the lifecycle of an organization failed; the next run retries it");
            }
        }
        tracing::info!(
            orgs = report.orgs,
            items_read = report.items_read,
            warned = report.warned,
            retired = report.retired,
            untracked = report.untracked,
            failed = report.failed,
            "lifecycle run"
        );
        Ok(report)
    }

    async fn lifecycle_of(
        &self,
        id: &OrgId,
        now: OffsetDateTime,
        report: &mut LifecycleReport,
    ) -> Result<(), UseCaseError> {
        report.items_read += 1;
        let Some(org) = self.store.get_org(id).await? else {
            return Ok(());
        };
        // A disabled organization's tokens are not in use by choice: neither warned nor retired.
        if org.status != OrgStatus::Active {
            return Ok(());
        }
        let windows = org.token_policy.expiry_warning_days().clone();
        if !windows.is_empty() {
            self.expiry_warnings(&org, &windows, now, report).await?;
        }
        if let Some(after) = org.token_policy.revoke_unused_after_days() {
            self.retire_unused(&org, after, now, report).await?;
        }
        Ok(())
    }

    async fn expiry_warnings(
        &self,
        org: &Organization,
        windows: &ExpiryWarningDays,
        now: OffsetDateTime,
        report: &mut LifecycleReport,
    ) -> Result<(), UseCaseError> {
        let checkpoint = self.store.warnings_checkpoint(&org.id).await?;
        report.items_read += checkpoint.read;
        let mut complete = true;
        let mut seen = HashSet::new();
        for (after, upto) in lifecycle::expiry_ranges(windows, checkpoint.items.first(), now) {
            let found = self
                .store
                .tokens_expiring(&org.id, after, upto, usize::MAX)
                .await?;
            report.items_read += found.read;
            // A damaged item is logged and counted, and the others go on.
            report.failed += found.unreadable;
            for token in found.items {
                if !seen.insert(token.id.clone()) {
                    continue;
                }
                let id = token.id.clone();
                match self.warn(token, windows, now).await {
                    Ok(acted) => count(report, &acted),
                    Err(error) => {
                        complete = false;
                        report.failed += 1;
                        tracing::warn!(org = %org.id, token = %id, %error, "an expiry warning failed; the next run retries it");
                    }
                }
            }
        }
        if complete {
            let done = Checkpoint {
                through: now,
                windows: windows.clone(),
            };
            self.store.save_warnings_checkpoint(&org.id, &done).await?;
        }
        Ok(())
    }

    /// Records the warning `token` is due, on a fresh read if it changed meanwhile.
    async fn warn(
        &self,
        mut token: Token,
        windows: &ExpiryWarningDays,
        now: OffsetDateTime,
    ) -> Result<Acted, UseCaseError> {
        for _attempt in 0..3 {
            if !lifecycle::is_tracked(&token) || token.status(now) == TokenStatus::Expired {
                self.store.untrack_token(&token).await?;
                return Ok(Acted::Untracked);
            }
            let Some(days) = lifecycle::warning_due(&token, windows, now) else {
                return Ok(Acted::Nothing);
            };
            let warning = ExpiryWarning {
                days,
                warned_at: now,
                warned_by: Actor::policy(lifecycle::EXPIRY_WARNING_RULE),
            };
            // The warning alone, on the version read: a last use stamped meanwhile stays.
            match self.store.record_expiry_warning(&token, &warning).await {
                Ok(()) => return Ok(Acted::Warned),
                // Changed meanwhile (another run warned it, an admin revoked it): decide again.
                Err(StoreError::VersionConflict { .. }) => {
                    token = self.token(&token.org, &owner_of(&token), &token.id).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(UseCaseError::Conflict(
            "the token keeps changing; retry".into(),
        ))
    }

    async fn retire_unused(
        &self,
        org: &Organization,
        after: UnusedDays,
        now: OffsetDateTime,
        report: &mut LifecycleReport,
    ) -> Result<(), UseCaseError> {
        let cutoff = now - after.duration();
        let found = self
            .store
            .tokens_inactive_since(&org.id, cutoff, MAX_RETIREMENTS_PER_RUN)
            .await?;
        report.items_read += found.read;
        report.failed += found.unreadable;
        for token in found.items {
            let id = token.id.clone();
            match self.retire(token, after, now).await {
                Ok(acted) => count(report, &acted),
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(org = %org.id, token = %id, %error, "retiring an unused token failed; the next run retries it");
                }
            }
        }
        Ok(())
    }

    async fn retire(
        &self,
        token: Token,
        after: UnusedDays,
        now: OffsetDateTime,
    ) -> Result<Acted, UseCaseError> {
        if !lifecycle::is_tracked(&token) || token.status(now) != TokenStatus::Active {
            self.store.untrack_token(&token).await?;
            return Ok(Acted::Untracked);
        }
        if !lifecycle::retirement_due(&token, after, now) {
            return Ok(Acted::Nothing);
        }
        let reason = lifecycle::retirement_reason(&token, after);
        let actor = Actor::policy(lifecycle::UNUSED_RULE);
        // Decided again on the token as read just before the revocation is written: a use
        // since the index was read spares it.
        let still_due = move |fresh: &Token| lifecycle::retirement_due(fresh, after, now);
        let retired = self
            .revoke_lineage_if(
                &actor,
                Some(&reason),
                &token.org,
                &owner_of(&token),
                &token.id,
                &still_due,
            )
            .await?;
        if !retired {
            return Ok(Acted::Nothing);
        }
        tracing::info!(org = %token.org, token = %token.id, "revoked an unused token");
        Ok(Acted::Retired)
    }
}

fn count(report: &mut LifecycleReport, acted: &Acted) {
    match acted {
        Acted::Warned => report.warned += 1,
        Acted::Retired => report.retired += 1,
        Acted::Untracked => report.untracked += 1,
        Acted::Nothing => {}
    }
}
