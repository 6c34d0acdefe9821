//! The compact binary form of an AoR in the registration store (format 1).
//!
//! Memory per AoR is a stated limit (issue 5: ≤ 400 B with one binding at
//! 1 M AoRs), and the record is most of it, so a record is bytes, not JSON:
//!
//! ```text
//! record  = FORMAT_V1 varint(bindings) binding*
//! binding = flags
//!           [str instance]              flags & INSTANCE
//!           [varint reg_id]             flags & REG_ID
//!           str uri
//!           [str id]                    id form ID_EXPLICIT
//!           [varint at] str params      flags & PARAMS_HAS_INSTANCE: the
//!                                       instance is cut out of params at `at`
//!           varint(path) str*
//!           str call_id
//!           varint cseq  varint expires_at_s
//!           [varint q_millis]           flags & Q
//! str     = varint(len) bytes (UTF-8)
//! ```
//!
//! Integers are LEB128 varints. The binding's id is usually implied (the
//! contact URI, or `instance[;reg-id=N]`, RFC 5626 §6) and the instance is
//! usually repeated in the Contact parameters: both are stored once, within
//! the record, so every record stands alone. Decoding checks everything and
//! returns a [`CodecError`]; it never panics on any input.
//! `engine/fuzz` (target `records`) checks that, and the round trip, on
//! arbitrary bytes.

use crate::registrar::{Aor, Binding};

/// The first byte of a format-1 record (never `{`, which starts a JSON one).
pub const FORMAT_V1: u8 = 1;

const Q: u8 = 1;
const INSTANCE: u8 = 1 << 1;
const REG_ID: u8 = 1 << 2;
const ID_FORM_SHIFT: u8 = 3;
const ID_FORM_MASK: u8 = 0b11 << ID_FORM_SHIFT;
const ID_EXPLICIT: u8 = 0;
const ID_IS_URI: u8 = 1;
const ID_FROM_INSTANCE: u8 = 2;
const PARAMS_HAS_INSTANCE: u8 = 1 << 5;
const FLAGS_KNOWN: u8 = Q | INSTANCE | REG_ID | ID_FORM_MASK | PARAMS_HAS_INSTANCE;

/// Why bytes are not a format-1 AoR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unknown record format {0:#04x}")]
    UnknownFormat(u8),
    #[error("record ends inside a field")]
    Truncated,
    #[error("varint overflows its field")]
    Overflow,
    #[error("unknown binding flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("unknown binding id form {0}")]
    UnknownIdForm(u8),
    #[error("binding id derived from an absent instance")]
    IdWithoutInstance,
    #[error("params refer to an absent instance")]
    ParamsWithoutInstance,
    #[error("instance offset {0} is outside the params")]
    BadInstanceOffset(u64),
    #[error("text field is not UTF-8")]
    NotUtf8,
    #[error("{0} bytes after the last binding")]
    TrailingBytes(usize),
}

/// Encodes `aor` in format 1.
pub fn encode(aor: &Aor) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 160 * aor.bindings.len());
    out.push(FORMAT_V1);
    put_varint(&mut out, aor.bindings.len() as u64);
    for b in &aor.bindings {
        encode_binding(&mut out, b);
    }
    out
}

fn implied_id(instance: &str, reg_id: Option<u32>) -> String {
    match reg_id {
        Some(r) => format!("{instance};reg-id={r}"),
        None => instance.to_owned(),
    }
}

fn encode_binding(out: &mut Vec<u8>, b: &Binding) {
    let mut flags = 0;
    if b.q_millis.is_some() {
        flags |= Q;
    }
    if b.reg_id.is_some() {
        flags |= REG_ID;
    }
    let id_form = match &b.instance {
        _ if b.id == b.uri => ID_IS_URI,
        Some(i) if b.id == implied_id(i, b.reg_id) => ID_FROM_INSTANCE,
        _ => ID_EXPLICIT,
    };
    flags |= id_form << ID_FORM_SHIFT;
    let instance_at = match &b.instance {
        Some(i) if !i.is_empty() => b.params.find(i.as_str()),
        _ => None,
    };
    if b.instance.is_some() {
        flags |= INSTANCE;
    }
    if instance_at.is_some() {
        flags |= PARAMS_HAS_INSTANCE;
    }
    out.push(flags);
    if let Some(i) = &b.instance {
        put_str(out, i);
    }
    if let Some(r) = b.reg_id {
        put_varint(out, u64::from(r));
    }
    put_str(out, &b.uri);
    if id_form == ID_EXPLICIT {
        put_str(out, &b.id);
    }
    match (instance_at, &b.instance) {
        (Some(at), Some(i)) => {
            put_varint(out, at as u64);
            let mut len = b.params.len() - i.len();
            put_varint(out, len as u64);
            out.extend_from_slice(&b.params.as_bytes()[..at]);
            len -= at;
            out.extend_from_slice(&b.params.as_bytes()[b.params.len() - len..]);
        }
        _ => put_str(out, &b.params),
    }
    put_varint(out, b.path.len() as u64);
    for p in &b.path {
        put_str(out, p);
    }
    put_str(out, &b.call_id);
    put_varint(out, u64::from(b.cseq));
    put_varint(out, b.expires_at_s);
    if let Some(q) = b.q_millis {
        put_varint(out, u64::from(q));
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A binding as it lies in the record: text fields still unchecked bytes.
struct RawBinding<'a> {
    flags: u8,
    instance: Option<&'a [u8]>,
    reg_id: Option<u32>,
    uri: &'a [u8],
    id: Option<&'a [u8]>,
    instance_at: Option<u64>,
    params: &'a [u8],
    path: Vec<&'a [u8]>,
    call_id: &'a [u8],
    cseq: u32,
    expires_at_s: u64,
    q_millis: Option<u16>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, CodecError> {
        let (&first, rest) = self.0.split_first().ok_or(CodecError::Truncated)?;
        self.0 = rest;
        Ok(first)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(CodecError::Overflow);
            }
            v |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Overflow)
    }

    fn varint_as<T: TryFrom<u64>>(&mut self) -> Result<T, CodecError> {
        T::try_from(self.varint()?).map_err(|_| CodecError::Overflow)
    }

    fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let len: usize = self.varint_as()?;
        if self.0.len() < len {
            return Err(CodecError::Truncated);
        }
        let (head, tail) = self.0.split_at(len);
        self.0 = tail;
        Ok(head)
    }

    fn binding(&mut self) -> Result<RawBinding<'a>, CodecError> {
        let flags = self.u8()?;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(CodecError::UnknownFlags(flags & !FLAGS_KNOWN));
        }
        let has_instance = flags & INSTANCE != 0;
        let id_form = (flags & ID_FORM_MASK) >> ID_FORM_SHIFT;
        match id_form {
            ID_EXPLICIT | ID_IS_URI => {}
            ID_FROM_INSTANCE if has_instance => {}
            ID_FROM_INSTANCE => return Err(CodecError::IdWithoutInstance),
            form => return Err(CodecError::UnknownIdForm(form)),
        }
        if flags & PARAMS_HAS_INSTANCE != 0 && !has_instance {
            return Err(CodecError::ParamsWithoutInstance);
        }
        let instance = if has_instance {
            Some(self.bytes()?)
        } else {
            None
        };
        let reg_id = if flags & REG_ID != 0 {
            Some(self.varint_as()?)
        } else {
            None
        };
        let uri = self.bytes()?;
        let id = if id_form == ID_EXPLICIT {
            Some(self.bytes()?)
        } else {
            None
        };
        let instance_at = if flags & PARAMS_HAS_INSTANCE != 0 {
            Some(self.varint()?)
        } else {
            None
        };
        let params = self.bytes()?;
        let path_count: usize = self.varint_as()?;
        // Each path entry takes at least its length byte: no allocation
        // beyond what the record can hold.
        if path_count > self.0.len() {
            return Err(CodecError::Truncated);
        }
        let mut path = Vec::with_capacity(path_count);
        for _ in 0..path_count {
            path.push(self.bytes()?);
        }
        let call_id = self.bytes()?;
        let cseq = self.varint_as()?;
        let expires_at_s = self.varint()?;
        let q_millis = if flags & Q != 0 {
            Some(self.varint_as()?)
        } else {
            None
        };
        Ok(RawBinding {
            flags,
            instance,
            reg_id,
            uri,
            id,
            instance_at,
            params,
            path,
            call_id,
            cseq,
            expires_at_s,
            q_millis,
        })
    }
}

fn text(bytes: &[u8]) -> Result<String, CodecError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| CodecError::NotUtf8)
}

impl RawBinding<'_> {
    /// Checks the text fields as [`Self::into_binding`] does (UTF-8, the
    /// instance offset on a character of the params), without copying them.
    fn check_text(&self) -> Result<(), CodecError> {
        fn utf8(b: &[u8]) -> Result<&str, CodecError> {
            std::str::from_utf8(b).map_err(|_| CodecError::NotUtf8)
        }
        if let Some(i) = self.instance {
            utf8(i)?;
        }
        utf8(self.uri)?;
        if let Some(id) = self.id {
            utf8(id)?;
        }
        let params = utf8(self.params)?;
        if let (Some(at), Some(_)) = (self.instance_at, self.instance) {
            usize::try_from(at)
                .ok()
                .filter(|&cut| params.is_char_boundary(cut))
                .ok_or(CodecError::BadInstanceOffset(at))?;
        }
        for p in &self.path {
            utf8(p)?;
        }
        utf8(self.call_id)?;
        Ok(())
    }

    fn into_binding(self) -> Result<Binding, CodecError> {
        let instance = self.instance.map(text).transpose()?;
        let uri = text(self.uri)?;
        let params = match (self.instance_at, &instance) {
            (Some(at), Some(i)) => {
                let rest = std::str::from_utf8(self.params).map_err(|_| CodecError::NotUtf8)?;
                let cut = usize::try_from(at)
                    .ok()
                    .filter(|&cut| rest.is_char_boundary(cut))
                    .ok_or(CodecError::BadInstanceOffset(at))?;
                let mut params = String::with_capacity(rest.len() + i.len());
                params.push_str(&rest[..cut]);
                params.push_str(i);
                params.push_str(&rest[cut..]);
                params
            }
            _ => text(self.params)?,
        };
        let id = match (self.id, &instance) {
            (Some(id), _) => text(id)?,
            (None, Some(i)) if (self.flags & ID_FORM_MASK) >> ID_FORM_SHIFT == ID_FROM_INSTANCE => {
                implied_id(i, self.reg_id)
            }
            (None, _) => uri.clone(),
        };
        Ok(Binding {
            id,
            uri,
            params,
            path: self.path.into_iter().map(text).collect::<Result<_, _>>()?,
            call_id: text(self.call_id)?,
            cseq: self.cseq,
            expires_at_s: self.expires_at_s,
            q_millis: self.q_millis,
            instance,
            reg_id: self.reg_id,
        })
    }
}

/// Walks a format-1 record's bindings (after its format byte), checking its
/// structure but not its text.
fn walk<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(RawBinding<'a>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let mut r = Reader(bytes);
    match r.u8()? {
        FORMAT_V1 => {}
        other => return Err(CodecError::UnknownFormat(other)),
    }
    let count = r.varint()?;
    for _ in 0..count {
        each(r.binding()?)?;
    }
    if !r.0.is_empty() {
        return Err(CodecError::TrailingBytes(r.0.len()));
    }
    Ok(())
}

/// Decodes a format-1 record.
pub fn decode(bytes: &[u8]) -> Result<Aor, CodecError> {
    let mut bindings = Vec::new();
    walk(bytes, |raw| {
        bindings.push(raw.into_binding()?);
        Ok(())
    })?;
    Ok(Aor { bindings })
}

/// Bindings expiring after `now_s` in a format-1 record, without building it.
/// A record [`decode`] refuses is refused here too, text included: the Redis
/// sweep deletes a record with no live binding, and one that cannot be read
/// must not be kept alive by its expiries.
pub fn live_bindings(bytes: &[u8], now_s: u64) -> Result<usize, CodecError> {
    let mut live = 0;
    walk(bytes, |raw| {
        raw.check_text()?;
        live += usize::from(raw.expires_at_s > now_s);
        Ok(())
    })?;
    Ok(live)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ue() -> Binding {
        let instance = "\"<urn:gsma:imei:35209900-000001-0>\"".to_owned();
        Binding {
            id: format!("{instance};reg-id=1"),
            uri: "sip:6505550001@10.1.1.1:5060;transport=tcp".into(),
            params: format!(";reg-id=1;+sip.instance={instance};+g.3gpp.icsi-ref=\"x\""),
            path: vec!["<sip:term@pcscf.example.com:5058;lr>".into()],
            call_id: "0001-ue@10.1.0.1".into(),
            cseq: 7,
            expires_at_s: 1_795_926_000,
            q_millis: Some(500),
            instance: Some(instance),
            reg_id: Some(1),
        }
    }

    fn sipp() -> Binding {
        Binding {
            id: "sip:6505550001@127.0.0.1:5099;transport=UDP".into(),
            uri: "sip:6505550001@127.0.0.1:5099;transport=UDP".into(),
            params: String::new(),
            path: Vec::new(),
            call_id: "1-12345@127.0.0.1".into(),
            cseq: 2,
            expires_at_s: 1_795_926_000,
            q_millis: None,
            instance: None,
            reg_id: None,
        }
    }

    fn occurrences(haystack: &[u8], needle: &str) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle.as_bytes())
            .count()
    }

    #[test]
    fn implied_fields_are_stored_once_and_come_back() {
        let ue = ue();
        let bytes = encode(&Aor {
            bindings: vec![ue.clone()],
        });
        assert_eq!(bytes[0], FORMAT_V1);
        assert_eq!(occurrences(&bytes, ue.instance.as_deref().unwrap()), 1);
        assert_eq!(occurrences(&bytes, ";reg-id=1;+sip"), 1);
        assert_eq!(decode(&bytes).unwrap().bindings, vec![ue]);
        let sipp = sipp();
        let bytes = encode(&Aor {
            bindings: vec![sipp.clone()],
        });
        assert_eq!(occurrences(&bytes, &sipp.uri), 1);
        // format, count, flags, 3 lengths, path count, cseq, 5-byte expiry.
        assert_eq!(bytes.len(), sipp.uri.len() + sipp.call_id.len() + 13);
        assert_eq!(decode(&bytes).unwrap().bindings, vec![sipp]);
    }

    #[test]
    fn an_empty_aor_and_explicit_ids_round_trip() {
        let empty = Aor::default();
        assert_eq!(encode(&empty), vec![FORMAT_V1, 0]);
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
        let odd = Aor {
            bindings: vec![
                Binding {
                    id: "something else".into(),
                    instance: Some(String::new()),
                    ..ue()
                },
                Binding {
                    id: "<urn:x>".into(),
                    instance: Some("<urn:x>".into()),
                    reg_id: None,
                    ..sipp()
                },
            ],
        };
        assert_eq!(decode(&encode(&odd)).unwrap(), odd);
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        assert_eq!(decode(b""), Err(CodecError::Truncated));
        assert_eq!(decode(b"\x02\x00"), Err(CodecError::UnknownFormat(2)));
        assert_eq!(decode(b"\x01\x00\x00"), Err(CodecError::TrailingBytes(1)));
        assert_eq!(decode(b"\x01\x01\x80"), Err(CodecError::UnknownFlags(0x80)));
        assert_eq!(decode(b"\x01\x01\x18"), Err(CodecError::UnknownIdForm(3)));
        assert_eq!(
            decode(b"\x01\x01\x10\x00"),
            Err(CodecError::IdWithoutInstance)
        );
        assert_eq!(
            decode(b"\x01\x01\x28\x00"),
            Err(CodecError::ParamsWithoutInstance)
        );
        assert_eq!(
            decode(b"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"),
            Err(CodecError::Overflow)
        );
        // uri "\xff" is not UTF-8.
        let bad_utf8 = b"\x01\x01\x08\x01\xff\x00\x00\x00\x00\x00";
        assert_eq!(decode(bad_utf8), Err(CodecError::NotUtf8));
        assert_eq!(live_bindings(bad_utf8, 0), Err(CodecError::NotUtf8));
        // The instance offset must fall inside the params, on a character.
        let mut bytes = encode(&Aor {
            bindings: vec![ue()],
        });
        let b = ue();
        let at = 3 + 1 + b.instance.unwrap().len() + 1 + 1 + b.uri.len();
        assert_eq!(bytes[at], 24, "offset of the instance in the params");
        bytes[at] = 100;
        assert_eq!(decode(&bytes), Err(CodecError::BadInstanceOffset(100)));
        assert_eq!(
            live_bindings(&bytes, 0),
            Err(CodecError::BadInstanceOffset(100))
        );
        let full = encode(&Aor {
            bindings: vec![ue(), sipp()],
        });
        for len in 0..full.len() {
            assert!(decode(&full[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn live_bindings_counts_by_expiry() {
        let aor = Aor {
            bindings: vec![
                Binding {
                    expires_at_s: 1_000,
                    ..sipp()
                },
                ue(),
            ],
        };
        let bytes = encode(&aor);
        assert_eq!(live_bindings(&bytes, 999), Ok(2));
        assert_eq!(live_bindings(&bytes, 1_000), Ok(1));
        assert_eq!(live_bindings(&bytes, 1_795_926_000), Ok(0));
        assert!(live_bindings(&bytes[..bytes.len() - 1], 0).is_err());
    }

    fn binding() -> impl Strategy<Value = Binding> {
        let text = || "[a-z<>\";=:@. é]{0,12}";
        (
            (
                text(),
                text(),
                text(),
                proptest::collection::vec(text(), 0..3),
                text(),
            ),
            (
                any::<u32>(),
                any::<u64>(),
                proptest::option::of(any::<u16>()),
                proptest::option::of(text()),
                proptest::option::of(any::<u32>()),
                0..4u8,
            ),
        )
            .prop_map(
                |((id, uri, params, path, call_id), (cseq, exp, q, instance, reg_id, shape))| {
                    let mut b = Binding {
                        id,
                        uri,
                        params,
                        path,
                        call_id,
                        cseq,
                        expires_at_s: exp,
                        q_millis: q,
                        instance,
                        reg_id,
                    };
                    // Steer some bindings into the implied forms.
                    match (shape, b.instance.clone()) {
                        (1, _) => b.id = b.uri.clone(),
                        (2, Some(i)) => b.id = implied_id(&i, b.reg_id),
                        (3, Some(i)) => b.params = format!("{}{i}{}", b.params, b.call_id),
                        _ => {}
                    }
                    b
                },
            )
    }

    proptest! {
        #[test]
        fn any_aor_round_trips(bindings in proptest::collection::vec(binding(), 0..4)) {
            let aor = Aor { bindings };
            let bytes = encode(&aor);
            prop_assert_eq!(decode(&bytes), Ok(aor.clone()));
            let live = aor.bindings.iter().filter(|b| b.expires_at_s > 5).count();
            prop_assert_eq!(live_bindings(&bytes, 5), Ok(live));
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
            let _ = live_bindings(&bytes, 0);
            // And with a valid format byte, to reach the binding parser.
            if let Some(first) = bytes.first_mut() {
                *first = FORMAT_V1;
            }
            let _ = decode(&bytes);
            let _ = live_bindings(&bytes, 0);
        }

        #[test]
        fn corrupting_a_record_never_panics(
            bindings in proptest::collection::vec(binding(), 1..3),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = encode(&Aor { bindings });
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = decode(&bytes);
            let _ = live_bindings(&bytes, 0);
        }
    }
}
