//! Depth and complexity limits, and errors that name them. async-graphql refuses an over-limit
//! document with a bare "Query is too complex." and no code; callers get BAD_USER_INPUT with the
//! limit and what to change instead. The server keeps serving: a refused document never runs.

use async_graphql::{Request, Response, ServerError, Value};

use crate::codes::Code;

/// Deep enough for every query docs/api.md describes (a SKU's holders' licenses), shallow
/// enough to stop abusive nesting. Measured by [`super::depth`], where introspection's `ofType`
/// chains add nothing.
pub const MAX_DEPTH: usize = 12;
/// A page of 500 users with their licenses, SKUs and provider costs about 5,000; ten times that
/// leaves room for dashboards and stops documents that would read millions of rows.
pub const MAX_COMPLEXITY: usize = 50_000;

/// What a list of SKUs is priced at by the complexity limit: a tenant rarely has more, and a
/// per-SKU selection (holders, say) then costs what it would for every SKU.
pub const SKUS_PER_LIST: usize = 40;

const TOO_COMPLEX: &str = "Query is too complex.";
const TOO_DEEP: &str = "Query is nested too deep.";

/// The refusal of a document nested deeper than [`MAX_DEPTH`], before anything runs; named
/// by [`name_refusals`] as async-graphql's own refusal was. A document that does not parse
/// passes: async-graphql refuses it with the parser's message.
pub fn refuse_too_deep(request: &mut Request) -> Option<Response> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let too_deep = super::depth::depth(document, operation_name.as_deref()) > MAX_DEPTH;
    too_deep.then(|| Response::from_errors(vec![ServerError::new(TOO_DEEP, None)]))
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

fn name_refusal(error: &mut ServerError) {
    let (limit, max, message) = match error.message.as_str() {
        TOO_COMPLEX => (
            "maxComplexity",
            MAX_COMPLEXITY,
            format!(
                "the query's complexity exceeds the limit of {MAX_COMPLEXITY} (maxComplexity): each connection costs first × its fields; ask for smaller pages or fewer fields"
            ),
        ),
        TOO_DEEP => (
            "maxDepth",
            MAX_DEPTH,
            format!(
                "the query is nested deeper than the limit of {MAX_DEPTH} levels (maxDepth); split it into several queries"
            ),
        ),
        _ => return set_bad_user_input(error),
    };
    error.message = message;
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", Code::BadUserInput.as_str());
    extensions.set("limit", limit);
    extensions.set("max", Value::from(max as u64));
    error.extensions = Some(extensions);
}

/// Gives an error of async-graphql's own (syntax, unknown field, wrong argument type, unknown
/// operation) the code every client branches on.
fn set_bad_user_input(error: &mut ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", Code::BadUserInput.as_str());
    }
}
