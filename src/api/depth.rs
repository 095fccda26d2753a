//! The depth of a document as `maxDepth` counts it. async-graphql's own limit counts every
//! field, so the introspection query every schema tool sends (GraphiQL, codegen, IDE plugins)
//! was refused: its `TypeRef` fragment unwraps `ofType` nine times. An `ofType` chain is linear —
//! each step returns one type, or null — so it adds no depth here; every other field does, which
//! keeps a fan-out like `__type { fields { type { fields { type … } } } }` under the same limit.
//! async-graphql's recursion limit (32 nested selections) still bounds the length of any chain.

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

/// The deepest nesting of the operation that would run: the one named, or every one when none
/// is (async-graphql then refuses a document with several).
pub fn depth(document: &ExecutableDocument, operation_name: Option<&str>) -> usize {
    let mut measure = Measure {
        fragments: &document.fragments,
        measured: HashMap::new(),
        expanding: HashSet::new(),
    };
    operations(&document.operations, operation_name)
        .map(|operation| measure.selection_set(&operation.selection_set.node, false))
        .max()
        .unwrap_or(0)
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
    /// A fragment's depth, per whether it is spread inside introspection: a document that
    /// spreads the same fragments many times over is measured once per fragment, not once per
    /// path to it.
    measured: HashMap<(&'a str, bool), usize>,
    /// The fragments being measured, so that a cycle (refused by validation later) ends here.
    expanding: HashSet<&'a str>,
}

impl<'a> Measure<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, introspection: bool) -> usize {
        set.items
            .iter()
            .map(|item| self.selection(&item.node, introspection))
            .max()
            .unwrap_or(0)
    }

    fn selection(&mut self, selection: &'a Selection, introspection: bool) -> usize {
        match selection {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                let introspection = introspection || INTROSPECTION_ROOTS.contains(&name);
                let own = usize::from(!(introspection && name == UNWRAP));
                own + self.selection_set(&field.node.selection_set.node, introspection)
            }
            Selection::InlineFragment(fragment) => {
                self.selection_set(&fragment.node.selection_set.node, introspection)
            }
            Selection::FragmentSpread(spread) => {
                self.fragment(spread.node.fragment_name.node.as_str(), introspection)
            }
        }
    }

    fn fragment(&mut self, name: &'a str, introspection: bool) -> usize {
        if let Some(&depth) = self.measured.get(&(name, introspection)) {
            return depth;
        }
        // An unknown fragment is refused by validation; it adds nothing here.
        let Some(definition) = self.fragments.get(name) else {
            return 0;
        };
        if !self.expanding.insert(name) {
            return 0;
        }
        let depth = self.selection_set(&definition.node.selection_set.node, introspection);
        self.expanding.remove(name);
        self.measured.insert((name, introspection), depth);
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn depth_of(query: &str) -> usize {
        depth(&parse_query(query).expect("the query parses"), None)
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
        assert_eq!(depth(&document, Some("Flat")), 1);
        assert_eq!(depth(&document, None), 3);
    }
}
