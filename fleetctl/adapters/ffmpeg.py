"""Where ffmpeg is: Debian's when installed, else the imageio-ffmpeg wheel's binary."""

from __future__ import annotations

import shutil


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:
        found = shutil.which("ffmpeg")
        if found:
            return found
        raise
