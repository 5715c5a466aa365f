//! The subset of IAM's policy evaluation that the stack's roles use: identity-based
//! statements with `Allow` and `Deny`, `Action` and `Resource` with `*` and `?` wildcards, and
//! the condition operators `String{Equals,NotEquals,Like,NotLike}`, `Arn{Equals,Like}`,
//! `Bool` (each also `...IfExists`), the `ForAllValues:` and `ForAnyValue:` qualifiers, and
//! `Null`. An explicit deny wins; otherwise a request is allowed if one statement allows it.
//! A condition this module does not know, or on a key the request's description does not
//! model, denies: an evaluator that cannot tell must not allow.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One condition: `operator` applied to the request's `key` against `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// A statement, resolved: each resource with the template text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: String,
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<(String, String)>,
    pub conditions: Vec<Condition>,
}

/// A role's policy, resolved for one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub role: String,
    pub statements: Vec<Statement>,
}

/// What IAM authorizes: one action on one resource, with the request's condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `service:Action`.
    pub action: String,
    pub resource: String,
    /// Condition keys (lowercase) and their values.
    pub context: BTreeMap<String, Vec<String>>,
    /// Keys (lowercase; a trailing `/` covers a family, `aws:resourcetag/`) that the
    /// description of this request models, present in `context` or not.
    pub modelled: BTreeSet<String>,
    /// Modelled keys (or families, ending with `/`) whose value the recorder could not know (a
    /// secret's tags it never saw): a condition on one denies.
    pub unknown: BTreeSet<String>,
}

impl Request {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
            modelled: BTreeSet::new(),
            unknown: BTreeSet::new(),
        }
    }

    /// Declares `key` modelled, with `values` (none: absent from the request).
    pub fn with(mut self, key: &str, values: Vec<String>) -> Self {
        let key = key.to_ascii_lowercase();
        if !values.is_empty() {
            self.context.insert(key.clone(), values);
        }
        self.modelled.insert(key);
        self
    }

    fn models(&self, key: &str) -> bool {
        self.modelled.contains(key)
            || self
                .modelled
                .iter()
                .any(|family| family.ends_with('/') && key.starts_with(family.as_str()))
    }
}

/// A grant a request used: the role's statement, and the action and resource it matched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub role: String,
    pub sid: String,
    pub action: String,
    pub resource: String,
}

/// IAM's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, by these grants.
    Allowed(Vec<Grant>),
    /// Denied, and why.
    Denied(String),
}

/// `pattern` (with `*` for any run of characters and `?` for one) matches `text`.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Policy {
    /// IAM's decision on `request` under this policy alone.
    pub fn decide(&self, request: &Request) -> Decision {
        let mut grants = Vec::new();
        let mut near = Vec::new();
        for statement in &self.statements {
            let actions: Vec<&String> = statement
                .actions
                .iter()
                .filter(|a| {
                    wildcard(
                        &a.to_ascii_lowercase(),
                        &request.action.to_ascii_lowercase(),
                    )
                })
                .collect();
            let resources: Vec<&(String, String)> = statement
                .resources
                .iter()
                .filter(|(arn, _)| wildcard(arn, &request.resource))
                .collect();
            if actions.is_empty() || resources.is_empty() {
                continue;
            }
            if let Err(why) = conditions_hold(&statement.conditions, request) {
                near.push(format!("{} matches, but {why}", statement.sid));
                continue;
            }
            if statement.effect == Effect::Deny {
                return Decision::Denied(format!(
                    "{} denies it explicitly ({})",
                    self.role, statement.sid
                ));
            }
            for action in &actions {
                for (_, shown) in &resources {
                    grants.push(Grant {
                        role: self.role.clone(),
                        sid: statement.sid.clone(),
                        action: (*action).clone(),
                        resource: shown.clone(),
                    });
                }
            }
        }
        if grants.is_empty() {
            let near = if near.is_empty() {
                "no statement names both the action and the resource".to_owned()
            } else {
                near.join("; ")
            };
            Decision::Denied(format!(
                "{} does not allow {} on {}: {near}",
                self.role, request.action, request.resource
            ))
        } else {
            Decision::Allowed(grants)
        }
    }
}

/// Every condition holds for `request`, or the first that does not (and why).
fn conditions_hold(conditions: &[Condition], request: &Request) -> Result<(), String> {
    for condition in conditions {
        let key = condition.key.to_ascii_lowercase();
        if !request.models(&key) {
            return Err(format!(
                "its condition on `{}` is not modelled for {}",
                condition.key, request.action
            ));
        }
        if request
            .unknown
            .iter()
            .any(|u| *u == key || (u.ends_with('/') && key.starts_with(u.as_str())))
        {
            return Err(format!("`{}` is unknown to the recorder", condition.key));
        }
        let present = request.context.get(&key);
        if !holds(&condition.operator, present, &condition.values)? {
            return Err(format!(
                "{} `{}` {:?} is false for {:?}",
                condition.operator, condition.key, condition.values, present
            ));
        }
    }
    Ok(())
}

fn holds(operator: &str, present: Option<&Vec<String>>, values: &[String]) -> Result<bool, String> {
    if operator == "Null" {
        let wants_absent = values.iter().any(|v| v == "true");
        return Ok(present.is_none() == wants_absent);
    }
    let (qualifier, operator) = match operator.split_once(':') {
        Some((qualifier, operator)) => (Some(qualifier), operator),
        None => (None, operator),
    };
    let (operator, if_exists) = match operator.strip_suffix("IfExists") {
        Some(operator) => (operator, true),
        None => (operator, false),
    };
    let matches: fn(&str, &str) -> bool = match operator {
        "StringEquals" | "StringNotEquals" | "ArnEquals" | "ArnNotEquals" => |v, r| v == r,
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => |v, r| v.eq_ignore_ascii_case(r),
        "StringLike" | "StringNotLike" | "ArnLike" | "ArnNotLike" => wildcard,
        "Bool" => |v, r| v.eq_ignore_ascii_case(r),
        other => return Err(format!("the operator {other} is not modelled")),
    };
    let negated = operator.contains("Not");
    let Some(present) = present else {
        // An absent key: `...IfExists` and negated operators hold, `ForAllValues` holds
        // vacuously, everything else fails.
        return Ok(if_exists || negated || qualifier == Some("ForAllValues"));
    };
    let one = |r: &String| values.iter().any(|v| matches(v, r)) != negated;
    Ok(match qualifier {
        Some("ForAllValues") => present.iter().all(one),
        Some("ForAnyValue") | None => present.iter().any(one),
        Some(other) => return Err(format!("the qualifier {other} is not modelled")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard(
            "arn:aws:secretsmanager:*:secret:prefix/*",
            "arn:aws:secretsmanager:r:a:secret:prefix/x-AbC123"
        ));
        assert!(wildcard("dynamodb:*Item", "dynamodb:GetItem"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(!wildcard("table/t", "table/t/index/i"));
        assert!(wildcard("table/t/index/*", "table/t/index/i"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn conditions_deny_when_they_cannot_tell() {
        let attributes = Condition {
            operator: "ForAllValues:StringEquals".into(),
            key: "dynamodb:Attributes".into(),
            values: vec!["pk".into(), "sk".into(), "lastUsedAt".into()],
        };
        let ok = Request::new("dynamodb:UpdateItem", "t").with(
            "dynamodb:Attributes",
            vec!["pk".into(), "lastUsedAt".into()],
        );
        assert!(conditions_hold(std::slice::from_ref(&attributes), &ok).is_ok());
        let wider = Request::new("dynamodb:UpdateItem", "t")
            .with("dynamodb:Attributes", vec!["pk".into(), "version".into()]);
        assert!(conditions_hold(std::slice::from_ref(&attributes), &wider).is_err());
        let unmodelled = Request::new("dynamodb:UpdateItem", "t");
        assert!(conditions_hold(std::slice::from_ref(&attributes), &unmodelled).is_err());
        let null = Condition {
            operator: "Null".into(),
            key: "aws:ResourceTag/owner".into(),
            values: vec!["false".into()],
        };
        let mut tagged = Request::new("secretsmanager:DeleteSecret", "s")
            .with("aws:ResourceTag/", Vec::new())
            .with("aws:ResourceTag/owner", vec!["me".into()]);
        assert!(conditions_hold(std::slice::from_ref(&null), &tagged).is_ok());
        tagged.unknown.insert("aws:resourcetag/owner".into());
        assert!(conditions_hold(std::slice::from_ref(&null), &tagged).is_err());
        let untagged =
            Request::new("secretsmanager:DeleteSecret", "s").with("aws:ResourceTag/", Vec::new());
        assert!(conditions_hold(&[null], &untagged).is_err());
    }
}
