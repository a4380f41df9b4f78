//! Request bodies and their validation. Bodies refuse unknown fields (a typo such as `complete`
//! must not be silently ignored); values are checked here with field-level errors, and again by the
//! database's constraints.

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
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, example = "Buy milk")]
    pub title: String,
    /// At most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// `PUT /api/tasks/{id}`: the whole task. A missing `description` means none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTask {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
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
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[serde(default)]
    pub completed: Option<bool>,
}

/// `PATCH /api/tasks/{id}`: any subset. `"description": null` clears the description; leaving the
/// field out keeps it. `title` and `completed` cannot be null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub completed: Option<Option<bool>>,
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

fn check_title(raw: &str, errors: &mut Vec<FieldError>) -> String {
    let title = raw.trim();
    if title.is_empty() {
        errors.push(FieldError::new(
            "title",
            "blank",
            "Title must not be blank.",
        ));
    } else if title.chars().count() > TITLE_MAX {
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
