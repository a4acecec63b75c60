//! Reading a JSON string straight into what it stands for (a known name, a number) without the
//! copy that deserializing a `String` first would make: Prometheus's answers hold about a
//! million such strings a cycle at 40,000 GPUs. Borrowed and escaped strings both arrive at
//! `visit_str`.

use serde::de::{DeserializeSeed, Deserializer, Error, Visitor};

/// Reads a string and gives what `read` makes of it; `expecting` says what the string is, for
/// the error when the value is not a string.
pub struct StrAs<F> {
    pub expecting: &'static str,
    pub read: F,
}

impl<'de, T, F: FnOnce(&str) -> T> DeserializeSeed<'de> for StrAs<F> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<T, F: FnOnce(&str) -> T> Visitor<'_> for StrAs<F> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<T, E> {
        Ok((self.read)(text))
    }
}
