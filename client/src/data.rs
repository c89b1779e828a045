//! Kotlin data classes as Rust structs, through serde.
//!
//! Name the struct after the Kotlin class with `#[serde(rename = "com.example.Dto")]`; the
//! name becomes the Jackson type id. Field typing follows Jackson's rules for Kotlin data
//! classes: a plain integer field is a primitive property (`Long` -> JVM `long`, written bare),
//! an `Option<i64>` field is a boxed `Long?` (written `["java.lang.Long", n]`), collections are
//! `java.util.ArrayList` / `java.util.LinkedHashMap`, nested structs are typed objects.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! #[serde(rename = "orbit.harness.actors.Inner")]
//! struct Inner { label: String, score: f64 }
//! let value = orbit_client::data::to_jvm(&Inner { label: "l".into(), score: 1.5 }).unwrap();
//! assert_eq!(orbit_client::codec::encode_result(&value), r#"["orbit.harness.actors.Inner",{"label":"l","score":1.5}]"#);
//! ```

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

use crate::codec::json::java_double;
use crate::codec::{Argument, Json, JvmValue};

/// A value that does not map between serde and the JVM model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError(String);

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

impl ser::Error for DataError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DataError(msg.to_string())
    }
}

impl de::Error for DataError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DataError(msg.to_string())
    }
}

/// Returns `value` as a JVM value (a struct becomes a typed object).
pub fn to_jvm<T: Serialize + ?Sized>(value: &T) -> Result<JvmValue, DataError> {
    value.serialize(Serializer { primitive_slot: false })
}

/// Reads a `T` from a JVM value.
pub fn from_jvm<T: DeserializeOwned>(value: JvmValue) -> Result<T, DataError> {
    T::deserialize(Deserializer(value))
}

/// Returns `value` as an argument whose declared class is its own class (a data class
/// parameter), or `java.lang.Object` for non-objects.
pub fn argument<T: Serialize + ?Sized>(value: &T) -> Result<Argument, DataError> {
    let value = to_jvm(value)?;
    let declared_class = match &value {
        JvmValue::Object { class, .. } => class.clone(),
        _ => "java.lang.Object".to_owned(),
    };
    Ok(Argument { value, declared_class })
}

/// Writes serde data as JVM values. `primitive_slot` is true for a struct field's own value,
/// where Jackson writes primitive properties bare.
struct Serializer {
    primitive_slot: bool,
}

impl Serializer {
    /// A long: bare as a primitive property, boxed (`["java.lang.Long", n]`) anywhere else.
    fn integer(self, value: i64) -> Result<JvmValue, DataError> {
        Ok(if self.primitive_slot { JvmValue::Int(value) } else { JvmValue::Long(value) })
    }

    /// A `Byte` or `Short`: bare as a primitive property, `["java.lang.Short", n]` elsewhere
    /// (Jackson writes only `Integer` bare in untyped slots).
    fn boxed_unless_primitive(self, class: &str, value: i64) -> JvmValue {
        if self.primitive_slot {
            JvmValue::Int(value)
        } else {
            JvmValue::Other { class: class.to_owned(), value: Json::Number(value.to_string()) }
        }
    }
}

struct SeqBuilder {
    class: &'static str,
    items: Vec<JvmValue>,
}

struct MapBuilder {
    entries: Vec<(String, JvmValue)>,
    key: Option<String>,
}

struct StructBuilder {
    class: String,
    fields: Vec<(String, JvmValue)>,
}

impl ser::Serializer for Serializer {
    type Ok = JvmValue;
    type Error = DataError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = ser::Impossible<JvmValue, DataError>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = ser::Impossible<JvmValue, DataError>;

    fn serialize_bool(self, v: bool) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Boolean(v))
    }
    fn serialize_i8(self, v: i8) -> Result<JvmValue, DataError> {
        Ok(self.boxed_unless_primitive("java.lang.Byte", i64::from(v)))
    }
    fn serialize_i16(self, v: i16) -> Result<JvmValue, DataError> {
        Ok(self.boxed_unless_primitive("java.lang.Short", i64::from(v)))
    }
    fn serialize_i32(self, v: i32) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Int(i64::from(v)))
    }
    fn serialize_i64(self, v: i64) -> Result<JvmValue, DataError> {
        self.integer(v)
    }
    fn serialize_u8(self, v: u8) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Int(i64::from(v)))
    }
    fn serialize_u16(self, v: u16) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Int(i64::from(v)))
    }
    fn serialize_u32(self, v: u32) -> Result<JvmValue, DataError> {
        self.integer(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<JvmValue, DataError> {
        self.integer(i64::try_from(v).map_err(|_| DataError(format!("{v} does not fit a JVM long")))?)
    }
    fn serialize_f32(self, v: f32) -> Result<JvmValue, DataError> {
        // Through the shortest decimal of the float, so 0.1f is written 0.1 as Java does.
        let widened: f64 = v.to_string().parse().unwrap_or(f64::from(v));
        if self.primitive_slot || !widened.is_finite() {
            return Ok(JvmValue::Double(widened));
        }
        Ok(JvmValue::Other { class: "java.lang.Float".to_owned(), value: Json::Number(java_double(widened)) })
    }
    fn serialize_f64(self, v: f64) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Double(v))
    }
    fn serialize_char(self, v: char) -> Result<JvmValue, DataError> {
        Ok(JvmValue::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<JvmValue, DataError> {
        Ok(JvmValue::String(v.to_owned()))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<JvmValue, DataError> {
        Err(DataError("byte arrays are not supported".to_owned()))
    }
    fn serialize_none(self) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<JvmValue, DataError> {
        // A nullable property is boxed: a `Long?` is written with its wrapper.
        value.serialize(Serializer { primitive_slot: false })
    }
    fn serialize_unit(self) -> Result<JvmValue, DataError> {
        Ok(JvmValue::unit())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Object { class: name.to_owned(), fields: Vec::new() })
    }
    fn serialize_unit_variant(self, name: &'static str, _: u32, variant: &'static str) -> Result<JvmValue, DataError> {
        // A Kotlin enum constant: ["com.example.Color", "RED"].
        Ok(JvmValue::Other { class: name.to_owned(), value: Json::String(variant.to_owned()) })
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<JvmValue, DataError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: &T,
    ) -> Result<JvmValue, DataError> {
        Err(DataError(format!("{name}::{variant}: data-carrying enum variants have no JVM form")))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, DataError> {
        Ok(SeqBuilder { class: "java.util.ArrayList", items: Vec::with_capacity(len.unwrap_or(0)) })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, DataError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, DataError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, DataError> {
        Err(DataError(format!("{name}::{variant}: data-carrying enum variants have no JVM form")))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, DataError> {
        Ok(MapBuilder { entries: Vec::new(), key: None })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<StructBuilder, DataError> {
        Ok(StructBuilder { class: name.to_owned(), fields: Vec::with_capacity(len) })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, DataError> {
        Err(DataError(format!("{name}::{variant}: data-carrying enum variants have no JVM form")))
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = JvmValue;
    type Error = DataError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), DataError> {
        self.items.push(value.serialize(Serializer { primitive_slot: false })?);
        Ok(())
    }
    fn end(self) -> Result<JvmValue, DataError> {
        Ok(JvmValue::List { class: self.class.to_owned(), items: self.items })
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = JvmValue;
    type Error = DataError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), DataError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<JvmValue, DataError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = JvmValue;
    type Error = DataError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), DataError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<JvmValue, DataError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = JvmValue;
    type Error = DataError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), DataError> {
        let key = match key.serialize(Serializer { primitive_slot: true })? {
            JvmValue::String(s) => s,
            JvmValue::Int(n) | JvmValue::Long(n) => n.to_string(),
            other => return Err(DataError(format!("map keys must be strings, got {other:?}"))),
        };
        self.key = Some(key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), DataError> {
        let key = self.key.take().ok_or_else(|| DataError("a map value without key".to_owned()))?;
        self.entries.push((key, value.serialize(Serializer { primitive_slot: false })?));
        Ok(())
    }
    fn end(self) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Map { class: "java.util.LinkedHashMap".to_owned(), entries: self.entries })
    }
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = JvmValue;
    type Error = DataError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), DataError> {
        self.fields.push((key.to_owned(), value.serialize(Serializer { primitive_slot: true })?));
        Ok(())
    }
    fn end(self) -> Result<JvmValue, DataError> {
        Ok(JvmValue::Object { class: self.class, fields: self.fields })
    }
}

/// Reads serde data from a JVM value.
struct Deserializer(JvmValue);

impl<'de> de::Deserializer<'de> for Deserializer {
    type Error = DataError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DataError> {
        match self.0 {
            JvmValue::Null => visitor.visit_unit(),
            JvmValue::Boolean(b) => visitor.visit_bool(b),
            JvmValue::Int(n) | JvmValue::Long(n) => visitor.visit_i64(n),
            JvmValue::Double(d) => visitor.visit_f64(d),
            JvmValue::String(s) | JvmValue::Class(s) => visitor.visit_string(s),
            JvmValue::List { items, .. } => {
                visitor.visit_seq(de::value::SeqDeserializer::new(items.into_iter().map(Deserializer)))
            }
            JvmValue::Map { entries, .. } | JvmValue::Object { fields: entries, .. } => visitor
                .visit_map(de::value::MapDeserializer::new(entries.into_iter().map(|(k, v)| (k, Deserializer(v))))),
            JvmValue::Other { value: Json::String(s), .. } => visitor.visit_string(s),
            JvmValue::Other { value: Json::Number(n), .. } => match n.parse::<i64>() {
                Ok(n) => visitor.visit_i64(n),
                Err(_) => visitor.visit_f64(n.parse().map_err(|_| DataError(format!("{n} is not a number")))?),
            },
            JvmValue::Other { class, .. } => Err(DataError(format!("cannot read a {class}"))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DataError> {
        match self.0 {
            JvmValue::Null => visitor.visit_none(),
            other => visitor.visit_some(Deserializer(other)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DataError> {
        match self.0 {
            JvmValue::Null => visitor.visit_unit(),
            JvmValue::Object { fields, .. } if fields.is_empty() => visitor.visit_unit(),
            other => Err(DataError(format!("expected Unit, got {other:?}"))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DataError> {
        match self.0 {
            JvmValue::Other { value: Json::String(variant), .. } | JvmValue::String(variant) => {
                visitor.visit_enum(variant.into_deserializer())
            }
            other => Err(DataError(format!("expected an enum constant, got {other:?}"))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DataError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl IntoDeserializer<'_, DataError> for Deserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::codec::{decode_arguments, encode_result};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename = "orbit.harness.actors.Inner")]
    struct Inner {
        label: String,
        score: f64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename = "orbit.harness.actors.Payload")]
    struct Payload {
        name: String,
        count: i32,
        big: i64,
        maybe: Option<i64>,
        tags: Vec<String>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename = "com.example.Color")]
    enum Color {
        #[serde(rename = "RED")]
        Red,
    }

    #[test]
    fn a_kotlin_data_class_reads_into_a_struct_and_writes_back_as_jackson_does() {
        // Made by the real Kotlin serializer (compat-proto/testdata/payloads/args_payload.json).
        let text = r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":["orbit.harness.actors.Payload",{"name":"n","count":3,"big":9223372036854775807,"maybe":["java.lang.Long",5],"tags":["java.util.Collections$SingletonList",["t"]],"inner":["orbit.harness.actors.Inner",{"label":"l","score":1.5}]}],"second":["java.lang.Class","orbit.harness.actors.Payload"]}]]]"#;
        let arguments = decode_arguments(text).expect("valid");
        let payload: Payload = from_jvm(arguments[0].value.clone()).expect("maps to the struct");
        assert_eq!(
            payload,
            Payload {
                name: "n".into(),
                count: 3,
                big: i64::MAX,
                maybe: Some(5),
                tags: vec!["t".into()],
                inner: Some(Inner { label: "l".into(), score: 1.5 }),
            }
        );
        assert_eq!(
            encode_result(&to_jvm(&payload).expect("serializable")),
            r#"["orbit.harness.actors.Payload",{"name":"n","count":3,"big":9223372036854775807,"maybe":["java.lang.Long",5],"tags":["java.util.ArrayList",["t"]],"inner":["orbit.harness.actors.Inner",{"label":"l","score":1.5}]}]"#
        );
        let argument = argument(&payload).expect("serializable");
        assert_eq!(argument.declared_class, "orbit.harness.actors.Payload");
        let back: Payload = from_jvm(argument.value).expect("round trip");
        assert_eq!(back, payload);
    }

    #[test]
    fn collections_options_and_enums() {
        let map: BTreeMap<String, i64> = [("a".to_owned(), 1)].into();
        assert_eq!(
            encode_result(&to_jvm(&map).expect("ok")),
            r#"["java.util.LinkedHashMap",{"a":["java.lang.Long",1]}]"#
        );
        assert_eq!(
            encode_result(&to_jvm(&vec![1i64, 2]).expect("ok")),
            r#"["java.util.ArrayList",[["java.lang.Long",1],["java.lang.Long",2]]]"#
        );
        assert_eq!(encode_result(&to_jvm(&Color::Red).expect("ok")), r#"["com.example.Color","RED"]"#);
        assert_eq!(from_jvm::<Color>(to_jvm(&Color::Red).expect("ok")), Ok(Color::Red));
        assert_eq!(from_jvm::<Option<String>>(JvmValue::Null), Ok(None));
        // Float, Short and Byte are boxed outside primitive properties, bare inside them.
        assert_eq!(
            encode_result(&to_jvm(&vec![0.1f32]).expect("ok")),
            r#"["java.util.ArrayList",[["java.lang.Float",0.1]]]"#
        );
        assert_eq!(encode_result(&to_jvm(&Some(7i16)).expect("ok")), r#"["java.lang.Short",7]"#);
        #[derive(Serialize)]
        #[serde(rename = "com.example.Small")]
        struct Small {
            ratio: f32,
            level: i8,
            maybe: Option<f32>,
        }
        let small = Small { ratio: 0.1, level: -3, maybe: Some(2.5) };
        assert_eq!(
            encode_result(&to_jvm(&small).expect("ok")),
            r#"["com.example.Small",{"ratio":0.1,"level":-3,"maybe":["java.lang.Float",2.5]}]"#
        );
        assert_eq!(from_jvm::<Vec<f32>>(to_jvm(&vec![0.1f32]).expect("ok")), Ok(vec![0.1f32]));
        assert!(from_jvm::<Payload>(JvmValue::String("x".into())).is_err());
    }
}
