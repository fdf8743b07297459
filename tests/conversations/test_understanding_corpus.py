"""The corpus of answers (tests/data/answers.tsv): none is ever taken to mean something it does not."""

from __future__ import annotations

import pytest

from bench.answers import CORPUS, Example, before, outcome, questions, read
from conversations import Context

EXAMPLES = read(CORPUS.read_text(encoding="utf-8").splitlines())


def test_the_corpus_covers_every_kind_of_question(ctx: Context) -> None:
    assert {e.kind for e in EXAMPLES} == set(questions(ctx))
    assert len(EXAMPLES) >= 100


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.kind}:{e.answer}")
def test_every_answer_is_understood_or_asked_again_never_mistaken(ctx: Context, example: Example) -> None:
    assert outcome(example, questions(ctx)[example.kind]) == "right"


def test_the_matcher_before_issue_14_mistook_some_of_them(ctx: Context) -> None:
    # The baseline row of `python -m bench answers`; and proof that this corpus catches mishearing.
    wrong = [e for e in EXAMPLES if outcome(e, questions(ctx)[e.kind], before) == "wrong"]
    assert {("consent", "non va bene"), ("summary", "non va bene, il comune è sbagliato")} <= {(e.kind, e.answer) for e in wrong}
