//! The DNS message format (RFC 1035 §4): a 12-byte header, then questions, answers, authority
//! and additional records.
//!
//! Decoding is bounds-checked everywhere and never trusts a count: sections are read item by
//! item, each consuming bytes of the message, so a header claiming 65535 records in a 20-byte
//! message fails as [`WireError::Truncated`] without allocating for them. Names go through
//! [`Name`] (compression pointers, loop guards). Record data is decoded for the types the
//! resolver looks into (A, AAAA, and the name-only CNAME/NS/PTR); everything else is kept as
//! raw bytes, which is only faithful when re-encoded for types without names in their data.

use std::net::{Ipv4Addr, Ipv6Addr};

pub use super::name::Name;
use super::name::{Compressor, MAX_NAME_LEN};

/// Why a message could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message ends in the middle of an item.
    #[error("message truncated")]
    Truncated,
    /// A label length byte uses the reserved 0x40/0x80 prefixes.
    #[error("unsupported label type")]
    BadLabelType,
    /// A compression pointer does not point strictly before the labels it was found in.
    #[error("compression pointer does not point backwards")]
    BadPointer,
    /// A name longer than 255 bytes in wire form.
    #[error("name longer than {MAX_NAME_LEN} bytes")]
    NameTooLong,
    /// A label longer than 63 bytes (when building a name).
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    /// An empty label in the middle of a dotted name (when building a name).
    #[error("empty label")]
    EmptyLabel,
    /// Record data whose length does not fit its type (e.g. an A record that is not 4 bytes).
    #[error("record data of type {rtype} has the wrong length")]
    BadRdata {
        /// The record type.
        rtype: u16,
    },
    /// An encoded message (or a section count) that does not fit DNS's 16-bit sizes.
    #[error("message too large")]
    TooLarge,
}

/// Record types the resolver deals with.
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name (alias).
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Reverse pointer.
    pub const PTR: u16 = 12;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: u16 = 41;
}

/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// Response codes (RFC 1035 §4.1.1).
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// The server could not interpret the query.
    pub const FORMERR: u8 = 1;
    /// The server failed to answer.
    pub const SERVFAIL: u8 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u8 = 3;
    /// Not implemented.
    pub const NOTIMP: u8 = 4;
    /// Refused by policy.
    pub const REFUSED: u8 = 5;
}

/// The standard query opcode.
pub const OPCODE_QUERY: u8 = 0;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;

/// The fixed 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Transaction id, echoed in the response.
    pub id: u16,
    /// Set in responses.
    pub qr: bool,
    /// Kind of query (0: standard query).
    pub opcode: u8,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated: the answer did not fit; retry over TCP.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// The three bits between RA and RCODE (Z, and DNSSEC's AD and CD), kept as they are.
    pub z: u8,
    /// Response code (the low 4 bits; EDNS extends it in the OPT record).
    pub rcode: u8,
    /// Number of questions.
    pub qdcount: u16,
    /// Number of answer records.
    pub ancount: u16,
    /// Number of authority records.
    pub nscount: u16,
    /// Number of additional records.
    pub arcount: u16,
}

impl Header {
    /// Decodes the header at the start of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Header, WireError> {
        let h = msg.get(..HEADER_LEN).ok_or(WireError::Truncated)?;
        let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let flags = word(2);
        Ok(Header {
            id: word(0),
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0xF) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            z: ((flags >> 4) & 0x7) as u8,
            rcode: (flags & 0xF) as u8,
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// Appends the 12 header bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags = (u16::from(self.qr) << 15)
            | (u16::from(self.opcode & 0xF) << 11)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | (u16::from(self.z & 0x7) << 4)
            | u16::from(self.rcode & 0xF);
        for word in [
            self.id,
            flags,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

/// One question: a name, a type and a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// The record type asked for.
    pub qtype: u16,
    /// The class (almost always [`CLASS_IN`]).
    pub qclass: u16,
}

impl Question {
    /// Same question, comparing the name case-insensitively.
    pub fn matches(&self, other: &Question) -> bool {
        self.qtype == other.qtype
            && self.qclass == other.qclass
            && self.name.eq_ignore_case(&other.name)
    }
}

/// A record's data, decoded for the types the resolver looks into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// An A record's address.
    A(Ipv4Addr),
    /// An AAAA record's address.
    Aaaa(Ipv6Addr),
    /// A CNAME, NS or PTR record's name.
    Name(Name),
    /// Any other type's data, as it was on the wire.
    Raw(Vec<u8>),
}

/// A resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name.
    pub name: Name,
    /// The record type.
    pub rtype: u16,
    /// The class.
    pub class: u16,
    /// Time to live, in seconds.
    pub ttl: u32,
    /// The data.
    pub data: RData,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The header; its counts are ignored by [`Message::encode`], which uses the sections'.
    pub header: Header,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section.
    pub additionals: Vec<Record>,
}

impl Message {
    /// Decodes a message. Bytes after the last record are ignored.
    pub fn decode(msg: &[u8]) -> Result<Message, WireError> {
        let (header, questions, mut r) = Self::decode_questions(msg)?;
        let mut sections = [Vec::new(), Vec::new(), Vec::new()];
        for (section, count) in
            sections
                .iter_mut()
                .zip([header.ancount, header.nscount, header.arcount])
        {
            for _ in 0..count {
                section.push(r.record()?);
            }
        }
        let [answers, authorities, additionals] = sections;
        Ok(Message {
            header,
            questions,
            answers,
            authorities,
            additionals,
        })
    }

    /// Decodes only the header and the question section (the records stay empty): enough to
    /// match an answer to its query, even a truncated one whose records are cut.
    pub fn decode_head(msg: &[u8]) -> Result<Message, WireError> {
        let (header, questions, _) = Self::decode_questions(msg)?;
        Ok(Message {
            header,
            questions,
            ..Message::default()
        })
    }

    fn decode_questions(msg: &[u8]) -> Result<(Header, Vec<Question>, Reader<'_>), WireError> {
        let header = Header::decode(msg)?;
        let mut r = Reader {
            msg,
            pos: HEADER_LEN,
        };
        let mut questions = Vec::new();
        for _ in 0..header.qdcount {
            let name = r.name()?;
            questions.push(Question {
                name,
                qtype: r.u16()?,
                qclass: r.u16()?,
            });
        }
        Ok((header, questions, r))
    }

    /// Encodes the message, compressing owner names and CNAME/NS/PTR data.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let count = |n: usize| u16::try_from(n).map_err(|_| WireError::TooLarge);
        let header = Header {
            qdcount: count(self.questions.len())?,
            ancount: count(self.answers.len())?,
            nscount: count(self.authorities.len())?,
            arcount: count(self.additionals.len())?,
            ..self.header
        };
        let mut out = Vec::with_capacity(512);
        header.encode(&mut out);
        let mut c = Compressor::default();
        for q in &self.questions {
            q.name.encode(&mut out, &mut c);
            out.extend_from_slice(&q.qtype.to_be_bytes());
            out.extend_from_slice(&q.qclass.to_be_bytes());
        }
        for record in self
            .answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
        {
            record.name.encode(&mut out, &mut c);
            out.extend_from_slice(&record.rtype.to_be_bytes());
            out.extend_from_slice(&record.class.to_be_bytes());
            out.extend_from_slice(&record.ttl.to_be_bytes());
            let len_at = out.len();
            out.extend_from_slice(&[0, 0]);
            match &record.data {
                RData::A(a) => out.extend_from_slice(&a.octets()),
                RData::Aaaa(a) => out.extend_from_slice(&a.octets()),
                RData::Name(n) => n.encode(&mut out, &mut c),
                RData::Raw(raw) => out.extend_from_slice(raw),
            }
            let len = count(out.len() - len_at - 2)?;
            out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
        }
        if out.len() > usize::from(u16::MAX) {
            return Err(WireError::TooLarge);
        }
        Ok(out)
    }
}

/// A cursor over a message being decoded.
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let b = self.msg.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> Result<Name, WireError> {
        let (name, end) = Name::decode(self.msg, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn record(&mut self) -> Result<Record, WireError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let start = self.pos;
        let raw = self.bytes(len)?;
        let data = match rtype {
            rtype::A => RData::A(
                <[u8; 4]>::try_from(raw)
                    .map_err(|_| WireError::BadRdata { rtype })?
                    .into(),
            ),
            rtype::AAAA => RData::Aaaa(
                <[u8; 16]>::try_from(raw)
                    .map_err(|_| WireError::BadRdata { rtype })?
                    .into(),
            ),
            rtype::CNAME | rtype::NS | rtype::PTR => {
                // Pointers may reach anywhere before, but the name must end with the data.
                let (target, end) = Name::decode(&self.msg[..start + len], start)?;
                if end != start + len {
                    return Err(WireError::BadRdata { rtype });
                }
                RData::Name(target)
            }
            _ => RData::Raw(raw.to_vec()),
        };
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let name = Name::from_dotted("www.example.com").unwrap();
        let target = Name::from_dotted("edge.example.net").unwrap();
        Message {
            header: Header {
                id: 0xBEEF,
                qr: true,
                rd: true,
                ra: true,
                z: 1,
                ..Header::default()
            },
            questions: vec![Question {
                name: name.clone(),
                qtype: rtype::A,
                qclass: CLASS_IN,
            }],
            answers: vec![
                Record {
                    name,
                    rtype: rtype::CNAME,
                    class: CLASS_IN,
                    ttl: 300,
                    data: RData::Name(target.clone()),
                },
                Record {
                    name: target.clone(),
                    rtype: rtype::A,
                    class: CLASS_IN,
                    ttl: 5,
                    data: RData::A(Ipv4Addr::new(192, 0, 2, 7)),
                },
                Record {
                    name: target,
                    rtype: rtype::AAAA,
                    class: CLASS_IN,
                    ttl: 60,
                    data: RData::Aaaa("2001:db8::7".parse().unwrap()),
                },
            ],
            authorities: vec![],
            additionals: vec![Record {
                name: Name::root(),
                rtype: rtype::OPT,
                class: 1232,
                ttl: 0,
                data: RData::Raw(vec![]),
            }],
        }
    }

    #[test]
    fn header_round_trip() {
        let h = Header {
            id: 0x1234,
            qr: true,
            opcode: 2,
            aa: true,
            tc: true,
            rd: true,
            ra: true,
            z: 5,
            rcode: 3,
            qdcount: 1,
            ancount: 2,
            nscount: 3,
            arcount: 4,
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(Header::decode(&out).unwrap(), h);
        assert_eq!(Header::decode(&out[..11]), Err(WireError::Truncated));
    }

    #[test]
    fn message_round_trip_with_compression() {
        let msg = sample();
        let bytes = msg.encode().unwrap();
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back.header.ancount, 3);
        assert_eq!(back.questions, msg.questions);
        assert_eq!(back.answers, msg.answers);
        assert_eq!(back.additionals, msg.additionals);
        // The answer's owner name is a pointer to the question's name.
        let owner = HEADER_LEN + msg.questions[0].name.as_wire().len() + 4;
        assert_eq!(&bytes[owner..owner + 2], &[0xC0, HEADER_LEN as u8]);
        // Re-encoding the decoded message gives the same bytes.
        assert_eq!(back.encode().unwrap(), bytes);
    }

    #[test]
    fn every_truncation_is_rejected() {
        let bytes = sample().encode().unwrap();
        for len in 0..bytes.len() {
            assert!(
                Message::decode(&bytes[..len]).is_err(),
                "decoded a message cut at {len}"
            );
        }
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        let h = Header {
            qdcount: u16::MAX,
            ancount: u16::MAX,
            ..Header::default()
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        out.extend_from_slice(b"\x00\x00\x01\x00\x01");
        assert_eq!(Message::decode(&out), Err(WireError::Truncated));
    }

    #[test]
    fn bad_rdata_is_rejected() {
        let mut msg = sample();
        msg.answers.truncate(1);
        let mut bytes = msg.encode().unwrap();
        // Replace the CNAME's data with a name followed by a stray byte.
        let target_len = Name::from_dotted("edge.example.net")
            .unwrap()
            .as_wire()
            .len();
        let rdlen_at = bytes.len() - target_len - 2 - 11;
        let rdlen = u16::try_from(target_len + 1).unwrap();
        bytes[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        bytes.insert(rdlen_at + 2 + target_len, 0);
        assert_eq!(
            Message::decode(&bytes),
            Err(WireError::BadRdata {
                rtype: rtype::CNAME
            })
        );
    }

    /// A small deterministic generator (xorshift), enough to make the inputs varied.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let valid = sample().encode().unwrap();
        for round in 0..50_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let mut m = valid.clone();
                for _ in 0..1 + rng.below(6) {
                    let i = rng.below(m.len());
                    match rng.below(4) {
                        0 => m[i] = rng.next() as u8,
                        1 => m[i] = 0xC0 | (rng.next() as u8 & 0x3F),
                        2 => m.truncate(i),
                        _ => m.insert(i, rng.next() as u8),
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                m
            } else {
                (0..rng.below(300)).map(|_| rng.next() as u8).collect()
            };
            if let Ok(msg) = Message::decode(&input) {
                // Whatever decodes must re-encode and decode to the same thing.
                if let Ok(bytes) = msg.encode() {
                    let again = Message::decode(&bytes).unwrap();
                    assert_eq!(again.questions, msg.questions);
                    for q in &msg.questions {
                        let _ = q.name.to_policy_string();
                    }
                }
            }
        }
    }
}
