//! A mutation smoke test that runs with `cargo test`: every spec of the corpus (the examples
//! and the broken specs), mutated many times by a seeded generator, must load or fail with
//! diagnostics, and render, without panicking. The cargo-fuzz target in fuzz/ does the same
//! with coverage guidance, for longer runs.

use std::collections::BTreeMap;
use std::path::Path;

/// xorshift64*: a small deterministic generator, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b":",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"'",
    b"\n",
    b"\t",
    b"  ",
    b"#",
    b"&a",
    b"*a",
    b"!!str",
    b"? ",
    b"${",
    b"}",
    b"$$",
    b"~",
    b"null",
    b"true",
    b"yes",
    b"-1",
    b"65536",
    b"name",
    b"runtime",
    b"targets",
    b"x-",
    b"\xff",
    b"\xc3",
    b"/",
    b"..",
    b"linux/arm64",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(v.len());
                v.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if at < v.len() => v[at] = rng.next() as u8,
            3 if !v.is_empty() => {
                let from = rng.below(v.len());
                let len = rng.below(16).min(v.len() - from);
                let chunk: Vec<u8> = v[from..from + len].to_vec();
                v.splice(at..at, chunk);
            }
            _ => v.insert(at, b' '),
        }
    }
    v
}

#[test]
fn mutated_specs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut corpus = Vec::new();
    for dir in [root.join("tests/specs/bad"), root.join("../examples")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let p = if p.is_dir() { p.join("goapp.yaml") } else { p };
            if p.exists() {
                corpus.push(std::fs::read(&p).unwrap());
            }
        }
    }
    assert!(corpus.len() > 60);
    let args = BTreeMap::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut loaded = 0;
    for i in 0..20_000 {
        let base = &corpus[i % corpus.len()];
        let input = mutate(&mut rng, base);
        match llb_gen::load("goapp.yaml", &input, &args) {
            Ok(_) => loaded += 1,
            Err(d) => {
                assert!(!d.items.is_empty(), "an error without diagnostics for {:?}", String::from_utf8_lossy(&input));
                let _ = d.render(false);
            }
        }
    }
    assert!(loaded > 0, "no mutation loaded: the mutator is too destructive to test the happy path");
}
