//! Names from a snapshot shown on a terminal. A file name may hold any
//! byte but `/` and NUL, including escape sequences that would move the
//! cursor, retitle the window or hide text, so a name with a control
//! character or invalid UTF-8 is printed quoted and escaped, as GNU ls and
//! restic do: `"evil\u{1b}[2J"`. Other names print as they are.

use std::borrow::Cow;

fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `name` as it is when harmless, else in double quotes with every
/// control character, quote, backslash and invalid byte escaped.
pub fn quote(name: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(name)
        && !s.chars().any(is_control)
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::from("\"");
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if is_control(c) => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn harmless_names_print_as_they_are() {
        for n in ["a", "dir/file name.txt", "ünïcödé/日本", "quote\"in\\name"] {
            assert_eq!(quote(n.as_bytes()), n);
        }
    }

    #[test]
    fn control_characters_and_bad_bytes_are_escaped() {
        assert_eq!(quote(b"evil\x1b[2J"), "\"evil\\u{1b}[2J\"");
        assert_eq!(quote(b"line\nbreak"), "\"line\\nbreak\"");
        assert_eq!(quote(b"bad\xff\"q"), "\"bad\\xff\\\"q\"");
        assert_eq!(quote("rtl\u{202e}txt".as_bytes()), "\"rtl\\u{202e}txt\"");
        assert_eq!(quote(b"c1\xc2\x9b"), "\"c1\\u{9b}\"");
        // what is printed holds no control byte at all
        let all: Vec<u8> = (0u8..=255).collect();
        assert!(!quote(&all).bytes().any(|b| b < 0x20 || b == 0x7f));
    }
}
