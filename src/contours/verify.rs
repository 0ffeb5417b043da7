//! Verify: who is on the other end. Each device uses one WebRTC certificate for every
//! call (the [`keystore`](super::keystore) keeps it), so its DTLS fingerprint is stable.
//! Once a call connects, the two sides run a commit-then-reveal exchange of random values
//! over a data channel of their own ([`Wire`], [`Exchange`]), and each shows a code of
//! four words ([`words`]) derived from both fingerprints and both random values
//! ([`code_input`]). «Совпадает» keeps the other device under a name typed here
//! ([`Contacts`], on this device only); later calls with that fingerprint show the name
//! and «проверено», and a call where the other side proves it knows a verified contact
//! ([`hint_input`]) from another fingerprint warns. Owns the channel's wire format, the
//! exchange's rules, the code, the contacts' format and the sheet that shows them. Must
//! not touch the signal socket or the call's phase: Rtc makes the channel and the
//! conductor hands it here.
//!
//! Why a server in the middle cannot forge the code: the signalling server sees the SDP
//! and can put its own certificate's fingerprint in place of each side's, then sit
//! between two DTLS connections. The words each side shows depend on the fingerprints that
//! side's DTLS connection really uses, so in the middle the two sides hash different
//! fingerprints. To make the words agree anyway, the attacker would have to pick its
//! random value knowing both sides' values; but each side commits to its value (sends its
//! SHA-256) before it sees the other's, and reveals it only after it has the other's
//! commitment. Whatever the attacker commits to one side is fixed before that side's
//! random value is known, so each code is a fresh 32-bit draw: one chance in 4 billion.

use leptos::prelude::*;

pub mod words;

#[cfg(feature = "hydrate")]
pub use imp::attach;
pub use imp::{forget, is_open, toggle};

/// The random value each side commits to, in bytes.
pub const RANDOM_BYTES: usize = 32;
/// A SHA-256 digest.
pub type Digest = [u8; 32];
/// The most contacts a device sends hints for, and takes hints from, in one call.
pub const MAX_HINTS: usize = 64;
/// How often a side repeats what the other side may have lost (see [`Exchange::on_tick`]).
pub const RESEND_COMMIT_MS: u32 = 1_000;
/// The longest name of a verified contact, in characters.
pub const MAX_NAME_CHARS: usize = 40;

const COMMIT_LABEL: &[u8] = b"HomeCall commit v1\0";
const CODE_LABEL: &[u8] = b"HomeCall code v1\0";
const SECRET_LABEL: &[u8] = b"HomeCall contact v1\0";
const HINT_LABEL: &[u8] = b"HomeCall hint v1\0";

/// A message of the verification channel: a letter and 64 hex digits (`d`: the letter
/// alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `c`: the SHA-256 of this side's random value ([`commit_input`]).
    Commit(Digest),
    /// `r`: the random value itself, sent only once the other side's commitment is in.
    Reveal(Digest),
    /// `k`: proof that this side verified the other side's person before, one per
    /// contact it keeps ([`hint_input`]); it means nothing to anyone without the secret.
    Hint(Digest),
    /// `n`: the SHA-256 of the fingerprint this device will use once its certificate is
    /// renewed ([`successor_input`]). Believed only from a device verified (over a DTLS
    /// connection that proves it is that device), it keeps the device verified after the
    /// renewal.
    Next(Digest),
    /// `d`: this side has the other side's value, which stops the other side repeating.
    Done,
}

impl Wire {
    pub fn to_wire(&self) -> String {
        let (letter, bytes) = match self {
            Wire::Commit(d) => ('c', d),
            Wire::Reveal(d) => ('r', d),
            Wire::Hint(d) => ('k', d),
            Wire::Next(d) => ('n', d),
            Wire::Done => return "d".to_owned(),
        };
        let mut text = String::with_capacity(65);
        text.push(letter);
        text.push_str(&hex(bytes));
        text
    }

    /// The message `text` is, if well-formed (anything else is ignored).
    pub fn from_wire(text: &str) -> Option<Wire> {
        if text == "d" {
            return Some(Wire::Done);
        }
        let mut chars = text.chars();
        let letter = chars.next()?;
        let digest = unhex(chars.as_str())?;
        match letter {
            'c' => Some(Wire::Commit(digest)),
            'r' => Some(Wire::Reveal(digest)),
            'k' => Some(Wire::Hint(digest)),
            'n' => Some(Wire::Next(digest)),
            _ => None,
        }
    }
}

/// Lowercase hex of 32 bytes.
pub fn hex(bytes: &Digest) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// 32 bytes from exactly 64 hex digits (either case).
pub fn unhex(text: &str) -> Option<Digest> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let nibble = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

/// Why an exchange failed: the other side broke its rules, which an honest page never
/// does, so someone may be in the middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("a second, different commitment")]
    CommitChanged,
    #[error("a value revealed before its commitment")]
    RevealFirst,
    #[error("a revealed value that is not the one committed to")]
    RevealMismatch,
}

/// One side's part of the exchange over one peer connection. The caller hashes (the
/// browser's SubtleCrypto); this decides what is sent and what is accepted.
pub struct Exchange {
    mine: Digest,
    my_commit: Digest,
    their_commit: Option<Digest>,
    theirs: Option<Digest>,
    /// The other side said it has this side's value.
    peer_done: bool,
}

impl Exchange {
    /// `mine`, a fresh random value, and `my_commit`, the SHA-256 of
    /// [`commit_input`]`(mine)`.
    pub fn new(mine: Digest, my_commit: Digest) -> Exchange {
        Exchange {
            mine,
            my_commit,
            their_commit: None,
            theirs: None,
            peer_done: false,
        }
    }

    pub fn mine(&self) -> &Digest {
        &self.mine
    }

    /// What goes when the channel opens, and again every [`RESEND_COMMIT_MS`]: the
    /// commitment until the other side's is in, then the commitment and the value until
    /// the other side says it has them ([`Wire::Done`]). A negotiated channel may open on
    /// this side before the other side has made its own, and what goes then is lost; a
    /// repeat answers nothing, so two sides never echo each other.
    pub fn on_tick(&self) -> Vec<Wire> {
        let commit = Wire::Commit(self.my_commit);
        match (self.their_commit, self.peer_done) {
            (None, _) => vec![commit],
            (Some(_), false) => vec![commit, Wire::Reveal(self.mine)],
            (Some(_), true) => Vec::new(),
        }
    }

    /// The other side has this side's value.
    pub fn on_done(&mut self) {
        self.peer_done = true;
    }

    /// The other side's commitment. The first one is answered with this side's
    /// commitment again (the first may have gone before the other side's channel
    /// existed, and been lost) and then its value; a repeat of it changes nothing; a
    /// different one breaks the exchange.
    pub fn on_commit(&mut self, commit: Digest) -> Result<Vec<Wire>, Broken> {
        match self.their_commit {
            None => {
                self.their_commit = Some(commit);
                Ok(vec![Wire::Commit(self.my_commit), Wire::Reveal(self.mine)])
            }
            Some(known) if known == commit => Ok(Vec::new()),
            Some(_) => Err(Broken::CommitChanged),
        }
    }

    /// The other side's value, and `hashed`, the SHA-256 of [`commit_input`] of it: the
    /// value, once it is the one committed to (a repeat: `None`). Either way the caller
    /// answers [`Wire::Done`].
    pub fn on_reveal(&mut self, value: Digest, hashed: Digest) -> Result<Option<Digest>, Broken> {
        let Some(commit) = self.their_commit else {
            return Err(Broken::RevealFirst);
        };
        if hashed != commit {
            return Err(Broken::RevealMismatch);
        }
        if self.theirs.replace(value).is_some() {
            return Ok(None);
        }
        Ok(Some(value))
    }
}

/// What a side commits to: the SHA-256 of this.
pub fn commit_input(value: &Digest) -> Vec<u8> {
    [COMMIT_LABEL, value].concat()
}

/// One side as the code sees it: the fingerprint its DTLS connection uses (as
/// [`sdp_fingerprint`] gives it) and its random value.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub fingerprint: &'a str,
    pub value: &'a Digest,
}

/// Both sides in an order both agree on (by fingerprint, then value), each as its
/// fingerprint, a zero byte and its value.
fn both_sides(label: &[u8], a: Side, b: Side) -> Vec<u8> {
    let key = |s: &Side| (s.fingerprint.as_bytes().to_vec(), *s.value);
    let (first, second) = if key(&a) <= key(&b) { (a, b) } else { (b, a) };
    let mut input = label.to_vec();
    for side in [first, second] {
        input.extend_from_slice(side.fingerprint.as_bytes());
        input.push(0);
        input.extend_from_slice(side.value);
    }
    input
}

/// The code's SHA-256 input: both fingerprints and both values, the same on both sides
/// when (and only when) each sees the other's real fingerprint.
pub fn code_input(mine: Side, theirs: Side) -> Vec<u8> {
    both_sides(CODE_LABEL, mine, theirs)
}

/// The secret two devices keep once verified (SHA-256 of this): no one else saw both
/// values, which went over the DTLS connection the code proved direct.
pub fn secret_input(mine: Side, theirs: Side) -> Vec<u8> {
    both_sides(SECRET_LABEL, mine, theirs)
}

/// A hint's SHA-256 input: a kept secret and this call's two values (in byte order, so
/// the same on both sides even when each sees another fingerprint, as through a man in
/// the middle, whom it then betrays).
pub fn hint_input(secret: &Digest, a: &Digest, b: &Digest) -> Vec<u8> {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    [HINT_LABEL, secret, low, high].concat()
}

/// What a successor's fingerprint is announced as: the SHA-256 of this.
pub fn successor_input(fingerprint: &str) -> Vec<u8> {
    fingerprint.as_bytes().to_vec()
}

/// The code: the first four bytes of the code's digest, each a word of [`words`].
pub fn code_words(digest: &Digest) -> [u8; 4] {
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The certificate fingerprint of an SDP (its first `a=fingerprint:` line), as
/// `sha-256 AB:CD:…` with the algorithm in lower case and the hex in upper case.
pub fn sdp_fingerprint(sdp: &str) -> Option<String> {
    let line = sdp
        .lines()
        .find_map(|line| line.trim().strip_prefix("a=fingerprint:"))?;
    let (algorithm, value) = line.trim().split_once(' ')?;
    let value = value.trim();
    let well_formed =
        !value.is_empty() && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    well_formed.then(|| {
        format!(
            "{} {}",
            algorithm.to_ascii_lowercase(),
            value.to_ascii_uppercase()
        )
    })
}

/// A name as typed for a verified contact: trimmed, without control characters, at most
/// [`MAX_NAME_CHARS`]; none if nothing is left.
pub fn clean_name(typed: &str) -> Option<String> {
    let name: String = typed
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A device verified on this one: its fingerprint, the secret the two keep, the name
/// typed for it, and the fingerprint it said it will use next (as a [`Wire::Next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub fingerprint: String,
    pub secret: Digest,
    pub name: String,
    pub successor: Option<Digest>,
}

/// The devices verified on this one, as the keystore keeps them: one line each,
/// `fingerprint`, the secret in hex, the name and the successor in hex (or nothing),
/// separated by tabs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts(pub Vec<Contact>);

impl Contacts {
    /// Reads the kept text; a line that is not well-formed is skipped.
    pub fn from_text(text: &str) -> Contacts {
        Contacts(
            text.lines()
                .filter_map(|line| {
                    let mut fields = line.split('\t');
                    let fingerprint = fields.next()?.to_owned();
                    let secret = unhex(fields.next()?)?;
                    let name = clean_name(fields.next()?)?;
                    let successor = fields.next().and_then(unhex);
                    (!fingerprint.is_empty()).then_some(Contact {
                        fingerprint,
                        secret,
                        name,
                        successor,
                    })
                })
                .collect(),
        )
    }

    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|c| {
                let successor = c.successor.as_ref().map(hex).unwrap_or_default();
                format!(
                    "{}\t{}\t{}\t{successor}\n",
                    c.fingerprint,
                    hex(&c.secret),
                    c.name
                )
            })
            .collect()
    }

    /// The contact verified with this fingerprint.
    pub fn by_fingerprint(&self, fingerprint: &str) -> Option<&Contact> {
        self.0.iter().find(|c| c.fingerprint == fingerprint)
    }

    /// The contact whose device said it would use the fingerprint `hashed` (the SHA-256 of
    /// [`successor_input`]) next: the same device, its certificate renewed. It is kept
    /// under that fingerprint from now on.
    pub fn take_successor(&mut self, fingerprint: &str, hashed: &Digest) -> Option<&Contact> {
        let contact = self
            .0
            .iter_mut()
            .find(|c| c.successor.as_ref() == Some(hashed))?;
        contact.fingerprint = fingerprint.to_owned();
        contact.successor = None;
        Some(contact)
    }

    /// Notes the fingerprint the device verified as `fingerprint` will use next; false if
    /// no such contact, or it was noted already.
    pub fn note_successor(&mut self, fingerprint: &str, hashed: Digest) -> bool {
        match self.0.iter_mut().find(|c| c.fingerprint == fingerprint) {
            Some(contact) if contact.successor != Some(hashed) => {
                contact.successor = Some(hashed);
                true
            }
            _ => false,
        }
    }

    /// Another device already verified under `name`.
    pub fn name_taken(&self, name: &str, fingerprint: &str) -> bool {
        self.0
            .iter()
            .any(|c| c.name == name && c.fingerprint != fingerprint)
    }

    /// Keeps `contact`, in place of any with its fingerprint or its name.
    pub fn keep(&mut self, contact: Contact) {
        self.0
            .retain(|c| c.fingerprint != contact.fingerprint && c.name != contact.name);
        self.0.push(contact);
    }
}

/// What the page knows about the other device in this call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Standing {
    /// The exchange is under way.
    #[default]
    Pending,
    /// The code is shown; the device is not among the verified.
    Unverified,
    /// A verified device, under this name.
    Verified(String),
    /// The other side knows the secret of a contact verified here under this name, but
    /// its fingerprint is another: a new device, or someone in the middle.
    OtherDevice(String),
    /// The person said the words differ.
    Differ,
    /// The other side broke the exchange's rules.
    Broken,
}

impl Standing {
    /// Whether it calls for the person's attention.
    pub fn warns(&self) -> bool {
        matches!(
            self,
            Standing::OtherDevice(_) | Standing::Differ | Standing::Broken
        )
    }
}

/// The call's verification: its chip in the top bar and its sheet. The views render both
/// once, empty; the browser's half fills them.
#[derive(Clone, Copy)]
pub struct Verify {
    pub chip: NodeRef<leptos::html::Button>,
    pub panel: NodeRef<leptos::html::Aside>,
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code))]
    browser: imp::Browser,
}

impl Verify {
    pub fn new() -> Verify {
        Verify {
            chip: NodeRef::new(),
            panel: NodeRef::new(),
            browser: imp::Browser::new(),
        }
    }
}

impl Default for Verify {
    fn default() -> Self {
        Verify::new()
    }
}

/// The server's half: a page rendered on the server verifies nothing.
#[cfg(not(feature = "hydrate"))]
mod imp {
    use crate::contours::call::Call;

    pub use crate::contours::ServerHalf as Browser;

    pub fn toggle(_: Call) {}
    pub fn forget(_: Call) {}
    pub fn is_open(_: Call) -> bool {
        false
    }
}

/// The browser's half: the channel, the exchange's task, the chip and the sheet.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
use browser as imp;

#[cfg(test)]
mod tests {
    use super::*;

    const FP_A: &str = "sha-256 AA:01";
    const FP_B: &str = "sha-256 BB:02";

    #[test]
    fn wire_round_trips_and_refuses_the_rest() {
        let digest = [0xab; 32];
        for wire in [
            Wire::Commit(digest),
            Wire::Reveal(digest),
            Wire::Hint(digest),
            Wire::Next(digest),
            Wire::Done,
        ] {
            assert_eq!(Wire::from_wire(&wire.to_wire()), Some(wire));
        }
        assert_eq!(Wire::Commit(digest).to_wire().len(), 65);
        assert_eq!(Wire::from_wire(&format!("C{}", "AB".repeat(32))), None);
        assert_eq!(
            Wire::from_wire(&format!("c{}", "AB".repeat(32))),
            Some(Wire::Commit(digest)),
            "either case"
        );
        for bad in [
            "",
            "c",
            "cab",
            &format!("c{}", "ab".repeat(33)),
            &format!("x{}", "ab".repeat(32)),
            &format!("c{}g", "ab".repeat(31)),
        ] {
            assert_eq!(Wire::from_wire(bad), None, "{bad}");
        }
        assert_eq!(Wire::from_wire(&format!("cé{}", "a".repeat(62))), None);
    }

    #[test]
    fn the_value_goes_only_after_the_other_commitment() {
        let mut exchange = Exchange::new([1; 32], [2; 32]);
        assert_eq!(exchange.on_tick(), vec![Wire::Commit([2; 32])]);
        assert_eq!(
            exchange.on_reveal([3; 32], [4; 32]),
            Err(Broken::RevealFirst)
        );
        assert_eq!(
            exchange.on_commit([4; 32]),
            Ok(vec![Wire::Commit([2; 32]), Wire::Reveal([1; 32])])
        );
        assert_eq!(exchange.on_commit([4; 32]), Ok(vec![]), "a repeat");
        assert_eq!(
            exchange.on_tick(),
            vec![Wire::Commit([2; 32]), Wire::Reveal([1; 32])],
            "repeated until the other side says done"
        );
        assert_eq!(exchange.on_commit([5; 32]), Err(Broken::CommitChanged));
        assert_eq!(
            exchange.on_reveal([3; 32], [9; 32]),
            Err(Broken::RevealMismatch)
        );
        assert_eq!(exchange.on_reveal([3; 32], [4; 32]), Ok(Some([3; 32])));
        assert_eq!(exchange.on_reveal([3; 32], [4; 32]), Ok(None));
        exchange.on_done();
        assert_eq!(exchange.on_tick(), vec![], "nothing more to repeat");
    }

    #[test]
    fn both_sides_hash_the_same_input_only_with_the_same_fingerprints() {
        let (ra, rb) = ([1; 32], [2; 32]);
        let a = Side {
            fingerprint: FP_A,
            value: &ra,
        };
        let b = Side {
            fingerprint: FP_B,
            value: &rb,
        };
        assert_eq!(code_input(a, b), code_input(b, a));
        assert_eq!(secret_input(a, b), secret_input(b, a));
        assert_ne!(code_input(a, b), secret_input(a, b), "labels differ");
        // In the middle: each side sees the attacker's fingerprint instead.
        let m = "sha-256 CC:03";
        let a_sees = code_input(
            a,
            Side {
                fingerprint: m,
                value: &rb,
            },
        );
        let b_sees = code_input(
            Side {
                fingerprint: m,
                value: &ra,
            },
            b,
        );
        assert_ne!(a_sees, b_sees);
        // The same device on both ends (two tabs): ordered by value.
        let twin = Side {
            fingerprint: FP_A,
            value: &rb,
        };
        assert_eq!(code_input(a, twin), code_input(twin, a));
    }

    #[test]
    fn hints_match_whatever_fingerprints_each_side_sees() {
        let secret = [7; 32];
        assert_eq!(
            hint_input(&secret, &[1; 32], &[2; 32]),
            hint_input(&secret, &[2; 32], &[1; 32])
        );
        assert_ne!(
            hint_input(&secret, &[1; 32], &[2; 32]),
            hint_input(&[8; 32], &[1; 32], &[2; 32])
        );
    }

    #[test]
    fn the_code_is_four_words_from_four_bytes() {
        let mut digest = [0u8; 32];
        digest[..4].copy_from_slice(&[0, 1, 255, 37]);
        let said = code_words(&digest).map(|i| words::word(i, crate::i18n::Lang::En).1);
        assert_eq!(said, ["dog", "cat", "carousel", "fish"]);
    }

    #[test]
    fn fingerprints_come_from_the_sdp() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:SHA-256 ab:CD:0f\r\nm=audio\r\na=fingerprint:sha-256 11:22\r\n";
        assert_eq!(sdp_fingerprint(sdp).as_deref(), Some("sha-256 AB:CD:0F"));
        assert_eq!(sdp_fingerprint("v=0\r\n"), None);
        assert_eq!(sdp_fingerprint("a=fingerprint:sha-256 zz\r\n"), None);
        assert_eq!(sdp_fingerprint("a=fingerprint:sha-256\r\n"), None);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  Мама \n").as_deref(), Some("Мама"));
        assert_eq!(clean_name("a\tb").as_deref(), Some("ab"));
        assert_eq!(clean_name(" \t "), None);
        assert_eq!(
            clean_name(&"я".repeat(50)).map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
    }

    fn contact(fingerprint: &str, secret: u8, name: &str) -> Contact {
        Contact {
            fingerprint: fingerprint.into(),
            secret: [secret; 32],
            name: name.into(),
            successor: None,
        }
    }

    #[test]
    fn contacts_keep_one_device_a_name() {
        let mut contacts = Contacts::default();
        contacts.keep(contact(FP_A, 1, "Мама"));
        contacts.keep(Contact {
            successor: Some([9; 32]),
            ..contact(FP_B, 2, "Папа")
        });
        let text = contacts.to_text();
        assert_eq!(Contacts::from_text(&text), contacts);
        assert_eq!(
            contacts.by_fingerprint(FP_B).map(|c| c.name.as_str()),
            Some("Папа")
        );
        assert!(contacts.name_taken("Мама", FP_B));
        assert!(!contacts.name_taken("Мама", FP_A));
        // Mum's new phone replaces the old one under her name.
        contacts.keep(contact("sha-256 DD", 3, "Мама"));
        assert_eq!(contacts.0.len(), 2);
        assert!(contacts.by_fingerprint(FP_A).is_none());
        let damaged = format!(
            "{text}broken line\nfp\tnothex\tname\n\t{}\tx\n",
            hex(&[0; 32])
        );
        assert_eq!(Contacts::from_text(&damaged).0.len(), 2);
    }

    #[test]
    fn a_renewed_certificate_announced_before_keeps_the_contact() {
        let mut contacts = Contacts::default();
        contacts.keep(contact(FP_A, 1, "Мама"));
        assert!(!contacts.note_successor(FP_B, [5; 32]), "no such contact");
        assert!(contacts.note_successor(FP_A, [5; 32]));
        assert!(!contacts.note_successor(FP_A, [5; 32]), "noted already");
        assert_eq!(Contacts::from_text(&contacts.to_text()), contacts);
        assert!(contacts.take_successor("sha-256 EE", &[6; 32]).is_none());
        let renewed = contacts.take_successor("sha-256 EE", &[5; 32]).cloned();
        assert_eq!(
            renewed.map(|c| (c.name, c.successor)),
            Some(("Мама".into(), None))
        );
        assert_eq!(
            contacts.by_fingerprint("sha-256 EE").map(|c| c.secret),
            Some([1; 32])
        );
        assert!(contacts.by_fingerprint(FP_A).is_none());
    }

    #[test]
    fn only_trouble_warns() {
        assert!(!Standing::Pending.warns());
        assert!(!Standing::Unverified.warns());
        assert!(!Standing::Verified("Мама".into()).warns());
        assert!(Standing::OtherDevice("Мама".into()).warns());
        assert!(Standing::Differ.warns());
        assert!(Standing::Broken.warns());
    }
}
