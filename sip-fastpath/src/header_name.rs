//! Header names: the ones SIP elements act on get a variant; everything else is
//! [`HeaderName::Other`] and is matched by its text.
//!
//! Recognition is one table lookup keyed on length and first/last letter, then one
//! case-insensitive compare, so a message's dozen headers cost a few nanoseconds.

macro_rules! header_names {
    ($( $variant:ident => $name:literal $(, $compact:literal)? ;)*) => {
        /// A recognised header name (compact forms map to the full name).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $variant, )*
            /// Any header without a variant; compare its text instead.
            Other,
        }

        const KNOWN: &[(HeaderName, &str, u8)] = &[
            $( (HeaderName::$variant, $name, header_names!(@compact $($compact)?)), )*
        ];
    };
    (@compact $c:literal) => { $c };
    (@compact) => { 0 };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", b'a';
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    Allow => "Allow";
    AllowEvents => "Allow-Events", b'u';
    AuthenticationInfo => "Authentication-Info";
    Authorization => "Authorization";
    CallId => "Call-ID", b'i';
    CallInfo => "Call-Info";
    Contact => "Contact", b'm';
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", b'e';
    ContentLanguage => "Content-Language";
    ContentLength => "Content-Length", b'l';
    ContentType => "Content-Type", b'c';
    CSeq => "CSeq";
    Date => "Date";
    ErrorInfo => "Error-Info";
    Event => "Event", b'o';
    Expires => "Expires";
    FlowTimer => "Flow-Timer";
    From => "From", b'f';
    Identity => "Identity", b'y';
    InReplyTo => "In-Reply-To";
    MaxForwards => "Max-Forwards";
    MimeVersion => "MIME-Version";
    MinExpires => "Min-Expires";
    MinSe => "Min-SE";
    Organization => "Organization";
    PAccessNetworkInfo => "P-Access-Network-Info";
    PAssertedIdentity => "P-Asserted-Identity";
    PAssociatedUri => "P-Associated-URI";
    PCalledPartyId => "P-Called-Party-ID";
    PChargingFunctionAddresses => "P-Charging-Function-Addresses";
    PChargingVector => "P-Charging-Vector";
    PPreferredIdentity => "P-Preferred-Identity";
    PServedUser => "P-Served-User";
    PVisitedNetworkId => "P-Visited-Network-ID";
    Path => "Path";
    Priority => "Priority";
    Privacy => "Privacy";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck";
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", b'r';
    ReferredBy => "Referred-By", b'b';
    RejectContact => "Reject-Contact", b'j';
    Replaces => "Replaces";
    ReplyTo => "Reply-To";
    RequestDisposition => "Request-Disposition", b'd';
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    RSeq => "RSeq";
    SecurityClient => "Security-Client";
    SecurityServer => "Security-Server";
    SecurityVerify => "Security-Verify";
    Server => "Server";
    ServiceRoute => "Service-Route";
    SessionExpires => "Session-Expires", b'x';
    SipEtag => "SIP-ETag";
    SipIfMatch => "SIP-If-Match";
    Subject => "Subject", b's';
    SubscriptionState => "Subscription-State";
    Supported => "Supported", b'k';
    Timestamp => "Timestamp";
    To => "To", b't';
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    Via => "Via", b'v';
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

const SLOTS: usize = 512;
const EMPTY: u8 = u8::MAX;

#[inline(always)]
const fn slot(len: usize, first: u8, last: u8) -> usize {
    let h = (len as u32)
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(((first | 0x20) as u32).wrapping_mul(0x85EB_CA77))
        .wrapping_add(((last | 0x20) as u32).wrapping_mul(0xC2B2_AE3D));
    (h >> 16) as usize % SLOTS
}

/// Two candidates per slot; building the table fails to compile on a third collision.
static TABLE: [[u8; 2]; SLOTS] = {
    let mut t = [[EMPTY; 2]; SLOTS];
    let mut i = 0;
    while i < KNOWN.len() {
        let name = KNOWN[i].1.as_bytes();
        let s = slot(name.len(), name[0], name[name.len() - 1]);
        if t[s][0] == EMPTY {
            t[s][0] = i as u8;
        } else if t[s][1] == EMPTY {
            t[s][1] = i as u8;
        } else {
            panic!("header name table: three names share a slot");
        }
        i += 1;
    }
    t
};

/// Compact form letter → full name index.
static COMPACT: [u8; 26] = {
    let mut t = [EMPTY; 26];
    let mut i = 0;
    while i < KNOWN.len() {
        let c = KNOWN[i].2;
        if c != 0 {
            t[(c - b'a') as usize] = i as u8;
        }
        i += 1;
    }
    t
};

/// The longest known name, in 8-byte words.
const WORDS: usize = 4;

/// A known name prepared for word-at-a-time comparison.
#[derive(Clone, Copy)]
struct Pattern {
    /// The name lower-cased, little-endian words, zero-padded.
    lower: [u64; WORDS],
    /// 0x20 at every letter: OR-ing it into input lower-cases letters and
    /// leaves every other byte as it is, so the compare is exact.
    case: [u64; WORDS],
    /// Keeps the name's bytes in its last word.
    last_mask: u64,
    len: u8,
    words: u8,
}

static PATTERNS: [Pattern; KNOWN.len()] = {
    let empty = Pattern {
        lower: [0; WORDS],
        case: [0; WORDS],
        last_mask: 0,
        len: 0,
        words: 0,
    };
    let mut t = [empty; KNOWN.len()];
    let mut i = 0;
    while i < KNOWN.len() {
        let b = KNOWN[i].1.as_bytes();
        assert!(
            b.len() <= WORDS * 8,
            "header name table: a name is longer than 32 bytes"
        );
        let mut j = 0;
        while j < b.len() {
            t[i].lower[j / 8] |= (b[j].to_ascii_lowercase() as u64) << (8 * (j % 8));
            if b[j].is_ascii_alphabetic() {
                t[i].case[j / 8] |= 0x20u64 << (8 * (j % 8));
            }
            j += 1;
        }
        let rem = b.len() % 8;
        t[i].last_mask = if rem == 0 {
            u64::MAX
        } else {
            (1u64 << (8 * rem)) - 1
        };
        t[i].len = b.len() as u8;
        t[i].words = b.len().div_ceil(8) as u8;
        i += 1;
    }
    t
};

#[inline(always)]
fn load_word(data: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&data[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Case-insensitive equality of a known name and a token, eight bytes at a
/// time. Setting bit 0x20 lower-cases letters and leaves `-` and digits alone;
/// the only other byte it maps onto a known name's character is CR (onto `-`),
/// which no token holds, so the comparison is exact for token input.
#[inline(always)]
fn eq_token_ignore_case(known: &[u8], name: &[u8]) -> bool {
    const LOWER: u64 = 0x2020_2020_2020_2020;
    let n = known.len();
    if n != name.len() {
        return false;
    }
    if n < 8 {
        let mut diff = 0u8;
        for i in 0..n {
            diff |= (known[i] | 0x20) ^ (name[i] | 0x20);
        }
        return diff == 0;
    }
    let word = |s: &[u8], at: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w) | LOWER
    };
    let mut i = 0;
    while i + 8 <= n {
        if word(known, i) != word(name, i) {
            return false;
        }
        i += 8;
    }
    // The last (overlapping) word covers any tail.
    i == n || word(known, n - 8) == word(name, n - 8)
}

impl HeaderName {
    /// Recognise the name at `data[start..start + len]`, reading whole words
    /// from `data` when it extends far enough past the name (it does for every
    /// header line but the shortest last one). Returns `None` when the bytes are
    /// no known name; the caller then checks them as a token.
    #[inline(always)]
    pub(crate) fn classify_in(data: &[u8], start: usize, len: usize) -> Option<HeaderName> {
        if len < 2 || start + len.div_ceil(8) * 8 > data.len() {
            let h = HeaderName::from_bytes(&data[start..start + len]);
            return (h != HeaderName::Other).then_some(h);
        }
        let cands = &TABLE[slot(len, data[start], data[start + len - 1])];
        for &i in cands {
            if i == EMPTY {
                break;
            }
            let p = &PATTERNS[i as usize];
            if usize::from(p.len) != len {
                continue;
            }
            let last = usize::from(p.words) - 1;
            let mut equal = true;
            for k in 0..last {
                equal &= (load_word(data, start + 8 * k) | p.case[k]) == p.lower[k];
            }
            let w = load_word(data, start + 8 * last) & p.last_mask;
            if equal && (w | p.case[last]) == p.lower[last] {
                return Some(KNOWN[i as usize].0);
            }
        }
        None
    }

    /// Recognise a header name, case-insensitively, including compact forms.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name {
            [] => HeaderName::Other,
            [c] => {
                let c = c | 0x20;
                if c.is_ascii_lowercase() {
                    let i = COMPACT[(c - b'a') as usize];
                    if i != EMPTY {
                        return KNOWN[i as usize].0;
                    }
                }
                HeaderName::Other
            }
            [first, .., last] => {
                let cands = &TABLE[slot(name.len(), *first, *last)];
                for &i in cands {
                    if i == EMPTY {
                        break;
                    }
                    let (h, text, _) = KNOWN[i as usize];
                    if eq_token_ignore_case(text.as_bytes(), name) {
                        return h;
                    }
                }
                HeaderName::Other
            }
        }
    }

    /// The canonical (long-form) name, as Riptide writes it. `""` for [`HeaderName::Other`].
    pub fn as_str(self) -> &'static str {
        KNOWN.get(self as usize).map_or("", |k| k.1)
    }

    /// The compact form (RFC 3261 §7.3.3 and later RFCs), if the header has one.
    pub fn compact(self) -> Option<u8> {
        KNOWN.get(self as usize).map(|k| k.2).filter(|&c| c != 0)
    }

    /// Whether the header is a comma-separated list whose values may share one line.
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Path
                | ServiceRoute
                | Allow
                | AllowEvents
                | Supported
                | Require
                | ProxyRequire
                | Unsupported
                | Accept
                | AcceptEncoding
                | AcceptLanguage
                | AcceptContact
                | RejectContact
                | ContentEncoding
                | ContentLanguage
                | PAssociatedUri
                | PAssertedIdentity
                | PPreferredIdentity
                | Privacy
                | SecurityClient
                | SecurityServer
                | SecurityVerify
                | InReplyTo
                | CallInfo
                | AlertInfo
                | ErrorInfo
                | Warning
                | Reason
        )
    }
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_round_trips_in_any_case() {
        for &(h, text, compact) in KNOWN {
            assert_eq!(HeaderName::from_bytes(text.as_bytes()), h, "{text}");
            assert_eq!(
                HeaderName::from_bytes(text.to_ascii_lowercase().as_bytes()),
                h
            );
            assert_eq!(
                HeaderName::from_bytes(text.to_ascii_uppercase().as_bytes()),
                h
            );
            assert_eq!(h.as_str(), text);
            if compact != 0 {
                assert_eq!(HeaderName::from_bytes(&[compact]), h);
                assert_eq!(HeaderName::from_bytes(&[compact.to_ascii_uppercase()]), h);
            }
        }
    }

    #[test]
    fn compact_forms_from_the_issue() {
        let cases: &[(&[u8], HeaderName)] = &[
            (b"i", HeaderName::CallId),
            (b"m", HeaderName::Contact),
            (b"f", HeaderName::From),
            (b"t", HeaderName::To),
            (b"v", HeaderName::Via),
            (b"l", HeaderName::ContentLength),
            (b"k", HeaderName::Supported),
            (b"c", HeaderName::ContentType),
            (b"e", HeaderName::ContentEncoding),
            (b"s", HeaderName::Subject),
            (b"o", HeaderName::Event),
            (b"u", HeaderName::AllowEvents),
            (b"x", HeaderName::SessionExpires),
            (b"r", HeaderName::ReferTo),
            (b"b", HeaderName::ReferredBy),
            (b"y", HeaderName::Identity),
        ];
        for (text, h) in cases {
            assert_eq!(HeaderName::from_bytes(text), *h);
        }
    }

    #[test]
    fn classify_in_a_buffer_matches_from_bytes() {
        for &(h, text, _) in KNOWN {
            for name in [
                text.to_string(),
                text.to_ascii_uppercase(),
                text.to_ascii_lowercase(),
            ] {
                let line = format!("{name}: value that runs on for a while\r\n");
                assert_eq!(
                    HeaderName::classify_in(line.as_bytes(), 0, name.len()),
                    Some(h),
                    "{name}"
                );
                // At the very end of a buffer, too.
                assert_eq!(
                    HeaderName::classify_in(name.as_bytes(), 0, name.len()),
                    Some(h),
                    "{name}"
                );
            }
        }
        let line = b"Call\rID: x\r\nMax_Forwards: 1\r\nX-Other: y\r\n";
        assert_eq!(HeaderName::classify_in(line, 0, 7), None);
        assert_eq!(HeaderName::classify_in(line, 13, 12), None);
        assert_eq!(HeaderName::classify_in(line, 31, 7), None);
    }

    #[test]
    fn unknown_names_are_other() {
        for n in [
            &b"X-Custom"[..],
            b"Vias",
            b"T",
            b"q",
            b"",
            b"Call-IDs",
            b"NewFangledHeader",
        ] {
            let h = HeaderName::from_bytes(n);
            assert!(
                h == HeaderName::Other || (n.len() == 1 && h != HeaderName::Other),
                "{:?}",
                String::from_utf8_lossy(n)
            );
        }
        assert_eq!(HeaderName::from_bytes(b"X-Custom"), HeaderName::Other);
        assert_eq!(
            HeaderName::from_bytes(b"NewFangledHeader"),
            HeaderName::Other
        );
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
    }
}
