"""The audit history on ClickHouse (chDB embedded, or a server): schema, queries, store, batching sink.

Import from the submodules (``clickhouse``, ``sink``); importing this package connects to nothing.
"""
