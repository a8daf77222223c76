"""A tiny but real Argos model package, built in seconds, for tests and the benchmark.

No real Argos model can be downloaded on the development machines, so this module builds one:

* a SentencePiece model trained on a small German/English/Arabic/Ukrainian corpus written below;
* a CTranslate2 Transformer (1 encoder + 1 decoder layer, 2 heads, d_model 128) whose weights are set
  by hand so that it *copies* its input token by token, except for a few dictionary words it swaps
  ("Kind" → "child" in de→en, "child" → "طفل" in en→ar, …). The encoder and decoder get position
  vectors in one half of the model dimension and token vectors in the other; the cross-attention
  queries and keys read only positions, so decoder step *t* attends to source token *t* and the
  output projection maps that token (through the dictionary) to the output. The source gets an
  end-of-sentence token (``add_source_eos``), which the model copies, and decoding stops;
* ``.argosmodel`` zip files with ``metadata.json``, ``sentencepiece.model`` and ``model/`` exactly as
  argostranslate's package manager expects them.

The output is therefore deterministic and checkable ("Das Kind hat heute einen Termin." →
"Das child hat heute einen Termin." in de→en), which lets the tests see whether a text went through
the model, in which order, and through which pivot.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

PAIRS: tuple[tuple[str, str], ...] = (("de", "en"), ("en", "ar"), ("en", "uk"))
# Back into German through English (the staff console shows a person's messages in German and
# back-translates replies): the same words, swapped the other way.
REVERSE_PAIRS: tuple[tuple[str, str], ...] = (("ar", "en"), ("uk", "en"), ("en", "de"))
NAMES = {"de": "German", "en": "English", "ar": "Arabic", "uk": "Ukrainian"}

# Dictionary words each toy model swaps (both must be whole pieces of the SentencePiece vocabulary).
DICTIONARY: dict[tuple[str, str], dict[str, str]] = {
    ("de", "en"): {
        "Kind": "child",
        "Termin": "appointment",
        "Schule": "school",
        "heute": "today",
        "morgen": "tomorrow",
        "Hallo": "Hello",
        "Danke": "Thanks",
        "Wohnung": "flat",
    },
    ("en", "ar"): {
        "child": "طفل",
        "appointment": "موعد",
        "school": "مدرسة",
        "today": "اليوم",
        "Hello": "مرحبا",
    },
    ("en", "uk"): {
        "child": "дитина",
        "appointment": "запис",
        "school": "школа",
        "today": "сьогодні",
        "Hello": "Привіт",
    },
}
for _pair in REVERSE_PAIRS:
    DICTIONARY[_pair] = {v: k for k, v in DICTIONARY[(_pair[1], _pair[0])].items()}

D_MODEL = 128
HALF = D_MODEL // 2  # token vectors live in [0, HALF), position vectors in [HALF, D_MODEL)
MAX_POSITIONS = 512
QUERY_SCALE = 10.0  # makes the positional cross-attention sharp
COPY_GAIN = 10.0  # the attended source token outweighs the residual stream


def corpus() -> list[str]:
    """A few hundred sentences in German, English, Arabic and Ukrainian (templates × subjects)."""
    de_subjects = [
        "Das Kind", "Meine Mutter", "Der Vater", "Die Familie", "Mein Sohn", "Meine Tochter",
        "Der Lehrer", "Die Ärztin", "Unser Nachbar", "Die Beraterin", "Mein Bruder", "Die Oma",
    ]  # fmt: skip
    de_templates = [
        "{s} hat heute einen Termin beim Arzt.",
        "{s} hat morgen einen Termin im Rathaus.",
        "{s} geht morgen zur Schule.",
        "{s} sucht eine Wohnung in Siegburg.",
        "{s} braucht bitte Hilfe mit dem Antrag.",
        "{s} lernt Deutsch im Kurs.",
        "{s} sagt Hallo und Danke.",
        "Ist {s} heute zu Hause?",
        "Wann hat {s} den nächsten Termin?",
        "{s} bringt das Kind zur Schule.",
        "{s} wohnt mit dem Kind in einer kleinen Wohnung.",
        "Bitte rufen Sie {s} heute an.",
        "{s} hat keine Zeit, der Termin ist morgen.",
        "{s} fragt nach einem Platz in der Kita für das Kind.",
        "Hallo, {s} kommt heute nicht.",
        "Danke, {s} hat den Termin.",
    ]
    en_subjects = [
        "The child", "My mother", "The father", "The family", "My son", "My daughter",
        "The teacher", "The doctor", "Our neighbour", "The adviser", "My brother", "Grandma",
    ]  # fmt: skip
    en_templates = [
        "{s} has an appointment with the doctor today.",
        "{s} has an appointment at the town hall tomorrow.",
        "{s} goes to school tomorrow.",
        "{s} is looking for a flat in Siegburg.",
        "{s} needs help with the application, please.",
        "{s} learns German in the course.",
        "{s} says Hello and Thanks.",
        "Is {s} at home today?",
        "When is the next appointment of {s}?",
        "{s} takes the child to school.",
        "{s} lives with the child in a small flat.",
        "Please call {s} today.",
        "{s} has no time, the appointment is tomorrow.",
        "{s} asks for a place in the daycare for the child.",
        "Hello, {s} is not coming today.",
        "Thanks, {s} has the appointment.",
    ]
    ar = [
        "مرحبا، عند طفل موعد اليوم.",
        "طفل يذهب إلى مدرسة اليوم.",
        "لدي موعد في مدرسة اليوم.",
        "مرحبا، أين مدرسة؟",
        "موعد اليوم مع طفل.",
        "شكرا على موعد.",
        "طفل في مدرسة.",
        "مرحبا، هل موعد اليوم؟",
    ]
    uk = [
        "Привіт, у дитина запис сьогодні.",
        "Дитина йде в школа сьогодні.",
        "У мене запис у школа сьогодні.",
        "Привіт, де школа?",
        "Запис сьогодні з дитина.",
        "Дякую за запис.",
        "Дитина у школа.",
        "Привіт, запис сьогодні?",
    ]
    lines = [t.format(s=s) for t in de_templates for s in de_subjects]
    lines += [t.format(s=s) for t in en_templates for s in en_subjects]
    lines += ar * 12 + uk * 12
    # Every character the tests use, so nothing becomes <unk> by accident.
    lines += [
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 äöüß ÄÖÜ",
        ". , ; : ! ? ( ) [ ] { } - – / @ € § % & + = _ \" ' « » „ “",
    ] * 5
    return lines


def train_sentencepiece(workdir: Path, vocab_size: int = 600) -> Path:
    """Train the shared SentencePiece model; returns the path of ``sentencepiece.model``."""
    import sentencepiece as spm

    workdir.mkdir(parents=True, exist_ok=True)
    text = workdir / "corpus.txt"
    text.write_text("\n".join(corpus()) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(text),
        model_prefix=str(workdir / "sentencepiece"),
        vocab_size=vocab_size,
        character_coverage=1.0,
        model_type="bpe",
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return workdir / "sentencepiece.model"


def _unit_rows(rng: np.random.Generator, n: int, dim: int, norm: float) -> np.ndarray:
    m = rng.standard_normal((n, dim)).astype(np.float32)
    m -= m.mean(axis=1, keepdims=True)  # zero mean: the layer norms then only rescale
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m * norm


def _permutation(vocab: list[str], pair: tuple[str, str]) -> np.ndarray:
    """Output token for each input token: identity, with the dictionary words swapped."""
    index = {piece: i for i, piece in enumerate(vocab)}
    perm = np.arange(len(vocab))
    for src, tgt in DICTIONARY.get(pair, {}).items():
        a, b = index.get("▁" + src), index.get("▁" + tgt)
        if a is None or b is None:
            raise RuntimeError(f"dictionary word {src!r}/{tgt!r} is not a whole piece")
        perm[a], perm[b] = b, a
    return perm


def build_ctranslate2_model(vocab: list[str], pair: tuple[str, str], out_dir: Path) -> None:
    """Write a copy-with-dictionary CTranslate2 Transformer for ``pair`` into ``out_dir``."""
    from ctranslate2.specs import TransformerSpec

    rng = np.random.default_rng(4)  # the same vectors for every pair: one shared vocabulary
    v, d, h = len(vocab), D_MODEL, HALF
    norm = float(np.sqrt(d / 2))  # |token| = |position| = sqrt(d/2): layer norm is the identity
    tokens = np.zeros((v, d), np.float32)
    tokens[:, :h] = _unit_rows(rng, v, h, norm)
    positions = np.zeros((MAX_POSITIONS, d), np.float32)
    positions[:, h:] = _unit_rows(rng, MAX_POSITIONS, h, norm)
    perm = _permutation(vocab, pair)

    spec = TransformerSpec.from_config(num_layers=1, num_heads=2)
    spec.config.add_source_eos = True

    def norm_layer(ln: object) -> None:
        ln.gamma = np.ones(d, np.float32)  # type: ignore[attr-defined]
        ln.beta = np.zeros(d, np.float32)  # type: ignore[attr-defined]

    def silent_ffn(ffn: object) -> None:
        norm_layer(ffn.layer_norm)  # type: ignore[attr-defined]
        ffn.linear_0.weight = np.zeros((8, d), np.float32)  # type: ignore[attr-defined]
        ffn.linear_0.bias = np.zeros(8, np.float32)  # type: ignore[attr-defined]
        ffn.linear_1.weight = np.zeros((d, 8), np.float32)  # type: ignore[attr-defined]
        ffn.linear_1.bias = np.zeros(d, np.float32)  # type: ignore[attr-defined]

    def silent_self_attention(att: object) -> None:
        norm_layer(att.layer_norm)  # type: ignore[attr-defined]
        att.linear[0].weight = np.zeros((3 * d, d), np.float32)  # type: ignore[attr-defined]
        att.linear[0].bias = np.zeros(3 * d, np.float32)  # type: ignore[attr-defined]
        att.linear[1].weight = np.zeros((d, d), np.float32)  # type: ignore[attr-defined]
        att.linear[1].bias = np.zeros(d, np.float32)  # type: ignore[attr-defined]

    enc = spec.encoder
    enc.scale_embeddings = False
    enc.embeddings[0].weight = tokens
    enc.position_encodings.encodings = positions
    norm_layer(enc.layer_norm)
    silent_self_attention(enc.layer[0].self_attention)
    silent_ffn(enc.layer[0].ffn)

    dec = spec.decoder
    dec.scale_embeddings = False
    dec.embeddings.weight = tokens
    dec.position_encodings.encodings = positions
    norm_layer(dec.layer_norm)
    layer = dec.layer[0]
    silent_self_attention(layer.self_attention)
    silent_ffn(layer.ffn)
    cross = layer.attention
    norm_layer(cross.layer_norm)
    # Two heads of 64 dims; both attend by position, head 0 carries the token vector.
    q = np.zeros((d, d), np.float32)
    k = np.zeros((d, d), np.float32)
    val = np.zeros((d, d), np.float32)
    for i in range(h):
        q[i, h + i] = q[h + i, h + i] = QUERY_SCALE
        k[i, h + i] = k[h + i, h + i] = 1.0
        val[i, i] = 1.0
    out = np.zeros((d, d), np.float32)
    out[:h, :h] = np.eye(h, dtype=np.float32) * COPY_GAIN
    cross.linear[0].weight = q
    cross.linear[0].bias = np.zeros(d, np.float32)
    cross.linear[1].weight = np.concatenate([k, val])
    cross.linear[1].bias = np.zeros(2 * d, np.float32)
    cross.linear[2].weight = out
    cross.linear[2].bias = np.zeros(d, np.float32)
    # Output token b scores the source token perm^-1(b): the projection row b is that token's vector.
    inverse = np.argsort(perm)
    projection = np.zeros((v, d), np.float32)
    projection[:, :h] = tokens[inverse, :h]
    dec.projection.weight = projection
    dec.projection.bias = np.zeros(v, np.float32)

    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    out_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(out_dir))


def _spacy_sentencizer(lang: str, out_dir: Path) -> None:
    """A blank spaCy pipeline; argostranslate adds its rule-based sentencizer (no download)."""
    import spacy

    spacy.blank(lang if lang in ("de", "en", "ar", "uk") else "xx").to_disk(out_dir)


def package_name(pair: tuple[str, str], version: str = "1.0") -> str:
    """The argospm file name of a package: ``translate-de_en-1_0``."""
    return f"translate-{pair[0]}_{pair[1]}-{version.replace('.', '_')}"


def build_packages(
    out_dir: Path,
    pairs: tuple[tuple[str, str], ...] = PAIRS,
    *,
    version: str = "1.0",
    spacy_sbd: bool = False,
) -> dict[tuple[str, str], Path]:
    """Build one ``.argosmodel`` file per pair in ``out_dir``; returns them by pair."""
    import sentencepiece as spm

    out_dir.mkdir(parents=True, exist_ok=True)
    sp_path = train_sentencepiece(out_dir / "sentencepiece")
    sp = spm.SentencePieceProcessor(model_file=str(sp_path))
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    built: dict[tuple[str, str], Path] = {}
    for pair in pairs:
        name = package_name(pair, version)
        staging = out_dir / "staging" / name
        build_ctranslate2_model(vocab, pair, staging / "model")
        (staging / "sentencepiece.model").write_bytes(sp_path.read_bytes())
        metadata = {
            "package_version": version,
            "argos_version": "1.11",
            "from_code": pair[0],
            "from_name": NAMES[pair[0]],
            "to_code": pair[1],
            "to_name": NAMES[pair[1]],
            "type": "translate",
            "links": [],
        }
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
        (staging / "README.md").write_text(
            f"Tiny test model {pair[0]}->{pair[1]}: copies its input, swaps a few words.\n",
            encoding="utf-8",
        )
        if spacy_sbd:
            _spacy_sentencizer(pair[0], staging / "spacy")
        target = out_dir / f"{name}.argosmodel"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{name}/{path.relative_to(staging).as_posix()}")
        target.write_bytes(buf.getvalue())
        built[pair] = target
    return built
