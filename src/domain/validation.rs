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

pub fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        })
}

/// A GUID, lower-cased so that the same id typed twice compares equal.
pub fn guid(value: &str) -> Result<String, String> {
    let value = value.trim();
    if is_guid(value) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err("is not a GUID (expected the form 00000000-0000-0000-0000-000000000000)".into())
    }
}

/// A DNS name such as contoso.onmicrosoft.com (RFC 1035 labels, at least two of them).
pub fn is_dns_name(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

pub fn tenant(value: &str) -> Result<String, String> {
    let value = value.trim().to_ascii_lowercase();
    if is_guid(&value) || is_dns_name(&value) {
        Ok(value)
    } else {
        Err("is neither a Directory (tenant) ID (a GUID) nor a verified domain such as contoso.onmicrosoft.com".into())
    }
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
    fn tenants_are_guids_or_domains() {
        assert_eq!(
            tenant(" 72F988BF-86F1-41AF-91AB-2D7CD011DB47 "),
            Ok("72f988bf-86f1-41af-91ab-2d7cd011db47".into())
        );
        assert_eq!(
            tenant("Contoso.onmicrosoft.com"),
            Ok("contoso.onmicrosoft.com".into())
        );
        for bad in [
            "",
            "contoso",
            "contoso..com",
            "-a.com",
            "a_b.com",
            "1.2.3.4",
            "x.c0m",
        ] {
            assert!(tenant(bad).is_err(), "{bad}");
        }
    }

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
        assert_eq!(validator.check("clientId", guid("nope")), None);
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
