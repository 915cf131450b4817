//! SeaORM entities for the `users`, `sessions`, `revoked_sessions` and `email_links` tables.
//!
//! Times are stored as Unix milliseconds (`BIGINT`): one representation that compares and
//! indexes the same way on every backend.

/// Registered users.
pub mod user {
    use sea_orm::entity::prelude::*;

    /// A row of `users`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        /// Store-assigned id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The name as registered.
        pub username: String,
        /// Identity: the case-folded RFC 8265 form; unique.
        #[sea_orm(unique)]
        pub username_key: String,
        /// UTS #39 confusable skeleton of the identity; unique. `NULL` only for a user whose
        /// skeleton collided with an older user's when identities were migrated.
        pub username_skeleton: Option<String>,
        /// PHC string.
        pub password_hash: String,
        /// Changes whenever all the user's sessions must end.
        pub auth_stamp: String,
        /// Registration time, Unix ms.
        pub created_at: i64,
        /// Email address as given; `NULL` when none.
        pub email: Option<String>,
        /// The address lower-cased; unique.
        pub email_key: Option<String>,
        /// When the address was verified, Unix ms; `NULL` while unverified.
        pub email_verified_at: Option<i64>,
        /// The sealed TOTP secret; `NULL` while TOTP is off.
        pub totp_secret: Option<Vec<u8>>,
        /// The last TOTP time step accepted; `NULL` before the first.
        pub totp_last_step: Option<i64>,
        /// The WebAuthn user handle (16 random bytes); unique; set at the first passkey.
        pub webauthn_handle: Option<Vec<u8>>,
    }

    /// Relations of `users`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// A user has many sessions.
        #[sea_orm(has_many = "super::session::Entity")]
        Session,
    }

    impl Related<super::session::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Session.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Server-side sessions, keyed by the SHA-256 of their token.
pub mod session {
    use sea_orm::entity::prelude::*;

    /// A row of `sessions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        /// Internal key; never shown to clients.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Public id (random, base64url), shown to the owner; unique.
        #[sea_orm(unique)]
        pub public_id: String,
        /// SHA-256 of the token; unique.
        #[sea_orm(unique)]
        pub token_digest: Vec<u8>,
        /// Owner.
        pub user_id: i64,
        /// Login time, Unix ms.
        pub created_at: i64,
        /// Last recorded activity, Unix ms.
        pub last_seen_at: i64,
        /// Last password proof, Unix ms.
        pub authenticated_at: i64,
        /// Absolute deadline, Unix ms.
        pub expires_at: i64,
        /// Idle deadline, Unix ms; `NULL` for "remember me".
        pub idle_expires_at: Option<i64>,
        /// "Remember me" session.
        pub remember: bool,
        /// Browser that logged in.
        pub user_agent: Option<String>,
    }

    /// Relations of `sessions`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Each session belongs to one user.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Cookie-store sessions that logged out: their public id (the payload's nonce) until the
/// cookie would have expired, so a replayed copy is anonymous.
pub mod revoked_session {
    use sea_orm::entity::prelude::*;

    /// A row of `revoked_sessions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "revoked_sessions")]
    pub struct Model {
        /// The session's public id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        /// Whose session it was.
        pub user_id: i64,
        /// When the cookie would have expired, Unix ms; purged after.
        pub expires_at: i64,
    }

    /// Relations of `revoked_sessions`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Each revocation belongs to one user.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Verification and reset links, keyed by the SHA-256 of their token (contract §9).
pub mod email_link {
    use sea_orm::entity::prelude::*;

    /// A row of `email_links`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "email_links")]
    pub struct Model {
        /// SHA-256 of the token.
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_digest: Vec<u8>,
        /// Whose link it is.
        pub user_id: i64,
        /// `verify-email` or `reset-password`.
        pub purpose: String,
        /// The address it was sent to.
        pub email: String,
        /// When it was made, Unix ms.
        pub created_at: i64,
        /// When it stops working, Unix ms; purged after.
        pub expires_at: i64,
    }

    /// Relations of `email_links`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Each link belongs to one user.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Unused recovery codes, by their SHA-256 (contract §10).
pub mod recovery_code {
    use sea_orm::entity::prelude::*;

    /// A row of `recovery_codes`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_codes")]
    pub struct Model {
        /// Whose code it is.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        /// SHA-256 of the code's normal form.
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_digest: Vec<u8>,
    }

    /// Relations of `recovery_codes`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Each code belongs to one user.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Registered passkeys (contract §10).
pub mod passkey {
    use sea_orm::entity::prelude::*;

    /// A row of `passkeys`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "passkeys")]
    pub struct Model {
        /// Internal key.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Public id (random), shown to the owner; unique.
        #[sea_orm(unique)]
        pub public_id: String,
        /// Owner.
        pub user_id: i64,
        /// The authenticator's credential id; unique.
        #[sea_orm(unique)]
        pub credential_id: Vec<u8>,
        /// The name the user gave it.
        pub name: String,
        /// webauthn-rs's serialised passkey.
        pub credential: String,
        /// Registration time, Unix ms.
        pub created_at: i64,
        /// Last sign-in, Unix ms.
        pub last_used_at: Option<i64>,
    }

    /// Relations of `passkeys`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// WebAuthn ceremonies between their start and finish requests.
pub mod webauthn_ceremony {
    use sea_orm::entity::prelude::*;

    /// A row of `webauthn_ceremonies`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webauthn_ceremonies")]
    pub struct Model {
        /// Random id, given to the client.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The user it is for, if known at the start.
        pub user_id: Option<i64>,
        /// `register`, `login` or `second-factor`.
        pub purpose: String,
        /// webauthn-rs's serialised state.
        pub state: String,
        /// When it stops working, Unix ms.
        pub expires_at: i64,
    }

    /// Relations of `webauthn_ceremonies`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Personal API tokens (contract §11), keyed by the SHA-256 of their secret.
pub mod api_token {
    use sea_orm::entity::prelude::*;

    /// A row of `api_tokens`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        /// Internal key; never shown to clients.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Public id (random, base64url), shown to the owner; unique.
        #[sea_orm(unique)]
        pub public_id: String,
        /// SHA-256 of the secret; unique.
        #[sea_orm(unique)]
        pub token_digest: Vec<u8>,
        /// Owner.
        pub user_id: i64,
        /// The name its owner gave it.
        pub name: String,
        /// Creation time, Unix ms.
        pub created_at: i64,
        /// Expiry, Unix ms.
        pub expires_at: i64,
        /// Last use (to the minute), Unix ms.
        pub last_used_at: Option<i64>,
    }

    /// Relations of `api_tokens`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Each token belongs to one user.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}
