//! Base64 as OpenSSH prints keys and fingerprints.

/// Standard base64 without `=` padding.
pub fn unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Standard base64 (padding optional); `None` on a character outside it.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let bytes: Vec<u8> = s.trim().bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_ssh_keygen() {
        assert_eq!(unpadded(b""), "");
        assert_eq!(unpadded(b"f"), "Zg");
        assert_eq!(unpadded(b"fo"), "Zm8");
        assert_eq!(unpadded(b"foo"), "Zm9v");
        assert_eq!(unpadded(b"foobar\xff"), "Zm9vYmFy/w");
        // A SHA256 hash is 32 bytes: 43 characters, as ssh-keygen prints them.
        assert_eq!(unpadded(&[0xfb; 32]).len(), 43);
    }

    #[test]
    fn base64_decodes_what_it_encodes() {
        for s in [&b""[..], b"f", b"fo", b"foo", b"foobar\xff"] {
            assert_eq!(decode(&unpadded(s)).unwrap(), s);
        }
        assert_eq!(decode("Zm9v").unwrap(), b"foo");
        assert_eq!(decode("Zg=="), Some(b"f".to_vec()));
        assert_eq!(decode("Z!"), None);
    }
}
