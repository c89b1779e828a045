//! Addressables (actors): keys, references and placement leases.

use std::fmt;

use crate::node::{NodeId, Timestamp};

/// The key of an addressable; the four kinds Orbit 2 knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `ActorWithStringKey`.
    String(String),
    /// `ActorWithInt32Key`.
    Int32(i32),
    /// `ActorWithInt64Key`.
    Int64(i64),
    /// `ActorWithNoKey`: a singleton per type and namespace.
    None,
}

/// Renders as Kotlin's `Key.toString()`: `StringKey(key=abc)`, `Int32Key(key=5)`,
/// `Int64Key(key=-7)`, `NoKey()`. Strings are written verbatim, without escaping; this text
/// is the last part of the etcd key of an addressable lease.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(key) => write!(f, "StringKey(key={key})"),
            Self::Int32(key) => write!(f, "Int32Key(key={key})"),
            Self::Int64(key) => write!(f, "Int64Key(key={key})"),
            Self::None => f.write_str("NoKey()"),
        }
    }
}

/// An addressable: its interface name and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressableReference {
    /// The interface's JVM name (canonical name from callers, binary name in capabilities).
    pub addressable_type: String,
    /// The key within that type.
    pub key: Key,
}

impl AddressableReference {
    /// Returns a reference from a type name and key.
    pub fn new(addressable_type: impl Into<String>, key: Key) -> Self {
        Self { addressable_type: addressable_type.into(), key }
    }
}

/// Renders as Kotlin's data-class `toString`: `AddressableReference(type=<type>, key=<key>)`.
impl fmt::Display for AddressableReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddressableReference(type={}, key={})", self.addressable_type, self.key)
    }
}

/// An addressable reference scoped to the namespace that owns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespacedAddressableReference {
    /// The caller's (and owner's) application namespace.
    pub namespace: String,
    /// The addressable.
    pub addressable_reference: AddressableReference,
}

/// Renders as `NamespacedAddressableReference(namespace=<ns>, addressableReference=<ref>)`,
/// the text inside Kotlin's placement-failure errors.
impl fmt::Display for NamespacedAddressableReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NamespacedAddressableReference(namespace={}, addressableReference={})",
            self.namespace, self.addressable_reference
        )
    }
}

/// The placement of one addressable on one node, valid until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressableLease {
    /// The hosting client node.
    pub node_id: NodeId,
    /// The placed addressable.
    pub reference: AddressableReference,
    /// When the placement stops being valid.
    pub expires_at: Timestamp,
    /// When the host should renew it.
    pub renew_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_render_like_kotlin() {
        assert_eq!(Key::String("abc".into()).to_string(), "StringKey(key=abc)");
        assert_eq!(Key::String("a/b)c".into()).to_string(), "StringKey(key=a/b)c)");
        assert_eq!(Key::String(String::new()).to_string(), "StringKey(key=)");
        assert_eq!(Key::Int32(5).to_string(), "Int32Key(key=5)");
        assert_eq!(Key::Int32(i32::MIN).to_string(), "Int32Key(key=-2147483648)");
        assert_eq!(Key::Int64(-7).to_string(), "Int64Key(key=-7)");
        assert_eq!(Key::Int64(i64::MAX).to_string(), "Int64Key(key=9223372036854775807)");
        assert_eq!(Key::None.to_string(), "NoKey()");
    }

    #[test]
    fn references_render_like_kotlin() {
        let reference = AddressableReference::new("com.example.Greeter", Key::Int32(3));
        assert_eq!(reference.to_string(), "AddressableReference(type=com.example.Greeter, key=Int32Key(key=3))");
        let namespaced = NamespacedAddressableReference { namespace: "app".into(), addressable_reference: reference };
        assert_eq!(
            namespaced.to_string(),
            "NamespacedAddressableReference(namespace=app, addressableReference=AddressableReference(type=com.example.Greeter, key=Int32Key(key=3)))"
        );
    }
}
