"""The network of member structures (issue 15): the registry of structures as data (:mod:`.structures`).

Scopes, attribution and the per-structure roles come later; the drop folders are
:mod:`proxisante.ingest.dropfolders`, since they load through ``ingest``.
"""
