//! The table stream's images: an item as a stream record holds it, decoded into the entity
//! the audit mapping ([`shared::audit`]) understands.

use shared::audit::{Entity, MappingError};

use crate::keys;

/// Whether a record's keys are a bookkeeping item's (a rate limit's counter, a lifecycle
/// run's checkpoint), which is no entity of the audit trail: the audit writer skips its records.
pub fn is_bookkeeping(keys: &serde_dynamo::Item) -> bool {
    matches!(
        keys.get(keys::PK),
        Some(serde_dynamo::AttributeValue::S(pk))
            if pk.starts_with(keys::COUNTER_PK_PREFIX) || pk.starts_with(keys::CHECKPOINT_PK_PREFIX)
    )
}

/// Decodes a stream image (`None` for an empty one). The error names the item type, never a
/// stored value.
pub fn entity_from_image(image: serde_dynamo::Item) -> Result<Option<Entity>, MappingError> {
    if image.is_empty() {
        return Ok(None);
    }
    let entity = match image.get(keys::ENTITY) {
        Some(serde_dynamo::AttributeValue::S(entity)) => entity.clone(),
        _ => return Err(MappingError::UnknownItem),
    };
    let undecodable = |entity: &'static str| move |_| MappingError::Undecodable { entity };
    let decoded = match entity.as_str() {
        "org" => Entity::Org(serde_dynamo::from_item(image).map_err(undecodable("org"))?),
        "service_account" => {
            Entity::Account(serde_dynamo::from_item(image).map_err(undecodable("service_account"))?)
        }
        "token" => Entity::Token(serde_dynamo::from_item(image).map_err(undecodable("token"))?),
        "trust_policy" => Entity::TrustPolicy(
            serde_dynamo::from_item(image).map_err(undecodable("trust_policy"))?,
        ),
        _ => return Err(MappingError::UnknownItem),
    };
    Ok(Some(decoded))
}
