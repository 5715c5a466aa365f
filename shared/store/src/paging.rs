//! Pages of a list: the page size, the loop that fills a page despite DynamoDB applying
//! `Limit` before a filter, and cursors bound to their organization and list.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use shared::ids::OrgId;

use crate::records::{Record, decode, key};
use crate::{DynamoStore, Item, StoreError, keys};

/// How many items a list page holds: 1–100, default 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(pub(crate) u16);

impl PageLimit {
    pub const MAX: u16 = 100;
    /// The largest page.
    pub const FULL: Self = Self(Self::MAX);

    pub fn parse(value: u64) -> Result<Self, shared::ParseError> {
        match u16::try_from(value) {
            Ok(limit @ 1..=Self::MAX) => Ok(Self(limit)),
            _ => Err(shared::ParseError::new("`limit` is between 1 and 100")),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(50)
    }
}

/// One page of a list, and the cursor of the next page if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl DynamoStore {
    /// One page of the items of `org` whose sort key starts with `sk_prefix` and that pass
    /// `filter`. DynamoDB applies `Limit` before a filter, so this keeps querying until it has
    /// one item more than the page holds (which proves another page exists) or the
    /// partition is exhausted.
    pub(crate) async fn query_page<T: Record>(
        &self,
        org: &OrgId,
        sk_prefix: &str,
        filter: Option<&str>,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<T>, StoreError> {
        let pk = keys::org_pk(org);
        let start = cursor
            .map(|cursor| decode_cursor(cursor, org, sk_prefix))
            .transpose()?
            .map(|sk| key(pk.clone(), sk));
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .set_filter_expression(filter.map(str::to_owned))
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(sk_prefix.to_owned()))
            .consistent_read(true);
        let (items, next_cursor) = query_items(query, start, limit, org).await?;
        let items = items.into_iter().map(decode).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

/// Runs `query` from `start` until it has a page of `limit` items and the cursor of the next
/// page, if there is one. DynamoDB applies `Limit` before a filter, so this keeps querying
/// until it has one item more than the page holds (which proves another page exists) or the
/// query is exhausted; the cursor names the last item's sort key, bound to `org`.
pub(crate) async fn query_items(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    mut start: Option<Item>,
    limit: PageLimit,
    org: &OrgId,
) -> Result<(Vec<Item>, Option<String>), StoreError> {
    let wanted = usize::from(limit.get());
    let mut items: Vec<Item> = Vec::with_capacity(wanted + 1);
    loop {
        let missing = wanted + 1 - items.len();
        let output = query
            .clone()
            .limit(i32::try_from(missing).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| StoreError::sdk("Query", error))?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if items.len() > wanted || start.is_none() {
            break;
        }
    }
    let has_more = items.len() > wanted;
    items.truncate(wanted);
    let next_cursor = match items.last().and_then(|last| last.get(keys::SK)) {
        Some(AttributeValue::S(sort_key)) if has_more => Some(encode_cursor(org, sort_key)),
        _ => None,
    };
    Ok((items, next_cursor))
}

/// A cursor names the organization and the last sort key seen. It is checked against the
/// organization and the list it is used with, so a cursor can neither read another
/// organization nor jump into another kind of item.
pub(crate) fn encode_cursor(org: &OrgId, sort_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1\n{org}\n{sort_key}"))
}

fn decode_cursor(cursor: &str, org: &OrgId, sk_prefix: &str) -> Result<String, StoreError> {
    decode_cursor_where(cursor, org, |sort_key| {
        sort_key.len() > sk_prefix.len()
            && sort_key.starts_with(sk_prefix)
            && sort_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'#')
    })
}

/// The sort key a cursor names, if the cursor was made for `org` and the key passes `valid`.
pub(crate) fn decode_cursor_where(
    cursor: &str,
    org: &OrgId,
    valid: impl Fn(&str) -> bool,
) -> Result<String, StoreError> {
    if cursor.len() > 512 {
        return Err(StoreError::InvalidCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(cursor_org), Some(sort_key))
            if cursor_org == org.as_str() && valid(sort_key) =>
        {
            Ok(sort_key.to_owned())
        }
        _ => Err(StoreError::InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_bound_to_their_org_and_list() {
        let acme = OrgId::parse("acme").unwrap();
        let other = OrgId::parse("other").unwrap();
        let cursor = encode_cursor(&acme, "SA#0123456789abcdef");
        assert_eq!(
            decode_cursor(&cursor, &acme, "SA#").unwrap(),
            "SA#0123456789abcdef"
        );
        assert!(decode_cursor(&cursor, &other, "SA#").is_err());
        assert!(decode_cursor(&cursor, &acme, "TK#").is_err());
        for tampered in [
            "",
            "!!!",
            "djEKYWNtZQ",
            &format!("{cursor}x"),
            &"A".repeat(600),
        ] {
            assert!(decode_cursor(tampered, &acme, "SA#").is_err(), "{tampered}");
        }
    }

    #[test]
    fn page_limits_are_between_one_and_a_hundred() {
        assert!(PageLimit::parse(0).is_err());
        assert_eq!(PageLimit::parse(1).unwrap().get(), 1);
        assert_eq!(PageLimit::parse(100).unwrap().get(), 100);
        assert!(PageLimit::parse(101).is_err());
        assert!(PageLimit::parse(u64::MAX).is_err());
        assert_eq!(PageLimit::default().get(), 50);
    }
}
