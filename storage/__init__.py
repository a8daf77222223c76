"""Storage: SQLModel models, repositories and the database engine.

Dependencies point inward: ``bot``, ``actions``, ``scheduler`` and ``translations`` import ``storage``;
``storage`` imports none of them.
"""
