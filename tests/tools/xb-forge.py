#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""xb-forge: sends one forged frame out of a device, as a spoofing guest would, with
valid checksums so that a stack that receives it would believe it. Python's standard
library only (no scapy): the tests need no more than these few frames.

  xb-forge.py garp --dev eth0 --mac MAC --ip IP           gratuitous ARP claiming IP
  xb-forge.py na --dev eth0 --mac MAC --ip IP6 --target IP6
                                                          unsolicited NA claiming target
  xb-forge.py bpdu --dev eth0 --mac MAC                   an STP configuration BPDU
  xb-forge.py pvst --dev eth0 --mac MAC                   a Cisco PVST+ BPDU (VLAN 1)
  xb-forge.py ra --dev eth0 --mac MAC                     a router advertisement of
                                                          fd99::/64, to ff02::1
  xb-forge.py dhcp6 --dev eth0 --mac MAC                  a DHCPv6 Advertise, to ff02::1
"""
import argparse
import ipaddress
import socket
import struct


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def garp(a):
    mac = mac_bytes(a.mac)
    ip = ipaddress.IPv4Address(a.ip).packed
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\0" * 6 + ip
    return b"\xff" * 6 + mac + struct.pack("!H", 0x0806) + arp


def na(a):
    mac = mac_bytes(a.mac)
    src = ipaddress.IPv6Address(a.ip).packed
    dst = ipaddress.IPv6Address("ff02::1").packed
    target = ipaddress.IPv6Address(a.target).packed
    # Override flag, the target, and a target link-layer address option (ours).
    body = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target + bytes([2, 1]) + mac
    pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
    return mac_bytes("33:33:00:00:00:01") + mac + struct.pack("!H", 0x86DD) + ip6 + body


def bpdu(a):
    mac = mac_bytes(a.mac)
    # 802.3 length, LLC 42 42 03, an STP configuration BPDU (35 bytes).
    llc = bytes([0x42, 0x42, 0x03])
    cfg = struct.pack("!HBBB", 0, 0, 0, 0) + b"\x80\x00" + mac + struct.pack("!I", 0)
    cfg += b"\x80\x00" + mac + struct.pack("!HHHHH", 0x8001, 0, 20 * 256, 2 * 256, 15 * 256)
    payload = llc + cfg
    return mac_bytes("01:80:c2:00:00:00") + mac + struct.pack("!H", len(payload)) + payload


def pvst(a):
    mac = mac_bytes(a.mac)
    # LLC/SNAP with Cisco's OUI and PVST+'s PID, the configuration BPDU, and the TLV
    # naming its VLAN (type 0, length 2, VLAN 1).
    snap = bytes([0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x01, 0x0B])
    cfg = struct.pack("!HBBB", 0, 0, 0, 0) + b"\x80\x01" + mac + struct.pack("!I", 0)
    cfg += b"\x80\x01" + mac + struct.pack("!HHHHH", 0x8001, 0, 20 * 256, 2 * 256, 15 * 256)
    payload = snap + cfg + struct.pack("!HHH", 0, 2, 1)
    return mac_bytes("01:00:0c:cc:cc:cd") + mac + struct.pack("!H", len(payload)) + payload


def link_local(mac):
    eui = bytearray(mac[:3] + b"\xff\xfe" + mac[3:])
    eui[0] ^= 2
    return ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + bytes(eui)).packed


def ip6_to_all_nodes(mac, next_header, body, csum_at):
    """IPv6 from MAC's link-local address to ff02::1, body's checksum filled in."""
    src = link_local(mac)
    dst = ipaddress.IPv6Address("ff02::1").packed
    pseudo = src + dst + struct.pack("!I3xB", len(body), next_header)
    body = body[:csum_at] + struct.pack("!H", checksum(pseudo + body)) + body[csum_at + 2 :]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), next_header, 255) + src + dst
    return mac_bytes("33:33:00:00:00:01") + mac + struct.pack("!H", 0x86DD) + ip6 + body


def ra(a):
    mac = mac_bytes(a.mac)
    # Hop limit 64, router lifetime 1800 s; a source link-layer address option and an
    # on-link, autonomous prefix, as radvd sends.
    body = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + bytes([1, 1]) + mac
    body += struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0)
    body += ipaddress.IPv6Address("fd99::").packed
    return ip6_to_all_nodes(mac, 58, body, 2)


def dhcp6(a):
    mac = mac_bytes(a.mac)
    # An Advertise (2), transaction 0x123456, from the server port to the client's.
    msg = bytes([2, 0x12, 0x34, 0x56])
    body = struct.pack("!HHHH", 547, 546, 8 + len(msg), 0) + msg
    return ip6_to_all_nodes(mac, 17, body, 6)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["garp", "na", "bpdu", "pvst", "ra", "dhcp6"])
    p.add_argument("--dev", required=True)
    p.add_argument("--mac", required=True)
    p.add_argument("--ip")
    p.add_argument("--target")
    p.add_argument("--count", type=int, default=1)
    a = p.parse_args()
    frame = {"garp": garp, "na": na, "bpdu": bpdu, "pvst": pvst, "ra": ra, "dhcp6": dhcp6}[a.kind](a)
    frame += b"\0" * max(0, 60 - len(frame))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((a.dev, 0))
        for _ in range(a.count):
            s.send(frame)


if __name__ == "__main__":
    main()
