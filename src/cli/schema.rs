//! `mtls-lab schema`: print the JSON Schema of a lab file, or of an included fragment.

use super::args::{exit, SchemaArgs};
use super::term;

/// Prints the schema; always OK.
pub fn schema(args: SchemaArgs) -> u8 {
    term::emit(&if args.fragment {
        mtls_lab::fragment_schema_json()
    } else {
        mtls_lab::schema_json()
    });
    exit::OK
}
