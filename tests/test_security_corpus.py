"""The detectors measured on the labelled corpus: precision and recall per finding type."""
from __future__ import annotations

from proxy import security
from tests import security_corpus as corpus


def test_every_type_meets_its_precision_and_recall(capsys):
    stats = corpus.measure(security.scan)
    with capsys.disabled():
        print("\n" + corpus.table(stats))
    for kind, s in stats.items():
        precision, recall = (0.9, 0.8) if kind.startswith("injection.") else (0.95, 0.9)
        assert s["precision"] >= precision and s["recall"] >= recall, (kind, s)


def test_the_corpus_covers_every_type_the_scan_reports():
    from spanlens.security.detectors import KINDS

    labelled = {kind for _, labels in corpus.examples() for kind in labels}
    assert labelled == set(KINDS)
    negatives = sum(1 for _, labels in corpus.examples() if not labels)
    assert negatives >= 50
