//! The generators. Each one is a module with a `GENERATOR` descriptor; the registry lists them.

pub mod layer3;
pub mod layer5;
