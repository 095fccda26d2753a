//! Deterministic tenant generation from (user count, seed).
//!
//! Everything is drawn from `SimRng` streams derived from the seed, and dates are relative to a
//! reference time (default: today 00:00 UTC), so the same spec yields the same tenant.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::catalog::{self, CatalogSku};
use crate::fixtures::{self, FIXTURE_COUNT, FIXTURE_MIN_USERS};
use crate::rng::SimRng;
use crate::tenant::{
    App, AssignedLicense, Group, LicenseAssignmentState, NoErrorAs, Permissions, PrepaidUnits,
    ServicePlanInfo, SignInActivity, Sku, Subscription, Tenant, User, UserType,
};

/// What tenant to generate.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Number of users (members + guests).
    pub users: usize,
    pub seed: u64,
    /// Tenant holds Entra ID P1/P2 (signInActivity available).
    pub premium: bool,
    pub permissions: Permissions,
    /// The app's client secret is expired (token endpoint answers AADSTS7000222).
    pub secret_expired: bool,
    /// "Now" for generated dates; None = today 00:00 UTC.
    pub reference_time: Option<DateTime<Utc>>,
    /// How an assignment without error is sent: `"None"` (the service) or null (the docs).
    pub no_error_as: NoErrorAs,
}

impl Default for TenantSpec {
    fn default() -> Self {
        TenantSpec {
            users: 100,
            seed: 1,
            premium: true,
            permissions: Permissions::default(),
            secret_expired: false,
            reference_time: None,
            no_error_as: NoErrorAs::default(),
        }
    }
}

/// How a SKU appears in generated tenants.
struct SkuPlan {
    part: &'static str,
    /// Relative weight when picking a user's licences.
    weight: f64,
    /// None = not subscribed any more (users still hold it: a "retired" SKU).
    status: Option<&'static str>,
    /// Index into the licensing groups, for group-based assignment.
    group: Option<usize>,
    /// Backed by two subscriptions.
    two_subscriptions: bool,
}

const SKU_PLANS: &[SkuPlan] = &[
    SkuPlan {
        part: "SPE_E5",
        weight: 8.0,
        status: Some("Enabled"),
        group: Some(0),
        two_subscriptions: true,
    },
    SkuPlan {
        part: "SPE_E3",
        weight: 30.0,
        status: Some("Enabled"),
        group: Some(1),
        two_subscriptions: false,
    },
    SkuPlan {
        part: "ENTERPRISEPACK",
        weight: 8.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "STANDARDPACK",
        weight: 6.0,
        status: Some("Warning"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "SPB",
        weight: 2.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "O365_BUSINESS_PREMIUM",
        weight: 3.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "O365_BUSINESS_ESSENTIALS",
        weight: 4.0,
        status: Some("Suspended"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "EXCHANGESTANDARD",
        weight: 6.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "POWER_BI_PRO",
        weight: 10.0,
        status: Some("Enabled"),
        group: Some(2),
        two_subscriptions: false,
    },
    SkuPlan {
        part: "FLOW_FREE",
        weight: 15.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "AAD_PREMIUM",
        weight: 0.0,
        status: Some("LockedOut"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "AAD_PREMIUM_P2",
        weight: 10.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "MCOEV",
        weight: 3.0,
        status: Some("Enabled"),
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "Microsoft_365_Copilot",
        weight: 4.0,
        status: Some("Enabled"),
        group: Some(3),
        two_subscriptions: false,
    },
    SkuPlan {
        part: "ENTERPRISEPREMIUM",
        weight: 3.0,
        status: None,
        group: None,
        two_subscriptions: false,
    },
    SkuPlan {
        part: "DESKLESSPACK",
        weight: 1.5,
        status: None,
        group: None,
        two_subscriptions: false,
    },
];

const GROUP_NAMES: &[&str] = &[
    "LIC-M365-E5",
    "LIC-M365-E3",
    "LIC-PowerBI-Pro",
    "LIC-Copilot",
];

/// (display form, ASCII form for UPNs)
const GIVEN: &[(&str, &str)] = &[
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Łukasz", "lukasz"),
    ("Anna", "anna"),
    ("Björn", "bjorn"),
    ("Chloé", "chloe"),
    ("Søren", "soren"),
    ("Mårten", "marten"),
    ("Ingrid", "ingrid"),
    ("Jürgen", "jurgen"),
    ("François", "francois"),
    ("Małgorzata", "malgorzata"),
    ("Øystein", "oystein"),
    ("Renée", "renee"),
    ("Ángel", "angel"),
    ("Nuño", "nuno"),
    ("Ondřej", "ondrej"),
    ("Siobhán", "siobhan"),
    ("Ólafur", "olafur"),
    ("Emma", "emma"),
    ("Liam", "liam"),
    ("Olivia", "olivia"),
    ("Noah", "noah"),
    ("Sofia", "sofia"),
    ("Mateo", "mateo"),
    ("Amélie", "amelie"),
    ("Hiroshi", "hiroshi"),
    ("Yuki", "yuki"),
    ("Wei", "wei"),
    ("Priya", "priya"),
    ("Arjun", "arjun"),
    ("Fatma", "fatma"),
    ("Mehmet", "mehmet"),
    ("Aigerim", "aigerim"),
    ("Kwame", "kwame"),
    ("Chiara", "chiara"),
    ("Giulia", "giulia"),
    ("Pedro", "pedro"),
    ("Inês", "ines"),
    ("Tomáš", "tomas"),
    ("Zsófia", "zsofia"),
    ("Dagný", "dagny"),
    ("Aleksandra", "aleksandra"),
    ("Nikolai", "nikolai"),
    ("Elif", "elif"),
    ("Camille", "camille"),
    ("Lars", "lars"),
    ("Maja", "maja"),
    ("David", "david"),
    ("Sarah", "sarah"),
    ("Michael", "michael"),
    ("Laura", "laura"),
    ("Thomas", "thomas"),
    ("Julia", "julia"),
    ("Daniel", "daniel"),
    ("Hannah", "hannah"),
    ("Lukas", "lukas"),
    ("Mia", "mia"),
];

const SURNAMES: &[(&str, &str)] = &[
    ("Ångström", "angstrom"),
    ("Núñez", "nunez"),
    ("Wójcik", "wojcik"),
    ("Müller", "muller"),
    ("Søndergaard", "sondergaard"),
    ("García", "garcia"),
    ("Lefèvre", "lefevre"),
    ("Kowalczyk", "kowalczyk"),
    ("Nøhr", "nohr"),
    ("Öztürk", "ozturk"),
    ("Çelik", "celik"),
    ("Dvořáková", "dvorakova"),
    ("Szabó", "szabo"),
    ("Ó Briain", "obriain"),
    ("Jónsdóttir", "jonsdottir"),
    ("Schröder", "schroder"),
    ("Łęcki", "lecki"),
    ("Gonçalves", "goncalves"),
    ("Fernández", "fernandez"),
    ("Håkansson", "hakansson"),
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Brown", "brown"),
    ("Jones", "jones"),
    ("Miller", "miller"),
    ("Davis", "davis"),
    ("Wilson", "wilson"),
    ("Anderson", "anderson"),
    ("Taylor", "taylor"),
    ("Thomas", "thomas"),
    ("Moore", "moore"),
    ("Martin", "martin"),
    ("Jackson", "jackson"),
    ("White", "white"),
    ("Harris", "harris"),
    ("Tanaka", "tanaka"),
    ("Suzuki", "suzuki"),
    ("Watanabe", "watanabe"),
    ("Kim", "kim"),
    ("Park", "park"),
    ("Nguyen", "nguyen"),
    ("Tran", "tran"),
    ("Patel", "patel"),
    ("Sharma", "sharma"),
    ("Singh", "singh"),
    ("Rossi", "rossi"),
    ("Bianchi", "bianchi"),
    ("Dubois", "dubois"),
    ("Moreau", "moreau"),
    ("Jansen", "jansen"),
    ("de Vries", "devries"),
    ("van Dijk", "vandijk"),
    ("Novák", "novak"),
    ("Horváth", "horvath"),
    ("Ivanova", "ivanova"),
    ("Petrov", "petrov"),
    ("Andersen", "andersen"),
    ("Nielsen", "nielsen"),
    ("Lindqvist", "lindqvist"),
];

const JOB_TITLES: &[&str] = &[
    "Software Engineer",
    "Account Manager",
    "Sales Representative",
    "HR Specialist",
    "Financial Analyst",
    "Marketing Manager",
    "Support Engineer",
    "Project Manager",
    "Designer",
    "Director",
    "Consultant",
    "Operations Lead",
    "Data Scientist",
    "Legal Counsel",
    "Office Manager",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Operations",
    "Legal",
    "Support",
    "Research & Development",
    "IT",
];
const OFFICES: &[&str] = &[
    "Amsterdam",
    "Kraków",
    "München",
    "Zürich",
    "Seattle",
    "São Paulo",
    "Tokyo",
    "Remote",
];
const LANGUAGES: &[&str] = &[
    "en-US", "en-GB", "de-DE", "fr-FR", "nl-NL", "pl-PL", "es-ES", "ja-JP", "sv-SE",
];
const USAGE_LOCATIONS: &[&str] = &["US", "GB", "DE", "FR", "NL", "PL", "ES", "JP", "SE", "CH"];
const GUEST_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "northwindtraders.com",
    "adatum.com",
    "tailspintoys.com",
    "gmail.com",
    "outlook.com",
];

/// How each licensing group's membership is managed, in `GROUP_NAMES` order: one group of each
/// kind a reclaim must tell apart, since only an assigned cloud group's members can be changed
/// through Graph.
#[derive(Clone, Copy)]
enum GroupKind {
    Assigned,
    Dynamic,
    SyncedFromOnPremises,
}

const GROUP_KINDS: &[GroupKind] = &[
    GroupKind::Assigned,
    GroupKind::Dynamic,
    GroupKind::SyncedFromOnPremises,
    GroupKind::Assigned,
];

/// The licensing groups, each assigning the SKUs whose plan names it.
fn licensing_groups(
    meta: &mut SimRng,
    plans: &[(&SkuPlan, &'static CatalogSku)],
    now: DateTime<Utc>,
) -> Vec<Group> {
    GROUP_NAMES
        .iter()
        .zip(GROUP_KINDS)
        .enumerate()
        .map(|(i, (name, kind))| {
            let mut g = Group::assigned(meta.uuid(), name);
            g.description = Some(format!("Licensing group {name}"));
            g.created_date_time = Some(now - Duration::days(1500 + 30 * i as i64));
            g.assigned_licenses = plans
                .iter()
                .filter(|(p, _)| p.group == Some(i))
                .map(|(_, sku)| AssignedLicense {
                    disabled_plans: Vec::new(),
                    sku_id: sku.sku_id,
                })
                .collect();
            match kind {
                GroupKind::Assigned => {}
                GroupKind::Dynamic => {
                    g.group_types = vec!["DynamicMembership".into()];
                    g.membership_rule = Some(format!(
                        "(user.userType -eq \"Member\") and (user.extensionAttribute1 -eq \"{name}\")"
                    ));
                    g.membership_rule_processing_state = Some("On".into());
                }
                GroupKind::SyncedFromOnPremises => g.on_premises_sync_enabled = Some(true),
            }
            g
        })
        .collect()
}

/// The reference "now" of a spec.
pub fn reference_time(spec: &TenantSpec) -> DateTime<Utc> {
    spec.reference_time.unwrap_or_else(|| {
        let today = Utc::now().date_naive();
        Utc.from_utc_datetime(&today.and_hms_opt(0, 0, 0).unwrap_or_default())
    })
}

/// Generates a whole tenant. 100,000 users take well under a second in release builds.
pub fn generate(spec: &TenantSpec) -> Tenant {
    let now = reference_time(spec);
    let mut meta = SimRng::derive(spec.seed, 1);
    let tenant_id = meta.uuid();
    let initial_domain = format!("contoso-{}.onmicrosoft.com", spec.seed);
    let custom_domain = format!("contoso-{}.com", spec.seed);
    let app = App {
        client_id: meta.uuid(),
        client_secret: client_secret(&mut meta),
        secret_expired: spec.secret_expired,
        permissions: spec.permissions,
    };
    let plans: Vec<(&SkuPlan, &'static CatalogSku)> = SKU_PLANS
        .iter()
        .filter_map(|p| catalog::by_part_number(p.part).map(|c| (p, c)))
        .collect();
    let groups = licensing_groups(&mut meta, &plans, now);

    let mut users = Vec::with_capacity(spec.users);
    let mut user_rng = SimRng::derive(spec.seed, 2);
    // A stream of its own, so that the users drawn from `user_rng` stay those of earlier
    // versions of the generator.
    let mut path_rng = SimRng::derive(spec.seed, 4);
    let mut name_uses = vec![0u32; GIVEN.len() * SURNAMES.len()];
    let ctx = UserCtx {
        now,
        initial_domain: &initial_domain,
        custom_domain: &custom_domain,
        plans: &plans,
        groups: &groups,
    };
    let fixtures_from = (spec.users >= FIXTURE_MIN_USERS).then(|| spec.users - FIXTURE_COUNT);
    for i in 0..spec.users {
        users.push(generate_user(
            &mut user_rng,
            &mut path_rng,
            &ctx,
            &mut name_uses,
            fixtures_from.is_some_and(|from| i >= from),
        ));
    }
    let sku_of = |part: &str| {
        let (plan, sku) = plans.iter().find(|(p, _)| p.part == part)?;
        Some((
            sku.sku_id,
            plan.group.and_then(|g| groups.get(g)).map(|g| g.id),
        ))
    };
    let license_fixtures = fixtures::plant(&mut users, &sku_of, now);

    let mut sku_rng = SimRng::derive(spec.seed, 3);
    let (skus, subscriptions) = build_skus(&mut sku_rng, &plans, &users, now);

    Tenant {
        tenant_id,
        display_name: format!("Contoso {}", spec.seed),
        domains: vec![initial_domain, custom_domain],
        country_letter_code: Some("NL".into()),
        created_date_time: Some(now - Duration::days(3000)),
        premium: spec.premium,
        no_error_as: spec.no_error_as,
        app,
        groups,
        skus,
        subscriptions,
        users,
        mutually_exclusive_plans: Vec::new(),
        license_fixtures,
    }
}

/// Entra client secrets look like `Abc8Q~...` (40 chars from a URL-safe-ish alphabet).
fn client_secret(rng: &mut SimRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~";
    let mut s = String::with_capacity(40);
    for i in 0..40 {
        if i == 3 {
            s.push_str("8Q~");
        }
        s.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char);
    }
    s.truncate(40);
    s
}

struct UserCtx<'a> {
    now: DateTime<Utc>,
    initial_domain: &'a str,
    custom_domain: &'a str,
    plans: &'a [(&'a SkuPlan, &'static CatalogSku)],
    groups: &'a [Group],
}

fn days_ago(now: DateTime<Utc>, rng: &mut SimRng, lo_days: i64, hi_days: i64) -> DateTime<Utc> {
    let secs = rng.range(lo_days * 86_400, hi_days * 86_400);
    now - Duration::seconds(secs)
}

/// `fixture`: the user becomes a licence fixture, so it must be an enabled member (it still
/// draws what any user draws, so that users before it stay the same).
fn generate_user(
    rng: &mut SimRng,
    paths: &mut SimRng,
    ctx: &UserCtx<'_>,
    name_uses: &mut [u32],
    fixture: bool,
) -> User {
    let id = rng.uuid();
    let gi = rng.below(GIVEN.len() as u64) as usize;
    let si = rng.below(SURNAMES.len() as u64) as usize;
    let (given, given_ascii) = GIVEN[gi];
    let (surname, surname_ascii) = SURNAMES[si];
    let uses = &mut name_uses[gi * SURNAMES.len() + si];
    *uses += 1;
    let local = if *uses == 1 {
        format!("{given_ascii}.{surname_ascii}")
    } else {
        format!("{given_ascii}.{surname_ascii}{}", *uses)
    };
    let guest = rng.chance(0.08) && !fixture;
    let mut user = User::new(id, &format!("{given} {surname}"), "");
    user.given_name = Some(given.to_string());
    user.surname = Some(surname.to_string());
    if guest {
        let ext = *rng.pick(GUEST_DOMAINS);
        user.user_type = UserType::Guest;
        user.user_principal_name = format!("{local}_{ext}#EXT#@{}", ctx.initial_domain);
        user.mail = Some(format!("{local}@{ext}"));
        user.account_enabled = !rng.chance(0.05);
    } else {
        user.user_principal_name = format!("{local}@{}", ctx.custom_domain);
        // Some members have no mailbox.
        user.mail = if rng.chance(0.05) {
            None
        } else {
            Some(user.user_principal_name.clone())
        };
        user.account_enabled = !rng.chance(0.07) || fixture;
        user.job_title = Some(rng.pick(JOB_TITLES).to_string());
        user.department = Some(rng.pick(DEPARTMENTS).to_string());
        user.company_name = Some("Contoso".to_string());
        user.office_location = Some(rng.pick(OFFICES).to_string());
        user.preferred_language = Some(rng.pick(LANGUAGES).to_string());
        user.usage_location = Some(rng.pick(USAGE_LOCATIONS).to_string());
        if rng.chance(0.6) {
            user.business_phones = vec![format!(
                "+31 20 {:03} {:04}",
                rng.below(1000),
                rng.below(10_000)
            )];
        }
        if rng.chance(0.4) {
            user.mobile_phone = Some(format!("+31 6 {:08}", rng.below(100_000_000)));
        }
    }

    // createdDateTime: null for ~2% (pre-2018 accounts), else up to 10 years back.
    let created = if rng.chance(0.02) {
        None
    } else {
        Some(days_ago(ctx.now, rng, 2, 3650))
    };
    user.created_date_time = created;

    user.sign_in_activity = sign_in(rng, ctx.now, created, guest);

    let count = if guest {
        if rng.chance(0.1) { 1 } else { 0 }
    } else {
        let r = rng.next_f64();
        if r < 0.15 {
            0
        } else if r < 0.55 {
            1
        } else if r < 0.85 {
            2
        } else {
            3
        }
    };
    assign_licenses(rng, paths, ctx, &mut user, count);
    user
}

fn sign_in(
    rng: &mut SimRng,
    now: DateTime<Utc>,
    created: Option<DateTime<Utc>>,
    guest: bool,
) -> Option<SignInActivity> {
    let never = if guest { 0.30 } else { 0.08 };
    if rng.chance(never) {
        return None;
    }
    // Most users signed in recently; a tail goes back a year.
    let r = rng.next_f64();
    let (lo, hi) = if r < 0.7 {
        (0, 30)
    } else if r < 0.9 {
        (30, 180)
    } else {
        (180, 365)
    };
    let mut last = days_ago(now, rng, lo, hi);
    if let Some(c) = created
        && last < c
    {
        last = (c + Duration::seconds(rng.range(60, 86_400))).min(now);
    }
    let req = |rng: &mut SimRng| Some(rng.uuid().to_string());
    let mut s = SignInActivity::default();
    // A few users only ever signed in non-interactively.
    if !rng.chance(0.03) {
        s.last_sign_in_date_time = Some(last);
        s.last_sign_in_request_id = req(rng);
    }
    if rng.chance(0.85) {
        let ni = (last + Duration::seconds(rng.range(-3 * 86_400, 3 * 86_400))).min(now);
        s.last_non_interactive_sign_in_date_time = Some(ni);
        s.last_non_interactive_sign_in_request_id = req(rng);
    }
    // lastSuccessfulSignIn* is not backfilled before Dec 2023: null for some users.
    if !rng.chance(0.05) {
        let latest = match (
            s.last_sign_in_date_time,
            s.last_non_interactive_sign_in_date_time,
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(t) = latest {
            // ~10% of last attempts failed, so the last success is earlier.
            let t = if rng.chance(0.1) {
                t - Duration::seconds(rng.range(3600, 20 * 86_400))
            } else {
                t
            };
            s.last_successful_sign_in_date_time = Some(t);
            s.last_successful_sign_in_request_id = if Some(t) == s.last_sign_in_date_time {
                s.last_sign_in_request_id.clone()
            } else if Some(t) == s.last_non_interactive_sign_in_date_time {
                s.last_non_interactive_sign_in_request_id.clone()
            } else {
                req(rng)
            };
        }
    }
    Some(s)
}

/// Picks a user's licences and how each came to it. `paths` decides only whether a group that
/// assigns a licence the user also holds directly fails to.
fn assign_licenses(
    rng: &mut SimRng,
    paths: &mut SimRng,
    ctx: &UserCtx<'_>,
    user: &mut User,
    count: usize,
) {
    let total: f64 = ctx.plans.iter().map(|(p, _)| p.weight).sum();
    let mut picked: Vec<usize> = Vec::with_capacity(count);
    let mut attempts = 0;
    while picked.len() < count && attempts < 20 {
        attempts += 1;
        let mut x = rng.next_f64() * total;
        let mut chosen = None;
        for (i, (p, _)) in ctx.plans.iter().enumerate() {
            if p.weight <= 0.0 {
                continue;
            }
            if x < p.weight {
                chosen = Some(i);
                break;
            }
            x -= p.weight;
        }
        if let Some(i) = chosen
            && !picked.contains(&i)
        {
            picked.push(i);
        }
    }
    let assigned_at = user
        .created_date_time
        .unwrap_or(ctx.now - Duration::days(2000));
    for i in picked {
        let (plan, sku) = ctx.plans[i];
        let mut disabled = Vec::new();
        if rng.chance(0.15) && sku.service_plans.len() > 1 {
            let n = 1 + rng.below(2) as usize;
            for _ in 0..n {
                let p = rng.pick(&sku.service_plans).service_plan_id;
                if !disabled.contains(&p) {
                    disabled.push(p);
                }
            }
        }
        let updated = Some(days_ago(ctx.now, rng, 1, 700).max(assigned_at));
        let state = |by: Option<Uuid>, error: Option<&str>, state: &str| LicenseAssignmentState {
            assigned_by_group: by,
            disabled_plans: disabled.clone(),
            error: error.map(str::to_string),
            last_updated_date_time: updated,
            sku_id: sku.sku_id,
            state: state.to_string(),
        };
        let group = plan.group.and_then(|g| ctx.groups.get(g)).map(|g| g.id);
        match group {
            Some(gid) if rng.chance(0.55) => {
                // Inherited; a few both directly and through the group (two state entries).
                let direct_too = rng.chance(0.2);
                if direct_too {
                    user.license_assignment_states
                        .push(state(None, None, "Active"));
                }
                if rng.chance(0.01) {
                    user.license_assignment_states.push(state(
                        Some(gid),
                        Some("MutuallyExclusiveViolation"),
                        "ActiveWithError",
                    ));
                } else if direct_too && paths.chance(0.3) {
                    // The group cannot assign what the user already holds directly: the direct
                    // entry is Active, the group's in Error. Removing the direct licence would
                    // leave the user without it.
                    let error = if paths.chance(0.5) {
                        "CountViolation"
                    } else {
                        "MutuallyExclusiveViolation"
                    };
                    user.license_assignment_states
                        .push(state(Some(gid), Some(error), "Error"));
                } else {
                    user.license_assignment_states
                        .push(state(Some(gid), None, "Active"));
                }
            }
            _ => user
                .license_assignment_states
                .push(state(None, None, "Active")),
        }
        user.assigned_licenses.push(AssignedLicense {
            disabled_plans: disabled,
            sku_id: sku.sku_id,
        });
    }
    // Group-based assignment that failed for lack of seats: present in
    // licenseAssignmentStates only, not in assignedLicenses.
    if user.user_type == UserType::Member && rng.chance(0.01) {
        let pbi = ctx.plans.iter().find(|(p, _)| p.part == "POWER_BI_PRO");
        if let Some((plan, sku)) = pbi
            && !user.holds_sku(sku.sku_id)
            && let Some(g) = plan.group.and_then(|g| ctx.groups.get(g))
        {
            user.license_assignment_states.push(LicenseAssignmentState {
                assigned_by_group: Some(g.id),
                disabled_plans: Vec::new(),
                error: Some("CountViolation".into()),
                last_updated_date_time: Some(days_ago(ctx.now, rng, 1, 60)),
                sku_id: sku.sku_id,
                state: "Error".into(),
            });
        }
    }
}

fn build_skus(
    rng: &mut SimRng,
    plans: &[(&SkuPlan, &'static CatalogSku)],
    users: &[User],
    now: DateTime<Utc>,
) -> (Vec<Sku>, Vec<Subscription>) {
    let mut skus = Vec::new();
    let mut subs = Vec::new();
    for (plan, cat) in plans {
        let Some(status) = plan.status else { continue };
        let consumed = users.iter().filter(|u| u.holds_sku(cat.sku_id)).count() as i32;
        let slack = (consumed as f64 * (0.05 + 0.2 * rng.next_f64())).ceil() as i32
            + 1
            + rng.below(5) as i32;
        let seats = consumed + slack;
        let prepaid = match (plan.part, status) {
            // Free SKUs show 10,000-unit blocks.
            ("FLOW_FREE", _) => PrepaidUnits {
                enabled: (consumed / 10_000 + 1) * 10_000,
                ..Default::default()
            },
            // Fully used: further group assignments fail with CountViolation.
            ("POWER_BI_PRO", _) => PrepaidUnits {
                enabled: consumed,
                ..Default::default()
            },
            (_, "Warning") => PrepaidUnits {
                warning: seats,
                ..Default::default()
            },
            (_, "Suspended") => PrepaidUnits {
                suspended: seats,
                ..Default::default()
            },
            (_, "LockedOut") => PrepaidUnits {
                locked_out: 25,
                ..Default::default()
            },
            _ => PrepaidUnits {
                enabled: seats,
                ..Default::default()
            },
        };
        let provisioning = match status {
            "Suspended" | "LockedOut" => "Disabled",
            _ => "Success",
        };
        let service_plans = cat
            .service_plans
            .iter()
            .map(|p| ServicePlanInfo {
                service_plan_id: p.service_plan_id,
                service_plan_name: p.service_plan_name.clone(),
                provisioning_status: provisioning.to_string(),
                // Foundation plans apply to the company, the rest to users (as Graph shows them).
                applies_to: if p.service_plan_name.contains("FOUNDATION") {
                    "Company"
                } else {
                    "User"
                }
                .to_string(),
            })
            .collect();
        skus.push(Sku {
            sku_id: cat.sku_id,
            sku_part_number: cat.sku_part_number.clone(),
            display_name: Some(cat.display_name.clone()),
            applies_to: "User".into(),
            capability_status: status.to_string(),
            prepaid_units: prepaid,
            service_plans,
        });
        let total = prepaid.total();
        let created = days_ago(now, rng, 60, 1500);
        let split = if plan.two_subscriptions {
            [total - total * 2 / 5, total * 2 / 5]
        } else {
            [total, 0]
        };
        for (k, seats) in split.iter().enumerate() {
            if k == 1 && !plan.two_subscriptions {
                break;
            }
            let created = if k == 0 {
                created
            } else {
                days_ago(now, rng, 10, 200)
            };
            subs.push(Subscription {
                id: rng.uuid(),
                commerce_subscription_id: rng.uuid(),
                sku_id: cat.sku_id,
                sku_part_number: cat.sku_part_number.clone(),
                status: status.to_string(),
                total_licenses: *seats,
                is_trial: false,
                created_date_time: Some(created),
                next_lifecycle_date_time: Some(now + Duration::days(rng.range(5, 360))),
            });
        }
    }
    (skus, subs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(users: usize, seed: u64) -> TenantSpec {
        TenantSpec {
            users,
            seed,
            reference_time: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn deterministic() {
        let a = generate(&spec(300, 7));
        let b = generate(&spec(300, 7));
        assert_eq!(a, b);
        let c = generate(&spec(300, 8));
        assert_ne!(a.tenant_id, c.tenant_id);
    }

    #[test]
    fn realistic_mix() {
        let t = generate(&spec(5000, 7));
        assert_eq!(t.users.len(), 5000);
        assert_eq!(t.domain(), "contoso-7.onmicrosoft.com");
        let guests: Vec<_> = t
            .users
            .iter()
            .filter(|u| u.user_type == UserType::Guest)
            .collect();
        assert!(!guests.is_empty());
        assert!(guests.iter().all(|u| {
            u.user_principal_name
                .contains("#EXT#@contoso-7.onmicrosoft.com")
        }));
        assert!(t.users.iter().any(|u| !u.account_enabled));
        assert!(t.users.iter().any(|u| u.sign_in_activity.is_none()));
        assert!(t.users.iter().any(|u| u.created_date_time.is_none()));
        assert!(t.users.iter().any(|u| u.mail.is_none()));
        assert!(
            t.users
                .iter()
                .any(|u| u.display_name.as_deref().is_some_and(|n| !n.is_ascii()))
        );
        assert!(t.users.iter().all(|u| u.assigned_licenses.len() <= 3));
        assert!(t.users.iter().any(|u| {
            u.assigned_licenses
                .iter()
                .any(|l| !l.disabled_plans.is_empty())
        }));
        let states: Vec<_> = t
            .users
            .iter()
            .flat_map(|u| &u.license_assignment_states)
            .collect();
        assert!(states.iter().any(|s| s.assigned_by_group.is_some()));
        assert!(
            states
                .iter()
                .any(|s| s.error.as_deref() == Some("CountViolation") && s.state == "Error")
        );
        // Same SKU direct and via group.
        assert!(t.users.iter().any(|u| {
            u.license_assignment_states.iter().any(|a| {
                a.assigned_by_group.is_none()
                    && u.license_assignment_states
                        .iter()
                        .any(|b| b.sku_id == a.sku_id && b.assigned_by_group.is_some())
            })
        }));
        // Held directly (Active) and through a group that fails to assign it.
        assert!(t.users.iter().any(|u| {
            u.license_assignment_states.iter().any(|a| {
                a.assigned_by_group.is_none()
                    && a.state == "Active"
                    && u.license_assignment_states.iter().any(|b| {
                        b.sku_id == a.sku_id && b.assigned_by_group.is_some() && b.state == "Error"
                    })
            })
        }));
        // Some users hold SKUs the tenant no longer subscribes to.
        let subscribed: Vec<_> = t.skus.iter().map(|s| s.sku_id).collect();
        assert!(t.users.iter().any(|u| {
            u.assigned_licenses
                .iter()
                .any(|l| !subscribed.contains(&l.sku_id))
        }));
        let statuses: Vec<_> = t
            .skus
            .iter()
            .map(|s| s.capability_status.as_str())
            .collect();
        for s in ["Enabled", "Warning", "Suspended"] {
            assert!(statuses.contains(&s), "{s}");
        }
        // Two subscriptions back one SKU.
        assert!(t.skus.iter().any(|s| {
            t.subscriptions
                .iter()
                .filter(|x| x.sku_id == s.sku_id)
                .count()
                == 2
        }));
        // UPNs unique.
        let mut upns: Vec<_> = t
            .users
            .iter()
            .map(|u| u.user_principal_name.as_str())
            .collect();
        upns.sort_unstable();
        upns.dedup();
        assert_eq!(upns.len(), 5000);
    }

    #[test]
    fn json_roundtrip() {
        let t = generate(&spec(50, 3));
        let text = t.to_json().unwrap();
        let back = Tenant::from_json(&text).unwrap();
        assert_eq!(t, back);
    }
}
