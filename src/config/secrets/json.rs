//! JSON values as Ruby's `JSON.parse` gives them to Kamal (objects keep their order, a repeated
//! key keeps its first place and its last value) and as `JSON.dump`, `to_s`, `inspect` and
//! `puts` write them back.

use super::ruby::{float_to_s, inspect_str, json_str};
use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(IndexMap<String, Json>),
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Int(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Json::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut m = IndexMap::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            m.insert(k, v);
        }
        Ok(Json::Obj(m))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

impl Json {
    /// Parse; the error is only the position (`line 1, column 7`), never the text.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = Json::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        v.map_err(|e| format!("line {}, column {}", e.line(), e.column()))
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// `hash[key]` (nil for anything that is not a hash).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key).filter(|v| **v != Json::Null),
            _ => None,
        }
    }

    /// Ruby truthiness (`nil` and `false` are false).
    pub fn truthy(&self) -> bool {
        !matches!(self, Json::Null | Json::Bool(false))
    }

    /// `JSON.dump`.
    pub fn dump(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Int(i) => i.to_string(),
            Json::Float(f) => float_to_s(*f),
            Json::Str(s) => json_str(s),
            Json::Arr(a) => format!("[{}]", a.iter().map(Json::dump).collect::<Vec<_>>().join(",")),
            Json::Obj(m) => dump_object(m.iter()),
        }
    }

    /// Ruby's `to_s` (string interpolation).
    pub fn to_s(&self) -> String {
        match self {
            Json::Null => String::new(),
            Json::Str(s) => s.clone(),
            Json::Arr(_) | Json::Obj(_) => self.inspect(),
            other => other.dump(),
        }
    }

    /// Ruby's `inspect` (Ruby 3.3: `{"a"=>1}`).
    pub fn inspect(&self) -> String {
        match self {
            Json::Null => "nil".into(),
            Json::Str(s) => inspect_str(s),
            Json::Arr(a) => format!("[{}]", a.iter().map(Json::inspect).collect::<Vec<_>>().join(", ")),
            Json::Obj(m) => format!("{{{}}}", m.iter().map(|(k, v)| format!("{}=>{}", inspect_str(k), v.inspect())).collect::<Vec<_>>().join(", ")),
            other => other.dump(),
        }
    }

    /// What `puts value` writes (arrays one element a line, flattened).
    pub fn puts(&self) -> String {
        fn lines(v: &Json, out: &mut String) {
            match v {
                Json::Arr(a) => a.iter().for_each(|x| lines(x, out)),
                other => {
                    let s = other.to_s();
                    out.push_str(&s);
                    if !s.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
        }
        let mut out = String::new();
        match self {
            Json::Arr(a) if a.is_empty() => out.push('\n'),
            v => lines(v, &mut out),
        }
        out
    }
}

/// `JSON.dump` of a hash with string keys.
pub fn dump_object<'a>(entries: impl Iterator<Item = (&'a String, &'a Json)>) -> String {
    format!("{{{}}}", entries.map(|(k, v)| format!("{}:{}", json_str(k), v.dump())).collect::<Vec<_>>().join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_document_order_and_a_repeated_key_keeps_its_first_place() {
        let v = Json::parse(r#"{"b":1,"a":[true,null,1.5],"b":"x"}"#).unwrap();
        assert_eq!(v.dump(), r#"{"b":"x","a":[true,null,1.5]}"#);
    }

    #[test]
    fn parse_errors_give_a_position_and_not_the_text() {
        let e = Json::parse("{\"k\": hunter2}").unwrap_err();
        assert!(e.starts_with("line 1, column"), "{e}");
        assert!(!e.contains("hunter2"));
        assert!(Json::parse("").is_err());
        assert!(Json::parse("[1] x").is_err());
    }

    #[test]
    fn floats_and_hashes_print_as_ruby_prints_them() {
        let v = Json::parse(r##"{"b":1.5e20,"c":null,"d":1e2,"e":0.00001,"f":"q\"#{"}"##).unwrap();
        assert_eq!(v.inspect(), r##"{"b"=>1.5e+20, "c"=>nil, "d"=>100.0, "e"=>1.0e-05, "f"=>"q\"\#{"}"##);
        assert_eq!(v.dump(), r##"{"b":1.5e+20,"c":null,"d":100.0,"e":1.0e-05,"f":"q\"#{"}"##);
    }

    #[test]
    fn puts_writes_arrays_a_line_each_and_no_double_newline() {
        assert_eq!(Json::parse(r#"[1,[2,"x"]]"#).unwrap().puts(), "1\n2\nx\n");
        assert_eq!(Json::Str("x\n".into()).puts(), "x\n");
        assert_eq!(Json::Arr(vec![]).puts(), "\n");
        assert_eq!(Json::Int(-3).puts(), "-3\n");
    }
}
