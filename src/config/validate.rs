//! Validation as Kamal 2.11 does it: each section is checked against an example document
//! (the key set and the type of each example value), with a few special rules (servers/hosts
//! lists, `ssl`, `arch`, ssh `config`, accessory `files`/`directories`, `options`/`args`,
//! `labels`, env's clear/secret/tags forms). Errors carry Kamal's key path (`servers/web/1`).
//!
//! The schemas are the texts of [`super::schema`] (also what `kdeck docs` prints); every
//! value only stands for its type (string, integer, boolean, list of X, hash, or "…" = any hash).

use super::error::ConfigError;
use super::schema;
use super::value::{Map, Value};
use std::sync::OnceLock;

pub enum Schema {
    Configuration,
    Role,
    Accessory,
    Boot,
    Builder,
    Logging,
    Proxy,
    Registry,
    Ssh,
    Sshkit,
}

impl Schema {
    /// The section of [`super::schema::SECTIONS`] this schema reads.
    fn name(&self) -> &'static str {
        match self {
            Schema::Configuration => "configuration",
            Schema::Role => "role",
            Schema::Accessory => "accessory",
            Schema::Boot => "boot",
            Schema::Builder => "builder",
            Schema::Logging => "logging",
            Schema::Proxy => "proxy",
            Schema::Registry => "registry",
            Schema::Ssh => "ssh",
            Schema::Sshkit => "sshkit",
        }
    }
}

/// A section's example document, parsed once.
fn section_example(name: &str) -> &'static Value {
    static CACHE: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| schema::SECTIONS.iter().map(|s| (s.name, super::yaml::parse(s.text).expect("schema YAML"))).collect());
    static EMPTY: Value = Value::Nil;
    all.iter().find(|(n, _)| *n == name).map(|(_, v)| v).unwrap_or(&EMPTY)
}

fn example(s: &Schema) -> &'static Value {
    section_example(s.name())
}

/// The keys of the `env` hash form (`clear`, `secret`, `tags`).
fn env_keys() -> Vec<String> {
    section_example("env").as_map().map(|m| m.keys().map(key_name).collect()).unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq)]
pub enum Ty {
    Str,
    Int,
    Bool,
    Arr,
    Hash,
    Nil,
}

fn ty_of_example(v: &Value) -> Ty {
    match v {
        Value::Str(_) | Value::Sym(_) => Ty::Str,
        Value::Int(_) | Value::Float(_) => Ty::Int,
        Value::Bool(_) => Ty::Bool,
        Value::Seq(_) => Ty::Arr,
        Value::Map(_) => Ty::Hash,
        Value::Nil => Ty::Nil,
    }
}

fn valid(v: &Value, t: Ty) -> bool {
    match t {
        // Kamal's "stringish": String, Symbol, Numeric, true/false all pass as strings.
        Ty::Str => matches!(v, Value::Str(_) | Value::Sym(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)),
        Ty::Int => matches!(v, Value::Int(_)),
        Ty::Bool => matches!(v, Value::Bool(_)),
        Ty::Arr => matches!(v, Value::Seq(_)),
        Ty::Hash => matches!(v, Value::Map(_)),
        Ty::Nil => v.is_nil(),
    }
}

fn describe(t: Ty) -> &'static str {
    match t {
        Ty::Str => "a string",
        Ty::Int => "an integer",
        Ty::Bool => "a boolean",
        Ty::Arr => "an array",
        Ty::Hash => "a hash",
        Ty::Nil => "a nilclass",
    }
}

/// Kamal's key-path context plus the validation routines.
pub struct Validator {
    pub context: String,
    allow_extensions: bool,
}

pub type VResult = Result<(), ConfigError>;

pub fn key_name(k: &Value) -> String {
    k.to_rstring()
}

impl Validator {
    pub fn new(context: &str) -> Self {
        Validator { context: context.to_string(), allow_extensions: false }
    }

    pub fn error(&self, msg: impl Into<String>) -> ConfigError {
        ConfigError::invalid(self.context.clone(), msg)
    }

    fn type_error(&self, types: &[Ty]) -> ConfigError {
        let mut d: Vec<&str> = Vec::new();
        for t in types {
            let s = describe(*t);
            if !d.contains(&s) {
                d.push(s);
            }
        }
        self.error(format!("should be {}", d.join(" or ")))
    }

    fn check(&self, v: &Value, types: &[Ty]) -> VResult {
        if types.iter().any(|t| valid(v, *t)) {
            Ok(())
        } else {
            Err(self.type_error(types))
        }
    }

    pub fn with<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> Result<T, ConfigError>) -> Result<T, ConfigError> {
        let old = self.context.clone();
        if !key.is_empty() {
            if self.context.is_empty() {
                self.context = key.to_string();
            } else {
                self.context = format!("{}/{key}", self.context);
            }
        }
        let r = f(self);
        self.context = old;
        r
    }

    /// Validate a whole section against its schema.
    pub fn validate_schema(&mut self, v: &Value, schema: Schema) -> VResult {
        self.allow_extensions = matches!(schema, Schema::Configuration);
        let top = matches!(schema, Schema::Configuration);
        self.against(v, example(&schema), top)
    }

    fn against(&mut self, v: &Value, ex: &Value, top: bool) -> VResult {
        self.check(v, &[ty_of_example(ex)])?;
        let (Value::Map(m), Value::Map(exm)) = (v, ex) else { return Ok(()) };
        self.unknown_keys(m, exm)?;
        for (k, val) in m.iter() {
            let kn = key_name(k);
            if is_extension(k) {
                continue;
            }
            let Some(exv) = exm.get(&kn) else { continue };
            let allow_ext = self.allow_extensions;
            self.allow_extensions = false;
            let r = self.with(&kn, |s| s.key(&kn, val, exv, top));
            self.allow_extensions = allow_ext;
            r?;
        }
        Ok(())
    }

    fn key(&mut self, kn: &str, val: &Value, exv: &Value, top: bool) -> VResult {
        if exv.as_str() == Some("...") {
            if !(kn == "proxy" && matches!(val, Value::Bool(_))) {
                if top && kn == "servers" {
                    self.check(val, &[Ty::Arr, Ty::Hash])?;
                } else {
                    self.check(val, &[Ty::Hash])?;
                }
            }
        } else if kn == "ssl" {
            self.check(val, &[Ty::Bool, Ty::Hash])?;
        } else if kn == "hooks_output" {
            self.hooks_output(val)?;
        } else if kn == "hosts" && !top {
            self.servers(val)?;
        } else if let Value::Seq(exs) = exv {
            let first = exs.first().map(ty_of_example).unwrap_or(Ty::Str);
            if kn == "arch" {
                let ok = match val {
                    Value::Seq(items) => items.iter().all(|i| valid(i, first)),
                    other => valid(other, first),
                };
                if !ok {
                    return Err(self.type_error(&[Ty::Arr, first]));
                }
            } else if kn == "config" {
                match val {
                    Value::Seq(_) => self.array_of(val, Ty::Str)?,
                    Value::Bool(_) | Value::Str(_) => {}
                    _ => return Err(self.type_error(&[Ty::Bool, Ty::Bool, Ty::Str, Ty::Arr])),
                }
            } else if kn == "files" || kn == "directories" {
                self.paths(val)?;
            } else {
                self.array_of(val, first)?;
            }
        } else if let Value::Map(exm) = exv {
            match kn {
                "labels" => {
                    let t = exm.iter().next().map(|(_, v)| ty_of_example(v)).unwrap_or(Ty::Str);
                    self.hash_of(val, t)?;
                }
                k if schema::free_form(k) => self.check(val, &[Ty::Hash])?,
                _ => self.against(val, exv, false)?,
            }
        } else {
            self.check(val, &[ty_of_example(exv)])?;
        }
        Ok(())
    }

    fn unknown_keys(&self, m: &Map, ex: &Map) -> VResult {
        let unknown: Vec<String> =
            m.keys().filter(|k| !matches!(k, Value::Str(s) if ex.contains(s))).filter(|k| !(self.allow_extensions && is_extension(k))).map(key_name).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let word = if unknown.len() == 1 { "key" } else { "keys" };
        Err(self.error(format!("unknown {word}: {}", unknown.join(", "))))
    }

    pub fn array_of(&mut self, v: &Value, t: Ty) -> VResult {
        self.check(v, &[Ty::Arr])?;
        if let Value::Seq(items) = v {
            for (i, it) in items.iter().enumerate() {
                self.with(&i.to_string(), |s| s.check(it, &[t]))?;
            }
        }
        Ok(())
    }

    pub fn array_of_strings(&mut self, v: &Value) -> VResult {
        self.array_of(v, Ty::Str)
    }

    pub fn hash_of(&mut self, v: &Value, t: Ty) -> VResult {
        self.check(v, &[Ty::Hash])?;
        if let Value::Map(m) = v {
            for (k, val) in m.iter() {
                self.with(&key_name(k), |s| s.check(val, &[t]))?;
            }
        }
        Ok(())
    }

    pub fn hash_of_strings(&mut self, v: &Value) -> VResult {
        self.hash_of(v, Ty::Str)
    }

    pub fn must_be_hash(&self, v: &Value) -> VResult {
        self.check(v, &[Ty::Hash])
    }

    pub fn must_be_string(&self, v: &Value) -> VResult {
        self.check(v, &[Ty::Str])
    }

    /// `validate_servers!`: a list of hosts, each a string or `{host => tag(s)}`.
    pub fn servers(&mut self, v: &Value) -> VResult {
        self.check(v, &[Ty::Arr])?;
        let Value::Seq(items) = v else { return Ok(()) };
        for (i, it) in items.iter().enumerate() {
            self.with(&i.to_string(), |s| {
                s.check(it, &[Ty::Str, Ty::Hash])?;
                if let Value::Map(m) = it {
                    if m.len() != 1 {
                        return Err(s.error("multiple hosts found"));
                    }
                    let (host, tags) = m.iter().next().expect("one entry");
                    s.with(&key_name(host), |s| {
                        s.check(tags, &[Ty::Str, Ty::Arr])?;
                        if let Value::Seq(_) = tags {
                            s.array_of(tags, Ty::Str)?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// A role's `servers/<name>` entry: a host list or a role hash.
    pub fn role(&mut self, v: &Value) -> VResult {
        self.check(v, &[Ty::Arr, Ty::Hash])?;
        if let Value::Seq(_) = v {
            return self.servers(v);
        }
        self.validate_schema(v, Schema::Role)?;
        let m = v.as_map().expect("hash");
        self.labels(m.get("labels"))?;
        self.docker_options(m.get("options"))
    }

    pub fn accessory(&mut self, v: &Value) -> VResult {
        self.validate_schema(v, Schema::Accessory)?;
        let m = v.as_map().expect("hash");
        let n = ["host", "hosts", "role", "roles", "tag", "tags"].iter().filter(|k| m.contains(k)).count();
        if n != 1 {
            return Err(self.error("specify one of `host`, `hosts`, `role`, `roles`, `tag` or `tags`"));
        }
        self.labels(m.get("labels"))?;
        self.docker_options(m.get("options"))
    }

    fn labels(&mut self, labels: Option<&Value>) -> VResult {
        let Some(Value::Map(l)) = labels else { return Ok(()) };
        self.with("labels", |s| {
            for (k, _) in l.iter() {
                let kn = key_name(k);
                if matches!(k, Value::Str(x) if x == "destination" || x == "role" || x == "service") {
                    return s.with(&kn, |s| Err(s.error("invalid label. destination, role, and service are reserved labels")));
                }
            }
            Ok(())
        })
    }

    fn docker_options(&self, options: Option<&Value>) -> VResult {
        if let Some(Value::Map(o)) = options {
            if o.get("restart").is_some_and(Value::truthy) {
                return Err(self.error("Cannot set restart policy in docker options, unless-stopped is required"));
            }
        }
        Ok(())
    }

    fn paths(&mut self, v: &Value) -> VResult {
        self.check(v, &[Ty::Arr])?;
        let Value::Seq(items) = v else { return Ok(()) };
        for (i, it) in items.iter().enumerate() {
            self.with(&i.to_string(), |s| {
                s.check(it, &[Ty::Str, Ty::Hash])?;
                if let Value::Map(m) = it {
                    for k in ["local", "remote", "mode", "owner", "options"] {
                        if let Some(x) = m.get(k) {
                            s.with(k, |s| s.check(x, &[Ty::Str]))?;
                        }
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn hooks_output(&mut self, v: &Value) -> VResult {
        if let Value::Map(m) = v {
            for (k, lvl) in m.iter() {
                self.with(&key_name(k), |s| s.check(lvl, &[Ty::Str]))?;
            }
            Ok(())
        } else {
            // `validate_type! value, String, Symbol`: anything "stringish" passes.
            if valid(v, Ty::Str) {
                Ok(())
            } else {
                Err(self.error("should be a string or a symbol"))
            }
        }
    }

    /// Kamal's Env validator. `root` is true only for the top-level `env` (tags allowed).
    pub fn env(&mut self, v: &Value) -> VResult {
        let Value::Map(m) = v else {
            return Err(self.type_error(&[Ty::Hash]));
        };
        let special = env_keys();
        let known = m.keys().any(|k| matches!(k, Value::Str(s) if special.contains(s)));
        if !known {
            return self.hash_of(v, Ty::Str);
        }
        let unknown: Vec<String> = m.keys().filter(|k| !matches!(k, Value::Str(s) if special.contains(s))).map(key_name).collect();
        if !unknown.is_empty() {
            let word = if unknown.len() == 1 { "key" } else { "keys" };
            return Err(self.error(format!("unknown {word}: {}", unknown.join(", "))));
        }
        if let Some(c) = m.get("clear") {
            self.with("clear", |s| s.hash_of(c, Ty::Str))?;
        }
        if let Some(sec) = m.get("secret") {
            self.with("secret", |s| s.array_of(sec, Ty::Str))?;
        }
        if let Some(tags) = m.get("tags") {
            if self.context != "env" {
                return Err(self.error("tags are only allowed in the root env"));
            }
            self.with("tags", |s| {
                s.check(tags, &[Ty::Hash])?;
                if let Value::Map(tm) = tags {
                    for (tag, tv) in tm.iter() {
                        s.with(&key_name(tag), |s| {
                            s.check(tv, &[Ty::Hash])?;
                            s.env(tv)
                        })?;
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

fn is_extension(k: &Value) -> bool {
    match k {
        Value::Str(s) | Value::Sym(s) => s.starts_with("x-"),
        _ => false,
    }
}
