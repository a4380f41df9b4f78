//! Request bodies and their validation. Bodies refuse unknown fields (a typo such as `complete`
//! must not be silently ignored); values are checked here with field-level errors, and again by the
//! database's constraints. Control characters never get this far: `shared::extract::Json` refuses
//! them in every string.

use serde::{Deserialize, Deserializer};
use shared::FieldError;
use utoipa::ToSchema;

use crate::db::tasks::TaskPatch;
use crate::error::ApiError;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 1000;

/// `POST /api/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// At most 200 characters as sent, not blank; stored trimmed.
    #[schema(min_length = 1, max_length = 200, example = "Buy milk")]
    pub title: String,
    /// At most 1000 characters; null or absent for none.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// `PUT /api/tasks/{id}`: the whole task. A missing `description` means none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTask {
    /// At most 200 characters as sent, not blank; stored trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// At most 1000 characters; null or absent for none.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub completed: bool,
}

/// `PUT /api/{user_id}/tasks/{id}` (compatibility): as [`ReplaceTask`], but the original app's
/// edit form sent no `completed`, so a missing one keeps the task's state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatReplaceTask {
    /// At most 200 characters as sent, not blank; stored trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// At most 1000 characters; null or absent for none.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Null or absent: completion unchanged.
    #[serde(default)]
    pub completed: Option<bool>,
}

/// `PATCH /api/tasks/{id}`: any subset. `"description": null` clears the description; leaving the
/// field out keeps it. `title` and `completed` cannot be null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    /// At most 200 characters as sent, not blank; stored trimmed. Not null.
    // The document shows what a client may send: a string (null is refused), or nothing.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub title: Option<Option<String>>,
    /// At most 1000 characters; null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// Not null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub completed: Option<Option<bool>>,
}

/// The JSON Schema `pattern` of a title: no refused character (`shared::extract`'s rule) and at
/// least one character that is neither refused nor whitespace as `str::trim` sees it (Unicode
/// `White_Space`, spelt out rather than `\s`, whose meaning differs between regex dialects).
pub fn title_pattern() -> String {
    let refused = shared::extract::refused_chars_class();
    let mut whitespace = String::new();
    for c in ('\0'..='\u{3000}').filter(|c| c.is_whitespace()) {
        whitespace.push_str(&format!("\\u{:04X}", u32::from(c)));
    }
    format!("^[^{refused}]*[^{refused}{whitespace}][^{refused}]*$")
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`, via `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// A checked title and description.
#[derive(Debug)]
pub struct Fields {
    pub title: String,
    pub description: Option<String>,
}

/// The length is counted as sent, before trimming, so that the document can state the rule as
/// `maxLength` (a limit on the trimmed text would let a padded 300-character string through while
/// the document said 200).
fn check_title(raw: &str, errors: &mut Vec<FieldError>) -> String {
    let title = raw.trim();
    if title.is_empty() {
        errors.push(FieldError::new(
            "title",
            "blank",
            "Title must not be blank.",
        ));
    } else if raw.chars().count() > TITLE_MAX {
        errors.push(FieldError::new(
            "title",
            "too_long",
            format!("Title must be at most {TITLE_MAX} characters."),
        ));
    }
    title.to_owned()
}

fn check_description(raw: Option<&str>, errors: &mut Vec<FieldError>) {
    if raw.is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        errors.push(FieldError::new(
            "description",
            "too_long",
            format!("Description must be at most {DESCRIPTION_MAX} characters."),
        ));
    }
}

fn finish<T>(value: T, errors: Vec<FieldError>) -> Result<T, ApiError> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::Validation(errors))
    }
}

pub fn checked(title: &str, description: Option<String>) -> Result<Fields, ApiError> {
    let mut errors = Vec::new();
    let title = check_title(title, &mut errors);
    check_description(description.as_deref(), &mut errors);
    finish(Fields { title, description }, errors)
}

impl UpdateTask {
    pub fn into_patch(self) -> Result<TaskPatch, ApiError> {
        let mut errors = Vec::new();
        let title = match self.title {
            None => None,
            Some(None) => {
                errors.push(FieldError::new("title", "null", "Title cannot be null."));
                None
            }
            Some(Some(raw)) => Some(check_title(&raw, &mut errors)),
        };
        if let Some(description) = &self.description {
            check_description(description.as_deref(), &mut errors);
        }
        let completed = match self.completed {
            None => None,
            Some(None) => {
                errors.push(FieldError::new(
                    "completed",
                    "null",
                    "Completed cannot be null.",
                ));
                None
            }
            Some(Some(done)) => Some(done),
        };
        finish(
            TaskPatch {
                title,
                description: self.description,
                completed,
            },
            errors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_codes(err: ApiError) -> Vec<(String, String)> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn title_is_trimmed_and_bounded_in_characters() {
        assert_eq!(checked("  hi \n", None).expect("valid").title, "hi");
        assert!(checked(&"é".repeat(200), None).is_ok());
        let codes =
            field_codes(checked(&"é".repeat(201), Some("x".repeat(1001))).expect_err("invalid"));
        assert_eq!(
            codes,
            vec![
                ("title".into(), "too_long".into()),
                ("description".into(), "too_long".into())
            ]
        );
        assert_eq!(
            field_codes(checked(" \t ", None).expect_err("blank")),
            vec![("title".into(), "blank".into())]
        );
        // Counted as sent: padding does not buy room.
        assert!(checked(&format!(" {} ", "x".repeat(198)), None).is_ok());
        assert_eq!(
            field_codes(checked(&format!("{} ", "x".repeat(200)), None).expect_err("long")),
            vec![("title".into(), "too_long".into())]
        );
    }

    #[test]
    fn the_title_pattern_names_every_whitespace_character() {
        // `title_pattern` looks for whitespace up to U+3000 only.
        assert!(!('\u{3001}'..=char::MAX).any(char::is_whitespace));
        let pattern = title_pattern();
        assert!(
            pattern.contains(r"\u0020\u0085\u00A0\u1680\u2000"),
            "{pattern}"
        );
        assert!(pattern.starts_with(r"^[^\u0000-\u0008"), "{pattern}");
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let absent: UpdateTask = serde_json::from_str("{}").expect("json");
        assert!(absent.into_patch().expect("ok").description.is_none());
        let null: UpdateTask = serde_json::from_str(r#"{"description": null}"#).expect("json");
        assert_eq!(null.into_patch().expect("ok").description, Some(None));
        let null_title: UpdateTask = serde_json::from_str(r#"{"title": null}"#).expect("json");
        assert_eq!(
            field_codes(null_title.into_patch().expect_err("null")),
            vec![("title".into(), "null".into())]
        );
    }
}
