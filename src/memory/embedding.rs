//! Vectors for similarity: the deterministic local embedding (hashed word and character
//! n-grams) that works with no service, cosine similarity, and exact top-k search.
//!
//! A vector carries the name of the embedding that made it, and two vectors of different
//! embeddings are never compared ([`Vector::similarity`] answers `None`): their dimensions
//! mean different things even when their lengths agree. What an OpenAI-compatible
//! `/v1/embeddings` endpoint returns becomes a `Vector` the same way; calling it is
//! `memory::store`'s job. Pure: no I/O.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The local embedding's name, as recorded with every vector it makes.
pub const LOCAL: &str = "local-hashed-ngrams-v1";
/// The local embedding's dimension.
pub const LOCAL_DIMENSION: usize = 256;

/// An embedding of some text, with the embedding that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vector {
    /// Which embedding made it (`local-hashed-ngrams-v1`, or `openai:<model>`).
    pub embedding: String,
    /// The values, normalized to length 1 (so cosine is a dot product).
    pub values: Vec<f32>,
}

impl Vector {
    /// A vector from raw values, normalized; `None` when they are empty, all zero or not
    /// finite (nothing to compare).
    pub fn normalized(embedding: &str, mut values: Vec<f32>) -> Option<Vector> {
        if values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm == 0.0 {
            return None;
        }
        values.iter_mut().for_each(|v| *v /= norm);
        Some(Vector { embedding: embedding.to_string(), values })
    }

    /// Cosine similarity in [-1, 1]; `None` when the vectors come from different embeddings
    /// or differ in dimension.
    pub fn similarity(&self, other: &Vector) -> Option<f32> {
        if self.embedding != other.embedding || self.values.len() != other.values.len() {
            return None;
        }
        Some(dot(&self.values, &other.values))
    }
}

/// The dot product of two slices of one length, summed in eight lanes: one running sum must
/// be added in order, which keeps the compiler from using SIMD; eight let it, and a search
/// over every stored vector is this loop (bench/README.md).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The local embedding of `text`: lower-cased words (and word pairs) and character trigrams,
/// each hashed into one of [`LOCAL_DIMENSION`] buckets with a sign, then normalized. Texts
/// that share words and word pieces come out close; it knows no synonyms (`OOM` and
/// `out of memory` are related only through the words around them), which is what a learned
/// embedding adds.
pub fn local(text: &str) -> Vector {
    let mut values = vec![0f32; LOCAL_DIMENSION];
    let lower = text.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for word in &words {
        add(&mut values, "w", word, 2.0);
        let chars: Vec<char> = format!(" {word} ").chars().collect();
        for gram in chars.windows(3) {
            add(&mut values, "c", &gram.iter().collect::<String>(), 1.0);
        }
    }
    for pair in words.windows(2) {
        add(&mut values, "p", &format!("{} {}", pair[0], pair[1]), 1.0);
    }
    Vector::normalized(LOCAL, values)
        .unwrap_or(Vector { embedding: LOCAL.to_string(), values: vec![0.0; LOCAL_DIMENSION] })
}

/// Adds one feature into its bucket, with a sign from the hash so collisions cancel out on
/// average instead of piling up.
fn add(values: &mut [f32], kind: &str, feature: &str, weight: f32) {
    let digest =
        Sha256::new().chain_update(kind).chain_update([0]).chain_update(feature).finalize();
    let bucket = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]) as usize;
    let sign = if digest[4] & 1 == 0 { 1.0 } else { -1.0 };
    if let Some(value) = values.get_mut(bucket % LOCAL_DIMENSION) {
        *value += sign * weight;
    }
}

/// The `k` items most similar to `query`, best first, with their similarity: an exact search
/// (every vector compared), skipping vectors of another embedding. Ties keep the items'
/// order, so the answer is the same on every run.
pub fn top_k<'a, T>(
    query: &Vector,
    items: impl IntoIterator<Item = (&'a Vector, T)>,
    k: usize,
) -> Vec<(f32, T)> {
    let mut best: Vec<(f32, usize, T)> = Vec::with_capacity(k + 1);
    for (index, (vector, item)) in items.into_iter().enumerate() {
        let Some(score) = query.similarity(vector) else { continue };
        if best.len() == k && best.last().is_some_and(|(worst, _, _)| score <= *worst) {
            continue;
        }
        let at = best.partition_point(|(s, i, _)| *s > score || (*s == score && *i < index));
        best.insert(at, (score, index, item));
        best.truncate(k);
    }
    best.into_iter().map(|(score, _, item)| (score, item)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_embedding_is_deterministic_and_normalized() {
        let a = local("OOM killed: java.lang.OutOfMemoryError: Java heap space");
        assert_eq!(a, local("OOM killed: java.lang.OutOfMemoryError: Java heap space"));
        let norm: f32 = a.values.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert_eq!(a.values.len(), LOCAL_DIMENSION);
    }

    #[test]
    fn shared_words_come_out_closer_than_unrelated_text() {
        let spring = local("out-of-memory spring-boot java OutOfMemoryError heap space");
        let other_spring = local("out-of-memory spring-boot java OutOfMemoryError metaspace");
        let redis = local("port-collision redis reserved port 6379 taken");
        let close = spring.similarity(&other_spring).unwrap();
        let far = spring.similarity(&redis).unwrap();
        assert!(close > 0.6 && far < 0.3, "close {close}, far {far}");
    }

    #[test]
    fn vectors_of_different_embeddings_are_never_compared() {
        let local_vector = local("heap space");
        let other =
            Vector::normalized("openai:text-embedding-3-small", local_vector.values.clone())
                .unwrap();
        assert_eq!(local_vector.similarity(&other), None);
        assert_eq!(top_k(&local_vector, [(&other, "other")], 5), vec![]);
        assert_eq!(Vector::normalized("x", vec![0.0, 0.0]), None);
        assert_eq!(Vector::normalized("x", vec![f32::NAN]), None);
    }

    #[test]
    fn the_dot_product_in_lanes_is_the_plain_one() {
        for length in [0, 3, 8, 13, 256] {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "{length}");
        }
    }

    #[test]
    fn top_k_is_exact_best_first_and_stable_on_ties() {
        let query = local("spring heap");
        let texts = ["redis port", "spring heap", "spring heap", "spring boot heap", "nginx"];
        let vectors: Vec<Vector> = texts.iter().map(|t| local(t)).collect();
        let found = top_k(&query, vectors.iter().zip(texts.iter().enumerate()), 3);
        let order: Vec<usize> = found.iter().map(|(_, (i, _))| *i).collect();
        assert_eq!(order, vec![1, 2, 3]);
        assert!(found[0].0 > 0.99 && found[2].0 < found[0].0);
    }
}
