//! The audit table: append-only, written by the audit writer alone, read by the admin API.
//!
//! | attribute | value |
//! | --- | --- |
//! | `pk` | `ORG#<org>`: an organization's trail, by time (the table's key) |
//! | `sk` | `<time, RFC 3339 with milliseconds>#<stream sequence number, 40 digits>#<event id>` |
//! | `targetPk` | `ORG#<org>#<target kind>#<target id>`: one target's trail (index `by-target`) |
//! | `accountPk` | `ORG#<org>#service_account#<account id>`: an account's and its tokens' trail (index `by-account`) |
//! | `ttl` | the end of the event's retention, in epoch seconds |
//!
//! The sort key orders events by time, then by their order in the stream (sequence numbers
//! increase), and ends with the event id that makes it unique. A redelivered stream record
//! has the same time, sequence number and event id, so it maps to the same key, and the
//! conditional put keeps the first write.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use shared::audit::{AuditAction, AuditEvent, AuditTargetKind};
use shared::config::TableName;
use shared::ids::{OrgId, ServiceAccountId, TokenId};

use crate::paging::{Page, PageLimit, decode_cursor_where, query_items};
use crate::records::put_absent;
use crate::{StoreError, keys};

type Item = HashMap<String, AttributeValue>;

const TARGET_PK: &str = "targetPk";
const ACCOUNT_PK: &str = "accountPk";
pub const BY_TARGET_INDEX: &str = "by-target";
pub const BY_ACCOUNT_INDEX: &str = "by-account";

/// Whether a put wrote the event or found it already written (a redelivered record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    AlreadyWritten,
}

/// What an audit query selects, beside its organization. Every filter is optional; `since`
/// is inclusive and `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events on this account or on any of its tokens.
    pub account: Option<ServiceAccountId>,
    /// Events on this token.
    pub token: Option<TokenId>,
    pub action: Option<AuditAction>,
    /// Events by this actor (its `id`: an account id, an IAM ARN, an operator's name).
    pub actor: Option<String>,
    /// Events by this person (signed in with an identity provider): their subject or their
    /// display name (an email, a name).
    pub person: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

#[derive(Clone)]
pub struct AuditStore {
    client: Client,
    table: String,
}

impl fmt::Debug for AuditStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditStore")
            .field("table", &self.table)
            .finish()
    }
}

impl AuditStore {
    pub fn new(client: Client, table: &TableName) -> Self {
        Self {
            client,
            table: table.as_str().to_owned(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes `event` unless an event with the same key exists; `sequence` is the stream
    /// record's sequence number and `keep_until` the end of its retention.
    pub async fn put(
        &self,
        event: &AuditEvent,
        sequence: &str,
        keep_until: OffsetDateTime,
    ) -> Result<PutOutcome, StoreError> {
        let mut item: Item = serde_dynamo::to_item(event).map_err(|error| StoreError::Corrupt {
            entity: "audit event",
            reason: error.to_string(),
        })?;
        let sk = sort_key(event.time, sequence, &event.id)?;
        item.insert(keys::PK.into(), AttributeValue::S(keys::org_pk(&event.org)));
        item.insert(keys::SK.into(), AttributeValue::S(sk));
        item.insert(
            TARGET_PK.into(),
            AttributeValue::S(target_pk(&event.org, event.target.kind, &event.target.id)),
        );
        if let Some(account) = &event.target.account {
            item.insert(
                ACCOUNT_PK.into(),
                AttributeValue::S(account_pk(&event.org, account)),
            );
        }
        item.insert(
            keys::TTL.into(),
            AttributeValue::N(keep_until.unix_timestamp().to_string()),
        );
        Ok(match put_absent(&self.client, &self.table, item).await? {
            None => PutOutcome::Written,
            Some(_) => PutOutcome::AlreadyWritten,
        })
    }

    /// One page of the organization's events that pass `filter`, newest first.
    ///
    /// A token filter reads the `by-target` index, an account filter the `by-account` index,
    /// anything else the organization's partition of the table (strongly consistent; the
    /// indexes are eventually consistent, by a fraction of a second). Time bounds are key
    /// conditions; action and actor are filters, read until the page is full.
    pub async fn query(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let pk = keys::org_pk(org);
        let (index, hash_name, hash_value) = match (&filter.token, &filter.account) {
            (Some(token), _) => (
                Some(BY_TARGET_INDEX),
                TARGET_PK,
                target_pk(org, AuditTargetKind::Token, token.as_str()),
            ),
            (None, Some(account)) => (Some(BY_ACCOUNT_INDEX), ACCOUNT_PK, account_pk(org, account)),
            (None, None) => (None, keys::PK, pk.clone()),
        };
        let mut conditions = Vec::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        if let (Some(_), Some(account)) = (&filter.token, &filter.account) {
            conditions.push("#account = :account");
            values.insert(
                ":account".into(),
                AttributeValue::S(account_pk(org, account)),
            );
        }
        if let Some(action) = filter.action {
            conditions.push("#action = :action");
            values.insert(":action".into(), AttributeValue::S(action.as_str().into()));
        }
        if let Some(actor) = &filter.actor {
            conditions.push("#actor.#id = :actor");
            values.insert(":actor".into(), AttributeValue::S(actor.clone()));
        }
        if let Some(person) = &filter.person {
            conditions
                .push("#actor.#kind = :person_kind AND (#actor.#id = :person OR #actor.#display = :person)");
            values.insert(":person_kind".into(), AttributeValue::S("person".into()));
            values.insert(":person".into(), AttributeValue::S(person.clone()));
        }
        let low = match filter.since {
            Some(since) => format_time(since)?,
            None => "0".to_owned(),
        };
        let high = match filter.until {
            // `<until>` sorts before every key of that instant (`<until>#…`): exclusive.
            Some(until) => format_time(until)?,
            None => "~".to_owned(),
        };
        values.insert(":hash".into(), AttributeValue::S(hash_value.clone()));
        values.insert(":low".into(), AttributeValue::S(low.clone()));
        values.insert(":high".into(), AttributeValue::S(high.clone()));
        let mut names = HashMap::from([
            ("#hash".to_owned(), hash_name.to_owned()),
            ("#sk".to_owned(), keys::SK.to_owned()),
        ]);
        for (name, attribute) in [
            ("#account", ACCOUNT_PK),
            ("#action", "action"),
            ("#actor", "actor"),
            ("#id", "id"),
            ("#kind", "kind"),
            ("#display", "display"),
        ] {
            if conditions.iter().any(|condition| condition.contains(name)) {
                names.insert(name.to_owned(), attribute.to_owned());
            }
        }
        let filter_expression = (!conditions.is_empty()).then(|| conditions.join(" AND "));

        let empty = || Page {
            items: Vec::new(),
            next_cursor: None,
        };
        // `until` at or before `since`: nothing is in the range (and DynamoDB refuses a
        // BETWEEN whose bounds are reversed).
        if low > high {
            return Ok(empty());
        }
        // Pages go from the newest down. A cursor at or below the range's start leaves
        // nothing; one above its end (a cursor from a wider query) starts at its end.
        let start = match cursor {
            Some(cursor) => {
                let sk = decode_cursor(cursor, org)?;
                if sk <= low {
                    return Ok(empty());
                }
                if sk > high {
                    None
                } else {
                    let mut key = HashMap::from([
                        (keys::PK.to_owned(), AttributeValue::S(pk)),
                        (keys::SK.to_owned(), AttributeValue::S(sk)),
                    ]);
                    key.insert(hash_name.to_owned(), AttributeValue::S(hash_value));
                    Some(key)
                }
            }
            None => None,
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#hash = :hash AND #sk BETWEEN :low AND :high")
            .set_filter_expression(filter_expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .consistent_read(index.is_none())
            .scan_index_forward(false);
        let (items, next_cursor) = query_items(query, start, limit, org).await?;
        let items = items
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|error| StoreError::Corrupt {
                    entity: "audit event",
                    reason: error.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

fn target_pk(org: &OrgId, kind: AuditTargetKind, id: &str) -> String {
    let kind = match kind {
        AuditTargetKind::Org => "org",
        AuditTargetKind::ServiceAccount => "service_account",
        AuditTargetKind::Token => "token",
        AuditTargetKind::TrustPolicy => "trust_policy",
    };
    format!("{}#{kind}#{id}", keys::org_pk(org))
}

fn account_pk(org: &OrgId, account: &ServiceAccountId) -> String {
    target_pk(org, AuditTargetKind::ServiceAccount, account.as_str())
}

/// RFC 3339 in UTC with exactly three fractional digits, so that text order is time order.
fn format_time(at: OffsetDateTime) -> Result<String, StoreError> {
    let at = at
        .checked_to_offset(time::UtcOffset::UTC)
        .filter(|at| (0..=9999).contains(&at.year()))
        .ok_or(StoreError::InvalidTime)?;
    let whole = at
        .replace_nanosecond(0)
        .map_err(|error| StoreError::dynamo("PutItem", error))?
        .format(&Rfc3339)
        .map_err(|error| StoreError::dynamo("PutItem", error))?;
    // `…:SSZ` → `…:SS.mmmZ`
    let seconds = whole.trim_end_matches('Z');
    Ok(format!("{seconds}.{:03}Z", at.millisecond()))
}

fn sort_key(at: OffsetDateTime, sequence: &str, event_id: &str) -> Result<String, StoreError> {
    if sequence.is_empty() || sequence.len() > 40 || !sequence.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::Corrupt {
            entity: "audit event",
            reason: "the stream sequence number is not 1 to 40 digits".into(),
        });
    }
    Ok(format!("{}#{sequence:0>40}#{event_id}", format_time(at)?))
}

/// The sort key a cursor names, if it was made for this organization's audit trail.
fn decode_cursor(cursor: &str, org: &OrgId) -> Result<String, StoreError> {
    decode_cursor_where(cursor, org, |sort_key| {
        sort_key.split('#').count() == 3
            && sort_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"#-:.".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::encode_cursor;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use time::macros::datetime;

    #[test]
    fn sort_keys_order_by_time_then_stream_order() {
        let early = sort_key(datetime!(2026-05-01 00:00:00.5 UTC), "900", "b").unwrap();
        let late = sort_key(datetime!(2026-05-01 00:00:01 UTC), "10", "a").unwrap();
        assert_eq!(
            late,
            format!("2026-05-01T00:00:01.000Z#{}10#a", "0".repeat(38))
        );
        assert!(early < late);
        let first = sort_key(datetime!(2026-05-01 00:00:01 UTC), "9", "z").unwrap();
        assert!(first < late, "same instant: the stream's order");
        assert!(sort_key(datetime!(2026-05-01 00:00:01 UTC), "12a", "a").is_err());
        assert!(sort_key(datetime!(2026-05-01 00:00:01 UTC), "", "a").is_err());
    }

    #[test]
    fn time_bounds_bracket_the_keys_of_their_instant() {
        let at = datetime!(2026-05-01 10:00:00 +02:00);
        let bound = format_time(at).unwrap();
        assert_eq!(bound, "2026-05-01T08:00:00.000Z");
        let key = sort_key(at, "1", "x").unwrap();
        assert!(bound.as_str() < key.as_str(), "since is inclusive");
        assert!(key.as_str() < "~" && "0" < key.as_str());
    }

    #[test]
    fn cursors_are_bound_to_their_org() {
        let acme = OrgId::parse("acme").unwrap();
        let other = OrgId::parse("other").unwrap();
        let sk = sort_key(datetime!(2026-05-01 00:00 UTC), "1", "abc-1").unwrap();
        let cursor = encode_cursor(&acme, &sk);
        assert_eq!(decode_cursor(&cursor, &acme).unwrap(), sk);
        assert!(decode_cursor(&cursor, &other).is_err());
        let forged = URL_SAFE_NO_PAD.encode("v1\nacme\nSA#x\" OR 1=1");
        assert!(decode_cursor(&forged, &acme).is_err());
        assert!(decode_cursor("%%%", &acme).is_err());
    }
}
