//! Reading virtsmoke's ownership metadata back from a domain.

/// The domain's virtsmoke metadata element, if virtsmoke made it (`None` for
/// every other domain, dom0 among them).
pub fn of(d: &virt::domain::Domain) -> Option<String> {
    let element = virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32;
    d.metadata(element, Some(super::domain_spec::METADATA_NS), 0).ok()
}

/// The text of child element `name` in a metadata element, whatever namespace prefix libvirt kept.
pub fn field(meta: &str, name: &str) -> Option<String> {
    let mut rest = meta;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let local = tag.rsplit(':').next().unwrap_or(tag);
        if !tag.starts_with('/') && local == name {
            let body = &rest[end + 1..];
            let close = body.find("</")?;
            return Some(unescape(&body[..close]));
        }
        rest = &rest[end + 1..];
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&apos;", "'").replace("&quot;", "\"").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn reads_fields_with_any_prefix() {
        let meta = "<vs:owner xmlns:vs='urn:x'><vs:run>r-1</vs:run><vs:case>a&amp;b</vs:case><vs:created>17</vs:created></vs:owner>";
        assert_eq!(field(meta, "run").as_deref(), Some("r-1"));
        assert_eq!(field(meta, "case").as_deref(), Some("a&b"));
        assert_eq!(field(meta, "created").as_deref(), Some("17"));
        assert_eq!(field(meta, "guest"), None);
        assert_eq!(field("<owner><run>x</run></owner>", "run").as_deref(), Some("x"));
    }
}
