"""FAQ search over the stored texts in every language (character n-gram TF-IDF).

Used when the NLU model is unsure and to pick the best entry within a topic. It reads the database,
so an entry a KI editor adds or changes is found at once, before the model is retrained. The index is
rebuilt only when the content stamp changes.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from storage.content import active_faqs, content_stamp, faq_texts, scope_applies, scope_groups
from storage.db import session_scope

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no topic in the languages we serve (short list; the n-grams do the rest).
_STOP_WORDS = (
    "the a an is are i my me to of in for and or how what where when can do does "
    "ich mein meine wie was wo wann kann der die das ein eine und oder für mit ist bin habe"
)
_STOP = frozenset(_STOP_WORDS.split())


def normalise(text: str) -> str:
    """Lowercase, NFKC, strip diacritics and Arabic tatweel/harakat, so misspellings still match."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ß", "ss").replace("\u0640", "")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def features(text: str) -> Counter[str]:
    """Word unigrams plus character 3- and 4-grams inside word boundaries."""
    feats: Counter[str] = Counter()
    for word in _WORD.findall(normalise(text)):
        if word in _STOP:
            continue
        feats["w:" + word] += 2
        padded = f" {word} "
        for n in (3, 4):
            for i in range(len(padded) - n + 1):
                feats[padded[i : i + n]] += 1
    return feats


@dataclass(frozen=True)
class Hit:
    faq_id: int
    key: str
    topic: str
    scope: str
    score: float


class FaqIndex:
    """An in-memory TF-IDF index of all active FAQ entries, rebuilt when content changes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._stamp: tuple[int, str] | None = None
        self._docs: list[tuple[int, str, str, str, dict[str, float]]] = []
        self._idf: dict[str, float] = {}
        self._groups: dict[str, frozenset[str]] = {}

    def _refresh(self) -> None:
        with session_scope(self._engine) as session:
            stamp = content_stamp(session=session)
            if stamp == self._stamp:
                return
            entries = active_faqs(session=session)
            texts = faq_texts(session=session, keys=[e.key for e in entries])
            groups = scope_groups(session=session)
        by_key: dict[str, list[str]] = defaultdict(list)
        for t in texts:
            # Questions count double: they are what people ask.
            by_key[t.owner_key].extend([t.text, t.text] if t.field == "question" else [t.text])
        raw: list[tuple[int, str, str, str, Counter[str]]] = []
        df: Counter[str] = Counter()
        for e in entries:
            assert e.id is not None
            feats = features(" ".join(by_key.get(e.key, []) + e.keywords * 2 + [e.topic]))
            raw.append((e.id, e.key, e.topic, e.scope, feats))
            df.update(feats.keys())
        n = max(len(raw), 1)
        idf = {f: math.log((1 + n) / (1 + c)) + 1.0 for f, c in df.items()}
        docs = []
        for fid, key, topic, scope, feats in raw:
            vec = {f: (1 + math.log(c)) * idf[f] for f, c in feats.items()}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            docs.append((fid, key, topic, scope, {f: v / norm for f, v in vec.items()}))
        self._docs, self._idf, self._groups, self._stamp = docs, idf, groups, stamp

    def applies(self, scope: str, municipality: str | None) -> bool:
        """Whether an entry of ``scope`` is for a person in ``municipality`` (groups resolved)."""
        with self._lock:
            self._refresh()
            groups = self._groups
        return scope_applies(scope, municipality, groups)

    def search(
        self,
        query: str,
        *,
        topic: str | None = None,
        municipality: str | None = None,
        limit: int = 3,
        min_score: float = 0.0,
    ) -> list[Hit]:
        """Best entries for ``query``; local (or group) entries only for the person's municipality."""
        with self._lock:
            self._refresh()
            docs, idf, groups = self._docs, self._idf, self._groups
        qf = features(query)
        qvec = {f: (1 + math.log(c)) * idf[f] for f, c in qf.items() if f in idf}
        qnorm = math.sqrt(sum(v * v for v in qvec.values())) or 1.0
        hits = []
        for fid, key, d_topic, scope, vec in docs:
            if topic is not None and d_topic != topic:
                continue
            if not scope_applies(scope, municipality, groups):
                continue
            score = sum(w * vec.get(f, 0.0) for f, w in qvec.items()) / qnorm
            if scope != "kreis":
                score *= 1.15  # the person's own town's answer beats the Kreis-wide one
            hits.append(Hit(fid, key, d_topic, scope, score))
        hits.sort(key=lambda h: (-h.score, h.faq_id))
        return [h for h in hits if h.score > min_score][:limit]
