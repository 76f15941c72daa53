//! A minimal rtnetlink client: the few link, address and route changes a sandbox's veth pair
//! needs, made in-process instead of by an `ip` process (on a busy 2-core host, starting `ip`
//! costs ~5 ms; a netlink request costs tens of microseconds).
//!
//! Each request carries `NLM_F_ACK` and waits for the kernel's answer, so an error (`EEXIST`,
//! `ENODEV`, `EPERM`, ...) comes back from the call that caused it. A socket belongs to the
//! network namespace of the thread that opened it: to change a sandbox's namespace, open one
//! from a thread that joined it (see `veth.rs`).
//!
//! Message layouts are the kernel's (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/veth.h`), in native byte order; the constants below carry their header names.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
    socket,
};

// linux/netlink.h
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_HDRLEN: usize = 16;
// linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
const RTA_GATEWAY: u16 = 5;
// linux/if_addr.h
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
// linux/if_link.h
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_INFO_SLAVE_KIND: u16 = 4;
const IFLA_INFO_SLAVE_DATA: u16 = 5;
const IFLA_BRPORT_LEARNING: u16 = 8;
const IFLA_BRPORT_ISOLATED: u16 = 33;
// linux/veth.h
const VETH_INFO_PEER: u16 = 1;
// linux/if.h, linux/socket.h
const IFF_UP: u32 = 0x1;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;

/// A MAC address.
pub(crate) type Mac = [u8; 6];

/// The other end of a veth pair being created: its name, MAC address, and the process whose
/// network namespace it goes into.
pub(crate) struct Peer<'a> {
    pub(crate) name: &'a str,
    pub(crate) mac: Mac,
    pub(crate) netns_pid: u32,
}

/// A `NETLINK_ROUTE` socket of the calling thread's network namespace.
pub(crate) struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

impl Rtnl {
    /// Open a socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Rtnl> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(Rtnl { fd, seq: 0 })
    }

    /// Create the veth pair `name` (MAC `mac`, a port of the bridge with index `master`) and
    /// `peer`, created straight into the peer's namespace. Both ends stay down.
    pub(crate) fn add_veth(
        &mut self,
        name: &str,
        mac: Mac,
        master: u32,
        peer: &Peer<'_>,
    ) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(AF_UNSPEC, 0, 0, 0);
        m.attr_str(IFLA_IFNAME, name);
        m.attr(IFLA_ADDRESS, &mac);
        m.attr(IFLA_MASTER, &master.to_ne_bytes());
        m.nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_KIND, "veth");
            m.nested(IFLA_INFO_DATA, |m| {
                m.nested(VETH_INFO_PEER, |m| {
                    m.ifinfo(AF_UNSPEC, 0, 0, 0);
                    m.attr_str(IFLA_IFNAME, peer.name);
                    m.attr(IFLA_ADDRESS, &peer.mac);
                    m.attr(IFLA_NET_NS_PID, &peer.netns_pid.to_ne_bytes());
                });
            });
        });
        self.request(m)
    }

    /// Make the bridge port with index `index` isolated (it talks only to non-isolated ports:
    /// the host) and non-learning, and bring it up.
    pub(crate) fn isolate_port_and_up(&mut self, index: u32) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.ifinfo(AF_UNSPEC, index, IFF_UP, IFF_UP);
        m.nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_SLAVE_KIND, "bridge");
            m.nested(IFLA_INFO_SLAVE_DATA, |m| {
                m.attr(IFLA_BRPORT_ISOLATED, &[1]);
                m.attr(IFLA_BRPORT_LEARNING, &[0]);
            });
        });
        self.request(m)
    }

    /// Bring the link with index `index` up.
    pub(crate) fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.ifinfo(AF_UNSPEC, index, IFF_UP, IFF_UP);
        self.request(m)
    }

    /// Delete the link with index `index` (a veth end takes its peer along).
    pub(crate) fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut m = Message::new(RTM_DELLINK, 0);
        m.ifinfo(AF_UNSPEC, index, 0, 0);
        self.request(m)
    }

    /// Add `ip/prefix` to the link with index `index`.
    pub(crate) fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        // struct ifaddrmsg: family, prefixlen, flags, scope, index.
        m.bytes(&[AF_INET, prefix, 0, RT_SCOPE_UNIVERSE]);
        m.bytes(&index.to_ne_bytes());
        m.attr(IFA_LOCAL, &ip.octets());
        m.attr(IFA_ADDRESS, &ip.octets());
        self.request(m)
    }

    /// Add the default route via `gateway` to the main table.
    pub(crate) fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        m.bytes(&[
            AF_INET,
            0,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ]);
        m.bytes(&0u32.to_ne_bytes());
        m.attr(RTA_GATEWAY, &gateway.octets());
        self.request(m)
    }

    /// Send `m` and wait for its acknowledgement: `Ok` or the kernel's errno.
    fn request(&mut self, mut m: Message) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let buf = m.finish(seq);
        let sent = send(self.fd.as_raw_fd(), &buf, MsgFlags::empty())?;
        if sent != buf.len() {
            return Err(io::Error::other("short netlink send"));
        }
        let mut answer = vec![0u8; 8192];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut answer, MsgFlags::empty())?;
            if let Some(result) = ack_of(&answer[..n], seq)? {
                return result;
            }
        }
    }
}

/// The acknowledgement of request `seq` in the datagram `buf`, if it holds one: `Some(Ok)` for
/// success, `Some(Err)` with the kernel's errno, `None` when `buf` answers something else.
fn ack_of(buf: &[u8], seq: u32) -> io::Result<Option<io::Result<()>>> {
    let truncated = || io::Error::new(io::ErrorKind::InvalidData, "truncated netlink answer");
    let mut rest = buf;
    while rest.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(truncated());
        }
        let ty = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
        let msg_seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
        if ty == NLMSG_ERROR && msg_seq == seq {
            // struct nlmsgerr: int error (0 = ack, else -errno), then the request's header.
            let error = rest
                .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                .ok_or_else(truncated)?;
            let error = i32::from_ne_bytes(error.try_into().expect("4 bytes"));
            return Ok(Some(if error == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(-error))
            }));
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    Ok(None)
}

/// Netlink's 4-byte alignment.
fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// A request being built: the header (its length and sequence number filled in by `finish`),
/// then the family-specific struct, then attributes.
struct Message {
    buf: Vec<u8>,
}

impl Message {
    fn new(ty: u16, flags: u16) -> Message {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence number
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        Message { buf }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// struct ifinfomsg: family, pad, type, index, flags, change.
    fn ifinfo(&mut self, family: u8, index: u32, flags: u32, change: u32) {
        self.bytes(&[family, 0]);
        self.bytes(&0u16.to_ne_bytes());
        self.bytes(&index.to_ne_bytes());
        self.bytes(&flags.to_ne_bytes());
        self.bytes(&change.to_ne_bytes());
    }

    fn attr(&mut self, ty: u16, payload: &[u8]) {
        let len = u16::try_from(4 + payload.len()).expect("attribute under 64 KiB");
        self.bytes(&len.to_ne_bytes());
        self.bytes(&ty.to_ne_bytes());
        self.bytes(payload);
        self.pad();
    }

    /// A NUL-terminated string attribute.
    fn attr_str(&mut self, ty: u16, s: &str) {
        let mut payload = Vec::with_capacity(s.len() + 1);
        payload.extend_from_slice(s.as_bytes());
        payload.push(0);
        self.attr(ty, &payload);
    }

    /// An attribute holding whatever `fill` adds.
    fn nested(&mut self, ty: u16, fill: impl FnOnce(&mut Message)) {
        let start = self.buf.len();
        self.bytes(&0u16.to_ne_bytes());
        self.bytes(&(ty | NLA_F_NESTED).to_ne_bytes());
        fill(self);
        let len = u16::try_from(self.buf.len() - start).expect("attribute under 64 KiB");
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    fn finish(&mut self, seq: u32) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).expect("message under 4 GiB");
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested_lengths_cover_their_children() {
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.nested(IFLA_LINKINFO, |m| m.attr_str(IFLA_INFO_KIND, "veth"));
        let buf = m.finish(7);
        assert_eq!(buf.len(), NLMSG_HDRLEN + 4 + 12);
        assert_eq!(u32::from_ne_bytes(buf[0..4].try_into().unwrap()), 32);
        assert_eq!(u32::from_ne_bytes(buf[8..12].try_into().unwrap()), 7);
        let nested = &buf[NLMSG_HDRLEN..];
        assert_eq!(u16::from_ne_bytes(nested[0..2].try_into().unwrap()), 16);
        assert_eq!(
            u16::from_ne_bytes(nested[2..4].try_into().unwrap()),
            IFLA_LINKINFO | NLA_F_NESTED
        );
        // "veth\0" is 5 bytes: a 9-byte attribute padded to 12.
        assert_eq!(u16::from_ne_bytes(nested[4..6].try_into().unwrap()), 9);
        assert_eq!(&nested[8..13], b"veth\0");
        assert_eq!(&nested[13..16], &[0, 0, 0]);
    }

    fn error_message(seq: u32, errno: i32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&36u32.to_ne_bytes());
        b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b.extend_from_slice(&0u16.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&(-errno).to_ne_bytes());
        b.extend_from_slice(&[0; 16]);
        b
    }

    #[test]
    fn acknowledgements_and_errors_are_matched_by_sequence_number() {
        assert!(matches!(ack_of(&error_message(3, 0), 3), Ok(Some(Ok(())))));
        let err = ack_of(&error_message(3, libc_eexist()), 3)
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(matches!(ack_of(&error_message(2, 0), 3), Ok(None)));
        assert!(ack_of(&error_message(3, 0)[..20], 3).is_err());
    }

    fn libc_eexist() -> i32 {
        nix::errno::Errno::EEXIST as i32
    }

    /// The real kernel (root only), in namespaces the test makes: a veth pair from a bridge in
    /// one namespace into another process's namespace, isolated and non-learning, then loopback,
    /// an address and a default route on the far side; and the errors of doing it twice.
    #[test]
    fn a_veth_pair_with_address_and_route_between_fresh_namespaces() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: needs root");
            return;
        }
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let run = |args: &[&str]| {
                let out = std::process::Command::new(args[0])
                    .args(&args[1..])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{args:?}: {out:?}");
                String::from_utf8(out.stdout).unwrap()
            };
            run(&["ip", "link", "add", "br0", "type", "bridge"]);
            let mut far = std::process::Command::new("unshare")
                .args(["-n", "sleep", "30"])
                .spawn()
                .unwrap();
            let mine = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
            let far_ns = format!("/proc/{}/ns/net", far.id());
            let started = std::time::Instant::now();
            while std::fs::read_link(&far_ns).is_ok_and(|l| l == mine) {
                assert!(started.elapsed().as_secs() < 5, "unshare did not start");
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let result = std::panic::catch_unwind(|| {
                let mut rtnl = Rtnl::open().unwrap();
                let br = nix::net::if_::if_nametoindex("br0").unwrap();
                let peer = Peer {
                    name: "eth0",
                    mac: [2, 0x57, 10, 9, 0, 2],
                    netns_pid: far.id(),
                };
                rtnl.add_veth("wvtest", [2, 0x56, 10, 9, 0, 2], br, &peer)
                    .unwrap();
                let err = rtnl
                    .add_veth("wvtest", [2, 0x56, 10, 9, 0, 2], br, &peer)
                    .unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
                let port = nix::net::if_::if_nametoindex("wvtest").unwrap();
                rtnl.isolate_port_and_up(port).unwrap();
                let shown = run(&["ip", "-d", "link", "show", "wvtest"]);
                assert!(shown.contains("master br0"), "{shown}");
                assert!(shown.contains("learning off"), "{shown}");
                assert!(shown.contains("isolated on"), "{shown}");
                assert!(shown.contains("02:56:0a:09:00:02"), "{shown}");

                let ns = std::fs::File::open(&far_ns).unwrap();
                std::thread::spawn(move || {
                    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                    let mut inside = Rtnl::open().unwrap();
                    let lo = nix::net::if_::if_nametoindex("lo").unwrap();
                    let eth0 = nix::net::if_::if_nametoindex("eth0").unwrap();
                    inside.set_up(lo).unwrap();
                    let ip: Ipv4Addr = "10.9.0.2".parse().unwrap();
                    inside.add_address(eth0, ip, 24).unwrap();
                    inside.set_up(eth0).unwrap();
                    inside
                        .add_default_route("10.9.0.1".parse().unwrap())
                        .unwrap();
                    let shown = run(&["ip", "addr", "show", "eth0"]);
                    assert!(shown.contains("inet 10.9.0.2/24"), "{shown}");
                    assert!(shown.contains("02:57:0a:09:00:02"), "{shown}");
                    let routes = run(&["ip", "route"]);
                    assert!(routes.contains("default via 10.9.0.1 dev eth0"), "{routes}");
                    let err = inside.add_address(eth0, ip, 24).unwrap_err();
                    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
                })
                .join()
                .unwrap();

                rtnl.delete_link(port).unwrap();
                assert!(nix::net::if_::if_nametoindex("wvtest").is_err());
                let err = rtnl.delete_link(port).unwrap_err();
                assert_eq!(err.raw_os_error(), Some(nix::errno::Errno::ENODEV as i32));
            });
            let _ = far.kill();
            let _ = far.wait();
            if let Err(p) = result {
                std::panic::resume_unwind(p);
            }
        })
        .join()
        .unwrap();
    }
}
