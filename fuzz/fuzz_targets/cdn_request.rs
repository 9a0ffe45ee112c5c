//! The front's request path on any bytes a client may send on a plain
//! connection: the sniff (HTTP/1.1 or HTTP/2 prior knowledge), hyper's
//! parsing, Host routing, Range and If-Range handling, over an in-memory
//! origin store. It never panics or hangs, and whatever it answers is an
//! HTTP/1.x status line (HTTP/1.0 to an HTTP/1.0 request), HTTP/2
//! frames, or nothing.
//!
//! The bytes are the whole client side of the connection: written, then
//! the write side shut, then everything the front sends is read.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netproof_cdn::catalogue::Catalogue;
use netproof_cdn::front::{Front, Limits};
use netproof_cdn::origin::Origin;
use netproof_proto::cdn::{Catalogue as CatalogueConfig, Site, Tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    front: Front,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let site = |name: &str, names: &[&str], seed| Site {
            name: name.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            cert: None,
            key: None,
            seed,
        };
        let sites = vec![
            site("a.test", &["*.a.test"], None),
            site("b.test", &[], Some(8)),
        ];
        let catalogue = Catalogue::new(CatalogueConfig {
            seed: 42,
            titles: 3,
            bitrates_kbps: vec![8, 100],
            segments: 2,
            segment_ms: 1000,
            zipf: 0.8,
        });
        let objects = Arc::new(Origin::new(catalogue, &sites, Default::default()));
        let limits = Limits {
            header_read_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let (front, _) = Front::new(&sites, &Tls::default(), false, objects, limits, None).unwrap();
        World { rt, front }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let out = w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(256 * 1024);
        let front = w.front.clone();
        let served = tokio::spawn(async move { front.serve_stream(server).await });
        // The front may stop reading (an error, a close) before all is
        // written: that is an answer too.
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut out));
        assert!(
            read.await.is_ok(),
            "the front hung on {:?}",
            String::from_utf8_lossy(data)
        );
        tokio::time::timeout(Duration::from_secs(5), served)
            .await
            .expect("the connection's task ends")
            .expect("the connection's task does not panic");
        out
    });
    let h2 = data.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(
        out.is_empty() || h2 || out.starts_with(b"HTTP/1.1 ") || out.starts_with(b"HTTP/1.0 "),
        "{:?}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
});
