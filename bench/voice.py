"""Benchmark: voice notes heard on our server (issue 16), `python -m bench voice`.

1. Real-time factor of the base model (int8, `[voice] cpu_threads`) on the committed 20-second
   note `tests/data/voice/venti_secondi.ogg`, warm model, median of RUNS: target under 8 s.
2. Word error rate on the committed clips against their reference texts (`references.toml`), and
   whether silence and noise come out as no words.
3. Peak memory (RSS) of a worker process that loaded the model and transcribed the 20-second note,
   next to the same process without the model.
4. Other citizens' replies while a transcription runs: TURNS turns of the real pipeline (SQLite,
   synchronous=FULL), each a new citizen writing "ciao", timed from the call to the committed reply,
   without and with the transcriber's thread busy on notes back to back: p50 and p99.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import unicodedata
from pathlib import Path
from typing import Final

from bench import Row
from bot.app import build_core
from bot.config import DatabaseSettings, Settings
from bot.speech import Speech
from bot.voice import yield_cpu
from conversations import HeardOutcome, Inbound

CLIPS: Final = Path(__file__).resolve().parent.parent / "tests" / "data" / "voice"
CACHE: Final = Path(__file__).resolve().parent.parent / "var" / "cache"
RUNS: Final = 3
TURNS: Final = 150
TARGET_SECONDS: Final = 8.0
THREADS: Final = Settings().voice.cpu_threads
"""`[voice] cpu_threads` as `ascolto run` reads it (config.toml, ASCOLTO_VOICE__CPU_THREADS)."""


def words(text: str) -> list[str]:
    """Lower case, accents kept, punctuation and apostrophes as spaces: "Sì, va bene." → sì va bene."""
    text = unicodedata.normalize("NFC", text.lower())
    return re.sub(r"[^\w]+", " ", text).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _rtf(speech: Speech) -> list[Row]:
    clip = CLIPS / "venti_secondi.ogg"
    speech.hear(clip, max_seconds=600)  # warm: the first call pays for lazy set-up
    took = []
    for _ in range(RUNS):
        started = time.perf_counter()
        heard = speech.hear(clip, max_seconds=600)
        took.append(time.perf_counter() - started)
    median = statistics.median(took)
    verdict = "meets" if median < TARGET_SECONDS else "misses"
    return [
        Row("voice", f"transcribe a {heard.seconds:.0f}-second note (base, int8)", median, "s", f"median of {RUNS}; {verdict} the goal < {TARGET_SECONDS:.0f} s; cpu_threads={THREADS}"),
        Row("voice", "real-time factor", median / heard.seconds, "× real time", "seconds of work per second of audio (lower is faster)"),
    ]


def _wer(speech: Speech) -> list[Row]:
    references = tomllib.loads((CLIPS / "references.toml").read_text(encoding="utf-8"))
    errors = total = empty = silent = 0
    worst = ""
    for name, reference in references.items():
        heard = speech.hear(CLIPS / f"{name}.ogg", max_seconds=600)
        if not reference:
            silent += 1
            empty += heard.outcome == HeardOutcome.EMPTY
            continue
        ref, hyp = words(reference), words(heard.text)
        wrong = edit_distance(ref, hyp)
        errors, total = errors + wrong, total + len(ref)
        if wrong:
            worst += f"{name} {wrong}/{len(ref)}; "
    return [
        Row("voice", "word error rate on the clips", 100 * errors / total, "%", f"{errors} of {total} words; {worst.rstrip('; ') or 'none wrong'}"),
        Row("voice", "silence and noise heard as no words", empty, "clips", f"of {silent}"),
    ]


PEAK_SCRIPT: Final = """
import sys
from pathlib import Path
import bot.pipeline  # the worker's own code, as `ascolto run` imports it
if sys.argv[1] == "model":
    from bot.speech import Speech
    Speech(cache=Path(sys.argv[2]), cpu_threads=int(sys.argv[3])).hear(Path(sys.argv[4]), max_seconds=600)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""
"""VmHWM, the peak resident set of this process; `ru_maxrss` would carry over the forking parent's (which loaded the model)."""


def _peak_rss() -> list[Row]:
    def peak(mode: str) -> float:
        args = [sys.executable, "-c", PEAK_SCRIPT, mode, str(CACHE), str(THREADS), str(CLIPS / "venti_secondi.ogg")]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        return int(out.split()[-1]) / 1024

    without, loaded = peak("none"), peak("model")
    return [
        Row("voice", "peak RSS of a worker with the model, after a 20 s note", loaded, "MB", f"without the model: {without:.0f} MB (+{loaded - without:.0f} MB)"),
    ]


async def _replies() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"))
        core = await build_core(settings)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, initializer=yield_cpu)  # as bot/voice.Transcriber runs it
        speech = Speech(cache=CACHE, cpu_threads=THREADS)  # loaded in that thread, as the worker's is, so its threads inherit the priority
        loop = asyncio.get_running_loop()
        clip = CLIPS / "venti_secondi.ogg"
        try:

            async def turns(label: str) -> list[float]:
                took = []
                for n in range(TURNS):
                    event = Inbound(channel="telegram", external_id=f"{label}-{n}", sender=f"{label}-{n}", received_at=core.clock(), text="ciao")
                    started = time.perf_counter()
                    await core.pipeline.handle(event)
                    took.append(time.perf_counter() - started)
                return took

            await turns("warm")
            quiet = await turns("quiet")
            quiet += await turns("quiet-again")
            stop, heard = asyncio.Event(), 0

            async def transcribe() -> None:
                nonlocal heard
                while not stop.is_set():
                    await loop.run_in_executor(pool, lambda: speech.hear(clip, max_seconds=600))
                    heard += 1

            busy_task = asyncio.create_task(transcribe())
            await asyncio.sleep(0.5)  # the first note is being transcribed
            busy = await turns("busy")
            busy += await turns("busy-again")
            stop.set()
            await busy_task
        finally:
            pool.shutdown()
            await core.close()

    def p(values: list[float], q: int) -> float:
        return 1000 * statistics.quantiles(values, n=100)[q - 1]

    return [
        Row("voice", "reply to another citizen, no transcription, p50 / p99", p(quiet, 99), "ms", f"p50 {p(quiet, 50):.0f} ms; {2 * TURNS} turns"),
        Row("voice", "reply to another citizen, transcription running, p50 / p99", p(busy, 99), "ms", f"p50 {p(busy, 50):.0f} ms; {2 * TURNS} turns during {heard} transcriptions of the 20 s note"),
    ]


async def run() -> list[Row]:
    speech = Speech(cache=CACHE, cpu_threads=THREADS)
    started = time.perf_counter()
    speech.load()
    rows = [Row("voice", "load the model (join once, then from the cache)", time.perf_counter() - started, "s", str(CACHE))]
    rows += _rtf(speech)
    rows += _rtf(speech)  # twice: other programs share these CPUs, the second figure shows how much that moves it
    rows += _wer(speech)
    rows += _peak_rss()
    rows += await _replies()
    return rows
