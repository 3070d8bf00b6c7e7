"""SDR -> HDR video with diffusion models: temporal windows, exposure masks and captions, and
the ``ltx2-hdr`` / ``wan-vace`` methods of ``sdr_to_hdr_video`` (:mod:`.diffusion`)."""
