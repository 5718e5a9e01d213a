"""Two baresip softphones talk through the switch: audio both ways, SRTP, transcoding.

Each baresip plays a tone of its own from a WAV file and records what it hears (sndfile);
the test checks each side heard the other's tone. The caller and the callee are trunks of
the switch (trusted by address), so no registration is involved.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.testing import (
    SwitchProcess,
    free_port,
    require_peer,
    route,
    switch_config,
    trunk,
)
from dsp.level import snr_db
from dsp.resample import resample
from dsp.tones import tone

pytestmark = [pytest.mark.interop, pytest.mark.integration]

CALLER_HZ = 1000.0
CALLEE_HZ = 600.0
MIN_SNR_DB = 25.0
"""Both tones cross two codec passes in the phones (and two more at the switch when it
transcodes); a clean G.711 pass gives about 38 dB on these levels."""


def _wav(path: Path, hz: float) -> Path:
    pcm = tone([hz], 20.0, rate=8000, level_dbov=-12.0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())
    return path


def _baresip_dir(
    root: Path, name: str, port: int, account: str, source: Path, codecs: list[str]
) -> Path:
    folder = root / name
    (folder / "rec").mkdir(parents=True)
    rtp_low = 40000 + 200 * (port % 100)
    modules = "\n".join(f"module          {c}.so" for c in codecs)
    (folder / "config").write_text(
        f"""net_interface   127.0.0.1
sip_listen      127.0.0.1:{port}
audio_source    aufile,{source}
audio_player    aubridge,nil
audio_alert     aubridge,nil
ausrc_srate     8000
ausrc_channels  1
auplay_srate    8000
auplay_channels 1
rtp_ports       {rtp_low}-{rtp_low + 100}
module_path     /usr/lib/baresip/modules
{modules}
module          srtp.so
module          aufile.so
module          aubridge.so
module          sndfile.so
module_app      account.so
module_app      menu.so
snd_path        {folder / "rec"}
"""
    )
    (folder / "accounts").write_text(account + "\n")
    (folder / "contacts").write_text("")
    return folder


def _recorded(folder: Path) -> np.ndarray[Any, np.dtype[np.int16]]:
    files = sorted((folder / "rec").glob("*-dec.wav"))
    assert files, f"baresip in {folder} recorded nothing"
    with wave.open(str(files[0])) as w:
        assert w.getnchannels() == 1
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return pcm if rate == 8000 else resample(pcm, rate, 8000)


def _heard(received: np.ndarray[Any, np.dtype[np.int16]], hz: float) -> float:
    reference = tone([hz], 1.0, rate=8000, level_dbov=-12.0)
    loud = np.flatnonzero(np.abs(received) > 1000)
    assert len(loud) > 8000, f"no {hz:.0f} Hz tone heard ({len(loud)} loud samples)"
    start = int(loud[0]) + 4000  # past the start of the call and the jitter buffers
    segment = received[start : start + 8800]
    return max(snr_db(reference[:8000], segment[i : i + 8000]) for i in range(0, 800, 80))


@pytest.mark.parametrize(
    ("caller_media", "callee_codecs"),
    [
        ("", ["g711"]),
        (";mediaenc=srtp-mand", ["g711"]),
        ("", ["g722"]),
    ],
    ids=["plain", "srtp-caller", "g711-to-g722"],
)
def test_two_baresips_hear_each_other(
    tmp_path: Path, caller_media: str, callee_codecs: list[str]
) -> None:
    binary = require_peer("baresip")
    caller_port, callee_port = free_port(), free_port()
    config = switch_config(
        trunks=[trunk("caller", caller_port), trunk("callee", callee_port)],
        routes=[route(r"^(2\d{3})$", "callee")],
    )
    switch = SwitchProcess(tmp_path / "switch", config).start()
    try:
        sip = switch.sip_address
        caller = _baresip_dir(
            tmp_path,
            "caller",
            caller_port,
            f"<sip:alice@127.0.0.1:{sip[1]}>;regint=0{caller_media}",
            _wav(tmp_path / "caller.wav", CALLER_HZ),
            ["g711"],
        )
        callee = _baresip_dir(
            tmp_path,
            "callee",
            callee_port,
            "<sip:2000@127.0.0.1>;regint=0;answermode=auto",
            _wav(tmp_path / "callee.wav", CALLEE_HZ),
            callee_codecs,
        )
        with subprocess.Popen(
            [binary, "-f", str(callee), "-t", "12"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as answering:
            try:
                caller_run = subprocess.run(
                    [
                        binary,
                        "-f",
                        str(caller),
                        "-e",
                        f"/dial sip:2000@{sip[0]}:{sip[1]}",
                        "-t",
                        "6",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
            finally:
                answering.terminate()
                answering.wait(10)
        log = caller_run.stdout + caller_run.stderr
        assert "Call established" in log or "established" in log, log[-2000:]
        assert _heard(_recorded(callee), CALLER_HZ) > MIN_SNR_DB
        assert _heard(_recorded(caller), CALLEE_HZ) > MIN_SNR_DB
    finally:
        switch.stop()
