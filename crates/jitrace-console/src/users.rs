//! The user store (`console.redb`): one borsh record per user name, and the sign-in rules.

use crate::{
    ConsoleRole, Error,
    keystore::SealedKey,
    password::{hash_password, verify_nothing, verify_password},
    sessions::{ActiveSession, Sessions, SignedIn},
};
use borsh::{BorshDeserialize, BorshSerialize};
use jitrace_types::{OrgId, PublicKey, SecretKey};
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use std::{path::Path, sync::Mutex};

const USERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("users");
/// A user's sealed code-signing key (borsh `SealedKey`), by user name.
const CODE_KEYS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("code_keys");

/// What a code-signing key is sealed to: not the user's name alone, so that it can never be
/// opened as (or swapped for) the member key.
fn code_key_owner(name: &str) -> String {
    format!("code-key:{name}")
}

/// Failed sign-ins in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_MS: u64 = 15 * 60 * 1000;

/// A console user, as stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct User {
    /// The sign-in name: 3–64 of `a-z 0-9 . _ @ -`.
    pub name: String,
    /// The name shown in the console.
    pub display_name: String,
    /// The organisation the user acts for.
    pub org: OrgId,
    pub role: ConsoleRole,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The user's member key, sealed with their password.
    pub sealed_key: SealedKey,
    /// The member key's public half (what the organisation lists as a member).
    pub public_key: PublicKey,
    /// Failed sign-ins since the last success.
    pub failures: u32,
    /// Locked until this time (Unix ms); 0 when not locked.
    pub locked_until_ms: u64,
    pub created_ms: u64,
}

/// A user to create.
pub struct NewUser<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub org: OrgId,
    pub role: ConsoleRole,
    pub password: &'a str,
    /// The member key to seal; `None`: the node generates one.
    pub key: Option<SecretKey>,
}

/// Console users and their sessions.
pub struct Console {
    db: Database,
    sessions: Mutex<Sessions>,
}

fn validate_name(name: &str) -> Result<(), Error> {
    let ok = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "a user name has 3 to 64 of a-z, 0-9, '.', '_', '@' and '-'".into(),
        ))
    }
}

fn decode(bytes: &[u8]) -> Result<User, Error> {
    User::try_from_slice(bytes).map_err(|e| Error::Store(format!("a user record: {e}")))
}

impl Console {
    /// Opens (or creates) the user store at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(USERS)?;
        txn.commit()?;
        Ok(Self {
            db,
            sessions: Mutex::new(Sessions::default()),
        })
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a user with a sealed member key (the given one, or a new one).
    pub fn create_user(&self, new: NewUser<'_>, now_ms: u64) -> Result<User, Error> {
        validate_name(new.name)?;
        let display_name = new.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(Error::Invalid(
                "a display name has 1 to 100 characters".into(),
            ));
        }
        let key = new.key.unwrap_or_else(SecretKey::generate);
        let user = User {
            name: new.name.to_string(),
            display_name: display_name.to_string(),
            org: new.org,
            role: new.role,
            password_hash: hash_password(new.password)?,
            sealed_key: SealedKey::seal(&key, new.password, new.name)?,
            public_key: key.public_key(),
            failures: 0,
            locked_until_ms: 0,
            created_ms: now_ms,
        };
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(USERS)?;
            if table.get(new.name)?.is_some() {
                return Err(Error::UserExists(new.name.to_string()));
            }
            table.insert(new.name, borsh::to_vec(&user)?.as_slice())?;
        }
        txn.commit()?;
        Ok(user)
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Result<Option<User>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(USERS)?;
        table.get(name)?.map(|v| decode(v.value())).transpose()
    }

    /// Users, by name; only those of `org` when given.
    pub fn users(&self, org: Option<&OrgId>) -> Result<Vec<User>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(USERS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let user = decode(entry?.1.value())?;
            if org.is_none_or(|o| &user.org == o) {
                out.push(user);
            }
        }
        Ok(out)
    }

    fn put(&self, user: &User) -> Result<(), Error> {
        let txn = self.db.begin_write()?;
        txn.open_table(USERS)?
            .insert(user.name.as_str(), borsh::to_vec(user)?.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Signs a user in: checks the password (and the lock-out), opens their key, starts a
    /// session. Every failure is [`Error::SignInFailed`] after one Argon2id verification.
    pub fn sign_in(&self, name: &str, password: &str, now_ms: u64) -> Result<SignedIn, Error> {
        let Some(mut user) = self.user(name)? else {
            verify_nothing(password);
            return Err(Error::SignInFailed);
        };
        let matches = verify_password(&user.password_hash, password);
        if user.locked_until_ms > now_ms {
            return Err(Error::SignInFailed);
        }
        if !matches {
            user.failures = user.failures.saturating_add(1);
            if user.failures >= MAX_FAILURES {
                user.failures = 0;
                user.locked_until_ms = now_ms + LOCKOUT_MS;
            }
            self.put(&user)?;
            return Err(Error::SignInFailed);
        }
        let key = user.sealed_key.open(password, &user.name)?;
        let code_key = self
            .sealed_code_key(&user.name)?
            .map(|sealed| sealed.open(password, &code_key_owner(&user.name)))
            .transpose()?;
        if user.failures != 0 || user.locked_until_ms != 0 {
            user.failures = 0;
            user.locked_until_ms = 0;
            self.put(&user)?;
        }
        Ok(self.sessions().start(user, key, code_key, now_ms))
    }

    fn sealed_code_key(&self, name: &str) -> Result<Option<SealedKey>, Error> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(CODE_KEYS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        table
            .get(name)?
            .map(|v| {
                SealedKey::try_from_slice(v.value())
                    .map_err(|e| Error::Store(format!("a sealed code key: {e}")))
            })
            .transpose()
    }

    /// Seals the brand's code-signing `key` for user `name` under their `password`, so that it
    /// is opened in their sessions and signs label files in the console. Like member keys, it
    /// exists on disk only sealed. The password is checked as a sign-in is, wrong ones counting
    /// towards the lock-out, so a stolen session cannot be used to guess it.
    pub fn seal_code_key(
        &self,
        name: &str,
        password: &str,
        key: &SecretKey,
        now_ms: u64,
    ) -> Result<(), Error> {
        let check = self.sign_in(name, password, now_ms)?;
        self.sign_out(&check.token);
        let sealed = SealedKey::seal(key, password, &code_key_owner(name))?;
        let txn = self.db.begin_write()?;
        txn.open_table(CODE_KEYS)?
            .insert(name, borsh::to_vec(&sealed)?.as_slice())?;
        txn.commit()?;
        self.sessions()
            .set_code_key(name, &std::sync::Arc::new(key.clone()));
        Ok(())
    }

    /// The live session of a cookie's `token`.
    pub fn session(&self, token: &str, now_ms: u64) -> Result<ActiveSession, Error> {
        self.sessions().touch(token, now_ms)
    }

    /// Ends the session of `token`.
    pub fn sign_out(&self, token: &str) {
        self.sessions().end(token);
    }

    /// Ends every session of user `name` (after a change to the user).
    pub fn sign_out_user(&self, name: &str) {
        self.sessions().end_user(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ABSOLUTE_MS, IDLE_MS};

    const T0: u64 = 1_800_000_000_000;

    fn console() -> (tempfile::TempDir, Console) {
        let dir = tempfile::tempdir().unwrap();
        let console = Console::open(&dir.path().join("console.redb")).unwrap();
        (dir, console)
    }

    fn alice(console: &Console, key: Option<SecretKey>) -> User {
        console
            .create_user(
                NewUser {
                    name: "alice",
                    display_name: "Alice 爱丽丝",
                    org: OrgId::new("jade-valley").unwrap(),
                    role: ConsoleRole::Admin,
                    password: "correct horse battery",
                    key,
                },
                T0,
            )
            .unwrap()
    }

    #[test]
    fn users_are_stored_with_hashed_passwords_and_sealed_keys() {
        let (dir, console) = console();
        let key = SecretKey::generate();
        let user = alice(&console, Some(key.clone()));
        assert_eq!(user.public_key, key.public_key());
        assert!(user.password_hash.starts_with("$argon2id$"));
        let file = std::fs::read(dir.path().join("console.redb")).unwrap();
        let needle = hex::decode(key.to_hex()).unwrap();
        assert!(
            !file.windows(32).any(|w| w == needle),
            "the seed is on disk"
        );
        assert!(!file.windows(21).any(|w| w == b"correct horse battery"));
        assert!(matches!(
            console.create_user(
                NewUser {
                    name: "alice",
                    display_name: "Again",
                    org: OrgId::new("x-org").unwrap(),
                    role: ConsoleRole::Viewer,
                    password: "another long one",
                    key: None,
                },
                T0
            ),
            Err(Error::UserExists(_))
        ));
        assert!(matches!(
            console.create_user(
                NewUser {
                    name: "Bad Name",
                    display_name: "x",
                    org: OrgId::new("x-org").unwrap(),
                    role: ConsoleRole::Viewer,
                    password: "another long one",
                    key: None,
                },
                T0
            ),
            Err(Error::Invalid(_))
        ));
        drop(console);
        let reopened = Console::open(&dir.path().join("console.redb")).unwrap();
        assert_eq!(reopened.user("alice").unwrap(), Some(user));
        assert_eq!(reopened.users(None).unwrap().len(), 1);
    }

    #[test]
    fn sign_in_opens_the_key_and_wrong_passwords_lock_the_account() {
        let (_dir, console) = console();
        let key = SecretKey::generate();
        alice(&console, Some(key.clone()));
        let signed = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap();
        assert_eq!(signed.session.key.public_key(), key.public_key());
        assert_eq!(signed.token.len(), 64);
        assert!(matches!(
            console.sign_in("nobody", "correct horse battery", T0),
            Err(Error::SignInFailed)
        ));
        for i in 0..MAX_FAILURES {
            assert!(matches!(
                console.sign_in("alice", "wrong password!", T0 + u64::from(i)),
                Err(Error::SignInFailed)
            ));
        }
        // Locked: even the right password fails, with the same answer…
        assert!(matches!(
            console.sign_in("alice", "correct horse battery", T0 + 10),
            Err(Error::SignInFailed)
        ));
        assert!(console.user("alice").unwrap().unwrap().locked_until_ms > T0);
        // …until the lock-out ends.
        console
            .sign_in("alice", "correct horse battery", T0 + 10 + LOCKOUT_MS)
            .unwrap();
        let user = console.user("alice").unwrap().unwrap();
        assert_eq!((user.failures, user.locked_until_ms), (0, 0));
        // Fewer failures than the limit, then a success, start the count again.
        for _ in 0..MAX_FAILURES - 1 {
            let _ = console.sign_in("alice", "wrong password!", T0 + LOCKOUT_MS + 20);
        }
        console
            .sign_in("alice", "correct horse battery", T0 + LOCKOUT_MS + 21)
            .unwrap();
        let _ = console.sign_in("alice", "wrong password!", T0 + LOCKOUT_MS + 22);
        assert_eq!(console.user("alice").unwrap().unwrap().locked_until_ms, 0);
    }

    #[test]
    fn sessions_expire_when_idle_or_old_and_end_on_sign_out() {
        let (_dir, console) = console();
        alice(&console, None);
        let token = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap()
            .token;
        assert!(matches!(console.session("00", T0), Err(Error::NoSession)));
        // Activity keeps it alive…
        let mut now = T0;
        while now + IDLE_MS / 2 < T0 + ABSOLUTE_MS {
            now += IDLE_MS / 2;
            console.session(&token, now).unwrap();
        }
        // …but not past the absolute limit.
        assert!(matches!(
            console.session(&token, T0 + ABSOLUTE_MS),
            Err(Error::NoSession)
        ));
        let token = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap()
            .token;
        assert!(matches!(
            console.session(&token, T0 + IDLE_MS),
            Err(Error::NoSession)
        ));
        let token = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap()
            .token;
        console.session(&token, T0 + 1).unwrap();
        console.sign_out(&token);
        assert!(matches!(
            console.session(&token, T0 + 2),
            Err(Error::NoSession)
        ));
    }

    #[test]
    fn csrf_tokens_are_per_session_and_checked() {
        let (_dir, console) = console();
        alice(&console, None);
        let a = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap();
        let b = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap();
        assert_ne!(a.session.csrf, b.session.csrf);
        assert_eq!(a.session.csrf.len(), 64);
        a.session.check_csrf(Some(&a.session.csrf)).unwrap();
        assert!(matches!(a.session.check_csrf(None), Err(Error::Csrf)));
        assert!(matches!(
            a.session.check_csrf(Some(&b.session.csrf)),
            Err(Error::Csrf)
        ));
        assert!(matches!(a.session.check_csrf(Some("")), Err(Error::Csrf)));
    }

    #[test]
    fn a_code_key_is_sealed_for_a_user_and_opened_at_sign_in() {
        let (dir, console) = console();
        alice(&console, None);
        let code = SecretKey::generate();
        assert!(matches!(
            console.seal_code_key("alice", "wrong password", &code, T0),
            Err(Error::SignInFailed)
        ));
        assert!(
            console
                .seal_code_key("bob", "correct horse battery", &code, T0)
                .is_err()
        );
        let before = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap();
        assert!(before.session.code_key.is_none());
        console
            .seal_code_key("alice", "correct horse battery", &code, T0)
            .unwrap();
        let after = console
            .sign_in("alice", "correct horse battery", T0)
            .unwrap();
        assert_eq!(
            after.session.code_key.map(|k| k.public_key()),
            Some(code.public_key())
        );
        let file = std::fs::read(dir.path().join("console.redb")).unwrap();
        let seed = hex::decode(code.to_hex()).unwrap();
        assert!(!file.windows(32).any(|w| w == seed.as_slice()));
    }
}
