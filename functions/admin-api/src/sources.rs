//! Where the admin functions may find a caller's identity, as the deployment says: the APIs
//! whose requests come through our authorizer or an HTTP API JWT authorizer, and who may
//! administer through IAM from which APIs (the variables below). [`crate::identity`] reads a
//! request's caller with them, and [`crate::people`] a person's.

use shared::config::ConfigError;

/// The IAM principals allowed to administer every organization: exact ARNs, or prefixes
/// written with a trailing `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamAdmins(Vec<String>);

impl IamAdmins {
    pub fn parse(value: &str) -> Result<Self, String> {
        let entries: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect();
        for entry in &entries {
            if !entry.starts_with("arn:") || entry.trim_end_matches('*').contains('*') {
                return Err("each entry is an IAM ARN, optionally ending with `*`".into());
            }
        }
        Ok(Self(entries))
    }

    /// Whether `arn` is listed. A trailing `*` matches whole path segments only: `role/ops*`
    /// matches `role/ops` and `role/ops/deploy`, never `role/ops-intern`; `assumed-role/admin/*`
    /// matches every session of that role.
    pub fn allows(&self, arn: &str) -> bool {
        self.0.iter().any(|entry| match entry.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('/') => arn.starts_with(prefix),
            Some(prefix) => {
                arn == prefix
                    || arn
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            None => arn == entry,
        })
    }

    pub fn is_enabled(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Which identity claims in an event the deployment trusts, and from which APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentitySources {
    /// The API Gateway API ids whose requests reach this function through our authorizer
    /// (`AUTHORIZER_API_IDS`); empty: an authorizer context is never read.
    pub authorizer_api_ids: Vec<String>,
    /// The HTTP API ids whose admin routes sit behind an API Gateway JWT authorizer
    /// (`JWT_AUTHORIZER_API_IDS`); empty: the claims in an event are never read.
    pub jwt_authorizer_api_ids: Vec<String>,
    /// Who may administer through IAM (`ADMIN_IAM_PRINCIPALS`).
    pub iam_admins: IamAdmins,
    /// The API or function URL ids whose IAM identity is read (`IAM_API_IDS`).
    pub iam_api_ids: Vec<String>,
}

impl IdentitySources {
    /// Reads the four variables; IAM administration needs both of its variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ids = |variable: &'static str| -> Result<Vec<String>, ConfigError> {
            let ids: Vec<String> = lookup(variable)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect();
            let well_formed =
                |id: &String| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
            if ids.iter().all(well_formed) {
                Ok(ids)
            } else {
                Err(ConfigError {
                    variable,
                    reason: "a comma-separated list of API or function URL ids".into(),
                })
            }
        };
        let iam_admins = IamAdmins::parse(lookup("ADMIN_IAM_PRINCIPALS").as_deref().unwrap_or(""))
            .map_err(|reason| ConfigError {
                variable: "ADMIN_IAM_PRINCIPALS",
                reason,
            })?;
        let sources = Self {
            authorizer_api_ids: ids("AUTHORIZER_API_IDS")?,
            jwt_authorizer_api_ids: ids("JWT_AUTHORIZER_API_IDS")?,
            iam_admins,
            iam_api_ids: ids("IAM_API_IDS")?,
        };
        if sources.iam_admins.is_enabled() == sources.iam_api_ids.is_empty() {
            return Err(ConfigError {
                variable: "IAM_API_IDS",
                reason: "IAM administration needs both ADMIN_IAM_PRINCIPALS and IAM_API_IDS \
                         (the ids of the APIs or function URLs that authenticate with IAM)"
                    .into(),
            });
        }
        Ok(sources)
    }

    pub fn trusts_authorizer_of(&self, api_id: Option<&str>) -> bool {
        api_id.is_some_and(|id| self.authorizer_api_ids.iter().any(|trusted| trusted == id))
    }

    pub fn trusts_jwt_authorizer_of(&self, api_id: Option<&str>) -> bool {
        api_id.is_some_and(|id| {
            self.jwt_authorizer_api_ids
                .iter()
                .any(|trusted| trusted == id)
        })
    }

    pub fn trusts_iam_of(&self, api_id: Option<&str>) -> bool {
        self.iam_admins.is_enabled()
            && api_id.is_some_and(|id| self.iam_api_ids.iter().any(|trusted| trusted == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_admins_match_exact_arns_and_prefixes() {
        let admins = IamAdmins::parse(
            "arn:aws:iam::111122223333:role/ops, arn:aws:sts::111122223333:assumed-role/admin/*",
        )
        .unwrap();
        assert!(admins.allows("arn:aws:iam::111122223333:role/ops"));
        assert!(!admins.allows("arn:aws:iam::111122223333:role/ops2"));
        assert!(admins.allows("arn:aws:sts::111122223333:assumed-role/admin/alice"));
        assert!(!admins.allows("arn:aws:sts::111122223333:assumed-role/reader/alice"));
        // A prefix matches whole path segments, never the start of a longer name.
        let ops = IamAdmins::parse("arn:aws:iam::111122223333:role/ops*").unwrap();
        assert!(ops.allows("arn:aws:iam::111122223333:role/ops"));
        assert!(ops.allows("arn:aws:iam::111122223333:role/ops/deploy"));
        assert!(!ops.allows("arn:aws:iam::111122223333:role/ops-intern"));
        assert!(!ops.allows("arn:aws:iam::111122223333:role/opsx"));
        assert!(!IamAdmins::parse("").unwrap().is_enabled());
        assert!(IamAdmins::parse("ops").is_err());
        assert!(IamAdmins::parse("arn:aws:iam::*:role/x").is_err());
    }

    #[test]
    fn iam_administration_needs_the_principals_and_the_apis() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            IdentitySources::from_lookup(|_| None).unwrap(),
            IdentitySources::default()
        );
        const PRINCIPALS: &[(&str, &str)] = &[("ADMIN_IAM_PRINCIPALS", "arn:aws:iam::1:role/a")];
        assert!(IdentitySources::from_lookup(lookup(PRINCIPALS)).is_err());
        assert!(IdentitySources::from_lookup(lookup(&[("IAM_API_IDS", "abc")])).is_err());
        const BOTH: &[(&str, &str)] = &[
            ("ADMIN_IAM_PRINCIPALS", "arn:aws:iam::1:role/a"),
            ("IAM_API_IDS", "abc, def"),
        ];
        let sources = IdentitySources::from_lookup(lookup(BOTH)).unwrap();
        assert!(sources.trusts_iam_of(Some("def")));
        assert!(!sources.trusts_iam_of(Some("xyz")));
        assert!(!sources.trusts_iam_of(None));
        assert!(IdentitySources::from_lookup(lookup(&[("AUTHORIZER_API_IDS", "a b")])).is_err());
        let jwt =
            IdentitySources::from_lookup(lookup(&[("JWT_AUTHORIZER_API_IDS", "h1")])).unwrap();
        assert!(jwt.trusts_jwt_authorizer_of(Some("h1")));
        assert!(!jwt.trusts_jwt_authorizer_of(Some("h2")));
        assert!(!jwt.trusts_jwt_authorizer_of(None));
        assert!(!jwt.trusts_authorizer_of(Some("h1")));
        assert!(
            IdentitySources::from_lookup(lookup(&[("JWT_AUTHORIZER_API_IDS", "h-1")])).is_err()
        );
    }
}
