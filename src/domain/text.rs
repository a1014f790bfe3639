//! What text may be stored: the one rule every edge applies before a string reaches the
//! database, so that SQLite and PostgreSQL (which cannot hold NUL in `text`) agree.

/// Why a string was refused, for the field's error.
pub const CONTROL_REASON: &str = "must not contain control characters";

/// A character no stored text may hold, on any line: C0 controls other than TAB, LF and CR,
/// DEL, C1 controls, and the noncharacters U+FFFE and U+FFFF.
pub fn is_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
        || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// A character a single-line value may not hold: any forbidden one, and TAB, LF and CR too.
pub fn is_forbidden_in_line(c: char) -> bool {
    is_forbidden(c) || matches!(c, '\t' | '\n' | '\r')
}

/// Checks free, multi-line text (a personal message): TAB, LF and CR are allowed.
pub fn check_multiline(value: &str) -> Result<(), String> {
    if value.chars().any(is_forbidden) {
        Err(CONTROL_REASON.into())
    } else {
        Ok(())
    }
}

/// Checks a single-line value: no control character at all.
pub fn check_line(value: &str) -> Result<(), String> {
    if value.chars().any(is_forbidden_in_line) {
        Err(CONTROL_REASON.into())
    } else {
        Ok(())
    }
}

/// Characters that change how the text around them is displayed without being seen:
/// bidirectional embeddings, overrides, isolates and marks, and zero-width characters. In a
/// name they can make one person look like another.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'
            | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_c0_control_but_tab_lf_cr_is_refused_in_free_text() {
        for c in (0u32..0x20).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert_eq!(
                check_multiline(&text).is_ok(),
                matches!(c, '\t' | '\n' | '\r'),
                "{c:?}"
            );
            assert!(check_line(&text).is_err(), "{c:?} accepted in a line");
        }
    }

    #[test]
    fn del_c1_and_noncharacters_are_refused_everywhere() {
        for c in [
            '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{fffe}', '\u{ffff}',
        ] {
            assert!(check_multiline(&format!("x{c}")).is_err(), "{c:?}");
            assert!(check_line(&format!("x{c}")).is_err(), "{c:?}");
        }
    }

    #[test]
    fn ordinary_text_passes() {
        for ok in [
            "Zoë Ångström",
            "李小龍",
            "O'Brien-Smith",
            "\u{a0}",
            "emoji 🙂",
        ] {
            assert!(check_line(ok).is_ok(), "{ok:?}");
        }
        assert!(check_multiline("Dear Ada,\r\n\tsee you soon").is_ok());
    }

    #[test]
    fn bidi_controls_and_zero_width_characters_are_invisible_format() {
        for c in [
            '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}',
            '\u{200b}', '\u{200d}', '\u{2060}', '\u{feff}',
        ] {
            assert!(is_invisible_format(c), "{c:?}");
        }
        assert!(!is_invisible_format('a'));
        assert!(!is_invisible_format('\u{2070}'));
    }
}
