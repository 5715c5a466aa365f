//! What IAM authorizes for one SDK call: the call's `X-Amz-Target` and JSON body become the
//! actions on resources (with their condition keys) that AWS checks against the caller's
//! role. A `TransactWriteItems` is one `PutItem`, `UpdateItem`, `DeleteItem` or
//! `ConditionCheckItem` per item, on that item's table; a `BatchGetItem` one per table; a
//! `Query` of an index is on the index's ARN; a Secrets Manager call on the secret's ARN,
//! with its request tags, its resource tags and, for a secret under a customer managed key,
//! the KMS calls Secrets Manager makes with the caller's credentials (`kms:ViaService`); an
//! EventBridge `PutEvents` on each entry's bus.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::policy::Request;

/// What the recorder knows of a secret, from the calls it saw: its tags and its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretFacts {
    pub tags: BTreeMap<String, String>,
    /// A customer managed key (none: the account's `aws/secretsmanager` key).
    pub kms_key: Option<String>,
}

/// Where calls go: the caller's region and account.
#[derive(Debug, Clone)]
pub struct Place<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

impl Place<'_> {
    fn table(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_owned();
        }
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.region, self.account
        )
    }

    /// A secret's ARN: as given, or built from its name (the suffix AWS adds is unknown, and
    /// a `?` matches each of its characters in a policy that spells it).
    pub fn secret(&self, id: &str) -> String {
        if id.starts_with("arn:") {
            return id.to_owned();
        }
        format!(
            "arn:aws:secretsmanager:{}:{}:secret:{id}-??????",
            self.region, self.account
        )
    }

    fn key(&self, id: &str) -> String {
        if id.starts_with("arn:") {
            return id.to_owned();
        }
        format!("arn:aws:kms:{}:{}:key/{id}", self.region, self.account)
    }

    fn bus(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_owned();
        }
        format!(
            "arn:aws:events:{}:{}:event-bus/{name}",
            self.region, self.account
        )
    }
}

/// The service and operation of an `X-Amz-Target` (`DynamoDB_20120810.GetItem`).
pub fn operation(target: &str) -> Option<(&str, &str)> {
    let (service, operation) = target.split_once('.')?;
    let service = match service {
        s if s.starts_with("DynamoDB_") => "dynamodb",
        "secretsmanager" => "secretsmanager",
        "AWSEvents" => "events",
        _ => return None,
    };
    Some((service, operation))
}

/// A secret's name from an id (a name, or an ARN whose last 7 characters are `-` and AWS's
/// suffix).
pub fn secret_name(id: &str) -> String {
    provisioner::secrets::name_in_arn(id).map_or_else(|| id.to_owned(), str::to_owned)
}

/// The IAM requests of one call. `facts` tells what is known of a secret (by name).
pub fn requests(
    target: &str,
    body: &Value,
    place: &Place<'_>,
    facts: &dyn Fn(&str) -> Option<SecretFacts>,
) -> Result<Vec<Request>, String> {
    let (service, operation) =
        self::operation(target).ok_or_else(|| format!("the call {target} is not modelled"))?;
    match service {
        "dynamodb" => dynamodb(operation, body, place),
        "secretsmanager" => secretsmanager(operation, body, place, facts),
        _ => events(operation, body, place),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn dynamodb(operation: &str, body: &Value, place: &Place<'_>) -> Result<Vec<Request>, String> {
    let item = |action: &str, body: &Value| {
        let table = text(&body["TableName"]);
        let resource = match body["IndexName"].as_str() {
            Some(index) => format!("{}/index/{index}", place.table(&table)),
            None => place.table(&table),
        };
        Request::new(format!("dynamodb:{action}"), resource)
            .with("dynamodb:Attributes", attributes(body))
            .with("dynamodb:ReturnValues", optional(&body["ReturnValues"]))
            .with("dynamodb:Select", optional(&body["Select"]))
    };
    Ok(match operation {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" | "Scan"
        | "DescribeTable" => vec![item(operation, body)],
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, _)| Request::new(format!("dynamodb:{operation}"), place.table(table)))
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => {
            let mut out = Vec::new();
            for entry in body["TransactItems"].as_array().into_iter().flatten() {
                let (kind, inner) = entry
                    .as_object()
                    .and_then(|entry| entry.iter().next())
                    .ok_or("an empty transaction item")?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => return Err(format!("a transaction's {other} is not modelled")),
                };
                out.push(item(action, inner));
            }
            out
        }
        other => return Err(format!("DynamoDB {other} is not modelled")),
    })
}

fn optional(value: &Value) -> Vec<String> {
    value
        .as_str()
        .map(|v| vec![v.to_owned()])
        .unwrap_or_default()
}

/// `dynamodb:Attributes`: the top-level attribute names a request names (its key, its item,
/// its expressions' names, its projection), widest reading: a name the policy does not list
/// denies.
fn attributes(body: &Value) -> Vec<String> {
    let mut names = BTreeSet::new();
    for map in ["Key", "Item", "AttributeUpdates"] {
        names.extend(
            body[map]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    let substitutes = body["ExpressionAttributeNames"].as_object();
    for expression in [
        "UpdateExpression",
        "ConditionExpression",
        "ProjectionExpression",
        "KeyConditionExpression",
        "FilterExpression",
    ] {
        let Some(expression) = body[expression].as_str() else {
            continue;
        };
        for word in expression.split(|c: char| !(c.is_alphanumeric() || "#_:.[]".contains(c))) {
            let top = word.split(['.', '[']).next().unwrap_or_default();
            if let Some(placeholder) = top.strip_prefix('#') {
                let name = substitutes.and_then(|names| names.get(&format!("#{placeholder}")));
                names.insert(name.map_or_else(|| top.to_owned(), text));
            } else if !top.is_empty()
                && !top.starts_with(':')
                && !top.chars().all(|c| c.is_ascii_digit())
                && !is_keyword(top)
            {
                names.insert(top.to_owned());
            }
        }
    }
    names.into_iter().collect()
}

fn is_keyword(word: &str) -> bool {
    const WORDS: &[&str] = &[
        "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN",
    ];
    const FUNCTIONS: &[&str] = &[
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "size",
        "if_not_exists",
        "list_append",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) || FUNCTIONS.contains(&word)
}

fn secretsmanager(
    operation: &str,
    body: &Value,
    place: &Place<'_>,
    facts: &dyn Fn(&str) -> Option<SecretFacts>,
) -> Result<Vec<Request>, String> {
    let id = match operation {
        "CreateSecret" => text(&body["Name"]),
        _ => text(&body["SecretId"]),
    };
    let resource = place.secret(&id);
    let known = if operation == "CreateSecret" {
        Some(SecretFacts::default())
    } else {
        facts(&secret_name(&id))
    };
    let request_tags: Vec<(String, String)> = body["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| (text(&tag["Key"]), text(&tag["Value"])))
        .collect();
    let secret_request = |action: &str| {
        let mut request = Request::new(format!("secretsmanager:{action}"), resource.clone())
            .with(
                "aws:TagKeys",
                request_tags.iter().map(|(k, _)| k.clone()).collect(),
            )
            .with("aws:RequestTag/", Vec::new())
            .with("aws:ResourceTag/", Vec::new())
            .with("secretsmanager:ResourceTag/", Vec::new());
        for (key, value) in &request_tags {
            request = request.with(&format!("aws:RequestTag/{key}"), vec![value.clone()]);
        }
        match &known {
            Some(facts) => {
                for (key, value) in &facts.tags {
                    for family in ["aws:ResourceTag", "secretsmanager:ResourceTag"] {
                        request = request.with(&format!("{family}/{key}"), vec![value.clone()]);
                    }
                }
            }
            None => {
                // A condition on any of this secret's tags cannot be decided.
                for family in ["aws:resourcetag/", "secretsmanager:resourcetag/"] {
                    request.unknown.insert(family.to_owned());
                }
            }
        }
        request
    };
    let mut out = vec![secret_request(operation)];
    if operation == "CreateSecret" && !request_tags.is_empty() {
        // Tags on a create need TagResource as well.
        out.push(secret_request("TagResource"));
    }
    // Secrets Manager uses a customer managed key with the caller's credentials.
    let key = match operation {
        "CreateSecret" => body["KmsKeyId"].as_str().map(str::to_owned),
        _ => known.as_ref().and_then(|facts| facts.kms_key.clone()),
    };
    let kms_actions: &[&str] = match operation {
        "CreateSecret" | "PutSecretValue" | "UpdateSecret" => &["GenerateDataKey", "Decrypt"],
        "GetSecretValue" => &["Decrypt"],
        _ => &[],
    };
    if known.is_none() && !kms_actions.is_empty() {
        return Err(format!(
            "{operation} on {id}: the recorder saw neither its creation nor a DescribeSecret, \
             so it cannot tell which key Secrets Manager decrypts it with"
        ));
    }
    if let Some(key) = key.filter(|key| !key.starts_with("alias/aws/")) {
        for action in kms_actions {
            out.push(Request::new(format!("kms:{action}"), place.key(&key)).with(
                "kms:ViaService",
                vec![format!("secretsmanager.{}.amazonaws.com", place.region)],
            ));
        }
    }
    Ok(out)
}

fn events(operation: &str, body: &Value, place: &Place<'_>) -> Result<Vec<Request>, String> {
    if operation != "PutEvents" {
        return Err(format!("EventBridge {operation} is not modelled"));
    }
    let buses: BTreeSet<String> = body["Entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| place.bus(entry["EventBusName"].as_str().unwrap_or("default")))
        .collect();
    Ok(buses
        .into_iter()
        .map(|bus| Request::new("events:PutEvents", bus))
        .collect())
}
