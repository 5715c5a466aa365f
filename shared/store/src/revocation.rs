//! Revocation sweeps: every token of an owner, those a predicate selects, or a whole
//! rotation lineage.

use futures_util::StreamExt;
use shared::ids::OrgId;
use shared::ids::TokenId;
use shared::model::{Actor, Token, lineage};
use shared::token::TokenOwner;
use time::OffsetDateTime;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::items::TokenListScope;
use crate::paging::PageLimit;
use crate::records::{key, token_owner};
use crate::{DynamoStore, StoreError, keys};

impl DynamoStore {
    /// Revokes every token of `owner` that is not revoked yet, as `actor`, keeping each
    /// record for `retention`. A token changed concurrently (its last-used time, say) is
    /// re-read and revoked again. Returns how many tokens this call revoked.
    pub async fn revoke_tokens(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<usize, StoreError> {
        self.revoke_tokens_where(org, owner, actor, at, retention, |_| true)
            .await
    }

    /// [`Self::revoke_tokens`], for the tokens of `owner` that `which` selects.
    pub async fn revoke_tokens_where(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
        which: impl Fn(&Token) -> bool,
    ) -> Result<usize, StoreError> {
        let scope = TokenListScope::Owner(owner.clone());
        let mut revoked = 0;
        // A token can appear while a pass runs (a self-rotation that committed just before
        // its parent was revoked): passes repeat until one finds nothing left to revoke.
        for _pass in 0..Self::REVOKE_PASSES {
            let mut revoked_this_pass = 0;
            let mut cursor = None;
            loop {
                let page = self
                    .list_tokens(org, &scope, PageLimit(PageLimit::MAX), cursor.as_deref())
                    .await?;
                // A page's revocations run side by side (a bounded number at a time), so a
                // sweep of many tokens is a few round trips, not one per token.
                let outcomes: Vec<Result<bool, StoreError>> =
                    futures_util::stream::iter(page.items.into_iter().filter(|token| which(token)))
                        .map(|token| self.revoke_one(org, owner, token, actor, None, at, retention))
                        .buffer_unordered(Self::REVOKE_CONCURRENCY)
                        .collect()
                        .await;
                for outcome in outcomes {
                    if outcome? {
                        revoked_this_pass += 1;
                    }
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            if revoked_this_pass == 0 {
                return Ok(revoked);
            }
            revoked += revoked_this_pass;
        }
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: 0,
        })
    }

    /// Revokes at `at`, as `actor` (with `reason`, when a rule or a detection did it), every
    /// member of `id`'s rotation lineage still usable then, predecessors in their grace period
    /// and successors alike, and the OAuth2 access tokens issued for any member
    /// ([`lineage::to_revoke`]). Each round is one listing of the owner's tokens; rounds
    /// repeat while one finds something left (a rotation that committed meanwhile), so however
    /// long the lineage, one call ends it. How many tokens it revoked.
    #[allow(clippy::too_many_arguments)]
    pub async fn revoke_lineage(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
        actor: &Actor,
        reason: Option<&str>,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<usize, StoreError> {
        let mut revoked = 0;
        for _round in 0..Self::REVOKE_PASSES {
            let tokens = self.all_tokens(org, owner).await?;
            let left: Vec<Token> = lineage::to_revoke(&tokens, id, at)
                .into_iter()
                .cloned()
                .collect();
            if left.is_empty() {
                return Ok(revoked);
            }
            let outcomes: Vec<Result<bool, StoreError>> = futures_util::stream::iter(left)
                .map(|token| self.revoke_one(org, owner, token, actor, reason, at, retention))
                .buffer_unordered(Self::REVOKE_CONCURRENCY)
                .collect()
                .await;
            for outcome in outcomes {
                if outcome? {
                    revoked += 1;
                }
            }
        }
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: 0,
        })
    }

    /// Every token of `owner`, revoked ones included, read consistently page by page.
    async fn all_tokens(&self, org: &OrgId, owner: &TokenOwner) -> Result<Vec<Token>, StoreError> {
        let scope = TokenListScope::Owner(owner.clone());
        let mut tokens = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .list_tokens(org, &scope, PageLimit(PageLimit::MAX), cursor.as_deref())
                .await?;
            tokens.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(tokens),
            }
        }
    }

    /// Revokes `token` unless it is revoked already; re-reads it after a concurrent change.
    /// Whether this call revoked it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn revoke_one(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        mut token: Token,
        actor: &Actor,
        reason: Option<&str>,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<bool, StoreError> {
        for _attempt in 0..5 {
            if token.revoked_at.is_some_and(|earlier| earlier <= at) {
                return Ok(false);
            }
            token.revoke(actor.clone(), at, retention);
            if let Some(reason) = reason {
                token.revocation_reason = Some(reason.to_owned());
            }
            match self.write_revocation(&token).await {
                Ok(()) => return Ok(true),
                Err(StoreError::VersionConflict { .. }) => {
                    match self.get_token(org, owner, &token.id).await? {
                        Some(fresh) => token = fresh,
                        None => return Ok(false),
                    }
                }
                Err(StoreError::NotFound { .. }) => return Ok(false),
                Err(error) => return Err(error),
            }
        }
        // Still changing after five tries: say so rather than leave it silently active.
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: token.version,
        })
    }

    /// Writes `token`'s revocation (as [`Token::revoke`] left it) onto the stored item, if it
    /// is still at the version it was read at: an `UpdateItem` of the revocation's attributes
    /// alone (and the lifecycle's index keys, which a revoked token leaves), never a whole
    /// item. So a function that may revoke tokens (the authorizer answering a reuse) is not
    /// thereby able to write one.
    async fn write_revocation(&self, token: &Token) -> Result<(), StoreError> {
        let failed = |reason: String| StoreError::Corrupt {
            entity: "token",
            reason,
        };
        let value = |value: &dyn encoded::Value| value.attribute().map_err(failed);
        let (Some(revoked_at), Some(revoked_by), Some(purge_after)) =
            (token.revoked_at, &token.revoked_by, token.purge_after)
        else {
            return Err(failed(
                "a revocation without its time, actor or retention".into(),
            ));
        };
        let mut set = vec![
            "#revokedAt = :revokedAt",
            "#revokedBy = :revokedBy",
            "#purgeAfter = :purgeAfter",
            "#ttl = :ttl",
            "#version = :next",
        ];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::org_pk(&token.org),
                keys::token_sk(&token_owner(token), &token.id),
            )))
            .expression_attribute_names("#revokedAt", "revokedAt")
            .expression_attribute_names("#revokedBy", "revokedBy")
            .expression_attribute_names("#purgeAfter", "purgeAfter")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_names("#activeAt", keys::ACTIVE_AT)
            .expression_attribute_names("#expiring", keys::EXPIRING)
            .expression_attribute_values(":revokedAt", value(&encoded::Rfc3339(revoked_at))?)
            .expression_attribute_values(":revokedBy", value(revoked_by)?)
            .expression_attribute_values(":purgeAfter", value(&encoded::Rfc3339(purge_after))?)
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N(purge_after.unix_timestamp().to_string()),
            )
            .expression_attribute_values(
                ":next",
                AttributeValue::N((token.version + 1).to_string()),
            )
            .expression_attribute_values(":version", AttributeValue::N(token.version.to_string()));
        if let Some(reason) = &token.revocation_reason {
            set.push("#reason = :reason");
            update = update
                .expression_attribute_names("#reason", "revocationReason")
                .expression_attribute_values(":reason", AttributeValue::S(reason.clone()));
        }
        let result = update
            .update_expression(format!(
                "SET {} REMOVE #activeAt, #expiring",
                set.join(", ")
            ))
            .condition_expression("#version = :version")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::VersionConflict {
                    entity: "token",
                    expected: token.version,
                })
            }
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }
}

/// The attribute values of a revocation, encoded as the item's own fields are (`serde_dynamo`).
mod encoded {
    use aws_sdk_dynamodb::types::AttributeValue;
    use time::OffsetDateTime;

    /// A value that becomes one attribute.
    pub(super) trait Value {
        fn attribute(&self) -> Result<AttributeValue, String>;
    }

    /// A time as the items store it (RFC 3339 text).
    pub(super) struct Rfc3339(pub OffsetDateTime);

    impl Value for Rfc3339 {
        fn attribute(&self) -> Result<AttributeValue, String> {
            self.0
                .format(&time::format_description::well_known::Rfc3339)
                .map(AttributeValue::S)
                .map_err(|error| error.to_string())
        }
    }

    impl Value for shared::model::Actor {
        fn attribute(&self) -> Result<AttributeValue, String> {
            serde_dynamo::to_attribute_value(self).map_err(|error| error.to_string())
        }
    }
}
