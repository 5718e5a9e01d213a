"""Media through the switch between two SIPp peers: tones both ways, RFC 4733 digits.

The switch runs in this process so the test can tap its media plane. SIPp's caller or callee
plays a generated 1 kHz tone (``play_pcap_audio``) and the other side echoes RTP back
(``-rtp_echo``): the tone crosses the switch twice, and the switch's taps show it arriving from
the far side with the SNR asserted here. RFC 4733 digits come from SIPp's own captures.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from callcenter.app import Softswitch
from callcenter.config import load_config
from callcenter.testing import SippOptions, SippProcess, free_port, require_peer, switch_config
from callcenter.testing.process import route, trunk
from callcenter.testing.rtp_pcap import write_rtp_pcap
from dsp.level import snr_db
from dsp.tones import tone
from media.events import DtmfReceived, MediaEvent
from media.tap import QueueSubscriber, TapFrame

pytestmark = [pytest.mark.interop, pytest.mark.integration]

TONE_HZ = 1000.0
MIN_SNR_DB = 30.0
"""G.711 µ-law on a -10 dBov sine gives about 38 dB; decoding, the jitter buffer and
re-encoding at the switch must not cost more than a few dB of that."""

SDP_TEMPLATE = """
      v=0
      o={who} 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP {pt} 101
      a=rtpmap:{pt} {codec}/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
"""
PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac media">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]
{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <pause milliseconds="{before_ms}"/>
  {play}
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""

UAC_WAITS_FOR_BYE = UAC.replace(
    """  <pause milliseconds="{hold_ms}"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>""",
    """  <recv request="BYE"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>""",
)

UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas media">
  <recv request="INVITE" crlf="true"/>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]U[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]
{sdp}
  ]]></send>
  <label id="2"/>
  <recv request="INVITE" optional="true" next="2"/>
  <recv request="ACK" crlf="true"/>
  <pause milliseconds="{before_ms}"/>
  {play}
  <label id="1"/>
  <recv request="ACK" optional="true" next="1"/>
  <recv request="BYE"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <pause milliseconds="500"/>
</scenario>
"""


def _scenario(
    template: str, path: Path, who: str, play: Path | None, codec: str = "PCMU", **timing: int
) -> Path:
    action = f'<nop><action><exec play_pcap_audio="{play}"/></action></nop>' if play else ""
    sdp = SDP_TEMPLATE.format(who=who, pt=PAYLOAD_TYPES[codec], codec=codec)
    text = template.format(sdp=sdp, play=action, **timing)
    path.write_text(text)
    return path


class MediaWatch:
    """Taps every stream the switch opens and collects its frames and DTMF events."""

    def __init__(self, switch: Softswitch):
        self.switch = switch
        self.frames = QueueSubscriber(maxlen=100_000)
        self.events: list[MediaEvent] = []
        assert switch.media is not None
        taps = getattr(switch.media, "taps", None)  # in this process only (not with workers)
        if taps is not None:
            taps.subscribe(None, self.frames)
        switch.subscribe_media(self.events.append)
        self.tapped: set[str] = set()
        self.all_frames: list[TapFrame] = []

    def tap_new_streams(self) -> None:
        anchor = self.switch.anchor
        assert anchor is not None and self.switch.media is not None
        for cm in list(anchor.calls.values()):
            for side in (cm.a, cm.b):
                if side.stream_id not in self.tapped:
                    self.switch.media.set_tapped(side.stream_id, True)
                    self.tapped.add(side.stream_id)

    def audio(self, stream_suffix: str, direction: str) -> np.ndarray[Any, np.dtype[np.int16]]:
        frames: list[TapFrame] = [
            f
            for f in self.all_frames
            if f.stream_id.endswith(stream_suffix) and f.direction == direction
        ]
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([f.samples for f in frames])


async def _run_call(
    tmp_path: Path,
    *,
    caller_plays: Path | None,
    callee_plays: Path | None,
    tap: bool,
    hold_ms: int = 3500,
    callee_codec: str = "PCMU",
    uac_template: str = UAC,
    media: dict[str, object] | None = None,
) -> MediaWatch:
    sipp_binary = require_peer("sipp")
    uac_port, uas_port = free_port(), free_port()
    config = switch_config(
        trunks=[trunk("uac", uac_port), trunk("uas", uas_port)],
        routes=[route(r"^(2\d{3})$", "uas")],
    )
    config["sip"]["listen"] = {"udp": f"127.0.0.1:{free_port()}"}
    media_low = 30000 + 4 * (free_port() % 1000)
    config["media"] = {"rtp_ports": f"{media_low}-{media_low + 99}", **(media or {})}
    path = tmp_path / "switch.yaml"
    path.write_text(yaml.safe_dump(config))
    data = tmp_path / "data"
    switch_port = int(config["sip"]["listen"]["udp"].rsplit(":", 1)[1])
    uas_xml = _scenario(
        UAS, tmp_path / "uas.xml", "callee", callee_plays, callee_codec, before_ms=300
    )
    uac_xml = _scenario(
        uac_template, tmp_path / "uac.xml", "caller", caller_plays, before_ms=300, hold_ms=hold_ms
    )
    async with Softswitch(load_config(path, data_dir=data), data) as switch:
        watch = MediaWatch(switch)
        uas = SippProcess(
            SippOptions(
                uas_xml,
                local_port=uas_port,
                calls=1,
                media_port=free_port(),
                rtp_echo=callee_plays is None,
                timeout_s=20,
            ),
            tmp_path / "uas",
            binary=sipp_binary,
        ).start()
        uac = SippProcess(
            SippOptions(
                uac_xml,
                remote=("127.0.0.1", switch_port),
                local_port=uac_port,
                service="2000",
                calls=1,
                media_port=free_port(),
                rtp_echo=caller_plays is None,
                timeout_s=20,
            ),
            tmp_path / "uac",
            binary=sipp_binary,
        ).start(wait_bound=False)
        deadline = asyncio.get_running_loop().time() + 20
        while uac.running() and asyncio.get_running_loop().time() < deadline:
            if tap:
                watch.tap_new_streams()
            await asyncio.sleep(0.01)
        uac_result = await asyncio.to_thread(uac.wait, 10)
        uas_result = await asyncio.to_thread(uas.wait, 10)
        assert uac_result.ok, uac_result.describe()
        assert uas_result.ok, uas_result.describe()
        watch.all_frames = watch.frames.drain()
    return watch


def _tone_pcap(tmp_path: Path) -> Path:
    pcap = tmp_path / "tone.pcap"
    write_rtp_pcap(pcap, tone([TONE_HZ], 2.0, rate=8000, level_dbov=-10.0))
    return pcap


def _assert_tone(received: np.ndarray[Any, np.dtype[np.int16]], what: str) -> None:
    """The 2 s tone arrived: in the middle second of the loud span, the median SNR of four
    250 ms windows (each aligned on its own) is above the bar. A jitter buffer may rightly
    drop or add a frame to adapt its delay; that costs one window, not the verdict."""
    loud = np.flatnonzero(
        np.convolve(received.astype(np.float64) ** 2, np.ones(160) / 160, "same") > 1000.0**2
    )
    assert len(loud) > 8000, f"{what}: only {len(loud)} loud samples"
    middle = (int(loud[0]) + int(loud[-1])) // 2
    reference = tone([TONE_HZ], 0.25, rate=8000, level_dbov=-10.0)
    figures = [
        snr_db(reference, received[start : start + 2000], max_lag=80)
        for start in range(middle - 4000, middle + 4000, 2000)
    ]
    median = float(np.median(figures))
    assert median > MIN_SNR_DB, f"{what}: SNR per 250 ms {[round(f, 1) for f in figures]} dB"


@pytest.mark.parametrize("callee_codec", ["PCMU", "PCMA"], ids=["same-codec", "transcoded"])
def test_tone_from_caller_reaches_callee_and_comes_back(tmp_path: Path, callee_codec: str) -> None:
    watch = asyncio.run(
        _run_call(
            tmp_path,
            caller_plays=_tone_pcap(tmp_path),
            callee_plays=None,
            tap=True,
            callee_codec=callee_codec,
        )
    )
    _assert_tone(watch.audio("-b", "out"), "caller's tone sent to the callee")
    _assert_tone(watch.audio("-b", "in"), "caller's tone echoed by the callee")
    _assert_tone(watch.audio("-a", "out"), "echo delivered to the caller")


def test_tone_from_callee_reaches_caller_and_comes_back(tmp_path: Path) -> None:
    watch = asyncio.run(
        _run_call(tmp_path, caller_plays=None, callee_plays=_tone_pcap(tmp_path), tap=True)
    )
    _assert_tone(watch.audio("-a", "out"), "callee's tone sent to the caller")
    _assert_tone(watch.audio("-a", "in"), "callee's tone echoed by the caller")
    _assert_tone(watch.audio("-b", "out"), "echo delivered to the callee")


@pytest.mark.parametrize("tap", [False, True], ids=["relayed", "processed"])
def test_rfc4733_digits_from_the_caller_are_detected(tmp_path: Path, tap: bool) -> None:
    digit_pcap = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")
    if not digit_pcap.exists():
        pytest.fail(f"{digit_pcap} missing: SIPp's package (sip-tester) is incomplete")
    watch = asyncio.run(
        _run_call(tmp_path, caller_plays=digit_pcap, callee_plays=None, tap=tap, hold_ms=1200)
    )
    digits = [e for e in watch.events if isinstance(e, DtmfReceived)]
    from_caller = [(d.digit, d.source) for d in digits if d.stream_id.endswith("-a")]
    echoed_by_callee = [(d.digit, d.source) for d in digits if d.stream_id.endswith("-b")]
    assert from_caller == [("1", "rfc4733")]
    assert echoed_by_callee == [("1", "rfc4733")]  # it reached the callee, which echoed it


def test_call_without_rtp_is_hung_up_after_the_rtp_timeout(tmp_path: Path) -> None:
    """Neither SIPp sends RTP: with `media.rtp_timeout` the switch sends BYE to both."""
    asyncio.run(
        _run_call(
            tmp_path,
            caller_plays=None,
            callee_plays=None,
            tap=False,
            uac_template=UAC_WAITS_FOR_BYE,
            media={"rtp_timeout": 1.0},
        )
    )  # both SIPp scenarios end only when the switch's BYE reaches them


def test_rfc4733_digits_are_detected_in_a_media_worker(tmp_path: Path) -> None:
    """`media.workers: 1`: RTP is relayed by another process; its events still reach the
    switch."""
    digit_pcap = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")
    watch = asyncio.run(
        _run_call(
            tmp_path,
            caller_plays=digit_pcap,
            callee_plays=None,
            tap=False,
            hold_ms=1200,
            media={"workers": 1},
        )
    )
    digits = [(e.stream_id[-2:], e.digit) for e in watch.events if isinstance(e, DtmfReceived)]
    assert sorted(digits) == [("-a", "1"), ("-b", "1")]
