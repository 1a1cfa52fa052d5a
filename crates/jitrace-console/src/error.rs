//! The console's one error type.

/// What a console operation can fail with. The API maps each to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown user, wrong password or locked account: deliberately one answer.
    #[error("the name or password is wrong, or the account is locked for a while")]
    SignInFailed,
    /// No session with this id, or it expired.
    #[error("not signed in, or the session expired")]
    NoSession,
    /// A state-changing request without the session's CSRF token.
    #[error("the request's CSRF token is missing or wrong")]
    Csrf,
    /// A user of this name exists already.
    #[error("a user named {0:?} exists already")]
    UserExists(String),
    /// A field breaks its rule (name syntax, password length…).
    #[error("{0}")]
    Invalid(String),
    /// A sealed key did not open: the wrong password, or the record was tampered with.
    #[error("the sealed key does not open with this password")]
    KeyDoesNotOpen,
    /// The user database failed or holds a record that does not decode.
    #[error("console store: {0}")]
    Store(String),
}

macro_rules! store_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Store(e.to_string())
            }
        }
    )*};
}
store_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    std::io::Error
);
