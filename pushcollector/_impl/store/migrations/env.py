"""Alembic's environment: migrates the connection the store hands over.

The store opens the transaction, and takes the lock that keeps concurrent
upgrades from several hosts apart, before Alembic runs; see
``Store.upgrade``.
"""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
