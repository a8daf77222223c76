"""Translating never touches the network and never loads argostranslate's downloading splitters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from storage.db import ROOT

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path

    network = []

    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "socket.gethostbyaddr", "socket.sendto", "urllib.Request"):
            network.append(event)

    sys.addaudithook(hook)

    from storage.db import make_engine
    from storage.migrate import upgrade
    from translations.engine import translate_async
    from translations.factory import build_translator

    packages, db = Path(sys.argv[1]), sys.argv[2]
    upgrade(db)
    translator = build_translator(make_engine(db), dirs=[packages], timeout=30, preload=True)
    [result] = translator.translate_results(
        ["Hallo! Das Kind hat heute einen Termin beim Jugendamt, siehe https://www.bamf.de."],
        "de", "ar")
    [other] = asyncio.run(translate_async(translator, ["Danke, bis morgen."], "de", "uk", 30))
    loaded = sorted(m for m in sys.modules
                    if m.split(".")[0] in ("argostranslate", "stanza", "spacy", "minisbd", "torch"))
    print(json.dumps({"network": network, "modules": loaded, "route": result.route,
                      "text": result.text, "other": other.text}))
    """
)


def test_translation_is_offline(installed_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(installed_dir), f"sqlite:///{tmp_path / 'mt.db'}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["network"] == []
    # argostranslate's translate() path (Stanza/spaCy/MiniSBD sentence splitters, which download
    # models on first use) is never even imported.
    assert out["modules"] == []
    assert out["route"] == ["de", "en", "ar"]
    assert out["text"].startswith("مرحبا! Das طفل hat اليوم einen موعد beim Jugendamt (")
    assert out["text"].endswith("https://www.bamf.de.")
    assert out["other"] == "Thanks, bis tomorrow."
