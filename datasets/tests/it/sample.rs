//! The committed sample under `datasets/sample/` is what the documented
//! command produces today.

use std::path::Path;

use proofmark_datasets::{GenerateOptions, parse_date};

use crate::{all_files, generate_with_threads, temp_dir};

/// The options of the committed sample; `datasets/README.md` shows the same command:
/// `proofmark datasets generate --items 2000 --seed 42 --bad-rate 0.01 --rows-per-group 4096 --out datasets/sample`.
fn sample_options(out: &Path) -> GenerateOptions {
    GenerateOptions::new(2_000, out)
        .with_seed(42)
        .with_bad_rate(0.01)
        .with_rows_per_group(4_096)
        .with_batch_date_days(parse_date("2026-11-24").unwrap())
}

#[test]
fn committed_sample_is_up_to_date() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample");
    let dir = temp_dir();
    generate_with_threads(&sample_options(dir.path()), 2);
    let fresh = all_files(dir.path());
    if std::env::var_os("PROOFMARK_REGENERATE_SAMPLE").is_some() {
        if committed.exists() {
            std::fs::remove_dir_all(&committed).unwrap();
        }
        generate_with_threads(&sample_options(&committed), 2);
    }
    let existing = all_files(&committed);
    assert_eq!(
        existing.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "datasets/sample is stale: regenerate it with PROOFMARK_REGENERATE_SAMPLE=1 cargo test -p proofmark-datasets --test it sample"
    );
    for (name, bytes) in &fresh {
        assert!(
            &existing[name] == bytes,
            "datasets/sample/{name} is stale: regenerate it with PROOFMARK_REGENERATE_SAMPLE=1 cargo test -p proofmark-datasets --test it sample"
        );
    }
    let total: usize = existing.values().map(Vec::len).sum();
    assert!(total < 2 * 1024 * 1024, "the sample is {total} bytes");
}
