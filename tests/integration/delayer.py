"""A fixed delay on chosen packets, for the baseline tests: hold each packet of an NFQUEUE queue for N ms.

This kernel has no netem, and a token bucket (tbf, htb) delays nothing that arrives while its bucket is
full (one SYN-ACK per check never empties it; measured, docs/ci.md). NFQUEUE is built in: an iptables
rule in one container's namespace sends the packets of one path to a queue, and this program, started
with `nsenter -t PID -n` in the same namespace, gives each packet its ACCEPT verdict N ms after it
arrived. The rule uses --queue-bypass, so packets pass undelayed whenever this program is not running.

Usage: python delayer.py QUEUE DELAY_MS   (runs until SIGTERM; prints "ready" when bound)
Pure netlink (NETLINK_NETFILTER, nfnetlink_queue), standard library only.
"""

from __future__ import annotations

import heapq
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
CFG_CMD, CFG_PARAMS = 1, 2  # NFQA_CFG_*
CMD_BIND = 1  # NFQNL_CFG_CMD_BIND
COPY_META = 1  # NFQNL_COPY_META: the packet's id and metadata, no payload
PACKET_HDR, VERDICT_HDR = 1, 2  # NFQA_PACKET_HDR, NFQA_VERDICT_HDR
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _message(msg: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", queue) + attrs
    return (
        struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body
    )


def _packet_ids(data: bytes) -> list[int]:
    ids, off = [], 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            break
        if kind == NLMSG_ERROR:
            err = struct.unpack_from("=i", data, off + 16)[0]
            if err:
                print(f"netlink error {err}", file=sys.stderr, flush=True)
        elif kind == (NFNL_SUBSYS_QUEUE << 8) | MSG_PACKET:
            a = off + 20  # nlmsghdr + nfgenmsg
            while a + 4 <= off + length:
                alen, akind = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if akind & 0x7FFF == PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, a + 4)[0])
                a += (alen + 3) & ~3
        off += (length + 3) & ~3
    return ids


def main(queue: int, delay_ms: float) -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.send(
        _message(
            MSG_CONFIG,
            queue,
            _attr(CFG_CMD, struct.pack("!BBH", CMD_BIND, 0, socket.AF_INET)),
            1,
            NLM_F_REQUEST | NLM_F_ACK,
        )
    )
    sock.send(
        _message(
            MSG_CONFIG,
            queue,
            _attr(CFG_PARAMS, struct.pack("!IB", 0xFFFF, COPY_META)),
            2,
            NLM_F_REQUEST | NLM_F_ACK,
        )
    )
    print("ready", flush=True)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    held: list[tuple[float, int]] = []
    seq = 3
    while running[0] or held:
        wait = max(0.0, held[0][0] - time.monotonic()) if held else 0.2
        try:
            readable, _, _ = select.select([sock], [], [], wait)
        except InterruptedError:
            continue
        if readable:
            now = time.monotonic()
            for pid in _packet_ids(sock.recv(65536)):
                heapq.heappush(held, (now + delay_ms / 1000, pid))
        now = time.monotonic()
        while held and (held[0][0] <= now or not running[0]):
            _, pid = heapq.heappop(held)
            seq += 1
            sock.send(
                _message(
                    MSG_VERDICT, queue, _attr(VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid)), seq
                )
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
