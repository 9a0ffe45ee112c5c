//! A stub lookup: a name's first address from a node's own resolvers, for
//! a probe given a name (an `http` step to `https://video.cdn.test/...`
//! on a node with a `resolver`), over a UDP socket the caller makes on
//! the node. A (then AAAA when there is no A) from each resolver in turn,
//! each exchange bounded; the answer's first address record wins. Not a
//! resolver: no cache, no search list, no CNAME chasing beyond what the
//! resolver puts in its answer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::wire::{Question, parse_response};
use super::{DnsName, RecordType};

/// Why a name has no address.
#[derive(Debug, thiserror::Error)]
#[error("cannot look up `{name}` through {servers}: {why}")]
pub struct LookupError {
    /// The name.
    pub name: String,
    /// The resolvers asked, as a list.
    pub servers: String,
    /// What the last one said.
    pub why: String,
}

/// The first address of `name` from `servers` (port 53), each asked over
/// a socket `socket_for` makes, within `each` per exchange.
pub async fn lookup(
    name: &str,
    servers: &[IpAddr],
    socket_for: impl Fn(SocketAddr) -> std::io::Result<UdpSocket>,
    each: Duration,
) -> Result<IpAddr, LookupError> {
    let fail = |why: String| LookupError {
        name: name.to_string(),
        servers: servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        why,
    };
    let dns_name = DnsName::parse(name).map_err(|e| fail(e.to_string()))?;
    let mut why = "no resolver".to_string();
    for &server in servers {
        let addr = SocketAddr::new(server, 53);
        for rtype in [RecordType::A, RecordType::AAAA] {
            match ask(&socket_for, addr, &dns_name, rtype, each).await {
                Ok(Some(ip)) => return Ok(ip),
                Ok(None) => why = format!("{server} has no {rtype} record"),
                Err(e) => {
                    why = format!("{server}: {e}");
                    break;
                }
            }
        }
    }
    Err(fail(why))
}

async fn ask(
    socket_for: &impl Fn(SocketAddr) -> std::io::Result<UdpSocket>,
    server: SocketAddr,
    name: &DnsName,
    rtype: RecordType,
    each: Duration,
) -> Result<Option<IpAddr>, String> {
    let question = Question::new(name.clone(), rtype);
    // Any id: the answer is matched on it and on the question.
    let id = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        & 0xffff) as u16;
    let query = question.encode(id)?;
    let sock = socket_for(server).map_err(|e| format!("no UDP socket: {e}"))?;
    let exchange = async {
        sock.send_to(&query, server)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.map_err(|e| e.to_string())?;
            if from != server {
                continue;
            }
            // A datagram that is not the answer to this query is ignored.
            if let Ok(r) = parse_response(&buf[..n], id, &question) {
                return Ok::<_, String>(r);
            }
        }
    };
    let response = tokio::time::timeout(each, exchange)
        .await
        .map_err(|_| format!("no answer within {each:?}"))??;
    if response.rcode != "NOERROR" {
        return Err(format!("answered {}", response.rcode));
    }
    Ok(response
        .answers
        .iter()
        .filter(|r| r.rtype == "A" || r.rtype == "AAAA")
        .find_map(|r| r.data.parse().ok()))
}
