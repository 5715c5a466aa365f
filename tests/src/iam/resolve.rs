//! CloudFormation's intrinsic functions, as the roles use them: `!Ref`, `!Sub`, `!GetAtt`,
//! `!If` (with the template's `Conditions`), `!Join`, `!Select` and `!Split`, resolved over a
//! deployment's [`Binding`].

use serde_yaml_ng::Value;

use super::template::{Binding, Resolved, Template, intrinsic, shown};

impl Template {
    pub(super) fn resolve(&self, value: &Value, binding: &Binding) -> Result<Resolved, String> {
        let Some((function, argument)) = intrinsic(value) else {
            return match value {
                Value::String(text) => Ok(Resolved::Text(text.clone())),
                Value::Number(number) => Ok(Resolved::Text(number.to_string())),
                Value::Bool(flag) => Ok(Resolved::Text(flag.to_string())),
                Value::Sequence(items) => items
                    .iter()
                    .map(|item| self.resolve(item, binding))
                    .filter(|item| item.as_ref() != Ok(&Resolved::Nothing))
                    .collect::<Result<_, _>>()
                    .map(Resolved::List),
                other => Err(format!("cannot resolve {}", shown(other))),
            };
        };
        let list = |value: &Value| -> Result<Vec<Value>, String> {
            value
                .as_sequence()
                .cloned()
                .ok_or_else(|| format!("{function} expects a list"))
        };
        match function.as_str() {
            "Ref" => self.reference(argument.as_str().unwrap_or_default(), binding),
            "Fn::GetAtt" => {
                let (resource, attribute) = match argument {
                    Value::String(text) => text
                        .split_once('.')
                        .map(|(r, a)| (r.to_owned(), a.to_owned()))
                        .ok_or_else(|| format!("!GetAtt {text}"))?,
                    other => {
                        let parts = list(other)?;
                        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                        (text(&parts[0]), text(&parts[1]))
                    }
                };
                self.attribute(&resource, &attribute, binding)
                    .map(Resolved::Text)
            }
            "Fn::Sub" => {
                let (text, variables) = match argument {
                    Value::String(text) => (text.clone(), None),
                    other => {
                        let parts = list(other)?;
                        let text = parts[0].as_str().unwrap_or_default().to_owned();
                        (text, parts.get(1).cloned())
                    }
                };
                self.substitute(&text, variables.as_ref(), binding)
                    .map(Resolved::Text)
            }
            "Fn::If" => {
                let parts = list(argument)?;
                let name = parts[0].as_str().unwrap_or_default();
                let branch = if self.condition(name, binding)? { 1 } else { 2 };
                self.resolve(&parts[branch], binding)
            }
            "Fn::Join" => {
                let parts = list(argument)?;
                let separator = parts[0].as_str().unwrap_or_default();
                let items = self.resolve(&parts[1], binding)?.texts()?;
                Ok(Resolved::Text(items.join(separator)))
            }
            "Fn::Split" => {
                let parts = list(argument)?;
                let separator = parts[0].as_str().unwrap_or_default();
                let text = self.resolve(&parts[1], binding)?.text()?;
                Ok(Resolved::List(
                    text.split(separator)
                        .map(|s| Resolved::Text(s.to_owned()))
                        .collect(),
                ))
            }
            "Fn::Select" => {
                let parts = list(argument)?;
                let index: usize = self
                    .resolve(&parts[0], binding)?
                    .text()?
                    .parse()
                    .map_err(|_| "!Select index".to_owned())?;
                let items = self.resolve(&parts[1], binding)?.texts()?;
                items
                    .get(index)
                    .cloned()
                    .map(Resolved::Text)
                    .ok_or_else(|| format!("!Select {index} of {items:?}"))
            }
            other => Err(format!("{other} is not modelled")),
        }
    }

    /// `!Ref name`: a parameter's value, a pseudo parameter, or a resource's physical name.
    fn reference(&self, name: &str, binding: &Binding) -> Result<Resolved, String> {
        match name {
            "AWS::Region" => return Ok(Resolved::Text(binding.region.clone())),
            "AWS::AccountId" => return Ok(Resolved::Text(binding.account.clone())),
            "AWS::Partition" => return Ok(Resolved::Text("aws".into())),
            "AWS::StackName" => return Ok(Resolved::Text(binding.stack.clone())),
            "AWS::URLSuffix" => return Ok(Resolved::Text("amazonaws.com".into())),
            "AWS::NoValue" => return Ok(Resolved::Nothing),
            _ => {}
        }
        let parameter = &self.root["Parameters"][name];
        if !parameter.is_null() {
            let value = match binding.parameters.get(name) {
                Some(value) => value.clone(),
                None => match &parameter["Default"] {
                    Value::Null => return Err(format!("parameter {name} has no value")),
                    other => self.resolve(other, binding)?.text()?,
                },
            };
            return Ok(if parameter["Type"] == "CommaDelimitedList" {
                Resolved::List(
                    value
                        .split(',')
                        .map(|s| Resolved::Text(s.to_owned()))
                        .collect(),
                )
            } else {
                Resolved::Text(value)
            });
        }
        self.physical_name(name, binding).map(Resolved::Text)
    }

    /// A resource's name: the binding's, else the name its properties give it.
    fn physical_name(&self, logical: &str, binding: &Binding) -> Result<String, String> {
        if let Some(name) = binding.names.get(logical) {
            return Ok(name.clone());
        }
        let resource = &self.root["Resources"][logical];
        if resource.is_null() {
            return Err(format!("no parameter or resource {logical}"));
        }
        for property in [
            "TableName",
            "Name",
            "QueueName",
            "LogGroupName",
            "FunctionName",
            "RoleName",
            "TopicName",
        ] {
            let value = &resource["Properties"][property];
            if !value.is_null() {
                return self.resolve(value, binding)?.text();
            }
        }
        Ok(format!("{}-{logical}", binding.stack))
    }

    /// `!GetAtt resource.attribute`, for the resource types roles name.
    fn attribute(&self, logical: &str, attribute: &str, b: &Binding) -> Result<String, String> {
        let kind = self.root["Resources"][logical]["Type"]
            .as_str()
            .ok_or_else(|| format!("no resource {logical}"))?;
        let name = self.physical_name(logical, b)?;
        let (region, account) = (&b.region, &b.account);
        Ok(match (kind, attribute) {
            ("AWS::DynamoDB::Table", "Arn") => {
                format!("arn:aws:dynamodb:{region}:{account}:table/{name}")
            }
            ("AWS::DynamoDB::Table", "StreamArn") => {
                format!(
                    "arn:aws:dynamodb:{region}:{account}:table/{name}/stream/1970-01-01T00:00:00.000"
                )
            }
            ("AWS::Events::EventBus", "Arn") => {
                format!("arn:aws:events:{region}:{account}:event-bus/{name}")
            }
            ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{region}:{account}:{name}"),
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{region}:{account}:log-group:{name}:*")
            }
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{account}:role/{name}"),
            ("AWS::KMS::Key", "Arn") => format!("arn:aws:kms:{region}:{account}:key/{name}"),
            // Anything else matches no request (only a `*` grant would cover it).
            _ => format!("arn:unresolved:{logical}.{attribute}"),
        })
    }

    /// `!Sub`: `${Name}`, `${Resource.Attribute}` and the variables given with it.
    fn substitute(
        &self,
        text: &str,
        variables: Option<&Value>,
        binding: &Binding,
    ) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.map(|v| &v[name]).filter(|v| !v.is_null()) {
                out.push_str(&self.resolve(value, binding)?.text()?);
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute, binding)?);
            } else {
                out.push_str(&self.reference(name, binding)?.text()?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A condition of the template's `Conditions`, for `binding`.
    fn condition(&self, name: &str, binding: &Binding) -> Result<bool, String> {
        let definition = &self.root["Conditions"][name];
        if definition.is_null() {
            return Err(format!("no condition {name}"));
        }
        self.truth(definition, binding)
    }

    fn truth(&self, value: &Value, binding: &Binding) -> Result<bool, String> {
        let (function, argument) =
            intrinsic(value).ok_or_else(|| format!("not a condition: {}", shown(value)))?;
        let items = || argument.as_sequence().cloned().unwrap_or_default();
        match function.as_str() {
            "Condition" => self.condition(argument.as_str().unwrap_or_default(), binding),
            "Fn::Equals" => {
                let items = items();
                let left = self.resolve(&items[0], binding)?;
                let right = self.resolve(&items[1], binding)?;
                Ok(left == right)
            }
            "Fn::Not" => Ok(!self.truth(&items()[0], binding)?),
            "Fn::And" => items()
                .iter()
                .try_fold(true, |all, item| Ok(all && self.truth(item, binding)?)),
            "Fn::Or" => items()
                .iter()
                .try_fold(false, |any, item| Ok(any || self.truth(item, binding)?)),
            other => Err(format!("condition function {other} is not modelled")),
        }
    }
}
