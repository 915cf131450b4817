//! Passkeys (contract §10, WebAuthn through `webauthn-rs`): registering, naming and removing
//! them, signing in with one alone (a discoverable credential with user verification, both
//! factors at once), and a passkey as the second factor after a password.
//!
//! A ceremony is two requests: its state (webauthn-rs's, with the challenge) is kept in the
//! store under a random id for [`CEREMONY_LIFETIME`], and taken (deleted) by the finishing
//! request, so a challenge is answered once. Malformed or refused responses from the browser
//! are an outcome ([`PasskeyOutcome::Refused`]), never an error.

use super::{ActiveSession, AuthService, Client, SecondFactorOutcome, ServiceError};
use crate::observe::{LoginMethod, Outcome};
use crate::session::SessionId;
use crate::store::{PasskeyRecord, User, UserId};
use std::time::Duration;
use time::OffsetDateTime;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};

/// How long a ceremony waits for the browser (WebAuthn's recommended timeout).
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest passkey name kept, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

const REGISTER: &str = "register";
const LOGIN: &str = "login";
const SECOND_FACTOR: &str = "second-factor";

/// A started ceremony: the id the finishing request names, and the options for
/// `navigator.credentials.create` / `.get` (`{"publicKey": …}`).
#[derive(Debug, Clone)]
pub struct Ceremony {
    /// Random id of the kept state.
    pub id: String,
    /// The options, as JSON.
    pub options: serde_json::Value,
}

/// What finishing a passkey ceremony came to.
#[derive(Debug)]
pub enum PasskeyOutcome<T> {
    /// Done.
    Done(T),
    /// The browser's answer was malformed, for another ceremony, expired, or refused by
    /// WebAuthn (no user verification, an unknown credential, a bad signature).
    Refused,
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeyView {
    /// Public id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last signed in.
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(record: &PasskeyRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

fn refused<T>(why: &str, user_id: Option<UserId>) -> Result<PasskeyOutcome<T>, ServiceError> {
    tracing::info!(event = "passkey.refused", user_id = ?user_id.map(|u| u.0), reason = why, "passkey ceremony refused");
    Ok(PasskeyOutcome::Refused)
}

fn clean_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_PASSKEY_NAME_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name.to_owned()
    }
}

impl AuthService {
    /// Whether passkeys are configured (`webauthn.rp_id` / `webauthn.origin`).
    pub fn passkeys_enabled(&self) -> bool {
        self.0.webauthn.is_some()
    }

    fn webauthn(&self) -> Result<&webauthn_rs::Webauthn, ServiceError> {
        self.0.webauthn.as_ref().ok_or(ServiceError::PasskeysOff)
    }

    async fn keep_ceremony<S: serde::Serialize>(
        &self,
        user_id: Option<UserId>,
        purpose: &str,
        state: &S,
        options: impl serde::Serialize,
    ) -> Result<Ceremony, ServiceError> {
        let id = SessionId::generate().as_str().to_owned();
        let state = serde_json::to_string(state).map_err(ServiceError::Serialisation)?;
        let expires_at = crate::session::later(OffsetDateTime::now_utc(), CEREMONY_LIFETIME);
        self.store()
            .save_ceremony(&id, user_id, purpose, &state, expires_at)
            .await?;
        let options = serde_json::to_value(options).map_err(ServiceError::Serialisation)?;
        Ok(Ceremony { id, options })
    }

    async fn take_ceremony<S: serde::de::DeserializeOwned>(
        &self,
        id: &str,
        purpose: &str,
    ) -> Result<Option<(Option<UserId>, S)>, ServiceError> {
        // Ceremony ids are minted like session ids: anything else is no ceremony of ours, and
        // never reaches a query (PostgreSQL refuses a text with NUL in it, as a 500).
        if SessionId::parse(id).is_none() {
            return Ok(None);
        }
        let Some((user_id, state)) = self
            .store()
            .take_ceremony(id, purpose, OffsetDateTime::now_utc())
            .await?
        else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&state).ok().map(|s| (user_id, s)))
    }

    /// The user's passkeys, oldest first.
    pub async fn list_passkeys(&self, user_id: UserId) -> Result<Vec<PasskeyView>, ServiceError> {
        Ok(self
            .store()
            .passkeys(user_id)
            .await?
            .iter()
            .map(PasskeyView::from)
            .collect())
    }

    fn stored_passkeys(records: &[PasskeyRecord]) -> Vec<Passkey> {
        records
            .iter()
            .filter_map(|r| serde_json::from_str(&r.credential).ok())
            .collect()
    }

    /// Starts registering a passkey for `session`'s user (the caller checked the login is
    /// fresh): a discoverable credential with user verification.
    pub async fn start_passkey_registration(
        &self,
        session: &ActiveSession,
    ) -> Result<Ceremony, ServiceError> {
        let webauthn = self.webauthn()?;
        let user = &session.user;
        let store = self.store();
        let handle = store
            .webauthn_handle(user.id, *Uuid::new_v4().as_bytes())
            .await?;
        let existing = store.passkeys(user.id).await?;
        let exclude = Self::stored_passkeys(&existing)
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let name = user.username.as_str();
        let (mut options, state): (_, PasskeyRegistration) = webauthn
            .start_passkey_registration(Uuid::from_bytes(handle), name, name, Some(exclude))
            .map_err(ServiceError::webauthn)?;
        // webauthn-rs asks for a non-discoverable credential; signing in without a username
        // needs one the authenticator keeps (a resident key).
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        self.keep_ceremony(Some(user.id), REGISTER, &state, options)
            .await
    }

    /// Finishes a registration with the browser's `credential` (`PublicKeyCredential.toJSON()`)
    /// and stores the passkey as `name`; a notice goes to the user's address.
    pub async fn finish_passkey_registration(
        &self,
        session: &ActiveSession,
        ceremony: &str,
        credential: serde_json::Value,
        name: &str,
        client: &Client,
    ) -> Result<PasskeyOutcome<PasskeyView>, ServiceError> {
        let webauthn = self.webauthn()?;
        let user = &session.user;
        let Some((owner, state)) = self
            .take_ceremony::<PasskeyRegistration>(ceremony, REGISTER)
            .await?
        else {
            return refused("unknown or expired registration", Some(user.id));
        };
        if owner != Some(user.id) {
            return refused("another user's registration", Some(user.id));
        }
        let Ok(response) = serde_json::from_value::<RegisterPublicKeyCredential>(credential) else {
            return refused("malformed registration response", Some(user.id));
        };
        let passkey = match webauthn.finish_passkey_registration(&response, &state) {
            Ok(passkey) => passkey,
            Err(error) => {
                tracing::info!(event = "passkey.refused", user_id = %user.id, error = %error, "passkey registration refused");
                return Ok(PasskeyOutcome::Refused);
            }
        };
        let record = PasskeyRecord {
            id: SessionId::generate().as_str().to_owned(),
            user_id: user.id,
            credential_id: passkey.cred_id().as_ref().to_vec(),
            name: clean_name(name),
            credential: serde_json::to_string(&passkey).map_err(ServiceError::Serialisation)?,
            created_at: OffsetDateTime::now_utc(),
            last_used_at: None,
        };
        match self.store().add_passkey(&record).await {
            Ok(()) => {}
            Err(crate::StoreError::Taken) => {
                return refused("credential already registered", Some(user.id));
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(event = "second_factor.passkey.added", user_id = %user.id, client = %client.address_field(), passkey_id = %record.id, "passkey registered");
        self.notify_passkey_change(user, &format!("a passkey ({}) was added", record.name));
        Ok(PasskeyOutcome::Done(PasskeyView::from(&record)))
    }

    /// Renames the user's passkey `id`; `false` if they have none with that id.
    pub async fn rename_passkey(
        &self,
        session: &ActiveSession,
        id: &str,
        name: &str,
    ) -> Result<bool, ServiceError> {
        if SessionId::parse(id).is_none() {
            return Ok(false);
        }
        Ok(self
            .store()
            .rename_passkey(session.user.id, id, &clean_name(name))
            .await?)
    }

    /// Removes the user's passkey `id` (the caller checked the login is fresh); audited and
    /// notified. `false` if they have none with that id.
    pub async fn remove_passkey(
        &self,
        session: &ActiveSession,
        id: &str,
        client: &Client,
    ) -> Result<bool, ServiceError> {
        let user = &session.user;
        // Passkey ids are minted like session ids; see `take_ceremony`.
        if SessionId::parse(id).is_none() || !self.store().remove_passkey(user.id, id).await? {
            return Ok(false);
        }
        tracing::info!(event = "second_factor.passkey.removed", user_id = %user.id, client = %client.address_field(), passkey_id = %id, "passkey removed");
        self.notify_passkey_change(user, "a passkey was removed");
        Ok(true)
    }

    /// Starts a sign-in with a passkey alone (no username): a discoverable credential.
    pub async fn start_passkey_login(&self) -> Result<Ceremony, ServiceError> {
        let (options, state): (_, DiscoverableAuthentication) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(ServiceError::webauthn)?;
        self.keep_ceremony(None, LOGIN, &state, options).await
    }

    /// Finishes a sign-in with a passkey alone: both factors at once, a new session.
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        credential: serde_json::Value,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<PasskeyOutcome<Box<ActiveSession>>, ServiceError> {
        let result = self
            .passkey_login(ceremony, credential, client, replacing)
            .await;
        self.report_login(LoginMethod::Passkey, result, |outcome| match outcome {
            PasskeyOutcome::Done(_) => Outcome::Success,
            PasskeyOutcome::Refused => Outcome::InvalidCredentials,
        })
    }

    async fn passkey_login(
        &self,
        ceremony: &str,
        credential: serde_json::Value,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<PasskeyOutcome<Box<ActiveSession>>, ServiceError> {
        let webauthn = self.webauthn()?;
        let Some((_, state)) = self
            .take_ceremony::<DiscoverableAuthentication>(ceremony, LOGIN)
            .await?
        else {
            return refused("unknown or expired sign-in", None);
        };
        let Ok(response) = serde_json::from_value::<PublicKeyCredential>(credential) else {
            return refused("malformed sign-in response", None);
        };
        let Ok((handle, credential_id)) = webauthn.identify_discoverable_authentication(&response)
        else {
            return refused("no user handle", None);
        };
        let store = self.store();
        let Some(user) = store
            .find_user_by_webauthn_handle(handle.as_bytes())
            .await?
        else {
            return refused("unknown user handle", None);
        };
        let Some(record) = store.passkey_by_credential_id(credential_id).await? else {
            return refused("unknown or removed passkey", Some(user.id));
        };
        if record.user_id != user.id {
            return refused("a passkey of another user", Some(user.id));
        }
        let Ok(mut passkey) = serde_json::from_str::<Passkey>(&record.credential) else {
            return refused("unreadable stored passkey", Some(user.id));
        };
        let key = DiscoverableKey::from(&passkey);
        let result = match webauthn.finish_discoverable_authentication(&response, state, &[key]) {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(event = "passkey.refused", user_id = %user.id, error = %error, "passkey sign-in refused");
                return Ok(PasskeyOutcome::Refused);
            }
        };
        self.record_use(&record, &mut passkey, &result).await?;
        if let Some(previous) = replacing {
            self.end(previous).await?;
        }
        let now = OffsetDateTime::now_utc();
        self.notify_if_new_device(&user, client, now);
        let session = self.start_session(user, false, client, now).await?;
        tracing::info!(event = "login.success", user_id = %session.user.id, client = %client.address_field(), second_factor = "passkey", "login succeeded with a passkey");
        Ok(PasskeyOutcome::Done(Box::new(session)))
    }

    async fn record_use(
        &self,
        record: &PasskeyRecord,
        passkey: &mut Passkey,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<(), ServiceError> {
        let updated = match passkey.update_credential(result) {
            Some(true) => serde_json::to_string(passkey).ok(),
            _ => None,
        };
        self.store()
            .record_passkey_use(&record.id, updated.as_deref(), OffsetDateTime::now_utc())
            .await?;
        Ok(())
    }

    /// Starts a passkey as the second factor of `pending`'s user.
    pub async fn start_passkey_second_factor(
        &self,
        pending: &super::PendingLogin,
    ) -> Result<Option<Ceremony>, ServiceError> {
        let webauthn = self.webauthn()?;
        let records = self.store().passkeys(pending.user_id).await?;
        let passkeys = Self::stored_passkeys(&records);
        if passkeys.is_empty() {
            return Ok(None);
        }
        let (options, state): (_, PasskeyAuthentication) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(ServiceError::webauthn)?;
        self.keep_ceremony(Some(pending.user_id), SECOND_FACTOR, &state, options)
            .await
            .map(Some)
    }

    /// Finishes a passkey as the second factor: a new session, as
    /// [`complete_second_factor`](Self::complete_second_factor) does for codes.
    pub async fn finish_passkey_second_factor(
        &self,
        pending: &super::PendingLogin,
        ceremony: &str,
        credential: serde_json::Value,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<SecondFactorOutcome, ServiceError> {
        let result = self
            .passkey_second_factor(pending, ceremony, credential, client, replacing)
            .await;
        self.report_second_factor(result)
    }

    async fn passkey_second_factor(
        &self,
        pending: &super::PendingLogin,
        ceremony: &str,
        credential: serde_json::Value,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<SecondFactorOutcome, ServiceError> {
        let webauthn = self.webauthn()?;
        let Some(user) = self.pending_user(pending).await? else {
            return Ok(SecondFactorOutcome::Expired);
        };
        let Some((owner, state)) = self
            .take_ceremony::<PasskeyAuthentication>(ceremony, SECOND_FACTOR)
            .await?
        else {
            return Ok(SecondFactorOutcome::InvalidCode);
        };
        if owner != Some(user.id) {
            return Ok(SecondFactorOutcome::InvalidCode);
        }
        let Ok(response) = serde_json::from_value::<PublicKeyCredential>(credential) else {
            return Ok(SecondFactorOutcome::InvalidCode);
        };
        let Some(record) = self
            .store()
            .passkey_by_credential_id(response.get_credential_id())
            .await?
            .filter(|r| r.user_id == user.id)
        else {
            return Ok(SecondFactorOutcome::InvalidCode);
        };
        let Ok(mut passkey) = serde_json::from_str::<Passkey>(&record.credential) else {
            return Ok(SecondFactorOutcome::InvalidCode);
        };
        let result = match webauthn.finish_passkey_authentication(&response, &state) {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(event = "login.second_factor.failure", user_id = %user.id, error = %error, "passkey refused as the second factor");
                return Ok(SecondFactorOutcome::InvalidCode);
            }
        };
        self.record_use(&record, &mut passkey, &result).await?;
        self.finish_login(user, pending.remember, client, replacing, "passkey")
            .await
            .map(|s| SecondFactorOutcome::LoggedIn(Box::new(s)))
    }

    fn notify_passkey_change(&self, user: &User, change: &str) {
        self.notify(
            user,
            crate::mail::LetterKind::SecondFactorChanged {
                change: change.to_owned(),
            },
        );
    }
}
