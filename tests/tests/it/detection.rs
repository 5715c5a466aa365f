//! The detection patterns published for secret scanners (`docs/secret-scanning/`, made by
//! `infra secret-patterns`): for several prefixes, every minted token is found in text by
//! each tool's pattern, through an engine of that tool's syntax (Rust's `regex`, which follows
//! RE2 as Go's `regexp` does, for gitleaks and TruffleHog; Python's `re`, a PCRE dialect as
//! GitHub's Hyperscan, for GitHub's custom pattern), and the checksum check drops every random
//! string of the same shape.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

use shared::ids::{OrgId, ServiceAccountId};
use shared::random::base62_string;
use shared::token::patterns::{DetectionPatterns, has_valid_checksum};
use shared::token::{ParsedToken, TokenFormat, TokenKeys, TokenOwner, TokenPrefix};

fn committed(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/secret-scanning")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Tokens of `prefix` for accounts and org-wide, under short and long organization ids.
fn minted(prefix: &str) -> Vec<String> {
    let format = TokenFormat::new(
        TokenPrefix::parse(prefix).unwrap(),
        TokenKeys::generate().unwrap(),
    );
    let mut tokens = Vec::new();
    for org in ["acm", "acme", "a-very-long-organization-id-32ch"] {
        let org = OrgId::parse(org).unwrap();
        for owner in [
            TokenOwner::Account(ServiceAccountId::generate().unwrap()),
            TokenOwner::Org,
        ] {
            for _ in 0..5 {
                let parsed = ParsedToken::generate(&format, &org, owner.clone()).unwrap();
                tokens.push(parsed.secret().expose_secret().to_owned());
            }
        }
    }
    tokens
}

/// A string of a token's shape whose checksum is wrong: a token with its last character
/// changed, or random characters throughout.
fn lookalikes(tokens: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for token in tokens {
        let mut changed = token.clone();
        let last = changed.pop().unwrap();
        changed.push(if last == 'A' { 'B' } else { 'A' });
        out.push(changed);
        let (head, tail) = token.split_at(token.len() - 72);
        out.push(format!("{head}{}", base62_string(tail.len()).unwrap()));
    }
    out
}

/// Texts that hold `token` as a scanner would see it.
fn contexts(token: &str) -> Vec<String> {
    vec![
        token.to_owned(),
        format!("export SA_TOKEN={token}\n"),
        format!("{{\"token\": \"{token}\"}}"),
        format!("Authorization: Bearer {token}\r\n"),
        format!("curl -H 'x-token:{token}' https://example.com"),
    ]
}

/// What GitHub's pattern finds in each text, through Python's `re` (a PCRE dialect).
fn github_matches(patterns: &DetectionPatterns, texts: &[String]) -> Vec<Vec<String>> {
    let script = r#"
import json, re, sys
spec = json.loads(sys.stdin.readline())
# Python's `re` spells the end of the text `\Z` (Hyperscan and RE2: `\z`).
after = spec["after"].replace("\\z", "\\Z")
pattern = re.compile(spec["before"] + "(" + spec["format"] + ")" + after)
print(json.dumps([[m.group(1) for m in pattern.finditer(text)] for text in spec["texts"]]))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let spec = serde_json::json!({
        "before": DetectionPatterns::BEFORE,
        "after": DetectionPatterns::AFTER,
        "format": patterns.secret_format(),
        "texts": texts,
    });
    writeln!(child.stdin.take().unwrap(), "{spec}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_published_patterns_find_every_token_and_the_checksum_drops_every_lookalike() {
    // The repository holds the default prefix's patterns, exactly as `infra secret-patterns`
    // prints them.
    let default = DetectionPatterns::new(&TokenPrefix::default());
    assert_eq!(committed("gitleaks.toml"), default.gitleaks());
    assert_eq!(committed("trufflehog.yaml"), default.trufflehog());
    assert_eq!(committed("github.txt"), default.github());
    // And the message that enrolls the deployment with GitHub's partner program (its regular
    // expression is `regex()`, tested below).
    assert_eq!(
        committed("github-partner-program.txt"),
        default.github_partner_program(infra::PARTNER_ENDPOINT_PLACEHOLDER)
    );

    for prefix in ["svc_", "alk_svc_", "ghx_", "Acme_9_"] {
        let patterns = DetectionPatterns::new(&TokenPrefix::parse(prefix).unwrap());
        let tokens = minted(prefix);
        let fakes = lookalikes(&tokens);
        // gitleaks' and TruffleHog's rule: one regular expression, the token in group 1.
        let re2 = regex::Regex::new(&patterns.regex()).unwrap();
        assert!(patterns.gitleaks().contains(&patterns.regex()));
        assert!(patterns.trufflehog().contains(&patterns.regex()));
        let mut texts = Vec::new();
        for token in &tokens {
            assert!(has_valid_checksum(token), "{token}");
            for text in contexts(token) {
                let found: Vec<&str> = re2
                    .captures_iter(&text)
                    .map(|captures| captures.get(1).unwrap().as_str())
                    .collect();
                assert_eq!(found, [token.as_str()], "{prefix}: {text}");
                texts.push(text);
            }
            // Glued to other token characters, it is no token of ours.
            assert!(!re2.is_match(&format!("x{token}")));
            assert!(!re2.is_match(&format!("{token}9")));
        }
        for fake in &fakes {
            // The shape matches; the checksum says no.
            let found = re2.captures(fake).unwrap().get(1).unwrap().as_str();
            assert!(!has_valid_checksum(found), "{prefix}: {fake}");
        }
        // GitHub's custom pattern, before and after included.
        let all: Vec<String> = texts.iter().chain(fakes.iter()).cloned().collect();
        let found = github_matches(&patterns, &all);
        for (text, matches) in all.iter().zip(&found) {
            assert_eq!(matches.len(), 1, "{prefix}: {text}");
            let is_token = tokens.iter().any(|token| text.contains(token.as_str()));
            assert_eq!(has_valid_checksum(&matches[0]), is_token, "{text}");
        }
        // Another deployment's prefix is not found.
        let other = DetectionPatterns::new(&TokenPrefix::parse("zzz_").unwrap());
        let other = regex::Regex::new(&other.regex()).unwrap();
        assert!(tokens.iter().all(|token| !other.is_match(token)));
    }
}

/// Texts that hold several tokens next to each other: a variable's comma list, a command line,
/// one per line, a JSON array, and separators of one character (or none but a quote).
fn lists(tokens: &[String]) -> Vec<String> {
    let [a, b, ..] = tokens else {
        panic!("two tokens at least")
    };
    let mut texts = vec![
        format!("SA_TOKENS={a},{b}\n"),
        format!("deploy --token {a} --token={b}"),
        format!("tool {a} {b}"),
        tokens.join("\n"),
        format!("{}\n", tokens.join("\r\n")),
        format!("[\"{}\"]", tokens.join("\",\"")),
        format!("«{a}»«{b}»"),
    ];
    for separator in [",", ";", " ", "\t", ":", "|", "/", "'", "-", "."] {
        texts.push(tokens.join(separator));
    }
    texts
}

/// What each text's matches are, through Python's `re`, for the whole regular expression
/// (gitleaks', TruffleHog's) and for GitHub's before, format and after.
fn python_matches(patterns: &DetectionPatterns, texts: &[String]) -> [Vec<Vec<String>>; 2] {
    let script = r#"
import json, re, sys
spec = json.loads(sys.stdin.readline())
def finder(pattern):
    # Python's `re` spells the end of the text `\Z` (Hyperscan and RE2: `\z`).
    pattern = re.compile(pattern.replace("\\z", "\\Z"))
    return lambda text: [m.group(1) for m in pattern.finditer(text)]
whole = finder(spec["regex"])
github = finder(spec["before"] + "(" + spec["format"] + ")" + spec["after"])
print(json.dumps([[whole(t) for t in spec["texts"]], [github(t) for t in spec["texts"]]]))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let spec = serde_json::json!({
        "regex": patterns.regex(),
        "before": DetectionPatterns::BEFORE,
        "after": DetectionPatterns::AFTER,
        "format": patterns.secret_format(),
        "texts": texts,
    });
    writeln!(child.stdin.take().unwrap(), "{spec}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A scanner finds every token of a list, a command line or a file of one token per line:
/// the boundaries around a token consume nothing, so the character between two tokens
/// serves both. Through each engine the tools' syntax runs on: Rust's `regex` (RE2, as
/// gitleaks' and TruffleHog's Go `regexp`) and Python's `re` (for GitHub's Hyperscan).
#[test]
fn adjacent_tokens_in_lists_and_lines_are_each_found_by_every_engine() {
    for prefix in ["svc_", "alk_svc_", "Acme_9_"] {
        let patterns = DetectionPatterns::new(&TokenPrefix::parse(prefix).unwrap());
        let tokens = minted(prefix);
        let texts = lists(&tokens);
        let re2 = regex::Regex::new(&patterns.regex()).unwrap();
        let [whole, github] = python_matches(&patterns, &texts);
        for (i, text) in texts.iter().enumerate() {
            let expected: Vec<&str> = tokens
                .iter()
                .filter(|token| text.contains(token.as_str()))
                .map(String::as_str)
                .collect();
            assert!(expected.len() >= 2, "{text}");
            let found: Vec<&str> = re2
                .captures_iter(text)
                .map(|captures| captures.get(1).unwrap().as_str())
                .collect();
            assert_eq!(found, expected, "RE2, {prefix}: {text}");
            assert_eq!(whole[i], expected, "Python re, {prefix}: {text}");
            assert_eq!(github[i], expected, "GitHub's parts, {prefix}: {text}");
        }
        // Still nothing glued to other token characters, at either end of a list.
        let glued = format!("x{},{}9", tokens[0], tokens[1]);
        assert_eq!(re2.captures_iter(&glued).count(), 0, "{glued}");
    }
}

/// The README's checksum check (its Python snippet) accepts minted tokens and refuses
/// lookalikes.
#[test]
fn the_readmes_checksum_snippet_tells_tokens_from_lookalikes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let snippet = readme
        .split("```python\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .find(|block| block.contains("def is_token"))
        .expect("the README's checksum snippet");
    let tokens = minted("svc_");
    let fakes = lookalikes(&tokens);
    let script = format!(
        "{snippet}\nimport json, sys\nprint(json.dumps([is_token(t) for t in json.loads(sys.stdin.readline())]))\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let all: Vec<&String> = tokens.iter().chain(fakes.iter()).collect();
    writeln!(child.stdin.take().unwrap(), "{}", serde_json::json!(all)).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed");
    let verdicts: Vec<bool> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdicts.len(), all.len());
    assert!(verdicts[..tokens.len()].iter().all(|ok| *ok));
    assert!(verdicts[tokens.len()..].iter().all(|ok| !ok));
}

/// Every token the README shows (the sample admin token of `scripts/run-local`'s output) has
/// the shape the published patterns find and a valid checksum: documentation that scanners
/// would miss would teach the wrong shape.
#[test]
fn the_readmes_sample_tokens_are_found_by_the_published_pattern() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let samples: Vec<&str> = readme
        .lines()
        .filter_map(|line| line.trim().strip_prefix("export ADMIN_TOKEN="))
        .filter(|value| value.starts_with("svc_"))
        .collect();
    assert!(!samples.is_empty(), "the README shows a sample admin token");
    let pattern = DetectionPatterns::new(&TokenPrefix::parse("svc_").unwrap()).regex();
    let re2 = regex::Regex::new(&pattern).unwrap();
    for sample in samples {
        let found: Vec<&str> = re2
            .captures_iter(sample)
            .filter_map(|captures| captures.get(1))
            .map(|token| token.as_str())
            .collect();
        assert_eq!(found, [sample], "the pattern finds {sample}");
        assert!(has_valid_checksum(sample), "{sample}");
    }
}
