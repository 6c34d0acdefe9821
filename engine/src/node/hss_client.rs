//! The HSS-cache client on a shard: Homestead's HTTP API (riptide-control's
//! port 8888, or a real Homestead) over keep-alive connections the shard
//! owns. Requests are encoded and answers framed by [`crate::hss`]; this adds
//! the sockets, the pool and the timeout. An unreachable or slow cache is a
//! typed error the role maps to 504, never a hang.

use crate::hss::{
    AuthVector, HssError, HssRequest, HttpResponse, HttpResponseFramer, RegData, RegDataReqType,
    parse_auth_vector,
};
use crate::scscf::HssCache;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

/// Largest answer accepted (an IMSSubscription with many iFCs fits well inside).
const RESPONSE_BYTES_MAX: usize = 1 << 20;
/// Idle connections kept per shard.
const POOL_MAX: usize = 8;

pub struct HttpHss {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    server_name: String,
    idle: RefCell<Vec<TcpStream>>,
}

impl HttpHss {
    pub fn new(addr: SocketAddr, timeout: Duration, server_name: String) -> Self {
        Self {
            addr,
            host: addr.to_string(),
            timeout,
            server_name,
            idle: RefCell::new(Vec::new()),
        }
    }

    async fn exchange(&self, req: &HssRequest) -> Result<HttpResponse, HssError> {
        let bytes = req.encode(&self.host);
        // A pooled connection may have been closed by the server while idle:
        // one retry on a fresh connection covers that (and only that).
        let pooled = self.idle.borrow_mut().pop();
        if let Some(conn) = pooled {
            if let Ok(r) = self.on(conn, &bytes).await {
                return Ok(r);
            }
        }
        let conn = glommio::timer::timeout(self.timeout, TcpStream::connect(self.addr))
            .await
            .map_err(|_| HssError::Unreachable)?;
        self.on(conn, &bytes).await
    }

    async fn on(&self, mut conn: TcpStream, request: &[u8]) -> Result<HttpResponse, HssError> {
        let answer = glommio::timer::timeout(self.timeout, async {
            conn.write_all(request).await?;
            let mut framer = HttpResponseFramer::new(RESPONSE_BYTES_MAX);
            let mut buf = [0u8; 8192];
            loop {
                match framer.next_response() {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => {}
                    Err(e) => return Err(std::io::Error::other(e.to_string()).into()),
                }
                let n = conn.read(&mut buf).await?;
                if n == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
                framer.push(&buf[..n]);
            }
        })
        .await;
        match answer {
            Ok(r) => {
                if !r.close {
                    let mut idle = self.idle.borrow_mut();
                    if idle.len() < POOL_MAX {
                        idle.push(conn);
                    }
                }
                Ok(r)
            }
            Err(glommio::GlommioError::TimedOut(_)) => Err(HssError::Timeout),
            Err(_) => Err(HssError::Unreachable),
        }
    }
}

fn reg_data(r: HttpResponse) -> Result<RegData, HssError> {
    match r.status {
        200 => RegData::parse(&r.body),
        404 => Err(HssError::NotFound),
        s => Err(HssError::Status(s)),
    }
}

impl HssCache for HttpHss {
    async fn digest_av(&self, impi: &str, impu: &str) -> Result<AuthVector, HssError> {
        let r = self
            .exchange(&HssRequest::DigestAv {
                impi: impi.to_owned(),
                impu: Some(impu.to_owned()),
            })
            .await?;
        parse_auth_vector(r.status, &r.body)
    }

    async fn put_reg_data(
        &self,
        impu: &str,
        impi: Option<&str>,
        reqtype: RegDataReqType,
    ) -> Result<RegData, HssError> {
        let r = self
            .exchange(&HssRequest::PutRegData {
                impu: impu.to_owned(),
                impi: impi.map(str::to_owned),
                reqtype,
                server_name: Some(self.server_name.clone()),
            })
            .await?;
        reg_data(r)
    }

    async fn get_reg_data(&self, impu: &str) -> Result<RegData, HssError> {
        let r = self
            .exchange(&HssRequest::GetRegData {
                impu: impu.to_owned(),
            })
            .await?;
        reg_data(r)
    }
}
