//! Detection patterns for secret scanners: the regular expression that finds this
//! deployment's tokens in text (its prefix is part of it), written for gitleaks, TruffleHog
//! and GitHub's custom secret-scanning patterns, and the checksum check that tells a token
//! from a random string of the same shape.
//!
//! A token is `<prefix><16 base62>_<org slug as lowercase hex, 6–64>_<16 base62 or
//! "org">_<72 base62>`; its last 6 characters are the CRC32 (IEEE) of everything before them,
//! written as a base62 number (digits `0-9A-Za-z`, in that order, most significant first).
//! The pattern uses only what Go's `regexp` (RE2: gitleaks, TruffleHog), Hyperscan (GitHub)
//! and Python's `re` all accept: character classes, counted repetition, non-capturing groups,
//! one capturing group for the token, and `\b`; no look-around, no back-references.
//!
//! The boundaries consume nothing (`\b`): a boundary that matched a character would make the
//! separator between two tokens (`<t1>,<t2>`, one token per line) part of the first match,
//! and scanners would find only every other token.

use super::{CHECKSUM_LEN, TokenPrefix, decode_checksum};

/// The patterns for one deployment's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionPatterns {
    prefix: String,
}

impl DetectionPatterns {
    pub fn new(prefix: &TokenPrefix) -> Self {
        Self {
            prefix: prefix.as_str().to_owned(),
        }
    }

    /// The token itself, with no boundaries (GitHub's "secret format").
    pub fn secret_format(&self) -> String {
        // The prefix is letters, digits and `_`: nothing to escape.
        format!(
            "{}[0-9A-Za-z]{{16}}_(?:[0-9a-f]{{2}}){{3,32}}_(?:[0-9A-Za-z]{{16}}|org)_[0-9A-Za-z]{{72}}",
            self.prefix
        )
    }

    /// What precedes a token: a word boundary (the start of the text, or a character no
    /// token holds), which consumes nothing, so the character before one token can end
    /// another.
    pub const BEFORE: &'static str = r"\b";
    /// What follows a token: a word boundary, consuming nothing.
    pub const AFTER: &'static str = r"\b";

    /// The whole regular expression, the token in its first group (gitleaks, TruffleHog).
    pub fn regex(&self) -> String {
        format!("{}({}){}", Self::BEFORE, self.secret_format(), Self::AFTER)
    }

    /// A gitleaks rule (`.gitleaks.toml`).
    pub fn gitleaks(&self) -> String {
        format!(
            "# gitleaks: this deployment's service-account tokens (prefix `{prefix}`).\n\
             # A match is a token if its last 6 characters are the CRC32 of the rest (README,\n\
             # \"Detection patterns\").\n\
             [[rules]]\n\
             id = \"service-accounts-token\"\n\
             description = \"Service accounts for AWS token ({prefix})\"\n\
             regex = '''{regex}'''\n\
             secretGroup = 1\n\
             keywords = [\"{prefix}\"]\n",
            prefix = self.prefix,
            regex = self.regex(),
        )
    }

    /// A TruffleHog custom detector (`--config`).
    pub fn trufflehog(&self) -> String {
        format!(
            "# TruffleHog: this deployment's service-account tokens (prefix `{prefix}`).\n\
             detectors:\n  \
               - name: ServiceAccountsToken\n    \
                 keywords:\n      \
                   - {prefix}\n    \
                 regex:\n      \
                   token: '{regex}'\n",
            prefix = self.prefix,
            regex = self.regex(),
        )
    }

    /// GitHub's custom pattern (Settings → Code security → Secret scanning → New pattern,
    /// "More options"): the secret format, before and after.
    pub fn github(&self) -> String {
        format!(
            "Custom pattern for GitHub secret scanning (prefix `{prefix}`)\n\n\
             Pattern name:   Service accounts for AWS token\n\
             Secret format:  {format}\n\
             Before secret:  {before}\n\
             After secret:   {after}\n",
            prefix = self.prefix,
            format = self.secret_format(),
            before = Self::BEFORE,
            after = Self::AFTER,
        )
    }
}

impl DetectionPatterns {
    /// The message to send GitHub's secret scanning partner program
    /// (secret-scanning@github.com) to have it report this deployment's tokens found in
    /// public to `endpoint` (the stack's `SecretScanningEndpoint` output).
    pub fn github_partner_program(&self, endpoint: &str) -> String {
        format!(
            "Subject: Secret scanning partner program: service-account tokens (prefix `{prefix}`)\n\n\
             Hello,\n\n\
             We would like to join the secret scanning partner program for the API tokens our\n\
             deployment of Service accounts for AWS issues, so that tokens pushed to public\n\
             repositories or packages are revoked as soon as GitHub finds them.\n\n\
             Secret type:       service_accounts_token\n\
             Display name:      Service accounts for AWS token\n\
             Regular expression (the token is the first group):\n\
             \x20   {regex}\n\
             Secret format:     {format}\n\
             Before the secret: {before}\n\
             After the secret:  {after}\n\n\
             Every token starts with `{prefix}` and ends with a checksum: its last 6 characters\n\
             are the CRC32 (IEEE) of everything before them as a base62 number (digits 0-9A-Za-z,\n\
             most significant first), so a match can be validated offline.\n\n\
             Verify endpoint:   {endpoint}\n\
             It verifies the Github-Public-Key-Identifier and Github-Public-Key-Signature headers\n\
             against https://api.github.com/meta/public_keys/secret_scanning, revokes each live\n\
             token at once, and answers with token_hash, token_type and label (true_positive or\n\
             false_positive) for every reported token.\n\n\
             Example tokens (already revoked) for your tests: [attach two or three, minted and then\n\
             revoked with the admin API].\n\n\
             Contact for this integration: [name, email]\n\
             Contact for security reports: [email]\n",
            prefix = self.prefix,
            regex = self.regex(),
            format = self.secret_format(),
            before = Self::BEFORE,
            after = Self::AFTER,
        )
    }
}

/// Whether `candidate` (a pattern's match) carries a valid checksum: its last 6 characters
/// are the CRC32 of the rest. A scanner that finds a match runs this to drop random strings
/// of the same shape; it needs no key and makes no call.
pub fn has_valid_checksum(candidate: &str) -> bool {
    if candidate.len() <= CHECKSUM_LEN || !candidate.is_ascii() {
        return false;
    }
    let (checked, checksum) = candidate.split_at(candidate.len() - CHECKSUM_LEN);
    decode_checksum(checksum) == Some(crc32fast::hash(checked.as_bytes()))
}
