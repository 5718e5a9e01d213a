"""Media plane: RTP/RTCP, SDP offer/answer, jitter buffer, codecs, mixer, players, recorder taps."""
