//! The client credentials grant (RFC 6749 §4.4): a service account's id and one of its tokens
//! as the client secret, sent with HTTP Basic (`client_secret_basic`, §2.3.1: id and secret
//! form-urlencoded, then base64) or in the body (`client_secret_post`), never both.

use admin_api::AdminState;
use admin_api::meta::RequestMeta;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shared::access::Scopes;
use shared::ids::ServiceAccountId;
use shared::token::TokenSecret;
use usecases::oauth::{AccessToken, ClientCredentials};

use super::error::{OAuthError, invalid_client, invalid_request};
use super::form::Form;

/// Authenticates the client and issues its access token.
pub(super) async fn client_credentials_grant(
    state: &AdminState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    form: &Form,
    scope: Option<Scopes>,
) -> Result<AccessToken, OAuthError> {
    let (client_id, client_secret) = client_credentials(headers, form)?;
    let client_id = ServiceAccountId::parse(&client_id).map_err(|_| invalid_client())?;
    let request = ClientCredentials {
        client_id,
        client_secret: TokenSecret::new(client_secret),
        scope,
        source_ip: meta.source_ip,
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
    };
    Ok(state
        .use_cases
        .issue_access_token(&state.verifier, &request)
        .await?)
}

/// The client id and secret, from HTTP Basic or from the body (one method only).
fn client_credentials(headers: &HeaderMap, form: &Form) -> Result<(String, String), OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim().to_owned());
    let posted = (form.get("client_id"), form.get("client_secret"));
    match (basic, posted) {
        (Some(_), (_, Some(_))) => Err(invalid_request(
            "use one client authentication method: HTTP Basic or the request body",
        )),
        (Some(encoded), (posted_id, None)) => {
            let decoded = STANDARD.decode(encoded).map_err(|_| invalid_client())?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
            let id = form_decode(id);
            if posted_id.is_some_and(|posted| posted != id) {
                return Err(invalid_request(
                    "`client_id` differs from the authenticated client",
                ));
            }
            Ok((id, form_decode(secret)))
        }
        (None, (Some(id), Some(secret))) => Ok((id.to_owned(), secret.to_owned())),
        (None, _) => Err(invalid_client()),
    }
}

fn form_decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, decoded)| decoded.into_owned())
        .unwrap_or_default()
}
