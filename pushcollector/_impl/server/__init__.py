"""The collection service and what it shares with the ``sql`` backend.

Installed with ``pip install "pushcollector[server]"``. Nothing here is
imported by ``import pushcollector``: the modules import SQLAlchemy, Alembic
and the web framework at their top.
"""
