//! A Ruby-like value tree: what `YAML.unsafe_load` gives Kamal (strings, symbols, integers,
//! floats, booleans, nil, arrays and insertion-ordered hashes with any key type).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A Ruby symbol (`:name` in YAML), stored without the colon.
    Sym(String),
    Seq(Vec<Value>),
    Map(Map),
}

/// An insertion-ordered hash. Keys compare like Ruby hash keys (`1` ≠ `"1"` ≠ `:"1"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map(pub Vec<(Value, Value)>);

impl Map {
    pub fn new() -> Self {
        Map(Vec::new())
    }
    /// Ruby `hash[key] = value`: replaces in place (keeping position) or appends.
    pub fn insert(&mut self, k: Value, v: Value) {
        if let Some(slot) = self.0.iter_mut().find(|(ek, _)| ek.key_eq(&k)) {
            slot.1 = v;
        } else {
            self.0.push((k, v));
        }
    }
    pub fn get_key(&self, k: &Value) -> Option<&Value> {
        self.0.iter().find(|(ek, _)| ek.key_eq(k)).map(|(_, v)| v)
    }
    /// Lookup by string key (Kamal reads nested config with string keys).
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.iter().find(|(ek, _)| matches!(ek, Value::Str(s) if s == k)).map(|(_, v)| v)
    }
    pub fn contains(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
    pub fn remove(&mut self, k: &str) -> Option<Value> {
        let i = self.0.iter().position(|(ek, _)| matches!(ek, Value::Str(s) if s == k))?;
        Some(self.0.remove(i).1)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(k, _)| k)
    }
    /// Ruby `merge!`: other's keys overwrite (keeping the original position).
    pub fn merge_from(&mut self, other: &Map) {
        for (k, v) in &other.0 {
            self.insert(k.clone(), v.clone());
        }
    }
    /// ActiveSupport `deep_merge`: hashes merge recursively, anything else is replaced.
    pub fn deep_merge(&self, other: &Map) -> Map {
        let mut out = self.clone();
        for (k, v) in &other.0 {
            let merged = match (out.get_key(k), v) {
                (Some(Value::Map(a)), Value::Map(b)) => Value::Map(a.deep_merge(b)),
                _ => v.clone(),
            };
            out.insert(k.clone(), merged);
        }
        out
    }
    pub fn str_map(pairs: Vec<(&str, Value)>) -> Map {
        Map(pairs.into_iter().map(|(k, v)| (Value::Str(k.to_string()), v)).collect())
    }
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }
    /// Ruby `eql?` for hash keys.
    pub fn key_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            _ => self == other,
        }
    }
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
    /// Ruby truthiness: only nil and false are falsy.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }
    /// ActiveSupport `present?` (= !blank?).
    pub fn present(&self) -> bool {
        match self {
            Value::Nil | Value::Bool(false) => false,
            Value::Str(s) => !s.chars().all(char::is_whitespace),
            Value::Seq(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            _ => true,
        }
    }
    /// Ruby `to_s`.
    pub fn to_rstring(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => ruby_float(*f),
            Value::Str(s) | Value::Sym(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => self.inspect(),
        }
    }
    /// Ruby 3.3's `inspect` (Kamal 2.11 runs on 3.3: `{"a"=>1}`), used in a few error messages
    /// and for arrays/hashes in `to_s`.
    pub fn inspect(&self) -> String {
        match self {
            Value::Nil => "nil".into(),
            Value::Str(s) => format!("{s:?}"),
            Value::Sym(s) if plain_symbol(s) => format!(":{s}"),
            Value::Sym(s) => format!(":{s:?}"),
            Value::Seq(v) => format!("[{}]", v.iter().map(Value::inspect).collect::<Vec<_>>().join(", ")),
            Value::Map(m) => format!("{{{}}}", m.iter().map(|(k, v)| format!("{}=>{}", k.inspect(), v.inspect())).collect::<Vec<_>>().join(", ")),
            other => other.to_rstring(),
        }
    }
    /// Ruby class name, for type errors.
    pub fn class_name(&self) -> &'static str {
        match self {
            Value::Nil => "NilClass",
            Value::Bool(true) => "TrueClass",
            Value::Bool(false) => "FalseClass",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::Str(_) => "String",
            Value::Sym(_) => "Symbol",
            Value::Seq(_) => "Array",
            Value::Map(_) => "Hash",
        }
    }
}

/// Whether Ruby prints the symbol without quotes (`:name`, `:name?`, not `:"a b"`).
fn plain_symbol(s: &str) -> bool {
    let body = s.strip_suffix(['?', '!', '=']).unwrap_or(s);
    let mut c = body.chars();
    c.next().is_some_and(|f| f.is_alphabetic() || f == '_') && c.all(|x| x.is_alphanumeric() || x == '_')
}

pub fn ruby_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rstring())
    }
}
