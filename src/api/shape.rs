//! What the limits read from a document before it runs: how deep it nests, and how many fields
//! its operation asks for at its root (each alias is one more resolver run, however alike they
//! look) and how many of them test a provider's connection.
//!
//! Depth is measured here rather than by async-graphql's `limit_depth`, which counts every
//! field: the introspection query every schema tool sends (GraphiQL, codegen, IDE plugins) was
//! refused, as its `TypeRef` fragment unwraps `ofType` nine times. An `ofType` chain is linear —
//! each step returns one type, or null — so it adds no depth here; every other field does,
//! which keeps a fan-out like `__type { fields { type { fields { type … } } } }` under the same
//! limit. async-graphql's recursion limit (32 nested selections) still bounds any chain.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet,
};
use async_graphql::{Name, Positioned};

/// The root fields whose selections are introspection's own types.
const INTROSPECTION_ROOTS: [&str; 2] = ["__schema", "__type"];
/// The field of `__Type` that unwraps a list or non-null type.
const UNWRAP: &str = "ofType";
/// The mutation that calls the provider's service several times.
const CONNECTION_TEST: &str = "testProviderConnection";
/// How far the walk follows selections and fragment spreads into each other. The parser stops
/// nested selections at 64, but not a chain of fragments each spreading the next, which a
/// 1 MiB body can make 40,000 long: followed to the end, it would overflow the stack.
/// async-graphql refuses anything past 32 anyway; here it is as deep as a document can be.
const MAX_NESTING: usize = 64;

/// The shape of a selection set: the deepest nesting below it, the fields at its top with
/// fragments followed (counted once per spread: spreading a fragment twice asks twice), and
/// every field selection below it once fragments are expanded where they are spread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub depth: usize,
    pub top_fields: usize,
    pub connection_tests: usize,
    /// What async-graphql's validation walks: it expands each spread where it stands, so thirty
    /// fragments each spreading the next twice make 2^30 selections of a few hundred bytes —
    /// seconds of CPU before any timeout could stop it. Counted here, a fragment once.
    pub selections: usize,
}

impl Shape {
    /// Siblings: the deepest of them, and their top fields together.
    fn beside(self, other: Shape) -> Shape {
        Shape {
            depth: self.depth.max(other.depth),
            top_fields: self.top_fields.saturating_add(other.top_fields),
            connection_tests: self.connection_tests.saturating_add(other.connection_tests),
            selections: self.selections.saturating_add(other.selections),
        }
    }
}

/// The shape of the operation that would run: the one named, or the largest when none is
/// (async-graphql then refuses a document with several). Its `selections` are the most that any
/// operation or fragment of the document expands to, named or not: validation walks them all.
pub fn measure(document: &ExecutableDocument, operation_name: Option<&str>) -> Shape {
    let mut measure = Measure {
        fragments: &document.fragments,
        measured: HashMap::new(),
        expanding: HashSet::new(),
        nesting: 0,
        too_nested: false,
    };
    let shape = operations(&document.operations, operation_name)
        .map(|operation| measure.selection_set(&operation.selection_set.node, false))
        .fold(Shape::default(), |largest, shape| Shape {
            depth: largest.depth.max(shape.depth),
            top_fields: largest.top_fields.max(shape.top_fields),
            connection_tests: largest.connection_tests.max(shape.connection_tests),
            selections: largest.selections.max(shape.selections),
        });
    let mut expanded = 0;
    for operation in operations(&document.operations, None) {
        let shape = measure.selection_set(&operation.selection_set.node, false);
        expanded = expanded.max(shape.selections);
    }
    for name in document.fragments.keys() {
        expanded = expanded.max(measure.fragment(name.as_str(), false).selections);
    }
    let shape = Shape {
        selections: shape.selections.max(expanded),
        ..shape
    };
    if measure.too_nested {
        return Shape {
            depth: usize::MAX,
            ..shape
        };
    }
    shape
}

fn operations<'a>(
    operations: &'a DocumentOperations,
    name: Option<&'a str>,
) -> Box<dyn Iterator<Item = &'a OperationDefinition> + 'a> {
    match (operations, name) {
        (DocumentOperations::Multiple(named), Some(name)) => {
            Box::new(named.get(name).map(|operation| &operation.node).into_iter())
        }
        (DocumentOperations::Multiple(named), None) => {
            Box::new(named.values().map(|operation| &operation.node))
        }
        (DocumentOperations::Single(operation), _) => Box::new(std::iter::once(&operation.node)),
    }
}

struct Measure<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// A fragment's shape, per whether it is spread inside introspection: a document that
    /// spreads the same fragments many times over is measured once per fragment, not once per
    /// path to it.
    measured: HashMap<(&'a str, bool), Shape>,
    /// The fragments being measured, so that a cycle (refused by validation later) ends here.
    expanding: HashSet<&'a str>,
    /// Selections and spreads the walk is inside of, and whether it went past [`MAX_NESTING`].
    nesting: usize,
    too_nested: bool,
}

impl<'a> Measure<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, introspection: bool) -> Shape {
        if self.nesting >= MAX_NESTING {
            self.too_nested = true;
            return Shape::default();
        }
        self.nesting += 1;
        let shape = set
            .items
            .iter()
            .map(|item| self.selection(&item.node, introspection))
            .fold(Shape::default(), Shape::beside);
        self.nesting -= 1;
        shape
    }

    fn selection(&mut self, selection: &'a Selection, introspection: bool) -> Shape {
        match selection {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                let introspection = introspection || INTROSPECTION_ROOTS.contains(&name);
                let own = usize::from(!(introspection && name == UNWRAP));
                let below = self.selection_set(&field.node.selection_set.node, introspection);
                Shape {
                    depth: own + below.depth,
                    top_fields: 1,
                    connection_tests: usize::from(name == CONNECTION_TEST),
                    selections: below.selections.saturating_add(1),
                }
            }
            Selection::InlineFragment(fragment) => {
                self.selection_set(&fragment.node.selection_set.node, introspection)
            }
            Selection::FragmentSpread(spread) => {
                self.fragment(spread.node.fragment_name.node.as_str(), introspection)
            }
        }
    }

    fn fragment(&mut self, name: &'a str, introspection: bool) -> Shape {
        if let Some(&shape) = self.measured.get(&(name, introspection)) {
            return shape;
        }
        // An unknown fragment is refused by validation; it adds nothing here.
        let Some(definition) = self.fragments.get(name) else {
            return Shape::default();
        };
        if !self.expanding.insert(name) {
            return Shape::default();
        }
        let shape = self.selection_set(&definition.node.selection_set.node, introspection);
        self.expanding.remove(name);
        self.measured.insert((name, introspection), shape);
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn shape_of(query: &str) -> Shape {
        measure(&parse_query(query).expect("the query parses"), None)
    }

    fn depth_of(query: &str) -> usize {
        shape_of(query).depth
    }

    #[test]
    fn every_field_counts_outside_introspection() {
        assert_eq!(depth_of("{ viewer { subject } }"), 2);
        assert_eq!(depth_of("{ a { ofType { ofType { b } } } }"), 4);
    }

    #[test]
    fn an_unwrap_chain_adds_no_depth_but_a_fan_out_does() {
        let chain = "{ __type(name: \"X\") { ofType { ofType { ofType { name } } } } }";
        assert_eq!(depth_of(chain), 2);
        let fan_out = "{ __type(name: \"X\") { fields { type { fields { type { name } } } } } }";
        assert_eq!(depth_of(fan_out), 6);
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let query = "query { __schema { types { ...T } } }
            fragment T on __Type { fields { type { ...R } } }
            fragment R on __Type { kind ofType { kind ofType { name } } }";
        assert_eq!(depth_of(query), 5);
        let inline = "{ users { ... on UserConnection { nodes { id } } } }";
        assert_eq!(depth_of(inline), 3);
    }

    #[test]
    fn a_fragment_cycle_ends() {
        let query = "{ a { ...F } } fragment F on A { b { ...G } } fragment G on B { c { ...F } }";
        assert_eq!(depth_of(query), 3);
    }

    #[test]
    fn only_the_named_operation_is_measured() {
        let document =
            parse_query("query Deep { a { b { c } } } query Flat { a }").expect("the query parses");
        assert_eq!(measure(&document, Some("Flat")).depth, 1);
        assert_eq!(measure(&document, None).depth, 3);
    }

    #[test]
    fn root_fields_count_every_alias_and_every_spread() {
        let query =
            "{ a: users { totalCount } b: users { totalCount } ...R ... on Query { viewer } }
            fragment R on Query { c: users { totalCount } d: viewer }";
        let shape = shape_of(query);
        assert_eq!(shape.top_fields, 5);
        assert_eq!(shape.connection_tests, 0);
        let tests = "mutation { a: testProviderConnection(id: 1) { ok } ...T ...T }
            fragment T on Mutation { testProviderConnection(id: 2) { ok } }";
        assert_eq!(shape_of(tests).connection_tests, 3);
    }

    #[test]
    fn a_long_chain_of_fragments_is_too_deep_and_ends() {
        let mut query = String::from("{ ...F0 }");
        for level in 0..40_000 {
            let next = level + 1;
            query.push_str(&format!(" fragment F{level} on Query {{ ...F{next} }}"));
        }
        query.push_str(" fragment F40000 on Query { viewer }");
        assert_eq!(depth_of(&query), usize::MAX);
    }

    #[test]
    fn a_fragment_bomb_is_measured_once_per_fragment() {
        let mut query = String::from("{ ...F0 }");
        for level in 0..60 {
            let next = level + 1;
            query.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} }}"
            ));
        }
        query.push_str(" fragment F60 on Query { viewer }");
        assert_eq!(shape_of(&query).top_fields, 1 << 60);
    }

    #[test]
    fn a_fragment_bomb_below_a_field_counts_every_selection_it_expands_to() {
        let mut query = String::from("{ viewer { ...F0 } }");
        for level in 0..30 {
            let next = level + 1;
            query.push_str(&format!(
                " fragment F{level} on Viewer {{ ...F{next} ...F{next} }}"
            ));
        }
        query.push_str(" fragment F30 on Viewer { subject }");
        let shape = shape_of(&query);
        assert_eq!(shape.top_fields, 1);
        assert_eq!(shape.selections, (1 << 30) + 1);
    }

    #[test]
    fn an_unused_bomb_counts_too() {
        let mut query = String::from("query Small { viewer { subject } }");
        for level in 0..20 {
            let next = level + 1;
            query.push_str(&format!(
                " fragment F{level} on Viewer {{ ...F{next} ...F{next} }}"
            ));
        }
        query.push_str(" fragment F20 on Viewer { subject }");
        let document = parse_query(&query).expect("the query parses");
        assert_eq!(measure(&document, Some("Small")).selections, 1 << 20);
    }
}
