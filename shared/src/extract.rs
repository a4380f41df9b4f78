//! Extractors that answer bad input with the house problem document instead of axum's plain-text
//! rejections: malformed JSON is 400 `invalid_json`, a well-formed body with a missing, unknown or
//! mistyped field is 422 `validation_failed` naming the field, a wrong content type is 415, an
//! oversized body 413, a bad query 400 `invalid_query`, a path id that does not parse 404.
//!
//! They also hold the one rule for text a client sends ([`is_refused_char`]), so no handler has to
//! remember it: a body or query holding a refused character never reaches a handler, let alone
//! Postgres (whose `text` cannot store U+0000: such a value used to come back as a 500).

use std::borrow::Cow;
use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

use crate::problem::{FieldError, Problem};

/// Whether text from a client may not hold `c`: every Unicode control character (general category
/// Cc: the C0 set, DEL and the C1 set) except tab, line feed and carriage return.
///
/// NUL cannot be stored at all. The others have no business in anything a person types: they are
/// invisible, some are terminal escapes (ESC) waiting in a log or an export, and C1 characters are
/// almost always mis-decoded Windows-1252. Tab and line breaks stay: descriptions are multi-line,
/// and text from a Windows textarea or clipboard carries CRLF. Fields with stricter rules (an email
/// has no whitespace at all) check those themselves.
pub fn is_refused_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The refused characters as the inside of a regular-expression class (ECMA-262 and Python
/// syntax), derived from [`is_refused_char`] so the documents cannot drift from the check. Every
/// control character is below U+00A0.
pub fn refused_chars_class() -> String {
    let mut class = String::new();
    let mut code = 0u32;
    while code < 0xA0 {
        if !char::from_u32(code).is_some_and(is_refused_char) {
            code += 1;
            continue;
        }
        let start = code;
        while char::from_u32(code + 1).is_some_and(is_refused_char) {
            code += 1;
        }
        class.push_str(&format!("\\u{start:04X}"));
        if code > start {
            class.push_str(&format!("-\\u{code:04X}"));
        }
        code += 1;
    }
    class
}

/// The JSON Schema `pattern` of text that holds no refused character.
pub fn text_pattern() -> String {
    format!("^[^{}]*$", refused_chars_class())
}

/// `axum::Json`, with problem+json rejections and the offending field named.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "The body could not be read.",
                )
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body, classifying the failure the way the contract asks, and refuses it when any
/// string in it (a key too) holds a refused character ([`is_refused_char`]), naming each such field.
// The problem document is the error type on purpose (it is the response); it is built once per
// failed request, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(ObjectBody(&mut *de)).map_err(json_problem)?;
    // `serde_json::from_slice` would check this; a deserializer used by hand must be told to.
    de.end().map_err(|err| invalid_json(&err))?;
    // A single pass over the bytes, usually finding nothing; the slower search for the field
    // names runs only when there is something to name.
    if holds_refused_char(bytes) {
        return Err(Problem::validation(refused_text_fields(bytes)));
    }
    Ok(value)
}

/// The body's deserializer, except that a struct must come as a JSON object. serde's derive also
/// takes a struct from an array of its fields in order (`["Buy milk", null]` for a task), which
/// no document here describes and no client means. Only the top level is held to this: every
/// body is a struct of plain fields today.
struct ObjectBody<D>(D);

/// A struct's visitor that refuses the array form.
struct ObjectOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.0.expecting(f)?;
        f.write_str(" (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map)
    }
}

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectBody<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(name, fields, ObjectOnly(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

fn json_problem(err: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let message = strip_position(&inner.to_string());
    // Well-formed JSON by RFC 8259's grammar, but a value no field can hold: a `\u` escape of half
    // a UTF-16 surrogate pair (no Unicode string has one), a number beyond what a number type holds.
    let value_error = match message.as_str() {
        "lone leading surrogate in hex escape" | "unexpected end of hex escape" => Some((
            "invalid_unicode",
            "A \\u escape encodes half of a surrogate pair; a string must be valid Unicode.",
        )),
        "number out of range" => Some(("out_of_range", "The number is out of range.")),
        _ => None,
    };
    if let Some((code, text)) = value_error {
        return Problem::validation(vec![FieldError::new(field_of(&path), code, text)]);
    }
    match inner.classify() {
        serde_json::error::Category::Data => {
            let (field, code) = field_and_code(&path, &message);
            Problem::validation(vec![FieldError::new(field, code, message)])
        }
        _ => invalid_json(&inner),
    }
}

fn invalid_json(err: &serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!(
            "The body is not valid JSON: {}",
            strip_position(&err.to_string())
        ),
    )
}

fn field_of(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        path.to_owned()
    }
}

/// serde reports missing and unknown fields at the parent's path with the name in backticks.
fn field_and_code(path: &str, message: &str) -> (String, &'static str) {
    let named = || message.split('`').nth(1).unwrap_or_default().to_owned();
    // serde_path_to_error already appends an unknown field's own name to the path.
    let join = |name: String| {
        if path == "." || path.is_empty() {
            name
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if message.starts_with("missing field") {
        (join(named()), "required")
    } else if message.starts_with("unknown field") {
        (join(named()), "unknown_field")
    } else if message.starts_with("duplicate field") {
        (join(named()), "duplicate_field")
    } else {
        (field_of(path), "invalid_type")
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Whether a string of `json` (already known to be valid JSON) holds a refused character. Raw
/// control characters cannot appear in JSON strings, so they come in as escapes (`\b`, `\f`,
/// `\u00XX`), or as raw DEL or C1 characters (UTF-8 `7F`, `C2 80`–`C2 9F`).
fn holds_refused_char(json: &[u8]) -> bool {
    // Most bodies hold none of the three bytes that can start a refused character: find the first
    // 64-byte block that does with a fixed-length, branch-free test the compiler turns into SIMD
    // compares (about 0.1 ns a byte; a byte-at-a-time search was ten times slower), and read
    // escapes exactly only from there on. No escape runs into that block from before it, since no
    // earlier byte is a backslash.
    const BLOCK: usize = 64;
    let candidate = |b: u8| (b == b'\\') | (b == 0x7F) | (b == 0xC2);
    let mut blocks = json.chunks_exact(BLOCK);
    for (i, block) in (&mut blocks).enumerate() {
        let hit = <&[u8; BLOCK]>::try_from(block).map_or(true, |block| {
            block
                .iter()
                .fold(0u8, |hit, &b| hit | u8::from(candidate(b)))
                != 0
        });
        if hit {
            return holds_refused_char_from(json, i * BLOCK);
        }
    }
    let rest = blocks.remainder();
    rest.iter().any(|&b| candidate(b)) && holds_refused_char_from(json, json.len() - rest.len())
}

/// The exact scan of [`holds_refused_char`], from `start` (which must not be inside an escape).
fn holds_refused_char_from(json: &[u8], start: usize) -> bool {
    let mut i = start;
    while i < json.len() {
        match json[i] {
            b'\\' => match json.get(i + 1) {
                Some(b'b' | b'f') => return true,
                Some(b'u') => {
                    let escaped = json
                        .get(i + 2..i + 6)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                        .and_then(char::from_u32);
                    if escaped.is_some_and(is_refused_char) {
                        return true;
                    }
                    i += 6;
                    continue;
                }
                // `\\` must be skipped whole, or its second backslash would start an escape.
                _ => {
                    i += 2;
                    continue;
                }
            },
            0x7F => return true,
            0xC2 if matches!(json.get(i + 1), Some(0x80..=0x9F)) => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// One field error per string (or key) of `json` that holds a refused character, named by its
/// path as serde_path_to_error names fields (`items[0].title`).
fn refused_text_fields(json: &[u8]) -> Vec<FieldError> {
    fn walk(value: &serde_json::Value, path: &str, out: &mut Vec<FieldError>) {
        match value {
            serde_json::Value::String(s) if s.chars().any(is_refused_char) => {
                out.push(refused_text(path));
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if key.chars().any(is_refused_char) {
                        out.push(refused_text(&path));
                    }
                    walk(item, &path, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) {
        walk(&value, "", &mut out);
    }
    if out.is_empty() {
        // Unreachable for JSON that parsed; a refusal must still say something.
        out.push(refused_text(""));
    }
    out
}

fn refused_text(field: &str) -> FieldError {
    FieldError::new(field, "control_character", CONTROL_MESSAGE)
}

const CONTROL_MESSAGE: &str =
    "Control characters are not allowed (tab, line feed and carriage return are).";

/// `application/json` or any `application/*+json`, parameters ignored.
pub fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A body that may be left out: no bytes at all means `None`; anything else must be a JSON object
/// sent as JSON, like any required body. Whitespace alone is not "no body" but malformed JSON, as
/// the OpenAPI document's optional `application/json` body says.
#[allow(clippy::result_large_err)] // as parse_json: a Problem is the error every route returns
pub fn optional_json<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<Option<T>, Problem> {
    if body.is_empty() {
        return Ok(None);
    }
    if !is_json_content_type(headers) {
        return Err(unsupported_media_type());
    }
    parse_json(body).map(Some)
}

pub fn unsupported_media_type() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Send the body as application/json.",
    )
}

pub fn payload_too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The body is larger than 64 KiB.",
    )
}

/// `axum::extract::Path`: a segment that does not parse (a malformed UUID) names no resource, so 404.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_| Problem::not_found())
    }
}

/// `axum::extract::Query` with 400 `invalid_query` on failure, and the text rule: every name and
/// value, percent-decoded, must be UTF-8 (axum's decoder would quietly turn bad bytes into U+FFFD)
/// without a refused character.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        check_query_text(query)?;
        let de = serde_urlencoded_deserializer(query);
        de.map(Query)
            .map_err(|e| Problem::invalid_query(format!("Invalid query: {e}")))
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| "malformed query string".to_owned())?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| {
        e.body_text()
            .trim_start_matches("Failed to deserialize query string: ")
            .to_owned()
    })
}

/// Refuses a query string whose names or values, decoded as `application/x-www-form-urlencoded`,
/// are not UTF-8 or hold a refused character, naming the parameter.
#[allow(clippy::result_large_err)]
pub fn check_query_text(query: &str) -> Result<(), Problem> {
    // A request target is ASCII without control characters (the HTTP parser sees to that), so only
    // percent-escapes can carry a refused character or bytes that are not UTF-8: a query without
    // one, as most are, is done here.
    if !query.contains('%') {
        return Ok(());
    }
    for pair in query.split('&').filter(|pair| pair.contains('%')) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let (code, detail, message) = match (form_decode(raw_name), form_decode(raw_value)) {
            (Some(name), Some(value))
                if !name.chars().chain(value.chars()).any(is_refused_char) =>
            {
                continue;
            }
            (Some(_), Some(_)) => (
                "control_character",
                "holds a control character",
                CONTROL_MESSAGE,
            ),
            _ => (
                "invalid_utf8",
                "is not UTF-8 once percent-decoded",
                "Percent-encode text as UTF-8.",
            ),
        };
        let name = String::from_utf8_lossy(&percent_decode(raw_name)).into_owned();
        return Err(
            Problem::invalid_query(format!("Query parameter `{name}` {detail}."))
                .with_errors(vec![FieldError::new(name, code, message)]),
        );
    }
    Ok(())
}

/// A form-urlencoded component decoded (`+` is a space), or `None` when the bytes are not UTF-8.
fn form_decode(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(raw));
    }
    String::from_utf8(percent_decode(raw)).ok().map(Cow::Owned)
}

/// `%XX` escapes decoded and `+` made a space; a `%` not followed by two hex digits stays as it is
/// (as the WHATWG URL parser and axum's decoder leave it).
fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Writes the text rule into an OpenAPI document: every string a request can send (query
/// parameters, and the properties of request-body schemas, followed through `$ref`s) that has no
/// `pattern` or `enum` of its own gets [`text_pattern`], so a client generating requests from the
/// document (or a fuzzer) learns what the extractors refuse. Response schemas are left alone.
pub struct TextRules;

impl Modify for TextRules {
    fn modify(&self, openapi: &mut OpenApi) {
        let pattern = text_pattern();
        let mut referenced = BTreeSet::new();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                constrain_operation(operation, &pattern, &mut referenced);
            }
        }
        // Follow references until no new schema turns up (a body's schema may name others).
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let mut done = BTreeSet::new();
        while let Some(name) = referenced.iter().find(|n| !done.contains(*n)).cloned() {
            done.insert(name.clone());
            if let Some(schema) = components.schemas.get_mut(&name) {
                constrain(schema, &pattern, &mut referenced);
            }
        }
    }
}

fn constrain_operation(operation: &mut Operation, pattern: &str, refs: &mut BTreeSet<String>) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in == ParameterIn::Query
            && let Some(schema) = parameter.schema.as_mut()
        {
            constrain(schema, pattern, refs);
        }
    }
    if let Some(body) = operation.request_body.as_mut() {
        for content in body.content.values_mut() {
            if let Some(schema) = content.schema.as_mut() {
                constrain(schema, pattern, refs);
            }
        }
    }
}

fn constrain(schema: &mut RefOr<Schema>, pattern: &str, refs: &mut BTreeSet<String>) {
    let schema = match schema {
        RefOr::Ref(reference) => {
            if let Some(name) = reference.ref_location.strip_prefix("#/components/schemas/") {
                refs.insert(name.to_owned());
            }
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_string && object.pattern.is_none() && object.enum_values.is_none() {
                object.pattern = Some(pattern.to_owned());
            }
            for property in object.properties.values_mut() {
                constrain(property, pattern, refs);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                constrain(items, pattern, refs);
            }
        }
        Schema::OneOf(one_of) => {
            for item in &mut one_of.items {
                constrain(item, pattern, refs);
            }
        }
        Schema::AllOf(all_of) => {
            for item in &mut all_of.items {
                constrain(item, pattern, refs);
            }
        }
        Schema::AnyOf(any_of) => {
            for item in &mut any_of.items {
                constrain(item, pattern, refs);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: Option<u8>,
        tags: Option<Vec<String>>,
    }

    #[test]
    fn an_optional_body_is_absent_only_when_empty() {
        let json = axum::http::HeaderMap::from_iter([(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )]);
        let none = axum::http::HeaderMap::new();
        assert!(optional_json::<Body>(&none, b"").expect("empty").is_none());
        let body = optional_json::<Body>(&json, br#"{"email":"a"}"#).expect("a body");
        assert_eq!(body.map(|b| b.email).as_deref(), Some("a"));
        // Whitespace is malformed JSON, not "no body" (a fuzzer's `\r` was once taken as none).
        let p = optional_json::<Body>(&json, b"\r").unwrap_err();
        assert_eq!(
            (p.status, p.code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );
        let p = optional_json::<Body>(&none, b" ").unwrap_err();
        assert_eq!(p.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn syntax_error_is_invalid_json() {
        let p = parse_json::<Body>(b"{\"email\":").unwrap_err();
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert_eq!(p.code, "invalid_json");
    }

    #[test]
    fn trailing_bytes_are_invalid_json() {
        let p = parse_json::<Body>(br#"{"email":"a"} {"#).unwrap_err();
        assert_eq!(p.code, "invalid_json");
        assert!(parse_json::<Body>(b"{\"email\":\"a\"} \r\n").is_ok());
    }

    #[test]
    fn missing_field_is_named() {
        let p = parse_json::<Body>(b"{}").unwrap_err();
        assert_eq!(p.code, "validation_failed");
        assert_eq!(p.errors[0].field, "email");
        assert_eq!(p.errors[0].code, "required");
    }

    #[test]
    fn unknown_field_is_named() {
        let p = parse_json::<Body>(br#"{"email":"a","admin":true}"#).unwrap_err();
        assert_eq!(p.errors[0].field, "admin");
        assert_eq!(p.errors[0].code, "unknown_field");
    }

    #[test]
    fn duplicate_field_is_named() {
        let p = parse_json::<Body>(br#"{"email":"a","email":"b"}"#).unwrap_err();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.errors[0].field, "email");
        assert_eq!(p.errors[0].code, "duplicate_field");
    }

    #[test]
    fn a_struct_must_be_an_object_not_an_array_of_its_fields() {
        let p = parse_json::<Body>(br#"["a", 1, null]"#).unwrap_err();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(codes(&p), [("", "invalid_type")]);
        assert!(parse_json::<Body>(b"[]").is_err());
        // Other shapes still parse as they did.
        assert_eq!(parse_json::<Vec<u8>>(b"[1, 2]").expect("array"), [1, 2]);
        assert_eq!(parse_json::<Option<u8>>(b"null").expect("null"), None);
    }

    #[test]
    fn wrong_type_names_its_path() {
        let p = parse_json::<Body>(br#"{"email":"a","age":"x"}"#).unwrap_err();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.errors[0].field, "age");
        assert_eq!(p.errors[0].code, "invalid_type");
    }

    fn codes(p: &Problem) -> Vec<(&str, &str)> {
        p.errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn refused_characters_are_named_wherever_they_are() {
        for body in [
            r#"{"email":"a\u0000b"}"#,
            r#"{"email":"\u001b[31m"}"#,
            r#"{"email":"\b"}"#,
            r#"{"email":"\f"}"#,
            "{\"email\":\"a\u{7f}\"}",
            "{\"email\":\"a\u{85}\"}",
            r#"{"email":"\u009F"}"#,
        ] {
            let p = parse_json::<Body>(body.as_bytes()).expect_err(body);
            assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(codes(&p), [("email", "control_character")], "{body}");
        }
        let p = parse_json::<Body>(br#"{"email":"\u0000","tags":["ok","x\u0001"]}"#).unwrap_err();
        assert_eq!(
            codes(&p),
            [
                ("email", "control_character"),
                ("tags[1]", "control_character")
            ]
        );
    }

    #[test]
    fn refused_characters_are_found_in_any_block() {
        for pad in 0..100 {
            let x = "x".repeat(pad);
            let refused = format!(r#"{{"email":"{x}\u0000","tags":["{x}"]}}"#);
            assert!(parse_json::<Body>(refused.as_bytes()).is_err(), "{pad}");
            let raw_c1 = format!("{{\"email\":\"{x}\u{85}\"}}");
            assert!(parse_json::<Body>(raw_c1.as_bytes()).is_err(), "{pad}");
            let escaped = format!(r#"{{"email":"{x}\\u0000 \\b"}}"#);
            assert!(parse_json::<Body>(escaped.as_bytes()).is_ok(), "{pad}");
        }
    }

    #[test]
    fn tabs_line_breaks_and_escaped_backslashes_pass() {
        for body in [
            r#"{"email":"a\tb\nc\r\n"}"#,
            r#"{"email":"\\u0000 is how you write NUL"}"#,
            r#"{"email":"\\\\b \\f \u00e9 \u00a0 \ud83d\ude00 \" \/"}"#,
            "{\"email\":\"\u{a0}\u{e9}\u{1F600}\"}",
        ] {
            let parsed = parse_json::<Body>(body.as_bytes());
            assert!(parsed.is_ok(), "{body}: {parsed:?}");
        }
    }

    #[test]
    fn lone_surrogates_and_huge_numbers_are_field_errors() {
        for body in [
            r#"{"email":"\ud800"}"#,
            r#"{"email":"\udc00x"}"#,
            r#"{"email":"\ud800\u0041"}"#,
        ] {
            let p = parse_json::<Body>(body.as_bytes()).expect_err(body);
            assert_eq!(codes(&p), [("email", "invalid_unicode")], "{body}");
        }
        let p = parse_json::<Body>(br#"{"email":"a","age":1e400}"#).unwrap_err();
        assert_eq!(codes(&p), [("age", "out_of_range")]);
        let p = parse_json::<Body>(br#"{"email":"a","age":123456789012345678901234567890}"#)
            .unwrap_err();
        assert_eq!(codes(&p), [("age", "invalid_type")]);
    }

    #[test]
    fn query_text_must_be_utf8_without_control_characters() {
        assert!(check_query_text("").is_ok());
        assert!(check_query_text("q=caf%C3%A9+au+lait&limit=5&&x").is_ok());
        assert!(check_query_text("q=50%25%20off%zz%").is_ok());
        assert!(check_query_text("q=a%09b").is_ok());
        for (query, field, code) in [
            ("q=%29%00%F0%A2%90%92", "q", "control_character"),
            ("q=%F0%A2%90", "q", "invalid_utf8"),
            ("q=%C0%AF", "q", "invalid_utf8"),
            ("q=%ED%A0%80", "q", "invalid_utf8"),
            ("status=all&cursor=%1B", "cursor", "control_character"),
            ("q=%C2%85", "q", "control_character"),
            ("a%00=1", "a\0", "control_character"),
            ("%FF=1", "\u{FFFD}", "invalid_utf8"),
        ] {
            let p = check_query_text(query).expect_err(query);
            assert_eq!(p.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(p.code, "invalid_query", "{query}");
            assert_eq!(codes(&p), [(field, code)], "{query}");
        }
    }

    #[test]
    fn the_pattern_class_is_the_predicate() {
        assert_eq!(
            refused_chars_class(),
            r"\u0000-\u0008\u000B-\u000C\u000E-\u001F\u007F-\u009F"
        );
    }
}
