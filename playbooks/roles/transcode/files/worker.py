#!/usr/bin/env python3
"""Transcode worker: turns queued jobs into HLS ladders with ffmpeg.

A job is a JSON file in <queue>/incoming/: {"name": "clip1", "source": "/path/in.mp4"}
("source" may also be "testsrc:<seconds>" for a generated clip). The worker
moves it to work/, writes <output_dir>/<name>/{master.m3u8, v0..vN/}, then
moves the job to done/ (or failed/ with the error). Config: argv[1] (JSON).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


def ladder_cmd(cfg, source, out_dir):
    ladder = cfg["ladder"]
    n = len(ladder)
    if source.startswith("testsrc:"):
        secs = int(source.split(":", 1)[1])
        inputs = [
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={secs}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={secs}",
        ]
        audio = "1:a"
    else:
        inputs = ["-i", source]
        audio = "0:a?"
    split = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n))
    scales = ";".join(f"[s{i}]scale=-2:{r['height']}[v{i}]" for i, r in enumerate(ladder))
    cmd = [cfg["ffmpeg"], "-hide_banner", "-loglevel", "error", "-y", *inputs,
           "-filter_complex", f"{split};{scales}"]
    for i in range(n):
        cmd += ["-map", f"[v{i}]", "-map", audio]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k"]
    for i, r in enumerate(ladder):
        cmd += [f"-b:v:{i}", r["video_bitrate"]]
    cmd += ["-f", "hls", "-hls_time", str(cfg.get("segment_seconds", 2)),
            "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(out_dir / "v%v" / "seg_%03d.ts"),
            "-master_pl_name", "master.m3u8",
            "-var_stream_map", " ".join(f"v:{i},a:{i}" for i in range(n)),
            str(out_dir / "v%v" / "index.m3u8")]
    return cmd


def run_job(cfg, job_path):
    job = json.loads(job_path.read_text())
    name = str(job.get("name", ""))
    if not NAME.match(name):
        raise ValueError(f"bad job name {name!r}")
    final = Path(cfg["output_dir"]) / name
    tmp = Path(cfg["output_dir"]) / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    proc = subprocess.run(ladder_cmd(cfg, str(job["source"]), tmp),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(proc.stderr.strip()[-500:] or f"ffmpeg rc={proc.returncode}")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def main():
    cfg = json.loads(Path(sys.argv[1]).read_text())
    queue = Path(cfg["queue_dir"])
    print(f"transcode worker: watching {queue / 'incoming'}", flush=True)
    while True:
        jobs = sorted(queue.joinpath("incoming").glob("*.json"))
        for job in jobs:
            work = queue / "work" / job.name
            try:
                os.replace(job, work)
            except FileNotFoundError:
                continue
            try:
                run_job(cfg, work)
                os.replace(work, queue / "done" / job.name)
                print(f"done {job.name}", flush=True)
            except Exception as exc:
                (queue / "failed" / (job.name + ".error")).write_text(str(exc) + "\n")
                os.replace(work, queue / "failed" / job.name)
                print(f"failed {job.name}: {exc}", flush=True)
        if not jobs:
            time.sleep(float(cfg.get("poll_interval_s", 1)))


if __name__ == "__main__":
    main()
