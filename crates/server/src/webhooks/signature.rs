//! How a forge proves a delivery is its own: GitHub signs the raw body with HMAC-SHA256 and
//! the webhook's secret (`X-Hub-Signature-256: sha256=<hex>`); GitLab sends the webhook's
//! secret token itself (`X-Gitlab-Token`). Both are compared in constant time.

use crate::access::constant_time_eq;
use sha2::{Digest, Sha256};

/// SHA-256's block size, in bytes.
const BLOCK: usize = 64;

/// HMAC-SHA256 of `msg` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let (mut ipad, mut opad) = ([0x36u8; BLOCK], [0x5cu8; BLOCK]);
    for i in 0..BLOCK {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The `X-Hub-Signature-256` value GitHub sends for `body` under `secret`.
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret, body)))
}

/// Whether `header` (the `X-Hub-Signature-256` value) signs `body` under `secret`.
pub fn github_signed(secret: &[u8], body: &[u8], header: &str) -> bool {
    let expected = github_signature(secret, body);
    constant_time_eq(
        header.trim().to_ascii_lowercase().as_bytes(),
        expected.as_bytes(),
    )
}

/// Whether `header` (the `X-Gitlab-Token` value) is the configured token.
pub fn gitlab_token_matches(token: &[u8], header: &str) -> bool {
    constant_time_eq(header.as_bytes(), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231's test cases 1, 2 and 6 (a key longer than a block).
    #[test]
    fn rfc_4231_vectors() {
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    /// The example of GitHub's documentation on validating webhook deliveries.
    #[test]
    fn githubs_documented_example() {
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(github_signed(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            header
        ));
        assert!(!github_signed(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            header
        ));
        assert!(!github_signed(b"another secret", b"Hello, World!", header));
        assert!(!github_signed(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            ""
        ));
    }

    #[test]
    fn gitlab_token() {
        assert!(gitlab_token_matches(b"gl-secret", "gl-secret"));
        assert!(!gitlab_token_matches(b"gl-secret", "gl-secreT"));
        assert!(!gitlab_token_matches(b"gl-secret", ""));
    }
}
