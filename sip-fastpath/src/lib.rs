//! Sans-IO SIP for Riptide: the bytes-to-meaning layer every other crate stands on.
//!
//! What it is for: parsing a datagram or a framed stream chunk into a
//! [`Message`] without copying (spans into one [`bytes::Bytes`]); typed views
//! read on demand ([`Message::top_via`], [`Message::cseq`], [`Message::to`],
//! [`Message::contacts`]...); stream framing for TCP ([`framing::StreamFramer`]);
//! writing new messages ([`MessageBuilder`], [`Message::response`]); forwarding
//! with small changes by splicing ([`Editor`]); digest arithmetic
//! ([`digest`]); transaction keys ([`ServerKey`], [`ClientKey`]); and the
//! RFC 3261 §17 transaction state machines ([`transaction`]), time passed in.
//!
//! What it is not: it has no sockets, no clock, no async and no policy. It
//! never decides what to answer — it says what is wrong ([`ParseError`]) and
//! whether an answer can be formed ([`Disposition`]); the transaction layer and
//! the SIP roles in `engine` decide the rest.
//!
//! Start reading at [`Message::parse`] and [`Message`]'s accessors.

pub mod auth;
pub mod builder;
pub mod cseq;
pub mod digest;
pub mod editor;
pub mod error;
pub mod framing;
pub mod header_name;
pub mod limits;
pub mod list;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod params;
mod scan;
pub mod span;
pub mod transaction;
pub mod transaction_key;
pub mod uri;
pub mod via;
mod views;

pub use auth::AuthParams;
pub use builder::MessageBuilder;
pub use cseq::CSeq;
pub use editor::{EditError, Editor};
pub use error::{Disposition, Malformed, ParseError};
pub use framing::{Frame, FrameError, StreamFramer};
pub use header_name::HeaderName;
pub use limits::Limits;
pub use message::{Header, Message, StartLine};
pub use method::Method;
pub use name_addr::NameAddr;
pub use params::Params;
pub use span::Span;
pub use transaction_key::{ClientKey, ServerKey};
pub use uri::{Scheme, Uri};
pub use via::Via;
pub use views::Contacts;
