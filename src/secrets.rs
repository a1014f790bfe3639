//! Secrets, at the bottom of the crate: how single-use and bearer secrets are made
//! (`random_token`, 256 random bits) and looked up (`digest`, SHA-256: a fast hash is enough for
//! secrets of that entropy), and how secrets at rest are sealed (`Sealer`).
//!
//! OAuth tokens, consumer secrets, private keys and webhook secrets are sealed with AES-256-GCM
//! under a key from configuration. Each value gets a fresh 96-bit nonce; the stored form is
//! `v1:` + base64(nonce ‖ ciphertext ‖ tag), so a later key or algorithm can be told apart.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 12;

/// 32 random bytes from the thread's CSPRNG.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A random single-use or bearer secret: 256 bits, URL-safe Base64 without padding.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

/// SHA-256 in hex: how secrets (tokens, tickets, states, bindings, links) are stored and looked
/// up.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seals and opens secrets. Debug never shows the key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the encryption key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a stored secret could not be decrypted (wrong key or altered data)")]
    Unreadable,
}

impl Sealer {
    /// From a base64-encoded 32-byte key (`openssl rand -base64 32`).
    pub fn from_base64_key(key: &str) -> Result<Self, SealError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self { cipher })
    }

    /// Seals `secret`. `context` (e.g. the org link id and the column) is bound to the
    /// ciphertext, so a sealed value copied to another row or column does not open.
    pub fn seal(&self, secret: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and nonce cannot fail for inputs below 64 GiB.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(SealError::Unreadable)?;
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SealError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SealError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::from_base64_key(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn sealed_secret_opens_with_its_context_only() {
        let s = sealer();
        let sealed = s.seal("refresh-token-123", "org:1:refresh_token");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("refresh-token-123"));
        assert_eq!(
            s.open(&sealed, "org:1:refresh_token").unwrap(),
            "refresh-token-123"
        );
        assert_eq!(
            s.open(&sealed, "org:2:refresh_token"),
            Err(SealError::Unreadable)
        );
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let s = sealer();
        assert_ne!(s.seal("x", "c"), s.seal("x", "c"));
    }

    #[test]
    fn altered_ciphertext_or_wrong_key_does_not_open() {
        let sealed = sealer().seal("secret", "c");
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer().open(&altered, "c").is_err());
        let other = Sealer::from_base64_key(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed, "c").is_err());
    }

    #[test]
    fn tokens_are_256_bits_url_safe_and_digests_are_hex_sha256() {
        let token = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).map(|b| b.len()), Ok(32));
        assert_ne!(token, random_token());
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn key_must_be_32_bytes_of_base64() {
        assert_eq!(
            Sealer::from_base64_key("short").unwrap_err(),
            SealError::BadKey
        );
        assert!(Sealer::from_base64_key(&STANDARD.encode([1u8; 16])).is_err());
    }
}
