//! Store: local folders and URL parsing.

use bytes::Bytes;
use proofmark_ingest::{ObjectInfo, Store};

use crate::common::rt;

fn exercise(store: &Store) {
    rt().block_on(async {
        assert_eq!(store.get("a/b.txt").await.expect("get"), None);
        assert_eq!(store.head("a/b.txt").await.expect("head"), None);
        assert!(store.list("").await.expect("list empty").is_empty());
        assert!(
            store
                .list("nothing/here")
                .await
                .expect("list missing")
                .is_empty()
        );

        store
            .put("a/b.txt", Bytes::from_static(b"hello world"))
            .await
            .expect("put");
        assert_eq!(
            store.get("a/b.txt").await.expect("get").as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(
            store.head("a/b.txt").await.expect("head"),
            Some(ObjectInfo {
                path: "a/b.txt".into(),
                size: 11
            })
        );
        assert_eq!(
            store
                .get_range("a/b.txt", 6..11)
                .await
                .expect("range")
                .as_ref(),
            b"world"
        );

        assert!(
            store
                .put_if_absent("a/c.txt", Bytes::from_static(b"first"))
                .await
                .expect("create")
        );
        assert!(
            !store
                .put_if_absent("a/c.txt", Bytes::from_static(b"second"))
                .await
                .expect("exists")
        );
        assert_eq!(
            store.get("a/c.txt").await.expect("get").as_deref(),
            Some(&b"first"[..])
        );

        store
            .put("z.txt", Bytes::from_static(b"z"))
            .await
            .expect("put");
        let listed = store.list("").await.expect("list");
        let paths: Vec<&str> = listed.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(paths, ["a/b.txt", "a/c.txt", "z.txt"]);
        let listed = store.list("a").await.expect("list a");
        assert_eq!(listed.len(), 2);

        store.delete("a/b.txt").await.expect("delete");
        assert_eq!(store.get("a/b.txt").await.expect("get"), None);
        store.delete("a/b.txt").await.expect("delete twice is fine");

        let missing = store.get_range("a/b.txt", 0..1).await.expect_err("missing");
        assert!(
            proofmark_ingest::store::is_not_found(&missing),
            "{missing:?}"
        );
    });
}

#[test]
fn local_path_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::from_url(dir.path().join("root").to_str().expect("utf8")).expect("store");
    assert!(store.url().starts_with("file:///"), "{}", store.url());
    exercise(&store);
    assert!(dir.path().join("root/a/c.txt").exists());
    // Writes leave nothing but their objects: no staging or temporary files.
    let mut names = Vec::new();
    let mut folders = vec![dir.path().join("root")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).expect("read_dir") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_dir() {
                folders.push(entry.path());
            } else {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    assert_eq!(names, ["c.txt", "z.txt"]);
    // A write in flight (or a killed one's leftover) is no object: not listed.
    std::fs::write(dir.path().join("root/a/.d.txt.4242.7.tmp"), b"part").expect("write");
    std::fs::write(dir.path().join("root/a/e.txt#3"), b"part").expect("write");
    let listed = rt().block_on(store.list("a")).expect("list");
    let paths: Vec<&str> = listed.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths, ["a/c.txt"]);
}

#[test]
fn file_url_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}/x%20y", dir.path().display());
    let store = Store::from_url(&url).expect("store");
    exercise(&store);
    assert!(dir.path().join("x y/z.txt").exists());
    let again = Store::from_url(store.url()).expect("round trip");
    assert_eq!(again.url(), store.url());
}

#[test]
fn put_file_streams_a_local_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("big.bin");
    let data: Vec<u8> = (0..(9 * 1024 * 1024 + 17))
        .map(|i| (i % 251) as u8)
        .collect();
    std::fs::write(&src, &data).expect("write");
    let store = Store::from_url(dir.path().join("out").to_str().expect("utf8")).expect("store");
    rt().block_on(async {
        store
            .put_file("copies/big.bin", &src)
            .await
            .expect("put_file");
        let back = store
            .get("copies/big.bin")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(back.len(), data.len());
        assert!(back.as_ref() == data.as_slice());
        // Only the finished object is listed: no temporary names left behind.
        let listed = store.list("copies").await.expect("list");
        assert_eq!(
            listed,
            vec![ObjectInfo {
                path: "copies/big.bin".into(),
                size: data.len() as u64
            }]
        );
    });
}

#[test]
fn relative_paths_and_dots_are_resolved() {
    let store = Store::from_url("some/dir/../other").expect("store");
    let cwd = std::env::current_dir().expect("cwd");
    let expected = url::Url::from_file_path(cwd.join("some/other"))
        .expect("url")
        .to_string();
    assert_eq!(store.url(), expected.trim_end_matches('/'));
    assert!(store.object_path("a/../b").is_err());
    assert!(store.object_path("a//b").is_err());
}

#[test]
fn cloud_urls_build_without_network() {
    // Construction only: no request is sent. Credentials would come from the environment.
    for (url, expect) in [
        ("s3://bucket/prefix/batches", "s3://bucket/prefix/batches"),
        ("gs://bucket/prefix", "gs://bucket/prefix"),
        (
            "abfss://container@acct.dfs.core.windows.net/prefix",
            "abfss://container@acct.dfs.core.windows.net/prefix",
        ),
        (
            "https://acct.blob.core.windows.net/container/prefix",
            "https://acct.blob.core.windows.net/container/prefix",
        ),
        ("http://localhost:9999/data/", "http://localhost:9999/data"),
        ("https://example.com/data", "https://example.com/data"),
    ] {
        let store = Store::from_url(url).unwrap_or_else(|e| panic!("{url}: {e:?}"));
        assert_eq!(store.url(), expect);
        assert_eq!(
            store.object_url("a/b.parquet"),
            format!("{expect}/a/b.parquet")
        );
    }
    // The short Azure forms name only the container; the account comes from
    // AZURE_STORAGE_ACCOUNT_NAME. Without it the error names the URL.
    for url in [
        "az://container/prefix",
        "azure://container/prefix",
        "abfs://container/prefix",
    ] {
        match Store::from_url(url) {
            Ok(store) => assert_eq!(store.url(), url),
            Err(e) => {
                assert!(
                    matches!(e, proofmark_ingest::IngestError::OpenStore { .. }),
                    "{url}: {e:?}"
                );
                assert!(e.to_string().contains(url));
            }
        }
    }
    let (store, name) = Store::for_object("s3://bucket/in/x.parquet").expect("for_object");
    assert_eq!(
        (store.url(), name.as_str()),
        ("s3://bucket/in", "x.parquet")
    );
    assert!(Store::from_url("ftp://host/x").is_err());
    assert!(Store::from_url("").is_err());
}

/// `put_bulk` writes whole objects that the other methods read, replaces an existing
/// object, leaves no temporary file behind, and finds local files only for plain paths.
#[test]
fn bulk_puts_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::from_url(dir.path().to_str().expect("utf-8 path")).expect("store");
    let big: Vec<u8> = (0..(5 << 20) + 13).map(|i: u32| (i % 251) as u8).collect();
    rt().block_on(async {
        store
            .put_bulk("batches/b/segments/000001.leaves", Bytes::from(big.clone()))
            .await
            .expect("put_bulk");
        let back = store
            .get("batches/b/segments/000001.leaves")
            .await
            .expect("get");
        assert_eq!(back.as_deref(), Some(&big[..]));
        store
            .put_bulk(
                "batches/b/segments/000001.leaves",
                Bytes::from_static(b"short"),
            )
            .await
            .expect("replace");
        let back = store
            .get("batches/b/segments/000001.leaves")
            .await
            .expect("get");
        assert_eq!(back.as_deref(), Some(&b"short"[..]));
        // An object store path that needs encoding takes the ordinary put.
        store
            .put_bulk("odd name/x y.bin", Bytes::from_static(b"abc"))
            .await
            .expect("put_bulk, encoded path");
        let back = store.get("odd name/x y.bin").await.expect("get");
        assert_eq!(back.as_deref(), Some(&b"abc"[..]));
    });
    let names: Vec<String> = std::fs::read_dir(dir.path().join("batches/b/segments"))
        .expect("segments folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["000001.leaves".to_owned()]);
    assert!(store.local_file("odd name/x y.bin").is_none());
    assert!(store.local_file("a/../b").is_none());
    assert_eq!(
        store.local_file("/a/b.bin"),
        Some(dir.path().join("a/b.bin"))
    );
}
