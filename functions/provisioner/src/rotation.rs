//! Secrets Manager's rotation of a service token's secret: the four steps, each idempotent,
//! with the `ClientRequestToken` as the new version's id.
//!
//! | step | what it does | repeated |
//! | --- | --- | --- |
//! | `createSecret` | a new token for the current one's owner, not stored yet, kept as the `AWSPENDING` version | finds the pending version, does nothing |
//! | `setSecret` | the current token (verified through the one verification path) rotates into the pending one with the grace period (the rotate-with-grace use case, as a self-rotation) | finds the pending token stored, does nothing |
//! | `testSecret` | the pending token is verified through the one verification path | verifies again |
//! | `finishSecret` | `AWSCURRENT` moves to the pending version (`AWSPREVIOUS` to the old one) | finds it current, does nothing |
//!
//! The old token keeps working for the grace period from `setSecret` (`ROTATION_GRACE_SECONDS`),
//! so readers that cached it carry on, and is refused after it.

use serde::Deserialize;
use shared::ids::TokenId;
use shared::token::{ParsedToken, TokenSecret};
use time::Duration;
use usecases::UseCases;
use usecases::verify::{CacheSettings, Verifier};

use crate::secrets::{CURRENT, PENDING, SecretInfo, Secrets, SecretsError, TokenDocument};

/// Secrets Manager's rotation event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub secret_id: String,
    pub client_request_token: String,
    pub step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

/// Why a step failed; Secrets Manager records the rotation as failed, and the next attempt
/// starts over from the step that failed. Never names a token's text.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("there is no secret {0}")]
    NoSecret(String),
    #[error("rotation is not enabled on the secret")]
    NotEnabled,
    #[error("the secret has no version {0}")]
    UnknownVersion(String),
    #[error("version {0} is not AWSPENDING")]
    NotPending(String),
    #[error("the secret has no {0} version")]
    Missing(&'static str),
    #[error("the secret holds no token of this deployment")]
    NotAToken,
    #[error("the token was refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    UseCase(#[from] usecases::UseCaseError),
}

/// The rotation function.
#[derive(Debug)]
pub struct Rotation {
    pub use_cases: UseCases,
    pub secrets: Secrets,
    pub grace: Duration,
    verifier: Verifier,
}

impl Rotation {
    pub fn new(use_cases: UseCases, secrets: Secrets, grace: Duration) -> Self {
        // No negative cache: a pending token is unknown until setSecret stores it, and a
        // testSecret repeated after that must see it.
        let verifier = use_cases.verifier(CacheSettings {
            negative_entries: 0,
            ..CacheSettings::ADMIN
        });
        Self {
            use_cases,
            secrets,
            grace,
            verifier,
        }
    }

    /// Runs one step.
    pub async fn handle(&self, event: &RotationEvent) -> Result<(), RotationError> {
        let secret = &event.secret_id;
        let version = &event.client_request_token;
        let info = self
            .secrets
            .describe(secret)
            .await?
            .ok_or_else(|| RotationError::NoSecret(secret.clone()))?;
        if !info.rotation_enabled {
            return Err(RotationError::NotEnabled);
        }
        // Secrets Manager names the new version (AWSPENDING, no value yet) before the first
        // step; createSecret also accepts a version not named yet, and names it.
        let known = info.versions.contains_key(version);
        if !known && event.step != Step::CreateSecret {
            return Err(RotationError::UnknownVersion(version.clone()));
        }
        if info.version_has(version, CURRENT) {
            // Already finished (a repeated finishSecret, or a step of a rotation done since).
            tracing::info!(step = ?event.step, %version, "the version is current already");
            return Ok(());
        }
        if known && !info.version_has(version, PENDING) {
            return Err(RotationError::NotPending(version.clone()));
        }
        match event.step {
            Step::CreateSecret => self.create(&info, version).await,
            Step::SetSecret => self.set(&info, version).await,
            Step::TestSecret => self.test(&info, version).await,
            Step::FinishSecret => self.finish(&info, version).await,
        }?;
        tracing::info!(step = ?event.step, %version, "rotation step done");
        Ok(())
    }

    fn parse(&self, document: &TokenDocument) -> Result<ParsedToken, RotationError> {
        ParsedToken::parse(
            &self.use_cases.token_format,
            TokenSecret::new(document.token.clone()),
        )
        .map_err(|_| RotationError::NotAToken)
    }

    async fn document(
        &self,
        info: &SecretInfo,
        version: Option<&str>,
        label: &'static str,
    ) -> Result<TokenDocument, RotationError> {
        self.secrets
            .document(&info.arn, version, Some(label))
            .await?
            .ok_or(RotationError::Missing(label))
    }

    /// A new token for the current one's owner, kept as the pending version.
    async fn create(&self, info: &SecretInfo, version: &str) -> Result<(), RotationError> {
        if self
            .secrets
            .document(&info.arn, Some(version), Some(PENDING))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let current = self.document(info, None, CURRENT).await?;
        let parsed = self.parse(&current)?;
        let new = self
            .use_cases
            .generate_token(parsed.org(), parsed.owner())?;
        let document = TokenDocument {
            token: new.secret().expose_secret().to_owned(),
            token_id: new.id().to_string(),
            prefix: new.display_prefix().to_owned(),
            ..current
        };
        self.secrets
            .put(&info.arn, version, &document, PENDING)
            .await?;
        Ok(())
    }

    /// The current token rotates into the pending one.
    async fn set(&self, info: &SecretInfo, version: &str) -> Result<(), RotationError> {
        let pending_document = self.document(info, Some(version), PENDING).await?;
        let pending = self.parse(&pending_document)?;
        let stored = self
            .use_cases
            .stored_token(pending.org(), pending.owner(), pending.id())
            .await?;
        if stored.is_some() {
            return Ok(());
        }
        let current_document = self.document(info, None, CURRENT).await?;
        // The pending token was made for the current one: the same owner and resource (a
        // replacement since createSecret took the current token out of the secret).
        if (
            &pending_document.organization,
            &pending_document.service_account,
            &pending_document.resource,
        ) != (
            &current_document.organization,
            &current_document.service_account,
            &current_document.resource,
        ) {
            return Err(RotationError::Refused(
                "the pending token was made for another token than the current one; start a new rotation".into(),
            ));
        }
        let current = self.parse(&current_document)?;
        let verified = self
            .verifier
            .verify(current.secret().clone(), None)
            .await
            .map_err(|error| RotationError::Refused(error.to_string()))?;
        let actor = verified.principal.actor().with_request(
            None,
            Some("AWS Secrets Manager rotation"),
            Some(version),
        );
        self.use_cases
            .self_rotate_into(verified, actor, self.grace, Some(pending))
            .await?;
        Ok(())
    }

    /// The pending token authenticates through the one verification path.
    async fn test(&self, info: &SecretInfo, version: &str) -> Result<(), RotationError> {
        let pending = self.parse(&self.document(info, Some(version), PENDING).await?)?;
        let verified = self
            .verifier
            .verify(pending.secret().clone(), None)
            .await
            .map_err(|error| RotationError::Refused(error.to_string()))?;
        let id: &TokenId = pending.id();
        if verified.principal.token_id != *id {
            return Err(RotationError::Refused("another token answered".into()));
        }
        Ok(())
    }

    /// `AWSCURRENT` moves to the pending version, which then loses `AWSPENDING` (so no later
    /// `RotateSecret` takes the finished rotation for one in progress).
    async fn finish(&self, info: &SecretInfo, version: &str) -> Result<(), RotationError> {
        let current = info.version_with(CURRENT).map(str::to_owned);
        self.secrets
            .move_label(&info.arn, CURRENT, version, current.as_deref())
            .await?;
        self.secrets
            .remove_label(&info.arn, PENDING, version)
            .await?;
        Ok(())
    }
}
