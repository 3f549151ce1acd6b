//! The SBOM of uncompressed layer tar files, in order: `cargo run -p sbom --example
//! sbom_of_layers -- spdx|cyclonedx LAYER.tar…`. For checking the writers with the ecosystem's
//! validators by hand until `ferry sbom` reads layers from bundles.

use std::io::BufReader;

fn main() {
    let mut args = std::env::args().skip(1);
    let format = args.next().unwrap_or_default();
    let mut files = sbom::ImageFiles::new();
    for path in args {
        let layer = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        };
        if let Err(e) = files.apply_layer(BufReader::new(layer)) {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
    let subject = sbom::Subject {
        name: "example".into(),
        digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000".into(),
        created: "2026-12-07T00:00:00Z".into(),
        tool: "ferry-0.1.0".into(),
    };
    let inventory = files.inventory();
    let document = match format.as_str() {
        "cyclonedx" => sbom::cyclonedx::document(&subject, &inventory),
        _ => sbom::spdx::document(&subject, &inventory),
    };
    println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
}
