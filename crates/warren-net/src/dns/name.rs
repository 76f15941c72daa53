//! Domain names on the wire (RFC 1035 §3.1, §4.1.4): length-prefixed labels, possibly ending in
//! a compression pointer to an earlier name in the same message.
//!
//! A [`Name`] always holds the uncompressed form (at most 255 bytes, ending with the root's zero
//! byte). Decoding follows pointers with two guards that make loops impossible: every pointer
//! must point strictly before the run of labels it was found in (so successive targets strictly
//! decrease), and the expanded name may not exceed 255 bytes. Encoding compresses against the
//! names already written to the message.

use std::fmt;

use super::wire::WireError;

/// Longest name in wire form, including length bytes and the final zero (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A domain name in uncompressed wire form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: Vec<u8>,
}

impl Name {
    /// The root name (`.`).
    pub fn root() -> Name {
        Name { wire: vec![0] }
    }

    /// A name from its dotted form (`www.example.com`, a trailing dot optional; `""` or `"."`
    /// is the root). No escapes: every byte between dots is taken literally.
    pub fn from_dotted(text: &str) -> Result<Name, WireError> {
        let text = text.strip_suffix('.').unwrap_or(text);
        let mut wire = Vec::with_capacity(text.len() + 2);
        if !text.is_empty() {
            for label in text.split('.') {
                if label.is_empty() {
                    return Err(WireError::EmptyLabel);
                }
                if label.len() > MAX_LABEL_LEN {
                    return Err(WireError::LabelTooLong);
                }
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
        }
        wire.push(0);
        if wire.len() > MAX_NAME_LEN {
            return Err(WireError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// The labels, leftmost first (none for the root).
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> {
        let mut pos = 0;
        std::iter::from_fn(move || {
            let len = usize::from(self.wire[pos]);
            if len == 0 {
                return None;
            }
            let label = &self.wire[pos + 1..pos + 1 + len];
            pos += 1 + len;
            Some(label)
        })
    }

    /// The uncompressed wire form.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Same name, ignoring ASCII case (RFC 4343).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }

    /// The name as the DNS policy sees it: lower-case, no trailing dot (`""` for the root).
    /// Bytes other than printable ASCII, and `.` or `\` inside a label, are written `\DDD`, so a
    /// label holding a dot can never pass for two labels (`evil.example.com` as one label is
    /// `evil\046example.com`, which is not below `example.com`).
    pub fn to_policy_string(&self) -> String {
        let mut out = String::with_capacity(self.wire.len());
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for &b in label {
                match b.to_ascii_lowercase() {
                    b'.' | b'\\' => push_escaped(&mut out, b),
                    c @ 0x21..=0x7e => out.push(char::from(c)),
                    _ => push_escaped(&mut out, b),
                }
            }
        }
        out
    }

    /// Decodes the name starting at `start` in `msg`; returns it and the offset just past it
    /// (past the first pointer, if any).
    pub(crate) fn decode(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
        let mut wire = Vec::with_capacity(32);
        let mut pos = start;
        // Start of the current run of labels; a pointer must target strictly before it.
        let mut run_start = start;
        let mut end = None;
        loop {
            let len = *msg.get(pos).ok_or(WireError::Truncated)?;
            match len & 0xC0 {
                0x00 => {
                    let len = usize::from(len);
                    if wire.len() + 1 + len > MAX_NAME_LEN {
                        return Err(WireError::NameTooLong);
                    }
                    if len == 0 {
                        wire.push(0);
                        let end = end.unwrap_or(pos + 1);
                        return Ok((Name { wire }, end));
                    }
                    let label = msg
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(WireError::Truncated)?;
                    wire.push(len as u8);
                    wire.extend_from_slice(label);
                    pos += 1 + len;
                }
                0xC0 => {
                    let low = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3F, low]));
                    if target >= run_start {
                        return Err(WireError::BadPointer);
                    }
                    end.get_or_insert(pos + 2);
                    run_start = target;
                    pos = target;
                }
                _ => return Err(WireError::BadLabelType),
            }
        }
    }

    /// Appends the name to `out`, compressed against the names `compressor` has seen.
    pub(crate) fn encode(&self, out: &mut Vec<u8>, compressor: &mut Compressor) {
        let mut pos = 0;
        while self.wire[pos] != 0 {
            let suffix = &self.wire[pos..];
            if let Some(target) = compressor.find(suffix) {
                out.extend_from_slice(&(0xC000 | target).to_be_bytes());
                return;
            }
            compressor.remember(suffix, out.len());
            let len = usize::from(self.wire[pos]);
            out.extend_from_slice(&self.wire[pos..pos + 1 + len]);
            pos += 1 + len;
        }
        out.push(0);
    }
}

fn push_escaped(out: &mut String, b: u8) {
    out.push('\\');
    out.push_str(&format!("{b:03}"));
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wire == [0] {
            return f.write_str(".");
        }
        f.write_str(&self.to_policy_string())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// The names (and their suffixes) already written to a message, with their offsets.
#[derive(Debug, Default)]
pub(crate) struct Compressor {
    seen: Vec<(Vec<u8>, u16)>,
}

impl Compressor {
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        self.seen
            .iter()
            .find(|(s, _)| s == suffix)
            .map(|&(_, at)| at)
    }

    fn remember(&mut self, suffix: &[u8], at: usize) {
        // A pointer has 14 bits of offset.
        if let Ok(at) = u16::try_from(at)
            && at < 0x4000
        {
            self.seen.push((suffix.to_vec(), at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
        Name::decode(msg, start)
    }

    #[test]
    fn dotted_round_trip() {
        let name = Name::from_dotted("www.Example.com.").unwrap();
        assert_eq!(name.as_wire(), b"\x03www\x07Example\x03com\x00");
        assert_eq!(name.to_policy_string(), "www.example.com");
        assert_eq!(Name::from_dotted("").unwrap(), Name::root());
        assert_eq!(Name::from_dotted(".").unwrap(), Name::root());
        assert_eq!(Name::root().to_policy_string(), "");
        assert_eq!(Name::from_dotted("a..b"), Err(WireError::EmptyLabel));
        assert_eq!(
            Name::from_dotted(&"a".repeat(64)),
            Err(WireError::LabelTooLong)
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(Name::from_dotted(&long), Err(WireError::NameTooLong));
    }

    #[test]
    fn follows_backward_pointers() {
        // "example.com" at 0, then "www" + pointer to 0 at 13.
        let msg = b"\x07example\x03com\x00\x03www\xC0\x00";
        let (name, end) = decode(msg, 13).unwrap();
        assert_eq!(name.to_policy_string(), "www.example.com");
        assert_eq!(end, msg.len());
        // A name that is only a pointer.
        let msg = b"\x07example\x03com\x00\xC0\x00";
        let (name, end) = decode(msg, 13).unwrap();
        assert_eq!(name.to_policy_string(), "example.com");
        assert_eq!(end, 15);
    }

    #[test]
    fn pointer_loops_are_rejected() {
        // Points at itself.
        assert_eq!(decode(b"\xC0\x00", 0), Err(WireError::BadPointer));
        // Points forward.
        assert_eq!(decode(b"\xC0\x02\x00", 0), Err(WireError::BadPointer));
        // A backward pointer into a run that leads back to the same pointer.
        let msg = b"\x01a\xC0\x00";
        assert_eq!(decode(msg, 2), Err(WireError::BadPointer));
        // Two pointers pointing at each other.
        let msg = b"\xC0\x02\xC0\x00";
        assert_eq!(decode(msg, 2), Err(WireError::BadPointer));
    }

    #[test]
    fn hostile_names_are_rejected() {
        assert_eq!(decode(b"", 0), Err(WireError::Truncated));
        assert_eq!(decode(b"\x03ww", 0), Err(WireError::Truncated));
        assert_eq!(decode(b"\x03www", 0), Err(WireError::Truncated));
        assert_eq!(decode(b"\xC0", 0), Err(WireError::Truncated));
        assert_eq!(decode(b"\x40abc", 0), Err(WireError::BadLabelType));
        // 128 labels of 1 byte: 256 bytes expanded.
        let mut msg = b"\x01a".repeat(128);
        msg.push(0);
        assert_eq!(decode(&msg, 0), Err(WireError::NameTooLong));
        // A chain of pointers each adding a label, expanding past 255 bytes.
        let mut msg = vec![0u8];
        let mut prev = 0u16;
        for _ in 0..200 {
            let at = msg.len() as u16;
            msg.extend_from_slice(b"\x01a");
            msg.extend_from_slice(&(0xC000 | prev).to_be_bytes());
            prev = at;
        }
        assert_eq!(decode(&msg, usize::from(prev)), Err(WireError::NameTooLong));
    }

    #[test]
    fn dots_inside_labels_are_escaped() {
        let (name, _) = decode(b"\x10evil.example.com\x00", 0).unwrap();
        assert_eq!(name.to_policy_string(), "evil\\046example\\046com");
        let (name, _) = decode(b"\x03a\x00\xff\x00", 0).unwrap();
        assert_eq!(name.to_policy_string(), "a\\000\\255");
    }

    #[test]
    fn encode_compresses_suffixes() {
        let mut out = vec![0u8; 12];
        let mut c = Compressor::default();
        Name::from_dotted("www.example.com")
            .unwrap()
            .encode(&mut out, &mut c);
        Name::from_dotted("mail.example.com")
            .unwrap()
            .encode(&mut out, &mut c);
        Name::from_dotted("example.com")
            .unwrap()
            .encode(&mut out, &mut c);
        assert_eq!(
            &out[12..],
            b"\x03www\x07example\x03com\x00\x04mail\xC0\x10\xC0\x10"
        );
        let (name, end) = decode(&out, 29).unwrap();
        assert_eq!(name.to_policy_string(), "mail.example.com");
        assert_eq!(end, 36);
    }
}
