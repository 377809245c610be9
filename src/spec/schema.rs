//! The JSON Schemas of the lab format and of included fragments, generated from the spec types with schemars.

/// The JSON Schema of the lab format (draft-07), as committed in `schemas/lab.schema.json`.
pub fn schema_json() -> String {
    schema_of::<super::LabFile>()
}

/// The JSON Schema of an included fragment (`_*.yaml`), as committed in `schemas/fragment.schema.json`.
pub fn fragment_schema_json() -> String {
    schema_of::<super::Fragment>()
}

fn schema_of<T: schemars::JsonSchema>() -> String {
    let settings = schemars::generate::SchemaSettings::draft07();
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
