"""What a whole message asks for, when it is not an answer: go back, help, stop, I don't understand, my requests.

These are phrases, not command words: "torna indietro", "non ho capito", "lascia perdere",
"chi se ne occupa della mia richiesta?". The engine maps each intent to a command's spec; go
back, help, I don't understand and stop work at every question, free-text ones included (they
are the whole message), "my requests" only where no free text is awaited (a description may well
talk about "la mia richiesta").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from conversations.understanding.polarity import words


class Intent(StrEnum):
    BACK = "indietro"
    HELP = "aiuto"
    CONFUSED = "non_capito"
    STOP = "annulla"
    MY_REQUESTS = "miei"


FILLERS: Final = frozenset(
    {"per", "favore", "piacere", "grazie", "scusa", "scusi", "scusate", "please", "ehm", "allora", "ma", "io", "ok",
     "beh", "senti", "senta", "ciao", "buongiorno", "buonasera", "sorry", "i", "just"}
)
"""Polite words around an intent: "scusi, non ho capito" is "non ho capito"."""

PHRASES: Final[dict[str, Intent]] = {
    **dict.fromkeys(
        ("indietro", "torna indietro", "tornare indietro", "torno indietro", "vai indietro", "voglio tornare indietro",
         "posso tornare indietro", "domanda precedente", "passo precedente", "torna alla domanda prima",
         "back", "go back"),
        Intent.BACK,
    ),
    **dict.fromkeys(
        ("aiuto", "aiutami", "mi aiuti", "mi aiuta", "help", "help me", "come funziona", "cosa devo fare",
         "che devo fare", "cosa devo scrivere", "che cosa devo scrivere", "cosa scrivo", "cosa devo rispondere"),
        Intent.HELP,
    ),
    **dict.fromkeys(
        ("non ho capito", "non ho capito bene", "non capisco", "non capito", "non ti capisco", "non la capisco",
         "cosa vuol dire", "cosa vuoi dire", "che vuol dire", "che significa", "cosa significa", "in che senso",
         "non so cosa scrivere", "non so cosa rispondere", "boh", "i dont understand", "i do not understand",
         "what do you mean"),
        Intent.CONFUSED,
    ),
    **dict.fromkeys(
        ("basta", "annulla", "annulla tutto", "lascia perdere", "lascia stare", "lasciamo perdere", "non importa",
         "non voglio piu", "ho cambiato idea", "smetti", "fermati", "cancel", "never mind", "forget it"),
        Intent.STOP,
    ),
}

ENGLISH: Final = frozenset(
    {"back", "go back", "help", "help me", "i dont understand", "i do not understand", "what do you mean", "cancel",
     "never mind", "forget it"}
)
"""Phrases in English: at first contact the language offer answers them (they may not speak Italian)."""


def is_english(text: str) -> bool:
    return " ".join(t for t in words(text) if t not in FILLERS) in ENGLISH


_MINE: Final = frozenset({"mia", "mie", "mio", "miei", "my", "prima", "gia", "precedente", "fatta", "mandata", "inviata"})
_REQUEST: Final = frozenset({"richiesta", "richieste", "segnalazione", "segnalazioni", "pratica", "ticket", "request", "requests"})
_ABOUT: Final = frozenset(
    {"aggiungere", "aggiungo", "aggiungi", "stato", "punto", "notizie", "novita", "occupa", "vedere", "sapere",
     "controllare", "dove", "quando", "chi", "status", "add", "where", "who"}
)
"""Words of someone asking about a request they made, not telling a new need."""
_ASKING: Final = ("chi se ne occupa", "a che punto", "che fine ha fatto", "ci sono novita", "novita")


def intent_of(text: str) -> Intent | None:
    """The intent a whole message expresses, or None (then it is an answer, or a command word)."""
    tokens = tuple(t for t in words(text) if t not in FILLERS)
    if not tokens or len(tokens) > 12:
        return None
    phrase = " ".join(tokens)
    if phrase in PHRASES:
        return PHRASES[phrase]
    talks_of_request = any(t in _REQUEST for t in tokens)
    asking = any(a in phrase for a in _ASKING) or any(t in _ABOUT for t in tokens)
    mine = any(t in _MINE for t in tokens)
    if talks_of_request and ((mine and (asking or len(tokens) <= 4)) or any(a in phrase for a in _ASKING)):
        return Intent.MY_REQUESTS
    if any(phrase.startswith(a) for a in _ASKING[:3]):
        return Intent.MY_REQUESTS
    return None
