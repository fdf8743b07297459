"""Understanding what people mean: negation, yes and no in many words, intents said in a phrase.

Pure functions over folded text (`conversations._text.fold`: lower case, no accents, no
punctuation). The rule everywhere: an answer is understood, or asked about again — never guessed.
"""

from __future__ import annotations

from conversations.understanding.intents import Intent, intent_of, is_english
from conversations.understanding.polarity import (
    NEGATORS,
    Polarity,
    negated_positions,
    polarity,
    words,
)

__all__ = ["NEGATORS", "Intent", "Polarity", "intent_of", "is_english", "negated_positions", "polarity", "words"]
