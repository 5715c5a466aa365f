//! Who a request is from: [`Signed`], the person (or admin token) of the session, checked
//! again on every request against the organization as it is now.

use admin_api::identity::admit_person;
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use shared::ids::OrgId;
use shared::model::Organization;
use shared::people::PersonRole;
use usecases::{Caller, Identity};

use super::token::token_caller;
use super::{Form, frame};
use crate::ConsoleState;
use crate::session::{Session, Who, csrf_matches};
use crate::views::{Frame, error_page, notice_text, see_other};

/// A signed-in person of the organization in the path, as a caller of the use cases, with
/// that organization as stored. No session: off to sign in. A session of another
/// organization: `404`. The role comes from the organization's providers now.
#[derive(Debug, Clone)]
pub struct Signed {
    pub caller: Caller,
    pub org: Organization,
    pub session: Session,
    pub role: PersonRole,
    pub display: String,
    pub meta: RequestMeta,
    /// The change the redirect that led here reports (`?done=`), in words.
    pub notice: Option<&'static str>,
}

impl Signed {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            base: &self.meta.base_path,
            org: Some(self.org.id.as_str()),
            who: Some((
                &self.display,
                match self.role {
                    PersonRole::Admin => "admin",
                    PersonRole::Auditor => "auditor",
                },
            )),
            csrf: Some(&self.session.csrf),
            notice: self.notice,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == PersonRole::Admin
    }

    /// The refusal of a change: a stale or forged form, or an auditor.
    pub fn may_change(&self, form: &Form) -> Result<(), ApiError> {
        if !csrf_matches(&self.session, form.get("csrf")) {
            return Err(ApiError::Forbidden(
                "the form is stale or was not sent from the console: reload the page",
            ));
        }
        self.caller.require_admin(&self.org.id)?;
        Ok(())
    }
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(meta) = RequestMeta::from_request_parts(parts, &()).await;
        let frame = frame(&meta);
        let org = admin_api::extract::path_param(parts, "org")
            .await
            .ok()
            .and_then(|org| OrgId::parse(&org).ok())
            .ok_or_else(|| error_page(&frame, &ApiError::NotFound("organization")))?;
        let admin = &state.accounts.admin;
        let now = admin.use_cases.now();
        let Some(session) = state.config.sessions.session(&parts.headers, now) else {
            let to = format!("{}?org={org}", frame.url("/sign-in"));
            return Err(see_other(&to, &[]));
        };
        if session.org != org.as_str() {
            return Err(error_page(&frame, &ApiError::NotFound("organization")));
        }
        let stored = admin
            .use_cases
            .org(&org)
            .await
            .map_err(|error| error_page(&frame, &error.into()))?;
        let (caller, role, display) = match &session.who {
            Who::Person {
                issuer,
                subject,
                claims,
            } => {
                let verified = oidc::Verified {
                    issuer: issuer.clone(),
                    subject: subject.clone(),
                    claims: claims.clone(),
                    // A session, not a token: its header is long gone.
                    token_type: oidc::TokenType::Unseen,
                };
                let caller = match admit_person(&stored, verified, &meta) {
                    Ok(caller) => caller,
                    // The provider was removed: sign in again.
                    Err(ApiError::Unauthenticated) => {
                        let to = format!("{}?org={org}", frame.url("/sign-in"));
                        return Err(see_other(&to, &[state.config.sessions.end()]));
                    }
                    Err(error) => return Err(error_page(&frame, &error)),
                };
                let Identity::Person(person) = &caller.identity else {
                    return Err(error_page(&frame, &ApiError::Unauthenticated));
                };
                let (role, display) = (person.role, person.display.clone());
                (caller, role, display)
            }
            Who::Token { token, account } => {
                match token_caller(state, &stored, token, account.as_deref(), &meta).await {
                    Ok(found) => found,
                    // Revoked, expired, disabled, no longer admin: sign in again.
                    Err(ApiError::Unauthenticated | ApiError::Forbidden(_)) => {
                        let to = format!("{}?org={org}", frame.url("/sign-in"));
                        return Err(see_other(&to, &[state.config.sessions.end()]));
                    }
                    Err(error) => return Err(error_page(&frame, &error)),
                }
            }
        };
        let notice = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "done")
                .and_then(|(_, code)| notice_text(&code))
        });
        Ok(Self {
            caller,
            org: stored,
            session,
            role,
            display,
            meta,
            notice,
        })
    }
}
