//! The invocation argument and result codec: the JSON that Kotlin's orbit-client writes with
//! Jackson's default typing (spec section 10), read into [`JvmValue`]s and written back
//! byte for byte.
//!
//! * `json`: a JSON tree that keeps member order and number text, printed as Jackson prints.
//! * [`JvmValue`]: what a typed value means: natural types bare (`String`, `Integer`, finite
//!   `Double`, `Boolean`, null), everything else as `["<JVM class>", value]`.
//! * [`decode_arguments`] / [`encode_arguments`]: the `[Lkotlin.Pair;` array of
//!   (value, declared parameter class) pairs; [`decode_result`] / [`encode_result`]: a root value.
//!
//! Malformed input is an error, never a panic: a Kotlin caller whose reply never comes waits
//! forever (spec 10.4), so the runtime must always be able to answer with an error.

pub mod json;

use thiserror::Error;

pub use self::json::Json;
use self::json::java_double;

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The text is not JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The JSON does not have the shape Jackson's default typing gives.
    #[error("unexpected payload shape: {0}")]
    Shape(String),
}

fn shape(what: impl Into<String>) -> CodecError {
    CodecError::Shape(what.into())
}

/// A value as Jackson's default typing writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum JvmValue {
    /// `null`.
    Null,
    /// A bare boolean.
    Boolean(bool),
    /// A bare integer: an `Integer` where the slot is untyped, or a primitive `int`/`long`
    /// bean property.
    Int(i64),
    /// `["java.lang.Long", n]`: a boxed `Long`.
    Long(i64),
    /// A double: bare when finite, `["java.lang.Double", "NaN"]` style otherwise.
    Double(f64),
    /// A bare string.
    String(String),
    /// `["java.lang.Class", "<name>"]`, as in the declared parameter types.
    Class(String),
    /// A collection or array: `["java.util.ArrayList", [...]]`, `["[Ljava.lang.String;", [...]]`.
    List {
        /// The runtime class (`java.util.ArrayList`, `java.util.LinkedHashSet`, ...).
        class: String,
        /// The elements.
        items: Vec<JvmValue>,
    },
    /// A map with string keys: `["java.util.LinkedHashMap", {...}]`.
    Map {
        /// The runtime class.
        class: String,
        /// The entries, in order.
        entries: Vec<(String, JvmValue)>,
    },
    /// A bean, data class or Kotlin object: `["com.example.Dto", {...}]`, `["kotlin.Unit", {}]`.
    Object {
        /// The class's binary name.
        class: String,
        /// The properties, in order.
        fields: Vec<(String, JvmValue)>,
    },
    /// Any other typed scalar (`Short`, `Byte`, `Float`, an enum constant, ...), kept as written.
    Other {
        /// The class name.
        class: String,
        /// The wrapped value.
        value: Json,
    },
}

impl JvmValue {
    /// Returns Kotlin's `Unit`, as a Kotlin host answers a `Unit` method.
    pub fn unit() -> Self {
        JvmValue::Object { class: "kotlin.Unit".to_owned(), fields: Vec::new() }
    }

    /// Reads a value from its JSON form.
    pub fn from_json(json: &Json) -> Result<JvmValue, CodecError> {
        Ok(match json {
            Json::Null => JvmValue::Null,
            Json::Bool(b) => JvmValue::Boolean(*b),
            Json::String(s) => JvmValue::String(s.clone()),
            Json::Number(text) => number(text)?,
            Json::Object(_) => return Err(shape("a bare JSON object where a type wrapper is required")),
            Json::Array(parts) => {
                let [Json::String(class), value] = parts.as_slice() else {
                    return Err(shape("an array that is not a [\"<class>\", value] type wrapper"));
                };
                typed(class, value)?
            }
        })
    }

    /// Returns the JSON form.
    pub fn to_json(&self) -> Json {
        let wrap = |class: &str, value: Json| Json::Array(vec![Json::String(class.to_owned()), value]);
        match self {
            JvmValue::Null => Json::Null,
            JvmValue::Boolean(b) => Json::Bool(*b),
            JvmValue::Int(n) => Json::Number(n.to_string()),
            JvmValue::Long(n) => wrap("java.lang.Long", Json::Number(n.to_string())),
            JvmValue::Double(d) if d.is_finite() => Json::Number(java_double(*d)),
            JvmValue::Double(d) => {
                let text = if d.is_nan() {
                    "NaN"
                } else if *d > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                wrap("java.lang.Double", Json::String(text.to_owned()))
            }
            JvmValue::String(s) => Json::String(s.clone()),
            JvmValue::Class(name) => wrap("java.lang.Class", Json::String(name.clone())),
            JvmValue::List { class, items } => wrap(class, Json::Array(items.iter().map(JvmValue::to_json).collect())),
            JvmValue::Map { class, entries } | JvmValue::Object { class, fields: entries } => {
                wrap(class, Json::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()))
            }
            JvmValue::Other { class, value } => wrap(class, value.clone()),
        }
    }
}

/// Reads a bare number: an integer (any size that fits a long) or a double.
fn number(text: &str) -> Result<JvmValue, CodecError> {
    if text.contains(['.', 'e', 'E']) {
        let value: f64 = text.parse().map_err(|_| shape(format!("number {text} is not a double")))?;
        return Ok(JvmValue::Double(value));
    }
    text.parse::<i64>().map(JvmValue::Int).map_err(|_| shape(format!("integer {text} does not fit a long")))
}

/// Returns whether a class name denotes a map (its JSON value is then a map, not a bean).
fn is_map_class(class: &str) -> bool {
    class.ends_with("Map") || class.contains("Map$") || class == "kotlin.collections.EmptyMap"
}

fn typed(class: &str, value: &Json) -> Result<JvmValue, CodecError> {
    Ok(match (class, value) {
        ("java.lang.Long", Json::Number(text)) => {
            JvmValue::Long(text.parse().map_err(|_| shape(format!("{text} is not a long")))?)
        }
        ("java.lang.Double", Json::String(special)) => JvmValue::Double(match special.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => return Err(shape(format!("{other} is not a special double"))),
        }),
        ("java.lang.Class", Json::String(name)) => JvmValue::Class(name.clone()),
        (_, Json::Array(items)) => JvmValue::List {
            class: class.to_owned(),
            items: items.iter().map(JvmValue::from_json).collect::<Result<_, _>>()?,
        },
        (_, Json::Object(members)) => {
            let entries = members
                .iter()
                .map(|(k, v)| Ok((k.clone(), JvmValue::from_json(v)?)))
                .collect::<Result<Vec<_>, CodecError>>()?;
            if is_map_class(class) {
                JvmValue::Map { class: class.to_owned(), entries }
            } else {
                JvmValue::Object { class: class.to_owned(), fields: entries }
            }
        }
        (_, other) => JvmValue::Other { class: class.to_owned(), value: other.clone() },
    })
}

/// One argument of an invocation: its value and the declared JVM parameter class
/// (`int`, `long`, `java.lang.String`, `java.util.List`, a data class's binary name, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    /// The value.
    pub value: JvmValue,
    /// The declared parameter class, as `Class.getName()` gives it.
    pub declared_class: String,
}

/// Reads `InvocationRequestProto.arguments`: `["[Lkotlin.Pair;",[["kotlin.Pair",{"first":v,"second":["java.lang.Class","c"]}],...]]`.
pub fn decode_arguments(text: &str) -> Result<Vec<Argument>, CodecError> {
    let root = Json::parse(text)?;
    let Json::Array(parts) = &root else { return Err(shape("the arguments are not a typed array")) };
    let [Json::String(root_class), Json::Array(pairs)] = parts.as_slice() else {
        return Err(shape("the arguments are not a typed array"));
    };
    if root_class != "[Lkotlin.Pair;" {
        return Err(shape(format!("the arguments array is {root_class}, not [Lkotlin.Pair;")));
    }
    pairs
        .iter()
        .map(|pair| {
            let Json::Array(wrapper) = pair else { return Err(shape("an argument is not a kotlin.Pair")) };
            let [Json::String(pair_class), Json::Object(members)] = wrapper.as_slice() else {
                return Err(shape("an argument is not a kotlin.Pair"));
            };
            if pair_class != "kotlin.Pair" {
                return Err(shape(format!("an argument is a {pair_class}, not a kotlin.Pair")));
            }
            let member = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            let first = member("first").ok_or_else(|| shape("a pair without `first`"))?;
            let second = member("second").ok_or_else(|| shape("a pair without `second`"))?;
            let JvmValue::Class(declared_class) = JvmValue::from_json(second)? else {
                return Err(shape("a pair whose `second` is not a java.lang.Class"));
            };
            Ok(Argument { value: JvmValue::from_json(first)?, declared_class })
        })
        .collect()
}

/// Writes arguments as a Kotlin caller does.
pub fn encode_arguments(arguments: &[Argument]) -> String {
    let pairs = arguments
        .iter()
        .map(|argument| {
            let members = vec![
                ("first".to_owned(), argument.value.to_json()),
                ("second".to_owned(), JvmValue::Class(argument.declared_class.clone()).to_json()),
            ];
            Json::Array(vec![Json::String("kotlin.Pair".to_owned()), Json::Object(members)])
        })
        .collect();
    Json::Array(vec![Json::String("[Lkotlin.Pair;".to_owned()), Json::Array(pairs)]).to_text()
}

/// Reads `InvocationResponseProto.value`.
pub fn decode_result(text: &str) -> Result<JvmValue, CodecError> {
    JvmValue::from_json(&Json::parse(text)?)
}

/// Writes a result as a Kotlin host does. A Kotlin caller cannot read `null` back (its call
/// never completes; see docs/compatibility.md), so hosts answering Kotlin callers should
/// not return [`JvmValue::Null`].
pub fn encode_result(value: &JvmValue) -> String {
    value.to_json().to_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_encode_exactly() {
        let args = vec![
            Argument { value: JvmValue::Int(5), declared_class: "int".into() },
            Argument { value: JvmValue::Long(7), declared_class: "long".into() },
        ];
        assert_eq!(
            encode_arguments(&args),
            r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":5,"second":["java.lang.Class","int"]}],["kotlin.Pair",{"first":["java.lang.Long",7],"second":["java.lang.Class","long"]}]]]"#
        );
        assert_eq!(encode_arguments(&[]), r#"["[Lkotlin.Pair;",[]]"#);
        assert_eq!(encode_result(&JvmValue::unit()), r#"["kotlin.Unit",{}]"#);
        assert_eq!(encode_result(&JvmValue::String("Hello Joe".into())), r#""Hello Joe""#);
        assert_eq!(encode_result(&JvmValue::Double(f64::NAN)), r#"["java.lang.Double","NaN"]"#);
    }

    #[test]
    fn malformed_payloads_are_errors() {
        for bad in [
            "",
            "{}",
            "[]",
            r#"["[Lkotlin.Pair;"]"#,
            r#"["java.util.ArrayList",[]]"#,
            r#"["[Lkotlin.Pair;",[1]]"#,
            r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":1}]]]"#,
            r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":1,"second":"int"}]]]"#,
            r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":{},"second":["java.lang.Class","int"]}]]]"#,
            r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":99999999999999999999,"second":["java.lang.Class","long"]}]]]"#,
        ] {
            assert!(decode_arguments(bad).is_err(), "{bad} should be rejected");
        }
        assert!(decode_result(r#"{"a":1}"#).is_err(), "a bare object cannot be read as Object");
        assert!(decode_result(r#"["java.lang.Long","x"]"#).is_ok(), "an unknown shape under a class is kept");
    }
}
