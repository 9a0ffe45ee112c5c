//! The DNS probe's response path: bytes from a server (over UDP, or a
//! TCP frame's body) read as the answer to our query. A server may send
//! anything: short messages, another id, a query, another question,
//! records that run past the end, compression loops, odd EDNS options
//! (a Client Subnet scope or source longer than the address). Nothing
//! panics; an answer that is accepted carries our id.
//!
//! Input: a control byte choosing the question asked (A, AAAA, TXT or
//! CNAME for `edge.cdn.test.`, with or without ECS), then the message.
//! The id asked is the message's own, so the fuzzer gets past the id
//! check; a mismatched id is covered by the unit tests.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use netproof_probe::dns::wire::{Question, parse_response, peek_id, tcp_frame};
use netproof_probe::dns::{DnsName, IpNet, RecordType};

fn questions() -> &'static [Question] {
    static QS: OnceLock<Vec<Question>> = OnceLock::new();
    QS.get_or_init(|| {
        let name = DnsName::parse("edge.cdn.test").expect("a name");
        let subnet: IpNet = "198.18.4.0/24".parse().expect("a prefix");
        let mut qs = Vec::new();
        for t in ["A", "AAAA", "TXT", "CNAME"] {
            let mut q = Question::new(name.clone(), RecordType::parse(t).expect("a type"));
            qs.push(q.clone());
            q.subnet = Some(subnet);
            qs.push(q);
        }
        qs
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, msg)) = data.split_first() else {
        return;
    };
    let qs = questions();
    let question = &qs[usize::from(control) % qs.len()];
    let id = peek_id(msg).unwrap_or(0);
    match parse_response(msg, id, question) {
        Ok(r) => {
            assert_eq!(r.id, id);
            let _ = (r.ok(), r.min_ttl(), r.flags.text());
            let _ = format!("{r:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let framed = tcp_frame(msg);
    assert_eq!(&framed[2..], &msg[..msg.len().min(65_535)]);
});
