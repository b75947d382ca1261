"""The one error a ViewDefinition raises (re-exported by :mod:`proxisante.ingest.fhir.views`)."""

from __future__ import annotations


class ViewDefinitionError(ValueError):
    """An invalid ViewDefinition, or data the view cannot represent (several values in a column not
    declared ``collection``, a ``where`` that is not boolean). The message starts with the path of the
    bad element in the view (``select[0].column[1].path: ...``)."""
