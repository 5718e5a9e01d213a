"""RTP captures for SIPp's play_pcap_audio: what we write reads back, and SIPp's own parse."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from callcenter.testing.rtp_pcap import read_rtp_pcap, write_rtp_pcap
from dsp.g711 import alaw_decode, ulaw_decode
from dsp.level import snr_db
from dsp.tones import tone
from media.rtp import RtpPacket

SIPP_CAPTURE = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")


@pytest.mark.parametrize(("payload_type", "decode"), [(0, ulaw_decode), (8, alaw_decode)])
def test_written_capture_reads_back_as_paced_rtp(tmp_path: Path, payload_type: int, decode) -> None:  # type: ignore[no-untyped-def]
    pcm = tone([800.0], 0.5, rate=8000, level_dbov=-10.0)
    path = tmp_path / "tone.pcap"
    assert write_rtp_pcap(path, pcm, payload_type=payload_type) == 25
    packets = [RtpPacket.parse(p) for p in read_rtp_pcap(path)]
    assert [p.sequence_number for p in packets] == list(range(25))
    assert [p.timestamp for p in packets] == [160 * i for i in range(25)]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert {p.payload_type for p in packets} == {payload_type}
    audio = np.concatenate([decode(np.frombuffer(p.payload, np.uint8)) for p in packets])
    assert snr_db(pcm, audio) > 30
    data = path.read_bytes()
    assert struct.unpack_from("<IHH", data) == (0xA1B2C3D4, 2, 4)
    # records are 20 ms apart, as SIPp replays them
    first = struct.unpack_from("<II", data, 24)
    second = struct.unpack_from("<II", data, 24 + 16 + 14 + 20 + 8 + 172)
    assert (second[0] - first[0]) * 1_000_000 + second[1] - first[1] == pytest.approx(20_000, abs=1)


def test_reads_sipps_own_capture() -> None:
    if not SIPP_CAPTURE.exists():
        message = "SIPp's captures are not installed: apt-get install sip-tester"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    packets = [RtpPacket.parse(p) for p in read_rtp_pcap(SIPP_CAPTURE)]
    assert packets and {p.payload_type for p in packets} == {101}
