//! A UDP echo on the shard runtime: one unpinned shard that sends every
//! datagram back, with either UDP driver. Measured like the raw echoes in
//! `perf` (pin it with `taskset`, drive it with `riptide-load options
//! --expect-echo`), it shows what the runtime costs per datagram before any
//! SIP work: the difference to `riptide-compare echo` is glommio's
//! scheduling and the driver.
//!
//! `cargo run --release -p shards --example udp_echo -- [uring|glommio] [ADDR]`
//! prints `listening ADDR` and echoes until killed.

use shards::{App, Inbound, Runtime, RuntimeConfig, Shard, UdpDriver};
use std::rc::Rc;

struct Echo;

impl App for Echo {
    type Mesh = ();

    fn on_message(&self, shard: &Rc<Shard<Self>>, msg: Inbound) {
        if let Err(e) = shard.send_udp(Some(msg.origin.local), msg.origin.peer, &msg.data) {
            eprintln!("udp_echo: {e}");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let driver: UdpDriver = args.next().as_deref().unwrap_or("glommio").parse()?;
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".to_owned())
        .parse()?;
    let rt = Runtime::start(
        RuntimeConfig {
            shards: 1,
            pin: false,
            udp: vec![addr],
            udp_driver: driver,
            ..RuntimeConfig::default()
        },
        |_| Echo,
    )?;
    for a in &rt.bound().udp {
        println!("listening {a}");
    }
    rt.join()?;
    Ok(())
}
