"""Translation: language registry, MT engine (Argos/CTranslate2, offline) and content rendering."""
