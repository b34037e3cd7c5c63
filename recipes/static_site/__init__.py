"""A small site served without a framework: ``python -m recipes.static_site``.

See ``app.py``: assets through StaticFiles (precompressed by ``python -m
wsgimw.static compress``), HTML pages through ConditionalGet and Compress,
and a JSON API mounted at ``/api``.
"""
