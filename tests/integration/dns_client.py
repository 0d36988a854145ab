"""Small helpers around dnspython for talking to a real dnsd."""
import socket
import struct

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype


def query(port, name, rdtype="A", tcp=False, use_edns=0, payload=1232, want_dnssec=False,
          options=None, timeout=3):
    """use_edns: None for no EDNS, else the EDNS version to send."""
    msg = dns.message.make_query(name, rdtype, want_dnssec=want_dnssec)
    if use_edns is None:
        msg.use_edns(False)
    else:
        msg.use_edns(edns=use_edns, ednsflags=dns.flags.DO if want_dnssec else 0, payload=payload,
                     options=options)
    if tcp:
        return dns.query.tcp(msg, "127.0.0.1", port=port, timeout=timeout)
    return dns.query.udp(msg, "127.0.0.1", port=port, timeout=timeout, ignore_trailing=True)


def raw_udp(port, payload, timeout=1.0):
    """Sends raw bytes; returns the raw answer or None when the server stays silent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def header(raw):
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", raw[:12])
    return {"id": ident, "flags": flags, "rcode": flags & 0xF, "qd": qd, "an": an, "ns": ns, "ar": ar,
            "tc": bool(flags & 0x0200), "aa": bool(flags & 0x0400), "qr": bool(flags & 0x8000)}


def addresses(response):
    return [rd.address for rrset in response.answer for rd in rrset if rrset.rdtype in (1, 28)]
