//! Input checks shared by the services: each returns the cleaned value or a message for its
//! field, and `Validator` gathers every field's message so a form shows all of them at once.

use crate::error::{Error, FieldError};

#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.errors.push(FieldError { field, message }))
            .ok()
    }

    /// Every message of a check that covers several fields, each under its own name.
    pub fn check_fields<T>(&mut self, result: Result<T, Vec<FieldError>>) -> Option<T> {
        result.map_err(|errors| self.errors.extend(errors)).ok()
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidInput(self.errors))
        }
    }
}

/// One line of text as a caller typed it: trimmed, at most its field's length, and without
/// control characters. No text input of the API is more than one line, so a tab or a line
/// break inside one is a mistake, and a NUL an attack: PostgreSQL text cannot hold it (the
/// statement fails) and SQLite's LIKE reads a pattern only up to it (a search matches everyone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line(String);

impl Line {
    pub fn parse(value: &str, max: usize) -> Result<Self, String> {
        let value = control_free(value.trim())?;
        if value.chars().count() > max {
            return Err(format!("must be at most {max} characters"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Refuses any control character (NUL, tab, line breaks, escape, DEL, the C1 controls).
pub fn control_free(value: &str) -> Result<&str, String> {
    if value.chars().any(char::is_control) {
        Err("must not contain control characters (NUL, tab, line breaks)".into())
    } else {
        Ok(value)
    }
}

/// A one-line text that must not be blank, e.g. a name.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Line::parse(value, max).map(|line| line.0)
}

pub fn int_in_range(value: i32, min: i32, max: i32) -> Result<i32, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_no_control_character_and_keeps_its_length() {
        assert_eq!(
            Line::parse("  Contoso \n", 10).map(|line| line.as_str().to_owned()),
            Ok("Contoso".into())
        );
        for bad in ["a\0b", "a\tb", "a\nb", "a\u{1b}b", "a\u{7f}b", "a\u{85}b"] {
            assert!(Line::parse(bad, 10).is_err(), "{bad:?}");
            assert!(text(bad, 10).is_err(), "{bad:?}");
        }
        assert!(Line::parse(&"é".repeat(11), 10).is_err());
        assert!(Line::parse(&"é".repeat(10), 10).is_ok());
    }

    #[test]
    fn the_validator_reports_every_field() {
        let mut validator = Validator::default();
        assert_eq!(validator.check("name", text("  ", 10)), None);
        let config = Err(vec![FieldError {
            field: "clientId",
            message: "not a GUID".into(),
        }]);
        assert_eq!(validator.check_fields::<()>(config), None);
        assert_eq!(
            validator.check("ok", text(" fine ", 10)),
            Some("fine".into())
        );
        match validator.finish() {
            Err(Error::InvalidInput(errors)) => {
                assert_eq!(
                    errors.iter().map(|error| error.field).collect::<Vec<_>>(),
                    ["name", "clientId"]
                );
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}
