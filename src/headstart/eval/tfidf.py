"""TF-IDF + logistic regression: the classic few-label text classifier, the baseline a pretrained
text model must beat (Joachims 1998; Wang & Manning 2012, "Baselines and Bigrams").

Character n-grams inside word boundaries (`char_wb`, 2-5) with sublinear term frequency, and
L2-regularised logistic regression (`C` = 10, lbfgs), both fit on the labeled texts only: the
vocabulary and the IDF weights never see the test texts or unlabeled ones, so the baseline uses
exactly the labels fine-tuning gets and nothing else. scikit-learn does the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from headstart.errors import HeadstartError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

ANALYZER = "char_wb"
NGRAMS = (2, 5)
C = 10.0
MAX_ITER = 2000


def fit_tfidf(texts: Sequence[str], labels: Sequence[int] | np.ndarray, *, analyzer: str = ANALYZER,
              ngram_range: tuple[int, int] = NGRAMS, c: float = C) -> Pipeline:
    """A fitted TF-IDF + logistic-regression pipeline (`.predict(texts)` gives class ids).

    Args:
        texts: the labeled texts.
        labels: their class ids (at least two classes).
        analyzer: "char_wb", "char" or "word" n-grams.
        ngram_range: smallest and largest n.
        c: inverse L2 strength of the regression.

    Example:
        >>> model = fit_tfidf(train.texts, train.labels)
        >>> (model.predict(test.texts) == test.labels).mean()
    """
    labels = np.asarray(labels)
    if len(texts) != len(labels) or len(np.unique(labels)) < 2:
        raise HeadstartError(f"TF-IDF needs texts of at least two classes, one label each ({len(texts)} texts, "
                             f"{len(labels)} labels, {len(np.unique(labels))} classes)",
                             fix="label texts of two or more classes")
    try:   # the `text` extra: image studies never come here
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
    except ModuleNotFoundError:
        raise HeadstartError("the TF-IDF baseline needs scikit-learn", fix="pip install 'headstart[text]'") from None
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True, min_df=1)
    return make_pipeline(vectorizer, LogisticRegression(C=c, max_iter=MAX_ITER)).fit(list(texts), labels)


def tfidf_accuracy(train_texts: Sequence[str], train_labels: Sequence[int] | np.ndarray,
                   eval_sets: dict[str, tuple[Sequence[str], Sequence[int] | np.ndarray]], **kwargs) -> dict[str, float]:
    """Accuracy of `fit_tfidf(train_texts, train_labels, **kwargs)` on each named `(texts, labels)` set.

    Example:
        >>> tfidf_accuracy(tr.texts, tr.labels, {"val": (va.texts, va.labels), "test": (te.texts, te.labels)})
        {'val': 0.41, 'test': 0.44}
    """
    model = fit_tfidf(train_texts, train_labels, **kwargs)
    return {name: float((model.predict(list(texts)) == np.asarray(labels)).mean())
            for name, (texts, labels) in eval_sets.items()}
