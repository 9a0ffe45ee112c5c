//! The reference CDN's synthetic content: the bytes of every catalogue file
//! are a pure function of (title, file, offset), so the origin serves them
//! without storing them and any client can check any byte range it received
//! without a copy.
//!
//! The file's key is [`seed::derive_named`] of the catalogue's seed, the
//! title number and the file's name; byte `i` is byte `i % 8` (little
//! endian) of SplitMix64's output for `key ^ (i / 8)`. One SplitMix64 step
//! per 8 bytes is several GB/s on one core, faster than any link the lab
//! emulates, and two files, two titles or two offsets never share a stream.
//!
//! The function is pinned by a test: a recorded run and an edge built
//! later must agree byte for byte.

use crate::seed;

/// One catalogue file whose bytes this module derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentKey(u64);

impl ContentKey {
    /// The key of file `file` (`"1080p/0007.m4s"`, say) of title `title`
    /// in the catalogue whose seed is `seed`.
    pub fn new(seed: u64, title: u32, file: &str) -> ContentKey {
        ContentKey(seed::derive_named(
            seed ^ u64::from(title),
            file,
            u64::from(title),
        ))
    }

    /// The key of the catalogue file at URL path `path`: the catalogue's
    /// paths are `/t/{title}/{file}` (`/t/7/1500k/0003.m4s`), the title a
    /// decimal number written without leading zeros and the file the rest
    /// of the path. `None` for any other path. Whether the catalogue has
    /// that file is the server's business; this is only what its bytes
    /// would be.
    pub fn for_path(seed: u64, path: &str) -> Option<ContentKey> {
        let rest = path.strip_prefix("/t/")?;
        let (title, file) = rest.split_once('/')?;
        let canonical = !title.is_empty()
            && title.bytes().all(|b| b.is_ascii_digit())
            && (title == "0" || !title.starts_with('0'));
        if !canonical || file.is_empty() || file.contains(['?', '#']) {
            return None;
        }
        Some(ContentKey::new(seed, title.parse().ok()?, file))
    }

    /// Fills `buf` with the file's bytes from `offset` on.
    pub fn fill(self, offset: u64, buf: &mut [u8]) {
        let mut pos = offset;
        let mut out = &mut buf[..];
        while !out.is_empty() {
            let word = self.word(pos / 8).to_le_bytes();
            let start = (pos % 8) as usize;
            let n = (8 - start).min(out.len());
            out[..n].copy_from_slice(&word[start..start + n]);
            out = &mut out[n..];
            pos += n as u64;
        }
    }

    /// The offset of the first byte of `body` that differs from the file's
    /// bytes at `offset`, or `None` when all of `body` is right.
    pub fn first_mismatch(self, offset: u64, body: &[u8]) -> Option<u64> {
        let mut want = [0u8; 4096];
        let mut done = 0usize;
        while done < body.len() {
            let n = want.len().min(body.len() - done);
            self.fill(offset + done as u64, &mut want[..n]);
            if let Some(i) = want[..n]
                .iter()
                .zip(&body[done..done + n])
                .position(|(a, b)| a != b)
            {
                return Some(offset + (done + i) as u64);
            }
            done += n;
        }
        None
    }

    fn word(self, index: u64) -> u64 {
        let mut state = self.0 ^ index;
        seed::splitmix64(&mut state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: [u8; 12] = [142, 67, 170, 170, 129, 45, 32, 112, 197, 141, 58, 250];

    #[test]
    fn the_bytes_are_pinned() {
        // A recorded run and a later edge must agree: these values may
        // never change.
        let mut buf = [0u8; 12];
        ContentKey::new(42, 7, "1080p/0001.m4s").fill(0, &mut buf);
        assert_eq!(buf, PINNED);
    }

    #[test]
    fn any_window_agrees_with_the_whole() {
        let key = ContentKey::new(1, 2, "a");
        let mut whole = vec![0u8; 100];
        key.fill(0, &mut whole);
        for start in 0..40u64 {
            for len in [0usize, 1, 7, 8, 9, 33] {
                let mut part = vec![0u8; len];
                key.fill(start, &mut part);
                assert_eq!(part, whole[start as usize..start as usize + len]);
            }
        }
    }

    #[test]
    fn mismatches_are_found_where_they_are() {
        let key = ContentKey::new(1, 2, "a");
        let mut body = vec![0u8; 10_000];
        key.fill(500, &mut body);
        assert_eq!(key.first_mismatch(500, &body), None);
        assert_eq!(key.first_mismatch(501, &body), Some(501));
        body[9_000] ^= 1;
        assert_eq!(key.first_mismatch(500, &body), Some(9_500));
    }

    #[test]
    fn catalogue_paths_name_their_key_and_nothing_else_does() {
        assert_eq!(
            ContentKey::for_path(42, "/t/7/1500k/0001.m4s"),
            Some(ContentKey::new(42, 7, "1500k/0001.m4s"))
        );
        assert_eq!(
            ContentKey::for_path(1, "/t/0/a"),
            Some(ContentKey::new(1, 0, "a"))
        );
        for bad in [
            "/t/07/a",
            "/t//a",
            "/t/7/",
            "/t/7",
            "/x/7/a",
            "/t/-1/a",
            "/t/7/a?b",
            "/t/99999999999/a",
        ] {
            assert_eq!(ContentKey::for_path(1, bad), None, "{bad}");
        }
    }

    #[test]
    fn titles_files_and_seeds_get_different_bytes() {
        let bytes = |k: ContentKey| {
            let mut b = [0u8; 16];
            k.fill(0, &mut b);
            b
        };
        let a = bytes(ContentKey::new(1, 1, "x"));
        assert_ne!(a, bytes(ContentKey::new(1, 2, "x")));
        assert_ne!(a, bytes(ContentKey::new(1, 1, "y")));
        assert_ne!(a, bytes(ContentKey::new(2, 1, "x")));
    }
}
