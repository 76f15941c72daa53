//! serde helpers for proto3-JSON.
//!
//! proto3-JSON writes `bytes` as standard base64 (readers also accept URL-safe and unpadded),
//! 64-bit integers as decimal strings (readers also accept numbers), and treats `null` for any
//! field as its default value.

use serde::{Deserialize, Deserializer};

/// `null` or absent → `T::default()`. Use with `#[serde(default, deserialize_with = "...")]`.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `bytes` fields: base64 strings.
pub mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serialize as standard padded base64.
    pub fn serialize<S: Serializer>(v: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    /// Deserialize from any base64 alphabet proto3-JSON allows; `null` → empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(Bytes::new());
        };
        decode(&s).map(Bytes::from).map_err(D::Error::custom)
    }

    /// Decode base64 in standard or URL-safe alphabet, padded or not.
    pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
        let padded = s.ends_with('=');
        let url = s.contains(['-', '_']);
        match (url, padded) {
            (false, true) => STANDARD.decode(s),
            (false, false) => STANDARD_NO_PAD.decode(s),
            (true, true) => URL_SAFE.decode(s),
            (true, false) => URL_SAFE_NO_PAD.decode(s),
        }
    }
}

/// `int64` fields: decimal strings on output; strings or numbers on input.
pub mod i64_str {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serialize as a decimal string.
    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrNum {
        Str(String),
        Num(i64),
        Float(f64),
    }

    /// Deserialize from a string, an integer, or an integral float; `null` → 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        match Option::<StrOrNum>::deserialize(d)? {
            None => Ok(0),
            Some(StrOrNum::Num(n)) => Ok(n),
            Some(StrOrNum::Str(s)) => s.trim().parse().map_err(D::Error::custom),
            Some(StrOrNum::Float(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
            Some(StrOrNum::Float(f)) => Err(D::Error::custom(format!("not an int64: {f}"))),
        }
    }
}

/// Used by `skip_serializing_if` to omit proto3 default values.
pub fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug, Default)]
    struct T {
        #[serde(with = "b64", default)]
        b: Bytes,
        #[serde(with = "i64_str", default)]
        n: i64,
    }

    #[test]
    fn bytes_and_int64() {
        let t = T {
            b: Bytes::from_static(&[0, 255, 1]),
            n: -5,
        };
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, r#"{"b":"AP8B","n":"-5"}"#);
        assert_eq!(serde_json::from_str::<T>(&j).unwrap(), t);
        let t2: T = serde_json::from_str(r#"{"b":"AP8B","n":-5}"#).unwrap();
        assert_eq!(t2, t);
        let t3: T = serde_json::from_str(r#"{"b":"_w","n":null}"#).unwrap();
        assert_eq!(&t3.b[..], &[255]);
        assert_eq!(t3.n, 0);
        assert!(serde_json::from_str::<T>(r#"{"n":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b":"!!"}"#).is_err());
    }
}
