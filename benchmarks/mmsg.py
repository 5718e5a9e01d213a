"""Batched UDP I/O for the load generator: Linux ``sendmmsg``/``recvmmsg`` through ctypes.

The generator must be much cheaper per packet than the switch it measures, so it moves up to
1024 datagrams per system call and never touches a packet in Python: payloads live in one
numpy buffer with fixed slots.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct

import numpy as np
from numpy.typing import NDArray

__all__ = ["MmsgReceiver", "MmsgSender", "sockaddr_in"]

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
MAX_BATCH = 1024
MSG_DONTWAIT = 0x40


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.POINTER(_Iovec)),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


_libc.sendmmsg.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int]
_libc.recvmmsg.argtypes = [
    ctypes.c_int,
    ctypes.POINTER(_Mmsghdr),
    ctypes.c_uint,
    ctypes.c_int,
    ctypes.c_void_p,
]


def sockaddr_in(host: str, port: int) -> bytes:
    return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton(host))


class MmsgSender:
    """Sends slot ``i`` of ``buffer`` (``lengths[i]`` bytes) to ``addresses[i]``, in batches."""

    def __init__(
        self, sock: socket.socket, buffer: NDArray[np.uint8], length: int, addresses: list[bytes]
    ):
        self.sock = sock
        self.buffer = buffer
        count = len(addresses)
        self.count = count
        self._names = ctypes.create_string_buffer(b"".join(addresses), 16 * count)
        self._iov = (_Iovec * count)()
        self._msgs = (_Mmsghdr * count)()
        base = buffer.ctypes.data
        stride = buffer.strides[0]
        names = ctypes.addressof(self._names)
        for i in range(count):
            self._iov[i].base = base + i * stride
            self._iov[i].len = length
            hdr = self._msgs[i].hdr
            hdr.name = names + 16 * i
            hdr.namelen = 16
            hdr.iov = ctypes.pointer(self._iov[i])
            hdr.iovlen = 1

    def send_all(self) -> int:
        sent = 0
        fd = self.sock.fileno()
        while sent < self.count:
            n = min(MAX_BATCH, self.count - sent)
            got = _libc.sendmmsg(fd, ctypes.byref(self._msgs[sent]), n, 0)
            if got <= 0:
                break
            sent += got
        return sent


class MmsgReceiver:
    """Receives up to ``slots`` datagrams at once into fixed slots of one buffer."""

    def __init__(self, sock: socket.socket, slots: int = MAX_BATCH, slot_size: int = 256):
        self.sock = sock
        self.buffer = np.zeros((slots, slot_size), dtype=np.uint8)
        self.slots = slots
        self._iov = (_Iovec * slots)()
        self._msgs = (_Mmsghdr * slots)()
        base = self.buffer.ctypes.data
        for i in range(slots):
            self._iov[i].base = base + i * slot_size
            self._iov[i].len = slot_size
            self._msgs[i].hdr.iov = ctypes.pointer(self._iov[i])
            self._msgs[i].hdr.iovlen = 1

    def receive(self) -> int:
        """Datagrams now in ``buffer[:n]`` (0 when none is waiting)."""
        got = _libc.recvmmsg(self.sock.fileno(), self._msgs, self.slots, MSG_DONTWAIT, None)
        return max(got, 0)

    def lengths(self, n: int) -> NDArray[np.int64]:
        return np.array([self._msgs[i].len for i in range(n)], dtype=np.int64)
