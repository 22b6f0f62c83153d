//! PEM as key files are found in practice (RFC 7468 §2, lax parsing):
//! text before, between and after the blocks is skipped (the `Bag
//! Attributes` lines that PKCS#12 tools write, comments), lines may end in
//! CRLF, and a file may hold several blocks. RFC 1421 headers inside a block
//! (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`) are recognised, so that a
//! traditionally encrypted key is named as such.

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

/// One `-----BEGIN label-----` … `-----END label-----` block.
pub(crate) struct Block {
    /// The label, e.g. `PRIVATE KEY`.
    pub label: String,
    /// The block has a `Proc-Type: 4,ENCRYPTED` header.
    pub encrypted: bool,
    body: Zeroizing<String>,
    fault: Option<Fault>,
}

/// What is wrong with a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The file ends inside the block.
    NoEnd,
    /// The END line names another label.
    EndMismatch,
    /// The body is not base64.
    Base64,
}

impl Block {
    /// The DER inside the block.
    pub fn der(&self) -> Result<Zeroizing<Vec<u8>>, Fault> {
        if let Some(fault) = self.fault {
            return Err(fault);
        }
        Base64::decode_vec(&self.body)
            .map(Zeroizing::new)
            .map_err(|_| Fault::Base64)
    }
}

/// Whether the bytes are PEM rather than DER: they hold a BEGIN line.
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every block in `bytes`, in order.
pub(crate) fn blocks(bytes: &[u8]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        match current.as_mut() {
            None => {
                if let Some(label) = boundary(line, b"-----BEGIN ") {
                    current = Some(Block {
                        label,
                        encrypted: false,
                        body: Zeroizing::new(String::new()),
                        fault: None,
                    });
                }
            }
            Some(block) => {
                if let Some(label) = boundary(line, b"-----END ") {
                    if label != block.label {
                        block.fault = Some(Fault::EndMismatch);
                    }
                    out.extend(current.take());
                } else if line.contains(&b':') {
                    // An RFC 1421 header line; base64 has no colon.
                    if line.starts_with(b"Proc-Type:") && contains(line, b"ENCRYPTED") {
                        block.encrypted = true;
                    }
                } else {
                    for &b in line {
                        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
                            block.body.push(char::from(b));
                        } else if !b.is_ascii_whitespace() {
                            block.fault = Some(Fault::Base64);
                        }
                    }
                }
            }
        }
    }
    if let Some(mut block) = current {
        block.fault = Some(Fault::NoEnd);
        out.push(block);
    }
    out
}

/// The label of a `-----BEGIN label-----` or `-----END label-----` line.
fn boundary(line: &[u8], prefix: &[u8]) -> Option<String> {
    let label = line.strip_prefix(prefix)?.strip_suffix(b"-----")?;
    let label = core::str::from_utf8(label).ok()?;
    Some(label.trim().to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn text_around_blocks_and_crlf_are_skipped() {
        let text = b"Bag Attributes\r\n    localKeyID: 01 02\r\n-----BEGIN A-----\r\nAAEC\r\n-----END A-----\r\ntrailer\n-----BEGIN B-----\nAw==\n-----END B-----";
        let blocks = blocks(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "A");
        assert_eq!(blocks[0].der().unwrap().as_slice(), &[0, 1, 2]);
        assert_eq!(blocks[1].der().unwrap().as_slice(), &[3]);
    }

    #[test]
    fn headers_mark_encryption_and_faults_are_named() {
        let text = b"-----BEGIN K-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END K-----\n";
        assert!(blocks(text)[0].encrypted);
        let open = b"-----BEGIN K-----\nAAEC\n";
        assert_eq!(blocks(open)[0].der().err(), Some(Fault::NoEnd));
        let mismatched = b"-----BEGIN K-----\nAAEC\n-----END L-----\n";
        assert_eq!(blocks(mismatched)[0].der().err(), Some(Fault::EndMismatch));
        let bad = b"-----BEGIN K-----\nnot base64!\n-----END K-----\n";
        assert_eq!(blocks(bad)[0].der().err(), Some(Fault::Base64));
        let short = b"-----BEGIN K-----\nnotbase64\n-----END K-----\n";
        assert_eq!(blocks(short)[0].der().err(), Some(Fault::Base64));
    }
}
