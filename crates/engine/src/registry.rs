//! The generators by name and legacy script id. Adding a layer: add its module under
//! `generators/` with a `GENERATOR` descriptor (the contract is `generator.rs`) and list it in
//! `GENERATORS`.

use crate::error::{EngineError, ErrorCode, Result, echo};
use crate::generator::{Generator, GeneratorInfo};
use crate::generators;

pub static GENERATORS: &[&Generator] = &[&generators::layer3::GENERATOR, &generators::layer5::GENERATOR];

/// Finds a generator by name (`layer3-behavior`) or legacy script id (`generate_layer_3_push_csvs`).
pub fn find(name_or_legacy_id: &str) -> Result<&'static Generator> {
    let key = name_or_legacy_id.trim();
    GENERATORS.iter().copied().find(|g| g.info.name == key || g.info.legacy_script_ids.contains(&key)).ok_or_else(
        || {
            let known: Vec<String> = GENERATORS
                .iter()
                .map(|g| format!("{} (legacy id {})", g.info.name, g.info.legacy_script_ids.join(", ")))
                .collect();
            EngineError::new(
                ErrorCode::UnknownGenerator,
                format!("unknown generator {:?}; the known generators are: {}", echo(key, 100), known.join("; ")),
            )
        },
    )
}

pub fn list() -> Vec<GeneratorInfo> {
    GENERATORS.iter().map(|g| g.info.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_name_and_legacy_id() {
        assert_eq!(find("layer3-behavior").unwrap().info.layer_id, 3);
        assert_eq!(find("generate_layer_3_push_csvs").unwrap().info.name, "layer3-behavior");
        assert_eq!(find("generate_new_user_waterfall").unwrap().info.name, "layer5-waterfall");
    }

    #[test]
    fn unknown_lists_the_known_ones() {
        let e = find("layer9").err().unwrap();
        assert_eq!(e.code, ErrorCode::UnknownGenerator);
        assert_eq!(
            e.message,
            "unknown generator \"layer9\"; the known generators are: layer3-behavior (legacy id generate_layer_3_push_csvs); layer5-waterfall (legacy id generate_new_user_waterfall)"
        );
    }

    #[test]
    fn names_and_legacy_ids_are_unique() {
        let mut keys: Vec<&str> = GENERATORS
            .iter()
            .flat_map(|g| std::iter::once(g.info.name).chain(g.info.legacy_script_ids.iter().copied()))
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }
}
