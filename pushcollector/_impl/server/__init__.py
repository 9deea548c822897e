"""The collection service: ``pushcollector serve`` and its web view.

Installed with ``pip install "pushcollector[server]"``. Nothing here is
imported by ``import pushcollector``: the modules import SQLAlchemy, Alembic
and the web framework at their top.
"""
