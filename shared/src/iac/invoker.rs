//! Which AWS account an invocation of the custom resource provider comes from, proven by the
//! platform rather than read from the request.
//!
//! CloudFormation's request names its stack (`StackId`), but whoever invokes the function
//! writes that field. What the caller cannot choose is *which function ARN* Lambda let it
//! invoke: the deployment gives each other AWS account it admits its own alias of the
//! provider (`account-<12 digits>`), with a resource policy for that account alone, and no
//! other account may invoke the function itself. So:
//!
//! * invoked through the alias `account-<id>` (and `<id>` is one of the deployment's
//!   accounts): the invoker is that account;
//! * invoked unqualified (or as `$LATEST`): the invoker is in the function's own account,
//!   where IAM decides who may invoke;
//! * anything else (another alias, a version, an account the deployment no longer lists): no
//!   account is proven, and the request is refused.
//!
//! The provider then refuses a stack of any other account than the invoker's.

use super::AwsAccountId;

/// How the alias of one admitted AWS account is named: `account-<id>`.
pub const ACCOUNT_ALIAS_PREFIX: &str = "account-";

/// Why an invocation proves no AWS account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokerError {
    #[error("the invoked function ARN is not a Lambda function ARN")]
    NotAFunctionArn,
    #[error(
        "the provider was invoked through `{0}`, which is no AWS account's alias of this deployment: invoke the alias `account-<your account id>` the deployment's operator made for your account"
    )]
    UnknownQualifier(String),
}

/// The AWS account proven to have made an invocation of `invoked_function_arn`
/// (`arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`), given the
/// other accounts the deployment admits (`allowed`, its `IacAccountIds`).
pub fn invoking_account(
    invoked_function_arn: &str,
    allowed: &[AwsAccountId],
) -> Result<AwsAccountId, InvokerError> {
    let parts: Vec<&str> = invoked_function_arn.split(':').collect();
    let (own, qualifier) = match parts[..] {
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
            ref rest @ ..,
        ] if !partition.is_empty() && !region.is_empty() && !name.is_empty() => {
            let own = AwsAccountId::parse(account).map_err(|_| InvokerError::NotAFunctionArn)?;
            match rest {
                [] => (own, None),
                [qualifier] => (own, Some(*qualifier)),
                _ => return Err(InvokerError::NotAFunctionArn),
            }
        }
        _ => return Err(InvokerError::NotAFunctionArn),
    };
    match qualifier {
        None | Some("$LATEST") => Ok(own),
        Some(qualifier) => qualifier
            .strip_prefix(ACCOUNT_ALIAS_PREFIX)
            .and_then(|id| AwsAccountId::parse(id).ok())
            .filter(|account| allowed.contains(account))
            .ok_or_else(|| {
                InvokerError::UnknownQualifier(qualifier.chars().take(64).collect::<String>())
            }),
    }
}

/// The deployment's other AWS accounts, from `IAC_ACCOUNT_IDS` (comma-separated 12-digit ids;
/// empty: none).
pub fn parse_account_list(value: &str) -> Result<Vec<AwsAccountId>, crate::ParseError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(AwsAccountId::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUNCTION: &str = "arn:aws:lambda:eu-west-1:111122223333:function:sa-provider";

    fn accounts(ids: &[&str]) -> Vec<AwsAccountId> {
        ids.iter()
            .map(|id| AwsAccountId::parse(id).unwrap())
            .collect()
    }

    #[test]
    fn an_unqualified_invocation_comes_from_the_functions_own_account() {
        let own = AwsAccountId::parse("111122223333").unwrap();
        assert_eq!(invoking_account(FUNCTION, &[]), Ok(own.clone()));
        assert_eq!(
            invoking_account(&format!("{FUNCTION}:$LATEST"), &[]),
            Ok(own)
        );
    }

    #[test]
    fn an_accounts_alias_proves_that_account_only_while_the_deployment_lists_it() {
        let allowed = accounts(&["444455556666"]);
        assert_eq!(
            invoking_account(&format!("{FUNCTION}:account-444455556666"), &allowed),
            Ok(AwsAccountId::parse("444455556666").unwrap())
        );
        for qualifier in [
            "account-777788889999",
            "account-4444",
            "live",
            "7",
            "account-",
        ] {
            assert_eq!(
                invoking_account(&format!("{FUNCTION}:{qualifier}"), &allowed),
                Err(InvokerError::UnknownQualifier(qualifier.into())),
                "{qualifier}"
            );
        }
    }

    #[test]
    fn what_is_no_function_arn_proves_nothing() {
        for arn in [
            "",
            "arn:aws:lambda:eu-west-1:111122223333:layer:x",
            "arn:aws:lambda:eu-west-1:1111:function:x",
            "arn:aws:lambda:eu-west-1:111122223333:function:",
            "arn:aws:lambda:eu-west-1:111122223333:function:x:y:z",
            "arn:aws:sqs:eu-west-1:111122223333:function:x",
        ] {
            assert_eq!(
                invoking_account(arn, &[]),
                Err(InvokerError::NotAFunctionArn),
                "{arn}"
            );
        }
    }

    #[test]
    fn the_account_list_is_comma_separated_and_may_be_empty() {
        assert_eq!(parse_account_list(""), Ok(vec![]));
        assert_eq!(
            parse_account_list("444455556666, 777788889999"),
            Ok(accounts(&["444455556666", "777788889999"]))
        );
        assert!(parse_account_list("4444").is_err());
    }
}
