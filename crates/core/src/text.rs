//! Free text from callers (a terminal's institution, serial and location;
//! the detail of an event; a reason): one check for all of it, beside the
//! name check of [`crate::name`]. Text is bounded in length and holds no
//! control characters, so that it can neither swell a record nor take over
//! the terminal that prints it.

use crate::{Error, Result};

/// Whether `c` must not appear in stored text: C0 and C1 controls (NUL,
/// BEL, ESC, DEL, …) and the invisible direction and formatting marks that
/// reorder or hide what a reader sees (U+200B–U+200F, U+202A–U+202E,
/// U+2060–U+2069, U+FEFF).
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Checks a free-text field: at most `max_chars` characters, none of them
/// [forbidden](is_forbidden). The error names the field and the first
/// offending character by its code point, never echoing the text.
///
/// ```
/// use sscard_core::text::check;
/// assert!(check("institution", "杭州市第一人民医院", 128).is_ok());
/// assert!(check("institution", "a\u{1b}[2Jb", 128).is_err());
/// assert!(check("location", &"x".repeat(129), 128).is_err());
/// ```
pub fn check(field: &str, text: &str, max_chars: usize) -> Result<()> {
    let count = text.chars().count();
    if count > max_chars {
        return Err(Error::Invalid(format!(
            "{field} is {count} characters long; at most {max_chars}"
        )));
    }
    if let Some((index, c)) = text.chars().enumerate().find(|(_, c)| is_forbidden(*c)) {
        return Err(Error::Invalid(format!(
            "{field} holds a control character (U+{:04X}) at position {}",
            u32::from(c),
            index + 1
        )));
    }
    Ok(())
}

/// `text` cut to at most `max_chars` characters (with `…` when cut), for
/// what is recorded of a message.
pub fn bounded(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` safe to print on a terminal: every [forbidden](is_forbidden)
/// character written as a visible `\uXXXX` escape (which is also the JSON
/// escape of that character, so the result stays valid inside a JSON
/// string), everything else as it is.
///
/// ```
/// use sscard_core::text::escape;
/// assert_eq!(escape("a\u{1b}[31mb\u{202E}c"), "a\\u001b[31mb\\u202ec");
/// assert_eq!(escape("医院 \\ 1"), "医院 \\ 1");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_forbidden(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn controls_and_direction_marks_are_refused_by_code_point() {
        for bad in [
            "\u{0}", "\u{7}", "\u{1b}", "\u{7f}", "\u{9b}", "\u{202e}", "\u{2066}", "\u{200b}",
            "\n", "\t",
        ] {
            let e = check("serial", &format!("ok{bad}"), 64)
                .unwrap_err()
                .to_string();
            assert!(e.contains("serial") && e.contains("U+"), "{e}");
            assert!(e.contains("position 3"), "{e}");
        }
        assert!(check("serial", "SN-0042 (二号楼)", 64).is_ok());
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert!(check("f", &"医".repeat(10), 10).is_ok());
        let e = check("f", &"医".repeat(11), 10).unwrap_err().to_string();
        assert!(
            e.contains("11 characters") && e.contains("at most 10"),
            "{e}"
        );
        assert_eq!(bounded("abcdef", 4), "abc…");
        assert_eq!(bounded("abc", 4), "abc");
    }

    proptest! {
        #[test]
        fn escaped_text_holds_no_forbidden_character_and_checks(text in any::<String>()) {
            let out = escape(&text);
            prop_assert!(out.chars().all(|c| !is_forbidden(c)));
            prop_assert!(check("f", &out, usize::MAX).is_ok());
        }

        #[test]
        fn text_that_passes_escapes_to_itself(text in any::<String>()) {
            if check("f", &text, 100).is_ok() {
                prop_assert_eq!(escape(&text), text);
            }
        }
    }
}
