//! The confirmation step before a change that cannot be undone or stops something working
//! (revoke, revoke all, disable, a rotation with no grace, deleting a trust policy, the bulk
//! actions). Without script: the change's button posts its form; without `confirm=yes` the
//! answer is a page that says what will happen, with the same form again (every field kept,
//! `confirm=yes` added) and a way back. Only the second post changes anything.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::org_page;
use crate::signin::{Form, Signed};
use crate::views::csrf_field;

/// Whether the person confirmed the change.
pub fn confirmed(form: &Form) -> bool {
    form.get("confirm") == Some("yes")
}

/// What the confirmation page says and does.
#[derive(Debug)]
pub struct Ask<'a> {
    /// The page's title, a question ("Revoke the token deploy?").
    pub title: String,
    /// What happens, in a sentence or two.
    pub consequence: String,
    /// The button's words ("Revoke").
    pub button: &'a str,
    /// Where the change posts.
    pub action: &'a str,
    /// Where "Cancel" leads.
    pub back: &'a str,
}

/// The confirmation page of `form`, posted to `ask.action` again with `confirm=yes`.
pub fn ask(signed: &Signed, ask: &Ask<'_>, form: &Form) -> Response {
    let kept = form
        .0
        .iter()
        .filter(|(name, _)| name != "csrf" && name != "confirm");
    let content = html! {
        p class="warning" id="consequence" { (ask.consequence) }
        form method="post" action=(ask.action) class="confirm" {
            (csrf_field(&signed.session.csrf))
            @for (name, value) in kept {
                input type="hidden" name=(name) value=(value);
            }
            input type="hidden" name="confirm" value="yes";
            button type="submit" class="danger" aria-describedby="consequence" { (ask.button) }
            " "
            a href=(ask.back) { "Cancel" }
        }
    };
    org_page(signed, StatusCode::OK, &ask.title, content)
}
