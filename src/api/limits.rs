//! Depth and complexity limits, and errors that name them. async-graphql refuses an over-limit
//! document with a bare "Query is too complex." and no code; callers get BAD_USER_INPUT with the
//! limit and what to change instead. The server keeps serving: a refused document never runs.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, ServerResult, ValidationResult, Value, Variables};

/// Deep enough for every query API.md describes (a SKU's holders' licenses), shallow enough to
/// stop abusive nesting.
pub const MAX_DEPTH: usize = 12;
/// A page of 500 users with their licenses, SKUs and provider costs about 5,000; ten times that
/// leaves room for dashboards and stops documents that would read millions of rows.
pub const MAX_COMPLEXITY: usize = 50_000;

/// What a list of SKUs is priced at by the complexity limit: a tenant rarely has more, and a
/// per-SKU selection (holders, say) then costs what it would for every SKU.
pub const SKUS_PER_LIST: usize = 40;

const TOO_COMPLEX: &str = "Query is too complex.";
const TOO_DEEP: &str = "Query is nested too deep.";

pub struct NamedLimits;

impl ExtensionFactory for NamedLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NamedLimits)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for NamedLimits {
    /// A document that does not parse is the caller's mistake: BAD_USER_INPUT, like every other.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(bad_user_input)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(name_limit).collect())
    }
}

fn name_limit(error: ServerError) -> ServerError {
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
        _ => return bad_user_input(error),
    };
    let mut named = ServerError::new(message, None);
    named.locations = error.locations;
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    extensions.set("limit", limit);
    extensions.set("max", Value::from(max as u64));
    named.extensions = Some(extensions);
    named
}

/// Gives an error of async-graphql's own (syntax, unknown field, wrong argument type) the code
/// every client branches on.
fn bad_user_input(mut error: ServerError) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", "BAD_USER_INPUT");
    }
    error
}
