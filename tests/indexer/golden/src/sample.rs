use std::collections::HashMap;

/// A word counter.
pub struct Counter {
    counts: HashMap<String, usize>,
}

impl Counter {
    /// Create an empty counter.
    pub fn new() -> Self {
        Counter { counts: HashMap::new() }
    }

    pub fn add(&mut self, word: &str) {
        *self.counts.entry(word.to_string()).or_insert(0) += 1;
    }
}

pub fn count_words(text: &str) -> Counter {
    let mut c = Counter::new();
    for w in text.split_whitespace() {
        c.add(w);
    }
    c
}
