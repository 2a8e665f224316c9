//! Erasing a withdrawn account's personal data from free text (the audit log's reasons and
//! details): its e-mail in any letter case, its phone number however it was written
//! (`010-1234-5678`, `+82 10 1234 5678`, `(010) 1234.5678`), and its name in any ASCII
//! letter case. The store finds the candidate texts; this decides what in them is the
//! person's.

/// The personal data to erase, as the account stored it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Personal {
    pub email: Option<String>,
    /// As `Phone` stores it: digits, with an optional leading `+`.
    pub phone: Option<String>,
    pub name: Option<String>,
}

/// A phone number's digits in one national form: a leading `+82` or `82` country code
/// (South Korea's, the numbers this service texts) becomes the trunk prefix `0`.
fn national(digits: &str) -> String {
    match digits.strip_prefix("82") {
        Some(rest) if !rest.starts_with('0') && rest.len() >= 8 => format!("0{rest}"),
        _ => digits.to_owned(),
    }
}

/// `text` with every occurrence of `needle` (ASCII letters in any case) replaced by `with`.
fn replace_ignoring_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_owned();
    }
    let (hay, pin) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = hay[at..].find(&pin) {
        out.push_str(&text[at..at + found]);
        out.push_str(with);
        at += found + pin.len();
    }
    out.push_str(&text[at..]);
    out
}

/// Where the number `form` (digits), written from `start` with separators (` -.()`)
/// between its digits and an optional leading `+` or `(`, ends; `None` when it is not
/// written there, or runs on into more digits.
fn written_at(bytes: &[u8], start: usize, form: &[u8]) -> Option<usize> {
    let mut at = start;
    if matches!(bytes.get(at), Some(b'+' | b'(')) {
        at += 1;
    }
    for (n, digit) in form.iter().enumerate() {
        if n > 0 {
            while bytes.get(at).is_some_and(|b| b" -.()".contains(b)) {
                at += 1;
            }
        }
        if bytes.get(at) != Some(digit) {
            return None;
        }
        at += 1;
    }
    (!bytes.get(at).is_some_and(u8::is_ascii_digit)).then_some(at)
}

/// `text` with every writing of `phone` (national `010…` or international `+82 10…`)
/// replaced by `with`.
fn replace_phone(text: &str, phone: &str, with: &str) -> String {
    let national = national(phone.trim_start_matches('+'));
    if national.len() < 8 {
        return text.to_owned();
    }
    let mut forms = vec![national.clone().into_bytes()];
    if let Some(rest) = national.strip_prefix('0') {
        forms.push(format!("82{rest}").into_bytes());
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut at, mut copied) = (0, 0);
    while at < bytes.len() {
        let boundary = at == 0 || !bytes[at - 1].is_ascii_digit();
        let end = boundary
            .then(|| forms.iter().find_map(|f| written_at(bytes, at, f)))
            .flatten();
        match end {
            Some(end) => {
                out.push_str(&text[copied..at]);
                out.push_str(with);
                copied = end;
                at = end;
            }
            None => at += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `text` without `personal`'s e-mail and phone, and, when `named` (the text is about this
/// account), without its name: each becomes `with`. `None` when nothing changed.
pub fn redact(text: &str, personal: &Personal, named: bool, with: &str) -> Option<String> {
    let mut out = text.to_owned();
    if let Some(email) = &personal.email {
        out = replace_ignoring_case(&out, email, with);
    }
    if let Some(phone) = &personal.phone {
        out = replace_phone(&out, phone, with);
    }
    if named && let Some(name) = &personal.name {
        out = replace_ignoring_case(&out, name, with);
    }
    (out != text).then_some(out)
}

/// The phone's last eight digits: every way of writing the number holds them in order,
/// which is how a store can find the candidate texts (`%1%2%3%4%5%6%7%8%`).
pub fn phone_tail(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 8).then(|| digits[digits.len() - 8..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jane() -> Personal {
        Personal {
            email: Some("Jane.Doe@example.com".into()),
            phone: Some("01012345678".into()),
            name: Some("Jane Doe".into()),
        }
    }

    #[test]
    fn the_email_goes_in_any_case() {
        let got = redact(
            "from JANE.DOE@EXAMPLE.COM and jane.doe@example.com",
            &jane(),
            false,
            "account:7",
        );
        assert_eq!(got.as_deref(), Some("from account:7 and account:7"));
    }

    #[test]
    fn the_phone_goes_however_it_is_written() {
        for written in [
            "01012345678",
            "010-1234-5678",
            "+82 10 1234 5678",
            "+821012345678",
            "(010) 1234.5678",
            "82-10-1234-5678",
        ] {
            let text = format!("call {written}, thanks");
            assert_eq!(
                redact(&text, &jane(), false, "account:7").as_deref(),
                Some("call account:7, thanks"),
                "{written}"
            );
        }
        // Beside another number, it still goes.
        assert_eq!(
            redact("010-1111-2222 010-1234-5678", &jane(), false, "x").as_deref(),
            Some("010-1111-2222 x")
        );
        // Another number, or a longer one holding it, stays.
        for other in [
            "010-1234-5679",
            "9010-1234-5678",
            "010123456789",
            "report #12345678",
        ] {
            assert_eq!(redact(other, &jane(), false, "x"), None, "{other}");
        }
    }

    #[test]
    fn the_name_goes_only_where_the_text_is_about_the_account() {
        assert_eq!(redact("by jane doe", &jane(), false, "x"), None);
        assert_eq!(
            redact("by jane doe", &jane(), true, "x").as_deref(),
            Some("by x")
        );
    }

    #[test]
    fn a_phone_tail_is_its_last_eight_digits() {
        assert_eq!(phone_tail("+821012345678").as_deref(), Some("12345678"));
        assert_eq!(phone_tail("1234"), None);
    }
}
