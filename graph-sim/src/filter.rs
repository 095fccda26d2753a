//! A small, exact subset of OData `$filter` for /users (the clauses a licence tool uses);
//! anything else is answered the way Graph answers unsupported directory queries.
//!
//! Supported, joined with `and`:
//! `accountEnabled eq true|false`, `userType eq 'Member'|'Guest'`, `id eq '<guid>'`,
//! `userPrincipalName eq '…'`, `mail eq '…'`, `displayName eq '…'`,
//! `startswith(displayName|userPrincipalName|mail,'…')`,
//! `signInActivity/lastSignInDateTime|lastNonInteractiveSignInDateTime|lastSuccessfulSignInDateTime
//!  le|lt|ge|gt <ISO 8601>`.

use chrono::{DateTime, Utc};

use crate::errors::GraphError;
use crate::tenant::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInField {
    Interactive,
    NonInteractive,
    Successful,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextField {
    Id,
    UserPrincipalName,
    Mail,
    DisplayName,
}

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    AccountEnabled(bool),
    UserType(String),
    TextEq(TextField, String),
    StartsWith(TextField, String),
    SignIn(SignInField, Cmp, DateTime<Utc>),
}

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    clauses: Vec<Clause>,
}

fn unsupported() -> GraphError {
    GraphError::bad_request("Request_UnsupportedQuery", "Unsupported Query.")
}

fn quoted(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    // OData escapes a quote by doubling it.
    Some(inner.replace("''", "'"))
}

fn text_field(name: &str) -> Option<TextField> {
    match name.trim().to_ascii_lowercase().as_str() {
        "id" => Some(TextField::Id),
        "userprincipalname" => Some(TextField::UserPrincipalName),
        "mail" => Some(TextField::Mail),
        "displayname" => Some(TextField::DisplayName),
        _ => None,
    }
}

fn text_of(u: &User, f: TextField) -> Option<String> {
    match f {
        TextField::Id => Some(u.id.to_string()),
        TextField::UserPrincipalName => Some(u.user_principal_name.clone()),
        TextField::Mail => u.mail.clone(),
        TextField::DisplayName => u.display_name.clone(),
    }
}

fn parse_clause(c: &str) -> Result<Clause, GraphError> {
    let c = c.trim();
    let lower = c.to_ascii_lowercase();
    if let Some(args) = lower
        .strip_prefix("startswith(")
        .and_then(|_| c[11..].strip_suffix(')'))
    {
        let (field, value) = args.split_once(',').ok_or_else(unsupported)?;
        let field = text_field(field)
            .filter(|f| *f != TextField::Id)
            .ok_or_else(unsupported)?;
        return Ok(Clause::StartsWith(
            field,
            quoted(value).ok_or_else(unsupported)?,
        ));
    }
    let mut parts = c.splitn(3, ' ');
    let (lhs, op, rhs) = match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(o), Some(r)) => (l, o.to_ascii_lowercase(), r.trim()),
        _ => return Err(unsupported()),
    };
    let lhs_lower = lhs.to_ascii_lowercase();
    if let Some(field) = lhs_lower.strip_prefix("signinactivity/") {
        let field = match field {
            "lastsignindatetime" => SignInField::Interactive,
            "lastnoninteractivesignindatetime" => SignInField::NonInteractive,
            "lastsuccessfulsignindatetime" => SignInField::Successful,
            _ => return Err(unsupported()),
        };
        let cmp = match op.as_str() {
            "lt" => Cmp::Lt,
            "le" => Cmp::Le,
            "gt" => Cmp::Gt,
            "ge" => Cmp::Ge,
            _ => return Err(unsupported()),
        };
        let when = DateTime::parse_from_rfc3339(rhs)
            .map_err(|_| unsupported())?
            .with_timezone(&Utc);
        return Ok(Clause::SignIn(field, cmp, when));
    }
    if op != "eq" {
        return Err(unsupported());
    }
    match lhs_lower.as_str() {
        "accountenabled" => match rhs {
            "true" => Ok(Clause::AccountEnabled(true)),
            "false" => Ok(Clause::AccountEnabled(false)),
            _ => Err(unsupported()),
        },
        "usertype" => Ok(Clause::UserType(quoted(rhs).ok_or_else(unsupported)?)),
        other => {
            let field = text_field(other).ok_or_else(unsupported)?;
            Ok(Clause::TextEq(field, quoted(rhs).ok_or_else(unsupported)?))
        }
    }
}

impl Filter {
    pub fn parse(raw: Option<&str>) -> Result<Filter, GraphError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Filter::default());
        };
        let mut clauses = Vec::new();
        // Split on " and " case-insensitively; quoted values containing " and " are rare
        // enough in directory filters that we do not tokenise quotes.
        let lower = raw.to_ascii_lowercase();
        let mut start = 0;
        while let Some(pos) = lower[start..].find(" and ") {
            clauses.push(parse_clause(&raw[start..start + pos])?);
            start += pos + 5;
        }
        clauses.push(parse_clause(&raw[start..])?);
        Ok(Filter { clauses })
    }

    /// Filtering on signInActivity has the same permission and licence rules as selecting it.
    pub fn uses_sign_in(&self) -> bool {
        self.clauses.iter().any(|c| matches!(c, Clause::SignIn(..)))
    }

    pub fn matches(&self, u: &User) -> bool {
        self.clauses.iter().all(|c| match c {
            Clause::AccountEnabled(v) => u.account_enabled == *v,
            Clause::UserType(t) => u.user_type.as_str().eq_ignore_ascii_case(t),
            Clause::TextEq(f, v) => text_of(u, *f).is_some_and(|x| x.eq_ignore_ascii_case(v)),
            Clause::StartsWith(f, v) => {
                text_of(u, *f).is_some_and(|x| x.to_lowercase().starts_with(&v.to_lowercase()))
            }
            Clause::SignIn(f, cmp, when) => {
                let Some(s) = &u.sign_in_activity else {
                    return false;
                };
                let value = match f {
                    SignInField::Interactive => s.last_sign_in_date_time,
                    SignInField::NonInteractive => s.last_non_interactive_sign_in_date_time,
                    SignInField::Successful => s.last_successful_sign_in_date_time,
                };
                value.is_some_and(|v| match cmp {
                    Cmp::Lt => v < *when,
                    Cmp::Le => v <= *when,
                    Cmp::Gt => v > *when,
                    Cmp::Ge => v >= *when,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_clauses() {
        let f = Filter::parse(Some(
            "accountEnabled eq false and userType eq 'Guest' and startswith(displayName,'Zo')",
        ))
        .unwrap();
        assert_eq!(f.clauses.len(), 3);
        let f = Filter::parse(Some(
            "signInActivity/lastSignInDateTime le 2024-01-01T00:00:00Z",
        ))
        .unwrap();
        assert!(f.uses_sign_in());
        assert!(Filter::parse(Some("jobTitle ne 'x'")).is_err());
        assert!(Filter::parse(Some("assignedLicenses/$count eq 0")).is_err());
    }

    #[test]
    fn matches_users() {
        let mut u = User::new(uuid::Uuid::nil(), "Zoë Ångström", "zoe@contoso.com");
        u.account_enabled = false;
        assert!(
            Filter::parse(Some("accountEnabled eq false"))
                .unwrap()
                .matches(&u)
        );
        assert!(
            Filter::parse(Some("startswith(displayName,'zoë')"))
                .unwrap()
                .matches(&u)
        );
        assert!(
            !Filter::parse(Some("userType eq 'Guest'"))
                .unwrap()
                .matches(&u)
        );
        assert!(
            Filter::parse(Some("userPrincipalName eq 'ZOE@contoso.com'"))
                .unwrap()
                .matches(&u)
        );
    }
}
