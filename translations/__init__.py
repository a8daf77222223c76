"""Translation: languages, offline MT (Argos/CTranslate2), protection, glossary, memory, rendering.

``argos`` runs installed Argos packages; ``service`` wraps an engine with ``protect`` (placeholders and
glossary terms), ``memory`` and a timeout; ``factory.build_translator`` builds it; ``render`` applies the
trust chain to content; ``registry`` says per language what the product can do; ``models_cli`` is
``lotse models``.
"""
