//! "Needs attention", at the top of the settings page: how many of the organization's tokens
//! expire within its warning window, are unused (for the retirement window when the policy
//! has one, else never used), or were reported leaked, each a link to the tokens' list
//! filtered to them. Counted over at most [`READ_PAGES`] pages of 100 tokens.

use admin_api::problem::ApiError;
use maud::{Markup, html};
use shared::lifecycle::retirement_due;
use usecases::{PageLimit, TokenListScope};

use crate::ConsoleState;
use crate::parts::risk::{Summary, warning_window};
use crate::signin::Signed;

/// How many pages of 100 tokens the summary reads at most.
pub const READ_PAGES: usize = 10;

/// "1 token", "3 tokens".
fn tokens(count: usize) -> String {
    match count {
        1 => "1 token".to_owned(),
        n => format!("{n} tokens"),
    }
}

/// The section.
pub async fn needs_attention(state: &ConsoleState, signed: &Signed) -> Result<Markup, ApiError> {
    let use_cases = &state.accounts.admin.use_cases;
    let org = &signed.org;
    let now = use_cases.now();
    let window = warning_window(org);
    let retire_after = org.token_policy.revoke_unused_after_days();
    let mut summary = Summary::default();
    let mut unused = 0;
    let mut cursor: Option<String> = None;
    let mut complete = false;
    for _ in 0..READ_PAGES {
        let page = use_cases
            .list_tokens(
                &org.id,
                &TokenListScope::All,
                PageLimit::FULL,
                cursor.as_deref(),
            )
            .await?;
        let counted = Summary::of(&page.items, window, now);
        summary.expiring += counted.expiring;
        summary.leaked += counted.leaked;
        summary.never_used += counted.never_used;
        if let Some(after) = retire_after {
            unused += page
                .items
                .iter()
                .filter(|token| retirement_due(token, after, now))
                .count();
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            complete = true;
            break;
        }
    }
    let frame = signed.frame();
    let list = |risk: &str| format!("{}?risk={risk}", frame.org_url("/tokens"));
    let days = window.whole_days();
    let verb = |count: usize| if count == 1 { "expires" } else { "expire" };
    let calm = summary.expiring == 0
        && summary.leaked == 0
        && (if retire_after.is_some() {
            unused == 0
        } else {
            summary.never_used == 0
        });
    Ok(html! {
        section aria-labelledby="attention-heading" class="attention" {
            h2 id="attention-heading" { "Needs attention" }
            @if calm {
                p { "Nothing needs attention now: no token expires within " (days) " days, none is unused, none was reported leaked." }
            }
            ul {
                li id="attention-expiring" {
                    a href=(list("expiring")) {
                        strong class="count" { (tokens(summary.expiring)) } " "
                        (verb(summary.expiring))
                        @if days == 7 { " this week" } @else { " within " (days) " days" }
                    }
                    " (the organization's warning window)"
                }
                li id="attention-unused" {
                    @match retire_after {
                        Some(after) => {
                            a href=(list("unused")) {
                                strong class="count" { (tokens(unused)) } " unused for " (after.days()) " days or more"
                            }
                            ": the policy revokes them when the lifecycle next runs"
                        }
                        None => {
                            a href=(list("unused")) {
                                strong class="count" { (tokens(summary.never_used)) } " never used"
                            }
                            " since they were minted (the policy revokes no unused token: set the number of days below to retire them)"
                        }
                    }
                }
                li id="attention-leaked" {
                    a href=(list("leaked")) {
                        strong class="count" { (tokens(summary.leaked)) } " reported leaked"
                    }
                    " (revoked when reported: whoever used them needs new ones)"
                }
            }
            @if !complete {
                p class="muted" { "Counted over the first " (READ_PAGES * 100) " tokens of the organization." }
            }
        }
    })
}
