//! The limits a document must keep to, and errors that name them. A refused document never
//! runs, and the server keeps serving: callers get BAD_USER_INPUT with the limit
//! (`extensions.limit`), its value (`extensions.max`) and what to change instead.
//!
//! Depth, root fields and connection tests are measured on the parsed document before
//! async-graphql sees it (see [`super::shape`]); complexity is async-graphql's, with the prices
//! below, and its bare "Query is too complex." is named here too.

use async_graphql::{Request, Response, ServerError, Value};

use crate::codes::Code;

/// Deep enough for every query docs/api.md describes (a SKU's holders' licenses), shallow
/// enough to stop abusive nesting. Introspection's `ofType` chains add nothing (see
/// [`super::shape`]).
pub const MAX_DEPTH: usize = 12;
/// A page of 500 users with their licenses, SKUs and provider costs about 5,000; ten times that
/// leaves room for dashboards and stops documents that would read millions of rows.
pub const MAX_COMPLEXITY: usize = 50_000;
/// Fields at the root of one operation, each alias counted: a screen asks for a handful, and
/// every one is a resolver run (and often a statement) before any limit below it can help.
pub const MAX_ROOT_FIELDS: usize = 50;
/// `testProviderConnection` calls the provider's service several times; a request may run it
/// once.
pub const MAX_CONNECTION_TESTS: usize = 1;
/// Field selections of a document once its fragments are expanded where they are spread. The
/// introspection query of schema tools expands to a few hundred, a dashboard's screen to fewer;
/// past this, validating the document alone would cost more than answering a fair one.
pub const MAX_SELECTIONS: usize = 10_000;

/// What a list of SKUs is priced at by the complexity limit: a tenant rarely has more, and a
/// per-SKU selection (holders, say) then costs what it would for every SKU.
pub const SKUS_PER_LIST: usize = 40;
/// What a user connection costs beyond its page: its `totalCount` counts every matching user,
/// and a filter (a search, above all) may read the whole directory to fill a page. Priced like
/// a page of 50 users with ten fields each, once per connection whether or not it is asked
/// (its count is taken at most once however many aliases ask for it).
pub const SCAN_COST: usize = 500;
/// What a license report costs: built from every user and license in scope (then cached for
/// a minute), priced like ten pages of 50 users.
pub const REPORT_COST: usize = 5_000;
/// What a connection test costs: several calls to the provider's service, seconds of remote
/// work.
pub const CONNECTION_TEST_COST: usize = 5_000;

/// A limit a document exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limit {
    Depth,
    Complexity,
    RootFields,
    ConnectionTests,
    Selections,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Depth => "maxDepth",
            Limit::Complexity => "maxComplexity",
            Limit::RootFields => "maxRootFields",
            Limit::ConnectionTests => "maxConnectionTests",
            Limit::Selections => "maxSelections",
        }
    }

    fn max(self) -> usize {
        match self {
            Limit::Depth => MAX_DEPTH,
            Limit::Complexity => MAX_COMPLEXITY,
            Limit::RootFields => MAX_ROOT_FIELDS,
            Limit::ConnectionTests => MAX_CONNECTION_TESTS,
            Limit::Selections => MAX_SELECTIONS,
        }
    }

    fn message(self) -> String {
        let (max, name) = (self.max(), self.name());
        match self {
            Limit::Depth => format!(
                "the query is nested deeper than the limit of {max} levels ({name}); split it into several queries"
            ),
            Limit::Complexity => format!(
                "the query's complexity exceeds the limit of {max} ({name}): each connection costs first × its fields; ask for smaller pages or fewer fields"
            ),
            Limit::RootFields => format!(
                "the operation asks for more than {max} fields at its root, aliases included ({name}); send several requests"
            ),
            Limit::ConnectionTests => format!(
                "a request may test at most {max} provider connection ({name}); send one request per provider"
            ),
            Limit::Selections => format!(
                "the document selects more than {max} fields once its fragments are expanded where they are spread ({name}); spread fewer fragments"
            ),
        }
    }

    /// The error of a document refused for this limit: it has no path, as nothing ran.
    fn name_error(self, error: &mut ServerError) {
        error.message = self.message();
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", Code::BadUserInput.as_str());
        extensions.set("limit", self.name());
        extensions.set("max", Value::from(self.max() as u64));
        error.extensions = Some(extensions);
    }

    fn refusal(self) -> Response {
        let mut error = ServerError::new(String::new(), None);
        self.name_error(&mut error);
        Response::from_errors(vec![error])
    }
}

const TOO_COMPLEX: &str = "Query is too complex.";

/// The refusal of a document over a limit measured before it runs (see [`super::shape`]): too
/// many root fields, more than one connection test, too deep, or too many selections once its
/// fragments are expanded. A document that does not
/// parse passes: async-graphql refuses it with the parser's message.
pub fn refuse_before_running(request: &mut Request) -> Option<Response> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let shape = super::shape::measure(document, operation_name.as_deref());
    let exceeded = [
        (Limit::RootFields, shape.top_fields),
        (Limit::ConnectionTests, shape.connection_tests),
        (Limit::Depth, shape.depth),
        (Limit::Selections, shape.selections),
    ]
    .into_iter()
    .find(|(limit, measured)| *measured > limit.max())?;
    Some(exceeded.0.refusal())
}

/// Gives the refusals of a request the codes clients branch on. They are the errors without a
/// path, as nothing ran: the document does not parse, fails validation or exceeds a limit, names
/// an operation it lacks (or has several and names none), or is a subscription sent over HTTP.
/// Errors of resolvers carry a path and their own code, and pass unchanged. The rule holds as
/// long as the schema has no extensions or custom directives, which can fail without a path.
///
/// This runs on the response rather than as an async-graphql extension: with any extension
/// installed, async-graphql routes every resolved field through the extension chain and looks
/// up its type in the registry, which cost ~12% of the CPU of a page of 100 users.
pub fn name_refusals(mut response: Response) -> Response {
    for error in &mut response.errors {
        if error.path.is_empty() {
            name_refusal(error);
        }
    }
    response
}

/// Whether nothing of the request ran: async-graphql answers a document it refused with
/// `data: null`, as it would a query whose root field failed, and only the missing paths tell
/// the two apart (by the rule of [`name_refusals`]). GraphQL over HTTP answers such a request
/// without `data`, with 400, when the client reads `application/graphql-response+json`.
pub fn is_refusal(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn name_refusal(error: &mut ServerError) {
    if error.message == TOO_COMPLEX {
        Limit::Complexity.name_error(error);
    } else {
        set_bad_user_input(error);
    }
}

/// Gives an error of async-graphql's own (syntax, unknown field, wrong argument type, unknown
/// operation) the code every client branches on.
fn set_bad_user_input(error: &mut ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", Code::BadUserInput.as_str());
    }
}
