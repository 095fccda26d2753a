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

/// Trimmed, non-empty, at most `max` characters.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(value.to_owned())
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
