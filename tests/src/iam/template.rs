//! The roles of `infra/template.yaml`, read as CloudFormation would resolve them for one
//! deployment (`super::resolve`: `!Ref`, `!Sub`, `!GetAtt`, `!If`, ...), over the
//! deployment's [`Binding`] (the test's table names, its
//! region, account and parameters). Each function of the template (an
//! `AWS::Serverless::Function`, whose binary `infra/lambda/Makefile` names) is found by its
//! binary and leads to its role (`Role: !GetAtt <Role>.Arn`), so a new function or role needs no
//! change here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_yaml_ng::Value;

use super::policy::{Condition, Effect, Policy, Statement};

/// The parsed template (read once per process).
#[derive(Debug)]
pub struct Template {
    pub(super) root: Value,
    /// The binary of each function, by logical id (`infra/lambda/Makefile`).
    binaries: BTreeMap<String, String>,
}

/// What a deployment names: its region, account, stack, parameters (beyond the template's
/// defaults) and the physical names of resources (the test's tables, say).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    pub region: String,
    pub account: String,
    pub stack: String,
    pub parameters: BTreeMap<String, String>,
    pub names: BTreeMap<String, String>,
}

/// The repository's template.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = infra::template::default_template_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        let binaries = infra::template::function_binaries()
            .unwrap_or_else(|error| panic!("reading the functions' Makefile: {error}"));
        Template::parse(&text, binaries)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    })
}

/// A resolved value: text, a list, or nothing (`AWS::NoValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resolved {
    Text(String),
    List(Vec<Resolved>),
    Nothing,
}

impl Resolved {
    pub(super) fn text(self) -> Result<String, String> {
        match self {
            Self::Text(text) => Ok(text),
            other => Err(format!("expected text, got {other:?}")),
        }
    }

    pub(super) fn texts(self) -> Result<Vec<String>, String> {
        match self {
            Self::Text(text) => Ok(vec![text]),
            Self::List(items) => items.into_iter().map(Self::text).collect(),
            Self::Nothing => Ok(Vec::new()),
        }
    }
}

/// A template value as its text shows it (`!GetAtt Table.Arn`), on one line.
pub fn shown(value: &Value) -> String {
    let text = serde_yaml_ng::to_string(value).unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An intrinsic function's name, long or short form: `Fn::Sub` for `!Sub`, `Ref`, `Condition`.
pub(super) fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let name = if matches!(name, "Ref" | "Condition") {
                name.to_owned()
            } else {
                format!("Fn::{name}")
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key == "Condition" || key.starts_with("Fn::"))
                .then(|| (key.to_owned(), inner))
        }
        _ => None,
    }
}

impl Template {
    /// The template `text`, its functions built from `binaries` (by logical id).
    pub fn parse(text: &str, binaries: BTreeMap<String, String>) -> Result<Self, String> {
        let root: Value = serde_yaml_ng::from_str(text).map_err(|error| error.to_string())?;
        Ok(Self { root, binaries })
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root["Resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(name, resource)| Some((name.as_str()?, resource)))
    }

    /// Every function: (logical id, binary, its role's logical id).
    pub fn functions(&self) -> Result<Vec<(String, String, String)>, String> {
        let mut out = Vec::new();
        for (name, resource) in self.resources() {
            if resource["Type"] != "AWS::Serverless::Function"
                && resource["Type"] != "AWS::Lambda::Function"
            {
                continue;
            }
            let binary = self
                .binaries
                .get(name)
                .ok_or_else(|| format!("infra/lambda/Makefile does not build {name}"))?;
            let role = &resource["Properties"]["Role"];
            let role = match intrinsic(role) {
                Some((function, value)) if function == "Fn::GetAtt" => match value {
                    Value::String(text) => text.strip_suffix(".Arn").map(str::to_owned),
                    Value::Sequence(parts) if parts.len() == 2 && parts[1] == "Arn" => {
                        parts[0].as_str().map(str::to_owned)
                    }
                    _ => None,
                },
                _ => None,
            }
            .ok_or_else(|| format!("{name}'s Role is not `!GetAtt <Role>.Arn`"))?;
            out.push((name.to_owned(), binary.to_owned(), role));
        }
        Ok(out)
    }

    /// The role the function built from `binary` runs as.
    pub fn role_of(&self, binary: &str) -> Result<String, String> {
        let roles: Vec<String> = self
            .functions()?
            .into_iter()
            .filter(|(_, b, _)| b == binary)
            .map(|(_, _, role)| role)
            .collect();
        match roles.as_slice() {
            [] => Err(format!(
                "no function of the template is built from `{binary}`"
            )),
            [role, rest @ ..] if rest.iter().all(|other| other == role) => Ok(role.clone()),
            _ => Err(format!(
                "functions built from `{binary}` have roles {roles:?}"
            )),
        }
    }

    /// The statements of `role`, each value as the template writes it (for the report of
    /// unused grants): (sid, effect, actions, resources).
    pub fn statements(&self, role: &str) -> Result<Vec<&Value>, String> {
        let resource = &self.root["Resources"][role];
        if resource["Type"] != "AWS::IAM::Role" {
            return Err(format!("{role} is no AWS::IAM::Role"));
        }
        if !resource["Properties"]["ManagedPolicyArns"].is_null() {
            return Err(format!("{role}: managed policies are not modelled"));
        }
        let mut out = Vec::new();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let statements = &policy["PolicyDocument"]["Statement"];
            out.extend(statements.as_sequence().into_iter().flatten());
        }
        Ok(out)
    }

    /// `role`'s policy, resolved for `binding`.
    pub fn policy(&self, role: &str, binding: &Binding) -> Result<Policy, String> {
        let mut statements = Vec::new();
        for (index, statement) in self.statements(role)?.into_iter().enumerate() {
            let sid = statement["Sid"]
                .as_str()
                .map_or_else(|| format!("#{index}"), str::to_owned);
            for unsupported in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
                if !statement[unsupported].is_null() {
                    return Err(format!("{role} {sid}: {unsupported} is not modelled"));
                }
            }
            let effect = match statement["Effect"].as_str() {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                other => return Err(format!("{role} {sid}: Effect {other:?}")),
            };
            let actions = self
                .resolve(&statement["Action"], binding)
                .and_then(Resolved::texts)
                .map_err(|e| format!("{role} {sid} Action: {e}"))?;
            let resources = match &statement["Resource"] {
                Value::Sequence(entries) => entries.iter().collect(),
                entry => vec![entry],
            };
            let mut resolved = Vec::new();
            for entry in resources {
                for arn in self
                    .resolve(entry, binding)
                    .and_then(Resolved::texts)
                    .map_err(|e| format!("{role} {sid} Resource: {e}"))?
                {
                    resolved.push((arn, shown(entry)));
                }
            }
            let mut conditions = Vec::new();
            for (operator, keys) in statement["Condition"].as_mapping().into_iter().flatten() {
                let operator = operator.as_str().unwrap_or_default().to_owned();
                for (key, values) in keys.as_mapping().into_iter().flatten() {
                    let values = self
                        .resolve(values, binding)
                        .and_then(Resolved::texts)
                        .map_err(|e| format!("{role} {sid} Condition: {e}"))?;
                    conditions.push(Condition {
                        operator: operator.clone(),
                        key: key.as_str().unwrap_or_default().to_owned(),
                        values,
                    });
                }
            }
            statements.push(Statement {
                sid,
                effect,
                actions,
                resources: resolved,
                conditions,
            });
        }
        Ok(Policy {
            role: role.to_owned(),
            statements,
        })
    }
}
