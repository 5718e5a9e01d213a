"""Prompt loading (WAV formats, rates), the prompt cache, playback cursors and queues."""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import media.player as player
from dsp.g711 import alaw_encode, ulaw_encode
from media.player import (
    Playback,
    PlaybackQueue,
    PromptCache,
    PromptError,
    load_prompt,
    resample_rational,
)
from media.wav import WavError, decode_wav

PCM, FLOAT, ALAW, MULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


def wav_bytes(
    data: bytes,
    *,
    tag: int = PCM,
    channels: int = 1,
    rate: int = 8000,
    width: int = 2,
    extensible_tag: int | None = None,
    extra_chunks: bytes = b"",
    data_size: int | None = None,
) -> bytes:
    """A WAV file built by hand (the stdlib writer only does PCM)."""
    block = channels * width
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, 8 * width)
    if extensible_tag is not None:
        guid = struct.pack("<H", extensible_tag) + b"\x00\x00" + GUID_TAIL[2:]
        fmt += struct.pack("<HHI", 22, 8 * width, 0) + guid
    size = len(data) if data_size is None else data_size
    body = chunk(b"fmt ", fmt) + extra_chunks + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 10000.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(int(rate * seconds)) / rate)


def snr_db(signal: NDArray[np.generic], reference: NDArray[np.generic], edge: int = 200) -> float:
    """SNR of ``signal`` against the aligned ``reference``, ignoring ``edge`` samples each end."""
    s = np.asarray(signal, dtype=np.float64)[edge:-edge]
    r = np.asarray(reference, dtype=np.float64)[edge:-edge]
    return float(10 * np.log10(np.sum(r**2) / np.sum((s - r) ** 2)))


def rms_db(x: NDArray[np.generic], amplitude: float, edge: int = 200) -> float:
    s = np.asarray(x, dtype=np.float64)[edge:-edge]
    return float(20 * np.log10(np.sqrt(np.mean(s**2)) / (amplitude / np.sqrt(2))))


# -- WAV formats -------------------------------------------------------------------------------


def test_pcm16_mono_at_the_target_rate_is_exact(tmp_path: Path) -> None:
    samples = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    path = tmp_path / "p.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    loaded = load_prompt(path)
    assert loaded.dtype == np.int16
    assert loaded.tolist() == samples.tolist()


def test_pcm8_is_unsigned(tmp_path: Path) -> None:
    path = write(tmp_path, "u8.wav", wav_bytes(bytes([128, 0, 255, 129]), width=1))
    assert load_prompt(path).tolist() == [0, -32768, 32512, 256]


def test_pcm24_and_pcm32_keep_the_top_16_bits(tmp_path: Path) -> None:
    values = np.array([0, 1, -1, 32767, -32768, -1234], dtype=np.int64)
    s24 = b"".join(int(v * 256 + 100).to_bytes(3, "little", signed=True) for v in values)
    s32 = (values * 65536 + 30000).astype("<i4").tobytes()
    expected = [0, 1, -1, 32767, -32768, -1234]  # the low bits round away
    assert load_prompt(write(tmp_path, "24.wav", wav_bytes(s24, width=3))).tolist() == expected
    assert load_prompt(write(tmp_path, "32.wav", wav_bytes(s32, width=4))).tolist() == expected
    full = (0x7FFFFF).to_bytes(3, "little", signed=True)
    assert load_prompt(write(tmp_path, "f.wav", wav_bytes(full, width=3))).tolist() == [32767]


@pytest.mark.parametrize(("dtype", "width"), [("<f4", 4), ("<f8", 8)])
def test_float_samples_scale_and_clip(tmp_path: Path, dtype: str, width: int) -> None:
    data = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, np.nan], dtype=dtype).tobytes()
    path = write(tmp_path, "f.wav", wav_bytes(data, tag=FLOAT, width=width))
    assert load_prompt(path).tolist() == [0, 16384, -16384, 32767, -32768, 32767, 0]


def test_mulaw_and_alaw_decode_per_g711(tmp_path: Path) -> None:
    # G.711 code points: µ-law 0xFF/0x7F are zero, 0x00/0x80 the extremes; A-law 0xD5/0x55 = ±8
    mu = load_prompt(
        write(tmp_path, "mu.wav", wav_bytes(bytes([0xFF, 0x00, 0x80]), tag=MULAW, width=1))
    )
    assert mu.tolist() == [0, -32124, 32124]
    a = load_prompt(
        write(tmp_path, "a.wav", wav_bytes(bytes([0xD5, 0x55, 0xAA]), tag=ALAW, width=1))
    )
    assert a.tolist() == [8, -8, 32256]
    signal = tone(440, 8000, 0.2).astype(np.int16)
    for tag, encode in ((MULAW, ulaw_encode), (ALAW, alaw_encode)):
        encoded = encode(signal).tobytes()
        loaded = load_prompt(write(tmp_path, f"{tag}.wav", wav_bytes(encoded, tag=tag, width=1)))
        assert snr_db(loaded, signal, edge=1) > 30  # G.711 quantisation, ~38 dB


def test_extensible_format_uses_its_sub_format(tmp_path: Path) -> None:
    data = np.array([5, -5, 100], dtype="<i2").tobytes()
    path = write(tmp_path, "x.wav", wav_bytes(data, tag=EXTENSIBLE, extensible_tag=PCM))
    assert load_prompt(path).tolist() == [5, -5, 100]
    mu = wav_bytes(b"\xff", tag=EXTENSIBLE, width=1, extensible_tag=MULAW)
    assert load_prompt(write(tmp_path, "xm.wav", mu)).tolist() == [0]


def test_channels_are_mixed_down(tmp_path: Path) -> None:
    stereo = np.array([[1000, 3000], [-200, 201], [32767, 32767]], dtype="<i2").tobytes()
    path = write(tmp_path, "s.wav", wav_bytes(stereo, channels=2))
    assert load_prompt(path).tolist() == [2000, 0, 32767]
    quad = np.array([[4, 8, 12, 16]], dtype="<i2").tobytes()
    assert load_prompt(write(tmp_path, "q.wav", wav_bytes(quad, channels=4))).tolist() == [10]


def test_odd_sized_chunks_are_padded_and_skipped(tmp_path: Path) -> None:
    extra = chunk(b"LIST", b"INFOabc") + chunk(b"fact", struct.pack("<I", 2))
    data = np.array([7, 8], dtype="<i2").tobytes()
    path = write(tmp_path, "l.wav", wav_bytes(data, extra_chunks=extra))
    assert load_prompt(path).tolist() == [7, 8]


def test_data_size_past_the_end_reads_whole_frames(tmp_path: Path) -> None:
    data = np.array([[1, 2], [3, 4], [5, 6]], dtype="<i2").tobytes() + b"\x01"
    path = write(tmp_path, "t.wav", wav_bytes(data, channels=2, data_size=0xFFFFFFFF))
    assert load_prompt(path).tolist() == [2, 4, 6]  # (1+2)/2 = 1.5 rounds to even


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "too short"),
        (b"ID3\x03" + bytes(100), "not a WAV file"),
        (b"RIFX" + bytes(4) + b"WAVE", "big-endian"),
        (b"RIFF" + bytes(4) + b"WAVE" + chunk(b"data", b"\x00\x00"), "no fmt chunk"),
        (wav_bytes(b"")[:36], "no data chunk"),
        (wav_bytes(b"\x00" * 4, tag=0x55), "MPEG layer 3"),
        (wav_bytes(b"\x00" * 4, tag=0x11), "IMA ADPCM"),
        (wav_bytes(b"\x00" * 4, tag=MULAW, width=2), "16-bit samples are not supported"),
        (wav_bytes(b"\x00" * 4, channels=0), "channel count 0"),
        (wav_bytes(b"\x00" * 4, rate=0), "sample rate 0"),
        (wav_bytes(b"\x00" * 4, tag=EXTENSIBLE, extensible_tag=0x55), "0x0055 (MPEG layer 3)"),
        (
            wav_bytes(b"\x00" * 4, tag=EXTENSIBLE, extensible_tag=1).replace(b"\xaa", b"\xab"),
            "sub-format",
        ),
        (wav_bytes(b""), "contains no audio"),
    ],
)
def test_bad_files_raise_prompt_error_naming_file_and_problem(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = write(tmp_path, "bad-prompt.wav", content)
    with pytest.raises(PromptError) as info:
        load_prompt(path)
    assert "bad-prompt.wav" in str(info.value)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_is_a_prompt_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"missing\.wav: cannot read"):
        load_prompt(tmp_path / "missing.wav")


def test_decode_wav_reports_format_details() -> None:
    audio = decode_wav(wav_bytes(bytes(8), channels=2, rate=22050))
    assert (audio.rate, audio.channels, audio.frames, audio.bits_per_sample) == (22050, 2, 2, 16)
    with pytest.raises(WavError):
        decode_wav(b"RIFF")


# -- rates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [(16000, 8000), (48000, 8000), (8000, 16000)])
def test_dsp_rates_convert_without_delay(tmp_path: Path, source: int, target: int) -> None:
    signal = tone(1130, source, 0.5).astype("<i2")
    path = write(tmp_path, "r.wav", wav_bytes(signal.tobytes(), rate=source))
    loaded = load_prompt(path, rate=target)
    assert len(loaded) == len(signal) * target // source
    assert snr_db(loaded, tone(1130, target, 0.5)) > 60  # a 2 ms delay would give ~0 dB


@pytest.mark.parametrize(
    ("source", "target"), [(44100, 8000), (22050, 8000), (11025, 8000), (44100, 16000)]
)
def test_other_rates_use_the_rational_fallback(tmp_path: Path, source: int, target: int) -> None:
    signal = tone(1130, source, 0.5).astype("<i2")
    path = write(tmp_path, "r.wav", wav_bytes(signal.tobytes(), rate=source))
    loaded = load_prompt(path, rate=target)
    assert len(loaded) == -(-len(signal) * target // source)
    assert snr_db(loaded, tone(1130, target, 0.5)) > 60  # int16 rounding of both sides
    assert abs(rms_db(loaded, 10000)) < 0.05


def test_rational_fallback_quality() -> None:
    # passband: exact phase and level
    y = resample_rational(tone(1130, 44100, 1.0), 44100, 8000)
    assert snr_db(y, tone(1130, 8000, 1.0)) > 80
    # 6 kHz at 44.1 kHz would alias to 2 kHz at 8 kHz: removed
    assert rms_db(resample_rational(tone(6000, 44100, 1.0), 44100, 8000), 10000) < -65
    # upsampling 11025 -> 16000: the image of 3 kHz at 8025 Hz is removed
    up = resample_rational(tone(3000, 11025, 1.0), 11025, 16000)
    assert snr_db(up, tone(3000, 16000, 1.0)) > 65


def test_rational_fallback_without_a_table_gives_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = np.random.default_rng(1).normal(0, 3000, 5000)
    with_table = resample_rational(x, 22050, 8000)
    monkeypatch.setattr(player, "_TABLE_LIMIT", 0)
    assert np.allclose(resample_rational(x, 22050, 8000), with_table)


@given(st.integers(0, 3000), st.sampled_from([(44100, 8000), (8000, 11025), (12000, 8000)]))
@settings(max_examples=30, deadline=None)
def test_rational_length_and_dc_gain(n: int, rates: tuple[int, int]) -> None:
    source, target = rates
    y = resample_rational(np.full(n, 1000.0), source, target)
    assert len(y) == -(-n * target // source)
    reach = 400  # away from the edges, a constant stays constant
    middle = y[reach * target // source : len(y) - reach * target // source]
    assert np.allclose(middle, 1000.0, atol=1e-6)


# -- cache -------------------------------------------------------------------------------------


class CountingLoader:
    def __init__(self) -> None:
        self.calls: list[tuple[Path, int]] = []

    def __call__(self, path: Path, rate: int) -> NDArray[np.int16]:
        self.calls.append((path, rate))
        return load_prompt(path, rate)


def prompt_file(tmp_path: Path, name: str, samples: int = 160) -> Path:
    data = np.arange(samples, dtype="<i2").tobytes()
    return write(tmp_path, name, wav_bytes(data))


def test_cache_loads_once_and_shares_a_read_only_array(tmp_path: Path) -> None:
    path = prompt_file(tmp_path, "a.wav")
    loader = CountingLoader()
    cache = PromptCache(loader=loader)
    first = cache.get(path)
    second = cache.get(str(tmp_path / "." / "a.wav"))
    assert first is second and len(loader.calls) == 1
    assert (cache.hits, cache.misses, len(cache), cache.bytes_used) == (1, 1, 1, 320)
    with pytest.raises(ValueError):
        first[0] = 1
    cache.get(path, rate=16000)
    assert len(loader.calls) == 2 and len(cache) == 2


def test_cache_reloads_a_changed_file_and_drops_the_stale_copy(tmp_path: Path) -> None:
    path = prompt_file(tmp_path, "a.wav", samples=160)
    loader = CountingLoader()
    cache = PromptCache(loader=loader)
    assert len(cache.get(path)) == 160
    prompt_file(tmp_path, "a.wav", samples=320)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert len(cache.get(path)) == 320
    assert len(loader.calls) == 2 and len(cache) == 1 and cache.bytes_used == 640


def test_cache_evicts_least_recently_used_past_its_budget(tmp_path: Path) -> None:
    a, b, c = (prompt_file(tmp_path, f"{n}.wav") for n in "abc")  # 320 bytes each
    loader = CountingLoader()
    cache = PromptCache(max_bytes=700, loader=loader)
    cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # evicts b
    assert cache.evictions == 1 and cache.bytes_used == 640
    cache.get(a)
    assert len(loader.calls) == 3
    cache.get(b)
    assert len(loader.calls) == 4


def test_cache_does_not_keep_a_prompt_larger_than_its_budget(tmp_path: Path) -> None:
    path = prompt_file(tmp_path, "big.wav", samples=1000)
    cache = PromptCache(max_bytes=100)
    assert len(cache.get(path)) == 1000
    assert len(cache) == 0 and cache.bytes_used == 0


def test_cache_discard_clear_and_errors(tmp_path: Path) -> None:
    path = prompt_file(tmp_path, "a.wav")
    cache = PromptCache()
    cache.get(path)
    cache.get(path, rate=16000)
    cache.discard(path)
    assert len(cache) == 0 and cache.bytes_used == 0
    cache.get(path)
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(PromptError, match=r"nope\.wav"):
        cache.get(tmp_path / "nope.wav")
    bad = write(tmp_path, "bad.wav", b"junk")
    with pytest.raises(PromptError, match=r"bad\.wav"):
        cache.get(bad)


# -- playback ----------------------------------------------------------------------------------


def ramp(n: int, start: int = 1) -> NDArray[np.int16]:
    return np.arange(start, start + n, dtype=np.int16)


def test_playback_frames_pad_the_last_and_then_end() -> None:
    playback = Playback(ramp(400))
    frames = [playback.next_frame() for _ in range(3)]
    assert playback.done and playback.next_frame() is None
    assert all(f is not None and len(f) == 160 for f in frames)
    joined = np.concatenate([f for f in frames if f is not None])
    assert joined[:400].tolist() == ramp(400).tolist()
    assert not joined[400:].any()
    assert playback.position_ms == 50.0 and playback.duration_ms == 50.0


def test_playback_position_and_stop() -> None:
    playback = Playback(ramp(1600), frame_samples=320, rate=16000)
    playback.next_frame()
    assert playback.position_ms == 20.0 and not playback.done
    playback.stop()
    assert playback.done and playback.next_frame() is None


def test_playback_frames_are_read_only() -> None:
    source = ramp(300)
    playback = Playback(source)
    for _ in range(2):
        frame = playback.next_frame()
        assert frame is not None
        with pytest.raises(ValueError):
            frame[0] = 0
    source[0] = 99  # the caller still owns its array
    assert source[0] == 99


def test_looping_playback_wraps_seamlessly_until_stopped() -> None:
    playback = Playback(ramp(100), loop=True)
    frames = [playback.next_frame() for _ in range(5)]
    joined = np.concatenate([f for f in frames if f is not None])
    assert joined.tolist() == np.tile(ramp(100), 8).tolist()
    assert playback.position == 0 and not playback.done
    playback.stop()
    assert playback.next_frame() is None


def test_empty_and_invalid_prompts() -> None:
    assert Playback(np.zeros(0, np.int16), loop=True).next_frame() is None
    with pytest.raises(ValueError):
        Playback(np.zeros(10, np.float32))
    with pytest.raises(ValueError):
        Playback(np.zeros((2, 10), np.int16))
    with pytest.raises(ValueError):
        Playback(ramp(10), frame_samples=0)


@given(st.integers(0, 1000), st.integers(1, 400))
def test_playback_plays_every_sample_once(n: int, frame: int) -> None:
    playback = Playback(ramp(n, start=-500), frame_samples=frame)
    frames = []
    while (f := playback.next_frame()) is not None:
        frames.append(f)
    assert len(frames) == -(-n // frame)
    joined = np.concatenate(frames) if frames else np.zeros(0, np.int16)
    assert joined[:n].tolist() == ramp(n, start=-500).tolist()
    assert not joined[n:].any()


def drain(queue: PlaybackQueue) -> list[NDArray[np.int16]]:
    frames = []
    while (frame := queue.next_frame()) is not None:
        frames.append(frame)
    return frames


def test_queue_plays_prompts_back_to_back_and_reports_each_end() -> None:
    queue = PlaybackQueue()
    events: list[str] = []
    queue.on_done.append(lambda completed: events.append(f"queue {completed}"))
    queue.enqueue(ramp(100), on_done=lambda c: events.append(f"one {c}"))
    queue.enqueue(ramp(250, start=1000), on_done=lambda c: events.append(f"two {c}"))
    first = queue.next_frame()
    assert first is not None
    assert first.tolist() == ramp(100).tolist() + ramp(60, start=1000).tolist()
    assert events == ["one True"] and queue.pending == 1
    rest = drain(queue)
    joined = np.concatenate([first, *rest])
    assert len(joined) == 480
    assert joined[:350].tolist() == ramp(100).tolist() + ramp(250, start=1000).tolist()
    assert not joined[350:].any()
    assert events == ["one True", "two True", "queue True"]
    assert queue.done and queue.next_frame() is None
    assert events[-1] == "queue True" and len(events) == 3  # on_done fires once


def test_queue_stop_reports_incomplete_and_skip_moves_on() -> None:
    queue = PlaybackQueue()
    events: list[str] = []
    queue.on_done.append(lambda completed: events.append(f"queue {completed}"))
    queue.enqueue(ramp(1000), on_done=lambda c: events.append(f"a {c}"))
    queue.enqueue(ramp(1000, start=5000), on_done=lambda c: events.append(f"b {c}"))
    queue.enqueue(ramp(1000), on_done=lambda c: events.append(f"c {c}"))
    queue.next_frame()
    queue.skip()
    frame = queue.next_frame()
    assert frame is not None and frame[0] == 5000
    queue.stop()
    assert events == ["a False", "b False", "c False", "queue False"]
    assert queue.next_frame() is None
    queue.stop()
    assert len(events) == 4


def test_queue_callbacks_may_enqueue_and_errors_do_not_stop_audio() -> None:
    queue = PlaybackQueue()
    played_digits: list[int] = []

    def broken(completed: bool) -> None:
        raise RuntimeError("listener bug")

    def next_digit(completed: bool) -> None:
        if len(played_digits) < 3:
            played_digits.append(len(played_digits))
            queue.enqueue(ramp(80, start=100 * len(played_digits)), on_done=broken)

    queue.on_done.append(next_digit)
    queue.enqueue(ramp(80), on_done=broken)
    frames = drain(queue)
    assert played_digits == [0, 1, 2]
    assert queue.callback_errors == 4
    joined = np.concatenate(frames)
    assert joined[:80].tolist() == ramp(80).tolist()
    assert joined[80:160].tolist() == ramp(80, start=100).tolist()


def test_queue_looping_item_plays_until_skipped() -> None:
    queue = PlaybackQueue(frame_samples=100)
    queue.enqueue(ramp(30), loop=True)
    queue.enqueue(ramp(50, start=500))
    for _ in range(10):
        frame = queue.next_frame()
        assert frame is not None and frame[0] in ramp(30)
    queue.skip()
    frame = queue.next_frame()
    assert frame is not None and frame[:50].tolist() == ramp(50, start=500).tolist()
    assert queue.done


@given(st.lists(st.integers(0, 400), max_size=6), st.integers(1, 320))
def test_queue_is_gapless(lengths: list[int], frame_samples: int) -> None:
    queue = PlaybackQueue(frame_samples=frame_samples)
    prompts = [ramp(n, start=1 + 1000 * i) for i, n in enumerate(lengths)]
    ends: list[bool] = []
    for prompt in prompts:
        queue.enqueue(prompt, on_done=ends.append)
    frames = drain(queue)
    total = sum(lengths)
    assert len(frames) == -(-total // frame_samples)
    joined = np.concatenate(frames) if frames else np.zeros(0, np.int16)
    expected = np.concatenate(prompts) if prompts else np.zeros(0, np.int16)
    assert joined[:total].tolist() == expected.tolist()
    assert not joined[total:].any()
    assert ends == [True] * len(prompts)
