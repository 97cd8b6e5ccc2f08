//! The path segments of Kafka Connect's REST API, as every client of it writes them: the
//! REST forwarding between workers, the distributed herder handing task configs to the
//! leader, and `ferry connectors`. A leaf module, so that the herder calls another worker's
//! API without depending on the REST server.

/// `name` as one path segment: unreserved characters as they are, every other byte
/// percent-encoded (so `a b/c` is `a%20b%2Fc`).
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_bytes_are_percent_encoded() {
        assert_eq!(super::segment("a b/c"), "a%20b%2Fc");
        assert_eq!(super::segment("conn-1.x_y~z"), "conn-1.x_y~z");
        assert_eq!(super::segment("é"), "%C3%A9");
    }
}
