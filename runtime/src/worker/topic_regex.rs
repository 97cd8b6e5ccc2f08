//! `topics.regex`: a pattern that must match a whole topic name, as Java's
//! `Pattern.matcher(topic).matches()`.

/// A compiled `topics.regex`.
#[derive(Debug, Clone)]
pub struct TopicRegex(regex_lite::Regex);

impl TopicRegex {
    /// Compiles `pattern`, anchored at both ends.
    pub fn new(pattern: &str) -> Result<TopicRegex, regex_lite::Error> {
        regex_lite::Regex::new(&format!("^(?:{pattern})$")).map(TopicRegex)
    }

    /// Whether the whole of `topic` matches.
    pub fn matches(&self, topic: &str) -> bool {
        self.0.is_match(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_names_only() {
        let r = TopicRegex::new("logs-.*").unwrap();
        assert!(r.matches("logs-a"));
        assert!(!r.matches("my-logs-a"));
        assert!(TopicRegex::new("(").is_err());
    }
}
