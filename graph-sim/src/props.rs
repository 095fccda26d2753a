//! User properties: `$select` parsing and serialising a user restricted to selected properties.
//!
//! Pages are serialised straight from the shared tenant (no per-request copies), so a
//! 999-user page costs one pass of serde_json.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::errors::GraphError;
use crate::tenant::{NoErrorAs, StatesOnWire, User};

/// A user property the simulator serves. `id` is always returned and not listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Prop {
    BusinessPhones,
    DisplayName,
    GivenName,
    JobTitle,
    Mail,
    MobilePhone,
    OfficeLocation,
    PreferredLanguage,
    Surname,
    UserPrincipalName,
    AccountEnabled,
    CreatedDateTime,
    UserType,
    AssignedLicenses,
    LicenseAssignmentStates,
    SignInActivity,
    Department,
    CompanyName,
    UsageLocation,
}

pub const ALL_PROPS: &[Prop] = &[
    Prop::BusinessPhones,
    Prop::DisplayName,
    Prop::GivenName,
    Prop::JobTitle,
    Prop::Mail,
    Prop::MobilePhone,
    Prop::OfficeLocation,
    Prop::PreferredLanguage,
    Prop::Surname,
    Prop::UserPrincipalName,
    Prop::AccountEnabled,
    Prop::CreatedDateTime,
    Prop::UserType,
    Prop::AssignedLicenses,
    Prop::LicenseAssignmentStates,
    Prop::SignInActivity,
    Prop::Department,
    Prop::CompanyName,
    Prop::UsageLocation,
];

/// Returned without `$select` (documented default set, plus `id`).
pub const DEFAULT_PROPS: &[Prop] = &[
    Prop::BusinessPhones,
    Prop::DisplayName,
    Prop::GivenName,
    Prop::JobTitle,
    Prop::Mail,
    Prop::MobilePhone,
    Prop::OfficeLocation,
    Prop::PreferredLanguage,
    Prop::Surname,
    Prop::UserPrincipalName,
];

impl Prop {
    pub fn name(self) -> &'static str {
        match self {
            Prop::BusinessPhones => "businessPhones",
            Prop::DisplayName => "displayName",
            Prop::GivenName => "givenName",
            Prop::JobTitle => "jobTitle",
            Prop::Mail => "mail",
            Prop::MobilePhone => "mobilePhone",
            Prop::OfficeLocation => "officeLocation",
            Prop::PreferredLanguage => "preferredLanguage",
            Prop::Surname => "surname",
            Prop::UserPrincipalName => "userPrincipalName",
            Prop::AccountEnabled => "accountEnabled",
            Prop::CreatedDateTime => "createdDateTime",
            Prop::UserType => "userType",
            Prop::AssignedLicenses => "assignedLicenses",
            Prop::LicenseAssignmentStates => "licenseAssignmentStates",
            Prop::SignInActivity => "signInActivity",
            Prop::Department => "department",
            Prop::CompanyName => "companyName",
            Prop::UsageLocation => "usageLocation",
        }
    }

    /// Graph matches property names case-insensitively.
    pub fn parse(name: &str) -> Option<Prop> {
        ALL_PROPS
            .iter()
            .copied()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// users/delta does not track signInActivity (not selectable) nor licenseAssignmentStates
    /// (documented: "changes ... are currently not tracked").
    pub fn delta_tracked(self) -> bool {
        !matches!(self, Prop::SignInActivity | Prop::LicenseAssignmentStates)
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A small set of properties (bitset), used for change tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PropSet(u32);

impl PropSet {
    pub fn insert(&mut self, p: Prop) {
        self.0 |= p.bit();
    }
    pub fn contains(self, p: Prop) -> bool {
        self.0 & p.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: PropSet) -> PropSet {
        PropSet(self.0 | other.0)
    }
    pub fn all() -> PropSet {
        let mut s = PropSet::default();
        for p in ALL_PROPS {
            s.insert(*p);
        }
        s
    }
    pub fn from_props(props: &[Prop]) -> PropSet {
        let mut s = PropSet::default();
        for p in props {
            s.insert(*p);
        }
        s
    }
    pub fn intersect(self, other: PropSet) -> PropSet {
        PropSet(self.0 & other.0)
    }
}

/// The properties that differ between two versions of a user.
pub fn diff(old: &User, new: &User) -> PropSet {
    let mut s = PropSet::default();
    let mut check = |p: Prop, changed: bool| {
        if changed {
            s.insert(p);
        }
    };
    check(
        Prop::BusinessPhones,
        old.business_phones != new.business_phones,
    );
    check(Prop::DisplayName, old.display_name != new.display_name);
    check(Prop::GivenName, old.given_name != new.given_name);
    check(Prop::JobTitle, old.job_title != new.job_title);
    check(Prop::Mail, old.mail != new.mail);
    check(Prop::MobilePhone, old.mobile_phone != new.mobile_phone);
    check(
        Prop::OfficeLocation,
        old.office_location != new.office_location,
    );
    check(
        Prop::PreferredLanguage,
        old.preferred_language != new.preferred_language,
    );
    check(Prop::Surname, old.surname != new.surname);
    check(
        Prop::UserPrincipalName,
        old.user_principal_name != new.user_principal_name,
    );
    check(
        Prop::AccountEnabled,
        old.account_enabled != new.account_enabled,
    );
    check(
        Prop::CreatedDateTime,
        old.created_date_time != new.created_date_time,
    );
    check(Prop::UserType, old.user_type != new.user_type);
    check(
        Prop::AssignedLicenses,
        old.assigned_licenses != new.assigned_licenses,
    );
    check(
        Prop::LicenseAssignmentStates,
        old.license_assignment_states != new.license_assignment_states,
    );
    check(
        Prop::SignInActivity,
        old.sign_in_activity != new.sign_in_activity,
    );
    check(Prop::Department, old.department != new.department);
    check(Prop::CompanyName, old.company_name != new.company_name);
    check(
        Prop::UsageLocation,
        old.usage_location != new.usage_location,
    );
    s
}

/// A parsed `$select`: the properties (without `id`) and the raw text for `@odata.context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub props: Vec<Prop>,
    /// The `$select` value as the client sent it; None when absent.
    pub raw: Option<String>,
}

impl Selection {
    pub fn default_set() -> Self {
        Selection {
            props: DEFAULT_PROPS.to_vec(),
            raw: None,
        }
    }

    /// Parses `$select`. Unknown names are a 400, as Graph answers.
    pub fn parse(raw: Option<&str>) -> Result<Selection, GraphError> {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Ok(Selection::default_set());
        };
        let mut props = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("id") {
                continue;
            }
            match Prop::parse(name) {
                Some(p) => {
                    if !props.contains(&p) {
                        props.push(p);
                    }
                }
                None => {
                    return Err(GraphError::bad_request(
                        "Request_BadRequest",
                        format!(
                            "Could not find a property named '{name}' on type 'microsoft.graph.user'."
                        ),
                    ));
                }
            }
        }
        Ok(Selection {
            props,
            raw: Some(raw.to_string()),
        })
    }

    pub fn contains(&self, p: Prop) -> bool {
        self.props.contains(&p)
    }

    /// `…/$metadata#users` or `…/$metadata#users(a,b)`.
    pub fn context(&self, base_url: &str) -> String {
        match &self.raw {
            Some(raw) => format!("{base_url}/v1.0/$metadata#users({raw})"),
            None => format!("{base_url}/v1.0/$metadata#users"),
        }
    }
}

/// Serialises `user` with `id` plus the given properties, in that order.
pub struct UserView<'a> {
    pub user: &'a User,
    pub props: &'a [Prop],
    /// How the tenant sends an assignment without error.
    pub no_error_as: NoErrorAs,
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &u.id)?;
        for p in self.props {
            let key = p.name();
            match p {
                Prop::BusinessPhones => map.serialize_entry(key, &u.business_phones)?,
                Prop::DisplayName => map.serialize_entry(key, &u.display_name)?,
                Prop::GivenName => map.serialize_entry(key, &u.given_name)?,
                Prop::JobTitle => map.serialize_entry(key, &u.job_title)?,
                Prop::Mail => map.serialize_entry(key, &u.mail)?,
                Prop::MobilePhone => map.serialize_entry(key, &u.mobile_phone)?,
                Prop::OfficeLocation => map.serialize_entry(key, &u.office_location)?,
                Prop::PreferredLanguage => map.serialize_entry(key, &u.preferred_language)?,
                Prop::Surname => map.serialize_entry(key, &u.surname)?,
                Prop::UserPrincipalName => map.serialize_entry(key, &u.user_principal_name)?,
                Prop::AccountEnabled => map.serialize_entry(key, &u.account_enabled)?,
                Prop::CreatedDateTime => map.serialize_entry(key, &u.created_date_time)?,
                Prop::UserType => map.serialize_entry(key, u.user_type.as_str())?,
                Prop::AssignedLicenses => map.serialize_entry(key, &u.assigned_licenses)?,
                Prop::LicenseAssignmentStates => map.serialize_entry(
                    key,
                    &StatesOnWire {
                        states: &u.license_assignment_states,
                        no_error_as: self.no_error_as,
                    },
                )?,
                // Documented: not returned at all for users who never signed in.
                Prop::SignInActivity => {
                    if let Some(s) = &u.sign_in_activity {
                        map.serialize_entry(key, s)?;
                    }
                }
                Prop::Department => map.serialize_entry(key, &u.department)?,
                Prop::CompanyName => map.serialize_entry(key, &u.company_name)?,
                Prop::UsageLocation => map.serialize_entry(key, &u.usage_location)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_parsing() {
        let s = Selection::parse(Some("id,DisplayName,signInActivity")).unwrap();
        assert_eq!(s.props, vec![Prop::DisplayName, Prop::SignInActivity]);
        assert!(Selection::parse(Some("bogus")).is_err());
        assert_eq!(Selection::parse(None).unwrap().props, DEFAULT_PROPS);
    }

    #[test]
    fn view_has_only_selected() {
        let u = User::new(uuid::Uuid::nil(), "Zoë", "zoe@x");
        let v = serde_json::to_value(UserView {
            user: &u,
            props: &[Prop::Mail, Prop::SignInActivity],
            no_error_as: NoErrorAs::default(),
        })
        .unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 2);
        assert!(obj["mail"].is_null());
    }
}
