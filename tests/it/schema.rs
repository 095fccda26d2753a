//! `schema.graphql` is the contract frontends build on; it must be exactly what the code serves.

#[test]
fn checked_in_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = license_manager::api::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).expect("schema.graphql written");
        return;
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema.graphql differs from the schema the code serves; regenerate it with\n\n    UPDATE_SCHEMA=1 cargo test --test it schema::\n\nand review the diff"
    );
}

mod contract {
    //! The served schema against the GraphQL names of the public contract
    //! (`tests/contract/api.graphql`): every type, field, argument, input field and enum value
    //! named there is served, under types a client written against the contract can still use.

    use std::collections::HashMap;

    use async_graphql::Positioned;
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{
        BaseType, FieldDefinition, InputValueDefinition, Type, TypeDefinition, TypeKind,
        TypeSystemDefinition,
    };

    const CONTRACT: &str = include_str!("../contract/api.graphql");

    fn types_of(sdl: &str) -> HashMap<String, TypeDefinition> {
        let document = parse_schema(sdl).expect("SDL parses");
        document
            .definitions
            .into_iter()
            .filter_map(|definition| match definition {
                TypeSystemDefinition::Type(ty) => Some(ty.node),
                _ => None,
            })
            .map(|ty| (ty.name.node.to_string(), ty))
            .collect()
    }

    /// A value the contract promises non-null must stay non-null; a nullable one may become
    /// non-null, as a client reading it handles both.
    fn output_compatible(contract: &Type, served: &Type) -> bool {
        (contract.nullable || !served.nullable) && same_base(contract, served, output_compatible)
    }

    /// What a client may leave out or send as null (a nullable argument, with or without a
    /// default) must stay so; a required one may become optional.
    fn input_compatible(contract: &Type, served: &Type) -> bool {
        (!contract.nullable || served.nullable) && same_base(contract, served, input_compatible)
    }

    fn same_base(contract: &Type, served: &Type, inner: fn(&Type, &Type) -> bool) -> bool {
        match (&contract.base, &served.base) {
            (BaseType::Named(a), BaseType::Named(b)) => a == b,
            (BaseType::List(a), BaseType::List(b)) => inner(a, b),
            _ => false,
        }
    }

    /// Pairs each of `contract`'s items with the served one of its name, reporting those
    /// missing; `owner` names where they belong (a type, or a field for its arguments).
    fn matched<'a, T>(
        owner: &str,
        contract: &'a [Positioned<T>],
        served: &'a [Positioned<T>],
        name_of: fn(&T) -> &str,
        problems: &mut Vec<String>,
    ) -> Vec<(&'a str, &'a T, &'a T)> {
        let served: HashMap<&str, &T> = served
            .iter()
            .map(|item| (name_of(&item.node), &item.node))
            .collect();
        let mut pairs = Vec::new();
        for item in contract {
            let name = name_of(&item.node);
            match served.get(name) {
                Some(actual) => pairs.push((name, &item.node, *actual)),
                None => problems.push(format!("{owner}.{name} is missing")),
            }
        }
        pairs
    }

    /// `owner`'s inputs (a field's arguments or an input object's fields) against the contract's.
    fn check_inputs(
        owner: &str,
        contract: &[Positioned<InputValueDefinition>],
        served: &[Positioned<InputValueDefinition>],
        problems: &mut Vec<String>,
    ) {
        let name_of: fn(&InputValueDefinition) -> &str = |input| input.name.node.as_str();
        for (name, input, actual) in matched(owner, contract, served, name_of, problems) {
            if !input_compatible(&input.ty.node, &actual.ty.node) {
                problems.push(format!(
                    "{owner}.{name} is `{}` in the contract but `{}` is served",
                    input.ty.node, actual.ty.node
                ));
            }
            let defaults = (
                input.default_value.as_ref().map(|value| &value.node),
                actual.default_value.as_ref().map(|value| &value.node),
            );
            if defaults.0.is_some() && defaults.0 != defaults.1 {
                problems.push(format!(
                    "{owner}.{name} defaults to {:?} in the contract but {:?} is served",
                    defaults.0, defaults.1
                ));
            }
        }
        let named: Vec<&str> = contract.iter().map(|i| name_of(&i.node)).collect();
        for input in served {
            let (name, input) = (name_of(&input.node), &input.node);
            let required = !input.ty.node.nullable && input.default_value.is_none();
            if required && !named.contains(&name) {
                problems.push(format!(
                    "{owner}.{name} is required but not in the contract: callers written against \
                     it would be refused"
                ));
            }
        }
    }

    fn check_fields(
        ty: &str,
        contract: &[Positioned<FieldDefinition>],
        served: &[Positioned<FieldDefinition>],
        problems: &mut Vec<String>,
    ) {
        let name_of: fn(&FieldDefinition) -> &str = |field| field.name.node.as_str();
        for (name, field, actual) in matched(ty, contract, served, name_of, problems) {
            if !output_compatible(&field.ty.node, &actual.ty.node) {
                problems.push(format!(
                    "{ty}.{name} is `{}` in the contract but `{}` is served",
                    field.ty.node, actual.ty.node
                ));
            }
            check_inputs(
                &format!("{ty}.{name}"),
                &field.arguments,
                &actual.arguments,
                problems,
            );
        }
    }

    fn check_type(contract: &TypeDefinition, served: &TypeDefinition, problems: &mut Vec<String>) {
        let name = contract.name.node.as_str();
        match (&contract.kind, &served.kind) {
            (TypeKind::Object(a), TypeKind::Object(b)) => {
                check_fields(name, &a.fields, &b.fields, problems)
            }
            (TypeKind::InputObject(a), TypeKind::InputObject(b)) => {
                check_inputs(name, &a.fields, &b.fields, problems)
            }
            (TypeKind::Enum(a), TypeKind::Enum(b)) => {
                let served: Vec<_> = b.values.iter().map(|v| &v.node.value.node).collect();
                for value in &a.values {
                    if !served.contains(&&value.node.value.node) {
                        problems.push(format!("{name}.{} is missing", value.node.value.node));
                    }
                }
            }
            (TypeKind::Scalar, TypeKind::Scalar) => {}
            _ => problems.push(format!("{name} is served as another kind of type")),
        }
    }

    #[test]
    fn the_served_schema_keeps_every_name_of_the_public_contract() {
        let contract = types_of(CONTRACT);
        let served = types_of(&license_manager::api::sdl());
        assert!(contract.len() >= 10, "the contract file lost its types");
        let mut problems = Vec::new();
        for (name, ty) in &contract {
            match served.get(name) {
                Some(actual) => check_type(ty, actual, &mut problems),
                None => problems.push(format!("type {name} is missing")),
            }
        }
        problems.sort();
        assert!(
            problems.is_empty(),
            "the schema breaks the public contract:\n  {}",
            problems.join("\n  ")
        );
    }
}
