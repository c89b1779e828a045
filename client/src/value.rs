//! Conversions between Rust values and [`JvmValue`]s, with the JVM classes Kotlin declares
//! for them (`Int` is `int`, `Long?` is `java.lang.Long`, `List<T>` is `java.util.List`...).

use std::collections::{BTreeMap, HashMap};

use crate::codec::{Argument, JvmValue};

/// A value that can be sent to a JVM actor.
pub trait IntoJvm {
    /// The declared JVM parameter class of a Kotlin parameter of this type.
    const DECLARED: &'static str;
    /// The class of the boxed type (a nullable Kotlin parameter declares it).
    const BOXED: &'static str;
    /// Returns the value.
    fn into_jvm(self) -> JvmValue;

    /// Returns the value as an argument with its declared class.
    fn into_argument(self) -> Argument
    where
        Self: Sized,
    {
        Argument { declared_class: Self::DECLARED.to_owned(), value: self.into_jvm() }
    }
}

/// A value that can be read from a JVM answer or argument.
pub trait FromJvm: Sized {
    /// Returns the value, or why it does not fit.
    fn from_jvm(value: JvmValue) -> Result<Self, String>;
}

fn mismatch<T>(expected: &str, value: &JvmValue) -> Result<T, String> {
    Err(format!("expected {expected}, got {value:?}"))
}

impl IntoJvm for String {
    const DECLARED: &'static str = "java.lang.String";
    const BOXED: &'static str = "java.lang.String";
    fn into_jvm(self) -> JvmValue {
        JvmValue::String(self)
    }
}

impl IntoJvm for &str {
    const DECLARED: &'static str = "java.lang.String";
    const BOXED: &'static str = "java.lang.String";
    fn into_jvm(self) -> JvmValue {
        JvmValue::String(self.to_owned())
    }
}

impl IntoJvm for i32 {
    const DECLARED: &'static str = "int";
    const BOXED: &'static str = "java.lang.Integer";
    fn into_jvm(self) -> JvmValue {
        JvmValue::Int(i64::from(self))
    }
}

impl IntoJvm for i64 {
    const DECLARED: &'static str = "long";
    const BOXED: &'static str = "java.lang.Long";
    fn into_jvm(self) -> JvmValue {
        JvmValue::Long(self)
    }
}

impl IntoJvm for f64 {
    const DECLARED: &'static str = "double";
    const BOXED: &'static str = "java.lang.Double";
    fn into_jvm(self) -> JvmValue {
        JvmValue::Double(self)
    }
}

impl IntoJvm for bool {
    const DECLARED: &'static str = "boolean";
    const BOXED: &'static str = "java.lang.Boolean";
    fn into_jvm(self) -> JvmValue {
        JvmValue::Boolean(self)
    }
}

impl<T: IntoJvm> IntoJvm for Option<T> {
    const DECLARED: &'static str = T::BOXED;
    const BOXED: &'static str = T::BOXED;
    fn into_jvm(self) -> JvmValue {
        self.map_or(JvmValue::Null, IntoJvm::into_jvm)
    }
}

impl<T: IntoJvm> IntoJvm for Vec<T> {
    const DECLARED: &'static str = "java.util.List";
    const BOXED: &'static str = "java.util.List";
    fn into_jvm(self) -> JvmValue {
        JvmValue::List {
            class: "java.util.ArrayList".to_owned(),
            items: self.into_iter().map(IntoJvm::into_jvm).collect(),
        }
    }
}

impl<T: IntoJvm> IntoJvm for BTreeMap<String, T> {
    const DECLARED: &'static str = "java.util.Map";
    const BOXED: &'static str = "java.util.Map";
    fn into_jvm(self) -> JvmValue {
        JvmValue::Map {
            class: "java.util.LinkedHashMap".to_owned(),
            entries: self.into_iter().map(|(k, v)| (k, v.into_jvm())).collect(),
        }
    }
}

impl IntoJvm for JvmValue {
    const DECLARED: &'static str = "java.lang.Object";
    const BOXED: &'static str = "java.lang.Object";
    fn into_jvm(self) -> JvmValue {
        self
    }
}

impl IntoJvm for () {
    const DECLARED: &'static str = "kotlin.Unit";
    const BOXED: &'static str = "kotlin.Unit";
    fn into_jvm(self) -> JvmValue {
        JvmValue::unit()
    }
}

impl FromJvm for String {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::String(s) => Ok(s),
            other => mismatch("a string", &other),
        }
    }
}

impl FromJvm for i32 {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Int(n) => i32::try_from(n).map_err(|_| format!("{n} does not fit an int")),
            other => mismatch("an int", &other),
        }
    }
}

impl FromJvm for i64 {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Long(n) | JvmValue::Int(n) => Ok(n),
            other => mismatch("a long", &other),
        }
    }
}

impl FromJvm for f64 {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Double(d) => Ok(d),
            #[allow(clippy::cast_precision_loss)]
            JvmValue::Int(n) => Ok(n as f64),
            other => mismatch("a double", &other),
        }
    }
}

impl FromJvm for bool {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Boolean(b) => Ok(b),
            other => mismatch("a boolean", &other),
        }
    }
}

impl<T: FromJvm> FromJvm for Option<T> {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Null => Ok(None),
            other => T::from_jvm(other).map(Some),
        }
    }
}

impl<T: FromJvm> FromJvm for Vec<T> {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::List { items, .. } => items.into_iter().map(T::from_jvm).collect(),
            other => mismatch("a collection", &other),
        }
    }
}

impl<T: FromJvm> FromJvm for HashMap<String, T> {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Map { entries, .. } => entries.into_iter().map(|(k, v)| Ok((k, T::from_jvm(v)?))).collect(),
            other => mismatch("a map", &other),
        }
    }
}

impl<T: FromJvm> FromJvm for BTreeMap<String, T> {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Map { entries, .. } => entries.into_iter().map(|(k, v)| Ok((k, T::from_jvm(v)?))).collect(),
            other => mismatch("a map", &other),
        }
    }
}

impl FromJvm for () {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        match value {
            JvmValue::Null => Ok(()),
            JvmValue::Object { class, .. } if class == "kotlin.Unit" => Ok(()),
            other => mismatch("kotlin.Unit", &other),
        }
    }
}

impl FromJvm for JvmValue {
    fn from_jvm(value: JvmValue) -> Result<Self, String> {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_arguments;

    #[test]
    fn declared_classes_match_kotlin() {
        let args = vec!["hi".into_argument(), 5i32.into_argument(), 7i64.into_argument(), Some(3i64).into_argument()];
        assert_eq!(
            encode_arguments(&args),
            r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":"hi","second":["java.lang.Class","java.lang.String"]}],["kotlin.Pair",{"first":5,"second":["java.lang.Class","int"]}],["kotlin.Pair",{"first":["java.lang.Long",7],"second":["java.lang.Class","long"]}],["kotlin.Pair",{"first":["java.lang.Long",3],"second":["java.lang.Class","java.lang.Long"]}]]]"#
        );
        assert_eq!(None::<i32>.into_argument().declared_class, "java.lang.Integer");
        assert_eq!(vec![1i64].into_argument().declared_class, "java.util.List");
    }

    #[test]
    fn reads_values_back() {
        assert_eq!(i64::from_jvm(JvmValue::Long(9)), Ok(9));
        assert!(i32::from_jvm(JvmValue::Int(i64::MAX)).is_err());
        assert_eq!(Option::<String>::from_jvm(JvmValue::Null), Ok(None));
        assert_eq!(<()>::from_jvm(JvmValue::unit()), Ok(()));
        let list = JvmValue::List { class: "java.util.Arrays$ArrayList".into(), items: vec![JvmValue::Long(1)] };
        assert_eq!(Vec::<i64>::from_jvm(list), Ok(vec![1]));
        assert!(String::from_jvm(JvmValue::Int(1)).is_err());
    }
}
